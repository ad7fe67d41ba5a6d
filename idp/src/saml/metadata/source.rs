//! A cache of SP metadata loaded from files or fetched over HTTPS, refreshed periodically
//! (see `refresh`), with the health of each source (see `status`).
//!
//! A failed load (unreachable URL, broken or expired document, bad signature) never
//! replaces a good copy: the SP keeps working on what was last verified, and the failure
//! is reported, recorded in the SP's [`SourceStatus`] and logged with its code. Fetches
//! are bounded (10 s, 1 MiB) so that a slow or hostile metadata server cannot hold the
//! refresh or fill memory, and use HTTPS (plain HTTP only to the local host, for tests),
//! since unsigned metadata is only as trustworthy as its transport.

use super::fetch::{fetch_url, read_file, FETCH_TIMEOUT};
use super::registration::{check_registration, RegistrationWarning};
use super::sp::{parse_sp_metadata, SpMetadata};
use super::status::SourceStatus;
use super::MetadataError;
use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::watch;
use url::Url;

/// Where one SP's metadata comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceLocation {
    File(PathBuf),
    Url(Url),
}

/// One SP's metadata source, with the certificates that must have signed it (`None`:
/// the document is trusted as read, e.g. a file placed by the operator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataSource {
    pub entity_id: String,
    pub location: SourceLocation,
    pub signer_certificates: Option<Vec<Vec<u8>>>,
}

type Entries = HashMap<String, Arc<SpMetadata>>;
type Statuses = HashMap<String, SourceStatus>;

/// The verified metadata of every SP, by entityID, and how loading it went; readers
/// never wait for a refresh.
#[derive(Debug)]
pub struct MetadataCache {
    entries: ArcSwap<Entries>,
    statuses: ArcSwap<Statuses>,
    /// Counts recorded outcomes, so that a watcher (a live admin view, a test) can wait
    /// for the next one instead of polling.
    status_changes: watch::Sender<u64>,
    http: reqwest::Client,
    fetch_timeout: Duration,
}

impl MetadataCache {
    /// An empty cache that fetches with `http` (which carries the TLS roots).
    pub fn new(http: reqwest::Client) -> Self {
        Self {
            entries: ArcSwap::from_pointee(HashMap::new()),
            statuses: ArcSwap::from_pointee(HashMap::new()),
            status_changes: watch::Sender::new(0),
            http,
            fetch_timeout: FETCH_TIMEOUT,
        }
    }

    /// The same cache with another bound on one fetch (default [`FETCH_TIMEOUT`]).
    pub fn with_fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// Loads every source (concurrently) and reports each outcome by entityID. A source
    /// that fails keeps its last good copy, if it had one. Entities not in `sources` are
    /// left as they are (see [`MetadataCache::remove`]).
    pub async fn load_all(
        &self,
        sources: &[MetadataSource],
        now: OffsetDateTime,
    ) -> Vec<(String, Result<(), MetadataError>)> {
        let loads = sources.iter().map(|source| self.load_one(source, now));
        let outcomes = futures::future::join_all(loads).await;
        sources
            .iter()
            .map(|source| source.entity_id.clone())
            .zip(outcomes)
            .collect()
    }

    /// Keeps metadata that was just fetched and checked (an SP registered through the
    /// admin API), as a successful load.
    pub fn keep(&self, entity_id: &str, metadata: SpMetadata, now: OffsetDateTime) {
        let metadata = Arc::new(metadata);
        self.entries.rcu(|current| {
            let mut next = Entries::clone(current);
            next.insert(entity_id.to_owned(), Arc::clone(&metadata));
            next
        });
        self.record(entity_id, Ok(()), now);
    }

    /// Loads one source (an SP just registered, or one due for refresh), keeps the
    /// metadata if it verified, and records the outcome in the SP's status.
    pub async fn load_one(
        &self,
        source: &MetadataSource,
        now: OffsetDateTime,
    ) -> Result<(), MetadataError> {
        let outcome = self.load(source, now).await;
        let outcome = match outcome {
            Ok(metadata) => {
                let metadata = Arc::new(metadata);
                self.entries.rcu(|current| {
                    let mut next = Entries::clone(current);
                    next.insert(source.entity_id.clone(), Arc::clone(&metadata));
                    next
                });
                Ok(())
            }
            Err(error) => Err(error),
        };
        self.record(&source.entity_id, outcome.as_ref().map(|_| ()), now);
        outcome
    }

