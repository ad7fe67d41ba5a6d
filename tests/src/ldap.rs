//! A private OpenLDAP `slapd` on a free port, for the LDAP directory sync tests; killed
//! when dropped, and can be stopped and restarted (same port, same data) in the middle of
//! a sync.
//!
//! One `mdb` database `dc=lillby,dc=example` holding `ou=staff` (the people, written by
//! the tests), `ou=services` and a service account ([`SYNC_BIND_DN`] / [`SYNC_PASSWORD`])
//! that may read everything but other entries' passwords; anonymous users can only bind.
//! StartTLS with the development TLS certificate (`certs-dev/tls/localhost.pem`, whose
//! names include `localhost` and `127.0.0.1`, signed by `certs-dev/tls/tls-ca.pem`).
//! People are `inetOrgPerson` entries with the auxiliary class `hsaPerson` of a small test
//! schema ([`HSA_SCHEMA`]). slapd maintains the operational attributes `entryUUID`,
//! `createTimestamp` and `modifyTimestamp` (whole seconds) itself.
//!
//! Entries are written with the OpenLDAP tools (`ldapadd`, `ldapmodify`, `ldapdelete`,
//! package `ldap-utils`) as the root DN over plain LDAP. The server (package `slapd`) uses
//! an old-style `slapd.conf` in a temporary directory; its log (`-d stats`, one line per
//! operation) is `slapd.log` there, see [`SlapdServer::log`]. `tests/run` installs both
//! packages.

use anyhow::{bail, Context};
use base64::Engine;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, Command};

use crate::{free_port, repo_root};

/// The database suffix.
pub const BASE_DN: &str = "dc=lillby,dc=example";
/// Where the people are.
pub const STAFF_DN: &str = "ou=staff,dc=lillby,dc=example";
/// The directory's superuser (`rootdn`): used by the harness to write entries.
pub const ROOT_DN: &str = "cn=admin,dc=lillby,dc=example";
pub const ROOT_PASSWORD: &str = "root-secret";
/// The IdP's service account: may read everything except other entries' passwords.
pub const SYNC_BIND_DN: &str = "cn=idp-sync,ou=services,dc=lillby,dc=example";
pub const SYNC_PASSWORD: &str = "sync-secret";

const SLAPD: &str = "/usr/sbin/slapd";
const SLAPADD: &str = "/usr/sbin/slapadd";

/// The test schema (written to `hsa.schema` next to `slapd.conf`): an auxiliary class
/// `hsaPerson` with the employee HSA-id, the personal identity number and commissions.
///
/// The OIDs under 1.3.6.1.4.1.99999 are TEST-ONLY: that enterprise number is not ours and
/// this is not the real HSA schema, only enough of its shape for the sync tests.
/// `personalIdentityNumber` is an IA5String rather than a numericString so that tests can
/// store malformed numbers and check that the IdP rejects them.
pub const HSA_SCHEMA: &str = r#"# Test-only schema for the e2e LDAP sync tests (private, made-up OIDs).
attributetype ( 1.3.6.1.4.1.99999.1.1 NAME 'hsaIdentity'
  DESC 'Test only: the HSA-id of a person'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{256} SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.99999.1.2 NAME 'personalIdentityNumber'
  DESC 'Test only: Swedish personal identity number, 12 digits'
  EQUALITY caseIgnoreIA5Match SUBSTR caseIgnoreIA5SubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.26{64} SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.99999.1.3 NAME 'hsaCommission'
  DESC 'Test only: a commission of a person'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{1024} )
objectclass ( 1.3.6.1.4.1.99999.2.1 NAME 'hsaPerson'
  DESC 'Test only: HSA attributes of a person'
  SUP top AUXILIARY
  MUST hsaIdentity
  MAY ( personalIdentityNumber $ hsaCommission ) )
"#;

/// The entries `slapadd` loads before the first start.
const SEED_LDIF: &str = "\
dn: dc=lillby,dc=example
objectClass: dcObject
objectClass: organization
dc: lillby
o: Lillby kommun

dn: ou=staff,dc=lillby,dc=example
objectClass: organizationalUnit
ou: staff

dn: ou=services,dc=lillby,dc=example
objectClass: organizationalUnit
ou: services

dn: cn=idp-sync,ou=services,dc=lillby,dc=example
objectClass: applicationProcess
objectClass: simpleSecurityObject
cn: idp-sync
userPassword: sync-secret
";

