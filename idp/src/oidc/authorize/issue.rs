//! Answering a validated request: from the SSO session when it satisfies the request,
//! otherwise after a login (the request is parked under a key that the pending login's
//! resume path names), always with a code bound to the client, redirect URI and PKCE
//! challenge.

use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

use super::{error_redirect, redirect_with, validate, AuthorizationRequest, Params, Prompt};
use crate::audit::{AuditEvent, Outcome};
use crate::auth::IdentityError;
use crate::login::commission::{self, CommissionStep};
use crate::login::{
    admit_session, BindingSecret, Opening, Participant, ParticipantProtocol, PendingLogin, Resume,
    SsoSession,
};
use crate::oidc::claims;
use crate::oidc::grant::{Authentication, CodeRecord};
use crate::oidc::OidcContext;
use crate::oidc::OidcError;
use crate::tenants::{OidcClient, Protocol, Tenant};

/// What the browser is sent to.
#[derive(Debug)]
pub enum Decision {
    /// Back to the client with a code.
    ToClient(Url),
    /// Back to the client with an error it should handle (`login_required`, ...), and
    /// the error's stable code.
    ErrorToClient(Url, &'static str),
    /// To the login page for this pending login, with its binding cookie.
    Login {
        login: PendingLogin,
        secret: BindingSecret,
        ui_locale: Option<String>,
    },
    /// To the commission choice for this pending login (already authenticated), with a
    /// binding cookie when the browser needs a new one.
    Commission {
        login: PendingLogin,
        secret: Option<BindingSecret>,
        ui_locale: Option<String>,
    },
}

/// What issuing a code came to.
enum Issued {
    /// Back to the client (a code, or an error it handles).
    Redirect(Url),
    /// The person chooses a commission first.
    ChooseCommission,
}

/// A request waiting for its login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParkedRequest {
    pub pending_login_id: String,
    pub request: AuthorizationRequest,
}

/// `GET/POST /oidc/authorize`. `Err` is shown as an error page (the redirect URI is
/// not trusted, or the user may not use the application).
pub async fn authorize(
    state: &OidcContext<'_>,
    params: &Params,
    sso_session_id: Option<&str>,
    browser: Option<&BindingSecret>,
) -> Result<Decision, OidcError> {
    let provider = &state.oidc;
    let registry = state.registry.load();
    let (tenant, client, request) = match validate(
        params,
        &registry.tenants,
        provider.settings.max_parameter_length,
    ) {
        Ok(valid) => valid,
        Err(rejection) => {
            let Some((uri, client_state)) = rejection.to_client else {
                return Err(rejection.error);
            };
            let code = rejection.error.code();
            return error_redirect(
                &uri,
                client_state.as_deref(),
                &provider.issuer,
                &rejection.error,
            )
            .map(|url| Decision::ErrorToClient(url, code))
            .ok_or(OidcError::RedirectUriMismatch);
        }
    };
    let now = state.clock.now();
    let session = match sso_session_id {
        Some(id) if id.len() <= crate::login::MAX_ID_LENGTH => {
            state.sso_sessions.use_current(id, now).await?
        }
        _ => None,
    };
    let to_client = |error: OidcError| {
        error_redirect(
            &request.redirect_uri,
            request.state.as_deref(),
            &provider.issuer,
            &error,
        )
        .map(|url| Decision::ErrorToClient(url, error.code()))
        .ok_or(OidcError::RedirectUriMismatch)
    };
    let fresh_enough = |s: &SsoSession| {
        request
            .max_age
            .is_none_or(|age| s.is_younger_than(Duration::from_secs(age), now))
    };
    // A session below the levels the client accepts is stepped up by a new login.
    let acceptable = |s: &SsoSession| request.acr_for(s.loa).is_some();
    match session {
        Some(session)
            if request.prompt != Prompt::Login
                && fresh_enough(&session)
                && acceptable(&session) =>
        {
            match issue(state, &tenant, &client, &request, &session).await? {
                Issued::Redirect(url) => Ok(Decision::ToClient(url)),
                Issued::ChooseCommission => {
                    ask_for_commission(state, &tenant, &client, request, &session, browser).await
                }
            }
        }
        _ if request.prompt == Prompt::None => to_client(OidcError::LoginRequired),
        Some(session) => {
            park(
                state,
                &tenant,
                &client,
                request,
                Some(session.person_id),
                browser,
            )
            .await
        }
        None => {
            let expected = match &request.login_hint {
                Some(hsa_id) => state
                    .directory
                    .find_by_hsa_id(hsa_id)
                    .await?
                    .map(|person| person.id),
                None => None,
            };
            park(state, &tenant, &client, request, expected, browser).await
        }
    }
}

/// Opens a pending login for `request` and parks the request until it is authenticated.
async fn park(
    state: &OidcContext<'_>,
    tenant: &Tenant,
    client: &OidcClient,
    request: AuthorizationRequest,
    expected_person: Option<String>,
    browser: Option<&BindingSecret>,
) -> Result<Decision, OidcError> {
    let ui_locale = request.ui_locale.clone();
    let (login, secret) =
        park_under_new_login(state, tenant, client, request, browser, |opening| {
            opening.expected_person_id = expected_person;
        })
        .await?;
    Ok(Decision::Login {
        login,
        secret,
        ui_locale,
    })
}

