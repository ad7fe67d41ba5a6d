//! The container as the kubelet makes it, with bubblewrap: a root file system like the
//! image's (the host's /usr libraries, its CA bundle, the `idp` binary at the image's
//! ENTRYPOINT, nothing else), read-only when the manifest says so; the manifest's user
//! and group in a user namespace, without capabilities; its volumes at their mount
//! paths, filled from the shipped ConfigMaps and the test's own Secrets and ConfigMaps
//! (mode as the volume's defaultMode); its environment, and nothing else.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::manifest::Deployment;

type Data = BTreeMap<String, Vec<u8>>;

/// The ConfigMaps and Secrets of the namespace: the shipped ConfigMaps and what the
/// operator (here, the test) creates.
pub struct Objects {
    config_maps: BTreeMap<String, Data>,
    secrets: BTreeMap<String, Data>,
}

impl Objects {
    /// The ConfigMaps deploy/kubernetes ships; no Secrets.
    pub fn shipped(deployment: &Deployment) -> Self {
        let config_maps = deployment
            .config_maps
            .iter()
            .map(|(name, data)| {
                let data = data
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_bytes().to_vec()))
                    .collect();
                (name.clone(), data)
            })
            .collect();
        Self {
            config_maps,
            secrets: BTreeMap::new(),
        }
    }

    /// Puts `content` where the container sees it at `path`: as a key of the Secret or
    /// ConfigMap whose volume is mounted there (created when the test is the first to
    /// put something in it).
    pub fn place(&mut self, deployment: &Deployment, path: &str, content: Vec<u8>) {
        let (kind, name, key) = Self::locate(deployment, path);
        let objects = match kind {
            Kind::ConfigMap => &mut self.config_maps,
            Kind::Secret => &mut self.secrets,
        };
        objects.entry(name).or_default().insert(key, content);
    }

    /// What the container sees at `path`.
    pub fn read(&self, deployment: &Deployment, path: &str) -> Vec<u8> {
        let (kind, name, key) = Self::locate(deployment, path);
        let objects = match kind {
            Kind::ConfigMap => &self.config_maps,
            Kind::Secret => &self.secrets,
        };
        objects
            .get(&name)
            .and_then(|data| data.get(&key))
            .unwrap_or_else(|| panic!("nothing at {path} ({kind:?} {name}, key {key})"))
            .clone()
    }

    /// The object and key that the container sees at `path`.
    fn locate(deployment: &Deployment, path: &str) -> (Kind, String, String) {
        let (mount, key) = deployment
            .mount_of(path)
            .unwrap_or_else(|| panic!("{path} lies in no volume the container mounts"));
        assert!(
            !key.contains('/'),
            "{path}: volumes hold their keys as plain files"
        );
        let volume = deployment.volume(&mount.name);
        match (&volume.config_map, &volume.secret) {
            (Some(map), None) => (Kind::ConfigMap, map.name.clone(), key.to_owned()),
            (None, Some(secret)) => (Kind::Secret, secret.secret_name.clone(), key.to_owned()),
            _ => panic!(
                "{path} is in volume {}, not a ConfigMap or Secret",
                volume.name
            ),
        }
    }

    /// The container's environment: plain values, and keys of Secrets and ConfigMaps.
    pub fn environment(&self, deployment: &Deployment) -> Vec<(String, String)> {
        deployment
            .container
            .env
            .iter()
            .map(|var| {
                let value = match (&var.value, &var.value_from) {
                    (Some(value), None) => value.clone(),
                    (None, Some(from)) => {
                        let (objects, reference) =
                            match (&from.secret_key_ref, &from.config_map_key_ref) {
                                (Some(r), None) => (&self.secrets, r),
                                (None, Some(r)) => (&self.config_maps, r),
                                _ => {
                                    panic!("env {}: only secretKeyRef or configMapKeyRef", var.name)
                                }
                            };
                        let bytes = objects
                            .get(&reference.name)
                            .and_then(|data| data.get(&reference.key))
                            .unwrap_or_else(|| {
                                panic!(
                                    "env {}: no {} key {}",
                                    var.name, reference.name, reference.key
                                )
                            });
                        String::from_utf8(bytes.clone()).unwrap()
                    }
                    _ => panic!("env {}: a value or valueFrom", var.name),
                };
                (var.name.clone(), value)
            })
            .collect()
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    ConfigMap,
    Secret,
}

/// bwrap's arguments.
#[derive(Default)]
struct Args(Vec<OsString>);

impl Args {
    fn add<S: AsRef<OsStr>>(&mut self, items: impl IntoIterator<Item = S>) {
        self.0
            .extend(items.into_iter().map(|item| item.as_ref().to_owned()));
    }
}