fn slapd_conf(dir: &Path) -> String {
    let tls = repo_root().join("certs-dev/tls");
    format!(
        r#"# Written by the e2e test harness (tests/src/ldap.rs).
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
include {dir}/hsa.schema

modulepath /usr/lib/ldap
moduleload back_mdb

pidfile {dir}/slapd.pid
argsfile {dir}/slapd.args

# The default limit (500 entries) would cut a search of 1,000 people short, paged or not.
sizelimit unlimited

TLSCertificateFile {tls}/localhost.pem
TLSCertificateKeyFile {tls}/localhost.key.pem

database mdb
suffix "{BASE_DN}"
rootdn "{ROOT_DN}"
rootpw {ROOT_PASSWORD}
directory {dir}/data
maxsize 104857600
# No fsync: a killed slapd keeps its data (the OS has it), only a machine crash loses it.
dbnosync
index objectClass eq
index entryUUID eq

access to attrs=userPassword
  by self write
  by anonymous auth
  by * none
access to *
  by dn.exact="{SYNC_BIND_DN}" read
  by * none
"#,
        dir = dir.display(),
        tls = tls.display(),
    )
}

/// A person: `uid=<uid>,ou=staff,dc=lillby,dc=example`, an `inetOrgPerson` (cn is
/// "<given name> <surname>") with the auxiliary class `hsaPerson`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdapPerson {
    pub uid: String,
    pub given_name: String,
    pub surname: String,
    pub mail: Option<String>,
    pub hsa_id: String,
    pub personal_identity_number: Option<String>,
    pub title: Option<String>,
    pub commissions: Vec<String>,
}

impl LdapPerson {
    pub fn dn(&self) -> String {
        format!("uid={},{STAFF_DN}", self.uid)
    }

    /// The entry as LDIF (for `ldapadd`), ending with an empty line.
    pub fn ldif(&self) -> String {
        let mut ldif = format!(
            "dn: {}\nobjectClass: inetOrgPerson\nobjectClass: hsaPerson\n",
            self.dn()
        );
        let cn = format!("{} {}", self.given_name, self.surname);
        let mut attributes = vec![
            ("uid", self.uid.as_str()),
            ("cn", cn.as_str()),
            ("givenName", self.given_name.as_str()),
            ("sn", self.surname.as_str()),
            ("hsaIdentity", self.hsa_id.as_str()),
        ];
        for (name, value) in [
            ("mail", &self.mail),
            ("personalIdentityNumber", &self.personal_identity_number),
            ("title", &self.title),
        ] {
            if let Some(value) = value {
                attributes.push((name, value));
            }
        }
        for commission in &self.commissions {
            attributes.push(("hsaCommission", commission));
        }
        for (name, value) in attributes {
            ldif.push_str(&ldif_line(name, value));
        }
        ldif.push('\n');
        ldif
    }
}

/// `name: value`, or `name:: base64` when the value is not an LDIF SAFE-STRING (RFC 2849:
/// non-ASCII, control characters, or a leading space, colon or `<`, or a trailing space).
pub fn ldif_line(name: &str, value: &str) -> String {
    let safe = value
        .bytes()
        .all(|b| b.is_ascii() && b != b'\0' && b != b'\n' && b != b'\r')
        && !value.starts_with([' ', ':', '<'])
        && !value.ends_with(' ');
    if safe {
        format!("{name}: {value}\n")
    } else {
        let encoded = base64::engine::general_purpose::STANDARD.encode(value);
        format!("{name}:: {encoded}\n")
    }
}

/// A private `slapd` on `127.0.0.1:<free port>`; killed when dropped.
pub struct SlapdServer {
    port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl SlapdServer {
    /// Writes `slapd.conf`, the schema and the seed entries (with `slapadd`) into a
    /// temporary directory and starts slapd there.
    pub async fn start() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let path = dir.path();
        std::fs::create_dir(path.join("data"))?;
        std::fs::write(path.join("hsa.schema"), HSA_SCHEMA)?;
        std::fs::write(path.join("slapd.conf"), slapd_conf(path))?;
        std::fs::write(path.join("seed.ldif"), SEED_LDIF)?;
        let seeded = Command::new(SLAPADD)
            .arg("-f")
            .arg(path.join("slapd.conf"))
            .arg("-l")
            .arg(path.join("seed.ldif"))
            .stdin(Stdio::null())
            .output()
            .await
            .context("cannot run slapadd (is slapd installed? tests/run installs it)")?;
        if !seeded.status.success() {
            bail!(
                "slapadd failed: {}",
                String::from_utf8_lossy(&seeded.stderr).trim()
            );
        }
        let mut server = Self {
            port: free_port(),
            child: None,
            dir,
        };
        server.spawn().await?;
        Ok(server)
    }

