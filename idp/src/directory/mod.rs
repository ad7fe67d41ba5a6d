//! The user directory: the attributes behind an identifier, modelled on HSA. A person
//! (personal identity number) has one or more employments, each with an employee HSA-id
//! in an organisation and zero or more commissions (medarbetaruppdrag).
//!
//! Two implementations of [`Directory`]: SQL (the default, on the configured database)
//! and in-memory; both are loaded from the same seed file and held to one contract.

mod memory;
mod seed;
mod sql;

pub use memory::MemoryDirectory;
pub use seed::{load_seed_file, DirectorySeed, SeedError};
pub use sql::SqlDirectory;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::ids::{HsaId, OrganisationNumber, PersonalIdentityNumber};
use crate::storage::StorageError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Internal id (UUID), stable across seed reloads of the same person.
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

    /// Replaces the whole directory content with `seed` (atomically where supported).
    async fn replace_all(&self, seed: &DirectorySeed) -> Result<(), DirectoryError>;
}

pub type SharedDirectory = std::sync::Arc<dyn Directory>;
