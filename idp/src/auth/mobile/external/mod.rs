//! A [`MobileBackend`] that is a relying party of an external national mobile eID
//! service with the shape of the BankID RP API v6 (docs/operations.md, "National eID
//! service"): the order is started at the service (`auth`), the animated QR code is
//! computed here from its `qrStartToken`/`qrStartSecret`, each browser poll asks the
//! service (`collect`), and a completion's certificate chain goes through the same
//! certificate engine, identity mapping, SSO session and audit as every login
//! (`login::complete_certificate_login`). The order state lives in the session store.
//!
//! Before the engine, the user's signature in the completion is verified with the
//! certificate's key: it proves that the holder of that key approved *this* order (the
//! service's orderRef and the text the IdP asked it to show), so that a service fault
//! cannot hand one user's certificate to another login. It cannot prove more than the
//! service's app: a service that held users' keys could sign anything.

mod client;
mod error;
mod order;

pub use client::{signed_message, ClientSetupError, RpClient};
pub use error::ServiceError;

use async_trait::async_trait;
use base64::Engine as _;
use rustls::pki_types::CertificateDer;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

use self::client::{AuthRequest, CompletionData, ServiceStatus};
use self::order::{failed_hint, pending_hint, ExternalOrder, ExternalState};
use super::backend::{MobileBackend, OrderSummary, StartRequest};
use super::{qr, signature, Collect, Hint, MobileError, StartedOrder, Status};
use crate::login::{complete_certificate_login, LoginContext, LoginMethod};
use crate::metrics::Metrics;
use crate::session::{random_key, Namespace, SharedStore, StoreError, Stored};

/// The QR prefix of the BankID-shaped service's app.
pub const SERVICE_QR_PREFIX: &str = "bankid";

const MAX_CHAIN: usize = 8;
const MAX_CERT_BASE64: usize = 16 * 1024;
const MAX_TOKEN: usize = 256;

/// How one external service is used.
#[derive(Debug, Clone)]
pub struct ExternalSettings {
    pub name: String,
    /// The IdP's own limit on an order (the service's lifetime should end it first).
    pub lifetime: Duration,
    /// `userVisibleData` template (`{application}`, `{organisation}`); empty: none.
    pub user_visible_data: String,
    /// Raw subject DER of the issuing CAs whose certificates the service may deliver;
    /// empty: any the trust configuration accepts.
    pub allowed_issuers: Vec<Vec<u8>>,
    /// The service's app, for the page's "app on this device".
    pub app_links: super::AppLinks,
    /// At most one collect per order in this time (zero: every poll asks).
    pub min_collect_interval: Duration,
}

#[derive(Clone)]
pub struct ExternalBackend {
    settings: ExternalSettings,
    client: RpClient,
    store: SharedStore,
    metrics: Arc<Metrics>,
}

