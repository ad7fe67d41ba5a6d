//! ID tokens and access tokens, signed by the key of the client's algorithm that signs
//! now. An access token is a signed JWT (RFC 9068 `at+jwt`, ES256 or RS256) or an
//! opaque reference, as the client is registered (`access_token_format`).

use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use super::grant::{AccessRecord, Grant};
use super::{claims, jwt, OidcError, Provider};
use crate::directory::Directory;
use crate::keys::Algorithm;
use crate::tenants::{AccessTokenFormat, OidcClient, SigningAlg, Tenant};

/// What the token endpoint returns.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    pub access_token: String,
    pub id_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
    pub scope: String,
}

pub fn algorithm(alg: SigningAlg) -> Algorithm {
    match alg {
        SigningAlg::Rs256 => Algorithm::Rs256,
        SigningAlg::Es256 => Algorithm::Es256,
    }
}

/// The claims `grant` releases to `client`, looked up in the directory now.
pub async fn released_claims(
    directory: &dyn Directory,
    client: &OidcClient,
    grant: &Grant,
) -> Result<Map<String, Value>, OidcError> {
    let mut names = claims::released(&grant.scopes, &client.claims);
    if let Some(granted) = &grant.authentication.granted {
        // Admitted under another organisation's grant: only what it allows.
        names.retain(|claim| claims::attribute_of(claim).is_none_or(|a| granted.contains(&a)));
    }
    if names.is_empty() {
        return Ok(Map::new());
    }
    let hsa_id = &grant.authentication.employee_hsa_id;
    let Some(person) = directory.find_by_hsa_id(hsa_id).await? else {
        return Ok(Map::new());
    };
    let Some(employment) = person.employment(hsa_id) else {
        return Ok(Map::new());
    };
    // The commission chosen at login, while the directory still has it.
    let commission = grant
        .authentication
        .commission
        .as_ref()
        .and_then(|id| crate::login::commission::find(employment, id));
    Ok(claims::values(&names, &person, employment, commission))
}

fn seconds(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

impl Provider {
    /// The subject of `grant`'s person for `client` of `tenant`.
    pub fn subject_for(&self, tenant: &Tenant, client: &OidcClient, person_id: &str) -> String {
        self.subject(client.subject_type, tenant.id.as_str(), person_id)
    }

    /// An access token for `grant` in the client's form.
    pub async fn access_token(
        &self,
        tenant: &Tenant,
        client: &OidcClient,
        grant: &Grant,
        now: OffsetDateTime,
    ) -> Result<String, OidcError> {
        let algorithm = match client.access_token_format {
            AccessTokenFormat::JwtEs256 => Algorithm::Es256,
            AccessTokenFormat::JwtRs256 => Algorithm::Rs256,
            AccessTokenFormat::Opaque => {
                let iat = now.unix_timestamp();
                let record = AccessRecord {
                    grant_id: grant.id.clone(),
                    client_id: client.client_id.clone(),
                    scope: grant.scopes.join(" "),
                    issued_at: iat,
                    expires_at: iat + seconds(self.settings.access_token_ttl),
                };
                return self.grants.issue_opaque_access_token(&record).await;
            }
        };
        self.jwt_access_token(tenant, client, grant, algorithm, now)
    }

    /// A signed access token (RFC 9068) for `grant`.
    fn jwt_access_token(
        &self,
        tenant: &Tenant,
        client: &OidcClient,
        grant: &Grant,
        algorithm: Algorithm,
        now: OffsetDateTime,
    ) -> Result<String, OidcError> {
        let auth = &grant.authentication;
        let iat = now.unix_timestamp();
        let claims = json!({
            "iss": self.issuer,
            "sub": self.subject_for(tenant, client, &auth.person_id),
            "aud": self.endpoint("/oidc/userinfo"),
            "client_id": client.client_id,
            "iat": iat,
            "exp": iat + seconds(self.settings.access_token_ttl),
            "jti": crate::session::random_key(),
            "scope": grant.scopes.join(" "),
            "auth_time": auth.auth_time,
            "acr": auth.acr(),
            "gid": grant.id,
        });
        self.sign(&claims, algorithm, "at+jwt", now)
    }

    /// A signed ID token for `grant`; `nonce` only from a code exchange.
    #[allow(clippy::too_many_arguments)]
    pub fn id_token(
        &self,
        tenant: &Tenant,
        client: &OidcClient,
        grant: &Grant,
        nonce: Option<&str>,
        access_token: &str,
        released: Map<String, Value>,
        now: OffsetDateTime,
    ) -> Result<String, OidcError> {
        let auth = &grant.authentication;
        let iat = now.unix_timestamp();
        let mut claims = released;
        let standard = json!({
            "iss": self.issuer,
            "sub": self.subject_for(tenant, client, &auth.person_id),
            "aud": client.client_id,
            "azp": client.client_id,
            "iat": iat,
            "exp": iat + seconds(self.settings.id_token_ttl),
            "auth_time": auth.auth_time,
            "acr": auth.acr(),
            "amr": [auth.method.as_str()],
            "at_hash": jwt::left_half_hash(access_token),
            "sid": auth.sid,
        });
        if let Value::Object(standard) = standard {
            claims.extend(standard);
        }
        if let Some(nonce) = nonce {
            claims.insert("nonce".into(), Value::String(nonce.to_owned()));
        }
        self.sign(
            &Value::Object(claims),
            algorithm(client.id_token_signed_response_alg),
            "JWT",
            now,
        )
    }

    /// Signs with the key of `algorithm` that signs at `now`.
    pub fn sign(
        &self,
        claims: &Value,
        algorithm: Algorithm,
        typ: &str,
        now: OffsetDateTime,
    ) -> Result<String, OidcError> {
        let key = self
            .keys
            .signing_key(algorithm, now)
            .ok_or(OidcError::NoSigningKey(algorithm.jose()))?;
        Ok(jwt::sign(claims, key, typ)?)
    }

    /// Verifies an access token this provider issued: signature, `typ`, issuer,
    /// audience and expiry. Returns its claims (the grant is checked by the caller).
    pub fn verify_access_token(
        &self,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<jwt::Parsed, OidcError> {
        let parsed = jwt::Parsed::parse(token).map_err(|_| OidcError::InvalidToken)?;
        parsed
            .verify_own(&self.keys)
            .map_err(|_| OidcError::InvalidToken)?;
        let valid = parsed.header_str("typ") == Some("at+jwt")
            && parsed.claim_str("iss") == Some(self.issuer.as_str())
            && parsed.has_audience(&self.endpoint("/oidc/userinfo"))
            && parsed
                .claim_i64("exp")
                .is_some_and(|exp| now.unix_timestamp() < exp);
        valid.then_some(parsed).ok_or(OidcError::InvalidToken)
    }
}
