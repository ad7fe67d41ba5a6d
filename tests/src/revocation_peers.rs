//! Real revocation peers for the revocation tests: an `openssl ocsp` responder serving a
//! development CA's index, and a small HTTP server that serves CRLs and counts requests.

use crate::repo_root;
use anyhow::{bail, Context};
use axum::response::IntoResponse;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

/// How long a responder may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// What an `openssl ocsp` responder serves and signs with.
#[derive(Debug, Clone)]
pub struct OcspResponderSpec {
    /// OpenSSL CA index: V/R lines. A serial not in it is "unknown".
    pub index: PathBuf,
    /// The CA whose certificates it answers for.
    pub ca_cert: PathBuf,
    /// Certificate and key the responses are signed with.
    pub signer_cert: PathBuf,
    pub signer_key: PathBuf,
    /// More `openssl ocsp` options (e.g. `-rmd sha1`).
    pub extra_args: Vec<String>,
}

impl OcspResponderSpec {
    /// The committed index of `certs-dev/ca/<slug>`, signed by the CA itself.
    pub fn dev_ca(ca_slug: &str) -> Self {
        let ca = dev_ca_dir();
        Self {
            index: ca.join(format!("{ca_slug}.index.txt")),
            ca_cert: ca.join(format!("{ca_slug}.pem")),
            signer_cert: ca.join(format!("{ca_slug}.pem")),
            signer_key: ca.join(format!("{ca_slug}.key.pem")),
            extra_args: Vec::new(),
        }
    }

    /// Responses signed with another certificate and key.
    pub fn signed_by(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.signer_cert = cert.into();
        self.signer_key = key.into();
        self
    }

    pub fn with_args(mut self, args: &[&str]) -> Self {
        self.extra_args.extend(args.iter().map(|a| (*a).to_owned()));
        self
    }
}

pub fn dev_ca_dir() -> PathBuf {
    repo_root().join("certs-dev/ca")
}

/// An `openssl ocsp` responder on a port the OS picked; killed when dropped.
///
/// OpenSSL 3.0's responder spins at 100% CPU, answering nobody, after a client connects
/// and closes without sending a request; so readiness is read from its "ACCEPT" line,
/// never probed with a bare TCP connect.
pub struct OcspResponder {
    child: Option<Child>,
    port: u16,
    _dir: Option<tempfile::TempDir>,
}

impl OcspResponder {
    /// Serves `certs-dev/ca/<slug>.index.txt`, signed by the CA.
    pub async fn start(ca_slug: &str) -> anyhow::Result<Self> {
        Self::start_spec(OcspResponderSpec::dev_ca(ca_slug), None).await
    }

    /// Serves an index the test writes: lines in OpenSSL's `index.txt` format.
    pub async fn start_with_index(ca_slug: &str, index: &str) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("index.txt");
        std::fs::write(&path, index)?;
        std::fs::write(dir.path().join("index.txt.attr"), "unique_subject = no\n")?;
        let spec = OcspResponderSpec {
            index: path,
            ..OcspResponderSpec::dev_ca(ca_slug)
        };
        Self::start_spec(spec, Some(dir)).await
    }

    /// Any responder; `dir` (holding its files) lives as long as it does.
    pub async fn start_spec(
        spec: OcspResponderSpec,
        dir: Option<tempfile::TempDir>,
    ) -> anyhow::Result<Self> {
        let mut child = Command::new("openssl")
            .arg("ocsp")
            .arg("-index")
            .arg(&spec.index)
            .arg("-CA")
            .arg(&spec.ca_cert)
            .arg("-rsigner")
            .arg(&spec.signer_cert)
            .arg("-rkey")
            .arg(&spec.signer_key)
            // Port 0: the OS picks a free one, which the ACCEPT line reports.
            .args(["-port", "0", "-nmin", "5"])
            // Without it, one malformed request ends the responder.
            .arg("-ignore_err")
            .args(&spec.extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start `openssl ocsp` (is openssl installed?)")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let stderr = child.stderr.take().context("no stderr")?;
        drain("openssl ocsp", stderr);
        let port = tokio::time::timeout(START_TIMEOUT, accepted_port(stdout))
            .await
            .context("openssl ocsp did not start listening")??;
        Ok(Self {
            child: Some(child),
            port,
            _dir: dir,
        })
    }

    pub fn url(&self) -> reqwest::Url {
        reqwest::Url::parse(&format!("http://127.0.0.1:{}/", self.port))
            .unwrap_or_else(|e| panic!("responder URL: {e}"))
    }

    /// Stops the responder and waits until it is gone: "responder down".
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().await?;
        }
        Ok(())
    }
}

