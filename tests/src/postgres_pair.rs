//! PostgreSQL as production runs it for high availability: a primary and a streaming
//! standby (pg_basebackup), on free ports, for failover tests. Real servers from the
//! machine's PostgreSQL (tests/run installs it); run as the `postgres` user when the
//! tests run as root, as PostgreSQL requires. Stopped when dropped.

use anyhow::{bail, Context};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::free_port;

pub struct PostgresPair {
    bin: PathBuf,
    dir: tempfile::TempDir,
    pub primary_port: u16,
    pub standby_port: u16,
}

/// The newest installed PostgreSQL's bin directory.
fn postgres_bin() -> anyhow::Result<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .context("PostgreSQL is not installed (tests/run installs it)")?
        .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").is_file())
        .collect();
    found.sort_by_key(|bin| {
        bin.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
    });
    found.pop().context("no PostgreSQL initdb found")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

impl PostgresPair {
    pub async fn start() -> anyhow::Result<Self> {
        let bin = postgres_bin()?;
        let dir = tempfile::tempdir()?;
        let pair = Self {
            bin,
            dir,
            primary_port: free_port(),
            standby_port: free_port(),
        };
        if is_root() {
            pair.run(
                "chown",
                &["-R", "postgres", &pair.path("").display().to_string()],
            )?;
        }
        let primary_dir = pair.path("primary");
        let primary = primary_dir.display().to_string();
        pair.postgres(
            "initdb",
            &[
                "-D",
                &primary,
                "-U",
                "idp",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
            ],
        )?;
        pair.start_server(&primary_dir, pair.primary_port)?;
        pair.postgres(
            "createdb",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &pair.primary_port.to_string(),
                "-U",
                "idp",
                "idp",
            ],
        )?;
        let standby_dir = pair.path("standby");
        let standby = standby_dir.display().to_string();
        pair.postgres(
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &pair.primary_port.to_string(),
                "-U",
                "idp",
                "-D",
                &standby,
                "-R",
                "-X",
                "stream",
                "--checkpoint=fast",
            ],
        )?;
        pair.start_server(&standby_dir, pair.standby_port)?;
        Ok(pair)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self, program: &str, args: &[&str]) -> anyhow::Result<Output> {
        let output = Command::new(program)
            .args(args)
            .output()
            .with_context(|| format!("cannot run {program}"))?;
        if !output.status.success() {
            bail!(
                "{program} {args:?} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(output)
    }

    /// A PostgreSQL program, as the postgres user when we are root.
    fn postgres(&self, program: &str, args: &[&str]) -> anyhow::Result<Output> {
        let program = self.bin.join(program).display().to_string();
        if is_root() {
            let mut all = vec!["-u", "postgres", "--", program.as_str()];
            all.extend_from_slice(args);
            self.run("runuser", &all)
        } else {
            self.run(&program, args)
        }
    }

    fn start_server(&self, data: &Path, port: u16) -> anyhow::Result<()> {
        let data = data.display().to_string();
        let log = format!("{data}.log");
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.path("").display()
        );
        self.postgres(
            "pg_ctl",
            &["-D", &data, "-l", &log, "-w", "-o", &options, "start"],
        )?;
        Ok(())
    }

    /// `postgres://idp@127.0.0.1:<primary>,127.0.0.1:<standby>/idp`: both hosts, in that
    /// order, as an operator configures them.
    pub fn url(&self) -> String {
        format!(
            "postgres://idp@127.0.0.1:{},127.0.0.1:{}/idp",
            self.primary_port, self.standby_port
        )
    }

    /// The primary is lost and the standby promoted (as Patroni or an operator would
    /// do): returns once the standby accepts writes.
    pub async fn fail_over(&self) -> anyhow::Result<()> {
        let primary = self.path("primary").display().to_string();
        self.postgres("pg_ctl", &["-D", &primary, "-m", "immediate", "stop"])?;
        let standby = self.path("standby").display().to_string();
        self.postgres("pg_ctl", &["-D", &standby, "-w", "promote"])?;
        let url = format!("postgres://idp@127.0.0.1:{}/idp", self.standby_port);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while tokio::time::Instant::now() < deadline {
            if let Ok(db) = idp::storage::Database::connect(&url, 1).await {
                let _ = db.pool().close().await;
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("the promoted standby never accepted a read-write connection")
    }
}

impl Drop for PostgresPair {
    fn drop(&mut self) {
        for data in ["primary", "standby"] {
            let data = self.path(data).display().to_string();
            let _ = self.postgres("pg_ctl", &["-D", &data, "-m", "immediate", "stop"]);
        }
    }
}
