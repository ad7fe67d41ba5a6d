//! Whose staff a person is: each tenant's population (HSA-id prefixes and organisation
//! numbers, set by the platform operator) and the one rule that places an employment in
//! at most one tenant. Populations never overlap (checked on every write), so the order
//! of tenants never decides anything.

use crate::directory::Employment;
use crate::ids::OrganisationNumber;

use super::model::{Tenant, UserRules};

/// The HSA-id forms an organisation's ids take: `SE<orgnr>-` and, for test ids,
/// `TSTNMT<orgnr>-`.
fn hsa_id_stems(organisation: &OrganisationNumber) -> [String; 2] {
    [
        format!("SE{}-", organisation.as_str()),
        format!("TSTNMT{}-", organisation.as_str()),
    ]
}

/// Whether one HSA-id could start with both prefixes.
fn prefixes_overlap(a: &str, b: &str) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

impl UserRules {
    /// How strongly this population claims `employment`: by the longest HSA-id prefix
    /// that matches (`Some(len)`), by organisation number (`Some(0)`), or not at all.
    pub fn claim(&self, employment: &Employment) -> Option<usize> {
        let by_prefix = self
            .hsa_id_prefixes
            .iter()
            .filter(|prefix| employment.hsa_id.as_str().starts_with(prefix.as_str()))
            .map(|prefix| prefix.len())
            .max();
        by_prefix.or_else(|| {
            self.organisation_numbers
                .contains(&employment.organisation_number)
                .then_some(0)
        })
    }

    /// Each way `self` and `other` could both claim one employment, described for an
    /// admin: `(our field, their field)`.
    pub fn overlaps(&self, other: &UserRules) -> Vec<(String, String)> {
        let mut found = Vec::new();
        for (i, ours) in self.hsa_id_prefixes.iter().enumerate() {
            for (j, theirs) in other.hsa_id_prefixes.iter().enumerate() {
                if prefixes_overlap(ours, theirs) {
                    found.push((
                        format!("users.hsa_id_prefixes[{i}] {ours:?}"),
                        format!("users.hsa_id_prefixes[{j}] {theirs:?}"),
                    ));
                }
            }
            for (j, number) in other.organisation_numbers.iter().enumerate() {
                if hsa_id_stems(number)
                    .iter()
                    .any(|stem| prefixes_overlap(ours, stem))
                {
                    found.push((
                        format!("users.hsa_id_prefixes[{i}] {ours:?}"),
                        format!("users.organisation_numbers[{j}] \"{number}\""),
                    ));
                }
            }
        }
        for (i, ours) in self.organisation_numbers.iter().enumerate() {
            for (j, theirs) in other.organisation_numbers.iter().enumerate() {
                if ours == theirs {
                    found.push((
                        format!("users.organisation_numbers[{i}] \"{ours}\""),
                        format!("users.organisation_numbers[{j}] \"{theirs}\""),
                    ));
                }
            }
            for (j, theirs) in other.hsa_id_prefixes.iter().enumerate() {
                if hsa_id_stems(ours)
                    .iter()
                    .any(|stem| prefixes_overlap(theirs, stem))
                {
                    found.push((
                        format!("users.organisation_numbers[{i}] \"{ours}\""),
                        format!("users.hsa_id_prefixes[{j}] {theirs:?}"),
                    ));
                }
            }
        }
        found
    }
}

impl Tenant {
    /// Whether `employment` is in this tenant's population.
    pub fn has_member(&self, employment: &Employment) -> bool {
        self.users.claim(employment).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(prefixes: &[&str], numbers: &[&str]) -> UserRules {
        UserRules {
            hsa_id_prefixes: prefixes.iter().map(|p| (*p).to_owned()).collect(),
            organisation_numbers: numbers.iter().map(|n| n.parse().unwrap()).collect(),
        }
    }

    fn employment(hsa_id: &str, organisation: &str) -> Employment {
        Employment {
            hsa_id: hsa_id.parse().unwrap(),
            organisation_number: organisation.parse().unwrap(),
            organisation_name: String::new(),
            title: None,
            commissions: Vec::new(),
        }
    }

    #[test]
    fn a_prefix_claims_before_an_organisation_number() {
        let region = rules(&["SE2321009991-"], &["2321009991"]);
        let staff = employment("SE2321009991-anna01", "2321009991");
        assert_eq!(region.claim(&staff), Some(13));
        let by_number = employment("SE2120008889-x1", "2321009991");
        assert_eq!(region.claim(&by_number), Some(0));
        assert_eq!(
            region.claim(&employment("SE2120008889-x1", "2120008889")),
            None
        );
    }

    #[test]
    fn overlapping_populations_are_found_in_every_form() {
        let region = rules(&["SE2321009991-"], &["2321009991"]);
        // The same prefix, a prefix of it, and the region's number as a prefix.
        assert!(!region.overlaps(&rules(&["SE2321009991-"], &[])).is_empty());
        assert!(!region.overlaps(&rules(&["SE232100"], &[])).is_empty());
        assert!(!region
            .overlaps(&rules(&["SE2321009991-sub"], &[]))
            .is_empty());
        assert!(!region.overlaps(&rules(&[], &["2321009991"])).is_empty());
        // A number whose HSA-ids the region's prefix would claim.
        let broad = rules(&["SE21200"], &[]);
        assert!(!broad.overlaps(&rules(&[], &["2120008889"])).is_empty());
        // Neighbours that share nothing.
        let storstad = rules(&["SE2120008889-"], &["2120008889"]);
        assert!(region.overlaps(&storstad).is_empty());
        assert!(storstad.overlaps(&region).is_empty());
    }
}
