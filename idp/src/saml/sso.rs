//! Single sign-on: an AuthnRequest is checked, then answered at once from the user's SSO
//! session, or parked while the user logs in and answered when the login resumes.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use time::OffsetDateTime;

use super::attributes::{loa_uri, release, Subject};
use super::checks::{self, CheckContext, Decisions};
use super::engine::{SamlIdp, WaitingRequest};
use super::error::SamlError;
use super::inbound::Received;
use super::name_id::name_id;
use super::registry::ServiceProvider;
use super::request::Inbound;
use super::response::{error_response, status, success_response, AssertionContent, Protection};
use crate::audit::{AuditEvent, Outcome};
use crate::auth::IdentityError;
use crate::directory::Directory;
use crate::login::commission::{self, CommissionStep};
use crate::login::{
    admit_session, BindingSecret, Opening, Participant, ParticipantProtocol, PendingLogin,
    PendingLogins, Resume, SsoSession, SsoSessions,
};
use crate::metrics::Metrics;
use crate::storage::{insert_audit_event, Database};
use crate::tenants::NameIdFormat;

/// What the SAML engine needs from the running IdP for one request.
pub struct SamlContext<'a> {
    pub idp: &'a SamlIdp,
    pub sessions: &'a SsoSessions,
    pub pending: &'a PendingLogins,
    pub directory: &'a dyn Directory,
    pub db: &'a Database,
    pub metrics: &'a Metrics,
    pub now: OffsetDateTime,
    pub request_id: Option<String>,
    pub client_address: Option<String>,
    /// The browser's login binding cookie, if it has one (new logins share it).
    pub browser: Option<crate::login::BindingSecret>,
}

/// A message for the browser to post to a service provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostForm {
    pub action: String,
    pub fields: Vec<(&'static str, FieldValue)>,
}

/// A hidden field's value: the base64 of the IdP's own message, or text from elsewhere
/// (the SP's RelayState). Only base64 this type encoded itself, whose characters
/// (`A-Za-z0-9+/=`) need no escaping in an HTML attribute, is written unescaped: the
/// message is most of the page, ten kilobytes an escaper would otherwise scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldValue {
    value: String,
    is_base64: bool,
}

impl FieldValue {
    pub fn base64_of(bytes: &[u8]) -> Self {
        Self {
            value: BASE64.encode(bytes),
            is_base64: true,
        }
    }