/// One container's file system, user and environment, ready to run processes in (the
/// IdP, and the operator's `kubectl exec` commands).
pub struct Sandbox {
    bwrap: Vec<OsString>,
    process: Vec<String>,
    _volumes: tempfile::TempDir,
}

impl Sandbox {
    /// The container of `deployment` with `objects` mounted and `binary` as the image's
    /// ENTRYPOINT.
    pub fn new(deployment: &Deployment, objects: &Objects, binary: &Path) -> Self {
        let process = deployment.process();
        let (uid, gid) = deployment.user_and_group();
        let volumes = tempfile::tempdir().unwrap();
        let mut bwrap = Args::default();
        bwrap.add(["--die-with-parent", "--unshare-user"]);
        bwrap.add(["--uid", &uid.to_string(), "--gid", &gid.to_string()]);

        // The image: the host's /usr (but /usr/local, where only the binary goes), the
        // merged-/usr links, the CA bundle, the name service files Kubernetes writes.
        for entry in std::fs::read_dir("/usr").unwrap() {
            let path = entry.unwrap().path();
            if path != Path::new("/usr/local") {
                bwrap.add([OsStr::new("--ro-bind"), path.as_os_str(), path.as_os_str()]);
            }
        }
        for top in ["/bin", "/sbin", "/lib", "/lib64"] {
            if let Ok(target) = std::fs::read_link(top) {
                bwrap.add([OsStr::new("--symlink"), target.as_os_str(), OsStr::new(top)]);
            } else if Path::new(top).is_dir() {
                bwrap.add(["--ro-bind", top, top]);
            }
        }
        for file in ["/etc/ssl", "/etc/hosts", "/etc/resolv.conf"] {
            if Path::new(file).exists() {
                bwrap.add(["--ro-bind", file, file]);
            }
        }
        bwrap.add(["--dev", "/dev", "--proc", "/proc", "--dir", "/tmp"]);
        bwrap.add([
            OsStr::new("--ro-bind"),
            binary.as_os_str(),
            OsStr::new(&process[0]),
        ]);

        // The volumes, parents before children.
        let mut mounts = deployment.container.volume_mounts.clone();
        mounts.sort_by_key(|m| m.mount_path.len());
        for mount in &mounts {
            let host = volumes.path().join(&mount.name);
            let is_writable = fill_volume(deployment, objects, &mount.name, &host);
            let bind = if is_writable && !mount.read_only {
                "--bind"
            } else {
                "--ro-bind"
            };
            bwrap.add([
                OsStr::new(bind),
                host.as_os_str(),
                OsStr::new(&mount.mount_path),
            ]);
        }
        bwrap.add([
            "--chdir",
            deployment.image.workdir.as_deref().unwrap_or("/"),
        ]);
        if deployment
            .container
            .security_context
            .read_only_root_filesystem
            == Some(true)
        {
            bwrap.add(["--remount-ro", "/"]);
        }
        bwrap.add(["--clearenv"]);
        for (name, value) in objects.environment(deployment) {
            bwrap.add(["--setenv", &name, &value]);
        }
        Self {
            bwrap: bwrap.0,
            process,
            _volumes: volumes,
        }
    }

    /// The container's process (`args` None), or the entrypoint with other arguments
    /// (`kubectl exec`), logging to `log`.
    pub fn command(&self, args: Option<&[&str]>) -> Command {
        let mut command = Command::new("bwrap");
        command.args(&self.bwrap).arg("--");
        match args {
            None => command.args(&self.process),
            Some(args) => command.arg(&self.process[0]).args(args),
        };
        command
    }

    /// Starts the container's process; its output goes to a file.
    pub fn start(&self) -> Running {
        let log = tempfile::NamedTempFile::new().unwrap();
        let output = log.reopen().unwrap();
        let child = self
            .command(None)
            .stdin(Stdio::null())
            .stdout(output.try_clone().unwrap())
            .stderr(output)
            .spawn()
            .expect("bwrap (tests/run installs bubblewrap)");
        Running { child, log }
    }

