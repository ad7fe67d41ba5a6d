//! Federations: SAML metadata aggregates the operator configures (`[[saml.federation]]`),
//! from which tenants register SPs by entityID.
//!
//! The aggregate supplies an SP's endpoints and keys; the tenant supplies everything
//! else (release, grants, policies) in its `[[saml_sp]]` with `federation = "<id>"`. An
//! SP that is in the aggregate but that no tenant registers gets nothing: the aggregate
//! is a directory of candidates, not a list of clients.
//!
//! Each federation keeps its last verified aggregate. A refresh that fails (unreachable,
//! tampered, expired, too large) keeps it and records the failure; its SPs go on working
//! until the copy's own `validUntil`, and are withdrawn then. A refresh that succeeds
//! replaces it, and the SPs registered from it are looked up again at once: one removed
//! from the federation (or no longer admitted by its rules) stops working then, with its
//! good copy dropped. The next load comes after the configured interval or the
//! aggregate's `cacheDuration`, whichever is sooner; after a failure, after a backoff;
//! and at the last copy's `validUntil` at the latest.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::{ArcSwap, ArcSwapOption};
use serde::Serialize;
use time::OffsetDateTime;

use super::aggregate::{parse_aggregate, Aggregate, AggregateRules};
use super::fetch::{fetch_url_limited, read_file_limited};
use super::refresh::retry_delay;
use super::source::{MetadataCache, MetadataSource, SourceLocation};
use super::sp::SpMetadata;
use super::status::SourceStatus;
use super::{rfc3339, MetadataError};
use crate::clock::SharedClock;

/// One federation as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederationSettings {
    pub id: String,
    /// Where the aggregate comes from: a file or a URL (never another federation).
    pub location: SourceLocation,
    pub rules: AggregateRules,
    /// The longest time between two loads of a good aggregate.
    pub refresh: Duration,
}

/// A federation: its settings, its last verified aggregate and how loading it went.
#[derive(Debug)]
pub struct Federation {
    pub settings: FederationSettings,
    aggregate: ArcSwapOption<Aggregate>,
    status: ArcSwapOption<SourceStatus>,
    /// Counts finished loads (and the lookups of its SPs after a good one), so that a
    /// watcher can wait for the next instead of polling.
    loads: tokio::sync::watch::Sender<u64>,
}

/// What the operator sees of a federation (admin API).
#[derive(Debug, Clone, Serialize)]
pub struct FederationView {
    pub id: String,
    /// The file or URL (without credentials or query).
    pub source: String,
    /// The aggregate's `Name`.
    pub name: Option<String>,
    pub valid_until: Option<String>,
    pub cache_duration_seconds: Option<u64>,
    /// SPs in the aggregate, and of those the ones its rules admit.
    pub service_providers: usize,
    pub admitted: usize,
    pub status: Option<SourceStatus>,
}

impl Federation {
    pub fn new(settings: FederationSettings) -> Self {
        Self {
            settings,
            aggregate: ArcSwapOption::empty(),
            status: ArcSwapOption::empty(),
            loads: tokio::sync::watch::Sender::new(0),
        }
    }

    /// Changes after each load of the aggregate has been recorded (and, in the refresh
    /// task, after the SPs registered from it were looked up again).
    pub fn loads(&self) -> tokio::sync::watch::Receiver<u64> {
        self.loads.subscribe()
    }

    fn loaded(&self) {
        self.loads
            .send_modify(|count| *count = count.wrapping_add(1));
    }

    pub fn aggregate(&self) -> Option<Arc<Aggregate>> {
        self.aggregate.load_full()
    }

    pub fn status(&self) -> Option<SourceStatus> {
        self.status.load().as_deref().cloned()
    }

    /// Fetches or reads the aggregate, verifies it (on the blocking pool: a large
    /// aggregate is milliseconds of CPU) and keeps it if it verified.
    pub async fn load(
        &self,
        http: &reqwest::Client,
        timeout: Duration,
        now: OffsetDateTime,
    ) -> Result<(), MetadataError> {
        let outcome = self.fetch_and_verify(http, timeout, now).await;
        let outcome = outcome.map(|aggregate| {
            self.aggregate.store(Some(Arc::new(aggregate)));
        });
        let previous = self.status.load_full();
        self.status.store(Some(Arc::new(SourceStatus::record(
            previous.as_deref(),
            outcome.as_ref().map(|_| ()),
            self.aggregate.load().is_some(),
            now,
        ))));
        outcome
    }

