//! Redis as production runs it for high availability, on free ports: a master with a
//! replica watched by a Sentinel, and a Cluster of three masters. Real `redis-server`
//! processes (a Sentinel is `redis-server --sentinel`), killed when dropped.

use anyhow::{bail, Context};
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

use crate::free_port;

/// The name the Sentinel monitors.
pub const SENTINEL_MASTER: &str = "idp-master";

/// How long a topology gets to settle (replication, a failover, slot assignment): a
/// Sentinel looks at replicas every 10 s, and the machine may be busy.
const SETTLE: Duration = Duration::from_secs(60);

fn url(port: u16) -> String {
    format!("redis://127.0.0.1:{port}/")
}

/// `redis-server` with `args` (a config file path first when given), output discarded.
fn spawn(args: &[String]) -> anyhow::Result<Child> {
    Command::new("redis-server")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start redis-server (is it installed? tests/run installs it)")
}

fn server_args(port: u16, dir: &std::path::Path) -> Vec<String> {
    vec![
        "--bind".into(),
        "127.0.0.1".into(),
        "--port".into(),
        port.to_string(),
        "--save".into(),
        String::new(),
        "--appendonly".into(),
        "no".into(),
        "--dir".into(),
        dir.display().to_string(),
    ]
}

/// One command to the server at `port`.
async fn ask<T: redis::FromRedisValue>(port: u16, cmd: &redis::Cmd) -> anyhow::Result<T> {
    let client = redis::Client::open(url(port))?;
    let mut connection = client.get_multiplexed_async_connection().await?;
    Ok(cmd.query_async(&mut connection).await?)
}

/// Polls `check` until it holds (bounded by [`SETTLE`]).
async fn settle<F, Fut>(what: &str, check: F) -> anyhow::Result<()>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + SETTLE;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("{what} did not happen within {SETTLE:?}")
}

/// A master, its replica and one Sentinel (quorum 1) watching them.
pub struct RedisSentinel {
    master: u16,
    replica: u16,
    sentinel: u16,
    _processes: Vec<Child>,
    _dir: tempfile::TempDir,
}

/// Up to three tries of `start`: a free port can be taken by another test's server
/// between choosing it and binding it.
async fn with_fresh_ports<T, F, Fut>(start: F) -> anyhow::Result<T>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let mut last = None;
    for _ in 0..3 {
        match start().await {
            Ok(started) => return Ok(started),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| anyhow::anyhow!("never started")))
}

impl RedisSentinel {
    pub async fn start() -> anyhow::Result<Self> {
        with_fresh_ports(Self::start_once).await
    }

