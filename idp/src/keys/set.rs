//! Which key signs now, and which keys are published.
//!
//! Rotation without downtime: a new key is added with a `not_before` in the future; it is
//! published at once (metadata, JWKS) but signs only from `not_before`, by which time
//! relying parties have fetched it. An old key stops signing at its `not_after` and stays
//! published for `retention` more, until everything it signed has expired.

use std::sync::Arc;
use time::{Duration, OffsetDateTime};

use super::{Algorithm, SigningKey};

#[derive(Debug, Clone)]
pub struct KeySet {
    keys: Vec<Arc<SigningKey>>,
    /// How long a retired key stays published.
    retention: Duration,
}

impl KeySet {
    pub fn new(keys: Vec<SigningKey>, retention: Duration) -> Self {
        Self {
            keys: keys.into_iter().map(Arc::new).collect(),
            retention,
        }
    }

    /// The key of `algorithm` that signs at `now`: of those whose window contains `now`,
    /// the one that started signing last (the newest).
    pub fn signing_key(
        &self,
        algorithm: Algorithm,
        now: OffsetDateTime,
    ) -> Option<&Arc<SigningKey>> {
        self.keys
            .iter()
            .filter(|k| k.algorithm() == algorithm && k.not_before <= now && now < k.not_after)
            .max_by_key(|k| k.not_before)
    }

    /// The keys to publish at `now`: signing, announced (not yet signing) and retired
    /// within the retention period.
    pub fn published(&self, now: OffsetDateTime) -> impl Iterator<Item = &Arc<SigningKey>> {
        let retention = self.retention;
        self.keys
            .iter()
            .filter(move |k| now < k.not_after + retention)
    }

    pub fn find(&self, kid: &str) -> Option<&Arc<SigningKey>> {
        self.keys.iter().find(|k| k.kid() == kid)
    }
}
