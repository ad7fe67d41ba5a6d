//! The authorization endpoint: a request is validated by a declared list of small
//! checks (one per file, in [`CHECKS`] order), then answered from the SSO session or
//! parked until the user has logged in, then answered with a code.

mod acr_values;
mod client;
mod issue;
mod login_hint;
mod max_age;
mod nonce;
mod parameters;
mod pkce;
mod prompt;
mod redirect_uri;
mod response_type;
mod scope;
mod state;
mod ui_locales;

pub use issue::{
    authorize, cancel, resume, Decision, ParkedRequest, RESUME_PARAMETER, RESUME_PATH,
};

use serde::{Deserialize, Serialize};
use std::sync::Arc;
use url::Url;

use super::OidcError;
use crate::ids::HsaId;
use crate::tenants::{OidcClient, Tenant, Tenants};

/// The request parameters in their order of arrival (query or form body).
#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// From `application/x-www-form-urlencoded` text (a query string or a form body).
    pub fn parse(encoded: &str) -> Self {
        Self(
            url::form_urlencoded::parse(encoded.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    pub fn pairs(&self) -> impl Iterator<Item = &(String, String)> {
        self.0.iter()
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Prompt {
    #[default]
    Default,
    None,
    Login,
}

/// A validated authorization request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Prompt,
    pub max_age: Option<u64>,
    pub acr_values: Vec<String>,
    pub ui_locale: Option<String>,
    pub login_hint: Option<HsaId>,
}

/// What the checks read and fill in.
pub struct Checking<'a> {
    pub params: &'a Params,
    pub tenants: &'a Tenants,
    pub max_parameter_length: usize,
    pub client: Option<(Arc<Tenant>, OidcClient)>,
    pub request: AuthorizationRequest,
    /// Set by the redirect URI check: from then on errors go back to the client.
    pub redirect_trusted: bool,
}

impl Checking<'_> {
    fn client(&self) -> Result<&OidcClient, OidcError> {
        self.client
            .as_ref()
            .map(|(_, c)| c)
            .ok_or(OidcError::UnknownClient)
    }
}

type Check = fn(&mut Checking<'_>) -> Result<(), OidcError>;

/// The checks, in the order they run.
pub const CHECKS: &[(&str, Check)] = &[
    ("parameters", parameters::check),
    ("client", client::check),
    ("redirect_uri", redirect_uri::check),
    ("response_type", response_type::check),
    ("scope", scope::check),
    ("pkce", pkce::check),
    ("state", state::check),
    ("nonce", nonce::check),
    ("prompt", prompt::check),
    ("max_age", max_age::check),
    ("acr_values", acr_values::check),
    ("ui_locales", ui_locales::check),
    ("login_hint", login_hint::check),
];

/// A refused request: where the error goes.
#[derive(Debug)]
pub struct Rejection {
    pub error: OidcError,
    /// The trusted redirect URI and state, when the error may go back to the client.
    pub to_client: Option<(String, Option<String>)>,
}

/// Runs every check in order; the first failure decides.
pub fn validate(
    params: &Params,
    tenants: &Tenants,
    max_parameter_length: usize,
) -> Result<(Arc<Tenant>, OidcClient, AuthorizationRequest), Rejection> {
    let mut checking = Checking {
        params,
        tenants,
        max_parameter_length,
        client: None,
        request: AuthorizationRequest::default(),
        redirect_trusted: false,
    };
    for (name, check) in CHECKS {
        if let Err(error) = check(&mut checking) {
            tracing::info!(
                check = name,
                code = error.code(),
                "authorization request refused"
            );
            let to_client = checking.redirect_trusted.then(|| {
                (
                    checking.request.redirect_uri.clone(),
                    checking.request.state.clone(),
                )
            });
            return Err(Rejection { error, to_client });
        }
    }
    match checking.client {
        Some((tenant, client)) => Ok((tenant, client, checking.request)),
        None => Err(Rejection {
            error: OidcError::UnknownClient,
            to_client: None,
        }),
    }
}

/// The redirect URI with `params` added (RFC 6749 section 4.1.2) and `iss` (RFC 9207).
pub fn redirect_with(redirect_uri: &str, issuer: &str, params: &[(&str, &str)]) -> Option<Url> {
    let mut url = Url::parse(redirect_uri).ok()?;
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in params {
            query.append_pair(name, value);
        }
        query.append_pair("iss", issuer);
    }
    Some(url)
}

/// An error response to the client's redirect URI.
pub fn error_redirect(
    redirect_uri: &str,
    state: Option<&str>,
    issuer: &str,
    error: &OidcError,
) -> Option<Url> {
    let description = error.to_string();
    let mut params = vec![
        ("error", error.rfc6749()),
        ("error_description", description.as_str()),
    ];
    if let Some(state) = state {
        params.push(("state", state));
    }
    redirect_with(redirect_uri, issuer, &params)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TENANT: &str = r#"
id = "t"
kind = "municipality"
organisation_number = "212000-8889"
display_name = { sv = "T" }
admins = []
[users]
hsa_id_prefixes = ["SE2120008889-"]
[[oidc_client]]
id = "app"
display_name = { sv = "App" }
client_id = "c"
token_endpoint_auth_method = "none"
redirect_uris = ["https://rp.example/cb"]
"#;

    fn tenants() -> Tenants {
        Tenants::new([toml::from_str::<Tenant>(TENANT).unwrap()])
    }

    fn run(query: &str) -> Result<AuthorizationRequest, Rejection> {
        validate(&Params::parse(query), &tenants(), 100).map(|(_, _, r)| r)
    }

    #[test]
    fn the_checks_run_in_the_declared_order() {
        let names: Vec<&str> = CHECKS.iter().map(|(name, _)| *name).collect();
        assert_eq!(
            names,
            [
                "parameters",
                "client",
                "redirect_uri",
                "response_type",
                "scope",
                "pkce",
                "state",
                "nonce",
                "prompt",
                "max_age",
                "acr_values",
                "ui_locales",
                "login_hint"
            ]
        );
    }

    #[test]
    fn errors_before_the_redirect_uri_is_trusted_stay_on_the_idp() {
        let rejected = run("client_id=c&redirect_uri=https://rp.example/cb/x&response_type=token")
            .unwrap_err();
        assert!(matches!(rejected.error, OidcError::RedirectUriMismatch));
        assert!(rejected.to_client.is_none());
    }

    #[test]
    fn later_errors_go_to_the_client_with_its_state() {
        let rejected =
            run("client_id=c&redirect_uri=https://rp.example/cb&response_type=code&scope=openid&state=s")
                .unwrap_err();
        assert!(matches!(rejected.error, OidcError::PkceRequired));
        assert_eq!(
            rejected.to_client,
            Some(("https://rp.example/cb".to_owned(), Some("s".to_owned())))
        );
    }

    #[test]
    fn a_valid_request_is_typed() {
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGjSstw-cM";
        let request = run(&format!(
            "client_id=c&redirect_uri=https://rp.example/cb&response_type=code&scope=openid\
             &code_challenge={challenge}&code_challenge_method=S256&prompt=login&max_age=60\
             &ui_locales=en-GB%20sv&login_hint=SE2120008889-dav04"
        ))
        .unwrap();
        assert_eq!(request.prompt, Prompt::Login);
        assert_eq!(request.max_age, Some(60));
        assert_eq!(request.ui_locale.as_deref(), Some("en"));
        assert_eq!(
            request.login_hint.map(|h| h.to_string()).as_deref(),
            Some("SE2120008889-dav04")
        );
    }
}
