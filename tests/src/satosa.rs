//! SATOSA as a municipality's own IdP chained behind the shared IdP ("Lillby kommuns
//! IdP"): the real proxy from PyPI (`tests/satosa/.venv`, created by `tests/run`), served
//! by gunicorn as its own process on a free port of 127.0.0.1, configured from the
//! templates in `tests/satosa/` with keys generated per test.
//!
//! Its SAML2 backend is an SP of the shared IdP: the test registers it in tenant
//! `lillby` from the metadata SATOSA's own `satosa-saml-metadata` writes (as Lillby's
//! admin would), before the IdP starts. Its SAML2 frontend is the IdP of Lillby's local
//! applications (pysaml2 SPs, [`crate::saml::PySp`]).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use reqwest::{Method, Url};
use tokio::process::{Child, Command};

use crate::agent::{Agent, Form, Page};
use crate::repo_root;
use crate::saml::PySp;

/// The entityID path of SATOSA's frontend (the local applications' IdP).
const FRONTEND_METADATA: &str = "/Saml2IDP/metadata";
/// The entityID path of SATOSA's backend (the SP of the shared IdP).
const BACKEND_METADATA: &str = "/Saml2/metadata";
/// The backend's assertion consumer service.
const BACKEND_ACS: &str = "/Saml2/acs/post";

/// The files of `tests/satosa/` that are templates of the proxy's configuration.
const TEMPLATES: &[&str] = &[
    "proxy_conf.yaml",
    "internal_attributes.yaml",
    "plugins/saml2_frontend.yaml",
    "plugins/saml2_backend.yaml",
];

fn satosa_dir() -> PathBuf {
    repo_root().join("tests/satosa")
}

fn venv_bin(program: &str) -> PathBuf {
    let path = satosa_dir().join(".venv/bin").join(program);
    assert!(
        path.exists(),
        "{} is missing: run tests/run once (it creates the SATOSA virtualenv)",
        path.display()
    );
    path
}

/// One SATOSA instance: its work directory (keys, rendered configuration, metadata, log)
/// and, once started, its gunicorn process (killed when dropped).
pub struct Satosa {
    dir: tempfile::TempDir,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The backend SP's metadata as `satosa-saml-metadata` wrote it.
    pub backend_metadata_file: PathBuf,
    /// The frontend's signing certificate (PEM), which signs what local applications get.
    pub frontend_certificate: PathBuf,
    /// The backend's key (PEM), which also decrypts what the shared IdP encrypts for it.
    pub backend_key: PathBuf,
    /// The local applications' metadata files, as a YAML list.
    local_apps: String,
    child: Option<Child>,
}

