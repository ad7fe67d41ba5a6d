//! "Try a login": the console plays an OIDC client, as `sp-test verify` does, with the
//! admin's own login: the authorization request through the real endpoint's engine
//! (single sign-on with the console's SSO session), the code exchanged at the token
//! engine with the client's own credentials (the admin pastes the secret of a
//! confidential client; it is not kept), the ID token and access token checked
//! (signature, issuer, audience, nonce, expiry, `acr`), UserInfo, and at the end the
//! try's grant revoked. Each step is shown with its result and raw data; the try leaves
//! its ordinary audit records.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use base64::Engine as _;
use std::sync::Arc;

use super::shared::*;
use super::{admin_problem, frame, Nav};
use crate::admin::AdminError;
use crate::oidc::authorize::{Decision, Params};
use crate::oidc::jwt::Parsed;
use crate::session::random_key;
use crate::tenants::{AccessTokenFormat, ClientAuthMethod, OidcClient, SamlServiceProvider};
use crate::web::templates::{render, Frame};
use crate::web::AppState;

/// One step of the try (shared with `try_saml.rs`).
pub struct Step {
    /// Text key of its title.
    pub title: &'static str,
    pub ok: bool,
    pub lines: Vec<String>,
    pub raw: Option<String>,
}

impl Step {
    pub(super) fn new(
        title: &'static str,
        ok: bool,
        lines: Vec<String>,
        raw: Option<String>,
    ) -> Self {
        Step {
            title,
            ok,
            lines,
            raw,
        }
    }
}

#[derive(Template)]
#[template(path = "console_try.html")]
struct TryPage<'a> {
    frame: Frame<'a>,
    nav: Option<Nav>,
    tenant_id: &'a str,
    app_id: &'a str,
    csrf_token: &'a str,
    application: String,
    /// The console can play this application.
    supported: bool,
    needs_secret: bool,
    steps: Vec<Step>,
}

/// What the console plays.
enum Played {
    Oidc(OidcClient),
    Saml(SamlServiceProvider),
}

/// The application `app` of `tenant`, after checking that the admin manages it.
fn client_of(
    state: &AppState,
    admin: &super::session::Admin,
    tenant: &str,
    app: &str,
) -> Result<(String, Played), AdminError> {
    let id = managed_tenant(state, admin, tenant)?;
    let registry = state.registry.load();
    let owner = registry
        .tenants
        .get(&id)
        .ok_or_else(|| AdminError::NotFound(format!("tenant {id}")))?;
    let application = owner
        .applications()
        .find(|a| a.id.as_str() == app)
        .ok_or_else(|| AdminError::NotFound(format!("application {tenant}/{app}")))?;
    let name = format!(
        "{}, {}, {}",
        application.display_name.sv,
        application.protocol.as_str().to_uppercase(),
        application.protocol_id
    );
    let played = match owner.oidc_client.iter().find(|c| c.id.as_str() == app) {
        Some(client) => Played::Oidc(client.clone()),
        None => owner
            .saml_sp
            .iter()
            .find(|sp| sp.id.as_str() == app)
            .cloned()
            .map(Played::Saml)
            .ok_or_else(|| AdminError::NotFound(format!("application {tenant}/{app}")))?,
    };
    Ok((name, played))
}

/// Whether the console can play it (it holds no client's private key).
fn playable(played: &Played) -> bool {
    match played {
        Played::Oidc(c) => c.token_endpoint_auth_method != ClientAuthMethod::PrivateKeyJwt,
        Played::Saml(_) => true,
    }
}

fn needs_secret(played: &Played) -> bool {
    matches!(played, Played::Oidc(c) if matches!(
        c.token_endpoint_auth_method,
        ClientAuthMethod::ClientSecretBasic | ClientAuthMethod::ClientSecretPost
    ))
}

/// `GET /console/t/{tenant}/apps/{app}/try`.
pub async fn try_get(
    State(state): State<Arc<AppState>>,
    Path((tenant, app)): Path<(String, String)>,
    Page { admin, lang }: Page,
) -> Response {
    let (application, played) = match client_of(&state, &admin, &tenant, &app) {
        Ok(found) => found,
        Err(e) => {
            return admin_problem(lang, nav(&admin), &e, Some(format!("/console/t/{tenant}")))
        }
    };
    try_page(
        lang,
        &admin,
        (&tenant, &app),
        application,
        &played,
        Vec::new(),
    )
}

