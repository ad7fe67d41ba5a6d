//! Which claims a scope releases, and their values for a person. HSA data uses the Sambi
//! attribute names as claim names (as Inera's IdP does); the personal identity number
//! and the organisation use the OIDC Sweden claim names.

use serde_json::{Map, Value};

use crate::directory::{Commission, Employment, Person};
use crate::saml::attributes::AttributeName;

pub const SAMBI_EMPLOYEE_HSA_ID: &str = "http://sambi.se/attributes/1/employeeHsaId";
pub const SAMBI_GIVEN_NAME: &str = "http://sambi.se/attributes/1/givenName";
pub const SAMBI_SURNAME: &str = "http://sambi.se/attributes/1/surname";
pub const SAMBI_COMMISSION_HSA_ID: &str = "http://sambi.se/attributes/1/commissionHsaId";
pub const SAMBI_COMMISSION_NAME: &str = "http://sambi.se/attributes/1/commissionName";
pub const SAMBI_COMMISSION_PURPOSE: &str = "http://sambi.se/attributes/1/commissionPurpose";
pub const SAMBI_COMMISSION_RIGHT: &str = "http://sambi.se/attributes/1/commissionRight";
pub const SAMBI_HEALTH_CARE_PROVIDER_HSA_ID: &str =
    "http://sambi.se/attributes/1/healthCareProviderHsaId";
pub const SAMBI_HEALTH_CARE_UNIT_HSA_ID: &str = "http://sambi.se/attributes/1/healthCareUnitHsaId";
pub const PERSONAL_IDENTITY_NUMBER: &str = "https://id.oidc.se/claim/personalIdentityNumber";
pub const ORG_AFFILIATION: &str = "https://id.oidc.se/claim/orgAffiliation";
pub const ORG_NAME: &str = "https://id.oidc.se/claim/orgName";
pub const ORG_NUMBER: &str = "https://id.oidc.se/claim/orgNumber";

/// OIDC Sweden's scope for the personal identity number.
pub const SCOPE_NATURAL_PERSON_NUMBER: &str = "https://id.oidc.se/scope/naturalPersonNumber";
/// OIDC Sweden's scope for a person at an organisation.
pub const SCOPE_NATURAL_PERSON_ORG_ID: &str = "https://id.oidc.se/scope/naturalPersonOrgId";
/// This IdP's scope for the HSA (Sambi) attributes.
pub const SCOPE_HSA: &str = "hsa";
/// This IdP's scope for the login's commission (medarbetaruppdrag), Sambi names.
pub const SCOPE_HSA_COMMISSION: &str = "hsa_commission";

/// The scopes a client may be registered with.
pub fn supported_scopes() -> impl Iterator<Item = &'static str> {
    SCOPES.iter().map(|(scope, _)| *scope)
}

/// Scope → the claims it releases.
const SCOPES: &[(&str, &[&str])] = &[
    ("openid", &[]),
    ("profile", &["name", "given_name", "family_name"]),
    ("email", &["email"]),
    (SCOPE_NATURAL_PERSON_NUMBER, &[PERSONAL_IDENTITY_NUMBER]),
    (
        SCOPE_NATURAL_PERSON_ORG_ID,
        &[
            "name",
            "given_name",
            "family_name",
            ORG_AFFILIATION,
            ORG_NAME,
            ORG_NUMBER,
        ],
    ),
    (
        SCOPE_HSA,
        &[SAMBI_EMPLOYEE_HSA_ID, SAMBI_GIVEN_NAME, SAMBI_SURNAME],
    ),
    (
        SCOPE_HSA_COMMISSION,
        &[
            SAMBI_COMMISSION_HSA_ID,
            SAMBI_COMMISSION_NAME,
            SAMBI_COMMISSION_PURPOSE,
            SAMBI_COMMISSION_RIGHT,
            SAMBI_HEALTH_CARE_PROVIDER_HSA_ID,
            SAMBI_HEALTH_CARE_UNIT_HSA_ID,
        ],
    ),
];

pub fn known_scopes() -> impl Iterator<Item = &'static str> {
    SCOPES.iter().map(|(scope, _)| *scope)
}

pub fn is_known_scope(scope: &str) -> bool {
    SCOPES.iter().any(|(s, _)| *s == scope)
}

pub fn known_claims() -> impl Iterator<Item = &'static str> {
    let mut all: Vec<&'static str> = SCOPES.iter().flat_map(|(_, c)| c.iter().copied()).collect();
    all.sort_unstable();
    all.dedup();
    all.into_iter()
}

pub fn is_known_claim(claim: &str) -> bool {
    known_claims().any(|c| c == claim)
}