fn millis(now: OffsetDateTime) -> i64 {
    i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn decode_error(e: impl std::fmt::Display) -> MobileError {
    MobileError::Store(StoreError::Decode(e.to_string()))
}

fn is_token(value: &str) -> bool {
    !value.is_empty() && value.len() <= MAX_TOKEN && !value.contains('.')
}

impl ExternalBackend {
    pub fn new(
        settings: ExternalSettings,
        client: RpClient,
        store: SharedStore,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            settings,
            client,
            store,
            metrics,
        }
    }

    /// A failed call: logged (no personal data) and counted
    /// (`idp_events_total{event="national_eid_unavailable"}`, …), then the step's error.
    fn service_failed(&self, step: &'static str, e: ServiceError) -> MobileError {
        tracing::warn!(service = %self.settings.name, step, code = e.code(), error = %e, "a call to the national eID service failed");
        self.metrics.record_event(&format!(
            "national_eid_{}",
            e.code()
                .trim_start_matches("NATIONAL_EID_")
                .to_ascii_lowercase()
        ));
        MobileError::Service(e)
    }

    pub fn name(&self) -> &str {
        &self.settings.name
    }

    fn ttl(&self) -> Duration {
        self.settings.lifetime + Duration::from_secs(60)
    }

    async fn find(&self, order_ref: &str) -> Result<Option<ExternalOrder>, MobileError> {
        Ok(self
            .find_stored(order_ref)
            .await?
            .map(|stored| stored.value))
    }

    /// The order with the bytes it is stored as, which a state change compares (as the
    /// own engine's orders: `OrderEngine::find_stored`).
    async fn find_stored(
        &self,
        order_ref: &str,
    ) -> Result<Option<Stored<ExternalOrder>>, MobileError> {
        let Some(bytes) = self
            .store
            .get(Namespace::MobileOrder, &format!("x:{order_ref}"))
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(Self::decode(bytes)?))
    }

    fn decode(bytes: Vec<u8>) -> Result<Stored<ExternalOrder>, MobileError> {
        let value = serde_json::from_slice(&bytes).map_err(decode_error)?;
        Ok(Stored { value, bytes })
    }

    /// Moves the order as read (`current`) to `state` if nobody changed it meanwhile.
    async fn transition(
        &self,
        current: &Stored<ExternalOrder>,
        state: ExternalState,
    ) -> Result<Option<Stored<ExternalOrder>>, MobileError> {
        let mut value = current.value.clone();
        value.state = state;
        let next = Stored {
            bytes: serde_json::to_vec(&value).map_err(decode_error)?,
            value,
        };
        let swapped = self
            .store
            .replace_if(
                Namespace::MobileOrder,
                &format!("x:{}", current.value.order_ref),
                &current.bytes,
                &next.bytes,
                self.ttl(),
            )
            .await?;
        Ok(swapped.then_some(next))
    }

    /// The order now: moved by `state` if it is unchanged, else as another poll left it.
    async fn settle(
        &self,
        current: &Stored<ExternalOrder>,
        state: ExternalState,
    ) -> Result<Stored<ExternalOrder>, MobileError> {
        match self.transition(current, state).await? {
            Some(next) => Ok(next),
            None => self
                .find_stored(&current.value.order_ref)
                .await?
                .ok_or(MobileError::OrderNotFound),
        }
    }

    /// The IdP's own deadline: an order still open after the lifetime has expired,
    /// whatever the service says.
    async fn with_deadline(
        &self,
        order: Stored<ExternalOrder>,
        now: OffsetDateTime,
    ) -> Result<Stored<ExternalOrder>, MobileError> {
        let age = millis(now).saturating_sub(order.value.started_at_ms);
        let open = matches!(
            order.value.state,
            ExternalState::Pending { .. } | ExternalState::Completing
        );
        let lifetime = i64::try_from(self.settings.lifetime.as_millis()).unwrap_or(i64::MAX);
        if open && age > lifetime {
            let expired = ExternalState::Failed {
                hint: Hint::ExpiredTransaction,
                code: None,
            };
            return self.settle(&order, expired).await;
        }
        Ok(order)
    }

    fn user_visible_data(&self, display: &super::OrderDisplay) -> Option<String> {
        let template = &self.settings.user_visible_data;
        if template.is_empty() {
            return None;
        }
        let text = template
            .replace("{application}", &display.application_sv)
            .replace("{organisation}", &display.organisation_sv);
        Some(base64::engine::general_purpose::STANDARD.encode(text))
    }

    fn report(order: &ExternalOrder) -> Collect {
        let (status, hint, code, session_id) = match &order.state {
            ExternalState::Pending { hint } => (Status::Pending, Some(*hint), None, None),
            ExternalState::Completing => (Status::Pending, Some(Hint::UserSign), None, None),
            ExternalState::Complete { session_id } => {
                (Status::Complete, None, None, Some(session_id.clone()))
            }
            ExternalState::Failed { hint, code } => {
                (Status::Failed, Some(*hint), code.clone(), None)
            }
        };
        Collect {
            status,
            hint,
            code,
            session_id,
            pending_login_id: order.pending_login_id.clone(),
        }
    }

    /// A completion becomes a login: decode, issuer, signature, then the certificate
    /// engine. The state it ends in (complete, or failed with the refusal's code).
    async fn finish(
        &self,
        ctx: &LoginContext<'_>,
        order: &ExternalOrder,
        data: &CompletionData,
    ) -> ExternalState {
        let refused = |code: &str| ExternalState::Failed {
            hint: Hint::CertificateErr,
            code: Some(code.to_owned()),
        };
        let b64 = base64::engine::general_purpose::STANDARD;
        let decoded = (data.certificate_chain.len() <= MAX_CHAIN
            && data.signature.len() <= MAX_CERT_BASE64)
            .then(|| {
                data.certificate_chain
                    .iter()
                    .filter(|c| c.len() <= MAX_CERT_BASE64)
                    .map(|c| b64.decode(c).ok().map(CertificateDer::from))
                    .collect::<Option<Vec<_>>>()
                    .filter(|chain| chain.len() == data.certificate_chain.len())
                    .zip(b64.decode(&data.signature).ok())
            })
            .flatten();
        let Some((chain, signature_bytes)) = decoded.filter(|(chain, _)| !chain.is_empty()) else {
            tracing::warn!(service = %self.settings.name, "completion data without a readable certificate chain or signature");
            self.metrics.record_event("national_eid_protocol");
            return refused("NATIONAL_EID_PROTOCOL");
        };
        let leaf = chain.first().map(|c| c.as_ref()).unwrap_or_default();
        if !self.is_allowed_issuer(leaf) {
            tracing::warn!(service = %self.settings.name, "the service delivered a certificate of an issuer it may not");
            return refused("NATIONAL_EID_ISSUER_NOT_ALLOWED");
        }
        let message = signed_message(&order.service_order_ref, order.user_visible_data.as_deref());
        let possession = match signature::verify(
            leaf,
            &data.signature_algorithm,
            &message,
            &signature_bytes,
        ) {
            Ok(possession) => possession,
            Err(error) => {
                tracing::warn!(service = %self.settings.name, code = error.code(), "the completion's signature does not verify");
                return refused(error.code());
            }
        };
        let ctx = LoginContext {
            method: LoginMethod::NationalEid,
            ..ctx.clone()
        };
        match complete_certificate_login(&ctx, &chain, Some(&order.pending_login_id)).await {
            Ok(success) if possession == signature::Possession::Uncheckable => {
                let _ = ctx.sessions.delete(&success.session.id).await;
                refused(MobileError::SignatureInvalid.code())
            }
            Ok(success) => ExternalState::Complete {
                session_id: success.session.id,
            },
            Err(failure) => refused(failure.code()),
        }
    }

    fn is_allowed_issuer(&self, leaf: &[u8]) -> bool {
        use x509_parser::prelude::{FromDer, X509Certificate};
        if self.settings.allowed_issuers.is_empty() {
            return true;
        }
        X509Certificate::from_der(leaf).is_ok_and(|(_, certificate)| {
            let issuer = certificate.issuer().as_raw();
            self.settings
                .allowed_issuers
                .iter()
                .any(|allowed| allowed.as_slice() == issuer)
        })
    }
}