    async fn spawn(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())?;
        let child = Command::new(SLAPD)
            .arg("-f")
            .arg(self.dir.path().join("slapd.conf"))
            .args(["-h", &format!("ldap://127.0.0.1:{}/", self.port)])
            // A debug level keeps slapd in the foreground; `stats` logs each operation.
            .args(["-d", "stats"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .context("cannot start slapd (is it installed? tests/run installs it)")?;
        self.child = Some(child);
        self.wait_until_listening().await
    }

    /// Like [`crate::wait_for_port`], but gives up as soon as slapd exits (a bad
    /// configuration, say), with its log.
    async fn wait_until_listening(&mut self) -> anyhow::Result<()> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        for _ in 0..500 {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Ok(());
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                bail!(
                    "slapd exited ({status}) before listening on {addr}:\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        bail!("slapd did not start listening on {addr}:\n{}", self.log())
    }

    /// `ldap://127.0.0.1:<port>`: plain LDAP, to be upgraded with StartTLS. The development
    /// TLS certificate names `127.0.0.1` (and `localhost`); trust `certs-dev/tls/tls-ca.pem`
    /// ([`Self::ca_file`]).
    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The database suffix, `dc=lillby,dc=example`.
    pub fn base_dn() -> &'static str {
        BASE_DN
    }

    /// `ou=staff,dc=lillby,dc=example`, where the people are.
    pub fn staff_dn() -> &'static str {
        STAFF_DN
    }

    /// The CA that signs the server's certificate.
    pub fn ca_file() -> PathBuf {
        repo_root().join("certs-dev/tls/tls-ca.pem")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("slapd.log")
    }

