//! Which backend runs a login's orders: the tenant of the pending login decides
//! (`[[mobile.national_eid]] tenants`), every other tenant has the IdP's own engine. An
//! order reference names its backend (an external service's are `<service>.<random>`,
//! the own engine's have no dot), so every later step finds it on any node.

use async_trait::async_trait;
use std::collections::HashMap;
use time::OffsetDateTime;

use super::backend::{MobileBackend, OrderSummary, StartRequest};
use super::external::ExternalBackend;
use super::{Collect, MobileError, OrderEngine, StartedOrder};
use crate::ids::TenantId;
use crate::login::LoginContext;

pub struct MobileBackends {
    own: OrderEngine,
    services: Vec<ExternalBackend>,
    /// Tenant → index into `services`.
    by_tenant: HashMap<TenantId, usize>,
}

impl MobileBackends {
    pub fn new(own: OrderEngine) -> Self {
        Self {
            own,
            services: Vec::new(),
            by_tenant: HashMap::new(),
        }
    }

    /// Adds an external service serving `tenants`.
    pub fn with_service(mut self, service: ExternalBackend, tenants: &[TenantId]) -> Self {
        let index = self.services.len();
        for tenant in tenants {
            self.by_tenant.insert(tenant.clone(), index);
        }
        self.services.push(service);
        self
    }

    /// The name of the service serving `tenant`, `None` for the own engine.
    pub fn service_of(&self, tenant: &TenantId) -> Option<&str> {
        self.by_tenant
            .get(tenant)
            .and_then(|i| self.services.get(*i))
            .map(ExternalBackend::name)
    }

    fn for_order(&self, order_ref: &str) -> &dyn MobileBackend {
        match order_ref.split_once('.') {
            Some((name, _)) => self
                .services
                .iter()
                .find(|s| s.name() == name)
                .map_or(&self.own as &dyn MobileBackend, |s| s as &dyn MobileBackend),
            None => &self.own,
        }
    }
}

#[async_trait]
impl MobileBackend for MobileBackends {
    async fn start(&self, request: StartRequest<'_>) -> Result<StartedOrder, MobileError> {
        let service = self
            .by_tenant
            .get(&request.login.tenant_id)
            .and_then(|index| self.services.get(*index));
        match service {
            Some(service) => service.start(request).await,
            None => MobileBackend::start(&self.own, request).await,
        }
    }

    async fn current_qr(
        &self,
        order_ref: &str,
        now: OffsetDateTime,
    ) -> Result<Option<String>, MobileError> {
        self.for_order(order_ref).current_qr(order_ref, now).await
    }

    async fn collect(
        &self,
        ctx: &LoginContext<'_>,
        order: &OrderSummary,
    ) -> Result<Collect, MobileError> {
        self.for_order(&order.order_ref).collect(ctx, order).await
    }

    async fn cancel(&self, order_ref: &str) -> Result<(), MobileError> {
        self.for_order(order_ref).cancel(order_ref).await
    }

    async fn summary(&self, order_ref: &str) -> Result<Option<OrderSummary>, MobileError> {
        self.for_order(order_ref).summary(order_ref).await
    }
}
