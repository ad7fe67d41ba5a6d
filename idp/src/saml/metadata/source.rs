//! A cache of SP metadata loaded from files or fetched over HTTPS, refreshed periodically
//! (see `refresh`), with the health of each source (see `status`).
//!
//! A failed load (unreachable URL, broken or expired document, bad signature) never
//! replaces a good copy: the SP keeps working on what was last verified, and the failure
//! is reported, recorded in the SP's [`SourceStatus`] and logged with its code. Fetches
//! are bounded (10 s, 1 MiB) so that a slow or hostile metadata server cannot hold the
//! refresh or fill memory, and use HTTPS (plain HTTP only to the local host, for tests),
//! since unsigned metadata is only as trustworthy as its transport.

use super::federation::Federations;
use super::fetch::{fetch_url, read_file, read_file_blocking, FETCH_TIMEOUT};
use super::registration::{check_registered, check_registration, RegistrationWarning};
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
    /// The entity in the aggregate of the configured federation with this id.
    Federation(String),
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

/// Metadata fetches in flight at once while loading many sources.
const FETCHES_AT_ONCE: usize = 16;

fn utf8(bytes: Vec<u8>) -> Result<String, MetadataError> {
    String::from_utf8(bytes).map_err(|_| MetadataError::Invalid("the metadata is not UTF-8".into()))
}

/// The file sources `files` (with their index and path), read and checked on this
/// thread.
fn check_files(
    files: Vec<(usize, MetadataSource, PathBuf)>,
    now: OffsetDateTime,
) -> Vec<(usize, Result<SpMetadata, MetadataError>)> {
    files
        .into_iter()
        .map(|(index, source, path)| {
            let checked =
                read_file_blocking(&path).and_then(|bytes| checked_metadata(&source, bytes, now));
            (index, checked)
        })
        .collect()
}

/// Every file source of `sources` failed: the blocking task reading them stopped.
fn file_failures(
    sources: &[MetadataSource],
    stopped: &tokio::task::JoinError,
) -> Vec<(usize, Result<SpMetadata, MetadataError>)> {
    sources
        .iter()
        .enumerate()
        .filter_map(|(index, source)| match &source.location {
            SourceLocation::File(path) => Some((
                index,
                Err(MetadataError::File {
                    path: path.display().to_string(),
                    reason: format!("the file reader stopped: {stopped}"),
                }),
            )),
            SourceLocation::Url(_) | SourceLocation::Federation(_) => None,
        })
        .collect()
}

