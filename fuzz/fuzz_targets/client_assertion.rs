//! JWTs the token and logout endpoints receive: a `private_key_jwt` client assertion and
//! an `id_token_hint`. `oidc::jwt::Parsed::parse` (compact JWS, base64url, JSON), then,
//! as `oidc::client_auth` does, the signature against a client's registered keys
//! (`verify_client`, the `crit` refusal) and the claims it reads (`iss`, `sub`, `aud`,
//! `exp`, `iat`, `nbf`, `jti`), and, as `oidc::logout` does, the signature against the
//! IdP's own keys (`verify_own`). A JWK Set after the token goes through
//! `ClientKeys::from_jwks`, as a client's `jwks` or `jwks_uri` answer would, and, when it
//! reads, verifies the token too.
//!
//! Input: the token, then optionally a newline and a JWK Set (JSON). The fixed client
//! keys are region-appen's registered ES256 key (config/tenants/region.toml) and an
//! RS256 key (the test SP's certificate's key), in fuzz/fixtures/client-jwks.json.
#![no_main]

use idp::keys::{KeySet, SigningKey};
use idp::oidc::jwt::{ClientKeys, Parsed};
use idp_fuzz::{note, pem_der, split_at_byte};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const ISSUER: &str = "https://localhost:8443";
const TOKEN_ENDPOINT: &str = "https://localhost:8443/oidc/token";

fn client_keys() -> &'static ClientKeys {
    static KEYS: OnceLock<ClientKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let jwks = serde_json::from_str(include_str!("../fixtures/client-jwks.json"))
            .expect("JWKS fixture");
        ClientKeys::from_jwks(&jwks).expect("JWKS fixture")
    })
}

fn own_keys() -> &'static KeySet {
    static KEYS: OnceLock<KeySet> = OnceLock::new();
    KEYS.get_or_init(|| {
        let key = |key: &str, certificate: &str| {
            SigningKey::from_der(&pem_der(key), &pem_der(certificate)).expect("key fixture")
        };
        let keys = vec![
            key(
                include_str!("../../certs-dev/signing/oidc-rs256.key.pem"),
                include_str!("../../certs-dev/signing/oidc-rs256.pem"),
            ),
            key(
                include_str!("../../certs-dev/signing/oidc-es256.key.pem"),
                include_str!("../../certs-dev/signing/oidc-es256.pem"),
            ),
        ];
        KeySet::new(keys, time::Duration::days(1))
    })
}

fn check(parsed: &Parsed, keys: &ClientKeys) -> bool {
    let now = idp_fuzz::NOW.unix_timestamp();
    let client_id = parsed.claim_str("iss").unwrap_or_default();
    parsed.verify_client(keys).is_ok()
        && !parsed.has_header("crit")
        && parsed.claim_str("sub") == Some(client_id)
        && (parsed.has_audience(TOKEN_ENDPOINT) || parsed.has_audience(ISSUER))
        && parsed.claim_i64("exp").is_some_and(|exp| exp > now)
        && parsed.claim_i64("iat").is_none_or(|iat| iat <= now + 30)
        && parsed.claim_i64("nbf").is_none_or(|nbf| nbf <= now + 30)
        && parsed
            .claim_str("jti")
            .is_some_and(|jti| !jti.is_empty() && jti.len() <= 256)
}

fuzz_target!(|data: &[u8]| {
    let (token, jwks) = split_at_byte(data, b'\n');
    let given_keys = serde_json::from_slice(jwks)
        .map_err(|e| e.to_string())
        .and_then(|jwks| ClientKeys::from_jwks(&jwks).map_err(|e| e.to_string()));
    note(|| format!("JWK Set: {:?}", given_keys.as_ref().map(|_| "read")));
    let Ok(token) = std::str::from_utf8(token) else {
        return;
    };
    let parsed = match Parsed::parse(token) {
        Ok(parsed) => parsed,
        Err(e) => return note(|| format!("parse: {e}")),
    };
    let accepted = check(&parsed, client_keys());
    let own = parsed.verify_own(own_keys()).map_err(|e| e.to_string());
    note(|| format!("client assertion accepted: {accepted}; own key: {own:?}"));
    if let Ok(keys) = &given_keys {
        let accepted = check(&parsed, keys);
        note(|| format!("with the given JWK Set: {accepted}"));
    }
});
