//! Storage and directory contract, run on SQLite and on a real PostgreSQL.

use std::sync::Arc;

use e2e::repo_root;
use idp::audit::{AuditEvent, Outcome};
use idp::clock::SystemClock;
use idp::config::Problems;
use idp::directory::{load_seed_file, Directory, DirectorySeed, MemoryDirectory, SqlDirectory};
use idp::ids::{HsaId, PersonalIdentityNumber};
use idp::storage::{
    apply_tenants, find_applied_applications, find_recent_audit_events, insert_audit_event,
    Database,
};

fn dev_seed() -> DirectorySeed {
    load_seed_file(&repo_root().join("config/directory-dev.toml")).unwrap()
}

fn shipped_tenants() -> idp::tenants::Tenants {
    let mut problems = Problems::default();
    let tenants = idp::tenants::load_dir(&repo_root().join("config/tenants"), &mut problems);
    assert!(problems.is_empty(), "{problems}");
    tenants
}

async fn migrations_apply_and_are_idempotent(db: Database) {
    db.migrate().await.unwrap();
    db.ping().await.unwrap();
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(applied as usize, Database::known_migrations());
}

async fn tenants_are_applied_from_config(db: Database) {
    let tenants = shipped_tenants();
    let now = time::macros::datetime!(2026-11-22 07:00 UTC);
    apply_tenants(&db, &tenants, now).await.unwrap();
    apply_tenants(&db, &tenants, now).await.unwrap();
    let apps = find_applied_applications(&db).await.unwrap();
    let ids: Vec<_> = apps
        .iter()
        .map(|a| format!("{}/{}/{}", a.tenant_id, a.id, a.protocol))
        .collect();
    assert_eq!(
        ids,
        [
            "lillby/hemtjanst/oidc",
            "region/appen/oidc",
            "region/journal/saml",
            "storstad/omsorg/saml",
            "storstad/personal/oidc"
        ]
    );
    // A tenant removed from config disappears with its applications.
    let dir = tempfile::tempdir().unwrap();
    for name in ["region.toml", "storstad.toml"] {
        let text = std::fs::read_to_string(repo_root().join("config/tenants").join(name)).unwrap();
        std::fs::write(dir.path().join(name), text.replace(", \"lillby\"", "")).unwrap();
    }
    let mut problems = Problems::default();
    let fewer = idp::tenants::load_dir(dir.path(), &mut problems);
    assert!(problems.is_empty(), "{problems}");
    apply_tenants(&db, &fewer, now).await.unwrap();
    let apps = find_applied_applications(&db).await.unwrap();
    assert!(apps.iter().all(|a| a.tenant_id != "lillby"), "{apps:?}");
    assert_eq!(apps.len(), 4);
}

async fn audit_events_round_trip_newest_first(db: Database) {
    let t0 = time::macros::datetime!(2026-11-22 07:00:00.123 UTC);
    let mut first = AuditEvent::new("login", Outcome::Success, t0);
    first.method = Some("mtls".into());
    first.tenant_id = Some("region".into());
    first.application_id = Some("journal".into());
    first.employee_hsa_id = Some("SE2321009991-anna01".into());
    first.certificate_serial = Some("0A1B".into());
    first.certificate_issuer = Some("CN=TEST Dev e-id Person HSA-id 3 CA v1".into());
    first.client_address = Some("127.0.0.1".into());
    let mut second = AuditEvent::new("login", Outcome::Failure, t0 + time::Duration::seconds(5));
    second.code = Some("CERT_REVOKED".into());
    insert_audit_event(&db, &first).await.unwrap();
    insert_audit_event(&db, &second).await.unwrap();
    let events = find_recent_audit_events(&db, 10).await.unwrap();
    assert_eq!(events, vec![second, first]);
}

/// The directory contract, for any implementation.
async fn directory_finds_people_by_hsa_id_and_personal_number(directory: Arc<dyn Directory>) {
    directory.replace_all(&dev_seed()).await.unwrap();
    let anna_region: HsaId = "SE2321009991-anna01".parse().unwrap();
    let anna_lillby: HsaId = "SE2120007774-anna02".parse().unwrap();
    let anna = directory
        .find_by_hsa_id(&anna_region)
        .await
        .unwrap()
        .expect("anna by region HSA-id");
    assert_eq!(anna.display_name(), "Anna Andersson");
    assert_eq!(anna.employments.len(), 2);
    let region_job = anna.employment(&anna_region).unwrap();
    assert_eq!(region_job.organisation_number.as_str(), "2321009991");
    assert_eq!(region_job.commissions.len(), 2);
    assert_eq!(
        region_job.commissions[0].rights,
        ["Läsa", "Skriva", "Signera"]
    );
    assert_eq!(
        directory
            .find_by_hsa_id(&anna_lillby)
            .await
            .unwrap()
            .map(|p| p.id),
        Some(anna.id.clone())
    );
    let pnr: PersonalIdentityNumber = "198504042386".parse().unwrap();
    let cecilia = directory
        .find_by_personal_identity_number(&pnr)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cecilia.given_name, "Cecilia");
    let unknown: HsaId = "SE2321009991-nobody".parse().unwrap();
    assert_eq!(directory.find_by_hsa_id(&unknown).await.unwrap(), None);

    // Replacing the content removes people no longer listed.
    let only_anna = DirectorySeed {
        people: vec![anna.clone()],
    };
    directory.replace_all(&only_anna).await.unwrap();
    assert_eq!(
        directory
            .find_by_personal_identity_number(&pnr)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        directory.find_by_hsa_id(&anna_region).await.unwrap(),
        Some(anna)
    );
}

macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let file = e2e::SqliteDatabase::create().unwrap();
                    let db = idp::storage::Database::connect_and_migrate(&file.url, 4).await.unwrap();
                    super::$name(db).await;
                }
            )*
            #[tokio::test]
            async fn directory_contract() {
                let file = e2e::SqliteDatabase::create().unwrap();
                let db = idp::storage::Database::connect_and_migrate(&file.url, 4).await.unwrap();
                let dir = super::SqlDirectory::new(db, std::sync::Arc::new(super::SystemClock));
                super::directory_finds_people_by_hsa_id_and_personal_number(std::sync::Arc::new(dir)).await;
            }
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let pg = e2e::PostgresDatabase::create().await.unwrap();
                    let db = idp::storage::Database::connect_and_migrate(&pg.url, 4).await.unwrap();
                    super::$name(db).await;
                }
            )*
            #[tokio::test]
            async fn directory_contract() {
                let pg = e2e::PostgresDatabase::create().await.unwrap();
                let db = idp::storage::Database::connect_and_migrate(&pg.url, 4).await.unwrap();
                let dir = super::SqlDirectory::new(db, std::sync::Arc::new(super::SystemClock));
                super::directory_finds_people_by_hsa_id_and_personal_number(std::sync::Arc::new(dir)).await;
            }
        }
    };
}

on_both_databases!(
    migrations_apply_and_are_idempotent,
    tenants_are_applied_from_config,
    audit_events_round_trip_newest_first,
);

#[tokio::test]
async fn memory_directory_contract() {
    directory_finds_people_by_hsa_id_and_personal_number(Arc::new(MemoryDirectory::new())).await;
}

#[tokio::test]
async fn sqlite_file_and_directory_are_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/data/idp.db");
    let db = Database::connect_and_migrate(&format!("sqlite://{}", path.display()), 2)
        .await
        .unwrap();
    db.ping().await.unwrap();
    assert!(path.is_file());
}
