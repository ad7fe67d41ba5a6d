//! How the Redis session store reaches its data: one server, the master that Redis
//! Sentinel names (followed through a failover), or a Redis Cluster (the `redis` crate's
//! cluster client follows slots and failovers itself). Every command the store sends
//! touches one key, so all three serve the same store unchanged.
//!
//! Connections are made on first use and re-made after failures: the IdP starts while
//! Redis is down and recovers without a restart, whatever the topology.

use arc_swap::ArcSwapOption;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{
    Cmd, ErrorKind, IntoConnectionInfo, Pipeline, RedisError, RedisFuture, ServerErrorKind, Value,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

/// Where the session data lives (`[session]`: `redis_url`, or `redis_sentinels` with
/// `redis_sentinel_master`, or `redis_cluster_nodes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisTarget {
    /// One server (or a proxy or managed endpoint that follows failover itself).
    Single(String),
    /// The master that the Sentinels name `master`; `node` (a `redis://` URL) gives the
    /// master's credentials, database and TLS, its host is not used.
    Sentinel {
        sentinels: Vec<String>,
        master: String,
        node: String,
    },
    /// A Redis Cluster, found through any of these seed nodes.
    Cluster(Vec<String>),
}

impl RedisTarget {
    /// What a log line or a readiness report calls it.
    pub fn describe(&self) -> String {
        match self {
            RedisTarget::Single(_) => "redis".to_owned(),
            RedisTarget::Sentinel { master, .. } => format!("redis sentinel master {master}"),
            RedisTarget::Cluster(nodes) => format!("redis cluster ({} seed nodes)", nodes.len()),
        }
    }
}

impl RedisTarget {
    /// A client for publish and subscribe: the server, the master the Sentinels name
    /// now, or the Cluster's first seed node (a Cluster passes messages to every node;
    /// while that node is down the registry watchers fall back to polling).
    pub async fn pubsub_client(&self) -> Result<redis::Client, RedisError> {
        match self {
            RedisTarget::Sentinel {
                sentinels,
                master,
                node,
            } => {
                sentinel_client(sentinels, master, node)?
                    .async_get_client()
                    .await
            }
            _ => self.pubsub_client_now(),
        }
    }

    /// The publish and subscribe client where no lookup is needed (the URLs checked).
    pub fn pubsub_client_now(&self) -> Result<redis::Client, RedisError> {
        match self {
            RedisTarget::Single(url) => redis::Client::open(url.as_str()),
            RedisTarget::Sentinel { node, .. } => redis::Client::open(node.as_str()),
            RedisTarget::Cluster(nodes) => {
                redis::Client::open(nodes.first().map_or("", String::as_str))
            }
        }
    }
}

/// A connection of whichever kind, usable for commands and scripts alike.
#[derive(Clone)]
pub(super) enum Connection {
    Server(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::Server(c) => c.req_packed_command(cmd),
            Connection::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::Server(c) => c.req_packed_commands(pipeline, offset, count),
            Connection::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Server(c) => c.get_db(),
            Connection::Cluster(c) => c.get_db(),
        }
    }
}

pub(super) struct Link {
    kind: Kind,
}

enum Kind {
    Single(ConnectionManager),
    Sentinel {
        client: Mutex<SentinelClient>,
        /// The master's connection, until a failure makes the next command ask again.
        master: ArcSwapOption<ConnectionManager>,
        config: ConnectionManagerConfig,
    },
    Cluster {
        client: ClusterClient,
        /// Made on first use (and again after a failed attempt).
        connection: Mutex<Option<ClusterConnection>>,
    },
}

/// A client of the Sentinels that finds the master they name `master`, connecting to it
/// with `node`'s credentials, database and TLS.
fn sentinel_client(
    sentinels: &[String],
    master: &str,
    node: &str,
) -> Result<SentinelClient, RedisError> {
    let node = node.into_connection_info()?;
    let mut node_info = SentinelNodeConnectionInfo::default()
        .set_redis_connection_info(node.redis_settings().clone());
    if let redis::ConnectionAddr::TcpTls { insecure, .. } = node.addr() {
        node_info = node_info.set_tls_mode(if *insecure {
            redis::TlsMode::Insecure
        } else {
            redis::TlsMode::Secure
        });
    }
    SentinelClient::build(
        sentinels.iter().map(String::as_str).collect(),
        master,
        Some(node_info),
        SentinelServerType::Master,
    )
}

fn manager_config(timeout: Duration) -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_millis(500))
}

impl Link {
    /// A Redis Cluster refuses a pipeline whose keys lie in several hash slots.
    pub(super) fn is_cluster(&self) -> bool {
        matches!(self.kind, Kind::Cluster { .. })
    }

    /// Prepares the link; nothing is connected until the first command.
    pub(super) fn new(target: &RedisTarget, timeout: Duration) -> Result<Self, RedisError> {
        let kind = match target {
            RedisTarget::Single(url) => Kind::Single(ConnectionManager::new_lazy_with_config(
                redis::Client::open(url.as_str())?,
                manager_config(timeout),
            )?),
            RedisTarget::Sentinel {
                sentinels,
                master,
                node,
            } => {
                let client = sentinel_client(sentinels, master, node)?;
                Kind::Sentinel {
                    client: Mutex::new(client),
                    master: ArcSwapOption::empty(),
                    config: manager_config(timeout),
                }
            }
            RedisTarget::Cluster(nodes) => Kind::Cluster {
                client: ClusterClient::builder(nodes.iter().map(String::as_str))
                    .connection_timeout(timeout)
                    .response_timeout(timeout)
                    .retries(2)
                    .build()?,
                connection: Mutex::new(None),
            },
        };
        Ok(Self { kind })
    }

    /// A connection to send a command on.
    pub(super) async fn connection(&self) -> Result<Connection, RedisError> {
        match &self.kind {
            Kind::Single(manager) => Ok(Connection::Server(manager.clone())),
            Kind::Sentinel {
                client,
                master,
                config,
            } => {
                if let Some(current) = master.load_full() {
                    return Ok(Connection::Server(current.as_ref().clone()));
                }
                let found = client.lock().await.async_get_client().await?;
                let manager = ConnectionManager::new_lazy_with_config(found, config.clone())?;
                master.store(Some(Arc::new(manager.clone())));
                Ok(Connection::Server(manager))
            }
            Kind::Cluster { client, connection } => {
                let mut held = connection.lock().await;
                if let Some(connection) = held.as_ref() {
                    return Ok(Connection::Cluster(connection.clone()));
                }
                let made = client.get_async_connection().await?;
                *held = Some(made.clone());
                Ok(Connection::Cluster(made))
            }
        }
    }

    /// A command failed with `error`. Behind Sentinel, a lost connection or a master
    /// that turned replica (`READONLY`) means a failover: the next command asks the
    /// Sentinels again. `true` when the command is worth one more try at once.
    pub(super) fn failed(&self, error: &RedisError) -> bool {
        let Kind::Sentinel { master, .. } = &self.kind else {
            return false;
        };
        let failover = error.is_io_error()
            || error.is_connection_dropped()
            || error.is_connection_refusal()
            || error.kind() == ErrorKind::Server(ServerErrorKind::ReadOnly);
        if failover {
            master.store(None);
        }
        failover
    }
}
