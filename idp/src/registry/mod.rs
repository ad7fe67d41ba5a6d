//! The live registry: tenants, their populations, applications, grants and admins, as
//! data in the database, read by every node as one immutable snapshot.
//!
//! ```text
//!  rows --(load + validate)--> Registry --ArcSwap--> engines read one snapshot per request
//!   ^                                         ^
//!  commit (txn: rows + version + audit)     watcher: version changed? reload, swap
//! ```
//!
//! A write is validated whole (`tenants::validate`) against the snapshot it was made on,
//! stored in one transaction that bumps the version, then swapped in on this node at
//! once; other nodes see the new version within a watch interval. A node that cannot
//! build a valid snapshot keeps the one it has and says so.

mod commit;
mod files;
mod nudge;
mod watch;

pub use commit::{commit, Change, CommitError, Diff, DiffKind};
pub use files::{export_dir, import_files, ExportError, ImportOutcome};
pub use nudge::RedisNudge;
pub use watch::spawn_watcher;

use arc_swap::ArcSwap;
use std::sync::{Arc, Mutex};

use crate::storage::{find_registry, Database, StorageError};
use crate::tenants::{Tenant, Tenants};

/// One consistent version of the registry.
#[derive(Debug, Default)]
pub struct Registry {
    pub version: i64,
    pub tenants: Tenants,
    /// The file text each tenant was imported from, while unchanged since (for export).
    pub sources: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("stored tenant {tenant} cannot be read: {message}")]
    Document { tenant: String, message: String },
}

/// Reads the registry from the database. Stored documents were validated when written;
/// one that no longer parses fails the load (the node keeps its snapshot).
pub async fn load(db: &Database) -> Result<Registry, LoadError> {
    let (version, stored) = find_registry(db).await?;
    let mut tenants = Vec::with_capacity(stored.len());
    let mut sources = std::collections::BTreeMap::new();
    for row in stored {
        let tenant: Tenant =
            serde_json::from_str(&row.document).map_err(|e| LoadError::Document {
                tenant: row.id.clone(),
                message: e.to_string(),
            })?;
        if let Some(source) = row.source {
            sources.insert(row.id, source);
        }
        tenants.push(tenant);
    }
    Ok(Registry {
        version,
        tenants: Tenants::new(tenants),
        sources,
    })
}

type SwapHook = Box<dyn Fn(&Arc<Registry>) + Send + Sync>;

/// The current snapshot, and what must follow it when it changes (the SAML engine's
/// service providers).
pub struct RegistryHandle {
    current: ArcSwap<Registry>,
    hooks: Mutex<Vec<SwapHook>>,
    /// Serialises swaps, so that an older snapshot never replaces a newer one.
    swap_lock: tokio::sync::Mutex<()>,
    /// The version in use, for whoever waits for a change.
    version: tokio::sync::watch::Sender<i64>,
    /// Wakes the watcher before its next poll (a change announced over Redis).
    pub wake: tokio::sync::Notify,
    /// Where this node announces the changes it commits.
    nudge: Option<Arc<RedisNudge>>,
}

impl RegistryHandle {
    pub fn new(registry: Registry) -> Self {
        Self {
            wake: tokio::sync::Notify::new(),
            nudge: None,
            version: tokio::sync::watch::Sender::new(registry.version),
            current: ArcSwap::from_pointee(registry),
            hooks: Mutex::new(Vec::new()),
            swap_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Announces this node's commits over Redis (and listens, see
    /// [`RedisNudge::spawn_listener`]).
    pub fn with_nudge(mut self, nudge: Arc<RedisNudge>) -> Self {
        self.nudge = Some(nudge);
        self
    }

    pub fn nudge(&self) -> Option<&Arc<RedisNudge>> {
        self.nudge.as_ref()
    }

    /// After a commit on this node: take it into use here and tell the other nodes.
    pub async fn committed(&self, db: &Database) -> Result<i64, LoadError> {
        let version = self.refresh(db).await?;
        if let Some(nudge) = &self.nudge {
            nudge.publish(version);
        }
        Ok(version)
    }

    /// The snapshot to use for one request.
    pub fn load(&self) -> Arc<Registry> {
        self.current.load_full()
    }

    /// The registry version in use, updated on every swap.
    pub fn versions(&self) -> tokio::sync::watch::Receiver<i64> {
        self.version.subscribe()
    }

    /// Calls `hook` with every new snapshot, before it is swapped in.
    pub fn on_swap(&self, hook: impl Fn(&Arc<Registry>) + Send + Sync + 'static) {
        if let Ok(mut hooks) = self.hooks.lock() {
            hooks.push(Box::new(hook));
        }
    }

    /// Reads the database and swaps in its registry if it is newer than the current
    /// snapshot. Returns the version now in use.
    pub async fn refresh(&self, db: &Database) -> Result<i64, LoadError> {
        let _guard = self.swap_lock.lock().await;
        let current = self.load();
        let version = crate::storage::find_registry_version(db).await?;
        if version == current.version {
            return Ok(version);
        }
        let next = load(db).await?;
        if next.version <= current.version {
            return Ok(current.version);
        }
        let next = Arc::new(next);
        if let Ok(hooks) = self.hooks.lock() {
            for hook in hooks.iter() {
                hook(&next);
            }
        }
        self.current.store(Arc::clone(&next));
        self.version.send_replace(next.version);
        tracing::info!(
            version = next.version,
            tenants = next.tenants.len(),
            "registry version in use"
        );
        Ok(next.version)
    }
}
