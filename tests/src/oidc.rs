//! Helpers for the OpenID Connect tests: the shipped clients, PKCE, driving the
//! scripted browser through authorize and login to a client's callback, and plain
//! token requests.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use reqwest::{StatusCode, Url};
use serde_json::Value;

use crate::agent::{Agent, Page};
use crate::TestIdp;

/// The shipped confidential client (storstad.toml), its development secret.
pub const CONFIDENTIAL: &str = "storstad-personal";
pub const CONFIDENTIAL_SECRET: &str = "dev-secret-storstad-personal";
/// The shipped public client (lillby.toml).
pub const PUBLIC: &str = "lillby-hemtjanst";
/// The shipped private_key_jwt client (region.toml) and its key.
pub const KEY_JWT: &str = "region-appen";
pub const KEY_JWT_KEY_FILE: &str = "certs-dev/clients/region-appen.key.pem";
pub const KEY_JWT_KID: &str = "region-appen-1";

/// `https://localhost:9443/rp/<client>/callback`, as registered.
pub fn callback(client_id: &str) -> String {
    format!("https://localhost:9443/rp/{client_id}/callback")
}

/// Registers (or replaces) OIDC client `client` (an `[[oidc_client]]` table as JSON)
/// in `tenant` through the admin API, as that tenant's admin would; returns the API's
/// answer (`application`, `warnings`) and the HTTP status.
pub async fn register_client(idp: &TestIdp, tenant: &str, client: &Value) -> (u16, Value) {
    use idp::clock::{Clock, SystemClock};
    let token = idp::admin::create_api_token(
        &idp.state.db,
        idp::admin::TokenScope::Tenant(tenant.parse().unwrap()),
        idp::admin::TokenPurpose::Admin,
        "test",
        "test",
        SystemClock.now(),
    )
    .await
    .unwrap();
    let id = client["id"].as_str().expect("the client's id");
    let response = crate::https_client()
        .put(idp.url(&format!("/admin/api/v1/tenants/{tenant}/oidc-clients/{id}")))
        .bearer_auth(&token.token)
        .json(client)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

/// Registers a public client `<tenant>-uppdrag` in `tenant` that may receive the
/// commission claims (scopes `openid profile hsa hsa_commission`), with commission
/// `policy` (`auto`, `choose`, `required`); returns its client_id.
pub async fn commission_client(idp: &TestIdp, tenant: &str, policy: &str) -> String {
    let client_id = format!("{tenant}-uppdrag");
    let (status, answer) = register_client(
        idp,
        tenant,
        &serde_json::json!({
            "id": "uppdrag",
            "display_name": { "sv": "Journalen med uppdrag", "en": "Records with commission" },
            "client_id": client_id,
            "token_endpoint_auth_method": "none",
            "redirect_uris": [callback(&client_id)],
            "post_logout_redirect_uris": [format!("https://localhost:9443/rp/{client_id}/")],
            "scopes": ["openid", "profile", "hsa", "hsa_commission"],
            "commission": policy,
        }),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    client_id
}

/// From the IdP's commission choice page `choice`, chooses `hsa_id` and follows the
/// IdP back until it redirects to `prefix`.
pub async fn choose_until(browser: &Agent, choice: &Page, hsa_id: &str, prefix: &str) -> Url {
    assert_eq!(
        choice.url.path(),
        "/login/commission",
        "expected the commission choice: {} {}",
        choice.status,
        choice.body
    );
    let chosen = browser.choose_commission(choice, hsa_id).await;
    browser
        .follow_until(chosen, prefix)
        .await
        .unwrap_or_else(|page| panic!("not back at the client: {} {}", page.url, page.body))
}

/// A PKCE verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes().repeat(2));
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    (verifier, URL_SAFE_NO_PAD.encode(digest.as_ref()))
}

/// An authorization URL: the client's registered callback, `scope`, the PKCE
/// challenge (if any), `state=st` and `nonce=n0`, then `extra` (which may repeat or
/// override nothing: it is appended).
pub fn authorize_url(
    idp: &TestIdp,
    client_id: &str,
    scope: &str,
    challenge: Option<&str>,
    extra: &[(&str, &str)],
) -> String {
    let mut url = Url::parse(&idp.url("/oidc/authorize")).unwrap();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("client_id", client_id)
            .append_pair("redirect_uri", &callback(client_id))
            .append_pair("response_type", "code")
            .append_pair("scope", scope)
            .append_pair("state", "st")
            .append_pair("nonce", "n0");
        if let Some(challenge) = challenge {
            q.append_pair("code_challenge", challenge)
                .append_pair("code_challenge_method", "S256");
        }
        for (k, v) in extra {
            q.append_pair(k, v);
        }
    }
    url.to_string()
}

/// Opens `authorize_url` in `browser`; logs in with its certificate when the IdP asks;
/// returns the callback URL the IdP redirected to (not fetched).
pub async fn browse_to_callback(
    browser: &Agent,
    idp: &TestIdp,
    authorize_url: &str,
    client_id: &str,
) -> Url {
    let prefix = callback(client_id);
    match browser.open_until(authorize_url, &prefix).await {
        Ok(url) => url,
        Err(login_page) => browser
            .log_in_until(idp, &login_page, &prefix)
            .await
            .unwrap_or_else(|page: Page| {
                panic!(
                    "login did not return to the client: {} {} {:?}: {}",
                    page.status,
                    page.url,
                    page.error_code(),
                    page.body
                )
            }),
    }
}

