//! Single logout. A `LogoutRequest` from one SP ends the SSO session at once, then the
//! browser is walked through every other SAML SP of the session (a `LogoutRequest` to
//! each, whose `LogoutResponse` brings it back), OIDC clients are told over their
//! back-channel, and finally the SP that asked gets its `LogoutResponse`: `Success`, or
//! `PartialLogout` when some participant could not be reached or did not confirm.
//!
//! The same walk serves a logout that starts elsewhere (OIDC RP-initiated logout): it
//! then ends with a redirect instead of a SAML response.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::checks::signature;
use super::error::{SamlError, PARTIAL_LOGOUT};
use super::inbound::Received;
use super::logout_messages::{deliver, logout_request, logout_response, LogoutSubject};
use super::request::{Inbound, LogoutRequest, LogoutResponse};
use super::response::{new_id, STATUS_REQUESTER, STATUS_SUCCESS};
use super::sso::{Answer, SamlContext};
use crate::audit::{AuditEvent, Outcome};
use crate::login::{Participant, ParticipantProtocol, SsoSession};

const UNKNOWN_PRINCIPAL: &str = "urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal";

/// Who started the logout, and so who hears the result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Initiator {
    /// An SP's LogoutRequest: answered with a LogoutResponse.
    Saml {
        sp_entity_id: String,
        request_id: String,
        relay_state: Option<String>,
    },
    /// Another protocol's logout: the browser goes here at the end.
    Redirect { url: String },
}

/// A logout walking through the session's SPs, stored under the ID of the
/// `LogoutRequest` the IdP sent last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogoutWalk {
    pub initiator: Initiator,
    pub sid: String,
    pub remaining: Vec<Participant>,
    pub is_partial: bool,
    /// The SP whose LogoutResponse the walk waits for: only it may continue the walk.
    #[serde(default)]
    pub awaiting: Option<String>,
}

/// What a message at `/saml/slo` led to.
#[derive(Debug)]
pub struct SloOutcome {
    pub answer: Answer,
    /// The SSO session this message ended: its cookie is cleared, and its OIDC clients
    /// are told over their back-channel (by the caller, which knows the OIDC provider).
    pub ended: Option<SsoSession>,
    /// Whether the browser's SSO cookie is to be cleared (also when no session was left).
    pub clear_cookie: bool,
}

/// Handles a message at `/saml/slo`.
pub async fn slo_message(
    ctx: &SamlContext<'_>,
    received: &Received,
    sso_cookie: Option<&str>,
) -> Result<SloOutcome, SamlError> {
    match &received.message {
        Inbound::LogoutRequest(request) => {
            logout_requested(ctx, received, request, sso_cookie).await
        }
        Inbound::LogoutResponse(response) => Ok(SloOutcome {
            answer: logout_confirmed(ctx, received, response).await?,
            ended: None,
            clear_cookie: false,
        }),
        Inbound::AuthnRequest(_) => Err(SamlError::Malformed(super::request::ParseError(
            "an AuthnRequest was sent to the logout endpoint".into(),
        ))),
    }
}

fn check_message(
    ctx: &SamlContext<'_>,
    sp: &super::registry::ServiceProvider,
    received: &Received,
    issue_instant: Option<OffsetDateTime>,
) -> Result<(), SamlError> {
    // SAML profiles §4.4.3: front-channel logout messages MUST be signed.
    signature::verify(
        sp,
        &received.signature,
        &received.xml,
        received.message.root_name(),
        received.message.id(),
        true,
    )?;
    match received.message.destination() {
        Some(d) if d == ctx.idp.slo_url => {}
        _ => return Err(SamlError::DestinationMismatch),
    }
    if let Some(issued) = issue_instant {
        let skew = std::time::Duration::from_secs(ctx.idp.config.clock_skew_seconds);
        let max_age = std::time::Duration::from_secs(ctx.idp.config.request_max_age_seconds);
        if issued > ctx.now + skew || issued + max_age + skew < ctx.now {
            return Err(SamlError::Expired);
        }
    }
    Ok(())
}

