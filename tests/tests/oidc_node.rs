//! Interop with Node's openid-client (v6, tests/oidc-rp): discovery, the code flow with
//! PKCE, ID token validation, UserInfo, refresh and RP-initiated logout, for a
//! confidential, a public and a private_key_jwt client. The node script is the
//! relying party; the scripted browser carries the user between it and the IdP.

use e2e::agent::Agent;
use e2e::oidc::*;
use serde_json::{json, Value};

use crate::oidc_flow::idp;

/// What every client checks, then RP-initiated logout with the node-built URL.
async fn check_and_log_out(idp: &e2e::TestIdp, result: &Value, browser: &Agent, client_id: &str) {
    let claims = &result["claims"];
    assert_eq!(claims["iss"], idp.url("").as_str(), "{result}");
    assert_eq!(claims["aud"], client_id);
    assert_eq!(claims["acr"], "http://id.elegnamnden.se/loa/1.0/loa3");
    assert!(claims["sid"].is_string() && claims["at_hash"].is_string());
    assert_eq!(result["access_token_typ"], "at+jwt");
    assert_eq!(result["userinfo"]["sub"], claims["sub"]);
    assert_eq!(result["refreshed"]["access_token_changed"], true);
    assert_eq!(result["refreshed"]["refresh_token_changed"], true);
    assert_eq!(result["refreshed"]["sub"], claims["sub"]);

    let end_session = result["end_session_url"].as_str().unwrap();
    assert!(
        end_session.starts_with(&idp.url("/oidc/logout")),
        "{end_session}"
    );
    let page = browser.get(end_session).await;
    let landed = page
        .location()
        .unwrap_or_else(|| panic!("no redirect: {}", page.body));
    assert_eq!(
        landed.as_str().split('?').next().unwrap(),
        format!("https://localhost:9443/rp/{client_id}/")
    );
    assert_eq!(
        param(&landed, "state").as_deref(),
        result["logout_state"].as_str()
    );
    assert!(browser.cookie("localhost", "__Host-idp_sso").is_none());
}

#[tokio::test]
async fn openid_client_logs_in_with_a_confidential_client() {
    let (idp, _db) = idp().await;
    let input = json!({
        "issuer": idp.url(""),
        "client_id": CONFIDENTIAL,
        "auth": "client_secret_basic",
        "secret": CONFIDENTIAL_SECRET,
        "redirect_uri": callback(CONFIDENTIAL),
        "post_logout_redirect_uri": "https://localhost:9443/rp/storstad-personal/",
        "scope": "openid profile https://id.oidc.se/scope/naturalPersonNumber",
    });
    let (result, browser) = run_node_rp(&idp, input, "david", None).await;
    assert_eq!(result["id_token_alg"], "RS256");
    assert_eq!(result["userinfo"]["given_name"], "David");
    assert!(result["claims"]["https://id.oidc.se/claim/personalIdentityNumber"].is_string());
    check_and_log_out(&idp, &result, &browser, CONFIDENTIAL).await;
}

#[tokio::test]
async fn openid_client_logs_in_with_a_public_client() {
    let (idp, _db) = idp().await;
    let input = json!({
        "issuer": idp.url(""),
        "client_id": PUBLIC,
        "auth": "none",
        "redirect_uri": callback(PUBLIC),
        "post_logout_redirect_uri": "https://localhost:9443/rp/lillby-hemtjanst/",
        "scope": "openid https://id.oidc.se/scope/naturalPersonOrgId",
    });
    let (result, browser) = run_node_rp(&idp, input, "eva", None).await;
    assert_eq!(
        result["claims"]["https://id.oidc.se/claim/orgNumber"],
        "2120007774"
    );
    check_and_log_out(&idp, &result, &browser, PUBLIC).await;
}

#[tokio::test]
async fn openid_client_logs_in_with_a_private_key_jwt_client() {
    let (idp, _db) = idp().await;
    let input = json!({
        "issuer": idp.url(""),
        "client_id": KEY_JWT,
        "auth": "private_key_jwt",
        "key_file": KEY_JWT_KEY_FILE,
        "kid": KEY_JWT_KID,
        "alg": "ES256",
        "redirect_uri": callback(KEY_JWT),
        "post_logout_redirect_uri": "https://localhost:9443/rp/region-appen/",
        "scope": "openid hsa",
    });
    let (result, browser) = run_node_rp(&idp, input, "anna", None).await;
    assert_eq!(result["id_token_alg"], "ES256");
    assert_eq!(
        result["userinfo"]["http://sambi.se/attributes/1/employeeHsaId"],
        "SE2321009991-anna01"
    );
    check_and_log_out(&idp, &result, &browser, KEY_JWT).await;
}

#[tokio::test]
async fn openid_client_reads_the_commission_the_person_chose_in_the_id_token() {
    let (idp, _db) = idp().await;
    let client_id = commission_client(&idp, "region", "choose").await;
    let input = json!({
        "issuer": idp.url(""),
        "client_id": client_id,
        "auth": "none",
        "redirect_uri": callback(&client_id),
        "post_logout_redirect_uri": format!("https://localhost:9443/rp/{client_id}/"),
        "scope": "openid hsa hsa_commission",
    });
    let emergency = "SE2321009991-upp102";
    let (result, browser) = run_node_rp(&idp, input, "anna", Some(emergency)).await;
    let sambi = |name: &str| format!("http://sambi.se/attributes/1/{name}");
    // openid-client validated the ID token (signature, iss, aud, nonce) that carries it.
    assert_eq!(
        result["claims"][sambi("commissionHsaId")],
        emergency,
        "{result}"
    );
    assert_eq!(
        result["claims"][sambi("commissionName")],
        "Akutmottagningen, sjuksköterska"
    );
    assert_eq!(
        result["claims"][sambi("commissionRight")],
        json!(["Läsa", "Skriva"])
    );
    assert_eq!(result["userinfo"][sambi("commissionHsaId")], emergency);
    check_and_log_out(&idp, &result, &browser, &client_id).await;
}
