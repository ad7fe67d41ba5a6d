//! deploy/kubernetes/*.yaml and deploy/Dockerfile read as the cluster and the image
//! would run them: the IdP container's command, environment, mounts, probes, ports and
//! security context, its pod's volumes, and the ConfigMaps the manifests ship.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

/// The IdP's Deployment, its container and image, and the shipped ConfigMaps.
pub struct Deployment {
    pub pod: PodSpec,
    pub container: Container,
    pub image: Image,
    /// ConfigMap name → data, as deploy/kubernetes ships them.
    pub config_maps: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    #[serde(default)]
    pub security_context: SecurityContext,
    pub containers: Vec<Container>,
    #[serde(default)]
    pub volumes: Vec<Volume>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    pub name: String,
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: Vec<EnvVar>,
    #[serde(default)]
    pub ports: Vec<ContainerPort>,
    #[serde(default)]
    pub volume_mounts: Vec<VolumeMount>,
    #[serde(default)]
    pub security_context: SecurityContext,
    pub startup_probe: Option<Probe>,
    pub readiness_probe: Option<Probe>,
    pub liveness_probe: Option<Probe>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityContext {
    pub run_as_user: Option<u32>,
    pub run_as_group: Option<u32>,
    pub run_as_non_root: Option<bool>,
    pub read_only_root_filesystem: Option<bool>,
    pub allow_privilege_escalation: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvVar {
    pub name: String,
    pub value: Option<String>,
    pub value_from: Option<EnvVarSource>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvVarSource {
    pub secret_key_ref: Option<KeyRef>,
    pub config_map_key_ref: Option<KeyRef>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct KeyRef {
    pub name: String,
    pub key: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    pub name: Option<String>,
    pub container_port: u16,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeMount {
    pub name: String,
    pub mount_path: String,
    #[serde(default)]
    pub read_only: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    pub http_get: Option<HttpGet>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct HttpGet {
    pub path: String,
    pub port: PortRef,
    pub scheme: Option<String>,
}

/// A container port by number or by name.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum PortRef {
    Number(u16),
    Name(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    pub name: String,
    pub config_map: Option<ConfigMapSource>,
    pub secret: Option<SecretSource>,
    pub empty_dir: Option<serde_yaml::Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMapSource {
    pub name: String,
    #[serde(default)]
    pub optional: bool,
    pub default_mode: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretSource {
    pub secret_name: String,
    #[serde(default)]
    pub optional: bool,
    pub default_mode: Option<u32>,
}

/// What the final stage of deploy/Dockerfile sets.
#[derive(Debug, Default)]
pub struct Image {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub workdir: Option<String>,
}

#[derive(Deserialize)]
struct Kustomization {
    resources: Vec<String>,
}

#[derive(Deserialize)]
struct Object {
    kind: String,
    metadata: Metadata,
    #[serde(default)]
    data: BTreeMap<String, String>,
    #[serde(default)]
    spec: serde_yaml::Value,
}

#[derive(Deserialize)]
struct Metadata {
    name: String,
}

#[derive(Deserialize)]
struct DeploymentSpec {
    template: PodTemplate,
}

#[derive(Deserialize)]
struct PodTemplate {
    spec: PodSpec,
}

impl Deployment {
    /// Reads Deployment `name` and its container `container` from the manifests of
    /// `dir`'s kustomization, and the image from `dockerfile`.
    pub fn read(dir: &Path, name: &str, container: &str, dockerfile: &Path) -> Self {
        let mut pod = None;
        let mut config_maps = BTreeMap::new();
        // What `kubectl apply -k` applies: the resources kustomization.yaml lists.
        let kustomization: Kustomization =
            serde_yaml::from_str(&std::fs::read_to_string(dir.join("kustomization.yaml")).unwrap())
                .unwrap();
        for file in kustomization.resources.iter().map(|r| dir.join(r)) {
            let text = std::fs::read_to_string(&file).unwrap();
            for document in serde_yaml::Deserializer::from_str(&text) {
                let object = Object::deserialize(document)
                    .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
                match object.kind.as_str() {
                    "Deployment" if object.metadata.name == name => {
                        let spec: DeploymentSpec = serde_yaml::from_value(object.spec)
                            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
                        pod = Some(spec.template.spec);
                    }
                    "ConfigMap" => {
                        config_maps.insert(object.metadata.name, object.data);
                    }
                    _ => {}
                }
            }
        }
        let pod = pod.unwrap_or_else(|| panic!("no Deployment {name} in {}", dir.display()));
        let container = pod
            .containers
            .iter()
            .find(|c| c.name == container)
            .unwrap_or_else(|| panic!("no container {container} in Deployment {name}"))
            .clone();
        let image = Image::read(&std::fs::read_to_string(dockerfile).unwrap());
        Self {
            pod,
            container,
            image,
            config_maps,
        }
    }

    /// The process the kubelet starts: `command` replaces the image's ENTRYPOINT, `args`
    /// its CMD.
    pub fn process(&self) -> Vec<String> {
        let mut process = if self.container.command.is_empty() {
            self.image.entrypoint.clone()
        } else {
            self.container.command.clone()
        };
        if self.container.args.is_empty() && self.container.command.is_empty() {
            process.extend(self.image.cmd.iter().cloned());
        } else {
            process.extend(self.container.args.iter().cloned());
        }
        process
    }

    /// The user and group the container runs as (the container's security context over
    /// the pod's).
    pub fn user_and_group(&self) -> (u32, u32) {
        let (ours, pods) = (&self.container.security_context, &self.pod.security_context);
        let user = ours.run_as_user.or(pods.run_as_user);
        let group = ours.run_as_group.or(pods.run_as_group);
        match (user, group) {
            (Some(user), Some(group)) => (user, group),
            _ => panic!("the manifest names no runAsUser and runAsGroup"),
        }
    }

    pub fn volume(&self, name: &str) -> &Volume {
        self.pod
            .volumes
            .iter()
            .find(|v| v.name == name)
            .unwrap_or_else(|| panic!("volumeMount {name} names no volume"))
    }

    /// The mount (and the path inside it) that holds `path` in the container.
    pub fn mount_of<'a>(&'a self, path: &'a str) -> Option<(&'a VolumeMount, &'a str)> {
        self.container
            .volume_mounts
            .iter()
            .filter_map(|mount| {
                let rest = path.strip_prefix(mount.mount_path.trim_end_matches('/'))?;
                rest.strip_prefix('/').map(|rest| (mount, rest))
            })
            .max_by_key(|(mount, _)| mount.mount_path.len())
    }

    /// The container port a probe asks.
    pub fn probe_port(&self, get: &HttpGet) -> u16 {
        match &get.port {
            PortRef::Number(port) => *port,
            PortRef::Name(name) => {
                self.container
                    .ports
                    .iter()
                    .find(|p| p.name.as_deref() == Some(name))
                    .unwrap_or_else(|| {
                        panic!("a probe names port {name:?}, which the container lacks")
                    })
                    .container_port
            }
        }
    }

    /// The plain value of environment variable `name`, if the container sets one.
    pub fn env_value(&self, name: &str) -> Option<&str> {
        self.container
            .env
            .iter()
            .find(|e| e.name == name)
            .and_then(|e| e.value.as_deref())
    }
}

impl Image {
    /// ENTRYPOINT, CMD (exec form) and WORKDIR of the last stage of a Dockerfile.
    fn read(dockerfile: &str) -> Self {
        let mut image = Self::default();
        let joined = dockerfile.replace("\\\n", " ");
        for line in joined.lines().map(str::trim) {
            let Some((instruction, rest)) = line.split_once(char::is_whitespace) else {
                continue;
            };
            let exec_form = || -> Vec<String> {
                serde_json::from_str(rest.trim())
                    .unwrap_or_else(|e| panic!("{instruction} {rest}: not the exec form: {e}"))
            };
            match instruction.to_ascii_uppercase().as_str() {
                "FROM" => image = Self::default(),
                "ENTRYPOINT" => image.entrypoint = exec_form(),
                "CMD" => image.cmd = exec_form(),
                "WORKDIR" => image.workdir = Some(rest.trim().to_owned()),
                _ => {}
            }
        }
        assert!(
            !image.entrypoint.is_empty(),
            "the Dockerfile's last stage has no ENTRYPOINT"
        );
        image
    }
}
