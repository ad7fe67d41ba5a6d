//! Redis session store, for several stateless IdP nodes. Take-once is `GETDEL`,
//! insert-if-absent is `SET NX PX`, compare-and-swap a small Lua script: each a single
//! atomic Redis command on a single key, so one server, Sentinel and Cluster all serve
//! it (`redis_link.rs`). The connection is made lazily and re-made after failures, so
//! the IdP starts while Redis is down and recovers without a restart.

use async_trait::async_trait;
use redis::{Cmd, FromRedisValue, Script, ScriptInvocation};
use std::time::Duration;

use super::redis_link::{Link, RedisTarget};
use super::{ttl_millis, Entry, Namespace, SessionStore, StoreError, StoreResult};

const REPLACE_IF_SCRIPT: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"#;

pub struct RedisStore {
    link: Link,
    key_prefix: String,
    timeout: Duration,
    replace_if: Script,
}

/// One request to Redis: a command or a script.
enum Request<'a> {
    Command(&'a Cmd),
    Script(&'a ScriptInvocation<'a>),
    Pipeline(&'a redis::Pipeline),
}

impl RedisStore {
    /// One server at `url`; no connection is made until the first command.
    pub fn new(url: &str, key_prefix: &str, timeout: Duration) -> StoreResult<Self> {
        Self::at(&RedisTarget::Single(url.to_owned()), key_prefix, timeout)
    }

    /// The store on `target` (one server, Sentinel or Cluster); no connection is made
    /// until the first command.
    pub fn at(target: &RedisTarget, key_prefix: &str, timeout: Duration) -> StoreResult<Self> {
        Ok(Self {
            link: Link::new(target, timeout).map_err(unavailable)?,
            key_prefix: key_prefix.to_owned(),
            timeout,
            replace_if: Script::new(REPLACE_IF_SCRIPT),
        })
    }

    fn key(&self, ns: Namespace, key: &str) -> String {
        format!("{}:{}:{}", self.key_prefix, ns.as_str(), key)
    }

    async fn run<T: FromRedisValue>(&self, cmd: &Cmd) -> StoreResult<T> {
        self.send(Request::Command(cmd)).await
    }

    /// Sends `request` within the timeout; after a failover behind Sentinel, once more
    /// to the new master.
    async fn send<T: FromRedisValue>(&self, request: Request<'_>) -> StoreResult<T> {
        let attempt = || async {
            let mut conn = self.link.connection().await?;
            match &request {
                Request::Command(cmd) => cmd.query_async::<T>(&mut conn).await,
                Request::Script(script) => script.invoke_async::<T>(&mut conn).await,
                Request::Pipeline(pipeline) => pipeline.query_async::<T>(&mut conn).await,
            }
        };
        let sent = async {
            match attempt().await {
                Err(e) if self.link.failed(&e) => {
                    let again = attempt().await;
                    if let Err(e) = &again {
                        self.link.failed(e);
                    }
                    again
                }
                other => other,
            }
        };
        match tokio::time::timeout(self.timeout, sent).await {
            Ok(result) => result.map_err(unavailable),
            Err(_) => Err(StoreError::Timeout),
        }
    }
}

fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn set_px(key: &str, value: &[u8], millis: u64) -> Cmd {
    let mut cmd = redis::cmd("SET");
    cmd.arg(key).arg(value).arg("PX").arg(millis);
    cmd
}

#[async_trait]
impl SessionStore for RedisStore {
    fn backend_name(&self) -> &'static str {
        "redis"
    }

    async fn put(&self, ns: Namespace, key: &str, value: &[u8], ttl: Duration) -> StoreResult<()> {
        let cmd = set_px(&self.key(ns, key), value, ttl_millis(ttl)?);
        self.run::<()>(&cmd).await
    }

    async fn put_many(&self, entries: &[Entry]) -> StoreResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        if self.link.is_cluster() {
            // The keys lie in several slots, so several nodes: sent side by side.
            let puts = entries
                .iter()
                .map(|entry| self.put(entry.ns, &entry.key, &entry.value, entry.ttl));
            futures::future::try_join_all(puts).await?;
            return Ok(());
        }
        let mut pipeline = redis::pipe();
        for entry in entries {
            let key = self.key(entry.ns, &entry.key);
            pipeline
                .add_command(set_px(&key, &entry.value, ttl_millis(entry.ttl)?))
                .ignore();
        }
        // Sent again after a failover like any command: setting a value twice is
        // harmless.
        self.send::<()>(Request::Pipeline(&pipeline)).await
    }

    async fn insert_new(
        &self,
        ns: Namespace,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> StoreResult<bool> {
        let mut cmd = set_px(&self.key(ns, key), value, ttl_millis(ttl)?);
        cmd.arg("NX");
        let reply: Option<String> = self.run(&cmd).await?;
        Ok(reply.is_some())
    }

    async fn get(&self, ns: Namespace, key: &str) -> StoreResult<Option<Vec<u8>>> {
        self.run(redis::cmd("GET").arg(self.key(ns, key))).await
    }

    async fn take(&self, ns: Namespace, key: &str) -> StoreResult<Option<Vec<u8>>> {
        self.run(redis::cmd("GETDEL").arg(self.key(ns, key))).await
    }

    async fn delete(&self, ns: Namespace, key: &str) -> StoreResult<bool> {
        let removed: u64 = self.run(redis::cmd("DEL").arg(self.key(ns, key))).await?;
        Ok(removed > 0)
    }

    async fn replace_if(
        &self,
        ns: Namespace,
        key: &str,
        expected: &[u8],
        new: &[u8],
        ttl: Duration,
    ) -> StoreResult<bool> {
        let millis = ttl_millis(ttl)?;
        let mut invocation = self.replace_if.key(self.key(ns, key));
        invocation.arg(expected).arg(new).arg(millis);
        let swapped: i64 = self.send(Request::Script(&invocation)).await?;
        Ok(swapped == 1)
    }

    async fn ttl(&self, ns: Namespace, key: &str) -> StoreResult<Option<Duration>> {
        let millis: i64 = self.run(redis::cmd("PTTL").arg(self.key(ns, key))).await?;
        Ok(u64::try_from(millis).ok().map(Duration::from_millis))
    }

    async fn ping(&self) -> StoreResult<()> {
        let reply: String = self.run(&redis::cmd("PING")).await?;
        if reply == "PONG" {
            Ok(())
        } else {
            Err(StoreError::Unavailable(format!(
                "unexpected PING reply {reply:?}"
            )))
        }
    }
}
