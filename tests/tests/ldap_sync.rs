//! LDAP sync against a real OpenLDAP `slapd` (StartTLS, a service account, paged search):
//! a full run of 1,000 persons, an incremental run that applies exactly what changed,
//! a full run that disables who is gone, a person outside the tenant's population refused
//! and reported, and a server that goes away in the middle of a run leaving the last
//! good state in use.

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use e2e::ldap::{LdapPerson, SlapdServer, SYNC_BIND_DN, SYNC_PASSWORD};
use e2e::SqliteDatabase;
use idp::config::{LdapAttributes, LdapSourceConfig};
use idp::directory::ldap::{self, LdapSource};
use idp::directory::{Directory, Mode, SqlDirectory};
use idp::ids::HsaId;
use idp::tenants::Tenants;
use time::macros::datetime;

fn person(i: usize) -> LdapPerson {
    LdapPerson {
        uid: format!("p{i:04}"),
        given_name: format!("Person{i}"),
        surname: "Lillbysson".into(),
        mail: Some(format!("p{i:04}@lillby.example")),
        hsa_id: format!("SE2120007774-p{i:04}"),
        personal_identity_number: None,
        title: Some("Undersköterska".into()),
        commissions: if i == 0 {
            vec![
                "SE2120007774-c0001$Hemtjänst$Vård och behandling$SE2120007774-u01$Läsa,Skriva"
                    .into(),
            ]
        } else {
            Vec::new()
        },
    }
}

fn hsa(id: &str) -> HsaId {
    id.parse().unwrap()
}

fn source_config(url: String, password_file: &std::path::Path) -> LdapSourceConfig {
    LdapSourceConfig {
        tenant: "lillby".into(),
        name: "ad".into(),
        url,
        starttls: true,
        ca_file: Some(SlapdServer::ca_file()),
        bind_dn: SYNC_BIND_DN.into(),
        bind_password_env: None,
        bind_password_file: Some(password_file.to_owned()),
        base_dn: "ou=staff,dc=lillby,dc=example".into(),
        filter: "(objectClass=hsaPerson)".into(),
        page_size: 100,
        full_sync_minutes: 1440,
        incremental_sync_minutes: 5,
        timeout_seconds: 60,
        organisation_number: Some("2120007774".into()),
        organisation_name: Some("Lillby kommun".into()),
        attributes: LdapAttributes::default(),
    }
}

struct Setup {
    slapd: SlapdServer,
    directory: SqlDirectory,
    tenants: Tenants,
    password_dir: tempfile::TempDir,
    _db: SqliteDatabase,
}

async fn setup() -> Setup {
    let slapd = SlapdServer::start().await.unwrap();
    let file = SqliteDatabase::create().unwrap();
    let db = idp::storage::Database::connect_and_migrate(&file.url, 4)
        .await
        .unwrap();
    let registry = e2e::fixtures::import_shipped_tenants(&db).await;
    let password_dir = tempfile::tempdir().unwrap();
    std::fs::write(
        password_dir.path().join("password"),
        format!("{SYNC_PASSWORD}\n"),
    )
    .unwrap();
    Setup {
        slapd,
        directory: SqlDirectory::new(db),
        tenants: registry.tenants.clone(),
        password_dir,
        _db: file,
    }
}

