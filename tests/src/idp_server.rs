//! An IdP served in-process on a free port, with the shipped configuration and the
//! given database and session store.

use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use idp::clock::SystemClock;
use idp::config::{ConfigSource, EnvOverrides, LoadedConfig};
use idp::web::management::Lifecycle;
use idp::web::AppState;

use crate::repo_root;

pub struct TestIdp {
    pub addr: SocketAddr,
    /// The mutual-TLS login listener.
    pub mtls_addr: SocketAddr,
    /// The management listener (plain HTTP: /healthz, /readyz, /metrics).
    pub management_addr: SocketAddr,
    pub state: Arc<AppState>,
    /// Readiness and drain, as the management listener reports them.
    pub lifecycle: Arc<Lifecycle>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// The client secret of `storstad-personal` in [`production_config`].
pub const PRODUCTION_TEST_SECRET: &str = "a test secret nobody published";

/// The shipped configuration as a production instance of a test runs it: no
/// development directory seed, and the development client secret the docs publish
/// (which a production registry refuses) replaced by an unpublished one.
pub fn production_config(database_url: &str, redis_url: Option<&str>) -> LoadedConfig {
    let mut config = shipped_config(database_url, redis_url);
    config.idp.profile = idp::config::Profile::Production;
    config.idp.directory.seed_file = None;
    let unpublished: String = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        PRODUCTION_TEST_SECRET.as_bytes(),
    )
    .as_ref()
    .iter()
    .map(|b| format!("{b:02x}"))
    .collect();
    for file in &mut config.tenant_files.files {
        for published in idp::tenants::validate::PUBLISHED_DEVELOPMENT_SECRETS {
            file.source = file.source.replace(published, &unpublished);
            for client in &mut file.tenant.oidc_client {
                if client.client_secret_sha256.as_deref() == Some(published) {
                    client.client_secret_sha256 = Some(unpublished.clone());
                }
            }
        }
    }
    config
}

/// The shipped configuration (config/idp.toml, config/tenants) with paths made absolute
/// and the database and Redis URLs set as the environment would set them.
pub fn shipped_config(database_url: &str, redis_url: Option<&str>) -> LoadedConfig {
    shipped_config_on(database_url, redis_url, &repo_root().join("config/tenants"))
}

/// [`shipped_config`] with the tenant files of `tenants_dir`.
pub fn shipped_config_on(
    database_url: &str,
    redis_url: Option<&str>,
    tenants_dir: &std::path::Path,
) -> LoadedConfig {
    crate::use_repo_root_as_cwd();
    let root = repo_root();
    let env = EnvOverrides {
        database_url: Some(database_url.to_owned()),
        redis_url: redis_url.map(str::to_owned),
        listen: Some("127.0.0.1:0".to_owned()),
        tenants_dir: Some(tenants_dir.display().to_string()),
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
    /// Serves `config` on free ports (main and mTLS listeners); the public URLs are
    /// set to those ports on localhost.
    pub async fn start(config: LoadedConfig) -> anyhow::Result<Self> {
        Self::start_with_clock(config, Arc::new(SystemClock)).await
    }

    /// Like [`TestIdp::start`], with the IdP reading time from `clock` (a
    /// `ManualClock` lets a test move past lifetimes without waiting).
    pub async fn start_with_clock(
        config: LoadedConfig,
        clock: idp::clock::SharedClock,
    ) -> anyhow::Result<Self> {
        Self::start_node(config, clock, None).await
    }

    /// One node of several behind a load balancer: its public URL is `public_url`
    /// (the balancer's), its own listeners are on free ports.
    pub async fn start_behind(config: LoadedConfig, public_url: &str) -> anyhow::Result<Self> {
        Self::start_node(config, Arc::new(SystemClock), Some(public_url)).await
    }

    async fn start_node(
        mut config: LoadedConfig,
        clock: idp::clock::SharedClock,
        public_url: Option<&str>,
    ) -> anyhow::Result<Self> {
        idp::server::install_crypto_provider();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let mtls_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let mtls_addr = mtls_listener.local_addr()?;
        config.idp.public_url = match public_url {
            Some(url) => url.parse()?,
            None => format!("https://localhost:{}", addr.port()).parse()?,
        };
        config.idp.mtls.public_url = format!("https://localhost:{}", mtls_addr.port()).parse()?;
        let management_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let management_addr = management_listener.local_addr()?;
        let lifecycle = Lifecycle::new(Arc::new(idp::metrics::Metrics::new()));
        let (management_stop, management_stopped) = oneshot::channel::<()>();
        let management = idp::app::serve_management(
            &config,
            lifecycle.clone(),
            management_listener,
            async move {
                let _ = management_stopped.await;
            },
        )?;
        let state = idp::app::build_state_with(config, clock, &lifecycle).await?;
        let (stop, stopped) = oneshot::channel::<()>();
        let serve_state = state.clone();
        let serve_lifecycle = lifecycle.clone();
        let task = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            if let Err(e) = idp::app::serve(
                serve_state,
                serve_lifecycle,
                listener,
                Some(mtls_listener),
                shutdown,
            )
            .await
            {
                eprintln!("test idp stopped with an error: {e}");
            }
            let _ = management_stop.send(());
            let _ = management.await;
        });
        Ok(Self {
            addr,
            mtls_addr,
            management_addr,
            state,
            lifecycle,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// `https://localhost:<port><path>` (the dev certificate is issued to localhost).
    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.addr.port())
    }

    /// `http://127.0.0.1:<management port><path>`.
    pub fn management_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.management_addr.port())
    }

    /// The metrics as `/metrics` renders them now.
    pub fn metrics(&self) -> String {
        self.state.metrics.render(self.state.clock.now())
    }

    /// `https://localhost:<mtls port><path>`.
    pub fn mtls_url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.mtls_addr.port())
    }

    /// Triggers graceful shutdown without waiting for it (see [`TestIdp::shutdown`]).
    pub fn begin_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
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

/// The shipped configuration's `issuer` set to ask `ocsp_url` first, with no CRL to fall
/// back on (its CRL URL leads nowhere), and the given fail policy.
pub fn ocsp_only(
    config: &mut LoadedConfig,
    issuer: &str,
    ocsp_url: reqwest::Url,
    policy: idp::auth::revocation::FailPolicy,
) {
    let entry = config
        .idp
        .trust
        .issuers
        .iter_mut()
        .find(|i| i.name == issuer)
        .unwrap_or_else(|| panic!("no issuer {issuer} in the shipped configuration"));
    entry.use_ocsp = true;
    entry.ocsp_url = Some(ocsp_url);
    entry.crl_file = None;
    entry.crl_url = Some(crate::revocation_peers::dead_url("/issuer.crl"));
    entry.revocation = policy;
}