/// Opens a pending login for `client` (as `adjust` changes its opening) and stores
/// `request` for it in the same write, under a key its resume path names.
async fn park_under_new_login(
    state: &OidcContext<'_>,
    tenant: &Tenant,
    client: &OidcClient,
    request: AuthorizationRequest,
    browser: Option<&BindingSecret>,
    adjust: impl FnOnce(&mut Opening<'_>),
) -> Result<(PendingLogin, BindingSecret), OidcError> {
    let mut opening = Opening {
        tenant_id: tenant.id.clone(),
        application_id: client.id.clone(),
        // The request waits under its login's id, which its resume path names.
        resume: Resume::WithLoginId(RESUME_PATH, RESUME_PARAMETER),
        browser,
        authenticated_session: None,
        expected_person_id: None,
    };
    adjust(&mut opening);
    let requests = &state.oidc.grants.requests;
    Ok(state
        .pending_logins
        .open_parking(opening, |login| {
            requests.entry(
                &login.id,
                &ParkedRequest {
                    pending_login_id: login.id.clone(),
                    request,
                },
            )
        })
        .await?)
}

/// Parks `request` under a pending login that `session` has already authenticated, for
/// the commission choice to resume.
async fn ask_for_commission(
    state: &OidcContext<'_>,
    tenant: &Tenant,
    client: &OidcClient,
    request: AuthorizationRequest,
    session: &SsoSession,
    browser: Option<&BindingSecret>,
) -> Result<Decision, OidcError> {
    let ui_locale = request.ui_locale.clone();
    let (login, secret) =
        park_under_new_login(state, tenant, client, request, browser, |opening| {
            opening.authenticated_session = Some(session.id.clone());
        })
        .await?;
    Ok(Decision::Commission {
        login,
        secret: Some(secret),
        ui_locale,
    })
}

/// Takes (once) the request parked under `request_key` for `login`.
async fn take_parked(
    state: &OidcContext<'_>,
    request_key: &str,
    login: &PendingLogin,
) -> Result<ParkedRequest, OidcError> {
    state
        .oidc
        .grants
        .requests
        .take(request_key)
        .await?
        .filter(|p| p.pending_login_id == login.id)
        .ok_or(OidcError::LoginExpired)
}

/// The user chose "back to the application" on the login or commission page: the
/// parked request is taken (once) and the client hears `access_denied`.
pub async fn cancel(
    state: &OidcContext<'_>,
    request_key: &str,
    login: &PendingLogin,
) -> Result<Url, OidcError> {
    let parked = take_parked(state, request_key, login).await?;
    let mut record = AuditEvent::new("oidc-code", Outcome::Failure, state.clock.now());
    record.code = Some(OidcError::Cancelled.code().to_owned());
    record.tenant_id = Some(login.tenant_id.to_string());
    record.application_id = Some(login.application_id.to_string());
    record.detail = Some(format!("client_id={}", parked.request.client_id));
    crate::storage::insert_audit_event(state.db, &record).await?;
    error_redirect(
        &parked.request.redirect_uri,
        parked.request.state.as_deref(),
        &state.oidc.issuer,
        &OidcError::Cancelled,
    )
    .ok_or(OidcError::RedirectUriMismatch)
}

/// Where a login parked for an authorization request comes back to:
/// `RESUME_PATH?request=<id>` (the request waits under its login's id).
pub const RESUME_PATH: &str = "/oidc/resume";
/// The resume path's parameter that names the pending login.
pub const RESUME_PARAMETER: &str = "request";

/// `GET /oidc/resume?request=KEY`: `login` is the pending login the parked request
/// names, already checked to belong to this browser. It must be authenticated by the
/// session in the browser's SSO cookie; the request is taken (once) and answered (or
/// parked again while the person chooses a commission).
pub async fn resume(
    state: &OidcContext<'_>,
    request_key: &str,
    login: &PendingLogin,
    sso_session_id: Option<&str>,
) -> Result<Decision, OidcError> {
    let authenticated = login.authenticated_session.as_deref();
    if authenticated.is_none() || authenticated != sso_session_id {
        return Err(OidcError::LoginExpired);
    }
    let parked = take_parked(state, request_key, login).await?;
    let session_id = authenticated.ok_or(OidcError::LoginExpired)?;
    let session = state
        .sso_sessions
        .find_current(session_id, state.clock.now())
        .await?
        .ok_or(OidcError::LoginExpired)?;
    let registry = state.registry.load();
    let (tenant, client) = registry
        .tenants
        .find_oidc_client(&parked.request.client_id)
        .ok_or(OidcError::UnknownClient)?;
    if parked.request.acr_for(session.loa).is_none() {
        // The person logged in, but not at a level the client accepts: the client hears
        // it (the session stays, as it is good for other applications).
        let now = state.clock.now();
        let code = OidcError::UnmetAuthenticationRequirements.code();
        audit(
            state,
            "oidc-code",
            Outcome::Failure,
            Some(code),
            tenant,
            client,
            &session,
            now,
        )
        .await?;
        return error_redirect(
            &parked.request.redirect_uri,
            parked.request.state.as_deref(),
            &state.oidc.issuer,
            &OidcError::UnmetAuthenticationRequirements,
        )
        .map(Decision::ToClient)
        .ok_or(OidcError::RedirectUriMismatch);
    }
    match issue(state, tenant, client, &parked.request, &session).await? {
        Issued::Redirect(url) => Ok(Decision::ToClient(url)),
        Issued::ChooseCommission => {
            let ui_locale = parked.request.ui_locale.clone();
            state.oidc.grants.requests.put(request_key, &parked).await?;
            Ok(Decision::Commission {
                login: login.clone(),
                secret: None,
                ui_locale,
            })
        }
    }
}

/// Issues a code for `request` from `session`, records the client as a participant of
/// the session and audits it; or says the person must choose a commission first.
async fn issue(
    state: &OidcContext<'_>,
    tenant: &Arc<Tenant>,
    client: &OidcClient,
    request: &AuthorizationRequest,
    session: &SsoSession,
) -> Result<Issued, OidcError> {
    let registry = state.registry.load();
    let admitted = match tenant
        .applications()
        .find(|a| a.protocol == Protocol::Oidc && a.protocol_id == client.client_id)
    {
        Some(app) => admit_session(state.directory, &registry.tenants, tenant, &app, session).await,
        None => Err(IdentityError::NotAllowed),
    };
    let now = state.clock.now();
    let application = format!("{}/{}", tenant.id, client.id);
    let admission = match admitted {
        Ok((_, admission)) => admission,
        Err(IdentityError::Directory(e)) => return Err(OidcError::Directory(e)),
        Err(refusal) => {
            audit(
                state,
                "oidc-code",
                Outcome::Failure,
                Some(refusal.code()),
                tenant,
                client,
                session,
                now,
            )
            .await?;
            // The client hears `access_denied` and can tell its user; nobody is
            // stranded on the IdP's page.
            return error_redirect(
                &request.redirect_uri,
                request.state.as_deref(),
                &state.oidc.issuer,
                &OidcError::UserNotAllowed,
            )
            .map(Issued::Redirect)
            .ok_or(OidcError::RedirectUriMismatch);
        }
    };
    let mut released = claims::released(&request.scopes, &client.claims);
    released.retain(|claim| claims::attribute_of(claim).is_none_or(|a| admission.allows(a)));
    let commission = match commission::step(
        client.commission,
        claims::names_commission(&released),
        &admission.employment,
        session.commission_for(&application),
    ) {
        CommissionStep::Use(commission) => commission.map(|c| c.hsa_id.clone()),
        CommissionStep::Choose => return Ok(Issued::ChooseCommission),
        CommissionStep::Missing => {
            let code = OidcError::NoCommission.code();
            audit(
                state,
                "oidc-code",
                Outcome::Failure,
                Some(code),
                tenant,
                client,
                session,
                now,
            )
            .await?;
            return Err(OidcError::NoCommission);
        }
    };
    let record = CodeRecord {
        client_id: client.client_id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        code_challenge: request.code_challenge.clone(),
        nonce: request.nonce.clone(),
        scopes: request.scopes.clone(),
        authentication: Authentication {
            acr: request.acr_for(session.loa),
            commission,
            ..Authentication::of(session, &admission)
        },
        issued_at: now.unix_timestamp(),
    };
    let code = state.oidc.grants.issue_code(&record).await?;
    state
        .sso_sessions
        .add_participant(
            session,
            Participant {
                application,
                protocol: ParticipantProtocol::Oidc {
                    client_id: client.client_id.clone(),
                },
            },
        )
        .await?;
    audit(
        state,
        "oidc-code",
        Outcome::Success,
        None,
        tenant,
        client,
        session,
        now,
    )
    .await?;
    let mut params = vec![("code", code.as_str())];
    if let Some(client_state) = &request.state {
        params.push(("state", client_state.as_str()));
    }
    redirect_with(&request.redirect_uri, &state.oidc.issuer, &params)
        .map(Issued::Redirect)
        .ok_or(OidcError::RedirectUriMismatch)
}

#[allow(clippy::too_many_arguments)]
async fn audit(
    state: &OidcContext<'_>,
    event: &str,
    outcome: Outcome,
    code: Option<&str>,
    tenant: &Tenant,
    client: &OidcClient,
    session: &SsoSession,
    now: time::OffsetDateTime,
) -> Result<(), OidcError> {
    let mut record = AuditEvent::new(event, outcome, now);
    record.code = code.map(str::to_owned);
    record.method = Some(session.method.as_str().to_owned());
    record.tenant_id = Some(tenant.id.to_string());
    record.application_id = Some(client.id.to_string());
    record.person_id = Some(session.person_id.clone());
    record.employee_hsa_id = Some(session.employee_hsa_id.to_string());
    record.detail = Some(format!("client_id={}", client.client_id));
    crate::storage::insert_audit_event(state.db, &record).await?;
    Ok(())
}
