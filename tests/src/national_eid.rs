//! `sp-test national-eid` as its own process: the simulated external national eID
//! service (tests/tests/national_eid.rs). The harness builds the sp-test binary once per
//! test process (cargo's no-op when it is current), starts it on free ports (port 0; it
//! prints its addresses as one JSON line), and kills it when dropped.

use anyhow::{bail, Context};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::repo_root;

/// The sp-test binary next to this test binary (`target/<profile>/sp-test`), built once.
fn sp_test_binary() -> anyhow::Result<PathBuf> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().map_err(|e| e.to_string())?;
            // target/<profile>/deps/main-<hash>
            let profile_dir = exe
                .parent()
                .and_then(Path::parent)
                .ok_or("no target directory")?
                .to_path_buf();
            let target_dir = profile_dir.parent().ok_or("no target directory")?;
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut build = std::process::Command::new(cargo);
            build
                .current_dir(repo_root())
                .args(["build", "--quiet", "-p", "sp-test", "--bin", "sp-test"])
                .arg("--target-dir")
                .arg(target_dir);
            if profile_dir.file_name().is_some_and(|n| n == "release") {
                build.arg("--release");
            }
            let status = build.status().map_err(|e| format!("cargo build: {e}"))?;
            if !status.success() {
                return Err(format!("cargo build -p sp-test failed: {status}"));
            }
            Ok(profile_dir.join("sp-test"))
        })
        .clone()
        .map_err(anyhow::Error::msg)
}

/// A running simulator.
pub struct NationalEidSim {
    /// `https://localhost:<port>/rp/v6.0/`.
    pub rp_api: url::Url,
    /// `http://127.0.0.1:<port>`: the user's side.
    pub control: String,
    pub service_ca: PathBuf,
    pub client_certificate: PathBuf,
    pub client_private_key: PathBuf,
    /// A CA the IdP is not told to pin.
    pub foreign_ca: PathBuf,
    child: Option<Child>,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl NationalEidSim {
    /// Starts `sp-test national-eid` with `args` and its own PKI in a fresh directory.
    pub async fn start(args: &[&str]) -> anyhow::Result<Self> {
        idp::server::install_crypto_provider();
        let binary = sp_test_binary()?;
        let dir = tempfile::tempdir()?;
        let mut child = Command::new(&binary)
            .current_dir(repo_root())
            .arg("national-eid")
            .arg("--pki-dir")
            .arg(dir.path().join("pki"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("start {}", binary.display()))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .context("sp-test national-eid printed no addresses")??;
        let Some(line) = line else {
            bail!("sp-test national-eid ended without printing its addresses");
        };
        let info: Value = serde_json::from_str(&line).with_context(|| line.clone())?;
        let text = |key: &str| -> anyhow::Result<String> {
            info[key]
                .as_str()
                .map(str::to_owned)
                .with_context(|| format!("no {key} in {line}"))
        };
        Ok(Self {
            rp_api: text("rp_api")?.parse()?,
            control: text("control")?,
            service_ca: text("service_ca")?.into(),
            client_certificate: text("client_certificate")?.into(),
            client_private_key: text("client_private_key")?.into(),
            foreign_ca: text("foreign_ca")?.into(),
            child: Some(child),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?,
            _dir: dir,
        })
    }

    /// The `[[mobile.national_eid]]` entry for this simulator, serving `tenants`.
    pub fn service_config(&self, tenants: &[&str]) -> idp::config::NationalEidConfig {
        idp::config::NationalEidConfig {
            name: "national".into(),
            url: self.rp_api.clone(),
            client_certificate: self.client_certificate.clone(),
            client_private_key: self.client_private_key.clone(),
            service_ca: self.service_ca.clone(),
            tenants: tenants.iter().map(|t| (*t).to_owned()).collect(),
            issuers: Vec::new(),
            connect_timeout_millis: 2000,
            request_timeout_millis: 5000,
            // Every poll asks the service, so that a test's poll right after the app's
            // step sees it; the interval has its own test.
            min_collect_interval_millis: 0,
            user_visible_data: "Logga in i {application} hos {organisation}".into(),
            app_link: "bankid:///".into(),
            app_universal_link: "https://app.bankid.com/".into(),
        }
    }

    /// The service's phone app: `POST /sim/v1/scan` with the QR content the IdP's page
    /// shows, as development user `user`, ending in `outcome`.
    pub async fn scan(&self, qr: &str, user: &str, outcome: &str) -> (u16, Value) {
        self.post(
            "/sim/v1/scan",
            json!({ "qr": qr, "user": user, "outcome": outcome }),
        )
        .await
    }

    /// The service's app opened on this device with `token` (the autostart link).
    pub async fn open_with_autostart_token(&self, token: &str, user: &str) -> (u16, Value) {
        self.post(
            "/sim/v1/scan",
            json!({ "autoStartToken": token, "user": user, "outcome": "approve" }),
        )
        .await
    }

    /// How many calls of each RP API operation the service answered
    /// (`{"auth": n, "collect": n, "cancel": n}`).
    pub async fn calls(&self) -> Value {
        self.http
            .get(format!("{}/sim/v1/calls", self.control))
            .send()
            .await
            .unwrap_or_else(|e| panic!("simulator calls: {e}"))
            .json()
            .await
            .unwrap_or(Value::Null)
    }

    /// `POST /sim/v1/faults`.
    pub async fn faults(&self, delay_ms: u64, down: bool) -> (u16, Value) {
        self.post(
            "/sim/v1/faults",
            json!({ "delayMs": delay_ms, "down": down }),
        )
        .await
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.control))
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("simulator {path}: {e}"));
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Stops the process (the service is down; its port refuses connections).
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }
}