/// The claims `scopes` release, narrowed to `allowed` when that is not empty.
pub fn released(scopes: &[String], allowed: &[String]) -> Vec<&'static str> {
    let mut claims: Vec<&'static str> = SCOPES
        .iter()
        .filter(|(scope, _)| scopes.iter().any(|s| s == scope))
        .flat_map(|(_, claims)| claims.iter().copied())
        .filter(|claim| allowed.is_empty() || allowed.iter().any(|a| a == claim))
        .collect();
    claims.sort_unstable();
    claims.dedup();
    claims
}

/// The attribute (in the grants' vocabulary) a claim carries.
pub fn attribute_of(claim: &str) -> Option<AttributeName> {
    Some(match claim {
        "name" => AttributeName::DisplayName,
        "given_name" | SAMBI_GIVEN_NAME => AttributeName::GivenName,
        "family_name" | SAMBI_SURNAME => AttributeName::Surname,
        "email" => AttributeName::Mail,
        PERSONAL_IDENTITY_NUMBER => AttributeName::PersonalIdentityNumber,
        SAMBI_EMPLOYEE_HSA_ID => AttributeName::EmployeeHsaId,
        ORG_AFFILIATION => AttributeName::OrgAffiliation,
        ORG_NAME => AttributeName::OrganizationName,
        ORG_NUMBER => AttributeName::OrganizationIdentifier,
        SAMBI_COMMISSION_HSA_ID => AttributeName::CommissionHsaId,
        SAMBI_COMMISSION_NAME => AttributeName::CommissionName,
        SAMBI_COMMISSION_PURPOSE => AttributeName::CommissionPurpose,
        SAMBI_COMMISSION_RIGHT => AttributeName::CommissionRight,
        SAMBI_HEALTH_CARE_PROVIDER_HSA_ID => AttributeName::HealthCareProviderHsaId,
        SAMBI_HEALTH_CARE_UNIT_HSA_ID => AttributeName::HealthCareUnitHsaId,
        _ => return None,
    })
}

/// The values of `claims` for `person` in `employment`, for the login's `commission`;
/// claims without a value are left out.
pub fn values(
    claims: &[&str],
    person: &Person,
    employment: &Employment,
    commission: Option<&Commission>,
) -> Map<String, Value> {
    let mut out = Map::new();
    let text = |value: &str| Some(Value::String(value.to_owned()));
    for claim in claims {
        let value = match *claim {
            "name" => text(&person.display_name()),
            "given_name" | SAMBI_GIVEN_NAME => text(&person.given_name),
            "family_name" | SAMBI_SURNAME => text(&person.surname),
            "email" => person.mail.as_deref().and_then(text),
            PERSONAL_IDENTITY_NUMBER => person
                .personal_identity_number
                .as_ref()
                .and_then(|p| text(p.as_str())),
            SAMBI_EMPLOYEE_HSA_ID => text(employment.hsa_id.as_str()),
            ORG_AFFILIATION => text(&format!(
                "{}@{}",
                employment.hsa_id.as_str(),
                employment.organisation_number.as_str()
            )),
            ORG_NAME => text(&employment.organisation_name),
            ORG_NUMBER => text(employment.organisation_number.as_str()),
            SAMBI_COMMISSION_HSA_ID => commission.and_then(|c| text(c.hsa_id.as_str())),
            SAMBI_COMMISSION_NAME => commission.and_then(|c| text(&c.name)),
            SAMBI_COMMISSION_PURPOSE => commission.and_then(|c| text(&c.purpose)),
            // Rights are many: an array, as the SAML attribute has several values.
            SAMBI_COMMISSION_RIGHT => commission
                .map(|c| Value::Array(c.rights.iter().cloned().map(Value::String).collect())),
            SAMBI_HEALTH_CARE_PROVIDER_HSA_ID => commission
                .and_then(|c| c.health_care_provider_hsa_id.as_ref())
                .and_then(|id| text(id.as_str())),
            SAMBI_HEALTH_CARE_UNIT_HSA_ID => commission
                .and_then(|c| c.health_care_unit_hsa_id.as_ref())
                .and_then(|id| text(id.as_str())),
            _ => None,
        };
        if let Some(value) = value {
            out.insert((*claim).to_owned(), value);
        }
    }
    out
}

/// Whether any of `claims` describes the login's commission.
pub fn names_commission(claims: &[&str]) -> bool {
    claims
        .iter()
        .any(|claim| attribute_of(claim).is_some_and(AttributeName::is_commission))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_release_their_claims_narrowed_by_the_client() {
        let scopes = vec!["openid".to_owned(), "hsa".to_owned(), "profile".to_owned()];
        assert_eq!(
            released(&scopes, &[]),
            vec![
                "family_name",
                "given_name",
                SAMBI_EMPLOYEE_HSA_ID,
                SAMBI_GIVEN_NAME,
                SAMBI_SURNAME,
                "name",
            ]
        );
        assert_eq!(released(&scopes, &["name".to_owned()]), vec!["name"]);
    }
}
