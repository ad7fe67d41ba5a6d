//! Logout: RP-initiated logout ends the SSO session and sends signed back-channel
//! logout tokens to the session's OIDC clients that registered a back-channel URI.

use axum::extract::State;
use axum::routing::post;
use axum::{Form, Router};
use e2e::agent::Agent;
use e2e::idp_server::shipped_config;
use e2e::oidc::*;
use e2e::{repo_root, SqliteDatabase, TestIdp};
use idp::oidc::jwt::Parsed;
use reqwest::Url;
use std::collections::HashMap;
use tokio::sync::mpsc;

/// A client back end receiving back-channel logout tokens on plain HTTP (loopback).
async fn receiver() -> (String, mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = mpsc::unbounded_channel();
    async fn receive(
        State(tx): State<mpsc::UnboundedSender<String>>,
        Form(form): Form<HashMap<String, String>>,
    ) -> &'static str {
        if let Some(token) = form.get("logout_token") {
            let _ = tx.send(token.clone());
        }
        ""
    }
    let app = Router::new().route("/bc", post(receive)).with_state(tx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://127.0.0.1:{}/bc",
        listener.local_addr().unwrap().port()
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, rx)
}

/// The shipped configuration with storstad-personal's back-channel URI set to `url`.
fn config_with_backchannel(
    db_url: &str,
    url: &str,
) -> (idp::config::LoadedConfig, tempfile::TempDir) {
    let mut config = shipped_config(db_url, None);
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(repo_root().join("config/tenants")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap().replace(
            "https://localhost:9443/rp/storstad-personal/backchannel-logout",
            url,
        );
        std::fs::write(dir.path().join(path.file_name().unwrap()), text).unwrap();
    }
    config.tenant_files = idp::config::TenantFiles::read(dir.path(), &config.idp);
    assert!(
        config.tenant_files.problems.0.is_empty(),
        "{}",
        config.tenant_files.problems
    );
    (config, dir)
}