#[async_trait]
impl MobileBackend for ExternalBackend {
    async fn start(&self, request: StartRequest<'_>) -> Result<StartedOrder, MobileError> {
        let login_key = format!("xlogin:{}", request.login.id);
        if let Some(previous) = self.store.get(Namespace::MobileOrder, &login_key).await? {
            self.cancel(&String::from_utf8_lossy(&previous)).await?;
        }
        let user_visible_data = self.user_visible_data(&request.display);
        let started = self
            .client
            .auth(&AuthRequest {
                end_user_ip: request.end_user_ip.clone(),
                user_visible_data: user_visible_data.clone(),
            })
            .await
            .map_err(|e| self.service_failed("auth", e))?;
        let fields = [
            &started.order_ref,
            &started.auto_start_token,
            &started.qr_start_token,
            &started.qr_start_secret,
        ];
        if !fields.iter().all(|f| is_token(f)) {
            let e = ServiceError::Protocol("auth answered with an unusable token".into());
            return Err(self.service_failed("auth", e));
        }
        let order = ExternalOrder {
            order_ref: format!("{}.{}", self.settings.name, random_key()),
            service_order_ref: started.order_ref,
            pending_login_id: request.login.id.clone(),
            display: request.display,
            qr_start_token: started.qr_start_token,
            qr_start_secret: started.qr_start_secret,
            autostart_token: started.auto_start_token,
            user_visible_data,
            started_at_ms: millis(request.now),
            state: ExternalState::Pending {
                hint: Hint::OutstandingTransaction,
            },
        };
        let bytes = serde_json::to_vec(&order).map_err(decode_error)?;
        self.store
            .put(
                Namespace::MobileOrder,
                &format!("x:{}", order.order_ref),
                &bytes,
                self.ttl(),
            )
            .await?;
        self.store
            .put(
                Namespace::MobileOrder,
                &login_key,
                order.order_ref.as_bytes(),
                self.ttl(),
            )
            .await?;
        Ok(StartedOrder {
            order_ref: order.order_ref,
            autostart_token: order.autostart_token,
        })
    }

