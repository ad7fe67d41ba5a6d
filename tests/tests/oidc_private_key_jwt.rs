//! `private_key_jwt` (RFC 7523) at the token endpoint, with the client's keys inline or
//! from its `jwks_uri`: a valid assertion authenticates; a replayed one, one for another
//! audience or one signed by another key does not.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use e2e::agent::Agent;
use e2e::idp_server::shipped_config;
use e2e::oidc::*;
use e2e::{repo_root, SqliteDatabase, TestIdp};
use idp::clock::{Clock, SystemClock};
use serde_json::json;

use crate::oidc_flow::idp;

fn client_key(path: &str) -> EcdsaKeyPair {
    let pem = std::fs::read_to_string(repo_root().join(path)).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    EcdsaKeyPair::from_pkcs8(
        &ECDSA_P256_SHA256_FIXED_SIGNING,
        &STANDARD.decode(body).unwrap(),
    )
    .unwrap()
}

/// A client assertion for region-appen, signed with `key`.
fn assertion(key: &EcdsaKeyPair, aud: &str, jti: &str) -> String {
    let now = SystemClock.now().unix_timestamp();
    let header = json!({ "alg": "ES256", "kid": KEY_JWT_KID, "typ": "JWT" });
    let claims = json!({
        "iss": KEY_JWT, "sub": KEY_JWT, "aud": aud, "jti": jti, "iat": now, "exp": now + 60,
    });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = key.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
}

/// A fresh code for region-appen (Anna logs in) and its verifier.
async fn code(idp: &TestIdp, browser: &Agent) -> (String, String) {
    let (verifier, challenge) = pkce();
    let url = authorize_url(idp, KEY_JWT, "openid hsa", Some(&challenge), &[]);
    let landed = browse_to_callback(browser, idp, &url, KEY_JWT).await;
    (param(&landed, "code").unwrap(), verifier)
}

async fn exchange(
    idp: &TestIdp,
    code: &str,
    verifier: &str,
    assertion: &str,
) -> (u16, Option<String>) {
    let redirect = callback(KEY_JWT);
    let (status, body, error) = token_request(
        idp,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &redirect),
            ("code_verifier", verifier),
            ("client_id", KEY_JWT),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion),
        ],
        None,
    )
    .await;
    if status == 200 {
        assert!(body["id_token"].is_string());
    } else {
        assert_eq!(body["error"], "invalid_client", "{body}");
    }
    (status.as_u16(), error)
}

#[tokio::test]
async fn a_signed_assertion_authenticates_once_and_only_for_this_provider() {
    let (idp, _db) = idp().await;
    let browser = Agent::with_certificate("anna");
    let key = client_key(KEY_JWT_KEY_FILE);
    let token_endpoint = idp.url("/oidc/token");

    let signed = assertion(&key, &token_endpoint, "jti-1");
    let (code1, verifier1) = code(&idp, &browser).await;
    assert_eq!(
        exchange(&idp, &code1, &verifier1, &signed).await,
        (200, None)
    );

    // The same assertion again (same jti): refused, and the code stays unused.
    let (code2, verifier2) = code(&idp, &browser).await;
    let refused = (401, Some("OIDC_INVALID_CLIENT".to_owned()));
    assert_eq!(exchange(&idp, &code2, &verifier2, &signed).await, refused);
    // For another audience.
    let elsewhere = assertion(&key, "https://other-op.example/token", "jti-2");
    assert_eq!(
        exchange(&idp, &code2, &verifier2, &elsewhere).await,
        refused
    );
    // Signed by a key the client did not register (the IdP's own dev ES256 key).
    let stranger = client_key("certs-dev/signing/oidc-es256.key.pem");
    let forged = assertion(&stranger, &token_endpoint, "jti-3");
    assert_eq!(exchange(&idp, &code2, &verifier2, &forged).await, refused);
    // The issuer as audience is accepted too.
    let to_issuer = assertion(&key, &idp.url(""), "jti-4");
    assert_eq!(
        exchange(&idp, &code2, &verifier2, &to_issuer).await,
        (200, None)
    );
}

