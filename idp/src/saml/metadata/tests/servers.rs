//! Servers for the fetch tests, each on a port 0 of 127.0.0.1, stopped when dropped.

use arc_swap::ArcSwap;
use axum::Router;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A running test server; aborted on drop.
pub struct TestServer {
    pub address: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    pub fn url(&self, scheme: &str, path: &str) -> url::Url {
        format!("{scheme}://{}{path}", self.address)
            .parse()
            .unwrap()
    }
}

/// `app` over plain HTTP.
pub async fn http(app: Router) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    TestServer { address, task }
}

/// `app` over HTTPS with a fresh self-signed certificate for 127.0.0.1 and localhost
/// (returned, DER, for a client that should trust it), served by the IdP's own
/// listener.
pub async fn https(app: Router) -> (TestServer, CertificateDer<'static>) {
    crate::server::install_crypto_provider();
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let certificate = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![certificate.clone()], key)
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let options = crate::server::ServeOptions {
        tls: Some(Arc::new(ArcSwap::from_pointee(config))),
        handshake_timeout: Duration::from_secs(5),
        shutdown_grace: Duration::from_secs(1),
        connections: Default::default(),
        metrics: None,
    };
    let task = tokio::spawn(crate::server::serve(
        listener,
        app,
        options,
        std::future::pending(),
    ));
    (TestServer { address, task }, certificate)
}

/// Accepts connections and never answers (holding them open until dropped).
pub async fn silent() -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    TestServer { address, task }
}

/// An address where nothing listens: a port bound, then released.
pub async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    address
}
