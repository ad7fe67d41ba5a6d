//! What the deployment finds outside the cluster: a PostgreSQL database (on the suite's
//! server, which tests/run starts and names in IDP_TEST_POSTGRES_URL), a Redis server,
//! and the CAs' CRL distribution point. Each on a port the OS picked.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something accepts connections on `addr`, at most `within`.
pub async fn wait_for_port(addr: SocketAddr, within: Duration) {
    let deadline = Instant::now() + within;
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {addr}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A private `redis-server`, killed when dropped.
pub struct Redis {
    pub url: String,
    _child: Child,
    _dir: tempfile::TempDir,
}

impl Redis {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server (tests/run installs it)");
        wait_for_port(([127, 0, 0, 1], port).into(), Duration::from_secs(10)).await;
        Self {
            url: format!("redis://127.0.0.1:{port}/"),
            _child: child,
            _dir: dir,
        }
    }
}

/// A new, empty database on the suite's PostgreSQL; its URL.
pub async fn postgres_database() -> String {
    let admin_url = std::env::var("IDP_TEST_POSTGRES_URL").expect(
        "IDP_TEST_POSTGRES_URL is not set: run the suite with tests/run, which starts PostgreSQL",
    );
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let admin = idp::storage::Database::connect(&admin_url, 1)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin.pool())
        .await
        .unwrap();
    let (base, _) = admin_url.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

/// Serves `<base>/<name>.crl` (DER) over HTTP, as a CA's CRL distribution point does.
/// Bound first, since the certificates name its URL; serving once the CRLs exist.
pub struct CrlServer {
    pub base: String,
    listener: Option<tokio::net::TcpListener>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl CrlServer {
    pub async fn bind() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self {
            base: format!("http://{}", listener.local_addr().unwrap()),
            listener: Some(listener),
            task: None,
        }
    }

    /// Serves `crls` (issuer name → DER) from now on.
    pub fn serve(&mut self, crls: BTreeMap<String, Vec<u8>>) {
        let listener = self.listener.take().expect("serve once");
        self.task = Some(tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut request = Vec::new();
                let mut buffer = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&request);
                let path = text.split_whitespace().nth(1).unwrap_or_default();
                let name = path.trim_start_matches('/').trim_end_matches(".crl");
                let (status, body) = match crls.get(name) {
                    Some(der) => ("200 OK", der.as_slice()),
                    None => ("404 Not Found", &[][..]),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/pkix-crl\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(&[head.as_bytes(), body].concat()).await;
            }
        }));
    }
}

impl Drop for CrlServer {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}
