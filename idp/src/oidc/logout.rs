//! Logout: RP-initiated (`/oidc/logout`, OpenID Connect RP-Initiated Logout 1.0) and
//! back-channel logout tokens to every OIDC client of the ended SSO session
//! (OpenID Connect Back-Channel Logout 1.0). SAML single logout calls
//! [`end_oidc_participants`] for the OIDC clients of a session it ends.

use serde_json::json;
use url::Url;

use super::authorize::Params;
use super::jwt::Parsed;
use super::tokens::algorithm;
use super::{OidcError, OidcLogoutError};
use crate::audit::{AuditEvent, Outcome};
use crate::login::{ParticipantProtocol, SsoSession};
use crate::oidc::OidcContext;
use crate::tenants::OidcClient;

const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// Lifetime of a logout token.
const LOGOUT_TOKEN_SECONDS: i64 = 120;

/// What `/oidc/logout` did.
#[derive(Debug)]
pub struct LogoutOutcome {
    /// Where to send the browser (the client's post-logout URI with `state`), if asked.
    pub redirect: Option<Url>,
    /// The SSO session that was ended (its cookie is to be cleared).
    pub ended: Option<SsoSession>,
    /// Back-channel results per application.
    pub results: Vec<(String, Result<(), OidcLogoutError>)>,
}

/// The answer to a logout request.
#[derive(Debug)]
pub enum LogoutStep {
    /// The request may not come from the user (no `id_token_hint` of this browser's
    /// session): the user is asked first. Carries the asking client's display name.
    Confirm {
        application: Option<crate::tenants::LocalizedText>,
    },
    Done(Box<LogoutOutcome>),
}

/// A verified `id_token_hint`: the client it was issued to and the session it named.
struct Hint {
    client_id: String,
    sid: Option<String>,
}

/// Verifies `id_token_hint`: an ID token this provider signed (it may have expired).
fn verify_hint(state: &OidcContext<'_>, hint: &str) -> Result<Hint, OidcError> {
    let parsed = Parsed::parse(hint).map_err(|_| OidcError::InvalidIdTokenHint)?;
    parsed
        .verify_own(&state.oidc.keys)
        .map_err(|_| OidcError::InvalidIdTokenHint)?;
    if parsed.claim_str("iss") != Some(state.oidc.issuer.as_str()) {
        return Err(OidcError::InvalidIdTokenHint);
    }
    let client_id = parsed
        .claim_str("aud")
        .map(str::to_owned)
        .ok_or(OidcError::InvalidIdTokenHint)?;
    Ok(Hint {
        client_id,
        sid: parsed.claim_str("sid").map(str::to_owned),
    })
}

/// `GET/POST /oidc/logout`: checks the request, ends the browser's SSO session and logs
/// out its other applications. The session ends at once only when `id_token_hint` is an
/// ID token of this very session (its `sid`) or when the user `confirmed` on the
/// confirmation page (the web layer checks the form's CSRF token); otherwise the answer is
/// [`LogoutStep::Confirm`], so that no other site can log a user out (RP-Initiated
/// Logout 1.0, section 2: "the OP SHOULD ask the End-User").
pub async fn rp_initiated_logout(
    state: &OidcContext<'_>,
    params: &Params,
    sso_session_id: Option<&str>,
    confirmed: bool,
) -> Result<LogoutStep, OidcError> {
    let mut seen = std::collections::HashSet::new();
    for (name, value) in params.pairs() {
        if !seen.insert(name.as_str()) {
            return Err(OidcError::RepeatedParameter(
                name.chars().take(40).collect(),
            ));
        }
        if value.len() > state.oidc.settings.max_parameter_length.max(8192) {
            return Err(OidcError::ParameterTooLong(name.chars().take(40).collect()));
        }
    }
    let hint = params
        .get("id_token_hint")
        .map(|hint| verify_hint(state, hint))
        .transpose()?;
    let client_id = match (&hint, params.get("client_id")) {
        (Some(hint), Some(named)) if hint.client_id != named => {
            return Err(OidcError::IdTokenHintClientMismatch)
        }
        (Some(hint), _) => Some(hint.client_id.clone()),
        (None, named) => named.map(str::to_owned),
    };
    let registry = state.registry.load();
    let client = client_id
        .as_deref()
        .and_then(|id| registry.tenants.find_oidc_client(id))
        .map(|(_, c)| c);
    let redirect = match params.get("post_logout_redirect_uri") {
        Some(uri) => {
            let registered = client
                .ok_or(OidcError::PostLogoutRedirectUriMismatch)?
                .post_logout_redirect_uris
                .iter()
                .any(|u| u.as_str() == uri);
            if !registered {
                return Err(OidcError::PostLogoutRedirectUriMismatch);
            }
            let mut url = Url::parse(uri).map_err(|_| OidcError::PostLogoutRedirectUriMismatch)?;
            if let Some(client_state) = params.get("state") {
                url.query_pairs_mut().append_pair("state", client_state);
            }
            Some(url)
        }
        None => None,
    };
    let sso_session_id = sso_session_id.filter(|id| id.len() <= crate::login::MAX_ID_LENGTH);
    if let (Some(id), false) = (sso_session_id, confirmed) {
        let current = state.sso_sessions.find(id).await?;
        let hinted_this_session = matches!(
            (&current, &hint),
            (Some(session), Some(Hint { sid: Some(sid), .. })) if *sid == session.sid
        );
        if current.is_some() && !hinted_this_session {
            return Ok(LogoutStep::Confirm {
                application: client.map(|c| c.display_name.clone()),
            });
        }
    }
    let ended = match sso_session_id {
        Some(id) => state.sso_sessions.take(id).await?,
        None => None,
    };
    let mut results = Vec::new();
    if let Some(session) = &ended {
        results = end_oidc_participants(state, session).await;
        // SAML participants: the browser walks them (web layer, saml::slo).
        let mut record = AuditEvent::new("logout", Outcome::Success, state.clock.now());
        record.method = Some(
            if confirmed {
                "oidc-rp-initiated-confirmed"
            } else {
                "oidc-rp-initiated"
            }
            .into(),
        );
        record.tenant_id = Some(session.user_tenant.to_string());
        record.person_id = Some(session.person_id.clone());
        record.employee_hsa_id = Some(session.employee_hsa_id.to_string());
        let failed: Vec<&str> = results
            .iter()
            .filter(|(_, r)| r.is_err())
            .map(|(app, _)| app.as_str())
            .collect();
        record.detail = Some(format!(
            "client_id={}; back-channel failed: [{}]",
            client_id.as_deref().unwrap_or("-"),
            failed.join(", ")
        ));
        crate::storage::insert_audit_event(state.db, &record).await?;
    }
    Ok(LogoutStep::Done(Box::new(LogoutOutcome {
        redirect,
        ended,
        results,
    })))
}

