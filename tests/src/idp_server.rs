//! An IdP served in-process on a free port, with the shipped configuration and the
//! given database and session store.

use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use idp::clock::SystemClock;
use idp::config::{ConfigSource, EnvOverrides, LoadedConfig};
use idp::web::AppState;

use crate::repo_root;

pub struct TestIdp {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// The shipped configuration (config/idp.toml, config/tenants) with paths made absolute
/// and the database and Redis URLs set as the environment would set them.
pub fn shipped_config(database_url: &str, redis_url: Option<&str>) -> LoadedConfig {
    let root = repo_root();
    let env = EnvOverrides {
        database_url: Some(database_url.to_owned()),
        redis_url: redis_url.map(str::to_owned),
        listen: Some("127.0.0.1:0".to_owned()),
        tenants_dir: Some(root.join("config/tenants").display().to_string()),
        directory_seed_file: Some(root.join("config/directory-dev.toml").display().to_string()),
        tls_certificate: Some(
            root.join("certs-dev/tls/localhost.pem")
                .display()
                .to_string(),
        ),
        tls_private_key: Some(
            root.join("certs-dev/tls/localhost.key.pem")
                .display()
                .to_string(),
        ),
        ..EnvOverrides::default()
    };
    idp::config::load(&ConfigSource { file: None, env })
        .unwrap_or_else(|problems| panic!("shipped config: {problems}"))
}

impl TestIdp {
    pub async fn start(config: LoadedConfig) -> anyhow::Result<Self> {
        idp::server::install_crypto_provider();
        let state = idp::app::build_state(config, Arc::new(SystemClock)).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let serve_state = state.clone();
        let task = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            if let Err(e) = idp::app::serve(serve_state, listener, shutdown).await {
                eprintln!("test idp stopped with an error: {e}");
            }
        });
        Ok(Self {
            addr,
            state,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// `https://localhost:<port><path>` (the dev certificate is issued to localhost).
    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.addr.port())
    }

    /// Triggers graceful shutdown and waits for the server to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for TestIdp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
