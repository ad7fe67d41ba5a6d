//! One way to finish a certificate login, whatever carried the certificate (TLS
//! handshake, trusted proxy header, mobile app): validate, map the identity for the
//! application asking, create the SSO session, write the audit record, count it.

use rustls::pki_types::CertificateDer;
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::{LoginMethod, PendingLogin, PendingLogins, SsoSession, SsoSessions};
use crate::audit::{AuditEvent, Outcome};
use crate::auth::error::Explanation;
use crate::auth::revocation::{RevocationError, RevocationOutcome};
use crate::auth::{map_identity, CertError, CertificateValidator, IdentityError, LoginIdentity};
use crate::directory::Directory;
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::session::StoreError;
use crate::storage::{insert_audit_event, Database};
use std::sync::Arc;

/// What a login needs from the running IdP.
#[derive(Clone)]
pub struct LoginContext<'a> {
    pub validator: &'a CertificateValidator,
    pub directory: &'a dyn Directory,
    /// The registry snapshot this login uses throughout.
    pub registry: Arc<Registry>,
    pub sessions: &'a SsoSessions,
    pub pending: &'a PendingLogins,
    pub db: &'a Database,
    pub metrics: &'a Metrics,
    pub now: OffsetDateTime,
    pub method: LoginMethod,
    pub client_address: Option<String>,
    pub request_id: Option<String>,
}

#[derive(Debug)]
pub struct LoginSuccess {
    pub session: SsoSession,
    pub identity: LoginIdentity,
    /// The pending login this completed, if any.
    pub pending: Option<PendingLogin>,
}

#[derive(Debug, thiserror::Error)]
pub enum LoginFailure {
    #[error(transparent)]
    Certificate(#[from] CertError),
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error("the login has expired or is unknown")]
    LoginExpired,
    #[error("the certificate belongs to another person than the one logging in")]
    DifferentPerson,
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The login could not be recorded (the database is down and the audit buffer
    /// full): no login without its record.
    #[error(transparent)]
    Audit(crate::storage::StorageError),
}

impl LoginFailure {
    pub fn code(&self) -> &'static str {
        match self {
            LoginFailure::Certificate(e) => e.code(),
            LoginFailure::Identity(e) => e.code(),
            LoginFailure::LoginExpired => "LOGIN_EXPIRED",
            LoginFailure::DifferentPerson => "USER_MISMATCH",
            LoginFailure::Store(e) => e.code(),
            LoginFailure::Audit(e) => e.code(),
        }
    }

    pub fn explain(&self, language: &str) -> Explanation {
        match self {
            LoginFailure::Certificate(e) => e.explain(language),
            LoginFailure::Identity(e) => e.explain(language),
            LoginFailure::LoginExpired if language == "en" => Explanation {
                title: "The login has expired",
                detail: "Too much time passed, or the login was started in another browser. Go back to the service and start again.",
            },
            LoginFailure::LoginExpired => Explanation {
                title: "Inloggningen har gått ut",
                detail: "Det gick för lång tid, eller så startades inloggningen i en annan webbläsare. Gå tillbaka till tjänsten och börja om.",
            },
            LoginFailure::DifferentPerson if language == "en" => Explanation {
                title: "Another person's certificate",
                detail: "This login must be completed by the person who started it. Use your own certificate, or start again.",
            },
            LoginFailure::DifferentPerson => Explanation {
                title: "Någon annans certifikat",
                detail: "Inloggningen måste slutföras av personen som började den. Använd ditt eget certifikat, eller börja om.",
            },
            LoginFailure::Store(_) | LoginFailure::Audit(_) if language == "en" => Explanation {
                title: "Temporary error",
                detail: "The login service could not save your login just now. Try again in a moment.",
            },
            LoginFailure::Store(_) | LoginFailure::Audit(_) => Explanation {
                title: "Tillfälligt fel",
                detail: "Inloggningstjänsten kunde inte spara din inloggning just nu. Försök igen om en stund.",
            },
        }
    }

