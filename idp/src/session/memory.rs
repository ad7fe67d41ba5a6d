//! In-memory session store: the embedded default for a single node. Entries expire by
//! the injected clock; expired entries are invisible at once and swept periodically.

use async_trait::async_trait;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use time::OffsetDateTime;

use super::{ttl_millis, Namespace, SessionStore, StoreError, StoreResult};
use crate::clock::SharedClock;

/// The entries are split into this many shards by their key's hash, each with its own
/// lock and its own sweep: a sweep then scans one shard, so no request waits behind a
/// scan of the whole store (measured: a sweep of 400,000 entries held every request
/// for tens of milliseconds).
const SHARDS: usize = 64;

/// A shard sweeps its expired entries after at least this many writes to it, and at
/// least as many writes as its last sweep kept entries (so a sweep, a scan of the
/// shard, costs O(1) per write however many sessions the node holds).
const SWEEP_EVERY_WRITES: u64 = 16;

/// The default cap on live entries (a pending login is about 1 KiB).
pub const DEFAULT_MAX_ENTRIES: usize = 200_000;

type Key = (Namespace, String);

struct Entry {
    value: Vec<u8>,
    expires_at: OffsetDateTime,
}

#[derive(Default)]
struct Shard {
    entries: HashMap<Key, Entry>,
    /// Writes since the last sweep.
    writes: u64,
    /// Entries the last sweep kept.
    kept: u64,
}

impl Shard {
    /// Drops the expired entries; how many were dropped.
    fn sweep(&mut self, now: OffsetDateTime) -> usize {
        let before = self.entries.len();
        self.entries.retain(|_, e| e.expires_at > now);
        self.writes = 0;
        self.kept = self.entries.len() as u64;
        before - self.entries.len()
    }
}

/// The entries of one shard, and the store's count of entries held (live or expired
/// and not yet swept), kept in step with every insert and removal.
struct Entries<'a> {
    map: &'a mut HashMap<Key, Entry>,
    held: &'a AtomicUsize,
    max: usize,
}

