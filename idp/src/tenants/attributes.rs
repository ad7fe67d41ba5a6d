//! What can be said about a person: the attributes applications receive (as SAML
//! attributes under each profile's names, or as OIDC claims) and grants name. The
//! vocabulary is the registry's; each protocol engine maps it to its own names.

use serde::{Deserialize, Serialize};

/// An attribute the IdP can release, by its short name in tenant files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum AttributeName {
    GivenName,
    Surname,
    DisplayName,
    EmployeeHsaId,
    PersonalIdentityNumber,
    Mail,
    OrganizationName,
    OrganizationIdentifier,
    OrgAffiliation,
    /// Sambi: the commission (medarbetaruppdrag) the login is for; which one, the
    /// application's `commission` policy says.
    CommissionHsaId,
    CommissionName,
    CommissionPurpose,
    CommissionRight,
    HealthCareProviderHsaId,
    HealthCareUnitHsaId,
    /// Sambi: the LoA and the login method as attributes.
    LevelOfAssurance,
    AuthnMethod,
}

impl AttributeName {
    /// Every attribute, in the order the console lists them.
    pub const ALL: [AttributeName; 17] = [
        AttributeName::EmployeeHsaId,
        AttributeName::GivenName,
        AttributeName::Surname,
        AttributeName::DisplayName,
        AttributeName::Mail,
        AttributeName::PersonalIdentityNumber,
        AttributeName::OrganizationName,
        AttributeName::OrganizationIdentifier,
        AttributeName::OrgAffiliation,
        AttributeName::CommissionHsaId,
        AttributeName::CommissionName,
        AttributeName::CommissionPurpose,
        AttributeName::CommissionRight,
        AttributeName::HealthCareProviderHsaId,
        AttributeName::HealthCareUnitHsaId,
        AttributeName::LevelOfAssurance,
        AttributeName::AuthnMethod,
    ];

    /// Whether the attribute says something about the person (and so needs the
    /// person's organisation's grant to cross organisations); the LoA and login method
    /// describe the login only.
    /// The short name tenant files, grants and the console use (`employeeHsaId`).
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    pub fn is_personal_data(self) -> bool {
        !matches!(
            self,
            AttributeName::LevelOfAssurance | AttributeName::AuthnMethod
        )
    }

    /// Whether the attribute describes the login's commission (so releasing it means
    /// choosing one).
    pub fn is_commission(self) -> bool {
        matches!(
            self,
            AttributeName::CommissionHsaId
                | AttributeName::CommissionName
                | AttributeName::CommissionPurpose
                | AttributeName::CommissionRight
                | AttributeName::HealthCareProviderHsaId
                | AttributeName::HealthCareUnitHsaId
        )
    }
}
