//! Every node watches the registry version in the database and swaps in a new snapshot
//! when it changes, so that a change made on any node is in use everywhere within one
//! interval, without a restart and without touching sessions.

use std::sync::Arc;
use std::time::Duration;

use super::RegistryHandle;
use crate::storage::Database;

/// Checks the version every `every` until `stopped` completes. A failed check keeps the
/// current snapshot (and is logged once per failure streak).
pub fn spawn_watcher(
    handle: Arc<RegistryHandle>,
    db: Database,
    every: Duration,
    stopped: impl std::future::Future<Output = ()> + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut is_failing = false;
        tokio::pin!(stopped);
        loop {
            tokio::select! {
                () = &mut stopped => break,
                _ = async {
                    tokio::select! {
                        _ = ticks.tick() => {}
                        () = handle.wake.notified() => {}
                    }
                } => {
                    match handle.refresh(&db).await {
                        Ok(_) => is_failing = false,
                        Err(e) if !is_failing => {
                            is_failing = true;
                            tracing::error!(error = %e, "registry could not be reloaded; the current version stays in use");
                        }
                        Err(_) => {}
                    }
                }
            }
        }
    })
}
