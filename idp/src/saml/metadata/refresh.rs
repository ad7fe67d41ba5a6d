//! The background refresh of SP metadata.
//!
//! Each source has its own next load time. A source with a good copy is reloaded every
//! `every` (hourly in production), whether the last load worked or not: the SP keeps
//! working on its copy and a broken server is not hammered. A source with no good copy
//! (an SP that cannot log anyone in yet) is retried with exponential backoff, 1 s, 2 s,
//! 4 s … up to [`MAX_RETRY_DELAY`], so that an SP registered while its metadata server
//! was briefly down, or whose file appears a moment later, recovers within seconds.
//!
//! The list of sources is live data (SPs are registered and removed through the admin
//! API): it is re-read at least every [`SOURCE_LIST_POLL`]; a new or changed source is
//! scheduled on sight, a removed one is dropped.

use super::source::{MetadataCache, MetadataSource};
use super::MetadataError;
use crate::clock::SharedClock;
use arc_swap::ArcSwap;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The first retry of a source with no good copy.
pub const MIN_RETRY_DELAY: Duration = Duration::from_secs(1);
/// The longest wait between retries of a source with no good copy.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);
/// How often the source list is re-read when no load is due sooner.
pub const SOURCE_LIST_POLL: Duration = Duration::from_secs(1);

/// The wait after the `consecutive_failures`-th failure in a row of a source with no
/// good copy: 1 s, 2 s, 4 s … capped at [`MAX_RETRY_DELAY`].
pub fn retry_delay(consecutive_failures: u32) -> Duration {
    let doublings = consecutive_failures.saturating_sub(1).min(16);
    MIN_RETRY_DELAY
        .saturating_mul(1u32 << doublings)
        .min(MAX_RETRY_DELAY)
}

/// A source as last seen in the list, and when it is next loaded.
struct Scheduled {
    source: MetadataSource,
    due: Instant,
}

impl MetadataCache {
    /// Keeps the metadata of the sources in `sources` (re-read each round, so SPs can
    /// come and go) fresh until `shutdown` turns true (or its sender is dropped); see
    /// the module documentation for when each source is loaded. Failures are logged with
    /// their code and entityID, never the document, and recorded in the SP's status;
    /// the last good copies stay.
    pub fn spawn_refresh(
        self: Arc<Self>,
        sources: Arc<ArcSwap<Vec<MetadataSource>>>,
        every: Duration,
        clock: SharedClock,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut schedule: HashMap<String, Scheduled> = HashMap::new();
            loop {
                if *shutdown.borrow() {
                    break;
                }
                self.sync_schedule(&mut schedule, &sources.load(), every);
                let now = Instant::now();
                let due: Vec<MetadataSource> = schedule
                    .values()
                    .filter(|s| s.due <= now)
                    .map(|s| s.source.clone())
                    .collect();
                let wake = schedule
                    .values()
                    .map(|s| s.due)
                    .fold(now + SOURCE_LIST_POLL, Instant::min);
                tokio::select! {
                    () = self.refresh_due(&due, &mut schedule, every, &clock), if !due.is_empty() => {}
                    () = tokio::time::sleep_until(wake), if due.is_empty() => {}
                    changed = shutdown.changed() => {
                        if changed.is_err() || *shutdown.borrow() {
                            break;
                        }
                    }
                }
            }
        })
    }

    /// Schedules new and changed sources, and drops those no longer listed. Of two
    /// sources for one entityID the first counts (else each round would see the entity
    /// "moved" and reload it at once, forever).
    fn sync_schedule(
        &self,
        schedule: &mut HashMap<String, Scheduled>,
        sources: &[MetadataSource],
        every: Duration,
    ) {
        let now = Instant::now();
        let mut listed: HashSet<&str> = HashSet::with_capacity(sources.len());
        for source in sources {
            if !listed.insert(&source.entity_id) {
                continue;
            }
            let known = schedule
                .get(&source.entity_id)
                .map(|scheduled| scheduled.source == *source);
            let due = match known {
                Some(true) => continue,
                // Moved to another URL or file: load the new one now.
                Some(false) => now,
                None => now + self.first_wait(&source.entity_id, every),
            };
            schedule.insert(
                source.entity_id.clone(),
                Scheduled {
                    source: source.clone(),
                    due,
                },
            );
        }
        schedule.retain(|entity_id, _| listed.contains(entity_id.as_str()));
    }

    /// For a source the task sees for the first time: loaded at start (or by
    /// `load_one` at registration) with a good copy, the normal interval; failed so
    /// far, the backoff its failures have earned; never tried, at once.
    fn first_wait(&self, entity_id: &str, every: Duration) -> Duration {
        if self.get(entity_id).is_some() {
            return every;
        }
        match self.status(entity_id) {
            Some(status) if status.consecutive_failures > 0 => {
                retry_delay(status.consecutive_failures).min(every)
            }
            _ => Duration::ZERO,
        }
    }

    /// Loads the due sources concurrently and schedules each one's next load.
    async fn refresh_due(
        &self,
        due: &[MetadataSource],
        schedule: &mut HashMap<String, Scheduled>,
        every: Duration,
        clock: &SharedClock,
    ) {
        let now = clock.now();
        let loads = due.iter().map(|source| async move {
            let previous = self.status(&source.entity_id);
            let outcome = self.load_one(source, now).await;
            (source, previous, outcome)
        });
        for (source, previous, outcome) in futures::future::join_all(loads).await {
            let wait = match &outcome {
                Ok(()) => every,
                Err(_) if self.get(&source.entity_id).is_some() => every,
                Err(_) => {
                    let failures = self
                        .status(&source.entity_id)
                        .map_or(1, |s| s.consecutive_failures);
                    retry_delay(failures).min(every)
                }
            };
            log_outcome(source, previous.as_ref(), &outcome, wait);
            if let Some(scheduled) = schedule.get_mut(&source.entity_id) {
                scheduled.due = Instant::now() + wait;
            }
        }
    }
}

/// A failure is logged as a warning when it starts or changes cause (a source retried
/// every few seconds would otherwise flood the log), a recovery as information.
fn log_outcome(
    source: &MetadataSource,
    previous: Option<&super::SourceStatus>,
    outcome: &Result<(), MetadataError>,
    next_in: Duration,
) {
    let previous_code = previous.and_then(super::SourceStatus::failing_code);
    match outcome {
        Ok(()) => {
            if let Some(failures) = previous.map(|p| p.consecutive_failures).filter(|&n| n > 0) {
                tracing::info!(
                    entity_id = %source.entity_id,
                    failures,
                    "SP metadata loaded again after failures"
                );
            }
        }
        Err(error) if previous_code != Some(error.code()) => tracing::warn!(
            entity_id = %source.entity_id,
            code = error.code(),
            error = %error,
            next_in_seconds = next_in.as_secs_f64(),
            "SP metadata could not be loaded; any last good copy stays"
        ),
        Err(error) => tracing::debug!(
            entity_id = %source.entity_id,
            code = error.code(),
            error = %error,
            next_in_seconds = next_in.as_secs_f64(),
            "SP metadata still cannot be loaded"
        ),
    }
}