/// `POST /console/t/{tenant}/apps/{app}/try`: runs the try and shows every step.
pub async fn try_post(
    State(state): State<Arc<AppState>>,
    Path((tenant, app)): Path<(String, String)>,
    Posted { admin, lang, form }: Posted,
) -> Response {
    let back = Some(format!("/console/t/{tenant}"));
    let (application, played) = match client_of(&state, &admin, &tenant, &app) {
        Ok(found) => found,
        Err(e) => return admin_problem(lang, nav(&admin), &e, back),
    };
    // Whether the application already took part in the admin's session (a real login
    // to it): then it stays there after the try.
    let participant = format!("{tenant}/{app}");
    let was_participant = state
        .sso_sessions
        .find(&admin.sso_session_id)
        .await
        .ok()
        .flatten()
        .is_some_and(|s| s.participants.iter().any(|p| p.application == participant));
    let steps = match &played {
        Played::Oidc(client) if playable(&played) => {
            play(&state, &admin, client, form.get("client_secret")).await
        }
        Played::Saml(sp) => super::try_saml::play(&state, &admin, sp).await,
        Played::Oidc(_) => Vec::new(),
    };
    // The application never saw this login: single logout must not visit it.
    let removed = if was_participant {
        Ok(None)
    } else {
        state
            .sso_sessions
            .remove_participant(&admin.sso_session_id, &participant)
            .await
    };
    if let Err(e) = removed {
        tracing::warn!(
            code = e.code(),
            "the try's application stays in the admin's session"
        );
    }
    try_page(lang, &admin, (&tenant, &app), application, &played, steps)
}

/// The try page of application `app` of `tenant`, with the steps of a try (if any).
fn try_page(
    lang: super::Lang,
    admin: &super::session::Admin,
    (tenant, app): (&str, &str),
    application: String,
    played: &Played,
    steps: Vec<Step>,
) -> Response {
    // The switch shows the page itself (a GET), also after the form's post.
    let switch = format!("/console/t/{tenant}/apps/{app}/try{}", lang.switch());
    render(&TryPage {
        frame: frame(lang, lang.texts().get("console.try.title"), &switch),
        nav: Some(nav(admin)),
        tenant_id: tenant,
        app_id: app,
        csrf_token: &admin.csrf_token,
        application,
        supported: playable(played),
        needs_secret: needs_secret(played),
        steps,
    })
}

fn pretty(map: &serde_json::Map<String, serde_json::Value>) -> String {
    serde_json::to_string_pretty(map).unwrap_or_default()
}

/// A check's line: "✓ what" or "✗ what".
pub(super) fn check(ok: bool, what: &str) -> String {
    format!("{} {what}", if ok { "✓" } else { "✗" })
}

