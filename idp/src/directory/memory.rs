//! In-memory directory: the people of a seed, indexed by HSA-id and personal number.

use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::{Directory, DirectoryError, DirectorySeed, Person};
use crate::ids::{HsaId, PersonalIdentityNumber};

#[derive(Default)]
struct Index {
    by_hsa_id: HashMap<HsaId, Arc<Person>>,
    by_pnr: HashMap<PersonalIdentityNumber, Arc<Person>>,
}

#[derive(Default)]
pub struct MemoryDirectory {
    index: RwLock<Index>,
}

impl MemoryDirectory {
    pub fn new() -> Self {
        Self::default()
    }

    fn read<T>(&self, f: impl FnOnce(&Index) -> T) -> Result<T, DirectoryError> {
        self.index
            .read()
            .map(|index| f(&index))
            .map_err(|_| DirectoryError::Invalid("directory lock poisoned".into()))
    }
}

#[async_trait]
impl Directory for MemoryDirectory {
    async fn find_by_hsa_id(&self, hsa_id: &HsaId) -> Result<Option<Person>, DirectoryError> {
        self.read(|index| index.by_hsa_id.get(hsa_id).map(|p| Person::clone(p)))
    }

    async fn find_by_personal_identity_number(
        &self,
        pnr: &PersonalIdentityNumber,
    ) -> Result<Option<Person>, DirectoryError> {
        self.read(|index| index.by_pnr.get(pnr).map(|p| Person::clone(p)))
    }

    async fn replace_all(&self, seed: &DirectorySeed) -> Result<(), DirectoryError> {
        let mut index = Index::default();
        for person in &seed.people {
            let person = Arc::new(person.clone());
            for employment in &person.employments {
                index
                    .by_hsa_id
                    .insert(employment.hsa_id.clone(), person.clone());
            }
            if let Some(pnr) = &person.personal_identity_number {
                index.by_pnr.insert(pnr.clone(), person.clone());
            }
        }
        let mut guard = self
            .index
            .write()
            .map_err(|_| DirectoryError::Invalid("directory lock poisoned".into()))?;
        *guard = index;
        Ok(())
    }
}
