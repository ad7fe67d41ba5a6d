//! The OCSP answer cache and single-flight: one fetch per key however many ask at once.

use futures::future::{BoxFuture, FutureExt, Shared};
use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use time::{Duration, OffsetDateTime};

/// How long an answer without nextUpdate is kept (from its thisUpdate).
pub(crate) const NO_NEXT_UPDATE_TTL: Duration = Duration::minutes(5);
/// No OCSP answer is kept longer than this, whatever its nextUpdate says.
pub(crate) const MAX_TTL: Duration = Duration::hours(1);
/// Above this many entries, expired ones are dropped; if that is not enough, all are.
const MAX_ENTRIES: usize = 100_000;

/// Locks, recovering from a panic in another holder (the data stays consistent: every
/// critical section here is a single map operation).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A certificate, as OCSP names it in the cache: its issuer's key hash and its serial.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct CertKey {
    pub(crate) issuer_key_hash: [u8; 20],
    pub(crate) serial: Vec<u8>,
}

/// A definite OCSP answer (unknown is never cached).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CachedStatus {
    Good,
    Revoked,
}

/// Until when an answer may be reused: its nextUpdate (or thisUpdate + 5 minutes without
/// one), never more than an hour from now. `None` when it may not be reused at all.
pub(crate) fn cache_until(
    this_update: OffsetDateTime,
    next_update: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Option<OffsetDateTime> {
    let natural = next_update.unwrap_or(this_update + NO_NEXT_UPDATE_TTL);
    let until = natural.min(now + MAX_TTL);
    (until > now).then_some(until)
}

#[derive(Debug, Default)]
pub(crate) struct OcspCache {
    entries: Mutex<HashMap<CertKey, (CachedStatus, OffsetDateTime)>>,
}

impl OcspCache {
    /// The cached answer, if it is still fresh at `now`.
    pub(crate) fn get(&self, key: &CertKey, now: OffsetDateTime) -> Option<CachedStatus> {
        let mut entries = lock(&self.entries);
        match entries.get(key) {
            Some((status, until)) if now < *until => Some(*status),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    pub(crate) fn insert(
        &self,
        key: CertKey,
        status: CachedStatus,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) {
        let mut entries = lock(&self.entries);
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (_, until)| now < *until);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key, (status, until));
    }
}

type Flight<V> = Shared<BoxFuture<'static, V>>;
/// Running flights by key, each with an id so that only it removes itself.
type Running<K, V> = Arc<Mutex<HashMap<K, (u64, Flight<V>)>>>;

/// Runs at most one future per key at a time; whoever asks while one runs gets its result.
pub(crate) struct SingleFlight<K, V: Clone> {
    running: Running<K, V>,
    next_id: AtomicU64,
}

impl<K, V: Clone> Default for SingleFlight<K, V> {
    fn default() -> Self {
        Self {
            running: Arc::new(Mutex::new(HashMap::new())),
            next_id: AtomicU64::new(0),
        }
    }
}

impl<K, V> SingleFlight<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Joins the flight for `key`, or starts one with `start()`. The flight leaves the
    /// table when it finishes, so a later call starts afresh. (If every caller gives up
    /// before it finishes, the next caller for the key drives it on.)
    pub(crate) async fn run<F>(&self, key: K, start: impl FnOnce() -> F) -> V
    where
        F: Future<Output = V> + Send + 'static,
    {
        let flight = {
            let mut running = lock(&self.running);
            match running.get(&key) {
                Some((_, flight)) => flight.clone(),
                None => {
                    let id = self.next_id.fetch_add(1, Ordering::Relaxed);
                    let table = Arc::clone(&self.running);
                    let own_key = key.clone();
                    let work = start();
                    let flight = async move {
                        let value = work.await;
                        let mut running = lock(&table);
                        if running.get(&own_key).is_some_and(|(i, _)| *i == id) {
                            running.remove(&own_key);
                        }
                        value
                    }
                    .boxed()
                    .shared();
                    running.insert(key, (id, flight.clone()));
                    flight
                }
            }
        };
        flight.await
    }

    #[cfg(test)]
    pub(crate) fn running(&self) -> usize {
        lock(&self.running).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-22 08:00 UTC);

    fn key(serial: u8) -> CertKey {
        CertKey {
            issuer_key_hash: [7; 20],
            serial: vec![serial],
        }
    }

    #[test]
    fn an_answer_is_kept_until_next_update() {
        let until = cache_until(NOW, Some(NOW + Duration::minutes(10)), NOW);
        assert_eq!(until, Some(NOW + Duration::minutes(10)));
    }

    #[test]
    fn without_next_update_an_answer_is_kept_five_minutes_from_this_update() {
        let this_update = NOW - Duration::minutes(2);
        assert_eq!(
            cache_until(this_update, None, NOW),
            Some(this_update + Duration::minutes(5))
        );
        assert_eq!(cache_until(NOW - Duration::minutes(6), None, NOW), None);
    }

    #[test]
    fn no_answer_is_kept_longer_than_an_hour() {
        let until = cache_until(NOW, Some(NOW + Duration::days(7)), NOW);
        assert_eq!(until, Some(NOW + Duration::hours(1)));
    }

    #[test]
    fn an_expired_answer_is_not_returned() {
        let cache = OcspCache::default();
        let until = NOW + Duration::minutes(5);
        cache.insert(key(1), CachedStatus::Revoked, until, NOW);
        assert_eq!(
            cache.get(&key(1), NOW + Duration::minutes(4)),
            Some(CachedStatus::Revoked)
        );
        assert_eq!(cache.get(&key(1), until), None);
        assert_eq!(cache.get(&key(2), NOW), None);
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_run() {
        let flights: Arc<SingleFlight<u8, u32>> = Arc::new(SingleFlight::default());
        let runs = Arc::new(AtomicU64::new(0));
        let gate = Arc::new(tokio::sync::Notify::new());
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let (flights, runs, gate) = (flights.clone(), runs.clone(), gate.clone());
            tasks.push(tokio::spawn(async move {
                flights
                    .run(1, move || async move {
                        runs.fetch_add(1, Ordering::SeqCst);
                        gate.notified().await;
                        42
                    })
                    .await
            }));
        }
        while flights.running() == 0 {
            tokio::task::yield_now().await;
        }
        tokio::task::yield_now().await;
        gate.notify_one();
        for task in tasks {
            assert_eq!(task.await.unwrap(), 42);
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(flights.running(), 0);
    }
}