/// The steps of one try of `client` with the admin's SSO session; stops at the first
/// step that fails.
async fn play(
    state: &AppState,
    admin: &super::session::Admin,
    client: &OidcClient,
    secret: Option<&str>,
) -> Vec<Step> {
    let ctx = state.oidc_context();
    let issuer = state.oidc.issuer.clone();
    let mut steps = Vec::new();
    let Some(redirect_uri) = client.redirect_uris.first().map(ToString::to_string) else {
        steps.push(Step::new(
            "console.try.step.request",
            false,
            vec!["the client has no redirect URI".into()],
            None,
        ));
        return steps;
    };
    let verifier = random_key();
    let (nonce, client_state) = (random_key(), random_key());
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", &client.client_id)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("scope", &client.scopes.join(" "))
        .append_pair("state", &client_state)
        .append_pair("nonce", &nonce)
        .append_pair(
            "code_challenge",
            &crate::oidc::token::pkce_challenge(&verifier),
        )
        .append_pair("code_challenge_method", "S256")
        .finish();
    steps.push(Step::new(
        "console.try.step.request",
        true,
        vec![
            format!("scope: {}", client.scopes.join(" ")),
            format!("redirect_uri: {redirect_uri}"),
        ],
        Some(format!("{issuer}/oidc/authorize?{query}")),
    ));

    // The login: single sign-on with the console's session, through the real engine.
    let decision = crate::oidc::authorize::authorize(
        &ctx,
        &Params::parse(&query),
        Some(&admin.sso_session_id),
        None,
    )
    .await;
    let code = match decision {
        Ok(Decision::ToClient(url)) => {
            let pair = |name: &str| {
                url.query_pairs()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.into_owned())
            };
            let state_ok = pair("state").as_deref() == Some(client_state.as_str());
            match (pair("code"), state_ok) {
                (Some(code), true) => {
                    steps.push(Step::new(
                        "console.try.step.login",
                        true,
                        vec![
                            "single sign-on with your login".into(),
                            check(true, "state returned unchanged"),
                        ],
                        Some(url.to_string()),
                    ));
                    code
                }
                _ => {
                    steps.push(Step::new(
                        "console.try.step.login",
                        false,
                        vec![check(state_ok, "state returned unchanged")],
                        Some(url.to_string()),
                    ));
                    return steps;
                }
            }
        }
        Ok(Decision::ErrorToClient(url, code)) => {
            steps.push(Step::new(
                "console.try.step.login",
                false,
                vec![format!(
                    "the IdP answered the client with an error ({code})"
                )],
                Some(url.to_string()),
            ));
            return steps;
        }
        Ok(Decision::Login { .. } | Decision::Commission { .. }) => {
            steps.push(Step::new(
                "console.try.step.login",
                false,
                vec!["the application needs a new login or a commission choice: log in to it from its own page".into()],
                None,
            ));
            return steps;
        }
        Err(e) => {
            steps.push(Step::new(
                "console.try.step.login",
                false,
                vec![format!("{} ({})", e, e.code())],
                None,
            ));
            return steps;
        }
    };

    // The code, redeemed as the client would.
    let (body, authorization) = token_request(client, &code, &redirect_uri, &verifier, secret);
    let tokens = match crate::oidc::token::token(
        &ctx,
        authorization.as_deref(),
        &Params::parse(&body),
    )
    .await
    {
        Ok(tokens) => tokens,
        Err(e) => {
            steps.push(Step::new(
                "console.try.step.token",
                false,
                vec![format!("{} ({})", e, e.code())],
                None,
            ));
            return steps;
        }
    };
    steps.push(Step::new(
        "console.try.step.token",
        true,
        vec![
            format!(
                "token_endpoint_auth_method: {}",
                client.token_endpoint_auth_method.as_str()
            ),
            format!("scope: {}", tokens.scope),
            format!("expires_in: {} s", tokens.expires_in),
        ],
        None,
    ));

    // The ID token, checked as a relying party checks it.
    let now = state.clock.now().unix_timestamp();
    let id_ok = match Parsed::parse(&tokens.id_token) {
        Ok(id) => {
            let checks = [
                (
                    id.verify_own(&state.oidc.keys).is_ok(),
                    format!(
                        "signature ({}, kid {})",
                        id.header_str("alg").unwrap_or("?"),
                        id.header_str("kid").unwrap_or("?")
                    ),
                ),
                (
                    id.claim_str("iss") == Some(issuer.as_str()),
                    format!("iss = {issuer}"),
                ),
                (
                    id.has_audience(&client.client_id),
                    format!("aud contains {}", client.client_id),
                ),
                (
                    id.claim_str("nonce") == Some(nonce.as_str()),
                    "nonce = the request's".to_owned(),
                ),
                (
                    id.claim_i64("exp").is_some_and(|exp| exp > now),
                    "exp in the future".to_owned(),
                ),
                (
                    id.claim_str("acr").is_some(),
                    format!("acr = {}", id.claim_str("acr").unwrap_or("–")),
                ),
            ];
            let ok = checks.iter().all(|(ok, _)| *ok);
            steps.push(Step::new(
                "console.try.step.id_token",
                ok,
                checks.iter().map(|(ok, what)| check(*ok, what)).collect(),
                Some(pretty(&id.claims)),
            ));
            ok
        }
        Err(e) => {
            steps.push(Step::new(
                "console.try.step.id_token",
                false,
                vec![e.to_string()],
                None,
            ));
            false
        }
    };

    // The access token: a JWT (RFC 9068) checked here, or an opaque reference looked up
    // as a resource server would (introspection).
    let grant_id = if client.access_token_format == AccessTokenFormat::Opaque {
        let active =
            crate::oidc::introspection::active_access_token(&ctx, &tokens.access_token).await;
        let ok = active
            .as_ref()
            .is_ok_and(|active| active.client_id == client.client_id);
        steps.push(Step::new(
            "console.try.step.access_token",
            ok,
            vec![check(ok, "opaque, active (introspection)")],
            active
                .as_ref()
                .ok()
                .map(|active| format!("scope = {}\nexp = {}", active.scope, active.expires_at)),
        ));
        active.ok().map(|active| active.grant.id)
    } else {
        match Parsed::parse(&tokens.access_token) {
            Ok(access) => {
                let alg = match client.access_token_format {
                    AccessTokenFormat::JwtRs256 => "RS256",
                    _ => "ES256",
                };
                let checks = [
                    (
                        access.verify_own(&state.oidc.keys).is_ok(),
                        "signature".to_owned(),
                    ),
                    (
                        access.header_str("typ") == Some("at+jwt"),
                        "typ = at+jwt".to_owned(),
                    ),
                    (
                        access.header_str("alg") == Some(alg),
                        format!("alg = {alg}"),
                    ),
                    (
                        access.claim_str("client_id") == Some(client.client_id.as_str()),
                        format!("client_id = {}", client.client_id),
                    ),
                ];
                steps.push(Step::new(
                    "console.try.step.access_token",
                    checks.iter().all(|(ok, _)| *ok),
                    checks.iter().map(|(ok, what)| check(*ok, what)).collect(),
                    Some(pretty(&access.claims)),
                ));
                access.claim_str("gid").map(str::to_owned)
            }
            Err(e) => {
                steps.push(Step::new(
                    "console.try.step.access_token",
                    false,
                    vec![e.to_string()],
                    None,
                ));
                None
            }
        }
    };

    // UserInfo with the access token.
    match crate::oidc::userinfo::userinfo(&ctx, &tokens.access_token).await {
        Ok(claims) => steps.push(Step::new(
            "console.try.step.userinfo",
            id_ok,
            vec![format!("{} claims", claims.len())],
            Some(pretty(&claims)),
        )),
        Err(e) => steps.push(Step::new(
            "console.try.step.userinfo",
            false,
            vec![format!("{} ({})", e, e.code())],
            None,
        )),
    }

    // The end: the try's grant is revoked (its refresh token no longer works).
    let revoked = match &grant_id {
        Some(id) => state.oidc.grants.revoke(id).await.unwrap_or(false),
        None => false,
    };
    steps.push(Step::new(
        "console.try.step.end",
        revoked,
        vec![check(
            revoked,
            "the try's grant is revoked; your login stays",
        )],
        None,
    ));
    steps
}

/// The token request's form body and `Authorization` header for `client`, as the
/// client would send them (`secret`: what the admin pasted).
fn token_request(
    client: &OidcClient,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
    secret: Option<&str>,
) -> (String, Option<String>) {
    let mut body = url::form_urlencoded::Serializer::new(String::new());
    body.append_pair("grant_type", "authorization_code")
        .append_pair("code", code)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("code_verifier", verifier);
    let mut authorization = None;
    match client.token_endpoint_auth_method {
        ClientAuthMethod::ClientSecretBasic => {
            let encode =
                |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
            let pair = format!(
                "{}:{}",
                encode(&client.client_id),
                encode(secret.unwrap_or_default())
            );
            authorization = Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            ));
        }
        ClientAuthMethod::ClientSecretPost => {
            body.append_pair("client_id", &client.client_id)
                .append_pair("client_secret", secret.unwrap_or_default());
        }
        _ => {
            body.append_pair("client_id", &client.client_id);
        }
    }
    (body.finish(), authorization)
}
