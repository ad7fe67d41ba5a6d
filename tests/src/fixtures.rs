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

/// Rewrites the JSON value under `key` in `ns` as another release might write it: its
/// fields sorted and spaced out, the same value in other bytes.
pub async fn rewrite_in_other_bytes(
    store: &idp::session::SharedStore,
    ns: idp::session::Namespace,
    key: &str,
) {
    let bytes = store
        .get(ns, key)
        .await
        .unwrap()
        .expect("the value is stored");
    let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let other = serde_json::to_vec_pretty(&value).unwrap();
    assert_ne!(other, bytes, "the same value in other bytes");
    let ttl = std::time::Duration::from_secs(240);
    store.put(ns, key, &other, ttl).await.unwrap();
}

/// [`rewrite_in_other_bytes`] of the mobile order under `key`.
pub async fn rewrite_order_in_other_bytes(store: &idp::session::SharedStore, key: &str) {
    rewrite_in_other_bytes(store, idp::session::Namespace::MobileOrder, key).await;
}
