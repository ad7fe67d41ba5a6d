//! What one source says about one person: a [`SourceRecord`]. Sources (LDAP sync, SCIM,
//! file imports, the development seed) write records; a person is the union of the active
//! records with the same personal identity number (`sql.rs`).

use serde::{Deserialize, Serialize};
use std::collections::HashSet;

use super::{Employment, Refusal};
use crate::ids::{HsaId, PersonalIdentityNumber};

/// The most a record may hold, so that one source cannot make a login slow or a row huge.
const MAX_EMPLOYMENTS: usize = 20;
const MAX_COMMISSIONS: usize = 50;
const MAX_TEXT: usize = 256;

/// One person as one source describes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRecord {
    /// The source's own key for this person (an LDAP DN or entryUUID, a SCIM resource id,
    /// a row key of an import file).
    pub external_id: String,
    /// The source's own name for the person, when it has one (SCIM `userName`, an LDAP
    /// entry's DN): what reports call the record by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_identity_number: Option<PersonalIdentityNumber>,
    pub given_name: String,
    pub surname: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail: Option<String>,
    #[serde(default)]
    pub employments: Vec<Employment>,
    /// What the source sent that the directory does not use, kept to answer it back
    /// (a SCIM client's whole resource: enterprise attributes, `externalId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_attributes: Option<serde_json::Value>,
}

impl SourceRecord {
    /// What a report calls the record: its name at the source, else its external id.
    pub fn label(&self) -> &str {
        self.user_name.as_deref().unwrap_or(&self.external_id)
    }

    /// Every HSA-id the record holds: employments first, then commissions.
    pub fn hsa_ids(&self) -> impl Iterator<Item = (&HsaId, HsaIdKind)> {
        self.employments
            .iter()
            .map(|e| (&e.hsa_id, HsaIdKind::Employment))
            .chain(self.employments.iter().flat_map(|e| {
                e.commissions
                    .iter()
                    .map(|c| (&c.hsa_id, HsaIdKind::Commission))
            }))
    }

    /// The record's own shape: sizes bounded, names present, no HSA-id twice. Whether
    /// the source may write it at all is the population's question (`admit.rs`).
    pub fn check(&self) -> Result<(), Refusal> {
        let refuse = |reason: String| Err(Refusal::new(self.label(), "RECORD_INVALID", reason));
        if self.external_id.is_empty() || self.external_id.len() > MAX_TEXT {
            return refuse("the external id must be 1-256 characters".into());
        }
        let texts = [
            ("given name", Some(&self.given_name)),
            ("surname", Some(&self.surname)),
            ("mail", self.mail.as_ref()),
            ("user name", self.user_name.as_ref()),
        ];
        for (what, text) in texts {
            if text.is_some_and(|t| t.len() > MAX_TEXT) {
                return refuse(format!("the {what} is longer than {MAX_TEXT} bytes"));
            }
        }
        if self.given_name.trim().is_empty() && self.surname.trim().is_empty() {
            return refuse("the record has no name".into());
        }
        if self.employments.len() > MAX_EMPLOYMENTS {
            return refuse(format!("more than {MAX_EMPLOYMENTS} employments"));
        }
        let commissions: usize = self.employments.iter().map(|e| e.commissions.len()).sum();
        if commissions > MAX_COMMISSIONS {
            return refuse(format!("more than {MAX_COMMISSIONS} commissions"));
        }
        let mut seen = HashSet::new();
        for (id, _) in self.hsa_ids() {
            if !seen.insert(id) {
                return refuse(format!("the HSA-id {id} appears twice"));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HsaIdKind {
    Employment,
    Commission,
}

impl HsaIdKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HsaIdKind::Employment => "employment",
            HsaIdKind::Commission => "commission",
        }
    }
}

/// A record as stored: what the source said, and the directory's bookkeeping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    pub record: SourceRecord,
    pub person_id: String,
    /// Bumped on every change (SCIM `ETag`).
    pub version: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// When the source stopped listing the person; a disabled record logs nobody in.
    pub disabled_at_ms: Option<i64>,
}