/// A query parameter of `url`.
pub fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// POSTs `form` to the token endpoint, with HTTP Basic `client_id:secret` if given.
/// Returns the status, the JSON body and the `x-idp-error` code.
pub async fn token_request(
    idp: &TestIdp,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (StatusCode, Value, Option<String>) {
    let mut request = crate::https_client()
        .post(idp.url("/oidc/token"))
        .form(form);
    if let Some((id, secret)) = basic {
        request = request.header(
            "authorization",
            format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))),
        );
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let code = response
        .headers()
        .get("x-idp-error")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body, code)
}

/// Exchanges `code` (issued with `verifier`'s challenge) for `client_id`'s tokens; `basic`
/// authenticates a confidential client.
pub async fn exchange(
    idp: &TestIdp,
    client_id: &str,
    basic: Option<(&str, &str)>,
    code: &str,
    verifier: &str,
) -> (StatusCode, Value, Option<String>) {
    let redirect = callback(client_id);
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect.as_str()),
        ("code_verifier", verifier),
    ];
    if basic.is_none() {
        form.push(("client_id", client_id));
    }
    token_request(idp, &form, basic).await
}

/// Exchanges `code` for the confidential client.
pub async fn exchange_confidential(
    idp: &TestIdp,
    code: &str,
    verifier: &str,
) -> (StatusCode, Value, Option<String>) {
    let secret = Some((CONFIDENTIAL, CONFIDENTIAL_SECRET));
    exchange(idp, CONFIDENTIAL, secret, code, verifier).await
}

/// Exchanges `code` for the public client (PKCE only, no client authentication).
pub async fn exchange_public(
    idp: &TestIdp,
    code: &str,
    verifier: &str,
) -> (StatusCode, Value, Option<String>) {
    exchange(idp, PUBLIC, None, code, verifier).await
}

/// The header and claims of a JWT (not verified).
pub fn jwt_parts(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let mut decode = || -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap()).unwrap()
    };
    let header = decode();
    let claims = decode();
    (header, claims)
}

/// `GET /oidc/userinfo` with a bearer token: status and JSON body.
pub async fn userinfo(idp: &TestIdp, access_token: &str) -> (StatusCode, Value) {
    let response = crate::https_client()
        .get(idp.url("/oidc/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// An HTTPS client for relying parties: trusts the development TLS CA, follows no
/// redirects (as OpenID Connect clients must not).
pub fn rp_http_client() -> reqwest::Client {
    idp::server::install_crypto_provider();
    let ca = std::fs::read(crate::repo_root().join("certs-dev/tls/tls-ca.pem")).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap()
}

/// The names of the newest audit events (newest first).
pub async fn audit_events(idp: &TestIdp) -> Vec<(String, String)> {
    idp::storage::find_recent_audit_events(&idp.state.db, 50)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.event, e.outcome.as_str().to_owned()))
        .collect()
}

/// Runs the node relying party for `input`, with `user` logging in (and choosing
/// `commission` when the IdP asks). Returns the result JSON and the browser (with its
/// session).
pub async fn run_node_rp(
    idp: &TestIdp,
    input: Value,
    user: &str,
    commission: Option<&str>,
) -> (Value, Agent) {
    use std::process::Stdio;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::process::Command;
    let root = crate::repo_root();
    assert!(
        root.join("tests/oidc-rp/node_modules/openid-client")
            .is_dir(),
        "tests/oidc-rp/node_modules is missing: run tests/run (npm ci --prefix tests/oidc-rp)"
    );
    let mut child = Command::new("node")
        .arg(root.join("tests/oidc-rp/rp.mjs"))
        .arg(input.to_string())
        .env("NODE_EXTRA_CA_CERTS", root.join("certs-dev/tls/tls-ca.pem"))
        .current_dir(&root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("node (tests/run installs nodejs)");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    let authorization_url = first["authorization_url"]
        .as_str()
        .unwrap_or_else(|| panic!("node RP: {first}"));

    let browser = Agent::with_certificate(user);
    let client_id = input["client_id"].as_str().unwrap();
    let callback = match commission {
        None => browse_to_callback(&browser, idp, authorization_url, client_id).await,
        Some(hsa_id) => {
            let prefix = callback(client_id);
            let login_page = browser
                .open_until(authorization_url, &prefix)
                .await
                .unwrap_err();
            let choice = browser
                .log_in_until(idp, &login_page, &prefix)
                .await
                .unwrap_err();
            choose_until(&browser, &choice, hsa_id, &prefix).await
        }
    };
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(format!("{callback}\n").as_bytes())
        .await
        .unwrap();
    drop(stdin);
    let result: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    assert!(
        child.wait().await.unwrap().success(),
        "node RP failed: {result}"
    );
    (result, browser)
}
