//! Admins as people: an organisation admin logs in through the IdP's own OIDC provider
//! (the admin console's client, at LoA 3) and acts with the access token on the admin
//! API, within the tenants whose `admins` name them; the console client itself is
//! registered and granted through the API.

use reqwest::StatusCode;
use serde_json::{json, Value};

use e2e::agent::Agent;
use e2e::idp_server::shipped_config;
use e2e::oidc::{authorize_url, browse_to_callback, callback, param, pkce, token_request};
use e2e::{SqliteDatabase, TestIdp};
use idp::admin::{create_api_token, TokenScope};
use idp::clock::{Clock, SystemClock};

/// A console client of its own (the shipped configuration registers `idp-admin` for
/// the built-in console, at the shipped public URL).
const CONSOLE: &str = "api-console";

async fn call(
    idp: &TestIdp,
    bearer: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = e2e::https_client()
        .request(method, idp.url(&format!("/admin/api/v1{path}")))
        .bearer_auth(bearer);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organisation_admin_logs_in_with_the_idp_and_acts_only_on_their_tenant() {
    let db = SqliteDatabase::create().unwrap();
    let mut config = shipped_config(&db.url, None);
    config.idp.admin.console_client_id = Some(CONSOLE.into());
    let idp = TestIdp::start(config).await.unwrap();
    let now = SystemClock.now();

    // The operator registers the console (a public client with PKCE) in the region's
    // tenant, asking for Lillby's admins too; Lillby grants it their HSA-id.
    let operator = create_api_token(
        &idp.state.db,
        TokenScope::Operator,
        idp::admin::TokenPurpose::Admin,
        "setup",
        "test",
        now,
    )
    .await
    .unwrap();
    let (status, answer) = call(
        &idp,
        &operator.token,
        reqwest::Method::PUT,
        "/tenants/region/oidc-clients/api-console",
        Some(json!({
            "id": "api-console",
            "display_name": { "sv": "Administrationen", "en": "Administration" },
            "client_id": CONSOLE,
            "token_endpoint_auth_method": "none",
            "redirect_uris": [callback(CONSOLE)],
            "scopes": ["openid"],
            "user_tenants": ["region", "lillby"]
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert!(
        answer.get("client_secret").is_none(),
        "a public client has no secret"
    );
    let lillby = create_api_token(
        &idp.state.db,
        TokenScope::Tenant("lillby".parse().unwrap()),
        idp::admin::TokenPurpose::Admin,
        "setup",
        "test",
        now,
    )
    .await
    .unwrap();
    let (status, answer) = call(
        &idp,
        &lillby.token,
        reqwest::Method::PUT,
        "/tenants/lillby/grants/region/api-console",
        Some(json!({ "attributes": ["employeeHsaId"] })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    // Eva, Lillby's admin, logs in to the console with her certificate.
    let eva = Agent::with_certificate("eva");
    let (verifier, challenge) = pkce();
    let url = authorize_url(&idp, CONSOLE, "openid", Some(&challenge), &[]);
    let back = browse_to_callback(&eva, &idp, &url, CONSOLE).await;
    let code = param(&back, "code").unwrap();
    let redirect = callback(CONSOLE);
    let (status, tokens, _) = token_request(
        &idp,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect),
            ("code_verifier", &verifier),
            ("client_id", CONSOLE),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap();

    // She sees and manages Lillby only.
    let (status, tenants) = call(&idp, access, reqwest::Method::GET, "/tenants", None).await;
    assert_eq!(status, StatusCode::OK, "{tenants}");
    let ids: Vec<&str> = tenants
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["lillby"]);
    let (status, answer) = call(
        &idp,
        access,
        reqwest::Method::PUT,
        "/tenants/lillby/admins",
        Some(json!({ "admins": ["SE2120007774-eva05", "SE2120007774-ny01"] })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, _) = call(
        &idp,
        access,
        reqwest::Method::GET,
        "/tenants/storstad",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(
        &idp,
        access,
        reqwest::Method::POST,
        "/tenants",
        Some(json!({ "id": "nyby", "kind": "municipality", "display_name": { "sv": "Nyby" },
                     "organisation_number": "212000-0142", "users": { "hsa_id_prefixes": ["SE2120000142-"] } })),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The change is audited under her HSA-id.
    let (_, audit) = call(
        &idp,
        access,
        reqwest::Method::GET,
        "/tenants/lillby/audit",
        None,
    )
    .await;
    assert_eq!(audit[0]["actor"], "admin:SE2120007774-eva05", "{audit}");
    assert_eq!(audit[0]["action"], "tenant.admins");

    // A token of another client, or none, is not an admin's.
    let (status, _) = call(&idp, "not-a-token", reqwest::Method::GET, "/tenants", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