    /// `kubectl exec` of the entrypoint with `args` (and `stdin`): its output, which
    /// must be a success.
    pub fn exec(&self, args: &[&str], stdin: &[u8]) -> String {
        use std::io::Write;
        let mut child = self
            .command(Some(args))
            .stdin(if stdin.is_empty() {
                Stdio::null()
            } else {
                Stdio::piped()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("bwrap (tests/run installs bubblewrap)");
        if let Some(mut input) = child.stdin.take() {
            input.write_all(stdin).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "idp {}: {}\n{stdout}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }
}

/// Writes volume `name`'s files into `host`; whether the volume is writable (emptyDir).
fn fill_volume(deployment: &Deployment, objects: &Objects, name: &str, host: &Path) -> bool {
    std::fs::create_dir_all(host).unwrap();
    let volume = deployment.volume(name);
    let (data, optional, mode, what) = match (&volume.config_map, &volume.secret) {
        (Some(map), None) => (
            objects.config_maps.get(&map.name),
            map.optional,
            map.default_mode,
            format!("ConfigMap {}", map.name),
        ),
        (None, Some(secret)) => (
            objects.secrets.get(&secret.secret_name),
            secret.optional,
            secret.default_mode,
            format!("Secret {}", secret.secret_name),
        ),
        _ if volume.empty_dir.is_some() => return true,
        _ => panic!("volume {name}: only configMap, secret and emptyDir volumes are known here"),
    };
    let Some(data) = data else {
        assert!(
            optional,
            "volume {name}: {what} is neither shipped nor made by the test"
        );
        return false;
    };
    for (key, content) in data {
        let file = host.join(key);
        std::fs::write(&file, content).unwrap();
        let mode = mode.unwrap_or(0o644);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    false
}

/// The container's process; killed (with the IdP, `--die-with-parent`) when dropped.
pub struct Running {
    child: Child,
    log: tempfile::NamedTempFile,
}

impl Running {
    /// What the process wrote so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// Panics with the log when the process has exited.
    pub fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("the container's process exited: {status}\n{}", self.log());
        }
    }

    /// The process that bwrap started for the container (a descendant named like the
    /// entrypoint), once it runs.
    pub async fn process(&mut self, name: &str) -> Process {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            self.assert_running();
            if let Some(pid) = descendant(self.child.id(), name) {
                return Process(PathBuf::from(format!("/proc/{pid}")));
            }
            assert!(Instant::now() < deadline, "no process {name} under bwrap");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A descendant of `pid` whose command name is `name`.
fn descendant(pid: u32, name: &str) -> Option<u32> {
    let mut parents = BTreeMap::new();
    for entry in std::fs::read_dir("/proc").ok()? {
        let file_name = entry.ok()?.file_name();
        let Some(child) = file_name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        let (head, tail) = stat.rsplit_once(')')?;
        let comm = head.split_once('(')?.1.to_owned();
        let parent: u32 = tail.split_whitespace().nth(1)?.parse().ok()?;
        parents.insert(child, (parent, comm));
    }
    parents.iter().find_map(|(&child, (_, comm))| {
        let mut up = child;
        while let Some((parent, _)) = parents.get(&up) {
            if *parent == pid {
                return (comm == name).then_some(child);
            }
            up = *parent;
        }
        None
    })
}

/// A running process, as /proc shows it.
pub struct Process(PathBuf);

impl Process {
    fn status_field(&self, field: &str) -> String {
        std::fs::read_to_string(self.0.join("status"))
            .unwrap()
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{field}:")))
            .unwrap_or_else(|| panic!("no {field} in {}/status", self.0.display()))
            .trim()
            .to_owned()
    }

    /// The user id the process has in its own user namespace (the container's view).
    pub fn uid_in_namespace(&self) -> u32 {
        self.id_in_namespace("Uid", "uid_map")
    }

    /// The group id the process has in its own user namespace.
    pub fn gid_in_namespace(&self) -> u32 {
        self.id_in_namespace("Gid", "gid_map")
    }

    /// The real id of `field` (as this process sees it) mapped through `map`.
    fn id_in_namespace(&self, field: &str, map: &str) -> u32 {
        let ours: u32 = self
            .status_field(field)
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let map = std::fs::read_to_string(self.0.join(map)).unwrap();
        map.lines()
            .find_map(|line| {
                let [inside, outside, count]: [u32; 3] = line
                    .split_whitespace()
                    .map(|n| n.parse().unwrap())
                    .collect::<Vec<_>>()
                    .try_into()
                    .ok()?;
                (outside..outside + count)
                    .contains(&ours)
                    .then(|| inside + (ours - outside))
            })
            .unwrap_or_else(|| panic!("{field} {ours} is not mapped: {map}"))
    }

    /// The effective capabilities, as the hex mask of /proc/<pid>/status.
    pub fn effective_capabilities(&self) -> u64 {
        u64::from_str_radix(&self.status_field("CapEff"), 16).unwrap()
    }

    /// Whether the process can never gain privileges (no_new_privs).
    pub fn has_no_new_privileges(&self) -> bool {
        self.status_field("NoNewPrivs") == "1"
    }

    /// The mount options of `mount_point` in the process's mount namespace.
    pub fn mount_options(&self, mount_point: &str) -> String {
        let info = std::fs::read_to_string(self.0.join("mountinfo")).unwrap();
        // The last mount on a mount point is the one in effect.
        info.lines()
            .rev()
            .find_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                (fields.get(4) == Some(&mount_point)).then(|| fields[5].to_owned())
            })
            .unwrap_or_else(|| panic!("{mount_point} is not mounted:\n{info}"))
    }
}
