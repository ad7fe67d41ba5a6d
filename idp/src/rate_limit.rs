//! Rate limits: the generic cell rate algorithm (GCRA) over the session store, so that
//! one mechanism serves the embedded memory store and Redis alike, and every node of a
//! Redis deployment counts against the same buckets. A bucket of `per_minute` allows a
//! burst of `per_minute` requests and then one every `60 s / per_minute`.
//!
//! A bucket holds one number, the theoretical arrival time (TAT) in Unix milliseconds,
//! changed only by compare-and-swap, and expires when it is full again.

use std::time::Duration;

use crate::clock::SharedClock;
use crate::session::{Namespace, SharedStore, StoreResult};

/// Whether a request may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// Over the limit; the next request fits after this long.
    Limited {
        retry_after: Duration,
    },
}

/// Compare-and-swap attempts on one bucket. Only concurrent requests of one client
/// address contend; a bucket still contended after these is under a flood, and the
/// request is refused (a flood must not get through by its own concurrency).
const ATTEMPTS: usize = 4;

#[derive(Clone)]
pub struct RateLimiter {
    store: SharedStore,
    clock: SharedClock,
}

impl RateLimiter {
    pub fn new(store: SharedStore, clock: SharedClock) -> Self {
        Self { store, clock }
    }

    /// Counts one request against `bucket` with `per_minute` (0: no limit).
    pub async fn check(&self, bucket: &str, per_minute: u32) -> StoreResult<Decision> {
        if per_minute == 0 {
            return Ok(Decision::Allowed);
        }
        let interval = 60_000 / i64::from(per_minute).max(1);
        let tolerance = interval * (i64::from(per_minute) - 1);
        for _ in 0..ATTEMPTS {
            let now = unix_millis(&self.clock);
            let stored = self.store.get(Namespace::RateLimit, bucket).await?;
            let tat = stored
                .as_deref()
                .and_then(|v| std::str::from_utf8(v).ok())
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(now)
                .max(now);
            if tat - now > tolerance {
                let wait = u64::try_from(tat - now - tolerance).unwrap_or(0);
                return Ok(Decision::Limited {
                    retry_after: Duration::from_millis(wait),
                });
            }
            let next = tat + interval;
            let ttl = Duration::from_millis(u64::try_from(next - now).unwrap_or(1).max(1));
            let value = next.to_string();
            let stored_now = match &stored {
                None => {
                    self.store
                        .insert_new(Namespace::RateLimit, bucket, value.as_bytes(), ttl)
                        .await?
                }
                Some(old) => {
                    self.store
                        .replace_if(Namespace::RateLimit, bucket, old, value.as_bytes(), ttl)
                        .await?
                }
            };
            if stored_now {
                return Ok(Decision::Allowed);
            }
        }
        Ok(Decision::Limited {
            retry_after: Duration::from_millis(u64::try_from(interval).unwrap_or(1000)),
        })
    }
}

fn unix_millis(clock: &SharedClock) -> i64 {
    i64::try_from(clock.now().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::session::MemoryStore;
    use std::sync::Arc;

    fn limiter() -> (RateLimiter, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(
            time::macros::datetime!(2026-12-05 08:00 UTC),
        ));
        let store: SharedStore = Arc::new(MemoryStore::new(clock.clone()));
        (RateLimiter::new(store, clock.clone()), clock)
    }

    #[tokio::test]
    async fn a_burst_of_the_quota_then_one_per_interval() {
        let (limiter, clock) = limiter();
        for _ in 0..6 {
            assert_eq!(limiter.check("a", 6).await.unwrap(), Decision::Allowed);
        }
        let Decision::Limited { retry_after } = limiter.check("a", 6).await.unwrap() else {
            panic!("the seventh request within a minute is limited");
        };
        assert_eq!(retry_after, Duration::from_secs(10));
        // Another bucket is not affected.
        assert_eq!(limiter.check("b", 6).await.unwrap(), Decision::Allowed);
        clock.advance(time::Duration::seconds(10));
        assert_eq!(limiter.check("a", 6).await.unwrap(), Decision::Allowed);
        assert!(matches!(
            limiter.check("a", 6).await.unwrap(),
            Decision::Limited { .. }
        ));
    }

    #[tokio::test]
    async fn zero_means_no_limit() {
        let (limiter, _) = limiter();
        for _ in 0..100 {
            assert_eq!(limiter.check("a", 0).await.unwrap(), Decision::Allowed);
        }
    }
}
