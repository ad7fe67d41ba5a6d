//! The directory's contract with its sources, on SQLite and on a real PostgreSQL: what a
//! source writes is what a login finds; a full sync disables who is gone, an incremental
//! one applies exactly its changes; a tenant's source writes only its own population;
//! no source touches another's records; retention removes the disabled.

use std::time::Duration;

use e2e::repo_root;
use idp::directory::{
    load_seed_file, Batch, Directory, Employment, Mode, SourceId, SourceKind, SourceRecord,
    SqlDirectory, SEED_SOURCE,
};
use idp::ids::{HsaId, PersonalIdentityNumber, TenantId};
use idp::storage::Database;
use idp::tenants::Tenants;
use time::macros::datetime;
use time::OffsetDateTime;

const T0: OffsetDateTime = datetime!(2026-12-06 06:00 UTC);

fn hsa(id: &str) -> HsaId {
    id.parse().unwrap()
}

fn pnr(number: &str) -> PersonalIdentityNumber {
    number.parse().unwrap()
}

fn tenant(id: &str) -> TenantId {
    id.parse().unwrap()
}

fn employment(hsa_id: &str, organisation: &str) -> Employment {
    Employment {
        hsa_id: hsa(hsa_id),
        organisation_number: organisation.parse().unwrap(),
        organisation_name: format!("Organisation {organisation}"),
        title: None,
        commissions: Vec::new(),
    }
}

fn record(
    external_id: &str,
    number: Option<&str>,
    given: &str,
    jobs: Vec<Employment>,
) -> SourceRecord {
    SourceRecord {
        external_id: external_id.to_owned(),
        user_name: None,
        personal_identity_number: number.map(pnr),
        given_name: given.to_owned(),
        surname: "Testsson".to_owned(),
        mail: None,
        employments: jobs,
        source_attributes: None,
    }
}

fn batch(mode: Mode, records: Vec<SourceRecord>, removed: &[&str]) -> Batch {
    Batch {
        kind: SourceKind::File,
        mode,
        records,
        removed: removed.iter().map(|r| r.to_string()).collect(),
        cursor: None,
    }
}

/// The lillby tenant's source, and a region employee of it.
fn lillby_source() -> SourceId {
    SourceId::tenant(tenant("lillby"), "ad").unwrap()
}

async fn setup(db: Database) -> (SqlDirectory, Tenants) {
    let registry = e2e::fixtures::import_shipped_tenants(&db).await;
    (SqlDirectory::new(db), registry.tenants.clone())
}

