//! The seam between the login pages and whoever runs the orders. The IdP's own
//! [`OrderEngine`] is one implementation; an external national service with the same
//! shape (start / collect / cancel over mutual TLS, BankID-RP-API-like) is added as
//! another, without touching the pages or the browser endpoints, which see only this trait.
//!
//! When an external backend's collect reports completion, it hands the certificate it
//! received to `login::complete_certificate_login` (the same engine and identity mapping;
//! hence the [`LoginContext`] on `collect`) and reports the SSO session in
//! [`Collect::session_id`]. `MobileBackends` (`router.rs`) picks the backend by the
//! pending login's tenant.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{Collect, MobileError, OrderDisplay, OrderEngine, StartedOrder};
use crate::login::{LoginContext, PendingLogin};
use crate::session::Stored;

/// What starting an order needs.
#[derive(Debug, Clone)]
pub struct StartRequest<'a> {
    pub login: &'a PendingLogin,
    pub display: OrderDisplay,
    /// The browser's address (an external service wants the end user's IP).
    pub end_user_ip: String,
    pub now: OffsetDateTime,
}

/// What the browser side may know of an order, and the order as read (for the
/// backend only: it holds the order's secrets, so `Debug` leaves it out).
#[derive(Clone, PartialEq, Eq)]
pub struct OrderSummary {
    pub order_ref: String,
    pub pending_login_id: String,
    pub display: OrderDisplay,
    pub autostart_token: String,
    /// The app that takes the order on this device, when it is not the IdP's own
    /// (`[mobile] app_link`): an external service's app.
    pub app_links: Option<AppLinks>,
    /// The order as the backend read it (its own encoding): [`MobileBackend::collect`]
    /// starts from it instead of reading the order again.
    pub stored: Vec<u8>,
}

/// How the page opens an app on this device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppLinks {
    /// Its scheme (Android and desktops).
    pub scheme: String,
    /// Its universal link (iPhone and iPad).
    pub universal: String,
}

impl std::fmt::Debug for OrderSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrderSummary")
            .field("order_ref", &self.order_ref)
            .field("pending_login_id", &self.pending_login_id)
            .field("display", &self.display)
            .field("app_links", &self.app_links)
            .finish_non_exhaustive()
    }
}

#[async_trait]
pub trait MobileBackend: Send + Sync + 'static {
    /// Starts an order for a pending login (cancelling that login's earlier order).
    async fn start(&self, request: StartRequest<'_>) -> Result<StartedOrder, MobileError>;
    /// The QR content to show now; `None` once the order no longer waits for an app.
    async fn current_qr(
        &self,
        order_ref: &str,
        now: OffsetDateTime,
    ) -> Result<Option<String>, MobileError>;
    /// The browser's poll (at `ctx.now`) of the order `summary` read (after the caller
    /// checked that the order is this browser's); a completion found here is finished
    /// through `ctx` (certificate engine, identity, SSO session, audit).
    async fn collect(
        &self,
        ctx: &LoginContext<'_>,
        order: &OrderSummary,
    ) -> Result<Collect, MobileError>;
    async fn cancel(&self, order_ref: &str) -> Result<(), MobileError>;
    async fn summary(&self, order_ref: &str) -> Result<Option<OrderSummary>, MobileError>;
}

#[async_trait]
impl MobileBackend for OrderEngine {
    async fn start(&self, request: StartRequest<'_>) -> Result<StartedOrder, MobileError> {
        OrderEngine::start(self, &request.login.id, request.display, request.now).await
    }

    async fn current_qr(
        &self,
        order_ref: &str,
        now: OffsetDateTime,
    ) -> Result<Option<String>, MobileError> {
        OrderEngine::current_qr(self, order_ref, now).await
    }

    async fn collect(
        &self,
        ctx: &LoginContext<'_>,
        order: &OrderSummary,
    ) -> Result<Collect, MobileError> {
        let order = OrderEngine::decode(order.stored.clone())?;
        self.collect_order(order, ctx.now).await
    }

    async fn cancel(&self, order_ref: &str) -> Result<(), MobileError> {
        OrderEngine::cancel(self, order_ref).await
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
                app_links: None,
                stored: bytes,
            }))
    }
}
