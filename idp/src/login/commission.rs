//! Commissions (medarbetaruppdrag): which one of the employment's commissions a login
//! to an application is for. The application's policy decides whether the person is
//! asked; the answer is remembered in the SSO session for that application, so a
//! person chooses once per session and application. Both protocol engines ask this
//! module, and the choice page (`web/commission.rs`) records the answer.

use crate::auth::error::Explanation;
use crate::directory::{Commission, Employment};
use crate::ids::HsaId;
use crate::tenants::CommissionPolicy;

/// What a login to one application does about commissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommissionStep<'a> {
    /// Answer now, naming this commission (or none).
    Use(Option<&'a Commission>),
    /// The person chooses among the employment's commissions first.
    Choose,
    /// The application requires a commission and the employment has none.
    Missing,
}

/// The step for a login in `employment` to an application with `policy` that
/// `releases_commission` (some commission attribute or claim would reach it), given the
/// commission the session remembers for that application.
pub fn step<'a>(
    policy: CommissionPolicy,
    releases_commission: bool,
    employment: &'a Employment,
    remembered: Option<&HsaId>,
) -> CommissionStep<'a> {
    let commissions = employment.commissions.as_slice();
    if commissions.is_empty() {
        return match policy {
            CommissionPolicy::Required => CommissionStep::Missing,
            _ => CommissionStep::Use(None),
        };
    }
    if !releases_commission {
        return CommissionStep::Use(None);
    }
    match (policy, commissions) {
        (_, [only]) => CommissionStep::Use(Some(only)),
        (CommissionPolicy::Auto, _) => CommissionStep::Use(None),
        (CommissionPolicy::Choose | CommissionPolicy::Required, several) => {
            // A remembered choice counts only while the directory still has it.
            match remembered.and_then(|id| several.iter().find(|c| &c.hsa_id == id)) {
                Some(chosen) => CommissionStep::Use(Some(chosen)),
                None => CommissionStep::Choose,
            }
        }
    }
}

/// The stable code of a login refused because the application requires a commission
/// and the person has none.
pub const MISSING_CODE: &str = "COMMISSION_MISSING";

/// What the user reads when the application requires a commission they do not have.
pub fn missing_explanation(language: &str) -> Explanation {
    if language == "en" {
        Explanation {
            title: "You have no commission for this service",
            detail: "This service requires a commission (medarbetaruppdrag) in HSA, and your employment has none. Ask the person who administers HSA at your workplace to give you one, then log in again.",
        }
    } else {
        Explanation {
            title: "Du saknar medarbetaruppdrag för tjänsten",
            detail: "Tjänsten kräver ett medarbetaruppdrag i HSA, och din anställning har inget. Be den som administrerar HSA på din arbetsplats om ett uppdrag och logga sedan in igen.",
        }
    }
}

/// The commission `id` of `employment`, if it has one by that HSA-id.
pub fn find<'a>(employment: &'a Employment, id: &HsaId) -> Option<&'a Commission> {
    employment.commissions.iter().find(|c| &c.hsa_id == id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::OrganisationNumber;

    fn commission(id: &str) -> Commission {
        Commission {
            hsa_id: id.parse::<HsaId>().unwrap(),
            name: format!("Uppdrag {id}"),
            purpose: "Vård och behandling".into(),
            health_care_provider_hsa_id: None,
            health_care_unit_hsa_id: None,
            rights: vec!["Läsa".into()],
        }
    }

    fn employment(commissions: &[&str]) -> Employment {
        Employment {
            hsa_id: "SE2321009991-anna01".parse::<HsaId>().unwrap(),
            organisation_number: "2321009991".parse::<OrganisationNumber>().unwrap(),
            organisation_name: "Region Exempelland".into(),
            title: None,
            commissions: commissions.iter().map(|c| commission(c)).collect(),
        }
    }

    const ONE: &str = "SE2321009991-upp101";
    const TWO: &str = "SE2321009991-upp102";

    #[test]
    fn one_commission_is_used_without_asking_whatever_the_policy() {
        let job = employment(&[ONE]);
        for policy in [
            CommissionPolicy::Auto,
            CommissionPolicy::Choose,
            CommissionPolicy::Required,
        ] {
            assert_eq!(
                step(policy, true, &job, None),
                CommissionStep::Use(Some(&job.commissions[0]))
            );
        }
    }

    #[test]
    fn several_commissions_are_chosen_once_then_remembered() {
        let job = employment(&[ONE, TWO]);
        assert_eq!(
            step(CommissionPolicy::Choose, true, &job, None),
            CommissionStep::Choose
        );
        let second = TWO.parse::<HsaId>().unwrap();
        assert_eq!(
            step(CommissionPolicy::Required, true, &job, Some(&second)),
            CommissionStep::Use(Some(&job.commissions[1]))
        );
        // A remembered commission the directory no longer has is asked again.
        let gone = "SE2321009991-upp999".parse::<HsaId>().unwrap();
        assert_eq!(
            step(CommissionPolicy::Choose, true, &job, Some(&gone)),
            CommissionStep::Choose
        );
        // `auto` never asks: with several, none is named.
        assert_eq!(
            step(CommissionPolicy::Auto, true, &job, None),
            CommissionStep::Use(None)
        );
    }

    #[test]
    fn an_application_that_receives_no_commission_is_never_asked_for_one() {
        let job = employment(&[ONE, TWO]);
        assert_eq!(
            step(CommissionPolicy::Required, false, &job, None),
            CommissionStep::Use(None)
        );
    }

    #[test]
    fn a_required_commission_that_the_person_lacks_is_missing() {
        let job = employment(&[]);
        assert_eq!(
            step(CommissionPolicy::Required, true, &job, None),
            CommissionStep::Missing
        );
        assert_eq!(
            step(CommissionPolicy::Required, false, &job, None),
            CommissionStep::Missing
        );
        assert_eq!(
            step(CommissionPolicy::Choose, true, &job, None),
            CommissionStep::Use(None)
        );
    }
}
