//! Client authentication at the token endpoint, as the client is configured:
//! `client_secret_basic`, `client_secret_post` (secret compared by its SHA-256, in
//! constant time), `private_key_jwt` (RFC 7523 assertion: signature with the client's
//! JWKs, `iss` = `sub` = client_id, `aud` the token endpoint or issuer, `exp`, single-use
//! `jti`) or `none` (public clients, which use PKCE).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use std::sync::Arc;
use std::time::Duration;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use super::authorize::Params;
use super::jwt::{ClientKeys, Parsed};
use super::{OidcError, Provider};
use crate::tenants::{ClientAuthMethod, OidcClient, Tenant, Tenants};

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The largest JWK Set accepted from a client's `jwks_uri`.
const MAX_JWKS_BYTES: usize = 64 * 1024;
/// The longest a client assertion may be valid for (its `exp` ahead of now).
const MAX_ASSERTION_LIFETIME: i64 = 600;
/// ... unless it was issued just now (`iat` at most this old): common libraries sign
/// assertions valid for an hour (Authlib's default), which a fresh one may then be.
const RECENT_IAT_SECONDS: i64 = 300;
/// The longest lifetime of a freshly issued assertion, counted from its `iat`.
const MAX_FRESH_ASSERTION_LIFETIME: i64 = 3600;
/// Clock skew allowed for `iat` and `nbf` in the future.
const SKEW_SECONDS: i64 = 30;

/// Whether an assertion expiring at `exp` (issued at `iat`, if given) is within the
/// bounds at `now_s`: unexpired, and valid for at most ten minutes from now, or for at
/// most an hour from an `iat` of the last five minutes. The replay entry for its `jti`
/// is kept until `exp` either way.
fn is_lifetime_acceptable(exp: i64, iat: Option<i64>, now_s: i64) -> bool {
    if now_s >= exp {
        return false;
    }
    if exp <= now_s + MAX_ASSERTION_LIFETIME {
        return true;
    }
    iat.is_some_and(|iat| {
        iat <= now_s + SKEW_SECONDS
            && now_s - iat <= RECENT_IAT_SECONDS
            && exp - iat <= MAX_FRESH_ASSERTION_LIFETIME
    })
}

/// What the request presented.
enum Presented<'a> {
    Secret {
        client_id: String,
        secret: String,
        method: ClientAuthMethod,
    },
    Assertion {
        client_id: String,
        assertion: &'a str,
    },
    Nothing {
        client_id: &'a str,
    },
}

fn presented<'a>(
    authorization: Option<&str>,
    params: &'a Params,
) -> Result<Presented<'a>, OidcError> {
    let basic = authorization
        .and_then(|h| strip_scheme(h, "Basic"))
        .map(|b| decode_basic(b.trim()))
        .transpose()?;
    let assertion_type = params.get("client_assertion_type");
    let assertion = params.get("client_assertion");
    let post_secret = params.get("client_secret");
    let count = usize::from(basic.is_some())
        + usize::from(assertion.is_some())
        + usize::from(post_secret.is_some());
    if count > 1 {
        // RFC 6749 section 2.3: one method per request.
        return Err(OidcError::InvalidClient);
    }
    if let Some((client_id, secret)) = basic {
        if params.get("client_id").is_some_and(|id| id != client_id) {
            return Err(OidcError::InvalidClient);
        }
        return Ok(Presented::Secret {
            client_id,
            secret,
            method: ClientAuthMethod::ClientSecretBasic,
        });
    }
    if let Some(assertion) = assertion {
        if assertion_type != Some(JWT_BEARER) {
            return Err(OidcError::InvalidClient);
        }
        let issuer = Parsed::parse(assertion)
            .ok()
            .and_then(|p| p.claim_str("iss").map(str::to_owned))
            .ok_or(OidcError::InvalidClient)?;
        if params.get("client_id").is_some_and(|id| id != issuer) {
            return Err(OidcError::InvalidClient);
        }
        return Ok(Presented::Assertion {
            client_id: issuer,
            assertion,
        });
    }
    let client_id = params.get("client_id").ok_or(OidcError::InvalidClient)?;
    match post_secret {
        Some(secret) => Ok(Presented::Secret {
            client_id: client_id.to_owned(),
            secret: secret.to_owned(),
            method: ClientAuthMethod::ClientSecretPost,
        }),
        None => Ok(Presented::Nothing { client_id }),
    }
}