/// An SP asks to log the user out.
async fn logout_requested(
    ctx: &SamlContext<'_>,
    received: &Received,
    request: &LogoutRequest,
    sso_cookie: Option<&str>,
) -> Result<SloOutcome, SamlError> {
    let sp = ctx
        .idp
        .registry()
        .get(&request.issuer)
        .ok_or(SamlError::UnknownSp)?;
    let checked = async {
        check_message(ctx, &sp, received, Some(request.issue_instant))?;
        if !ctx
            .idp
            .is_first_use("logout", &sp.entity_id, &request.id)
            .await?
        {
            return Err(SamlError::Replayed);
        }
        Ok(())
    }
    .await;
    if let Err(e) = checked {
        ctx.audit_refusal("saml-logout-request", Some(&sp), &e)
            .await;
        return Err(e);
    }
    let endpoint = sp
        .slo_endpoint()
        .cloned()
        .ok_or(SamlError::AcsNotRegistered)?;
    let initiator = Initiator::Saml {
        sp_entity_id: sp.entity_id.clone(),
        request_id: request.id.clone(),
        relay_state: received.relay_state.clone(),
    };
    let session = match sso_cookie {
        Some(id) if id.len() <= crate::login::MAX_ID_LENGTH => ctx.sessions.find(id).await?,
        _ => None,
    };
    let Some(session) = session else {
        // Nobody is logged in here: the logout the SP wants has already happened.
        return Ok(SloOutcome {
            answer: finish(ctx, &initiator, false).await?,
            ended: None,
            clear_cookie: true,
        });
    };
    let names_this_session = session.participants.iter().any(|p| {
        matches!(&p.protocol, ParticipantProtocol::Saml { sp_entity_id, name_id, .. }
            if *sp_entity_id == sp.entity_id && *name_id == request.name_id)
    }) && (request.session_indexes.is_empty()
        || request.session_indexes.contains(&session.sid));
    if !names_this_session {
        let response = logout_response(
            &new_id(),
            &ctx.idp.entity_id,
            endpoint
                .response_location
                .as_ref()
                .map_or(&endpoint.location_raw, |u| u.as_str()),
            &request.id,
            STATUS_REQUESTER,
            Some(UNKNOWN_PRINCIPAL),
            ctx.now,
        );
        let answer = deliver(
            response,
            &endpoint,
            true,
            "SAMLResponse",
            received.relay_state.as_deref(),
            &ctx.idp.key,
        )?;
        return Ok(SloOutcome {
            answer,
            ended: None,
            clear_cookie: false,
        });
    }
    let remaining: Vec<Participant> = session
        .participants
        .iter()
        .filter(|p| !matches!(&p.protocol, ParticipantProtocol::Saml { sp_entity_id, .. } if *sp_entity_id == sp.entity_id))
        .cloned()
        .collect();
    // Only the browser that holds the session can end it (exactly one request wins).
    let Some(ended) = ctx.sessions.take(&session.id).await? else {
        return Ok(SloOutcome {
            answer: finish(ctx, &initiator, false).await?,
            ended: None,
            clear_cookie: true,
        });
    };
    let mut record = AuditEvent::new("logout", Outcome::Success, ctx.now);
    record.method = Some("saml-slo".into());
    record.tenant_id = Some(sp.tenant.id.to_string());
    record.application_id = Some(sp.config.id.to_string());
    record.person_id = Some(ended.person_id.clone());
    record.employee_hsa_id = Some(ended.employee_hsa_id.to_string());
    record.detail = Some(format!("{} participants", ended.participants.len()));
    // A logout goes on whether or not its record could be kept (ending sessions is the
    // safe side).
    let _ = ctx.audit(record).await;
    ctx.metrics.record_event("logout");
    let answer = walk_saml_participants(ctx, &ended.sid, initiator, remaining).await?;
    Ok(SloOutcome {
        answer,
        ended: Some(ended),
        clear_cookie: true,
    })
}

/// Walks the browser through the SAML SPs among `remaining` of an ended session, then
/// tells `initiator`. OIDC participants are told over their back-channel by the OIDC
/// provider; they are not part of the browser's walk.
pub async fn walk_saml_participants(
    ctx: &SamlContext<'_>,
    sid: &str,
    initiator: Initiator,
    remaining: Vec<Participant>,
) -> Result<Answer, SamlError> {
    let saml_remaining: Vec<Participant> = remaining
        .into_iter()
        .filter(|p| matches!(p.protocol, ParticipantProtocol::Saml { .. }))
        .collect();
    walk(
        ctx,
        LogoutWalk {
            initiator,
            sid: sid.to_owned(),
            remaining: saml_remaining,
            is_partial: false,
            awaiting: None,
        },
    )
    .await
}