impl Setup {
    fn source(&self, url: String) -> LdapSource {
        LdapSource::new(source_config(
            url,
            &self.password_dir.path().join("password"),
        ))
        .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_sync_then_an_incremental_one_apply_exactly_what_changed_at_the_server() {
    let s = setup().await;
    let mut people: Vec<LdapPerson> = (0..1000).map(person).collect();
    // A region employee in Lillby's server: outside Lillby's population.
    let mut outsider = person(1000);
    outsider.uid = "region-nurse".into();
    outsider.hsa_id = "SE2321009991-r0001".into();
    people.push(outsider.clone());
    s.slapd.add_people(&people).await.unwrap();
    let ldap = s.source(s.slapd.url());
    let t0 = datetime!(2026-12-06 06:00 UTC);

    let full = ldap::sync(&s.directory, &s.tenants, &ldap, Mode::Full, t0)
        .await
        .unwrap();
    assert_eq!(full.created, 1000, "{full}");
    assert_eq!(full.refused.len(), 1, "{:?}", full.refused);
    assert_eq!(full.refused[0].code, "OUTSIDE_POPULATION");
    assert_eq!(
        full.refused[0].record,
        outsider.dn(),
        "the refusal names the entry"
    );
    let p0 = s
        .directory
        .find_by_hsa_id(&hsa("SE2120007774-p0000"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p0.given_name, "Person0");
    assert_eq!(p0.employments[0].organisation_name, "Lillby kommun");
    let commission = &p0.employments[0].commissions[0];
    assert_eq!(
        (commission.name.as_str(), commission.rights.clone()),
        ("Hemtjänst", vec!["Läsa".to_owned(), "Skriva".to_owned()])
    );
    assert_eq!(
        s.directory
            .find_by_hsa_id(&hsa("SE2321009991-r0001"))
            .await
            .unwrap(),
        None
    );

    // 10 changed and 5 removed at the server.
    for i in 1..=10 {
        s.slapd
            .modify(
                &person(i).dn(),
                &format!("replace: mail\nmail: changed{i}@lillby.example\n"),
            )
            .await
            .unwrap();
    }
    for i in 991..=995 {
        s.slapd.delete(&person(i).dn()).await.unwrap();
    }
    let t1 = t0 + Duration::from_secs(300);
    let incremental = ldap::sync(&s.directory, &s.tenants, &ldap, Mode::Incremental, t1)
        .await
        .unwrap();
    assert_eq!(
        (
            incremental.created,
            incremental.updated,
            incremental.disabled
        ),
        (0, 10, 0),
        "exactly the 10 changes: {incremental}"
    );
    let p5 = s
        .directory
        .find_by_hsa_id(&hsa("SE2120007774-p0005"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p5.mail.as_deref(), Some("changed5@lillby.example"));
    // An incremental run cannot see deletions; the next full run disables exactly them.
    let full_again = ldap::sync(
        &s.directory,
        &s.tenants,
        &ldap,
        Mode::Full,
        t1 + Duration::from_secs(60),
    )
    .await
    .unwrap();
    assert_eq!(
        (
            full_again.created,
            full_again.updated,
            full_again.disabled,
            full_again.unchanged
        ),
        (0, 0, 5, 995),
        "{full_again}"
    );
    assert_eq!(
        s.directory
            .find_by_hsa_id(&hsa("SE2120007774-p0993"))
            .await
            .unwrap(),
        None
    );
    let status = &s.directory.statuses(None).await.unwrap()[0];
    assert_eq!(
        (
            status.source.as_str(),
            status.active_records,
            status.disabled_records
        ),
        ("lillby/ad", 995, 5)
    );
}

/// A TCP relay to slapd that cuts both connections once `limit` bytes came back from
/// the server: a server that goes away in the middle of a run, at a known point.
async fn cutting_relay(server_port: u16, limit: usize) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let Ok(mut server) = TcpStream::connect(("127.0.0.1", server_port)).await else {
                continue;
            };
            tokio::spawn(async move {
                let (mut client_read, mut client_write) = client.split();
                let (mut server_read, mut server_write) = server.split();
                let upstream = tokio::io::copy(&mut client_read, &mut server_write);
                let downstream = async {
                    let mut relayed = 0;
                    let mut buffer = vec![0; 4096];
                    while relayed < limit {
                        let n = server_read.read(&mut buffer).await.unwrap_or(0);
                        if n == 0 || client_write.write_all(&buffer[..n]).await.is_err() {
                            break;
                        }
                        relayed += n;
                    }
                };
                tokio::select! {
                    _ = upstream => {}
                    () = downstream => {}
                }
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_lost_in_the_middle_of_a_run_leaves_the_last_good_state() {
    let s = setup().await;
    let people: Vec<LdapPerson> = (0..300).map(person).collect();
    s.slapd.add_people(&people).await.unwrap();
    let t0 = datetime!(2026-12-06 06:00 UTC);
    let direct = s.source(s.slapd.url());
    let first = ldap::sync(&s.directory, &s.tenants, &direct, Mode::Full, t0)
        .await
        .unwrap();
    assert_eq!(first.created, 300);

    // Everyone renamed at the server; the run reads some pages, then the server is gone.
    for i in 0..300 {
        s.slapd
            .modify(
                &person(i).dn(),
                &format!("replace: givenName\ngivenName: Renamed{i}\n"),
            )
            .await
            .unwrap();
    }
    let port = s
        .slapd
        .url()
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .parse()
        .unwrap();
    let relay = cutting_relay(port, 24 * 1024).await;
    let cut = s.source(format!("ldap://localhost:{relay}"));
    let t1 = t0 + Duration::from_secs(60);
    let error = ldap::sync(&s.directory, &s.tenants, &cut, Mode::Full, t1)
        .await
        .unwrap_err();
    assert!(matches!(error, ldap::LdapSyncError::Ldap(_)), "{error}");

    // Nobody renamed, nobody disabled; the status says the run failed.
    let p0 = s
        .directory
        .find_by_hsa_id(&hsa("SE2120007774-p0000"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p0.given_name, "Person0");
    let status = &s.directory.statuses(None).await.unwrap()[0];
    assert_eq!((status.active_records, status.disabled_records), (300, 0));
    assert!(status.last_error.is_some());
    assert!(status.last_attempt_at_ms > status.last_success_at_ms);

    // A whole slapd outage, too.
    let mut slapd = s.slapd;
    slapd.stop().await.unwrap();
    let error = ldap::sync(&s.directory, &s.tenants, &direct, Mode::Incremental, t1)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("LDAP"), "{error}");
    assert!(s
        .directory
        .find_by_hsa_id(&hsa("SE2120007774-p0299"))
        .await
        .unwrap()
        .is_some());

    // Back: the next run applies what changed meanwhile.
    slapd.restart().await.unwrap();
    let back = ldap::sync(
        &s.directory,
        &s.tenants,
        &direct,
        Mode::Full,
        t1 + Duration::from_secs(60),
    )
    .await
    .unwrap();
    assert_eq!(back.updated, 300, "{back}");
    assert!(s.directory.statuses(None).await.unwrap()[0]
        .last_error
        .is_none());
}

#[tokio::test]
async fn a_wrong_bind_password_fails_the_run_and_says_so() {
    let s = setup().await;
    std::fs::write(s.password_dir.path().join("password"), "wrong").unwrap();
    let ldap = s.source(s.slapd.url());
    let error = ldap::sync(
        &s.directory,
        &s.tenants,
        &ldap,
        Mode::Full,
        datetime!(2026-12-06 06:00 UTC),
    )
    .await
    .unwrap_err();
    assert!(error.to_string().contains("LDAP"), "{error}");
    let status = &s.directory.statuses(None).await.unwrap()[0];
    assert!(
        status.last_error.as_deref().unwrap_or("").contains("LDAP"),
        "{status:?}"
    );
    assert!(
        !status.last_error.as_deref().unwrap_or("").contains("wrong"),
        "no password in the status"
    );
}

#[test]
fn a_clear_text_ldap_url_is_refused_by_the_configuration() {
    e2e::use_repo_root_as_cwd();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("idp.toml");
    std::fs::write(
        &file,
        r#"
[[directory.ldap]]
tenant = "lillby"
name = "ad"
url = "ldap://dc1.lillby.example"
bind_dn = "cn=idp"
bind_password_env = "IDP_TEST_UNSET"
base_dn = "ou=staff"
organisation_number = "2120007774"
"#,
    )
    .unwrap();
    let Err(problems) = idp::config::load(&idp::config::ConfigSource {
        file: Some(file),
        env: Default::default(),
    }) else {
        panic!("a clear-text LDAP connection must be refused");
    };
    let problems = problems.to_string();
    assert!(problems.contains("directory.ldap[0].url"), "{problems}");
    assert!(problems.contains("clear"), "{problems}");
}