/// Sends a back-channel logout token to every OIDC client of `session` that has a
/// back-channel logout URI (concurrently, each bounded by the configured timeout).
/// One entry per OIDC participant (`<tenant>/<application>`); a client without a
/// back-channel URI has nothing to receive and counts as done.
pub async fn end_oidc_participants(
    state: &OidcContext<'_>,
    session: &SsoSession,
) -> Vec<(String, Result<(), OidcLogoutError>)> {
    let sends = session
        .participants
        .iter()
        .filter_map(|p| match &p.protocol {
            ParticipantProtocol::Oidc { client_id } => Some(async move {
                (
                    p.application.clone(),
                    notify(state, session, client_id).await,
                )
            }),
            ParticipantProtocol::Saml { .. } => None,
        });
    let results = futures::future::join_all(sends).await;
    for (application, result) in &results {
        if let Err(e) = result {
            tracing::warn!(application = %application, code = e.code(), error = %e, "back-channel logout failed");
        }
    }
    results
}

async fn notify(
    state: &OidcContext<'_>,
    session: &SsoSession,
    client_id: &str,
) -> Result<(), OidcLogoutError> {
    let registry = state.registry.load();
    let (tenant, client) = registry
        .tenants
        .find_oidc_client(client_id)
        .ok_or(OidcLogoutError::UnknownClient)?;
    let Some(uri) = &client.backchannel_logout_uri else {
        return Ok(());
    };
    let token = logout_token(state, tenant, client, session)?;
    let response = state
        .oidc
        .http
        .post(uri.clone())
        .form(&[("logout_token", token.as_str())])
        .send()
        .await
        .map_err(|e| OidcLogoutError::Delivery(e.without_url().to_string()))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(OidcLogoutError::Delivery(format!(
            "HTTP {}",
            response.status().as_u16()
        )))
    }
}

/// A logout token (`typ: logout+jwt`) naming the session (`sid`) and the subject.
pub fn logout_token(
    state: &OidcContext<'_>,
    tenant: &crate::tenants::Tenant,
    client: &OidcClient,
    session: &SsoSession,
) -> Result<String, OidcLogoutError> {
    let now = state.clock.now();
    let iat = now.unix_timestamp();
    let claims = json!({
        "iss": state.oidc.issuer,
        "sub": state.oidc.subject_for(tenant, client, &session.person_id),
        "aud": client.client_id,
        "iat": iat,
        "exp": iat + LOGOUT_TOKEN_SECONDS,
        "jti": crate::session::random_key(),
        "sid": session.sid,
        "events": { BACKCHANNEL_EVENT: {} },
    });
    state
        .oidc
        .sign(
            &claims,
            algorithm(client.id_token_signed_response_alg),
            "logout+jwt",
            now,
        )
        .map_err(|e| OidcLogoutError::Signing(e.code().to_owned()))
}