impl Entries<'_> {
    /// Inserts or replaces; a new key is refused when the store is full.
    fn insert(&mut self, key: Key, entry: Entry, is_live: bool) -> StoreResult<()> {
        if !is_live && self.held.load(Ordering::Relaxed) >= self.max {
            return Err(StoreError::Full);
        }
        if self.map.insert(key, entry).is_none() {
            self.held.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    fn remove(&mut self, key: &Key) -> Option<Entry> {
        let removed = self.map.remove(key);
        if removed.is_some() {
            self.held.fetch_sub(1, Ordering::Relaxed);
        }
        removed
    }
}

/// Entries are capped (`max_entries`): a store that is full refuses new keys with
/// [`StoreError::Full`] rather than grow without bound under a flood; existing keys can
/// still be replaced, taken and deleted. The cap is one count over all shards, checked
/// under the writing shard's lock only: writers on other shards at the same instant
/// may pass it by one each, which a flood guard can afford.
pub struct MemoryStore {
    clock: SharedClock,
    shards: Box<[Mutex<Shard>]>,
    hasher: std::collections::hash_map::RandomState,
    /// Entries held in all shards.
    held: AtomicUsize,
    max_entries: usize,
    /// When a full store last swept every shard (at most once a second, so a flood
    /// cannot turn every write into a scan).
    full_sweep_at: Mutex<Option<OffsetDateTime>>,
}

impl MemoryStore {
    pub fn new(clock: SharedClock) -> Self {
        Self::with_max_entries(clock, DEFAULT_MAX_ENTRIES)
    }

    pub fn with_max_entries(clock: SharedClock, max_entries: usize) -> Self {
        Self {
            clock,
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            hasher: Default::default(),
            held: AtomicUsize::new(0),
            max_entries: max_entries.max(1),
            full_sweep_at: Mutex::new(None),
        }
    }

    /// Number of live entries (for tests and metrics).
    pub fn len(&self) -> usize {
        let now = self.clock.now();
        self.shards
            .iter()
            .filter_map(|shard| shard.lock().ok())
            .map(|shard| {
                shard
                    .entries
                    .values()
                    .filter(|e| e.expires_at > now)
                    .count()
            })
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(shard: &Mutex<Shard>) -> StoreResult<MutexGuard<'_, Shard>> {
        shard
            .lock()
            .map_err(|_| StoreError::Unavailable("memory store lock poisoned".into()))
    }

    fn expiry(&self, ttl: Duration) -> StoreResult<OffsetDateTime> {
        let millis = ttl_millis(ttl)?;
        let millis = i64::try_from(millis).map_err(|_| StoreError::InvalidTtl)?;
        Ok(self.clock.now() + time::Duration::milliseconds(millis))
    }

    /// A full store sweeps every shard, at most once a second.
    fn sweep_when_full(&self, now: OffsetDateTime) -> StoreResult<()> {
        if self.held.load(Ordering::Relaxed) < self.max_entries {
            return Ok(());
        }
        {
            let mut at = self
                .full_sweep_at
                .lock()
                .map_err(|_| StoreError::Unavailable("memory store lock poisoned".into()))?;
            if at.is_some_and(|at| now - at < time::Duration::SECOND) {
                return Ok(());
            }
            *at = Some(now);
        }
        for shard in self.shards.iter() {
            let dropped = Self::lock(shard)?.sweep(now);
            self.held.fetch_sub(dropped, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Runs `f` on the live entry (expired ones are removed first) under its shard's
    /// lock.
    fn with_entry<T>(
        &self,
        ns: Namespace,
        key: &str,
        f: impl FnOnce(&mut Entries<'_>, Key, bool) -> T,
    ) -> StoreResult<T> {
        let now = self.clock.now();
        self.sweep_when_full(now)?;
        let slot = (ns, key.to_owned());
        let index = (self.hasher.hash_one(&slot) % SHARDS as u64) as usize;
        let mut shard = Self::lock(&self.shards[index])?;
        shard.writes += 1;
        if shard.writes >= SWEEP_EVERY_WRITES.max(shard.kept) {
            let dropped = shard.sweep(now);
            self.held.fetch_sub(dropped, Ordering::Relaxed);
        }
        let mut entries = Entries {
            map: &mut shard.entries,
            held: &self.held,
            max: self.max_entries,
        };
        let is_live = match entries.map.get(&slot) {
            Some(entry) if entry.expires_at <= now => {
                entries.remove(&slot);
                false
            }
            Some(_) => true,
            None => false,
        };
        Ok(f(&mut entries, slot, is_live))
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    fn backend_name(&self) -> &'static str {
        "memory"
    }

    async fn put(&self, ns: Namespace, key: &str, value: &[u8], ttl: Duration) -> StoreResult<()> {
        let expires_at = self.expiry(ttl)?;
        self.with_entry(ns, key, |entries, slot, is_live| {
            let entry = Entry {
                value: value.to_vec(),
                expires_at,
            };
            entries.insert(slot, entry, is_live)
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
        self.with_entry(ns, key, |entries, slot, is_live| {
            if is_live {
                return Ok(false);
            }
            let entry = Entry {
                value: value.to_vec(),
                expires_at,
            };
            entries.insert(slot, entry, false).map(|()| true)
        })?
    }

    async fn get(&self, ns: Namespace, key: &str) -> StoreResult<Option<Vec<u8>>> {
        self.with_entry(ns, key, |entries, slot, _| {
            entries.map.get(&slot).map(|e| e.value.clone())
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
        self.with_entry(ns, key, |entries, slot, _| {
            match entries.map.get_mut(&slot) {
                Some(entry) if entry.value == expected => {
                    *entry = Entry {
                        value: new.to_vec(),
                        expires_at,
                    };
                    true
                }
                _ => false,
            }
        })
    }

    async fn ttl(&self, ns: Namespace, key: &str) -> StoreResult<Option<Duration>> {
        let now = self.clock.now();
        self.with_entry(ns, key, |entries, slot, _| {
            entries
                .map
                .get(&slot)
                .map(|e| Duration::try_from(e.expires_at - now).unwrap_or_default())
        })
    }

    async fn ping(&self) -> StoreResult<()> {
        Self::lock(&self.shards[0]).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::session::{Namespace, SessionStore};
    use std::sync::Arc;

    fn stored(store: &MemoryStore) -> usize {
        store
            .shards
            .iter()
            .map(|shard| shard.lock().unwrap().entries.len())
            .sum()
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
        // Each shard swept within as many writes as its last sweep kept: at most a
        // sweep interval's worth of old entries is left in any shard.
        let bound = 3001 + SHARDS * SWEEP_EVERY_WRITES as usize;
        assert!(stored(&store) <= bound, "{} entries kept", stored(&store));
        assert_eq!(store.len(), 3001);
    }
}