    async fn start_once() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let (master, replica, sentinel) = (free_port(), free_port(), free_port());
        let mut processes = Vec::new();
        for (port, role) in [(master, "master"), (replica, "replica")] {
            let data = dir.path().join(role);
            std::fs::create_dir(&data)?;
            let mut args = server_args(port, &data);
            if role == "replica" {
                args.extend(["--replicaof".into(), "127.0.0.1".into(), master.to_string()]);
            }
            processes.push(spawn(&args)?);
        }
        let config = dir.path().join("sentinel.conf");
        std::fs::write(
            &config,
            format!(
                "bind 127.0.0.1\nport {sentinel}\ndir {}\n\
                 sentinel monitor {SENTINEL_MASTER} 127.0.0.1 {master} 1\n\
                 sentinel known-replica {SENTINEL_MASTER} 127.0.0.1 {replica}\n\
                 sentinel down-after-milliseconds {SENTINEL_MASTER} 1000\n\
                 sentinel failover-timeout {SENTINEL_MASTER} 5000\n",
                dir.path().display()
            ),
        )?;
        processes.push(spawn(&[config.display().to_string(), "--sentinel".into()])?);
        for port in [master, replica, sentinel] {
            crate::wait_for_port(SocketAddr::from(([127, 0, 0, 1], port)), "redis-server").await?;
        }
        for process in &mut processes {
            if let Some(status) = process.try_wait()? {
                bail!("a redis-server exited at once ({status}): its port was taken");
            }
        }
        let topology = Self {
            master,
            replica,
            sentinel,
            _processes: processes,
            _dir: dir,
        };
        settle(
            "the replica's first sync and the Sentinel's view of both",
            || topology.ready(),
        )
        .await?;
        Ok(topology)
    }

    /// The replica is in sync and the Sentinel names the master and lists the replica
    /// (whether it may promote it yet is the Sentinel's next look: see
    /// [`RedisSentinel::fail_over`]).
    async fn ready(&self) -> bool {
        let replication: String = ask(self.replica, redis::cmd("INFO").arg("replication"))
            .await
            .unwrap_or_default();
        let replicas: Vec<Vec<String>> = ask(
            self.sentinel,
            redis::cmd("SENTINEL").arg("replicas").arg(SENTINEL_MASTER),
        )
        .await
        .unwrap_or_default();
        let healthy = |fields: &Vec<String>| {
            let field = |name: &str| {
                fields
                    .chunks(2)
                    .find(|pair| pair[0] == name)
                    .and_then(|pair| pair.get(1))
                    .map(String::as_str)
            };
            field("flags").is_some_and(|flags| !flags.contains("disconnected"))
        };
        replication.contains("master_link_status:up") && replicas.iter().any(healthy)
    }

    pub fn sentinel_urls(&self) -> Vec<String> {
        vec![url(self.sentinel)]
    }

    /// The master's URL as configured (its credentials and database; the Sentinel names
    /// its address).
    pub fn node_url(&self) -> String {
        url(self.master)
    }

    /// The port the Sentinel names as master now.
    pub async fn master_port(&self) -> anyhow::Result<u16> {
        let (_, port): (String, u16) = ask(
            self.sentinel,
            redis::cmd("SENTINEL")
                .arg("get-master-addr-by-name")
                .arg(SENTINEL_MASTER),
        )
        .await?;
        Ok(port)
    }

    /// A failover as after a lost master: what was written reached the replica, the
    /// Sentinel promotes it and demotes the old master (whose clients then get
    /// `READONLY`). Returns once the Sentinel names the new master.
    pub async fn fail_over(&self) -> anyhow::Result<()> {
        let synced: i64 = ask(self.master, redis::cmd("WAIT").arg(1).arg(5000)).await?;
        if synced < 1 {
            bail!("the replica did not acknowledge the writes");
        }
        let before = self.master_port().await?;
        // The Sentinel may not yet count the replica as promotable (NOGOODSLAVE) until
        // its next look at it: asked again until it starts.
        settle("the Sentinel accepting the failover", || async {
            ask::<String>(
                self.sentinel,
                redis::cmd("SENTINEL").arg("failover").arg(SENTINEL_MASTER),
            )
            .await
            .is_ok()
        })
        .await?;
        settle("the Sentinel's failover", || async {
            let now = self.master_port().await.unwrap_or(before);
            let role: Vec<redis::Value> = ask(now, &redis::cmd("ROLE")).await.unwrap_or_default();
            now != before
                && matches!(role.first(), Some(redis::Value::BulkString(r)) if r == b"master")
        })
        .await?;
        let promoted = self.master_port().await?;
        if promoted != self.replica {
            bail!("the Sentinel promoted port {promoted}, not the replica");
        }
        Ok(())
    }
}

/// Three masters sharing the 16384 slots (no replicas: enough to prove that every key
/// finds its node).
pub struct RedisCluster {
    ports: Vec<u16>,
    _processes: Vec<Child>,
    _dir: tempfile::TempDir,
}

impl RedisCluster {
    pub async fn start() -> anyhow::Result<Self> {
        with_fresh_ports(Self::start_once).await
    }

    async fn start_once() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let mut processes = Vec::new();
        for port in &ports {
            let data = dir.path().join(port.to_string());
            std::fs::create_dir(&data)?;
            let mut args = server_args(*port, &data);
            args.extend([
                "--cluster-enabled".into(),
                "yes".into(),
                "--cluster-config-file".into(),
                data.join("nodes.conf").display().to_string(),
            ]);
            processes.push(spawn(&args)?);
        }
        for port in &ports {
            crate::wait_for_port(SocketAddr::from(([127, 0, 0, 1], *port)), "redis-server").await?;
        }
        let created = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(ports.iter().map(|p| format!("127.0.0.1:{p}")))
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .await
            .context("redis-cli (redis-tools) is needed to create the cluster")?;
        if !created.status.success() {
            bail!(
                "redis-cli --cluster create failed: {}",
                String::from_utf8_lossy(&created.stdout)
            );
        }
        let cluster = Self {
            ports,
            _processes: processes,
            _dir: dir,
        };
        settle("every node's cluster_state:ok", || async {
            for port in &cluster.ports {
                let info: String = ask(*port, redis::cmd("CLUSTER").arg("INFO"))
                    .await
                    .unwrap_or_default();
                if !info.contains("cluster_state:ok") {
                    return false;
                }
            }
            true
        })
        .await?;
        Ok(cluster)
    }

    pub fn node_urls(&self) -> Vec<String> {
        self.ports.iter().map(|p| url(*p)).collect()
    }

    /// How many keys each node holds (to show that the data is spread).
    pub async fn keys_per_node(&self) -> anyhow::Result<Vec<i64>> {
        let mut counts = Vec::new();
        for port in &self.ports {
            counts.push(ask(*port, &redis::cmd("DBSIZE")).await?);
        }
        Ok(counts)
    }
}