#[tokio::test]
async fn rp_initiated_logout_ends_the_session_and_notifies_the_clients() {
    let (url, mut tokens_received) = receiver().await;
    let db = SqliteDatabase::create().unwrap();
    let (config, _tenants) = config_with_backchannel(&db.url, &url);
    let idp = TestIdp::start(config).await.unwrap();
    let browser = Agent::with_certificate("david");

    // David uses Storstad's portal, then (single sign-on) Lillby's home-care app.
    let (verifier, challenge) = pkce();
    let authorize = authorize_url(&idp, CONFIDENTIAL, "openid", Some(&challenge), &[]);
    let landed = browse_to_callback(&browser, &idp, &authorize, CONFIDENTIAL).await;
    let (_, tokens, _) =
        exchange_confidential(&idp, &param(&landed, "code").unwrap(), &verifier).await;
    let (_, public_challenge) = pkce();
    let authorize = authorize_url(&idp, PUBLIC, "openid", Some(&public_challenge), &[]);
    browser
        .open_until(&authorize, &callback(PUBLIC))
        .await
        .unwrap_or_else(|page| panic!("SSO expected: {}", page.url));
    let session_id = browser.cookie("localhost", "__Host-idp_sso").unwrap();
    let session = idp
        .state
        .sso_sessions
        .find(&session_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(session.participants.len(), 2);

    let id_token = tokens["id_token"].as_str().unwrap();
    let (_, id_claims) = jwt_parts(id_token);
    let mut logout = Url::parse(&idp.url("/oidc/logout")).unwrap();
    logout
        .query_pairs_mut()
        .append_pair("id_token_hint", id_token)
        .append_pair(
            "post_logout_redirect_uri",
            "https://localhost:9443/rp/storstad-personal/",
        )
        .append_pair("state", "bye");
    let page = browser.get(logout.as_str()).await;
    let back = page.location().unwrap();
    assert_eq!(
        back.as_str(),
        "https://localhost:9443/rp/storstad-personal/?state=bye"
    );
    assert!(browser.cookie("localhost", "__Host-idp_sso").is_none());
    assert!(idp
        .state
        .sso_sessions
        .find(&session_id)
        .await
        .unwrap()
        .is_none());
    assert!(audit_events(&idp)
        .await
        .contains(&("logout".into(), "success".into())));

    // The POST finished before the logout answered.
    let token = tokens_received.try_recv().expect("a logout token");
    let parsed = Parsed::parse(&token).unwrap();
    parsed.verify_own(&idp.state.oidc.keys).unwrap();
    assert_eq!(parsed.header_str("typ"), Some("logout+jwt"));
    assert_eq!(parsed.claim_str("aud"), Some(CONFIDENTIAL));
    assert_eq!(parsed.claim_str("iss"), Some(idp.url("").as_str()));
    assert_eq!(parsed.claim_str("sid"), id_claims["sid"].as_str());
    assert_eq!(parsed.claim_str("sub"), id_claims["sub"].as_str());
    assert!(
        parsed.claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object()
    );
    assert!(parsed.claims.get("nonce").is_none());
    // Only the client with a back-channel URI received one.
    assert!(tokens_received.try_recv().is_err());

    // The client's tokens end with the session.
    assert_eq!(
        userinfo(&idp, tokens["access_token"].as_str().unwrap())
            .await
            .0,
        401
    );
    let (_, body, error) = token_request(
        &idp,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
        Some((CONFIDENTIAL, CONFIDENTIAL_SECRET)),
    )
    .await;
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(error.as_deref(), Some("OIDC_SESSION_ENDED"));

    // A new authorization in this browser asks for a login again.
    let authorize = authorize_url(
        &idp,
        PUBLIC,
        "openid",
        Some(&public_challenge),
        &[("prompt", "none")],
    );
    let page = browser.get(&authorize).await;
    assert_eq!(
        param(&page.location().unwrap(), "error").as_deref(),
        Some("login_required")
    );
}

#[tokio::test]
async fn end_oidc_participants_reports_every_oidc_client_of_a_session() {
    let (url, mut tokens_received) = receiver().await;
    let db = SqliteDatabase::create().unwrap();
    let (config, _tenants) = config_with_backchannel(&db.url, &url);
    let idp = TestIdp::start(config).await.unwrap();
    let browser = Agent::with_certificate("david");
    let (_, challenge) = pkce();
    let authorize = authorize_url(&idp, CONFIDENTIAL, "openid", Some(&challenge), &[]);
    browse_to_callback(&browser, &idp, &authorize, CONFIDENTIAL).await;
    let session_id = browser.cookie("localhost", "__Host-idp_sso").unwrap();
    let session = idp
        .state
        .sso_sessions
        .find(&session_id)
        .await
        .unwrap()
        .unwrap();

    let results = idp::oidc::end_oidc_participants(&idp.state.oidc_context(), &session).await;
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].0, "storstad/personal");
    assert!(results[0].1.is_ok(), "{:?}", results[0].1);
    assert!(tokens_received.try_recv().is_ok());
}

#[tokio::test]
async fn prompt_login_asks_again_despite_a_session() {
    let (idp, _db) = crate::oidc_flow::idp().await;
    let browser = Agent::with_certificate("david");
    let (_, challenge) = pkce();
    let authorize = authorize_url(&idp, CONFIDENTIAL, "openid", Some(&challenge), &[]);
    browse_to_callback(&browser, &idp, &authorize, CONFIDENTIAL).await;
    let again = authorize_url(
        &idp,
        CONFIDENTIAL,
        "openid",
        Some(&challenge),
        &[("prompt", "login")],
    );
    let page = browser
        .open_until(&again, &callback(CONFIDENTIAL))
        .await
        .expect_err("a login page");
    assert_eq!(page.url.path(), "/login");
    let landed = browser
        .log_in_until(&idp, &page, &callback(CONFIDENTIAL))
        .await
        .unwrap();
    assert!(param(&landed, "code").is_some());
}

/// Whether `browser`'s SSO session still exists on the IdP.
async fn session_is_alive(idp: &TestIdp, browser: &Agent) -> bool {
    let Some(id) = browser.cookie("localhost", "__Host-idp_sso") else {
        return false;
    };
    idp.state.sso_sessions.find(&id).await.unwrap().is_some()
}