    async fn fetch_and_verify(
        &self,
        http: &reqwest::Client,
        timeout: Duration,
        now: OffsetDateTime,
    ) -> Result<Aggregate, MetadataError> {
        let limit = self.settings.rules.max_bytes;
        let bytes = match &self.settings.location {
            SourceLocation::File(path) => read_file_limited(path, limit).await?,
            SourceLocation::Url(url) => fetch_url_limited(http, url, timeout, limit).await?,
            SourceLocation::Federation(id) => {
                return Err(MetadataError::FederationUnknown {
                    federation: id.clone(),
                })
            }
        };
        let rules = self.settings.rules.clone();
        tokio::task::spawn_blocking(move || parse_aggregate(&bytes, &rules, now))
            .await
            .map_err(|e| MetadataError::Invalid(format!("the verifier stopped: {e}")))?
    }

    /// The SP `entity_id` as the last verified aggregate describes it, if admitted.
    pub fn lookup(
        &self,
        entity_id: &str,
        now: OffsetDateTime,
    ) -> Result<Arc<SpMetadata>, MetadataError> {
        let federation = || self.settings.id.clone();
        let aggregate = self
            .aggregate()
            .ok_or_else(|| MetadataError::FederationUnavailable {
                federation: federation(),
            })?;
        if aggregate.valid_until.is_some_and(|until| until <= now) {
            return Err(MetadataError::Expired);
        }
        match aggregate.entities.get(entity_id) {
            None => Err(MetadataError::NotInFederation {
                federation: federation(),
            }),
            Some(Ok(metadata)) => Ok(Arc::clone(metadata)),
            Some(Err(refusal)) => Err(MetadataError::FederationRefused {
                federation: federation(),
                code: refusal.code,
                reason: refusal.reason.clone(),
            }),
        }
    }

    /// When to load again: the interval, or sooner by `cacheDuration`; after a failure,
    /// the backoff the failures have earned; and never after the last copy's
    /// `validUntil` (its SPs are then withdrawn unless a new copy verified).
    pub fn next_load_in(&self, now: OffsetDateTime) -> Duration {
        let refresh = self.settings.refresh;
        let failures = self.status().map_or(0, |s| s.consecutive_failures);
        let wait = match self.aggregate() {
            Some(aggregate) => {
                let mut wait = aggregate.cache_duration.map_or(refresh, |d| d.min(refresh));
                if failures > 0 {
                    wait = wait.min(retry_delay(failures));
                }
                if let Some(until) = aggregate.valid_until {
                    let left = Duration::try_from(until - now).unwrap_or(Duration::ZERO);
                    wait = wait.min(left);
                }
                wait
            }
            None => retry_delay(failures.max(1)).min(refresh),
        };
        wait.max(Duration::from_secs(1))
    }

    pub fn view(&self) -> FederationView {
        let aggregate = self.aggregate();
        FederationView {
            id: self.settings.id.clone(),
            source: match &self.settings.location {
                SourceLocation::File(path) => path.display().to_string(),
                SourceLocation::Url(url) => super::fetch::shown_url(url),
                SourceLocation::Federation(id) => id.clone(),
            },
            name: aggregate.as_ref().and_then(|a| a.name.clone()),
            valid_until: aggregate
                .as_ref()
                .and_then(|a| a.valid_until)
                .map(|at| rfc3339(&at)),
            cache_duration_seconds: aggregate
                .as_ref()
                .and_then(|a| a.cache_duration)
                .map(|d| d.as_secs()),
            service_providers: aggregate.as_ref().map_or(0, |a| a.entities.len()),
            admitted: aggregate.as_ref().map_or(0, |a| a.admitted()),
            status: self.status(),
        }
    }
}

/// The configured federations, by id.
#[derive(Debug, Default)]
pub struct Federations {
    by_id: HashMap<String, Arc<Federation>>,
    /// In configuration order, for views.
    order: Vec<String>,
}