    pub fn text(value: &str) -> Self {
        Self {
            value: value.to_owned(),
            is_base64: false,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// Whether the value is base64 this type encoded (nothing to escape).
    pub fn is_base64(&self) -> bool {
        self.is_base64
    }
}

impl PostForm {
    pub fn saml(
        action: &str,
        parameter: &'static str,
        xml: &str,
        relay_state: Option<&str>,
    ) -> Self {
        let mut fields = vec![(parameter, FieldValue::base64_of(xml.as_bytes()))];
        if let Some(relay_state) = relay_state {
            fields.push(("RelayState", FieldValue::text(relay_state)));
        }
        Self {
            action: action.to_owned(),
            fields,
        }
    }
}

#[derive(Debug)]
pub enum Answer {
    /// Post this to the SP.
    Post(PostForm),
    /// Redirect to this URL (a Redirect-binding message).
    Redirect(String),
    /// The user must log in first: show the login page for this pending login.
    Login {
        login: PendingLogin,
        secret: BindingSecret,
    },
    /// The user chooses a commission first: show the choice page for this pending
    /// login (already authenticated); `secret` is set when the browser needs a new
    /// binding cookie for it.
    Commission {
        login: PendingLogin,
        secret: Option<BindingSecret>,
    },
}

impl SamlContext<'_> {
    /// Records `event`; `Err` when it is neither written nor kept (the audit buffer is
    /// full while the database is down), for the callers that must then fail closed.
    pub(crate) async fn audit(&self, mut event: AuditEvent) -> Result<(), SamlError> {
        event.request_id = self.request_id.clone();
        event.client_address = self.client_address.clone();
        insert_audit_event(self.db, &event).await.map_err(|e| {
            tracing::error!(code = e.code(), error = %e, "audit record could not be written");
            self.metrics.record_event("audit_write_failed");
            SamlError::Audit(e)
        })
    }

    /// Audits a refused SAML message (the issuer, if known, and the stable code).
    pub async fn audit_refusal(
        &self,
        event: &str,
        sp: Option<&ServiceProvider>,
        error: &SamlError,
    ) {
        let mut record = AuditEvent::new(event, Outcome::Failure, self.now);
        record.code = Some(error.code().to_owned());
        if let Some(sp) = sp {
            record.tenant_id = Some(sp.tenant.id.to_string());
            record.application_id = Some(sp.config.id.to_string());
        }
        self.metrics.record_event(&format!(
            "saml_refused_{}",
            error.code().to_ascii_lowercase()
        ));
        // A refusal is answered whether or not its record could be kept.
        let _ = self.audit(record).await;
    }
}

/// Handles an AuthnRequest from either binding.
pub async fn authn_request(
    ctx: &SamlContext<'_>,
    received: &Received,
    sso_cookie: Option<&str>,
) -> Result<Answer, SamlError> {
    let Inbound::AuthnRequest(request) = &received.message else {
        return Err(SamlError::Malformed(super::request::ParseError(
            "expected an AuthnRequest".into(),
        )));
    };
    let sp = ctx
        .idp
        .registry()
        .get(&request.issuer)
        .ok_or(SamlError::UnknownSp)?;
    let result = checked_request(ctx, &sp, received, request, sso_cookie).await;
    if let Err(e) = &result {
        ctx.audit_refusal("saml-authn-request", Some(&sp), e).await;
    }
    result
}

async fn checked_request(
    ctx: &SamlContext<'_>,
    sp: &ServiceProvider,
    received: &Received,
    request: &super::request::AuthnRequest,
    sso_cookie: Option<&str>,
) -> Result<Answer, SamlError> {
    if sp.is_metadata_missing {
        return Err(SamlError::MetadataUnavailable);
    }
    let check_context = CheckContext {
        sp,
        received,
        request,
        config: &ctx.idp.config,
        endpoint_url: &ctx.idp.sso_url,
        deliverable: &ctx.idp.deliverable_loas,
        now: ctx.now,
    };
    let mut decisions = Decisions::default();
    checks::protect(&check_context, &mut decisions)?;
    let acs = decisions.acs.clone().ok_or(SamlError::AcsNotRegistered)?;
    if !ctx
        .idp
        .is_first_use("authn", &sp.entity_id, &request.id)
        .await?
    {
        return Err(SamlError::Replayed);
    }
    let relay_state = received.relay_state.as_deref();
    if let Err(e) = checks::judge(&check_context, &mut decisions) {
        return status_answer(ctx, &acs.location_raw, Some(&request.id), relay_state, &e).await;
    }
    let waiting = WaitingRequest {
        sp_entity_id: sp.entity_id.clone(),
        request_id: request.id.clone(),
        acs_url: acs.location_raw.clone(),
        relay_state: received.relay_state.clone(),
        name_id_format: decisions
            .name_id_format
            .unwrap_or(NameIdFormat::Persistent)
            .uri()
            .to_owned(),
        acceptable_loas: decisions.acceptable_loas.clone(),
    };

    let session = match sso_cookie {
        Some(id) if id.len() <= crate::login::MAX_ID_LENGTH => {
            ctx.sessions.use_current(id, ctx.now).await?
        }
        _ => None,
    };
    let reusable =
        session.filter(|s| !request.force_authn && waiting.acceptable_loas.contains(&s.loa));
    match reusable {
        Some(session) => respond(ctx, sp, &waiting, &session, None).await,
        None if request.is_passive => {
            status_answer(
                ctx,
                &waiting.acs_url,
                Some(&request.id),
                relay_state,
                &SamlError::NoPassive,
            )
            .await
        }
        None => {
            let (login, secret) = park(ctx, sp, &waiting, None).await?;
            Ok(Answer::Login { login, secret })
        }
    }
}

/// A signed error response to a verified ACS.
pub async fn status_answer(
    ctx: &SamlContext<'_>,
    acs_url: &str,
    in_response_to: Option<&str>,
    relay_state: Option<&str>,
    error: &SamlError,
) -> Result<Answer, SamlError> {
    let (top, second) = error.status().ok_or(SamlError::Unsupported("status"))?;
    let xml = error_response(
        &ctx.idp.entity_id,
        acs_url,
        in_response_to,
        ctx.now,
        status(top, Some(second), Some(&error.to_string())),
        &ctx.idp.key,
    )?;
    Ok(Answer::Post(PostForm::saml(
        acs_url,
        "SAMLResponse",
        &xml,
        relay_state,
    )))
}

/// Where a login parked for a SAML request comes back to: `RESUME_PATH?login=<id>`.
pub const RESUME_PATH: &str = "/saml/resume";
/// The resume path's parameter that names the pending login.
pub const RESUME_PARAMETER: &str = "login";

/// Resumes a parked request once `login` (already checked to belong to this browser)
/// has been authenticated: exactly one response per request.
pub async fn resume(
    ctx: &SamlContext<'_>,
    login: &PendingLogin,
    sso_cookie: Option<&str>,
) -> Result<Answer, SamlError> {
    let session_id = login
        .authenticated_session
        .as_deref()
        .ok_or(SamlError::LoginExpired)?;
    if sso_cookie != Some(session_id) {
        return Err(SamlError::LoginExpired);
    }
    let waiting = ctx
        .idp
        .waiting
        .take(&login.id)
        .await?
        .ok_or(SamlError::LoginExpired)?;
    let session = ctx
        .sessions
        .find_current(session_id, ctx.now)
        .await?
        .ok_or(SamlError::LoginExpired)?;
    let sp = ctx
        .idp
        .registry()
        .get(&waiting.sp_entity_id)
        .ok_or(SamlError::UnknownSp)?;
    let result = respond(ctx, &sp, &waiting, &session, Some(login)).await;
    if let Err(e) = &result {
        ctx.audit_refusal("saml-response", Some(&sp), e).await;
    }
    result
}

/// The user chose to go back to the service without logging in: the SP hears
/// `Responder` / `http://id.elegnamnden.se/status/1.0/cancel`.
pub async fn cancel(ctx: &SamlContext<'_>, login: &PendingLogin) -> Result<Answer, SamlError> {
    let waiting = ctx
        .idp
        .waiting
        .take(&login.id)
        .await?
        .ok_or(SamlError::LoginExpired)?;
    if let Some(sp) = ctx.idp.registry().get(&waiting.sp_entity_id) {
        ctx.audit_refusal("saml-authn-request", Some(&sp), &SamlError::Cancelled)
            .await;
    }
    status_answer(
        ctx,
        &waiting.acs_url,
        Some(&waiting.request_id),
        waiting.relay_state.as_deref(),
        &SamlError::Cancelled,
    )
    .await
}

/// The response for `waiting` from `session` (`login`: the pending login it resumes, if
/// it was parked for one).
async fn respond(
    ctx: &SamlContext<'_>,
    sp: &ServiceProvider,
    waiting: &WaitingRequest,
    session: &SsoSession,
    login: Option<&PendingLogin>,
) -> Result<Answer, SamlError> {
    let relay_state = waiting.relay_state.as_deref();
    let application = sp.application().ok_or(SamlError::UserNotAllowed)?;
    let (person, admission) = admit_session(
        ctx.directory,
        &sp.snapshot.tenants,
        &sp.tenant,
        &application,
        session,
    )
    .await
    .map_err(|e| match e {
        IdentityError::Directory(_) => SamlError::Directory,
        _ => SamlError::UserNotAllowed,
    })?;
    if !waiting.acceptable_loas.contains(&session.loa) {
        return status_answer(
            ctx,
            &waiting.acs_url,
            Some(&waiting.request_id),
            relay_state,
            &SamlError::NoAuthnContext,
        )
        .await;
    }
    // Under another organisation's grant, only what that organisation allows.
    let released: Vec<_> = sp
        .release()
        .iter()
        .copied()
        .filter(|attribute| admission.allows(*attribute))
        .collect();
    let commission = match commission::step(
        sp.config.commission,
        released.iter().any(|a| a.is_commission()),
        &admission.employment,
        session.commission_for(&sp.application_key()),
    ) {
        CommissionStep::Use(commission) => commission,
        CommissionStep::Missing => return Err(SamlError::NoCommission),
        CommissionStep::Choose => {
            return ask_for_commission(ctx, sp, waiting, session, login).await
        }
    };
    let attributes = release(
        sp.profile(),
        &released,
        &Subject {
            person: &person,
            employment: &admission.employment,
            commission,
            loa: session.loa,
            method: session.method,
        },
    );
    let format =
        NameIdFormat::from_uri(&waiting.name_id_format).unwrap_or(NameIdFormat::Persistent);
    let name_id = name_id(
        format,
        &ctx.idp.config.pseudonym_secret,
        &person.id,
        &sp.entity_id,
    );
    let content = AssertionContent {
        idp_entity_id: &ctx.idp.entity_id,
        sp_entity_id: &sp.entity_id,
        in_response_to: Some(&waiting.request_id),
        acs_url: &waiting.acs_url,
        now: ctx.now,
        lifetime: ctx.idp.lifetime(),
        name_id: &name_id,
        name_id_format: format.uri(),
        session_index: &session.sid,
        authn_instant: OffsetDateTime::from_unix_timestamp(session.authenticated_at)
            .unwrap_or(ctx.now),
        loa_uri: loa_uri(sp.profile(), session.loa),
        attributes: &attributes,
    };
    let protection = Protection {
        key: ctx.idp.key_for(sp),
        sign: sp.signed_parts(),
        encrypt: sp
            .encryption()
            .map_err(super::response::ResponseError::from)?,
    };
    let xml = success_response(&content, &protection)?;
    ctx.sessions
        .add_participant(
            session,
            Participant {
                application: sp.application_key(),
                protocol: ParticipantProtocol::Saml {
                    sp_entity_id: sp.entity_id.clone(),
                    name_id: name_id.clone(),
                    name_id_format: format.uri().to_owned(),
                },
            },
        )
        .await?;
    let mut record = AuditEvent::new("saml-response", Outcome::Success, ctx.now);
    record.tenant_id = Some(sp.tenant.id.to_string());
    record.application_id = Some(sp.config.id.to_string());
    record.person_id = Some(session.person_id.clone());
    record.employee_hsa_id = Some(admission.employment.hsa_id.to_string());
    record.method = Some(session.method.as_str().to_owned());
    record.detail = commission.map(|c| format!("commission={}", c.hsa_id));
    ctx.audit(record).await?;
    ctx.metrics.record_event("saml_response");
    tracing::info!(sp = %sp.entity_id, tenant = %sp.tenant.id, loa = session.loa.level(), "SAML response issued");
    Ok(Answer::Post(PostForm::saml(
        &waiting.acs_url,
        "SAMLResponse",
        &xml,
        relay_state,
    )))
}

/// Parks `waiting` under a pending login authenticated by `session` (the one it
/// resumed, or a new one for a request answered from single sign-on) and sends the
/// browser to the commission choice, which resumes it.
async fn ask_for_commission(
    ctx: &SamlContext<'_>,
    sp: &ServiceProvider,
    waiting: &WaitingRequest,
    session: &SsoSession,
    login: Option<&PendingLogin>,
) -> Result<Answer, SamlError> {
    match login {
        Some(login) => {
            ctx.idp.waiting.put(&login.id, waiting).await?;
            Ok(Answer::Commission {
                login: login.clone(),
                secret: None,
            })
        }
        None => {
            let (login, secret) = park(ctx, sp, waiting, Some(&session.id)).await?;
            Ok(Answer::Commission {
                login,
                secret: Some(secret),
            })
        }
    }
}

/// Opens a pending login for `sp` that resumes at `/saml/resume` (already authenticated
/// by the SSO session `authenticated_by`, if given) and parks `waiting` under it.
async fn park(
    ctx: &SamlContext<'_>,
    sp: &ServiceProvider,
    waiting: &WaitingRequest,
    authenticated_by: Option<&str>,
) -> Result<(PendingLogin, BindingSecret), SamlError> {
    let opening = Opening {
        tenant_id: sp.tenant.id.clone(),
        application_id: sp.config.id.clone(),
        resume: Resume::WithLoginId(RESUME_PATH, RESUME_PARAMETER),
        browser: ctx.browser.as_ref(),
        authenticated_session: authenticated_by.map(str::to_owned),
        expected_person_id: None,
    };
    let waiting_requests = &ctx.idp.waiting;
    Ok(ctx
        .pending
        .open_parking(opening, |login| waiting_requests.entry(&login.id, waiting))
        .await?)
}
