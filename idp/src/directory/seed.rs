//! The development seed (`config/directory-dev.toml`): people as TOML, written by the
//! platform source `platform/development-seed` as a full sync at every start of a
//! development instance. Like any source it writes only its own records: what a real
//! source wrote is never touched, and a seed person whose HSA-id a real source holds is
//! refused.

use serde::Deserialize;
use std::collections::HashSet;
use std::path::Path;

use super::{Commission, Employment, SourceRecord};
use crate::config::{parse_toml, Problem};
use crate::ids::{HsaId, OrganisationNumber, PersonalIdentityNumber};

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("{0}")]
    Problem(Problem),
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedFile {
    #[serde(default)]
    person: Vec<SeedPerson>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedPerson {
    personal_identity_number: Option<PersonalIdentityNumber>,
    given_name: String,
    surname: String,
    mail: Option<String>,
    #[serde(default)]
    employment: Vec<SeedEmployment>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedEmployment {
    hsa_id: HsaId,
    organisation_number: OrganisationNumber,
    organisation_name: String,
    title: Option<String>,
    #[serde(default)]
    commission: Vec<SeedCommission>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedCommission {
    hsa_id: HsaId,
    name: String,
    purpose: String,
    health_care_provider_hsa_id: Option<HsaId>,
    health_care_unit_hsa_id: Option<HsaId>,
    #[serde(default)]
    rights: Vec<String>,
}

/// The seed's source name.
pub const SEED_SOURCE: &str = "development-seed";

/// A validated set of people, as the records of the seed source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirectorySeed {
    pub records: Vec<SourceRecord>,
}

/// A seed record's external id, from the first employee HSA-id (or a hash of the
/// personal identity number when there is none, so the number itself never becomes a
/// key shown in reports).
fn external_id(person: &SeedPerson) -> String {
    let name = match (person.employment.first(), &person.personal_identity_number) {
        (Some(first), _) => return first.hsa_id.to_string(),
        (None, Some(pnr)) => format!("pnr:{}", pnr.as_str()),
        (None, None) => format!("name:{} {}", person.given_name, person.surname),
    };
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, name.as_bytes()).to_string()
}

pub fn load_seed_file(path: &Path) -> Result<DirectorySeed, SeedError> {
    let text = std::fs::read_to_string(path).map_err(|e| SeedError::Invalid {
        file: path.display().to_string(),
        message: format!("cannot read: {e}"),
    })?;
    let file: SeedFile = parse_toml(path, &text).map_err(SeedError::Problem)?;
    let invalid = |message: String| SeedError::Invalid {
        file: path.display().to_string(),
        message,
    };
    let mut seen_hsa_ids = HashSet::new();
    let mut seen_pnrs = HashSet::new();
    let mut records = Vec::with_capacity(file.person.len());
    for (i, p) in file.person.iter().enumerate() {
        if let Some(pnr) = &p.personal_identity_number {
            if !seen_pnrs.insert(pnr.clone()) {
                return Err(invalid(format!(
                    "person[{i}]: duplicate personal identity number"
                )));
            }
        }
        let ids = p.employment.iter().map(|e| &e.hsa_id).chain(
            p.employment
                .iter()
                .flat_map(|e| e.commission.iter().map(|c| &c.hsa_id)),
        );
        for id in ids {
            if !seen_hsa_ids.insert(id.clone()) {
                return Err(invalid(format!("person[{i}]: duplicate HSA-id {id}")));
            }
        }
        records.push(SourceRecord {
            external_id: external_id(p),
            user_name: None,
            personal_identity_number: p.personal_identity_number.clone(),
            given_name: p.given_name.clone(),
            surname: p.surname.clone(),
            mail: p.mail.clone(),
            employments: p
                .employment
                .iter()
                .map(|e| Employment {
                    hsa_id: e.hsa_id.clone(),
                    organisation_number: e.organisation_number.clone(),
                    organisation_name: e.organisation_name.clone(),
                    title: e.title.clone(),
                    commissions: e
                        .commission
                        .iter()
                        .map(|c| Commission {
                            hsa_id: c.hsa_id.clone(),
                            name: c.name.clone(),
                            purpose: c.purpose.clone(),
                            health_care_provider_hsa_id: c.health_care_provider_hsa_id.clone(),
                            health_care_unit_hsa_id: c.health_care_unit_hsa_id.clone(),
                            rights: c.rights.clone(),
                        })
                        .collect(),
                })
                .collect(),
            source_attributes: None,
        });
    }
    Ok(DirectorySeed { records })
}