/// The next step: a LogoutRequest to the next SP that can take one, or the end.
async fn walk(ctx: &SamlContext<'_>, mut state: LogoutWalk) -> Result<Answer, SamlError> {
    while let Some(next) = state.remaining.pop() {
        let ParticipantProtocol::Saml {
            sp_entity_id,
            name_id,
            name_id_format,
        } = &next.protocol
        else {
            continue;
        };
        let Some(sp) = ctx.idp.registry().get(sp_entity_id) else {
            state.is_partial = true;
            continue;
        };
        let Some(endpoint) = sp.slo_endpoint().cloned() else {
            state.is_partial = true;
            continue;
        };
        let id = new_id();
        let request = logout_request(
            &id,
            &ctx.idp.entity_id,
            &endpoint.location_raw,
            &LogoutSubject {
                name_id,
                name_id_format,
                sp_entity_id,
                session_index: &state.sid,
            },
            ctx.now,
        );
        state.awaiting = Some(sp_entity_id.clone());
        ctx.idp.logouts.put(&id, &state).await?;
        return deliver(request, &endpoint, false, "SAMLRequest", None, &ctx.idp.key);
    }
    finish(ctx, &state.initiator, state.is_partial).await
}

/// An SP confirms (or not) the LogoutRequest the IdP sent it; the walk goes on.
async fn logout_confirmed(
    ctx: &SamlContext<'_>,
    received: &Received,
    response: &LogoutResponse,
) -> Result<Answer, SamlError> {
    let sp = ctx
        .idp
        .registry()
        .get(&response.issuer)
        .ok_or(SamlError::UnknownSp)?;
    check_message(ctx, &sp, received, None)?;
    let request_id = response
        .in_response_to
        .as_deref()
        .ok_or(SamlError::LoginExpired)?;
    if request_id.len() > crate::login::MAX_ID_LENGTH {
        return Err(SamlError::LoginExpired);
    }
    // Another SP answering a request it was never sent may not move (or end) the walk:
    // look before taking it, so that the right SP's answer still finds it.
    let awaited = ctx
        .idp
        .logouts
        .get(request_id)
        .await?
        .and_then(|s| s.awaiting);
    if awaited.as_deref() != Some(sp.entity_id.as_str()) {
        return Err(SamlError::LoginExpired);
    }
    let mut state = ctx
        .idp
        .logouts
        .take(request_id)
        .await?
        .ok_or(SamlError::LoginExpired)?;
    if response.status != STATUS_SUCCESS {
        state.is_partial = true;
    }
    walk(ctx, state).await
}

/// The last step: tell whoever started the logout.
async fn finish(
    ctx: &SamlContext<'_>,
    initiator: &Initiator,
    is_partial: bool,
) -> Result<Answer, SamlError> {
    match initiator {
        Initiator::Redirect { url } => Ok(Answer::Redirect(url.clone())),
        Initiator::Saml {
            sp_entity_id,
            request_id,
            relay_state,
        } => {
            let sp = ctx
                .idp
                .registry()
                .get(sp_entity_id)
                .ok_or(SamlError::UnknownSp)?;
            let endpoint = sp
                .slo_endpoint()
                .cloned()
                .ok_or(SamlError::AcsNotRegistered)?;
            let destination = endpoint
                .response_location
                .as_ref()
                .map_or(endpoint.location_raw.clone(), |u| u.to_string());
            let (top, second) = if is_partial {
                (STATUS_SUCCESS, Some(PARTIAL_LOGOUT))
            } else {
                (STATUS_SUCCESS, None)
            };
            let response = logout_response(
                &new_id(),
                &ctx.idp.entity_id,
                &destination,
                request_id,
                top,
                second,
                ctx.now,
            );
            deliver(
                response,
                &endpoint,
                true,
                "SAMLResponse",
                relay_state.as_deref(),
                &ctx.idp.key,
            )
        }
    }
}