/// The credentials after an authentication scheme (compared case-insensitively).
pub fn strip_scheme<'a>(header: &'a str, scheme: &str) -> Option<&'a str> {
    let (name, rest) = header.split_once(' ')?;
    name.eq_ignore_ascii_case(scheme).then_some(rest)
}

/// `Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 section 2.3.1).
fn decode_basic(encoded: &str) -> Result<(String, String), OidcError> {
    let bytes = STANDARD
        .decode(encoded)
        .map_err(|_| OidcError::InvalidClient)?;
    let text = String::from_utf8(bytes).map_err(|_| OidcError::InvalidClient)?;
    let (id, secret) = text.split_once(':').ok_or(OidcError::InvalidClient)?;
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| OidcError::InvalidClient)
    };
    Ok((decode(id)?, decode(secret)?))
}

/// Whether `secret` is one of the client's: the configured hash, or a secret the IdP
/// made that has not expired (a rotated-out secret stays valid for its overlap). Every
/// candidate is compared in constant time, and all are compared.
fn is_secret_of(client: &OidcClient, secret: &str, now: OffsetDateTime) -> bool {
    let presented = hex::encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        secret.as_bytes(),
    ));
    let made = client
        .client_secrets
        .iter()
        .filter(|s| s.expires_at.is_none_or(|at| now.unix_timestamp() < at))
        .map(|s| s.sha256.as_str());
    let mut matched = subtle::Choice::from(0);
    for expected in client
        .client_secret_sha256
        .as_deref()
        .into_iter()
        .chain(made)
    {
        matched |= presented
            .as_bytes()
            .ct_eq(expected.to_ascii_lowercase().as_bytes());
    }
    matched.into()
}

/// Authenticates the client of a token request.
pub async fn authenticate(
    provider: &Provider,
    tenants: &Tenants,
    authorization: Option<&str>,
    params: &Params,
    now: OffsetDateTime,
) -> Result<(Arc<Tenant>, OidcClient), OidcError> {
    let presented = presented(authorization, params)?;
    let client_id = match &presented {
        Presented::Secret { client_id, .. } | Presented::Assertion { client_id, .. } => {
            client_id.as_str()
        }
        Presented::Nothing { client_id } => *client_id,
    };
    let (tenant, client) = tenants
        .find_oidc_client(client_id)
        .ok_or(OidcError::InvalidClient)?;
    let configured = client.token_endpoint_auth_method;
    let is_authenticated = match presented {
        Presented::Secret { secret, method, .. } => {
            method == configured && is_secret_of(client, &secret, now)
        }
        Presented::Assertion { assertion, .. } => {
            configured == ClientAuthMethod::PrivateKeyJwt
                && verify_assertion(provider, client, assertion, now).await?
        }
        Presented::Nothing { .. } => configured == ClientAuthMethod::None,
    };
    if !is_authenticated {
        tracing::info!(client_id = %client.client_id, "client authentication failed");
        return Err(OidcError::InvalidClient);
    }
    Ok((tenant.clone(), client.clone()))
}

async fn client_keys(provider: &Provider, client: &OidcClient) -> Option<ClientKeys> {
    if let Some(jwks) = &client.jwks {
        return ClientKeys::from_jwks(jwks).ok();
    }
    let url = client.jwks_uri.as_ref()?;
    let response = provider.http.get(url.clone()).send().await.ok()?;
    if !response.status().is_success() {
        tracing::warn!(client_id = %client.client_id, status = %response.status(), "client jwks_uri failed");
        return None;
    }
    let mut response = response;
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.ok()? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_JWKS_BYTES {
            tracing::warn!(client_id = %client.client_id, "client jwks_uri answered too much");
            return None;
        }
    }
    let jwks: serde_json::Value = serde_json::from_slice(&body).ok()?;
    ClientKeys::from_jwks(&jwks).ok()
}

