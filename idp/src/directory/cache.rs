//! A short-lived cache of directory lookups (moka: bounded, with a time to live, shared
//! by the request tasks without a lock of ours), so that a login does not wait on SQL.
//! Misses are cached too (an unknown certificate holder asking again). Every directory
//! write on this node clears it; other nodes see a write when their entries expire,
//! which `[directory] cache_ttl_millis` bounds.

use moka::sync::Cache;
use std::sync::Arc;
use std::time::Duration;

use super::Person;
use crate::ids::{HsaId, PersonalIdentityNumber};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    HsaId(HsaId),
    Pnr(PersonalIdentityNumber),
}

type Entry = Option<Arc<Person>>;

pub struct PersonCache(Option<Cache<Key, Entry>>);

impl PersonCache {
    pub fn new(ttl: Duration, capacity: u64) -> Self {
        if ttl.is_zero() || capacity == 0 {
            return Self::disabled();
        }
        Self(Some(
            Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build(),
        ))
    }

    pub fn disabled() -> Self {
        Self(None)
    }

    /// `Some(entry)` on a hit (`entry` is `None` for a cached miss).
    pub fn by_hsa_id(&self, hsa_id: &HsaId) -> Option<Entry> {
        self.0.as_ref()?.get(&Key::HsaId(hsa_id.clone()))
    }

    pub fn by_pnr(&self, pnr: &PersonalIdentityNumber) -> Option<Entry> {
        self.0.as_ref()?.get(&Key::Pnr(pnr.clone()))
    }

    pub fn put_hsa_id(&self, hsa_id: HsaId, person: Entry) {
        if let Some(cache) = &self.0 {
            cache.insert(Key::HsaId(hsa_id), person);
        }
    }

    pub fn put_pnr(&self, pnr: PersonalIdentityNumber, person: Entry) {
        if let Some(cache) = &self.0 {
            cache.insert(Key::Pnr(pnr), person);
        }
    }

    pub fn clear(&self) {
        if let Some(cache) = &self.0 {
            cache.invalidate_all();
        }
    }
}
