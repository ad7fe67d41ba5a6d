//! Redis session store, for several stateless IdP nodes. Take-once is `GETDEL`,
//! insert-if-absent is `SET NX PX`, compare-and-swap a small Lua script: each a single
//! atomic Redis command. The connection is made lazily and re-made after failures, so
//! the IdP starts while Redis is down and recovers without a restart.

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, FromRedisValue, Script};
use std::time::Duration;

use super::{ttl_millis, Namespace, SessionStore, StoreError, StoreResult};

const REPLACE_IF_SCRIPT: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"#;

pub struct RedisStore {
    manager: ConnectionManager,
    key_prefix: String,
    timeout: Duration,
    replace_if: Script,
}

impl RedisStore {
    /// Prepares the store; no connection is made until the first command.
    pub fn new(url: &str, key_prefix: &str, timeout: Duration) -> StoreResult<Self> {
        let client =
            redis::Client::open(url).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let manager = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(Self {
            manager,
            key_prefix: key_prefix.to_owned(),
            timeout,
            replace_if: Script::new(REPLACE_IF_SCRIPT),
        })
    }

    fn key(&self, ns: Namespace, key: &str) -> String {
        format!("{}:{}:{}", self.key_prefix, ns.as_str(), key)
    }

    async fn run<T: FromRedisValue>(&self, cmd: &Cmd) -> StoreResult<T> {
        let mut conn = self.manager.clone();
        match tokio::time::timeout(self.timeout, cmd.query_async::<T>(&mut conn)).await {
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
        let mut conn = self.manager.clone();
        let swapped: i64 =
            match tokio::time::timeout(self.timeout, invocation.invoke_async(&mut conn)).await {
                Ok(result) => result.map_err(unavailable)?,
                Err(_) => return Err(StoreError::Timeout),
            };
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
