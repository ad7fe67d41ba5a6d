//! Discovery (OpenID Connect Discovery 1.0) and the JWKS.

use serde_json::{json, Value};
use time::OffsetDateTime;

use super::{claims, Provider};
use crate::auth::Loa;

impl Provider {
    /// `/.well-known/openid-configuration`.
    pub fn discovery(&self) -> Value {
        let scopes: Vec<&str> = claims::known_scopes().collect();
        let mut claims_supported = vec![
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "acr",
            "amr",
            "at_hash",
            "sid",
            "azp",
        ];
        claims_supported.extend(claims::known_claims());
        let acr: Vec<&str> = [Loa::Loa2, Loa::Loa3, Loa::Loa4]
            .iter()
            .map(|l| l.swedish_eid_uri())
            .collect();
        json!({
            "issuer": self.issuer,
            "authorization_endpoint": self.endpoint("/oidc/authorize"),
            "token_endpoint": self.endpoint("/oidc/token"),
            "userinfo_endpoint": self.endpoint("/oidc/userinfo"),
            "jwks_uri": self.endpoint("/oidc/jwks"),
            "end_session_endpoint": self.endpoint("/oidc/logout"),
            "introspection_endpoint": self.endpoint("/oidc/introspect"),
            "introspection_endpoint_auth_methods_supported": [
                "client_secret_basic", "client_secret_post", "private_key_jwt"
            ],
            "revocation_endpoint": self.endpoint("/oidc/revoke"),
            "revocation_endpoint_auth_methods_supported": [
                "client_secret_basic", "client_secret_post", "private_key_jwt", "none"
            ],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["pairwise", "public"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            "userinfo_signing_alg_values_supported": [],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic", "client_secret_post", "private_key_jwt", "none"
            ],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": scopes,
            "claims_supported": claims_supported,
            "acr_values_supported": acr,
            "prompt_values_supported": ["none", "login"],
            "ui_locales_supported": ["sv", "en"],
            "claims_parameter_supported": false,
            "request_parameter_supported": false,
            "request_uri_parameter_supported": false,
            "authorization_response_iss_parameter_supported": true,
            "backchannel_logout_supported": true,
            "backchannel_logout_session_supported": true,
            "frontchannel_logout_supported": false,
        })
    }

    /// `/oidc/jwks`: every key published at `now` (signing, announced, recently retired).
    pub fn jwks(&self, now: OffsetDateTime) -> Value {
        let keys: Vec<Value> = self.keys.published(now).map(|k| k.public_jwk()).collect();
        json!({ "keys": keys })
    }
}
