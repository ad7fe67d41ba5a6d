//! The governed-tenancy rule for directory writes: a tenant's source writes only its own
//! staff. Every employment of a record must lie in the source's tenant's population (by
//! the registry's one placement rule, `Tenants::tenant_of`); otherwise the whole record is
//! refused and reported, so that a municipality's LDAP can never add a region HSA-id (and
//! with it a login as region staff) to anyone.

use super::{Refusal, SourceId, SourceRecord, SourceScope};
use crate::tenants::Tenants;

/// `Ok` when `source` may write `record` under `tenants`.
pub fn admit(source: &SourceId, record: &SourceRecord, tenants: &Tenants) -> Result<(), Refusal> {
    record.check()?;
    let SourceScope::Tenant(own) = source.scope() else {
        return Ok(());
    };
    if tenants.get(own).is_none() {
        return Err(Refusal::new(
            record.label(),
            "SOURCE_TENANT_UNKNOWN",
            format!("the source's tenant {own} does not exist"),
        ));
    }
    for employment in &record.employments {
        let placed = tenants.tenant_of(employment).map(|t| &t.id);
        if placed != Some(own) {
            let whose = match placed {
                Some(other) => format!("tenant {other}'s population"),
                None => "no tenant's population".to_owned(),
            };
            return Err(Refusal::new(
                record.label(),
                "OUTSIDE_POPULATION",
                format!(
                    "employment {} (organisation {}) is in {whose}, not in {own}'s",
                    employment.hsa_id, employment.organisation_number
                ),
            ));
        }
    }
    Ok(())
}