    /// slapd's log so far (one line per connection and operation), for diagnosis.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_else(|e| format!("(no log: {e})"))
    }

    /// Adds `people` with one `ldapadd` (a thousand take a fraction of a second).
    pub async fn add_people(&self, people: &[LdapPerson]) -> anyhow::Result<()> {
        let ldif: String = people.iter().map(LdapPerson::ldif).collect();
        self.as_root("ldapadd", &[], &ldif).await
    }

    /// Modifies `dn` with `ldif_changes`, the lines after `changetype: modify`, e.g.
    /// `"replace: mail\nmail: new@lillby.example\n-\ndelete: title\n"`. Note that
    /// `modifyTimestamp` has a resolution of one second.
    pub async fn modify(&self, dn: &str, ldif_changes: &str) -> anyhow::Result<()> {
        let mut ldif = format!("dn: {dn}\nchangetype: modify\n{ldif_changes}");
        if !ldif.ends_with('\n') {
            ldif.push('\n');
        }
        self.as_root("ldapmodify", &[], &ldif).await
    }

    /// Deletes the entry `dn` (a leaf).
    pub async fn delete(&self, dn: &str) -> anyhow::Result<()> {
        self.as_root("ldapdelete", &[dn], "").await
    }

    /// Searches `base` (subtree) as the sync account over StartTLS, trusting the dev CA,
    /// with a paged search; returns `ldapsearch -LLL` output (LDIF; values that are not
    /// ASCII are base64, `name:: ...`).
    pub async fn search_as_sync(
        &self,
        base: &str,
        filter: &str,
        attributes: &[&str],
    ) -> anyhow::Result<String> {
        let out = Command::new("ldapsearch")
            .env("LDAPTLS_CACERT", Self::ca_file())
            .env("LDAPTLS_REQCERT", "demand")
            .args(["-LLL", "-x", "-ZZ", "-o", "ldif-wrap=no", "-H", &self.url()])
            .args(["-D", SYNC_BIND_DN, "-w", SYNC_PASSWORD])
            .args(["-E", "pr=100/noprompt", "-b", base, filter])
            .args(attributes)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .context("cannot run ldapsearch (is ldap-utils installed? tests/run installs it)")?;
        if !out.status.success() {
            bail!(
                "ldapsearch -b {base} {filter}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8(out.stdout)?)
    }

    /// Runs an OpenLDAP tool as the root DN with `ldif` on its stdin.
    async fn as_root(&self, tool: &str, args: &[&str], ldif: &str) -> anyhow::Result<()> {
        let mut child = Command::new(tool)
            // Ignore ldap.conf / ~/.ldaprc: nothing there is meant for this server.
            .env("LDAPNOINIT", "1")
            .args(["-x", "-H", &self.url(), "-D", ROOT_DN, "-w", ROOT_PASSWORD])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| {
                format!("cannot run {tool} (is ldap-utils installed? tests/run installs it)")
            })?;
        let mut stdin = child.stdin.take().context("no stdin")?;
        let input = ldif.as_bytes().to_vec();
        let writer = tokio::spawn(async move {
            // A tool that fails stops reading: its stderr says why, not the broken pipe.
            let _ = stdin.write_all(&input).await;
        });
        let out = child.wait_with_output().await?;
        let _ = writer.await;
        if !out.status.success() {
            bail!(
                "{tool} against {} failed ({}): {}",
                self.url(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }

    /// Stops the server (and waits until it is gone); the data stays.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().await?;
        }
        Ok(())
    }

    /// Starts it again on the same port, with the same data.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.stop().await?;
        self.spawn().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(i: usize) -> LdapPerson {
        LdapPerson {
            uid: format!("p{i:04}"),
            given_name: format!("Person{i}"),
            surname: "Lillbysson".into(),
            mail: Some(format!("p{i:04}@lillby.example")),
            hsa_id: format!("SE2120007774-p{i:04}"),
            personal_identity_number: Some(format!("1912121212{:02}", i % 100)),
            title: Some("Undersköterska".into()),
            commissions: vec![
                format!("SE2120007774-c{i:04}$Hemtjänst$Vård och behandling"),
                "SE2120007774-c9999$Larm$Läsa".into(),
            ],
        }
    }

    fn count(ldif: &str, prefix: &str) -> usize {
        ldif.lines().filter(|l| l.starts_with(prefix)).count()
    }

    /// The harness itself: seed, people, StartTLS + bind as the sync account, the
    /// operational attributes, modify/delete, and data that survives a restart.
    #[tokio::test]
    async fn slapd_harness_works() {
        let started = std::time::Instant::now();
        let mut slapd = SlapdServer::start().await.unwrap();
        let people: Vec<_> = (0..3).map(person).collect();
        slapd.add_people(&people).await.unwrap();

        let attrs = [
            "hsaIdentity",
            "modifyTimestamp",
            "entryUUID",
            "hsaCommission",
            "title",
        ];
        let found = slapd
            .search_as_sync(STAFF_DN, "(objectClass=hsaPerson)", &attrs)
            .await
            .unwrap();
        assert_eq!(count(&found, "dn: uid="), 3, "{found}");
        assert_eq!(count(&found, "hsaIdentity: SE2120007774-p"), 3, "{found}");
        assert_eq!(count(&found, "modifyTimestamp: "), 3, "{found}");
        assert_eq!(count(&found, "entryUUID: "), 3, "{found}");
        assert_eq!(count(&found, "hsaCommission"), 6, "{found}");
        assert_eq!(count(&found, "title:: "), 3, "non-ASCII is base64: {found}");
        assert!(slapd.log().contains("STARTTLS"), "{}", slapd.log());

        // Anonymous users see nothing.
        let anonymous = Command::new("ldapsearch")
            .env("LDAPNOINIT", "1")
            .args(["-LLL", "-x", "-H", &slapd.url(), "-b", STAFF_DN, "(uid=*)"])
            .output()
            .await
            .unwrap();
        assert!(!String::from_utf8_lossy(&anonymous.stdout).contains("dn:"));

        slapd
            .modify(&people[0].dn(), "replace: mail\nmail: new@lillby.example")
            .await
            .unwrap();
        slapd.delete(&people[2].dn()).await.unwrap();

        slapd.stop().await.unwrap();
        assert!(slapd.add_people(&[person(9)]).await.is_err());
        slapd.restart().await.unwrap();
        let found = slapd
            .search_as_sync(STAFF_DN, "(objectClass=hsaPerson)", &["mail", "entryUUID"])
            .await
            .unwrap();
        assert_eq!(count(&found, "dn: uid="), 2, "{found}");
        assert!(found.contains("mail: new@lillby.example"), "{found}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }

    /// A thousand people in one `ldapadd`, all found again by a paged search.
    #[tokio::test]
    async fn a_thousand_people() {
        let slapd = SlapdServer::start().await.unwrap();
        let started = std::time::Instant::now();
        let people: Vec<_> = (0..1000).map(person).collect();
        slapd.add_people(&people).await.unwrap();
        let added = started.elapsed();
        let found = slapd
            .search_as_sync(STAFF_DN, "(objectClass=hsaPerson)", &["entryUUID"])
            .await
            .unwrap();
        assert_eq!(count(&found, "entryUUID: "), 1000);
        assert!(added < Duration::from_secs(2), "{added:?}");
    }
}