/// David logged in to the confidential client; his ID token.
async fn logged_in(idp: &TestIdp, browser: &Agent) -> String {
    let (verifier, challenge) = pkce();
    let authorize = authorize_url(idp, CONFIDENTIAL, "openid", Some(&challenge), &[]);
    let landed = browse_to_callback(browser, idp, &authorize, CONFIDENTIAL).await;
    let (status, tokens, _) =
        exchange_confidential(idp, &param(&landed, "code").unwrap(), &verifier).await;
    assert_eq!(status, 200);
    tokens["id_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_logout_link_without_this_sessions_id_token_asks_the_user_first() {
    let db = SqliteDatabase::create().unwrap();
    let idp = TestIdp::start(shipped_config(&db.url, None)).await.unwrap();
    let browser = Agent::with_certificate("david");
    logged_in(&idp, &browser).await;
    // Another browser's valid ID token (the attacker's own login to the same client).
    let attacker = Agent::with_certificate("david");
    let foreign_hint = logged_in(&idp, &attacker).await;

    // A bare link (as an <img> on any site would send), and one with a foreign hint.
    let bare = idp.url("/oidc/logout");
    let mut foreign = Url::parse(&idp.url("/oidc/logout")).unwrap();
    foreign
        .query_pairs_mut()
        .append_pair("id_token_hint", &foreign_hint);
    for link in [bare, foreign.to_string()] {
        let page = browser.get(&link).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("Vill du logga ut?"), "{}", page.body);
        assert_eq!(page.header("cache-control"), Some("no-store"));
        assert!(session_is_alive(&idp, &browser).await, "{link}");
    }

    // The form without (or with a wrong) CSRF token ends nothing either.
    let mut url = Url::parse(&idp.url("/oidc/logout")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", CONFIDENTIAL)
        .append_pair(
            "post_logout_redirect_uri",
            "https://localhost:9443/rp/storstad-personal/",
        )
        .append_pair("ui_locales", "en");
    let question = browser.get(url.as_str()).await;
    assert!(question.body.contains("Do you want to log out?"));
    let form = question.form().expect("a confirmation form");
    let mut forged = form.clone();
    forged.fields.retain(|(name, _)| name != "csrf_token");
    forged.fields.push(("csrf_token".into(), "forged".into()));
    let page = browser
        .request(reqwest::Method::POST, &forged.action, Some(&forged.fields))
        .await;
    assert!(page.body.contains("Do you want to log out?"));
    assert!(session_is_alive(&idp, &browser).await);
    // Another browser's token does not confirm this one's logout.
    let theirs = attacker
        .get(url.as_str())
        .await
        .form()
        .expect("a confirmation form");
    let page = browser
        .request(reqwest::Method::POST, &theirs.action, Some(&theirs.fields))
        .await;
    assert!(page.body.contains("Do you want to log out?"));
    assert!(session_is_alive(&idp, &browser).await);

    // The user confirms: logged out, and sent back to the application.
    let session_id = browser.cookie("localhost", "__Host-idp_sso").unwrap();
    let done = browser
        .request(reqwest::Method::POST, &form.action, Some(&form.fields))
        .await;
    assert_eq!(
        done.location().map(|u| u.to_string()).as_deref(),
        Some("https://localhost:9443/rp/storstad-personal/")
    );
    assert!(browser.cookie("localhost", "__Host-idp_sso").is_none());
    assert!(idp
        .state
        .sso_sessions
        .find(&session_id)
        .await
        .unwrap()
        .is_none());
    // The attacker's own session was not touched.
    assert!(session_is_alive(&idp, &attacker).await);
}

#[tokio::test]
async fn the_id_token_of_this_session_logs_out_without_a_question() {
    let db = SqliteDatabase::create().unwrap();
    let idp = TestIdp::start(shipped_config(&db.url, None)).await.unwrap();
    let browser = Agent::with_certificate("david");
    let hint = logged_in(&idp, &browser).await;
    let mut url = Url::parse(&idp.url("/oidc/logout")).unwrap();
    url.query_pairs_mut().append_pair("id_token_hint", &hint);
    let page = browser.get(url.as_str()).await;
    assert!(!page.body.contains("Vill du logga ut?"), "{}", page.body);
    assert!(!session_is_alive(&idp, &browser).await);
}
