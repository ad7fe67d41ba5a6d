//! A cache of SP metadata loaded from files or fetched over HTTPS, refreshed periodically.
//!
//! A failed load (unreachable URL, broken or expired document, bad signature) never
//! replaces a good copy: the SP keeps working on what was last verified, and the failure
//! is reported and logged with its code. Fetches are bounded (10 s, 1 MiB) so that a slow
//! or hostile metadata server cannot hold the refresh or fill memory, and use HTTPS (plain
//! HTTP only to the local host, for tests), since unsigned metadata is only as trustworthy
//! as its transport.

use super::sp::{parse_sp_metadata, SpMetadata, MAX_METADATA_BYTES};
use super::MetadataError;
use crate::clock::SharedClock;
use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::io::AsyncReadExt;
use url::Url;

/// How long one metadata fetch may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

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

/// The verified metadata of every SP, by entityID; readers never wait for a refresh.
#[derive(Debug)]
pub struct MetadataCache {
    entries: ArcSwap<Entries>,
    http: reqwest::Client,
}

impl MetadataCache {
    /// An empty cache that fetches with `http` (which carries the TLS roots).
    pub fn new(http: reqwest::Client) -> Self {
        Self {
            entries: ArcSwap::from_pointee(HashMap::new()),
            http,
        }
    }

    /// Loads every source (concurrently) and reports each outcome by entityID. A source
    /// that fails keeps its last good copy, if it had one. Entities not in `sources` are
    /// left as they are (see [`MetadataCache::remove`]).
    pub async fn load_all(
        &self,
        sources: &[MetadataSource],
        now: OffsetDateTime,
    ) -> Vec<(String, Result<(), MetadataError>)> {
        let loads = sources.iter().map(|source| self.load(source, now));
        let outcomes = futures::future::join_all(loads).await;
        let mut loaded = Vec::new();
        let mut report = Vec::with_capacity(sources.len());
        for (source, outcome) in sources.iter().zip(outcomes) {
            match outcome {
                Ok(metadata) => {
                    loaded.push(Arc::new(metadata));
                    report.push((source.entity_id.clone(), Ok(())));
                }
                Err(error) => report.push((source.entity_id.clone(), Err(error))),
            }
        }
        if !loaded.is_empty() {
            self.entries.rcu(|current| {
                let mut next = Entries::clone(current);
                for metadata in &loaded {
                    next.insert(metadata.entity_id.clone(), Arc::clone(metadata));
                }
                next
            });
        }
        report
    }

    async fn load(
        &self,
        source: &MetadataSource,
        now: OffsetDateTime,
    ) -> Result<SpMetadata, MetadataError> {
        let bytes = match &source.location {
            SourceLocation::File(path) => read_file(path).await?,
            SourceLocation::Url(url) => self.fetch(url).await?,
        };
        let text = String::from_utf8(bytes)
            .map_err(|_| MetadataError::Invalid("the metadata is not UTF-8".into()))?;
        parse_sp_metadata(
            &text,
            &source.entity_id,
            source.signer_certificates.as_deref(),
            now,
        )
    }

    async fn fetch(&self, url: &Url) -> Result<Vec<u8>, MetadataError> {
        check_transport(url)?;
        let mut response = self
            .http
            .get(url.clone())
            .timeout(FETCH_TIMEOUT)
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        check_transport(response.url())?; // after redirects
        let status = response.status();
        if !status.is_success() {
            return Err(MetadataError::Unavailable(format!("HTTP status {status}")));
        }
        if response
            .content_length()
            .is_some_and(|len| len > MAX_METADATA_BYTES as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| unavailable(&e))? {
            if body.len() + chunk.len() > MAX_METADATA_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
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

    /// Forgets an SP (its source was removed from the configuration).
    pub fn remove(&self, entity_id: &str) {
        self.entries.rcu(|current| {
            let mut next = Entries::clone(current);
            next.remove(entity_id);
            next
        });
    }

    /// Reloads `sources` every `every` until `shutdown` turns true (or its sender is
    /// dropped). Failures are logged with their code and entityID, never the document;
    /// the last good copies stay.
    pub fn spawn_refresh(
        self: Arc<Self>,
        sources: Vec<MetadataSource>,
        every: Duration,
        clock: SharedClock,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let start = tokio::time::Instant::now() + every;
            let mut ticks = tokio::time::interval_at(start, every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticks.tick() => {
                        for (entity_id, outcome) in self.load_all(&sources, clock.now()).await {
                            if let Err(error) = outcome {
                                tracing::warn!(
                                    entity_id = %entity_id,
                                    code = error.code(),
                                    error = %error,
                                    "SP metadata refresh failed; the last good copy stays"
                                );
                            }
                        }
                    }
                    changed = shutdown.changed() => {
                        if changed.is_err() || *shutdown.borrow() {
                            break;
                        }
                    }
                }
            }
        })
    }
}

/// HTTPS, or plain HTTP to the local host only.
fn check_transport(url: &Url) -> Result<(), MetadataError> {
    let is_local = matches!(
        url.host(),
        Some(url::Host::Domain("localhost"))
            | Some(url::Host::Ipv4(std::net::Ipv4Addr::LOCALHOST))
            | Some(url::Host::Ipv6(std::net::Ipv6Addr::LOCALHOST))
    );
    if url.scheme() == "https" || (url.scheme() == "http" && is_local) {
        Ok(())
    } else {
        Err(MetadataError::Unavailable(
            "metadata URLs must use https".into(),
        ))
    }
}

async fn read_file(path: &std::path::Path) -> Result<Vec<u8>, MetadataError> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| MetadataError::Unavailable(format!("{}: {e}", path.display())))?;
    let mut body = Vec::new();
    file.take(MAX_METADATA_BYTES as u64 + 1)
        .read_to_end(&mut body)
        .await
        .map_err(|e| MetadataError::Unavailable(format!("{}: {e}", path.display())))?;
    if body.len() > MAX_METADATA_BYTES {
        return Err(too_large());
    }
    Ok(body)
}

fn too_large() -> MetadataError {
    MetadataError::Unavailable(format!(
        "the metadata is larger than {MAX_METADATA_BYTES} bytes"
    ))
}

fn unavailable(error: &reqwest::Error) -> MetadataError {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    MetadataError::Unavailable(kind.into())
}
