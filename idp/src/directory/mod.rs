//! The user directory: the attributes behind an identifier, modelled on HSA. A person
//! (personal identity number) has one or more employments, each with an employee HSA-id
//! in an organisation and zero or more commissions (medarbetaruppdrag).
//!
//! Sources write it (`source.rs`: a tenant's LDAP sync, SCIM client or file import, each
//! only inside the tenant's population, `admit.rs`; the development seed, `seed.rs`); each
//! source's [`SourceRecord`]s are kept apart and a person is the union of their active
//! records (`sql.rs`, on the configured database, behind a short-lived cache, `cache.rs`).

mod admit;
mod cache;
pub mod import;
pub mod ldap;
mod record;
mod seed;
mod source;
mod sql;

pub use admit::admit;
pub use record::{HsaIdKind, SourceRecord, StoredRecord};
pub use seed::{load_seed_file, DirectorySeed, SeedError, SEED_SOURCE};
pub use source::{
    render_metrics, Batch, Change, ChangeKind, Mode, Refusal, Report, SourceId, SourceKind,
    SourceScope, SourceStatus,
};
pub use sql::{SqlDirectory, DEFAULT_RETENTION};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::ids::{HsaId, OrganisationNumber, PersonalIdentityNumber};
use crate::storage::StorageError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Internal id (random UUID), stable while any source knows the person.
    pub id: String,
    pub personal_identity_number: Option<PersonalIdentityNumber>,
    pub given_name: String,
    pub surname: String,
    pub mail: Option<String>,
    pub employments: Vec<Employment>,
}

impl Person {
    pub fn display_name(&self) -> String {
        format!("{} {}", self.given_name, self.surname)
    }

    pub fn employment(&self, hsa_id: &HsaId) -> Option<&Employment> {
        self.employments.iter().find(|e| &e.hsa_id == hsa_id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Employment {
    pub hsa_id: HsaId,
    pub organisation_number: OrganisationNumber,
    pub organisation_name: String,
    pub title: Option<String>,
    pub commissions: Vec<Commission>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commission {
    pub hsa_id: HsaId,
    pub name: String,
    pub purpose: String,
    pub health_care_provider_hsa_id: Option<HsaId>,
    pub health_care_unit_hsa_id: Option<HsaId>,
    pub rights: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("directory data is invalid: {0}")]
    Invalid(String),
}

impl DirectoryError {
    pub fn code(&self) -> &'static str {
        match self {
            DirectoryError::Storage(e) => e.code(),
            DirectoryError::Invalid(_) => "DIRECTORY_INVALID_DATA",
        }
    }
}

#[async_trait]
pub trait Directory: Send + Sync + 'static {
    /// The person with this employee HSA-id.
    async fn find_by_hsa_id(&self, hsa_id: &HsaId) -> Result<Option<Person>, DirectoryError>;

    async fn find_by_personal_identity_number(
        &self,
        pnr: &PersonalIdentityNumber,
    ) -> Result<Option<Person>, DirectoryError>;
}

pub type SharedDirectory = std::sync::Arc<dyn Directory>;
