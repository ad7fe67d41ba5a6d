//! A session store that times every operation and counts its errors into the metrics
//! (`idp_store_operation_duration_seconds{store="session_store"}`), around whichever
//! store the configuration chose.

use async_trait::async_trait;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Entry, Namespace, SessionStore, SharedStore, StoreResult};
use crate::metrics::Metrics;

pub struct Observed {
    inner: SharedStore,
    metrics: Arc<Metrics>,
}

impl Observed {
    pub fn new(inner: SharedStore, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }

    async fn timed<T>(
        &self,
        operation: &'static str,
        run: impl Future<Output = StoreResult<T>>,
    ) -> StoreResult<T> {
        let started = Instant::now();
        let result = run.await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) => e.code(),
        };
        self.metrics
            .record_store_operation("session_store", operation, outcome, started.elapsed());
        result
    }
}

#[async_trait]
impl SessionStore for Observed {
    fn backend_name(&self) -> &'static str {
        self.inner.backend_name()
    }

    async fn put(&self, ns: Namespace, key: &str, value: &[u8], ttl: Duration) -> StoreResult<()> {
        self.timed("put", self.inner.put(ns, key, value, ttl)).await
    }

    async fn put_many(&self, entries: &[Entry]) -> StoreResult<()> {
        self.timed("put_many", self.inner.put_many(entries)).await
    }

    async fn insert_new(
        &self,
        ns: Namespace,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> StoreResult<bool> {
        self.timed("insert_new", self.inner.insert_new(ns, key, value, ttl))
            .await
    }

    async fn get(&self, ns: Namespace, key: &str) -> StoreResult<Option<Vec<u8>>> {
        self.timed("get", self.inner.get(ns, key)).await
    }

    async fn take(&self, ns: Namespace, key: &str) -> StoreResult<Option<Vec<u8>>> {
        self.timed("take", self.inner.take(ns, key)).await
    }

    async fn delete(&self, ns: Namespace, key: &str) -> StoreResult<bool> {
        self.timed("delete", self.inner.delete(ns, key)).await
    }

    async fn replace_if(
        &self,
        ns: Namespace,
        key: &str,
        expected: &[u8],
        new: &[u8],
        ttl: Duration,
    ) -> StoreResult<bool> {
        self.timed(
            "replace_if",
            self.inner.replace_if(ns, key, expected, new, ttl),
        )
        .await
    }

    async fn ttl(&self, ns: Namespace, key: &str) -> StoreResult<Option<Duration>> {
        self.timed("ttl", self.inner.ttl(ns, key)).await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.timed("ping", self.inner.ping()).await
    }
}