impl Satosa {
    /// Prepares an instance on a free port for the local applications `local_apps`:
    /// keys, the configuration, and the backend SP's metadata (SATOSA's own
    /// `satosa-saml-metadata`), which the shared IdP needs before SATOSA can start.
    pub async fn prepare(local_apps: &[&PySp]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let base = format!("http://127.0.0.1:{}", crate::free_port());
        for name in ["frontend", "backend"] {
            generate_key_pair(dir.path(), name).await;
        }
        let local_apps = yaml_list(local_apps.iter().map(|sp| sp.metadata_file.as_path()));
        let satosa = Self {
            backend_metadata_file: dir.path().join("backend.xml"),
            frontend_certificate: dir.path().join("frontend.crt"),
            backend_key: dir.path().join("backend.key"),
            dir,
            base,
            local_apps,
            child: None,
        };
        // The backend's metadata does not depend on the shared IdP's: written while
        // SATOSA knows no IdP yet.
        satosa.render(&yaml_list([]));
        let output = Command::new(venv_bin("satosa-saml-metadata"))
            .args(["--no-sign", "--dir"])
            .arg(satosa.dir.path())
            .arg(satosa.dir.path().join("proxy_conf.yaml"))
            .current_dir(satosa.dir.path())
            .env("PYTHONWARNINGS", "ignore")
            .output()
            .await
            .unwrap_or_else(|e| panic!("satosa-saml-metadata: {e}"));
        assert!(
            output.status.success() && satosa.backend_metadata_file.exists(),
            "satosa-saml-metadata failed: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        satosa
    }

    /// The frontend's entityID: "Lillby kommuns IdP" as the local applications know it.
    pub fn frontend_entity_id(&self) -> String {
        format!("{}{FRONTEND_METADATA}", self.base)
    }

    /// The backend's entityID: the SP the shared IdP knows.
    pub fn backend_entity_id(&self) -> String {
        format!("{}{BACKEND_METADATA}", self.base)
    }

    /// The backend's assertion consumer service, where the shared IdP posts.
    pub fn backend_acs(&self) -> String {
        format!("{}{BACKEND_ACS}", self.base)
    }

    /// A `[[saml_sp]]` table registering the backend SP (for the tenant's file), with the
    /// `extra` keys (release, profile options ...).
    pub fn sp_table(&self, id: &str, profile: &str, extra: &str) -> String {
        format!(
            "[[saml_sp]]\nid = \"{id}\"\n\
             display_name = {{ sv = \"Lillby kommuns IdP\", en = \"Lillby Municipality's IdP\" }}\n\
             entity_id = \"{}\"\nprofile = \"{profile}\"\nmetadata_file = \"{}\"\n{extra}\n",
            self.backend_entity_id(),
            self.backend_metadata_file.display()
        )
    }

    /// Starts the proxy trusting the shared IdP's `idp_metadata`, waits until its
    /// frontend answers with its metadata, and returns that metadata (for the local
    /// applications).
    pub async fn start(&mut self, idp_metadata: &str) -> String {
        let idp_file = self.dir.path().join("idp-metadata.xml");
        std::fs::write(&idp_file, idp_metadata).unwrap();
        self.render(&yaml_list([idp_file.as_path()]));
        let bind = self.base.trim_start_matches("http://").to_owned();
        let log = std::fs::File::create(self.dir.path().join("gunicorn.log")).unwrap();
        let child = Command::new(venv_bin("gunicorn"))
            .args(["--bind", &bind, "--workers", "1", "--threads", "2"])
            .args(["--error-logfile", "-", "--capture-output"])
            // No control socket (by default one per user in ~/.gunicorn, shared by every
            // instance): each test's SATOSA stands alone.
            .arg("--no-control-socket")
            .arg("satosa.wsgi:app")
            .env(
                "SATOSA_CONFIG",
                self.dir.path().join("proxy_conf.yaml").as_os_str(),
            )
            .env("PYTHONWARNINGS", "ignore")
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start gunicorn: {e}"));
        self.child = Some(child);
        self.wait_until_ready().await
    }

    /// Polls the frontend's metadata until SATOSA serves it (bounded); fails at once
    /// when gunicorn has ended.
    async fn wait_until_ready(&mut self) -> String {
        let url = self.frontend_entity_id();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        for _ in 0..600 {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("SATOSA ended ({status}) before it served:\n{}", self.log());
            }
            if let Ok(response) = client.get(&url).send().await {
                if response.status() == 200 {
                    return response.text().await.unwrap_or_default();
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("SATOSA did not serve {url} within 30 s:\n{}", self.log());
    }

    /// gunicorn's and SATOSA's logs, for failure messages.
    pub fn log(&self) -> String {
        let read =
            |name: &str| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!(
            "--- gunicorn.log\n{}\n--- satosa.log (last 6000 bytes)\n{}",
            read("gunicorn.log"),
            tail(&read("satosa.log"), 6000)
        )
    }

    /// Writes the configuration from the templates, with `idp_metadata` (a YAML list of
    /// files) as the shared IdP's metadata.
    fn render(&self, idp_metadata: &str) {
        std::fs::create_dir_all(self.dir.path().join("plugins")).unwrap();
        let state_key = uuid::Uuid::new_v4().simple().to_string();
        for template in TEMPLATES {
            let text = std::fs::read_to_string(satosa_dir().join(template))
                .unwrap_or_else(|e| panic!("tests/satosa/{template}: {e}"));
            let text = text
                .replace("@BASE@", &self.base)
                .replace("@DIR@", &self.dir.path().display().to_string())
                .replace("@STATE_KEY@", &state_key)
                .replace("@IDP_METADATA@", idp_metadata)
                .replace("@LOCAL_APPLICATIONS@", &self.local_apps)
                .replace(
                    "@MAPS@",
                    &satosa_dir().join("attributemaps").display().to_string(),
                );
            std::fs::write(self.dir.path().join(template), text).unwrap();
        }
    }

    /// Whether `url` is one of this SATOSA's.
    pub fn is_satosa(&self, url: &Url) -> bool {
        url.as_str().starts_with(&format!("{}/", self.base))
    }
}

fn tail(text: &str, bytes: usize) -> &str {
    let mut start = text.len().saturating_sub(bytes);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// Files as a YAML flow list (paths of temporary directories: no quotes in them).
fn yaml_list<'a>(files: impl IntoIterator<Item = &'a Path>) -> String {
    let quoted: Vec<String> = files
        .into_iter()
        .map(|f| format!("\"{}\"", f.display()))
        .collect();
    format!("[{}]", quoted.join(", "))
}

/// An RSA-2048 key pair with a self-signed certificate, `<name>.key` and `<name>.crt`.
async fn generate_key_pair(dir: &Path, name: &str) {
    let output = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256"])
        .args(["-days", "30", "-subj"])
        .arg(format!("/CN=Lillby kommuns IdP {name}"))
        .arg("-keyout")
        .arg(dir.join(format!("{name}.key")))
        .arg("-out")
        .arg(dir.join(format!("{name}.crt")))
        .output()
        .await
        .unwrap_or_else(|e| panic!("openssl: {e}"));
    assert!(
        output.status.success(),
        "openssl req: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

// --- the browser across the chain ------------------------------------------------------

/// Where a walk of the browser ended.
#[derive(Debug, Clone)]
pub enum Stop {
    /// A form that posts a SAML message to a URL `stop_at` accepted (not submitted).
    Form(Form),
    /// A redirect to a URL `stop_at` accepted (not followed).
    Redirect(Url),
    /// A page that neither redirects nor posts a SAML message on (a login page, an
    /// error page).
    Page(Page),
}

/// Follows the browser from `page` as a person's browser would: redirects, and the
/// auto-submitting forms that carry SAML messages between SATOSA and the shared IdP,
/// until a redirect or SAML form goes to a URL `stop_at` accepts, or a page that goes
/// nowhere by itself. `hops` collects every URL visited.
pub async fn walk(
    agent: &Agent,
    mut page: Page,
    stop_at: impl Fn(&Url) -> bool,
    hops: &mut Vec<Url>,
) -> Stop {
    for _ in 0..30 {
        hops.push(page.url.clone());
        if page.is_redirect() {
            let next = page
                .location()
                .unwrap_or_else(|| panic!("redirect without Location from {}", page.url));
            if stop_at(&next) {
                return Stop::Redirect(next);
            }
            page = agent.request(Method::GET, &next, None).await;
            continue;
        }
        let saml_form = (page.status == 200)
            .then(|| page.form())
            .flatten()
            .filter(|f| f.field("SAMLResponse").is_some() || f.field("SAMLRequest").is_some());
        match saml_form {
            Some(form) if stop_at(&form.action) => return Stop::Form(form),
            Some(form) => {
                page = agent
                    .request(Method::POST, &form.action, Some(&form.fields))
                    .await;
            }
            None => return Stop::Page(page),
        }
    }
    panic!("more than 30 hops from {}: {hops:?}", page.url)
}