    /// Whether the fault is ours (5xx) rather than the user's certificate or rights.
    pub fn is_server_fault(&self) -> bool {
        matches!(
            self,
            LoginFailure::Store(_)
                | LoginFailure::Audit(_)
                | LoginFailure::Identity(IdentityError::Directory(_))
                | LoginFailure::Certificate(CertError::Revocation(
                    RevocationError::Unavailable { .. }
                ))
        )
    }
}

/// Serial and issuer of the presented leaf, when it parses, for the audit record.
fn leaf_facts(chain: &[CertificateDer<'_>]) -> (Option<String>, Option<String>) {
    chain
        .first()
        .and_then(|der| X509Certificate::from_der(der.as_ref()).ok())
        .map(|(_, cert)| {
            (
                Some(cert.raw_serial_as_string().replace(':', "").to_uppercase()),
                Some(cert.issuer().to_string()),
            )
        })
        .unwrap_or((None, None))
}

pub async fn complete_certificate_login(
    ctx: &LoginContext<'_>,
    chain: &[CertificateDer<'_>],
    pending_login_id: Option<&str>,
) -> Result<LoginSuccess, LoginFailure> {
    let mut audit = AuditEvent::new("login", Outcome::Failure, ctx.now);
    audit.method = Some(ctx.method.as_str().to_owned());
    audit.client_address = ctx.client_address.clone();
    audit.request_id = ctx.request_id.clone();

    let mut result = attempt(ctx, chain, pending_login_id, &mut audit).await;
    if audit.certificate_serial.is_none() {
        // Refused before its validation said what it is: read it for the record.
        (audit.certificate_serial, audit.certificate_issuer) = leaf_facts(chain);
    }
    match &result {
        Ok(success) => {
            audit.outcome = Outcome::Success;
            audit.person_id = Some(success.session.person_id.clone());
            audit.employee_hsa_id = Some(success.session.employee_hsa_id.to_string());
        }
        Err(failure) => audit.code = Some(failure.code().to_owned()),
    }
    if let Err(e) = insert_audit_event(ctx.db, &audit).await {
        // Neither written nor kept: fail closed (no login without its record).
        tracing::error!(code = e.code(), error = %e, "audit record could not be written");
        ctx.metrics.record_event("audit_write_failed");
        if let Ok(success) = &result {
            let _ = ctx.sessions.delete(&success.session.id).await;
            result = Err(LoginFailure::Audit(e));
        }
    }
    match &result {
        Ok(success) => {
            record_login(
                ctx,
                &audit,
                "success",
                success.pending.as_ref().and_then(|p| p.age(ctx.now)),
            );
            tracing::info!(
                method = ctx.method.as_str(),
                tenant = %success.identity.tenant.id,
                loa = success.session.loa.level(),
                "login succeeded"
            );
        }
        Err(failure) => {
            record_login(ctx, &audit, failure.code(), None);
            tracing::info!(
                method = ctx.method.as_str(),
                code = failure.code(),
                "login refused"
            );
        }
    }
    result
}

/// Counts the login by the application its audit record names.
fn record_login(
    ctx: &LoginContext<'_>,
    audit: &AuditEvent,
    result: &str,
    elapsed: Option<std::time::Duration>,
) {
    ctx.metrics.record_login(&crate::metrics::LoginRecord {
        tenant: audit.tenant_id.as_deref(),
        application: audit.application_id.as_deref(),
        method: ctx.method.as_str(),
        result,
        elapsed,
    });
}

async fn attempt(
    ctx: &LoginContext<'_>,
    chain: &[CertificateDer<'_>],
    pending_login_id: Option<&str>,
    audit: &mut AuditEvent,
) -> Result<LoginSuccess, LoginFailure> {
    let pending = match pending_login_id {
        Some(id) => Some(
            ctx.pending
                .find(id)
                .await?
                .ok_or(LoginFailure::LoginExpired)?,
        ),
        None => None,
    };
    let target = match &pending {
        Some(login) => {
            audit.tenant_id = Some(login.tenant_id.to_string());
            audit.application_id = Some(login.application_id.to_string());
            let tenant = ctx
                .registry
                .tenants
                .get(&login.tenant_id)
                .ok_or(LoginFailure::LoginExpired)?;
            let application = tenant
                .applications()
                .find(|a| *a.id == login.application_id)
                .ok_or(LoginFailure::LoginExpired)?;
            Some((tenant.clone(), application.id.clone()))
        }
        None => None,
    };

    let certificate = ctx.validator.validate(chain, ctx.now).await?;
    audit.certificate_serial = Some(certificate.serial_hex.clone());
    audit.certificate_issuer = Some(certificate.issuer_dn.clone());
    audit.certificate_type = Some(certificate.certificate_type.as_str().to_owned());
    // The issuer says which ways of logging in its certificates are for (a smart card's
    // certificate completing a mobile login is refused, and never recorded as one).
    if !certificate.methods.contains(&ctx.method.kind()) {
        return Err(crate::auth::CertError::MethodNotAllowed.into());
    }
    if let RevocationOutcome::FailedOpen { detail } = &certificate.revocation {
        tracing::warn!(issuer = %certificate.issuer_name, detail = %detail, "revocation status unknown; allowed by fail-open policy");
        ctx.metrics.record_event("revocation_fail_open");
        let mut event = AuditEvent::new("revocation-fail-open", Outcome::Success, ctx.now);
        event.method = audit.method.clone();
        event.certificate_serial = Some(certificate.serial_hex.clone());
        event.certificate_issuer = Some(certificate.issuer_dn.clone());
        event.request_id = ctx.request_id.clone();
        event.detail = Some(detail.clone());
        if let Err(e) = insert_audit_event(ctx.db, &event).await {
            tracing::error!(code = e.code(), error = %e, "audit record could not be written");
        }
    }

    let identity = match &target {
        Some((tenant, application_id)) => {
            let application = tenant
                .applications()
                .find(|a| a.id == application_id)
                .ok_or(LoginFailure::LoginExpired)?;
            map_identity(
                ctx.directory,
                &ctx.registry.tenants,
                &certificate,
                Some((tenant, &application)),
            )
            .await?
        }
        None => map_identity(ctx.directory, &ctx.registry.tenants, &certificate, None).await?,
    };

    let expected = pending
        .as_ref()
        .and_then(|p| p.expected_person_id.as_deref());
    if expected.is_some_and(|person_id| person_id != identity.person.id) {
        return Err(LoginFailure::DifferentPerson);
    }

    let session = ctx
        .sessions
        .create(SsoSession {
            id: String::new(),
            person_id: identity.person.id.clone(),
            display_name: identity.person.display_name(),
            employee_hsa_id: identity.employment.hsa_id.clone(),
            user_tenant: identity.tenant.id.clone(),
            loa: certificate.loa,
            method: ctx.method,
            authenticated_at: ctx.now.unix_timestamp(),
            certificate_serial: certificate.serial_hex.clone(),
            certificate_issuer: certificate.issuer_dn.clone(),
            issuer_name: Some(certificate.issuer_name.clone()),
            certificate_type: Some(certificate.certificate_type),
            is_employment_bound: identity.is_employment_bound,
            sid: String::new(),
            participants: Vec::new(),
            last_used_at: ctx.now.unix_timestamp(),
            idle_timeout_seconds: Some(
                ctx.sessions
                    .idle_timeouts()
                    .for_tenant(&identity.tenant)
                    .as_secs(),
            ),
            commissions: Vec::new(),
        })
        .await?;
    Ok(LoginSuccess {
        session,
        identity,
        pending: pending.map(|p| p.value),
    })
}
