//! The shipped development tenants, as tests that work below the HTTP layer need them.

use idp::config::Problems;
use idp::registry::{self, Registry};
use idp::storage::Database;

use crate::repo_root;

/// The validation context of the shipped tenant files (the development trust issuers).
pub fn registry_context() -> idp::tenants::validate::Context {
    idp::tenants::validate::Context {
        known_issuers: Some(
            ["hsaid3", "hsaid2", "pnr3", "mobile"]
                .map(String::from)
                .to_vec(),
        ),
        refuse_published_secrets: false,
    }
}

/// `config/tenants/*.toml`, read and checked.
pub fn shipped_tenant_files() -> Vec<idp::tenants::TenantFile> {
    let mut problems = Problems::default();
    let files = idp::tenants::read_dir(
        &repo_root().join("config/tenants"),
        &registry_context(),
        &mut problems,
    );
    assert!(problems.is_empty(), "{problems}");
    files
}

/// Imports the shipped tenants into `db` and returns the registry now in it.
pub async fn import_shipped_tenants(db: &Database) -> Registry {
    let current = registry::load(db).await.expect("registry");
    registry::import_files(
        db,
        &registry_context(),
        &current,
        &shipped_tenant_files(),
        "operator:test",
        false,
        time::macros::datetime!(2026-12-05 07:00 UTC),
    )
    .await
    .expect("import the shipped tenants");
    registry::load(db).await.expect("registry")
}

/// Rewrites the mobile order under `key` with its fields in another order than the IdP
/// writes them (as another release might): the same order in other bytes.
pub async fn rewrite_order_with_fields_sorted(store: &idp::session::SharedStore, key: &str) {
    use idp::session::Namespace;
    let bytes = store
        .get(Namespace::MobileOrder, key)
        .await
        .unwrap()
        .expect("the order is stored");
    let order: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let sorted = serde_json::to_vec(&order).unwrap();
    assert_ne!(sorted, bytes, "the fields are in another order");
    let ttl = std::time::Duration::from_secs(240);
    store
        .put(Namespace::MobileOrder, key, &sorted, ttl)
        .await
        .unwrap();
}