impl Federations {
    pub fn new(settings: Vec<FederationSettings>) -> Self {
        let order = settings.iter().map(|s| s.id.clone()).collect();
        let by_id = settings
            .into_iter()
            .map(|s| (s.id.clone(), Arc::new(Federation::new(s))))
            .collect();
        Self { by_id, order }
    }

    pub fn get(&self, id: &str) -> Option<&Arc<Federation>> {
        self.by_id.get(id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Federation>> {
        self.order.iter().filter_map(|id| self.by_id.get(id))
    }

    /// The SP `entity_id` of federation `federation`.
    pub fn lookup(
        &self,
        federation: &str,
        entity_id: &str,
        now: OffsetDateTime,
    ) -> Result<Arc<SpMetadata>, MetadataError> {
        self.get(federation)
            .ok_or_else(|| MetadataError::FederationUnknown {
                federation: federation.to_owned(),
            })?
            .lookup(entity_id, now)
    }

    pub fn views(&self) -> Vec<FederationView> {
        self.iter().map(|f| f.view()).collect()
    }
}

impl MetadataCache {
    /// Loads every federation's aggregate once (at start, before the SPs' metadata).
    /// Failures are logged and recorded; the SPs of a federation without an aggregate
    /// wait for its refresh.
    pub async fn load_federations(&self, now: OffsetDateTime) {
        let loads = self.federations().iter().map(|federation| async move {
            let outcome = federation
                .load(self.http(), self.fetch_timeout(), now)
                .await;
            log_federation(federation, None, &outcome);
            federation.loaded();
        });
        futures::future::join_all(loads).await;
    }

    /// Keeps each federation's aggregate fresh until `shutdown` (see the module
    /// documentation); after each load that verified, the SPs registered from it
    /// (`sources`, the list the SP refresh follows) are looked up again at once.
    pub fn spawn_federation_refresh(
        self: Arc<Self>,
        sources: Arc<ArcSwap<Vec<MetadataSource>>>,
        clock: SharedClock,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let federations: Vec<Arc<Federation>> = self.federations().iter().cloned().collect();
        federations
            .into_iter()
            .map(|federation| {
                let cache = Arc::clone(&self);
                let sources = Arc::clone(&sources);
                let clock = clock.clone();
                let mut shutdown = shutdown.clone();
                tokio::spawn(async move {
                    loop {
                        tokio::select! {
                            () = tokio::time::sleep(federation.next_load_in(clock.now())) => {}
                            changed = shutdown.changed() => {
                                if changed.is_err() || *shutdown.borrow() {
                                    break;
                                }
                                continue;
                            }
                        }
                        let previous = federation.status();
                        let now = clock.now();
                        let outcome = federation
                            .load(cache.http(), cache.fetch_timeout(), now)
                            .await;
                        log_federation(&federation, previous.as_ref(), &outcome);
                        // After a new copy, its SPs as it describes them; after a failure,
                        // the last copy's SPs are withdrawn once it has expired.
                        let id = SourceLocation::Federation(federation.settings.id.clone());
                        let members: Vec<MetadataSource> = sources
                            .load()
                            .iter()
                            .filter(|s| s.location == id)
                            .cloned()
                            .collect();
                        cache.load_all(&members, now).await;
                        federation.loaded();
                    }
                })
            })
            .collect()
    }
}

/// Logged like an SP's metadata: a failure when it starts or changes cause, a recovery.
fn log_federation(
    federation: &Federation,
    previous: Option<&SourceStatus>,
    outcome: &Result<(), MetadataError>,
) {
    let id = &federation.settings.id;
    let previous_code = previous.and_then(SourceStatus::failing_code);
    match outcome {
        Ok(()) => {
            let (entities, admitted) = federation
                .aggregate()
                .map_or((0, 0), |a| (a.entities.len(), a.admitted()));
            if previous.is_none_or(|p| !p.is_healthy()) {
                tracing::info!(federation = %id, entities, admitted, "federation metadata loaded");
            }
        }
        Err(error) if previous_code != Some(error.code()) => tracing::warn!(
            federation = %id,
            code = error.code(),
            error = %error,
            "federation metadata could not be loaded; the last verified copy stays"
        ),
        Err(error) => tracing::debug!(
            federation = %id,
            code = error.code(),
            error = %error,
            "federation metadata still cannot be loaded"
        ),
    }
}
