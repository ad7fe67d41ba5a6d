//! The push path for registry changes where Redis is configured: the node that commits
//! a change publishes the new version on a channel, and every node's listener wakes its
//! watcher at once instead of at the next poll. The poll stays as the safety net (a
//! lost message, or Redis down, costs at most one watch interval).

use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;

use super::RegistryHandle;
use crate::session::RedisTarget;

/// Publishes and listens for registry versions on `<key_prefix>:registry`.
pub struct RedisNudge {
    target: RedisTarget,
    channel: String,
}

impl RedisNudge {
    pub fn new(target: RedisTarget, key_prefix: &str) -> Result<Self, String> {
        // The URLs are checked now; connections are made when used.
        target.pubsub_client_now().map_err(|e| e.to_string())?;
        Ok(Self {
            target,
            channel: format!("{key_prefix}:registry"),
        })
    }

    /// Announces `version` (in the background; a failure only delays other nodes until
    /// their next poll).
    pub fn publish(&self, version: i64) {
        let target = self.target.clone();
        let channel = self.channel.clone();
        tokio::spawn(async move {
            let published = async {
                let client = target.pubsub_client().await?;
                let mut connection = client.get_multiplexed_async_connection().await?;
                redis::cmd("PUBLISH")
                    .arg(&channel)
                    .arg(version)
                    .query_async::<i64>(&mut connection)
                    .await
            };
            match tokio::time::timeout(Duration::from_secs(2), published).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "registry change not announced on Redis"),
                Err(_) => tracing::warn!("registry change not announced on Redis (timeout)"),
            }
        });
    }

    /// Listens until `stopped`, waking `handle`'s watcher on every announcement;
    /// reconnects after 1 s, 2 s … 30 s when Redis goes away.
    pub fn spawn_listener(
        self: Arc<Self>,
        handle: Arc<RegistryHandle>,
        stopped: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            tokio::pin!(stopped);
            let mut backoff = Duration::from_secs(1);
            loop {
                let listen = async {
                    let mut pubsub = self
                        .target
                        .pubsub_client()
                        .await?
                        .get_async_pubsub()
                        .await?;
                    pubsub.subscribe(&self.channel).await?;
                    // Changes made while we were away: one look now.
                    handle.wake.notify_one();
                    let mut messages = pubsub.on_message();
                    while messages.next().await.is_some() {
                        handle.wake.notify_one();
                    }
                    Ok::<(), redis::RedisError>(())
                };
                tokio::select! {
                    () = &mut stopped => break,
                    outcome = listen => {
                        if let Err(e) = outcome {
                            tracing::warn!(error = %e, "registry announcements from Redis unavailable; polling only");
                        } else {
                            backoff = Duration::from_secs(1);
                        }
                    }
                }
                tokio::select! {
                    () = &mut stopped => break,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        })
    }
}