/// `Ok(false)` for an assertion that does not authenticate the client; `Err` only for
/// a store failure.
async fn verify_assertion(
    provider: &Provider,
    client: &OidcClient,
    assertion: &str,
    now: OffsetDateTime,
) -> Result<bool, OidcError> {
    let Ok(parsed) = Parsed::parse(assertion) else {
        return Ok(false);
    };
    let Some(keys) = client_keys(provider, client).await else {
        return Ok(false);
    };
    // A `crit` header names extensions the verifier must understand; we understand none.
    if parsed.verify_client(&keys).is_err() || parsed.has_header("crit") {
        return Ok(false);
    }
    let id = client.client_id.as_str();
    let token_endpoint = provider.endpoint("/oidc/token");
    let now_s = now.unix_timestamp();
    let exp = parsed.claim_i64("exp").unwrap_or(0);
    let claims_ok = parsed.claim_str("iss") == Some(id)
        && parsed.claim_str("sub") == Some(id)
        && (parsed.has_audience(&token_endpoint) || parsed.has_audience(&provider.issuer))
        && is_lifetime_acceptable(exp, parsed.claim_i64("iat"), now_s)
        && parsed
            .claim_i64("nbf")
            .is_none_or(|nbf| nbf <= now_s + SKEW_SECONDS);
    let Some(jti) = parsed
        .claim_str("jti")
        .filter(|j| !j.is_empty() && j.len() <= 256)
    else {
        return Ok(false);
    };
    if !claims_ok {
        return Ok(false);
    }
    let remember = Duration::from_secs(u64::try_from(exp - now_s).unwrap_or(1).max(1));
    let first = provider
        .replay
        .is_first_use(&format!("client-assertion:{id}"), jti, remember)
        .await?;
    if !first {
        tracing::warn!(client_id = %id, "client assertion replayed");
    }
    Ok(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hour_long_assertion_is_accepted_only_when_freshly_issued() {
        let now = 1_800_000_000;
        // Ten minutes ahead: always.
        assert!(is_lifetime_acceptable(now + 600, None, now));
        // An hour from an iat of just now (Authlib's default), and from two minutes ago.
        assert!(is_lifetime_acceptable(now + 3600, Some(now), now));
        assert!(is_lifetime_acceptable(now + 3480, Some(now - 120), now));
        // Not without iat, not from an old iat, not beyond an hour, not expired.
        assert!(!is_lifetime_acceptable(now + 3600, None, now));
        assert!(!is_lifetime_acceptable(now + 3000, Some(now - 600), now));
        assert!(!is_lifetime_acceptable(now + 3601, Some(now), now));
        assert!(!is_lifetime_acceptable(now + 7200, Some(now + 3600), now));
        assert!(!is_lifetime_acceptable(now, Some(now - 10), now));
    }
    use crate::tenants::ClientSecret;

    fn sha256_hex(secret: &str) -> String {
        hex::encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            secret.as_bytes(),
        ))
    }

    fn client() -> OidcClient {
        let text = r#"
            id = "portal"
            display_name = { sv = "Portalen" }
            client_id = "portal"
            token_endpoint_auth_method = "client_secret_basic"
            redirect_uris = ["https://portal.example/cb"]
        "#;
        toml::from_str(text).unwrap()
    }

    #[test]
    fn a_made_secret_is_valid_until_its_overlap_ends() {
        let now = time::macros::datetime!(2026-12-05 12:00 UTC);
        let mut client = client();
        client.client_secrets = vec![
            ClientSecret {
                sha256: sha256_hex("old-secret"),
                created_at: 0,
                expires_at: Some(now.unix_timestamp() + 60),
            },
            ClientSecret {
                sha256: sha256_hex("new-secret"),
                created_at: 1,
                expires_at: None,
            },
        ];
        assert!(is_secret_of(&client, "new-secret", now));
        assert!(is_secret_of(&client, "old-secret", now));
        assert!(!is_secret_of(
            &client,
            "old-secret",
            now + time::Duration::minutes(2)
        ));
        assert!(!is_secret_of(&client, "other", now));
        client.client_secret_sha256 = Some(sha256_hex("configured"));
        assert!(is_secret_of(&client, "configured", now));
    }
}
