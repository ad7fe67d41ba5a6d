//! A tenant file (`config/tenants/*.toml`, `idp tenants import`): `config::parse_toml`
//! into `tenants::Tenant` (TOML, then the model's serde rules), then the registry's rules
//! (`tenants::validate::validate`), for the tenant alone and together with the three
//! development tenants (config/tenants/), as an import of one changed tenant is checked.
#![no_main]

use idp::config::parse_toml;
use idp::tenants::validate::{validate, Context};
use idp::tenants::{Tenant, Tenants};
use idp_fuzz::note;
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::OnceLock;

fn development_tenants() -> &'static [Tenant] {
    static TENANTS: OnceLock<Vec<Tenant>> = OnceLock::new();
    TENANTS.get_or_init(|| {
        [
            include_str!("../../config/tenants/lillby.toml"),
            include_str!("../../config/tenants/region.toml"),
            include_str!("../../config/tenants/storstad.toml"),
        ]
        .into_iter()
        .map(|text| parse_toml(Path::new("tenant.toml"), text).expect("tenant fixture"))
        .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let tenant: Tenant = match parse_toml(Path::new("fuzz.toml"), text) {
        Ok(tenant) => tenant,
        Err(e) => return note(|| format!("parse: {e:?}")),
    };
    let changed = BTreeSet::from([tenant.id.clone()]);
    let context = Context {
        known_issuers: Some(
            ["hsaid3", "hsaid2", "pnr3", "mobile"]
                .map(String::from)
                .to_vec(),
        ),
        refuse_published_secrets: true,
    };
    let alone = validate(std::slice::from_ref(&tenant), &changed, &context);
    let mut all: Vec<Tenant> = development_tenants()
        .iter()
        .filter(|t| t.id != tenant.id)
        .cloned()
        .collect();
    all.push(tenant);
    let together = validate(&all, &changed, &context);
    let tenants = Tenants::new(all);
    let applications = tenants.applications().count();
    note(|| {
        format!("problems: {alone:?}; with the others: {together:?}; {applications} applications")
    });
});
