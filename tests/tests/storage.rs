//! The storage contract, run on SQLite and on a real PostgreSQL.

use idp::audit::{AuditEvent, Outcome};
use idp::registry;
use idp::storage::{find_admin_audit, find_recent_audit_events, insert_audit_event, Database};

fn shipped_files() -> Vec<idp::tenants::TenantFile> {
    e2e::fixtures::shipped_tenant_files()
}

fn context() -> idp::tenants::validate::Context {
    e2e::fixtures::registry_context()
}

async fn migrations_apply_and_are_idempotent(db: Database) {
    db.migrate().await.unwrap();
    db.ping().await.unwrap();
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&db.pool())
        .await
        .unwrap();
    assert_eq!(applied as usize, Database::known_migrations());
}

async fn the_registry_imports_exports_and_refuses_as_a_whole(db: Database) {
    let files = shipped_files();
    let now = time::macros::datetime!(2026-12-05 07:00 UTC);
    let empty = registry::load(&db).await.unwrap();
    assert_eq!(empty.version, 0);
    assert!(empty.tenants.is_empty());

    // A dry run shows the diff and writes nothing.
    let dry = registry::import_files(&db, &context(), &empty, &files, "operator:test", true, now)
        .await
        .unwrap();
    assert_eq!(dry.version, None);
    let shown: Vec<String> = dry.diffs.iter().map(ToString::to_string).collect();
    assert_eq!(shown, ["+ lillby", "+ region", "+ storstad"]);
    assert_eq!(registry::load(&db).await.unwrap().version, 0);

    let imported =
        registry::import_files(&db, &context(), &empty, &files, "operator:test", false, now)
            .await
            .unwrap();
    assert_eq!(imported.version, Some(1));
    let current = registry::load(&db).await.unwrap();
    assert_eq!(current.version, 1);
    let apps: Vec<String> = current
        .tenants
        .applications()
        .map(|(t, a)| format!("{}/{}/{}", t.id, a.id, a.protocol.as_str()))
        .collect();
    assert_eq!(
        apps,
        [
            "lillby/hemtjanst/oidc",
            "region/journal/saml",
            "region/appen/oidc",
            "region/console/oidc",
            "storstad/omsorg/saml",
            "storstad/personal/oidc"
        ]
    );
    // Every write is audited with who and before/after.
    let audit = find_admin_audit(&db, Some("region"), 10).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].actor, "operator:test");
    assert_eq!(audit[0].action, "tenants.import");
    assert!(audit[0].before.is_none() && audit[0].after.is_some());

    // The same files again change nothing, not even the version.
    let again = registry::import_files(
        &db,
        &context(),
        &current,
        &files,
        "operator:test",
        false,
        now,
    )
    .await
    .unwrap();
    assert!(again.diffs.is_empty());
    assert_eq!(registry::load(&db).await.unwrap().version, 1);

    // Export writes the shipped files back unchanged (comments included).
    let out = tempfile::tempdir().unwrap();
    std::fs::write(out.path().join("gone.toml"), "stale").unwrap();
    let (written, removed) = registry::export_dir(&current, out.path()).unwrap();
    assert_eq!(written.len(), 3);
    assert_eq!(removed, [out.path().join("gone.toml")]);
    for file in &files {
        let exported =
            std::fs::read_to_string(out.path().join(file.path.file_name().unwrap())).unwrap();
        assert_eq!(exported, file.source, "{}", file.path.display());
    }

    // Leaving out a tenant that others name is refused as a whole, naming each place.
    let without_lillby: Vec<_> = files
        .iter()
        .filter(|f| f.tenant.id.as_str() != "lillby")
        .cloned()
        .collect();
    let refused = registry::import_files(
        &db,
        &context(),
        &current,
        &without_lillby,
        "operator:test",
        false,
        now,
    )
    .await
    .unwrap_err();
    let registry::CommitError::Invalid(problems) = refused else {
        panic!("{refused}")
    };
    assert!(
        problems.iter().any(|p| p.tenant.as_str() == "region"
            && p.field == "saml_sp[0].user_tenants[2]"
            && p.message.contains("unknown tenant \"lillby\"")),
        "{problems:?}"
    );
    assert_eq!(registry::load(&db).await.unwrap().version, 1);

    // A write made on an old version loses to the one that came first.
    let commit = |base: &idp::registry::Registry| idp::registry::Change {
        actor: "operator:test".into(),
        action: "tenant.update".into(),
        object: Some("lillby".into()),
        tenants: base
            .tenants
            .documents()
            .into_iter()
            .map(|mut t| {
                if t.id.as_str() == "lillby" {
                    t.admins.clear();
                }
                t
            })
            .collect(),
        sources: Default::default(),
    };
    let stale = registry::load(&db).await.unwrap();
    let (version, diffs) = registry::commit(&db, &context(), &current, commit(&current), now)
        .await
        .unwrap();
    assert_eq!(version, 2);
    assert_eq!(
        diffs.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["~ lillby: admins"]
    );
    let lost = registry::commit(&db, &context(), &stale, commit(&stale), now).await;
    assert!(
        matches!(lost, Err(registry::CommitError::Conflict)),
        "{lost:?}"
    );
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
    assert_eq!(events, vec![second.clone(), first.clone()]);

    // Filters: each set field must match; the time range is [from, to).
    let find = |filter: idp::storage::AuditFilter| {
        let db = db.clone();
        async move {
            idp::storage::find_audit_events(&db, &filter, 10)
                .await
                .unwrap()
        }
    };
    let by_person = idp::storage::AuditFilter {
        tenant_id: Some("region".into()),
        employee_hsa_id: Some("SE2321009991-anna01".into()),
        outcome: Some("success".into()),
        ..Default::default()
    };
    assert_eq!(find(by_person).await, vec![first.clone()]);
    let failures = idp::storage::AuditFilter {
        outcome: Some("failure".into()),
        from_ms: Some(idp::storage::to_millis(t0)),
        to_ms: Some(idp::storage::to_millis(t0 + time::Duration::seconds(6))),
        ..Default::default()
    };
    assert_eq!(find(failures).await, vec![second.clone()]);
    let before = idp::storage::AuditFilter {
        to_ms: Some(idp::storage::to_millis(t0 + time::Duration::seconds(5))),
        ..Default::default()
    };
    assert_eq!(find(before).await, vec![first]);

    // Retention: what is older than the limit goes, the rest stays.
    let removed = idp::storage::prune_audit_events(&db, t0 + time::Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(removed, 1);
    assert_eq!(
        find_recent_audit_events(&db, 10).await.unwrap(),
        vec![second]
    );
}

e2e::on_both_databases!(
    migrations_apply_and_are_idempotent,
    the_registry_imports_exports_and_refuses_as_a_whole,
    audit_events_round_trip_newest_first,
);

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
