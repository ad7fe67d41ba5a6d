//! In-memory session store: the embedded default for a single node. Entries expire by
//! the injected clock; expired entries are invisible at once and swept periodically.

use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use time::OffsetDateTime;

use super::{ttl_millis, Namespace, SessionStore, StoreError, StoreResult};
use crate::clock::SharedClock;

/// Sweep expired entries after at least this many writes, and at least as many writes as
/// the last sweep kept entries (so a sweep, a scan of every entry, costs O(1) per write
/// however many sessions the node holds).
const SWEEP_EVERY_WRITES: u64 = 1024;

/// The default cap on live entries (a pending login is about 1 KiB).
pub const DEFAULT_MAX_ENTRIES: usize = 200_000;

struct Entry {
    value: Vec<u8>,
    expires_at: OffsetDateTime,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<(Namespace, String), Entry>,
    /// Writes since the last sweep.
    writes: u64,
    /// Entries the last sweep kept.
    kept: u64,
    /// When a full store last swept (a full store sweeps at most once a second, so a
    /// flood cannot turn every write into a scan).
    full_sweep_at: Option<OffsetDateTime>,
}

/// Entries are capped (`max_entries`): a store that is full refuses new keys with
/// [`StoreError::Full`] rather than grow without bound under a flood; existing keys can
/// still be replaced, taken and deleted.
pub struct MemoryStore {
    clock: SharedClock,
    inner: Mutex<Inner>,
    max_entries: usize,
}

impl MemoryStore {
    pub fn new(clock: SharedClock) -> Self {
        Self::with_max_entries(clock, DEFAULT_MAX_ENTRIES)
    }

    pub fn with_max_entries(clock: SharedClock, max_entries: usize) -> Self {
        Self {
            clock,
            inner: Mutex::new(Inner::default()),
            max_entries: max_entries.max(1),
        }
    }

    /// Number of live entries (for tests and metrics).
    pub fn len(&self) -> usize {
        let now = self.clock.now();
        self.lock()
            .map(|inner| {
                inner
                    .entries
                    .values()
                    .filter(|e| e.expires_at > now)
                    .count()
            })
            .unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> StoreResult<std::sync::MutexGuard<'_, Inner>> {
        self.inner
            .lock()
            .map_err(|_| StoreError::Unavailable("memory store lock poisoned".into()))
    }

    fn expiry(&self, ttl: Duration) -> StoreResult<OffsetDateTime> {
        let millis = ttl_millis(ttl)?;
        let millis = i64::try_from(millis).map_err(|_| StoreError::InvalidTtl)?;
        Ok(self.clock.now() + time::Duration::milliseconds(millis))
    }

    /// Runs `f` on the live entry (expired ones are removed first) under the lock.
    fn with_entry<T>(
        &self,
        ns: Namespace,
        key: &str,
        f: impl FnOnce(&mut HashMap<(Namespace, String), Entry>, (Namespace, String), bool) -> T,
    ) -> StoreResult<T> {
        let now = self.clock.now();
        let mut inner = self.lock()?;
        inner.writes += 1;
        let full = inner.entries.len() >= self.max_entries;
        let may_sweep_full = inner
            .full_sweep_at
            .is_none_or(|at| now - at >= time::Duration::SECOND);
        let sweep_due = inner.writes >= SWEEP_EVERY_WRITES.max(inner.kept);
        if sweep_due || (full && may_sweep_full) {
            inner.entries.retain(|_, e| e.expires_at > now);
            inner.writes = 0;
            inner.kept = inner.entries.len() as u64;
            if full {
                inner.full_sweep_at = Some(now);
            }
        }
        let slot = (ns, key.to_owned());
        let is_live = match inner.entries.get(&slot) {
            Some(entry) if entry.expires_at <= now => {
                inner.entries.remove(&slot);
                false
            }
            Some(_) => true,
            None => false,
        };
        Ok(f(&mut inner.entries, slot, is_live))
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    fn backend_name(&self) -> &'static str {
        "memory"
    }

    async fn put(&self, ns: Namespace, key: &str, value: &[u8], ttl: Duration) -> StoreResult<()> {
        let expires_at = self.expiry(ttl)?;
        let max = self.max_entries;
        self.with_entry(ns, key, |entries, slot, is_live| {
            if !is_live && entries.len() >= max {
                return Err(StoreError::Full);
            }
            entries.insert(
                slot,
                Entry {
                    value: value.to_vec(),
                    expires_at,
                },
            );
            Ok(())
        })?
    }

    async fn insert_new(
        &self,
        ns: Namespace,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> StoreResult<bool> {
        let expires_at = self.expiry(ttl)?;
        let max = self.max_entries;
        self.with_entry(ns, key, |entries, slot, is_live| {
            if is_live {
                return Ok(false);
            }
            if entries.len() >= max {
                return Err(StoreError::Full);
            }
            entries.insert(
                slot,
                Entry {
                    value: value.to_vec(),
                    expires_at,
                },
            );
            Ok(true)
        })?
    }

    async fn get(&self, ns: Namespace, key: &str) -> StoreResult<Option<Vec<u8>>> {
        self.with_entry(ns, key, |entries, slot, _| {
            entries.get(&slot).map(|e| e.value.clone())
        })
    }

    async fn take(&self, ns: Namespace, key: &str) -> StoreResult<Option<Vec<u8>>> {
        self.with_entry(ns, key, |entries, slot, _| {
            entries.remove(&slot).map(|e| e.value)
        })
    }

    async fn delete(&self, ns: Namespace, key: &str) -> StoreResult<bool> {
        self.with_entry(ns, key, |entries, slot, _| entries.remove(&slot).is_some())
    }

    async fn replace_if(
        &self,
        ns: Namespace,
        key: &str,
        expected: &[u8],
        new: &[u8],
        ttl: Duration,
    ) -> StoreResult<bool> {
        let expires_at = self.expiry(ttl)?;
        self.with_entry(ns, key, |entries, slot, _| match entries.get_mut(&slot) {
            Some(entry) if entry.value == expected => {
                *entry = Entry {
                    value: new.to_vec(),
                    expires_at,
                };
                true
            }
            _ => false,
        })
    }

    async fn ttl(&self, ns: Namespace, key: &str) -> StoreResult<Option<Duration>> {
        let now = self.clock.now();
        self.with_entry(ns, key, |entries, slot, _| {
            entries
                .get(&slot)
                .map(|e| Duration::try_from(e.expires_at - now).unwrap_or_default())
        })
    }

    async fn ping(&self) -> StoreResult<()> {
        self.lock().map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::session::{Namespace, SessionStore};
    use std::sync::Arc;

    fn stored(store: &MemoryStore) -> usize {
        store.lock().unwrap().entries.len()
    }

    #[tokio::test]
    async fn expired_entries_are_swept_however_many_the_store_holds() {
        let clock = ManualClock::new(time::macros::datetime!(2026-12-06 12:00 UTC));
        let store = MemoryStore::new(Arc::new(clock.clone()));
        let short = Duration::from_secs(1);
        let long = Duration::from_secs(3600);
        for i in 0..3000 {
            let key = format!("old-{i}");
            store
                .put(Namespace::Replay, &key, b"x", short)
                .await
                .unwrap();
        }
        clock.advance(time::Duration::seconds(2));
        for i in 0..3001 {
            let key = format!("new-{i}");
            store
                .put(Namespace::Replay, &key, b"x", long)
                .await
                .unwrap();
        }
        // A sweep came within as many writes as the last one kept: no old entry is left.
        assert!(stored(&store) <= 3001, "{} entries kept", stored(&store));
        assert_eq!(store.len(), 3001);
    }
}