async fn the_seed_is_found_by_hsa_id_and_personal_number(db: Database) {
    let (directory, tenants) = setup(db).await;
    let seed = load_seed_file(&repo_root().join("config/directory-dev.toml")).unwrap();
    let source = SourceId::platform(SEED_SOURCE);
    let mut full = batch(Mode::Full, seed.records.clone(), &[]);
    full.kind = SourceKind::Seed;
    let report = directory.apply(&source, &full, &tenants, T0).await.unwrap();
    assert_eq!(report.created, seed.records.len(), "{report}");
    assert!(report.refused.is_empty(), "{report:?}");

    let anna = directory
        .find_by_hsa_id(&hsa("SE2321009991-anna01"))
        .await
        .unwrap()
        .expect("anna by her region HSA-id");
    assert_eq!(anna.display_name(), "Anna Andersson");
    assert_eq!(anna.employments.len(), 2);
    let region_job = anna.employment(&hsa("SE2321009991-anna01")).unwrap();
    assert_eq!(region_job.commissions.len(), 2);
    assert_eq!(
        region_job.commissions[0].rights,
        ["Läsa", "Skriva", "Signera"]
    );
    let by_lillby = directory
        .find_by_hsa_id(&hsa("SE2120007774-anna02"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_lillby.id, anna.id);
    let cecilia = directory
        .find_by_personal_identity_number(&pnr("198504042386"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cecilia.given_name, "Cecilia");
    assert_eq!(
        directory
            .find_by_hsa_id(&hsa("SE2321009991-nobody"))
            .await
            .unwrap(),
        None
    );
    // A commission's HSA-id is not a login identity.
    let commission = &region_job.commissions[0].hsa_id;
    assert_eq!(directory.find_by_hsa_id(commission).await.unwrap(), None);

    // The next start writes the same seed: nothing changes, ids stay.
    let again = directory
        .apply(&source, &full, &tenants, T0 + Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        (again.created, again.updated, again.unchanged),
        (0, 0, seed.records.len())
    );
    let anna_again = directory
        .find_by_hsa_id(&hsa("SE2321009991-anna01"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(anna_again.id, anna.id);
}

async fn a_full_sync_disables_the_missing_and_retention_removes_them(db: Database) {
    let (directory, tenants) = setup(db).await;
    let source = lillby_source();
    let people: Vec<SourceRecord> = (0..5)
        .map(|i| {
            record(
                &format!("uid=p{i}"),
                None,
                &format!("P{i}"),
                vec![employment(&format!("SE2120007774-p{i}"), "2120007774")],
            )
        })
        .collect();
    let first = directory
        .apply(
            &source,
            &batch(Mode::Full, people.clone(), &[]),
            &tenants,
            T0,
        )
        .await
        .unwrap();
    assert_eq!(first.created, 5);

    // p4 gone from the source, p0 renamed.
    let mut next = people[..4].to_vec();
    next[0].given_name = "Renamed".into();
    let second = directory
        .apply(
            &source,
            &batch(Mode::Full, next, &[]),
            &tenants,
            T0 + Duration::from_secs(600),
        )
        .await
        .unwrap();
    assert_eq!(
        (
            second.created,
            second.updated,
            second.unchanged,
            second.disabled
        ),
        (0, 1, 3, 1),
        "{second}"
    );
    assert_eq!(
        directory
            .find_by_hsa_id(&hsa("SE2120007774-p4"))
            .await
            .unwrap(),
        None
    );
    let p0 = directory
        .find_by_hsa_id(&hsa("SE2120007774-p0"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p0.given_name, "Renamed");
    let stored = directory.record(&source, "uid=p4").await.unwrap().unwrap();
    assert!(stored.disabled_at_ms.is_some());

    // Disabled records keep their HSA-ids until retention ends, then they are removed.
    let other = SourceId::tenant(tenant("lillby"), "hr").unwrap();
    let taken = directory
        .apply(
            &other,
            &batch(Mode::Incremental, vec![people[4].clone()], &[]),
            &tenants,
            T0 + Duration::from_secs(700),
        )
        .await
        .unwrap();
    assert_eq!(taken.refused.len(), 1);
    assert_eq!(taken.refused[0].code, "HSA_ID_TAKEN");
    let later = T0 + Duration::from_secs(31 * 24 * 3600);
    let purged = directory
        .apply(
            &source,
            &batch(Mode::Incremental, Vec::new(), &[]),
            &tenants,
            later,
        )
        .await
        .unwrap();
    assert_eq!(purged.removed, 1);
    assert_eq!(directory.record(&source, "uid=p4").await.unwrap(), None);
    let now_free = directory
        .apply(
            &other,
            &batch(Mode::Incremental, vec![people[4].clone()], &[]),
            &tenants,
            later,
        )
        .await
        .unwrap();
    assert_eq!(now_free.created, 1, "{now_free:?}");
}

async fn an_incremental_sync_applies_exactly_its_changes(db: Database) {
    let (directory, tenants) = setup(db).await;
    let source = lillby_source();
    let people: Vec<SourceRecord> = (0..3)
        .map(|i| {
            record(
                &format!("uid=q{i}"),
                None,
                &format!("Q{i}"),
                vec![employment(&format!("SE2120007774-q{i}"), "2120007774")],
            )
        })
        .collect();
    directory
        .apply(
            &source,
            &batch(Mode::Full, people.clone(), &[]),
            &tenants,
            T0,
        )
        .await
        .unwrap();
    let mut changed = people[1].clone();
    changed.mail = Some("q1@lillby.example".into());
    let report = directory
        .apply(
            &source,
            &batch(Mode::Incremental, vec![changed], &["uid=q2"]),
            &tenants,
            T0,
        )
        .await
        .unwrap();
    assert_eq!(
        (report.updated, report.disabled, report.unchanged),
        (1, 1, 0),
        "{report}"
    );
    assert!(directory
        .find_by_hsa_id(&hsa("SE2120007774-q0"))
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        directory
            .find_by_hsa_id(&hsa("SE2120007774-q1"))
            .await
            .unwrap()
            .unwrap()
            .mail
            .as_deref(),
        Some("q1@lillby.example")
    );
    assert_eq!(
        directory
            .find_by_hsa_id(&hsa("SE2120007774-q2"))
            .await
            .unwrap(),
        None
    );
    // Back at the source: enabled again, same person.
    let back = directory
        .apply(
            &source,
            &batch(Mode::Incremental, vec![people[2].clone()], &[]),
            &tenants,
            T0,
        )
        .await
        .unwrap();
    assert_eq!(back.updated, 1);
    assert!(directory
        .find_by_hsa_id(&hsa("SE2120007774-q2"))
        .await
        .unwrap()
        .is_some());
}

async fn a_tenant_source_writes_only_its_own_population(db: Database) {
    let (directory, tenants) = setup(db).await;
    let source = lillby_source();
    let own = record(
        "uid=own",
        None,
        "Own",
        vec![employment("SE2120007774-own1", "2120007774")],
    );
    // A region HSA-id in lillby's source: refused, whatever else the record holds.
    let foreign = record(
        "uid=foreign",
        None,
        "Foreign",
        vec![
            employment("SE2120007774-f1", "2120007774"),
            employment("SE2321009991-f1", "2321009991"),
        ],
    );
    let report = directory
        .apply(
            &source,
            &batch(Mode::Full, vec![own, foreign], &[]),
            &tenants,
            T0,
        )
        .await
        .unwrap();
    assert_eq!(report.created, 1);
    assert_eq!(report.refused.len(), 1);
    assert_eq!(report.refused[0].code, "OUTSIDE_POPULATION");
    assert_eq!(report.refused[0].record, "uid=foreign");
    assert!(
        report.refused[0].reason.contains("SE2321009991-f1"),
        "{:?}",
        report.refused
    );
    assert_eq!(
        directory
            .find_by_hsa_id(&hsa("SE2321009991-f1"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        directory
            .find_by_hsa_id(&hsa("SE2120007774-f1"))
            .await
            .unwrap(),
        None
    );

    // A source of a tenant that does not exist writes nobody.
    let ghost = SourceId::tenant(tenant("ghost"), "ad").unwrap();
    let ghost_report = directory
        .apply(
            &ghost,
            &batch(
                Mode::Full,
                vec![record(
                    "uid=x",
                    None,
                    "X",
                    vec![employment("SE2120007774-x", "2120007774")],
                )],
                &[],
            ),
            &tenants,
            T0,
        )
        .await
        .unwrap();
    assert_eq!(ghost_report.refused[0].code, "SOURCE_TENANT_UNKNOWN");

    // The status says what the source did.
    let statuses = directory.statuses(Some(&tenant("lillby"))).await.unwrap();
    assert_eq!(statuses.len(), 1);
    assert_eq!(statuses[0].source, "lillby/ad");
    assert_eq!(statuses[0].active_records, 1);
    assert_eq!(statuses[0].last_report.as_ref().unwrap().refused.len(), 1);
}

async fn one_person_across_sources_keeps_the_first_sources_name(db: Database) {
    let (directory, tenants) = setup(db).await;
    let number = "198504042386";
    let region = SourceId::tenant(tenant("region"), "hsa").unwrap();
    let lillby = lillby_source();
    directory
        .apply(
            &region,
            &batch(
                Mode::Full,
                vec![record(
                    "r1",
                    Some(number),
                    "Cecilia",
                    vec![employment("SE2321009991-c1", "2321009991")],
                )],
                &[],
            ),
            &tenants,
            T0,
        )
        .await
        .unwrap();
    // Lillby's source knows her too, under another name: it adds its employment, it
    // cannot rename region staff.
    directory
        .apply(
            &lillby,
            &batch(
                Mode::Full,
                vec![record(
                    "l1",
                    Some(number),
                    "Mallory",
                    vec![employment("SE2120007774-c2", "2120007774")],
                )],
                &[],
            ),
            &tenants,
            T0 + Duration::from_secs(1),
        )
        .await
        .unwrap();
    let cecilia = directory
        .find_by_personal_identity_number(&pnr(number))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cecilia.given_name, "Cecilia");
    let jobs: Vec<&str> = cecilia
        .employments
        .iter()
        .map(|e| e.hsa_id.as_str())
        .collect();
    assert_eq!(jobs, ["SE2321009991-c1", "SE2120007774-c2"]);
    let by_lillby = directory
        .find_by_hsa_id(&hsa("SE2120007774-c2"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_lillby.id, cecilia.id);

    // Lillby's full sync without her touches only lillby's record.
    directory
        .apply(
            &lillby,
            &batch(Mode::Full, Vec::new(), &[]),
            &tenants,
            T0 + Duration::from_secs(2),
        )
        .await
        .unwrap();
    let after = directory
        .find_by_personal_identity_number(&pnr(number))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.id, cecilia.id);
    assert_eq!(after.employments.len(), 1);
}

async fn a_failed_run_keeps_the_last_good_state_and_says_so(db: Database) {
    let (directory, tenants) = setup(db).await;
    let source = lillby_source();
    let mut good = batch(
        Mode::Full,
        vec![record(
            "uid=k",
            None,
            "Kept",
            vec![employment("SE2120007774-k1", "2120007774")],
        )],
        &[],
    );
    good.cursor = Some("20261206060000Z".into());
    directory.apply(&source, &good, &tenants, T0).await.unwrap();
    directory
        .record_failure(
            &source,
            SourceKind::Ldap,
            "connection refused",
            T0 + Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert!(directory
        .find_by_hsa_id(&hsa("SE2120007774-k1"))
        .await
        .unwrap()
        .is_some());
    let status = &directory.statuses(None).await.unwrap()[0];
    assert_eq!(status.last_error.as_deref(), Some("connection refused"));
    assert!(status.last_attempt_at_ms > status.last_success_at_ms);
    assert_eq!(
        directory.cursor(&source).await.unwrap().as_deref(),
        Some("20261206060000Z")
    );
}

e2e::on_both_databases!(
    the_seed_is_found_by_hsa_id_and_personal_number,
    a_full_sync_disables_the_missing_and_retention_removes_them,
    an_incremental_sync_applies_exactly_its_changes,
    a_tenant_source_writes_only_its_own_population,
    one_person_across_sources_keeps_the_first_sources_name,
    a_failed_run_keeps_the_last_good_state_and_says_so,
);

/// The region's real source: Anna's region employment, under another name than the seed's.
fn region_anna() -> (SourceId, Batch) {
    let source = SourceId::tenant(tenant("region"), "hsa").unwrap();
    let anna = record(
        "cn=anna",
        Some("197309069289"),
        "Real-Anna",
        vec![employment("SE2321009991-anna01", "2321009991")],
    );
    (source, batch(Mode::Full, vec![anna], &[]))
}

#[tokio::test]
async fn a_production_instance_starts_empty_and_keeps_what_sources_wrote() {
    let db = e2e::SqliteDatabase::create().unwrap();
    let production = || e2e::idp_server::production_config(&db.url, None);
    let idp = e2e::TestIdp::start(production()).await.unwrap();
    let anna01 = hsa("SE2321009991-anna01");
    assert_eq!(
        idp.state.directory.find_by_hsa_id(&anna01).await.unwrap(),
        None,
        "no development people"
    );
    let (source, real) = region_anna();
    let tenants = idp.state.registry.load().tenants.clone();
    idp.state
        .directory
        .apply(&source, &real, &tenants, T0)
        .await
        .unwrap();
    idp.shutdown().await;

    let restarted = e2e::TestIdp::start(production()).await.unwrap();
    let anna = restarted
        .state
        .directory
        .find_by_hsa_id(&anna01)
        .await
        .unwrap();
    assert_eq!(anna.map(|a| a.given_name).as_deref(), Some("Real-Anna"));
    restarted.shutdown().await;
}

#[tokio::test]
async fn the_development_seed_never_overwrites_a_real_source() {
    let db = e2e::SqliteDatabase::create().unwrap();
    let first = e2e::TestIdp::start(e2e::idp_server::shipped_config(&db.url, None))
        .await
        .unwrap();
    let anna01 = hsa("SE2321009991-anna01");
    let seeded = first
        .state
        .directory
        .find_by_hsa_id(&anna01)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seeded.given_name, "Anna");
    // A real source takes Anna's region HSA-id over once the seed's record is gone.
    let seed_source = SourceId::platform(SEED_SOURCE);
    first
        .state
        .directory
        .remove(&seed_source, "SE2321009991-anna01")
        .await
        .unwrap();
    let (source, real) = region_anna();
    let tenants = first.state.registry.load().tenants.clone();
    let report = first
        .state
        .directory
        .apply(&source, &real, &tenants, T0)
        .await
        .unwrap();
    assert_eq!(report.created, 1, "{report:?}");
    first.shutdown().await;

    // The next development start writes the seed again: Anna's seed record is refused,
    // the real one stays, everyone else of the seed is there.
    let second = e2e::TestIdp::start(e2e::idp_server::shipped_config(&db.url, None))
        .await
        .unwrap();
    let anna = second
        .state
        .directory
        .find_by_hsa_id(&anna01)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(anna.given_name, "Real-Anna");
    let cecilia = second
        .state
        .directory
        .find_by_personal_identity_number(&pnr("198504042386"))
        .await
        .unwrap();
    assert!(cecilia.is_some());
    let statuses = second.state.directory.statuses(None).await.unwrap();
    let seed_status = statuses
        .iter()
        .find(|s| s.source == "platform/development-seed")
        .unwrap();
    let refused = &seed_status.last_report.as_ref().unwrap().refused;
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].code, "HSA_ID_TAKEN");
    second.shutdown().await;
}

#[test]
fn a_production_configuration_refuses_the_development_seed() {
    e2e::use_repo_root_as_cwd();
    let env = |seed: Option<&str>| idp::config::EnvOverrides {
        profile: Some("production".into()),
        directory_seed_file: seed.map(str::to_owned),
        ..Default::default()
    };
    let source = idp::config::ConfigSource {
        file: None,
        env: env(Some("config/directory-dev.toml")),
    };
    let Err(problems) = idp::config::load(&source) else {
        panic!("a production instance must refuse the development seed");
    };
    let problems = problems.to_string();
    assert!(problems.contains("directory.seed_file"), "{problems}");
    assert!(problems.contains("production"), "{problems}");

    // `seed_file = ""` switches the embedded seed off.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("production.toml");
    std::fs::write(
        &file,
        "profile = \"production\"\n[directory]\nseed_file = \"\"\n",
    )
    .unwrap();
    let loaded = idp::config::load(&idp::config::ConfigSource {
        file: Some(file),
        env: Default::default(),
    });
    // What stays refused is the rest of the development material, each by its key.
    let Err(problems) = loaded else {
        panic!("a production instance must refuse the development keys and secrets");
    };
    let problems = problems.to_string();
    assert!(!problems.contains("directory.seed_file"), "{problems}");
    for key in [
        "saml.pseudonym_secret",
        "oidc.subject_salt",
        "server.tls_certificate",
        "saml.signing_certificate",
        "saml.ecdsa_signing_certificate",
        "trust.anchors[0]",
        "trust.issuer[0].certificate",
        "oidc.key[0].certificate",
        "oidc.outbound_trust_anchors[0]",
    ] {
        assert!(problems.contains(key), "{key} is not named: {problems}");
    }
    assert!(problems.contains("development PKI"), "{problems}");
}