/// The document of `source`, parsed and checked (signature, validity).
fn checked_metadata(
    source: &MetadataSource,
    bytes: Vec<u8>,
    now: OffsetDateTime,
) -> Result<SpMetadata, MetadataError> {
    parse_sp_metadata(
        &utf8(bytes)?,
        &source.entity_id,
        source.signer_certificates.as_deref(),
        now,
    )
}

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
    federations: Arc<Federations>,
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
            federations: Arc::default(),
        }
    }

    /// The same cache serving SPs from these federations' aggregates.
    pub fn with_federations(mut self, federations: Federations) -> Self {
        self.federations = Arc::new(federations);
        self
    }

    pub fn federations(&self) -> &Federations {
        &self.federations
    }

    pub(super) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub(super) fn fetch_timeout(&self) -> Duration {
        self.fetch_timeout
    }

    /// The same cache with another bound on one fetch (default [`FETCH_TIMEOUT`]).
    pub fn with_fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// Loads every source and reports each outcome by entityID, in the order of
    /// `sources`. A source that fails keeps its last good copy, if it had one. Entities
    /// not in `sources` are left as they are (see [`MetadataCache::remove`]).
    ///
    /// Files are read and checked in one blocking task (a platform of a thousand
    /// applications starts in milliseconds, not with a thread per file); URLs are
    /// fetched [`FETCHES_AT_ONCE`] at a time. The cache is then updated once.
    pub async fn load_all(
        &self,
        sources: &[MetadataSource],
        now: OffsetDateTime,
    ) -> Vec<(String, Result<(), MetadataError>)> {
        let files: Vec<(usize, MetadataSource, PathBuf)> = sources
            .iter()
            .enumerate()
            .filter_map(|(index, source)| match &source.location {
                SourceLocation::File(path) => Some((index, source.clone(), path.clone())),
                SourceLocation::Url(_) | SourceLocation::Federation(_) => None,
            })
            .collect();
        let from_files = tokio::task::spawn_blocking(move || check_files(files, now));
        let mut outcomes = self.fetch_all(sources, now).await;
        let mut withdrawn = Vec::new();
        for (index, source) in sources.iter().enumerate() {
            if let SourceLocation::Federation(federation) = &source.location {
                let found = self
                    .federations
                    .lookup(federation, &source.entity_id, now)
                    .map(|metadata| SpMetadata::clone(&metadata));
                if matches!(
                    found,
                    Err(MetadataError::NotInFederation { .. }
                        | MetadataError::FederationRefused { .. }
                        | MetadataError::Expired)
                ) {
                    // The federation's verified aggregate no longer vouches for it, or
                    // its last copy has passed its validUntil.
                    withdrawn.push(source.entity_id.as_str());
                }
                outcomes.push((index, found));
            }
        }
        match from_files.await {
            Ok(checked) => outcomes.extend(checked),
            Err(e) => outcomes.extend(file_failures(sources, &e)),
        }
        outcomes.sort_by_key(|(index, _)| *index);
        let outcomes: Vec<(usize, Result<Arc<SpMetadata>, MetadataError>)> = outcomes
            .into_iter()
            .map(|(index, outcome)| (index, outcome.map(Arc::new)))
            .collect();

        let loaded: Vec<(&str, &Arc<SpMetadata>)> = outcomes
            .iter()
            .filter_map(|(index, outcome)| {
                Some((sources[*index].entity_id.as_str(), outcome.as_ref().ok()?))
            })
            .collect();
        if !loaded.is_empty() || !withdrawn.is_empty() {
            self.entries.rcu(|current| {
                let mut next = Entries::clone(current);
                for entity_id in &withdrawn {
                    next.remove(*entity_id);
                }
                for (entity_id, metadata) in &loaded {
                    next.insert((*entity_id).to_owned(), Arc::clone(*metadata));
                }
                next
            });
        }
        let recorded: Vec<(&str, Result<(), &MetadataError>)> = outcomes
            .iter()
            .map(|(index, outcome)| {
                (
                    sources[*index].entity_id.as_str(),
                    outcome.as_ref().map(|_| ()),
                )
            })
            .collect();
        self.record_all(&recorded, now);
        outcomes
            .into_iter()
            .map(|(index, outcome)| (sources[index].entity_id.clone(), outcome.map(|_| ())))
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
        let mut outcomes = self.load_all(std::slice::from_ref(source), now).await;
        outcomes.pop().map_or(Ok(()), |(_, outcome)| outcome)
    }

    /// Fetches and checks the metadata of an SP being registered, as
    /// [`check_registration`] does, without keeping it: for an admin to see errors and
    /// warnings before the SP is saved (then [`MetadataCache::load_one`] loads it).
    pub async fn check_source(
        &self,
        source: &MetadataSource,
        now: OffsetDateTime,
    ) -> Result<(SpMetadata, Vec<RegistrationWarning>), MetadataError> {
        if let SourceLocation::Federation(federation) = &source.location {
            let metadata = self
                .federations
                .lookup(federation, &source.entity_id, now)?;
            return check_registered(SpMetadata::clone(&metadata), now);
        }
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
        let text = utf8(bytes)?;
        let entity_id = super::sp::sole_sp_entity_id(&text)?;
        check_registration(&text, &entity_id, None, now)
    }

    async fn load(
        &self,
        source: &MetadataSource,
        now: OffsetDateTime,
    ) -> Result<SpMetadata, MetadataError> {
        checked_metadata(source, self.bytes(source).await?, now)
    }

    /// The URL sources of `sources`, fetched and checked [`FETCHES_AT_ONCE`] at a time,
    /// by their index in `sources`.
    async fn fetch_all(
        &self,
        sources: &[MetadataSource],
        now: OffsetDateTime,
    ) -> Vec<(usize, Result<SpMetadata, MetadataError>)> {
        use futures::StreamExt as _;
        // A loop, not iterator adaptors: their closures over borrowed sources make
        // the future not provably Send for every lifetime.
        let mut fetches = Vec::new();
        for (index, source) in sources.iter().enumerate() {
            if matches!(source.location, SourceLocation::Url(_)) {
                fetches.push(self.load_indexed(index, source, now));
            }
        }
        futures::stream::iter(fetches)
            .buffer_unordered(FETCHES_AT_ONCE)
            .collect()
            .await
    }

    async fn load_indexed(
        &self,
        index: usize,
        source: &MetadataSource,
        now: OffsetDateTime,
    ) -> (usize, Result<SpMetadata, MetadataError>) {
        (index, self.load(source, now).await)
    }

    async fn read(&self, source: &MetadataSource) -> Result<String, MetadataError> {
        utf8(self.bytes(source).await?)
    }

    async fn bytes(&self, source: &MetadataSource) -> Result<Vec<u8>, MetadataError> {
        match &source.location {
            SourceLocation::File(path) => read_file(path).await,
            SourceLocation::Url(url) => fetch_url(&self.http, url, self.fetch_timeout).await,
            SourceLocation::Federation(federation) => Err(MetadataError::Invalid(format!(
                "the metadata of federation {federation} is read from its aggregate"
            ))),
        }
    }

    fn record(&self, entity_id: &str, outcome: Result<(), &MetadataError>, now: OffsetDateTime) {
        self.record_all(&[(entity_id, outcome)], now);
    }

    /// Records each outcome in its SP's status (one update for all of them).
    fn record_all(&self, outcomes: &[(&str, Result<(), &MetadataError>)], now: OffsetDateTime) {
        let entries = self.entries.load();
        self.statuses.rcu(|current| {
            let mut next = Statuses::clone(current);
            for (entity_id, outcome) in outcomes {
                let has_good_copy = entries.contains_key(*entity_id);
                let status =
                    SourceStatus::record(current.get(*entity_id), *outcome, has_good_copy, now);
                next.insert((*entity_id).to_owned(), status);
            }
            next
        });
        let recorded = outcomes.len() as u64;
        self.status_changes
            .send_modify(|count| *count = count.wrapping_add(recorded));
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