    async fn current_qr(
        &self,
        order_ref: &str,
        now: OffsetDateTime,
    ) -> Result<Option<String>, MobileError> {
        let order = self
            .find_stored(order_ref)
            .await?
            .ok_or(MobileError::OrderNotFound)?;
        let order = self.with_deadline(order, now).await?.value;
        if order.state
            != (ExternalState::Pending {
                hint: Hint::OutstandingTransaction,
            })
        {
            return Ok(None);
        }
        let age = millis(now).saturating_sub(order.started_at_ms) / 1000;
        Ok(Some(qr::service_qr_content(
            SERVICE_QR_PREFIX,
            &order.qr_start_token,
            &order.qr_start_secret,
            u64::try_from(age).unwrap_or(0),
        )))
    }

    async fn collect(
        &self,
        ctx: &LoginContext<'_>,
        summary: &OrderSummary,
    ) -> Result<Collect, MobileError> {
        let order_ref = summary.order_ref.as_str();
        let order = self
            .with_deadline(Self::decode(summary.stored.clone())?, ctx.now)
            .await?;
        if !matches!(order.value.state, ExternalState::Pending { .. }) {
            return Ok(Self::report(&order.value));
        }
        // One collect per order and interval, whichever node polls: a browser polling
        // faster (or many) does not become as many calls to the service.
        let interval = self.settings.min_collect_interval;
        if !interval.is_zero()
            && !self
                .store
                .insert_new(
                    Namespace::MobileOrder,
                    &format!("xpoll:{order_ref}"),
                    b"",
                    interval,
                )
                .await?
        {
            return Ok(Self::report(&order.value));
        }
        let answer = self
            .client
            .collect(&order.value.service_order_ref)
            .await
            .map_err(|e| self.service_failed("collect", e))?;
        let next = match answer.status {
            ServiceStatus::Pending => {
                let hint = pending_hint(answer.hint_code.as_deref());
                if order.value.state == (ExternalState::Pending { hint }) {
                    order
                } else {
                    self.settle(&order, ExternalState::Pending { hint }).await?
                }
            }
            ServiceStatus::Failed => {
                let (hint, code) = failed_hint(answer.hint_code.as_deref());
                let failed = ExternalState::Failed {
                    hint,
                    code: code.map(str::to_owned),
                };
                self.settle(&order, failed).await?
            }
            ServiceStatus::Complete => {
                let Some(data) = answer.completion_data else {
                    let e = ServiceError::Protocol("complete without completionData".into());
                    return Err(self.service_failed("collect", e));
                };
                // Of concurrent polls, exactly one finishes the login.
                let Some(completing) = self.transition(&order, ExternalState::Completing).await?
                else {
                    let now = self
                        .find(order_ref)
                        .await?
                        .ok_or(MobileError::OrderNotFound)?;
                    return Ok(Self::report(&now));
                };
                let state = self.finish(ctx, &completing.value, &data).await;
                self.settle(&completing, state).await?
            }
        };
        Ok(Self::report(&next.value))
    }

    async fn cancel(&self, order_ref: &str) -> Result<(), MobileError> {
        let Some(order) = self.find_stored(order_ref).await? else {
            return Ok(());
        };
        if !matches!(order.value.state, ExternalState::Pending { .. }) {
            return Ok(());
        }
        let cancelled = ExternalState::Failed {
            hint: Hint::Cancelled,
            code: None,
        };
        if self.transition(&order, cancelled).await?.is_some() {
            // Ours is cancelled whatever the service answers; its order ends by itself.
            if let Err(e) = self.client.cancel(&order.value.service_order_ref).await {
                let _ = self.service_failed("cancel", e);
            }
        }
        Ok(())
    }

    async fn summary(&self, order_ref: &str) -> Result<Option<OrderSummary>, MobileError> {
        Ok(self
            .find_stored(order_ref)
            .await?
            .map(|Stored { value, bytes }| OrderSummary {
                order_ref: value.order_ref,
                pending_login_id: value.pending_login_id,
                display: value.display,
                autostart_token: value.autostart_token,
                app_links: Some(self.settings.app_links.clone()),
                stored: bytes,
            }))
    }
}