    /// Fetches and checks the metadata of an SP being registered, as
    /// [`check_registration`] does, without keeping it: for an admin to see errors and
    /// warnings before the SP is saved (then [`MetadataCache::load_one`] loads it).
    pub async fn check_source(
        &self,
        source: &MetadataSource,
        now: OffsetDateTime,
    ) -> Result<(SpMetadata, Vec<RegistrationWarning>), MetadataError> {
        let text = self.read(source).await?;
        check_registration(
            &text,
            &source.entity_id,
            source.signer_certificates.as_deref(),
            now,
        )
    }

    /// What the metadata at `url` says about the one SP it describes (its entityID read
    /// from the document), checked as a registration would be: the console's preview.
    pub async fn preview_url(
        &self,
        url: &url::Url,
        now: OffsetDateTime,
    ) -> Result<(SpMetadata, Vec<RegistrationWarning>), MetadataError> {
        let bytes = fetch_url(&self.http, url, self.fetch_timeout).await?;
        let text = String::from_utf8(bytes)
            .map_err(|_| MetadataError::Invalid("the metadata is not UTF-8".into()))?;
        let entity_id = super::sp::sole_sp_entity_id(&text)?;
        check_registration(&text, &entity_id, None, now)
    }

    async fn load(
        &self,
        source: &MetadataSource,
        now: OffsetDateTime,
    ) -> Result<SpMetadata, MetadataError> {
        let text = self.read(source).await?;
        parse_sp_metadata(
            &text,
            &source.entity_id,
            source.signer_certificates.as_deref(),
            now,
        )
    }

    async fn read(&self, source: &MetadataSource) -> Result<String, MetadataError> {
        let bytes = match &source.location {
            SourceLocation::File(path) => read_file(path).await?,
            SourceLocation::Url(url) => fetch_url(&self.http, url, self.fetch_timeout).await?,
        };
        String::from_utf8(bytes)
            .map_err(|_| MetadataError::Invalid("the metadata is not UTF-8".into()))
    }

    fn record(&self, entity_id: &str, outcome: Result<(), &MetadataError>, now: OffsetDateTime) {
        let has_good_copy = self.get(entity_id).is_some();
        self.statuses.rcu(|current| {
            let mut next = Statuses::clone(current);
            let status = SourceStatus::record(current.get(entity_id), outcome, has_good_copy, now);
            next.insert(entity_id.to_owned(), status);
            next
        });
        self.status_changes
            .send_modify(|count| *count = count.wrapping_add(1));
    }

    /// How loading an SP's metadata went, if it was ever tried.
    pub fn status(&self, entity_id: &str) -> Option<SourceStatus> {
        self.statuses.load().get(entity_id).cloned()
    }

    /// Changes each time an outcome is recorded in a [`SourceStatus`].
    pub fn status_changes(&self) -> watch::Receiver<u64> {
        self.status_changes.subscribe()
    }

    /// The last good metadata of an SP. It was valid when loaded; callers that hold it
    /// past a failed refresh should compare `valid_until` with now, or use
    /// [`MetadataCache::get_valid`].
    pub fn get(&self, entity_id: &str) -> Option<Arc<SpMetadata>> {
        self.entries.load().get(entity_id).cloned()
    }

    /// The last good metadata of an SP if its `validUntil` (if any) is still ahead.
    pub fn get_valid(&self, entity_id: &str, now: OffsetDateTime) -> Option<Arc<SpMetadata>> {
        self.get(entity_id)
            .filter(|m| m.valid_until.is_none_or(|until| now < until))
    }

    /// Forgets an SP, its metadata and its status (its source was removed). Take the
    /// source out of the refresh task's list first: a load in flight would put it back.
    pub fn remove(&self, entity_id: &str) {
        self.entries.rcu(|current| {
            let mut next = Entries::clone(current);
            next.remove(entity_id);
            next
        });
        self.statuses.rcu(|current| {
            let mut next = Statuses::clone(current);
            next.remove(entity_id);
            next
        });
    }
}