#[tokio::test]
async fn the_clients_keys_can_come_from_its_jwks_uri() {
    // The client's JWK Set, served on loopback (http is allowed for localhost).
    let region = std::fs::read_to_string(repo_root().join("config/tenants/region.toml")).unwrap();
    let jwks_line = region
        .lines()
        .find(|l| l.starts_with("jwks = "))
        .unwrap()
        .to_owned();
    let inline: toml::Table = toml::from_str(&jwks_line).unwrap();
    let jwks = serde_json::to_value(&inline["jwks"]).unwrap();
    let app = Router::new().route(
        "/jwks",
        get(move || async move { axum::Json(jwks.clone()) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let jwks_uri = format!(
        "http://127.0.0.1:{}/jwks",
        listener.local_addr().unwrap().port()
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(repo_root().join("config/tenants")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace(&jwks_line, &format!("jwks_uri = \"{jwks_uri}\""));
        std::fs::write(dir.path().join(path.file_name().unwrap()), text).unwrap();
    }
    let db = SqliteDatabase::create().unwrap();
    let mut config = shipped_config(&db.url, None);
    config.tenant_files = idp::config::TenantFiles::read(dir.path(), &config.idp);
    assert!(
        config.tenant_files.problems.0.is_empty(),
        "{}",
        config.tenant_files.problems
    );
    let tenants = config.tenant_files.tenants();
    let (_, client) = tenants.find_oidc_client(KEY_JWT).unwrap();
    assert!(client.jwks.is_none() && client.jwks_uri.is_some());
    let idp = TestIdp::start(config).await.unwrap();

    let browser = Agent::with_certificate("anna");
    let (code, verifier) = code(&idp, &browser).await;
    let signed = assertion(
        &client_key(KEY_JWT_KEY_FILE),
        &idp.url("/oidc/token"),
        "jti-uri",
    );
    assert_eq!(exchange(&idp, &code, &verifier, &signed).await, (200, None));
}

/// A client assertion made by Authlib (tests/saml-sp/client_assertion.py) with its
/// defaults: valid for an hour.
fn authlib_assertion(idp: &TestIdp) -> String {
    let root = repo_root();
    let python = root.join("tests/saml-sp/.venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run the suite with tests/run, which installs Authlib",
        python.display()
    );
    let output = std::process::Command::new(python)
        .arg(root.join("tests/saml-sp/client_assertion.py"))
        .arg(root.join(KEY_JWT_KEY_FILE))
        .arg(KEY_JWT)
        .arg(idp.url("/oidc/token"))
        .arg("ES256")
        .arg(KEY_JWT_KID)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

#[tokio::test]
async fn an_authlib_client_with_its_default_hour_long_assertion_authenticates() {
    let (idp, _db) = idp().await;
    let browser = Agent::with_certificate("anna");
    let assertion = authlib_assertion(&idp);
    let (_, claims) = jwt_parts(&assertion);
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(lifetime, 3600, "Authlib's default");
    let (first, verifier) = code(&idp, &browser).await;
    assert_eq!(exchange(&idp, &first, &verifier, &assertion).await.0, 200);
    // Still single use, for as long as it lives.
    let (second, verifier) = code(&idp, &browser).await;
    let (status, error) = exchange(&idp, &second, &verifier, &assertion).await;
    assert_eq!(
        (status, error.as_deref()),
        (401, Some("OIDC_INVALID_CLIENT"))
    );
}

#[tokio::test]
async fn an_assertion_with_a_crit_header_or_a_long_life_from_an_old_iat_is_refused() {
    let (idp, _db) = idp().await;
    let browser = Agent::with_certificate("anna");
    let key = client_key(KEY_JWT_KEY_FILE);
    let aud = idp.url("/oidc/token");
    let now = SystemClock.now().unix_timestamp();
    let sign = |header: serde_json::Value, claims: serde_json::Value| {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = key.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    };
    let claims = |jti: &str, iat: i64, exp: i64| json!({ "iss": KEY_JWT, "sub": KEY_JWT, "aud": aud, "jti": jti, "iat": iat, "exp": exp });
    let critical = sign(
        json!({ "alg": "ES256", "kid": KEY_JWT_KID, "crit": ["exp"] }),
        claims("crit-1", now, now + 60),
    );
    let stale = sign(
        json!({ "alg": "ES256", "kid": KEY_JWT_KID }),
        claims("stale-1", now - 1200, now + 2400),
    );
    for refused in [critical, stale] {
        let (fresh, verifier) = code(&idp, &browser).await;
        let (status, error) = exchange(&idp, &fresh, &verifier, &refused).await;
        assert_eq!(
            (status, error.as_deref()),
            (401, Some("OIDC_INVALID_CLIENT"))
        );
    }
}
