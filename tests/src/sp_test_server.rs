//! `sp-test serve` in-process, on a free port, with test applications registered at an
//! IdP started for the test.

use std::sync::Arc;
use std::time::Duration;

use sp_test::saml_sp::SamlSp;
use sp_test::serve::{SamlApp, Served};

use crate::{repo_root, TestIdp};

pub struct SpTestServer {
    pub base_url: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// A listener for sp-test, bound before the IdP starts (the SPs' entityIDs carry its port).
pub struct Reserved {
    listener: tokio::net::TcpListener,
    pub base_url: String,
}

impl Reserved {
    pub async fn new() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        Self {
            listener,
            base_url: format!("https://localhost:{port}"),
        }
    }

    pub fn entity_id(&self, app: &str) -> String {
        format!("{}/sp/{app}", self.base_url)
    }

    /// The SP's metadata, as `sp-test metadata` writes it.
    pub fn metadata(&self, app: &str, is_encrypted: bool) -> String {
        SamlSp::with_dev_keys(
            &repo_root(),
            &self.entity_id(app),
            "https://idp.invalid",
            "-",
            is_encrypted,
        )
        .unwrap()
        .metadata()
    }

    /// Serves `apps` against `idp`.
    pub fn serve(self, idp: &TestIdp, apps: &[SamlApp]) -> SpTestServer {
        self.serve_with_oidc(&idp.url(""), apps, Vec::new())
    }

    /// Serves SAML `apps` and OIDC `oidc_apps` against `idp`.
    pub fn serve_with_oidc(
        self,
        idp_url: &str,
        apps: &[SamlApp],
        oidc_apps: Vec<sp_test::serve_oidc::OidcApp>,
    ) -> SpTestServer {
        idp::server::install_crypto_provider();
        let sps = apps
            .iter()
            .map(|app| {
                let mut sp = SamlSp::with_dev_keys(
                    &repo_root(),
                    &self.entity_id(&app.id),
                    idp_url,
                    &format!("{idp_url}/saml/metadata"),
                    app.encrypted,
                )
                .unwrap();
                sp.display_name = app.name.clone();
                sp.requested_loa = app.requested_loa.clone();
                (app.clone(), sp)
            })
            .collect();
        let root = repo_root();
        let ca = std::fs::read(root.join("certs-dev/tls/tls-ca.pem")).unwrap();
        let oidc = sp_test::serve_oidc::OidcServed::new(
            &self.base_url,
            idp_url,
            oidc_apps,
            sp_test::verify::client(Some(&ca)).unwrap(),
        );
        let router = sp_test::serve::router(Arc::new(Served::new(sps)), Arc::new(oidc));
        let tls = idp::server::load_server_config(
            &root.join("certs-dev/tls/localhost.pem"),
            &root.join("certs-dev/tls/localhost.key.pem"),
        )
        .unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(idp::server::serve(
            self.listener,
            router,
            idp::server::ServeOptions {
                tls: Some(Arc::new(arc_swap::ArcSwap::new(tls))),
                handshake_timeout: Duration::from_secs(5),
                shutdown_grace: Duration::from_secs(1),
                connections: Default::default(),
                metrics: None,
            },
            async {
                let _ = rx.await;
            },
        ));
        SpTestServer {
            base_url: self.base_url,
            shutdown: Some(tx),
            task: Some(task),
        }
    }
}

impl SpTestServer {
    pub fn app_url(&self, app: &str) -> String {
        format!("{}/sp/{app}/", self.base_url)
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for SpTestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// An sp-test application.
pub fn app(id: &str, is_encrypted: bool) -> SamlApp {
    SamlApp {
        id: id.to_owned(),
        name: format!("Test {id}"),
        registered_as: String::new(),
        encrypted: is_encrypted,
        requested_loa: None,
    }
}
