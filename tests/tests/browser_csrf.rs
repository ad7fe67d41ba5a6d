//! Cross-site requests in headless Chromium (tests/browser/csrf.mjs): two logins waiting
//! in two tabs both complete, and a logged-in nurse's visit to another site that links
//! or embeds the IdP's logout, a certificate ticket of the attacker's own login and a
//! login start changes nothing in her browser.

use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use e2e::agent::Agent;
use e2e::idp_server::shipped_config;
use e2e::{SqliteDatabase, TestIdp};
use sp_test::phone::{Phone, Start};
use std::sync::Arc;

const SCREENSHOTS: [&str; 2] = ["csrf-tabs.png", "csrf-after.png"];

struct Attacker {
    idp: Arc<TestIdp>,
    /// The attacker's own browser, with the attacker's own certificate.
    browser: Agent,
}

impl Attacker {
    /// A fresh certificate ticket of the attacker's own login (its completion link).
    async fn ticket(&self) -> String {
        let start = self
            .browser
            .get(&self.idp.url("/login/start?app=storstad/omsorg"))
            .await;
        let login_page = start.location().expect("a login page");
        let login = login_page
            .query_pairs()
            .find(|(k, _)| k == "login")
            .map(|(_, v)| v.into_owned())
            .expect("the pending login");
        let hop = self
            .browser
            .get(&self.idp.mtls_url(&format!("/mtls/login?login={login}")))
            .await;
        hop.location()
            .unwrap_or_else(|| panic!("no ticket: {} {}", hop.status, hop.body))
            .to_string()
    }
}

/// The attacker's page: images and links to the IdP.
async fn attacker_page(State(attacker): State<Arc<Attacker>>) -> Html<String> {
    let idp = attacker.idp.url("");
    let ticket = attacker.ticket().await;
    Html(format!(
        "<!doctype html><html><body><h1>Kattbilder</h1>\
         <img src=\"{idp}/oidc/logout\" alt=\"\"><img src=\"{ticket}\" alt=\"\">\
         <img src=\"{idp}/login/start?app=region/journal\" alt=\"\">\
         <p><a id=\"ticket\" href=\"{ticket}\">fler katter</a></p>\
         <p><a id=\"logout\" href=\"{idp}/oidc/logout\">ännu fler</a></p>\
         <p><a id=\"login\" href=\"{idp}/login/start?app=region/journal\">alla katter</a></p>\
         </body></html>"
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn links_from_another_site_change_nothing_and_two_tabs_both_log_in() {
    let db = SqliteDatabase::create().unwrap();
    let idp = Arc::new(TestIdp::start(shipped_config(&db.url, None)).await.unwrap());
    let attacker = Arc::new(Attacker {
        idp: idp.clone(),
        browser: Agent::with_certificate("david"),
    });
    let site = Router::new()
        .route("/", get(attacker_page))
        .with_state(attacker);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site_url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    tokio::spawn(async move {
        let _ = axum::serve(listener, site).await;
    });

    let anna = Arc::new(e2e::mobile_credential("anna"));
    let phone = Arc::new(Phone::with_client(&idp.url(""), e2e::https_client()));
    let idp_url = idp.url("");
    e2e::browser_script::run_with_qrs("csrf.mjs", &[&idp_url, &site_url], &SCREENSHOTS, |qr| {
        let (phone, anna) = (phone.clone(), anna.clone());
        async move {
            let (_, claim) = phone.claim(&Start::Qr(qr), &anna).await.unwrap();
            phone.approve(&claim, &anna).await.unwrap();
        }
    })
    .await;
}
