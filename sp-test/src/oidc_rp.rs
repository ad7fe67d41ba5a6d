//! An OpenID Connect relying party on the `openidconnect` crate: discovery, the code
//! flow with PKCE (S256), ID token validation (signature from the JWKS, issuer,
//! audience, expiry, nonce, `at_hash`), UserInfo and refresh. The test RP of sp-test,
//! and what the end-to-end tests use as an independent client of the IdP.

use anyhow::{anyhow, Context};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RefreshToken, Scope, TokenResponse,
};
use url::Url;

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// A client registered at the IdP.
pub struct OidcRp {
    client: Client,
    http: reqwest::Client,
    alg: CoreJwsSigningAlgorithm,
    userinfo_endpoint: Option<Url>,
}

/// A login in progress: what the callback is checked against.
pub struct Started {
    pub url: Url,
    state: CsrfToken,
    nonce: Nonce,
    verifier: PkceCodeVerifier,
}

/// A completed login.
#[derive(Debug)]
pub struct Completed {
    pub subject: String,
    pub issuer: String,
    pub audience: Vec<String>,
    pub acr: Option<String>,
    pub amr: Vec<String>,
    pub auth_time: Option<i64>,
    /// Every ID token claim, as JSON.
    pub id_token_claims: serde_json::Value,
    /// The ID token as received (the `id_token_hint` of a later logout).
    pub id_token: String,
    pub userinfo: serde_json::Value,
    pub access_token: String,
    pub refresh_token: Option<String>,
}

impl OidcRp {
    /// Discovers `issuer` and sets up the client (`secret` for confidential clients
    /// using client_secret_basic; `None` for public clients). `http` must not follow
    /// redirects. `alg` is the ID token algorithm registered for the client.
    pub async fn discover(
        issuer: &str,
        client_id: &str,
        secret: Option<&str>,
        redirect_uri: &str,
        alg: &str,
        http: reqwest::Client,
    ) -> anyhow::Result<Self> {
        let metadata =
            CoreProviderMetadata::discover_async(IssuerUrl::new(issuer.to_owned())?, &http)
                .await
                .map_err(|e| anyhow!("discovery: {e:?}"))?;
        let userinfo_endpoint = metadata.userinfo_endpoint().map(|u| u.url().clone());
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(client_id.to_owned()),
            secret.map(|s| ClientSecret::new(s.to_owned())),
        )
        .set_redirect_uri(RedirectUrl::new(redirect_uri.to_owned())?);
        let alg = match alg {
            "ES256" => CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            _ => CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        };
        Ok(Self {
            client,
            http,
            alg,
            userinfo_endpoint,
        })
    }

    /// The authorization URL for `scopes` (besides `openid`), with PKCE, state, nonce.
    pub fn start(&self, scopes: &[&str]) -> Started {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = self.client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in scopes {
            request = request.add_scope(Scope::new((*scope).to_owned()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        Started {
            url,
            state,
            nonce,
            verifier,
        }
    }

    /// Completes the login from the callback URL the browser landed on.
    pub async fn complete(&self, started: Started, callback: &Url) -> anyhow::Result<Completed> {
        let param = |name: &str| {
            callback
                .query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        if let Some(error) = param("error") {
            return Err(anyhow!("authorization error: {error}"));
        }
        if param("state").as_deref() != Some(started.state.secret().as_str()) {
            return Err(anyhow!("state does not match"));
        }
        let code = param("code").context("no code in the callback")?;
        let tokens = self
            .client
            .exchange_code(AuthorizationCode::new(code))?
            .set_pkce_verifier(started.verifier)
            .request_async(&self.http)
            .await
            .map_err(|e| anyhow!("token request: {e:?}"))?;
        let id_token = tokens.id_token().context("no ID token")?;
        let verifier = self
            .client
            .id_token_verifier()
            .set_allowed_algs(vec![self.alg.clone()]);
        let claims = id_token
            .claims(&verifier, &started.nonce)
            .map_err(|e| anyhow!("ID token: {e:?}"))?;
        let expected_hash = claims.access_token_hash().context("no at_hash")?;
        let actual_hash = AccessTokenHash::from_token(
            tokens.access_token(),
            id_token.signing_alg()?,
            id_token.signing_key(&verifier)?,
        )?;
        if &actual_hash != expected_hash {
            return Err(anyhow!("at_hash does not match the access token"));
        }
        // The library's types keep only standard claims; the HSA and OIDC Sweden claims
        // are read from the (now verified) token and from UserInfo as sent.
        let userinfo: CoreUserInfoClaims = self
            .client
            .user_info(tokens.access_token().to_owned(), None)?
            .request_async(&self.http)
            .await
            .map_err(|e| anyhow!("userinfo: {e:?}"))?;
        let mut userinfo = serde_json::to_value(userinfo)?;
        if let Some(endpoint) = &self.userinfo_endpoint {
            let raw: serde_json::Value = self
                .http
                .get(endpoint.clone())
                .bearer_auth(tokens.access_token().secret())
                .send()
                .await?
                .json()
                .await?;
            userinfo = raw;
        }
        let raw_claims = id_token
            .to_string()
            .split('.')
            .nth(1)
            .and_then(|payload| {
                base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
                    .ok()
            })
            .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
            .context("ID token payload")?;
        Ok(Completed {
            subject: claims.subject().as_str().to_owned(),
            issuer: claims.issuer().as_str().to_owned(),
            audience: claims
                .audiences()
                .iter()
                .map(|a| a.as_str().to_owned())
                .collect(),
            acr: claims.auth_context_ref().map(|a| a.as_str().to_owned()),
            amr: claims
                .auth_method_refs()
                .map(|all| all.iter().map(|a| a.as_str().to_owned()).collect())
                .unwrap_or_default(),
            auth_time: claims.auth_time().map(|t| t.timestamp()),
            id_token_claims: raw_claims,
            id_token: id_token.to_string(),
            userinfo,
            access_token: tokens.access_token().secret().clone(),
            refresh_token: tokens.refresh_token().map(|t| t.secret().clone()),
        })
    }

    /// Exchanges a refresh token; returns the new access and refresh tokens.
    pub async fn refresh(&self, refresh_token: &str) -> anyhow::Result<(String, Option<String>)> {
        let tokens = self
            .client
            .exchange_refresh_token(&RefreshToken::new(refresh_token.to_owned()))?
            .request_async(&self.http)
            .await
            .map_err(|e| anyhow!("refresh: {e:?}"))?;
        Ok((
            tokens.access_token().secret().clone(),
            tokens.refresh_token().map(|t| t.secret().clone()),
        ))
    }
}