/// Reads openssl's stdout up to "ACCEPT [::]:<port> PID=<pid>" and keeps draining it.
async fn accepted_port(stdout: impl AsyncRead + Unpin + Send + 'static) -> anyhow::Result<u16> {
    let mut lines = BufReader::new(stdout).lines();
    while let Some(line) = lines.next_line().await? {
        if let Some(rest) = line.strip_prefix("ACCEPT ") {
            let address = rest.split_whitespace().next().unwrap_or_default();
            let port = address
                .rsplit_once(':')
                .and_then(|(_, port)| port.parse().ok())
                .with_context(|| format!("unexpected ACCEPT line: {line}"))?;
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return Ok(port);
        }
    }
    bail!("openssl ocsp exited before listening")
}

/// Copies a child's output to the test's stderr, so that it never blocks on a full pipe.
fn drain(prefix: &'static str, output: impl AsyncRead + Unpin + Send + 'static) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(output).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            eprintln!("{prefix}: {line}");
        }
    });
}

/// A URL on which nothing listens: a responder or CRL server that is down.
pub fn dead_url(path: &str) -> reqwest::Url {
    reqwest::Url::parse(&format!("http://127.0.0.1:{}{path}", crate::free_port()))
        .unwrap_or_else(|e| panic!("dead URL: {e}"))
}

/// The lines of a development CA's index, for writing variants of it.
pub fn dev_index(ca_slug: &str) -> anyhow::Result<String> {
    let path = dev_ca_dir().join(format!("{ca_slug}.index.txt"));
    std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))
}

type Files = Arc<Mutex<HashMap<String, Vec<u8>>>>;

/// A small HTTP server serving fixed bytes per path (CRLs), counting every request.
pub struct CrlServer {
    addr: SocketAddr,
    files: Files,
    hits: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl CrlServer {
    pub async fn start(files: Vec<(String, Vec<u8>)>) -> anyhow::Result<Self> {
        let files: Files = Arc::new(Mutex::new(files.into_iter().collect()));
        let hits = Arc::new(AtomicU64::new(0));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (served, counted) = (files.clone(), hits.clone());
        let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
            let (files, hits) = (served.clone(), counted.clone());
            async move {
                hits.fetch_add(1, Ordering::SeqCst);
                let body = lock(&files).get(uri.path()).cloned();
                match body {
                    Some(body) => (
                        axum::http::StatusCode::OK,
                        [(axum::http::header::CONTENT_TYPE, "application/pkix-crl")],
                        body,
                    )
                        .into_response(),
                    None => axum::http::StatusCode::NOT_FOUND.into_response(),
                }
            }
        });
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("CRL server: {e}");
            }
        });
        Ok(Self {
            addr,
            files,
            hits,
            task,
        })
    }

    /// The URL of `path` (which starts with "/").
    pub fn url(&self, path: &str) -> reqwest::Url {
        reqwest::Url::parse(&format!("http://{}{path}", self.addr))
            .unwrap_or_else(|e| panic!("CRL URL: {e}"))
    }

    /// Requests served so far (any path).
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::SeqCst)
    }

    /// Serves other bytes at `path` from now on (a CA publishing a new CRL).
    pub fn publish(&self, path: &str, bytes: Vec<u8>) {
        lock(&self.files).insert(path.to_owned(), bytes);
    }
}

impl Drop for CrlServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Reads a file under `certs-dev/`.
pub fn dev_file(path: impl AsRef<Path>) -> anyhow::Result<Vec<u8>> {
    let path = repo_root().join("certs-dev").join(path);
    std::fs::read(&path).with_context(|| format!("{}", path.display()))
}
