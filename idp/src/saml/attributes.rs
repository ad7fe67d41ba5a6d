//! What the IdP says about a user, under each profile's attribute names. One list of
//! attributes (short names in tenant files), two vocabularies: the Swedish eID
//! Framework's `urn:oid:` names and Sambi's `http://sambi.se/attributes/1/` names.

use crate::auth::Loa;
use crate::directory::{Commission, Employment, Person};
use crate::tenants::SamlProfile;

pub use crate::tenants::AttributeName;

/// Certificate login in the browser (mutual TLS), as Sambi names the method.
pub const TLS_CLIENT: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:TLSClient";
/// The mobile app with the certificate in the phone (possession of the phone and the
/// certificate's PIN): SAML 2.0's class for two factors on a registered mobile device.
pub const MOBILE_TWO_FACTOR: &str =
    "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract";

/// The `authnMethod` value of a login method.
pub fn authn_method(method: crate::login::LoginMethod) -> &'static str {
    match method.kind() {
        crate::auth::MethodKind::Certificate => TLS_CLIENT,
        crate::auth::MethodKind::Mobile => MOBILE_TWO_FACTOR,
    }
}
pub const URI_NAME_FORMAT: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri";

impl AttributeName {
    /// The attribute's name under `profile`, `None` where the profile has none.
    pub fn uri(self, profile: SamlProfile) -> Option<&'static str> {
        use AttributeName::*;
        match profile {
            SamlProfile::SwedishEid => match self {
                GivenName => Some("urn:oid:2.5.4.42"),
                Surname => Some("urn:oid:2.5.4.4"),
                DisplayName => Some("urn:oid:2.16.840.1.113730.3.1.241"),
                EmployeeHsaId => Some("urn:oid:1.2.752.29.6.2.1"),
                PersonalIdentityNumber => Some("urn:oid:1.2.752.29.4.13"),
                Mail => Some("urn:oid:0.9.2342.19200300.100.1.3"),
                OrganizationName => Some("urn:oid:2.5.4.10"),
                OrganizationIdentifier => Some("urn:oid:2.5.4.97"),
                OrgAffiliation => Some("urn:oid:1.2.752.201.3.1"),
                _ => None,
            },
            SamlProfile::Sambi => match self {
                GivenName => Some("http://sambi.se/attributes/1/givenName"),
                Surname => Some("http://sambi.se/attributes/1/surname"),
                DisplayName => Some("http://sambi.se/attributes/1/displayName"),
                EmployeeHsaId => Some("http://sambi.se/attributes/1/employeeHsaId"),
                PersonalIdentityNumber => {
                    Some("http://sambi.se/attributes/1/personalIdentityNumber")
                }
                Mail => Some("http://sambi.se/attributes/1/mail"),
                OrganizationName => Some("http://sambi.se/attributes/1/organizationName"),
                OrganizationIdentifier => {
                    Some("http://sambi.se/attributes/1/organizationIdentifier")
                }
                OrgAffiliation => None,
                CommissionHsaId => Some("http://sambi.se/attributes/1/commissionHsaId"),
                CommissionName => Some("http://sambi.se/attributes/1/commissionName"),
                CommissionPurpose => Some("http://sambi.se/attributes/1/commissionPurpose"),
                CommissionRight => Some("http://sambi.se/attributes/1/commissionRight"),
                HealthCareProviderHsaId => {
                    Some("http://sambi.se/attributes/1/healthCareProviderHsaId")
                }
                HealthCareUnitHsaId => Some("http://sambi.se/attributes/1/healthCareUnitHsaId"),
                LevelOfAssurance => Some("urn:sambi:names:attribute:levelOfAssurance"),
                AuthnMethod => Some("urn:sambi:names:attribute:authnMethod"),
            },
        }
    }

    pub fn friendly_name(self) -> &'static str {
        use AttributeName::*;
        match self {
            GivenName => "givenName",
            Surname => "sn",
            DisplayName => "displayName",
            EmployeeHsaId => "employeeHsaId",
            PersonalIdentityNumber => "personalIdentityNumber",
            Mail => "mail",
            OrganizationName => "o",
            OrganizationIdentifier => "organizationIdentifier",
            OrgAffiliation => "orgAffiliation",
            CommissionHsaId => "commissionHsaId",
            CommissionName => "commissionName",
            CommissionPurpose => "commissionPurpose",
            CommissionRight => "commissionRight",
            HealthCareProviderHsaId => "healthCareProviderHsaId",
            HealthCareUnitHsaId => "healthCareUnitHsaId",
            LevelOfAssurance => "levelOfAssurance",
            AuthnMethod => "authnMethod",
        }
    }
}

/// Released by default: the Swedish eID `hsaid-01` set plus the organisation; for
/// Sambi the HSA-id, name, LoA and method (and the commission when there is one).
pub fn default_release(profile: SamlProfile) -> &'static [AttributeName] {
    use AttributeName::*;
    match profile {
        SamlProfile::SwedishEid => &[
            GivenName,
            Surname,
            DisplayName,
            EmployeeHsaId,
            OrganizationName,
            OrganizationIdentifier,
        ],
        SamlProfile::Sambi => &[
            EmployeeHsaId,
            GivenName,
            Surname,
            CommissionHsaId,
            CommissionName,
            CommissionPurpose,
            CommissionRight,
            HealthCareProviderHsaId,
            HealthCareUnitHsaId,
            LevelOfAssurance,
            AuthnMethod,
        ],
    }
}

/// Who the attributes describe.
pub struct Subject<'a> {
    pub person: &'a Person,
    pub employment: &'a Employment,
    /// The commission the login is for (`login/commission.rs` decides which).
    pub commission: Option<&'a Commission>,
    pub loa: Loa,
    /// How the user logged in (the `authnMethod` attribute says it).
    pub method: crate::login::LoginMethod,
}

/// One released attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Released {
    pub name: &'static str,
    pub friendly_name: &'static str,
    pub values: Vec<String>,
}

/// The attributes `release` names that `profile` has and the subject has a value for, in
/// the order asked.
pub fn release(
    profile: SamlProfile,
    release: &[AttributeName],
    subject: &Subject<'_>,
) -> Vec<Released> {
    release
        .iter()
        .filter_map(|attribute| {
            let name = attribute.uri(profile)?;
            let values = values_of(*attribute, profile, subject);
            (!values.is_empty()).then(|| Released {
                name,
                friendly_name: attribute.friendly_name(),
                values,
            })
        })
        .collect()
}

fn values_of(attribute: AttributeName, profile: SamlProfile, s: &Subject<'_>) -> Vec<String> {
    use AttributeName::*;
    let commission = s.commission;
    let one = |v: Option<String>| v.into_iter().collect::<Vec<_>>();
    match attribute {
        GivenName => one(Some(s.person.given_name.clone())),
        Surname => one(Some(s.person.surname.clone())),
        DisplayName => one(Some(s.person.display_name())),
        EmployeeHsaId => one(Some(s.employment.hsa_id.to_string())),
        PersonalIdentityNumber => one(s
            .person
            .personal_identity_number
            .as_ref()
            .map(|p| p.as_str().to_owned())),
        Mail => one(s.person.mail.clone()),
        OrganizationName => one(Some(s.employment.organisation_name.clone())),
        OrganizationIdentifier => one(Some(s.employment.organisation_number.as_str().to_owned())),
        OrgAffiliation => one(Some(format!(
            "{}@{}",
            s.employment.hsa_id,
            s.employment.organisation_number.as_str()
        ))),
        CommissionHsaId => one(commission.map(|c| c.hsa_id.to_string())),
        CommissionName => one(commission.map(|c| c.name.clone())),
        CommissionPurpose => one(commission.map(|c| c.purpose.clone())),
        CommissionRight => commission.map(|c| c.rights.clone()).unwrap_or_default(),
        HealthCareProviderHsaId => one(commission
            .and_then(|c| c.health_care_provider_hsa_id.as_ref())
            .map(ToString::to_string)),
        HealthCareUnitHsaId => one(commission
            .and_then(|c| c.health_care_unit_hsa_id.as_ref())
            .map(ToString::to_string)),
        LevelOfAssurance => one(Some(loa_uri(profile, s.loa).to_owned())),
        AuthnMethod => one(Some(authn_method(s.method).to_owned())),
    }
}

/// The LoA URI of `profile`.
pub fn loa_uri(profile: SamlProfile, loa: Loa) -> &'static str {
    match profile {
        SamlProfile::SwedishEid => loa.swedish_eid_uri(),
        SamlProfile::Sambi => loa.sambi_uri(),
    }
}

/// The LoA a profile URI names, if it is one of ours.
pub fn loa_from_uri(profile: SamlProfile, uri: &str) -> Option<Loa> {
    [Loa::Loa2, Loa::Loa3, Loa::Loa4]
        .into_iter()
        .find(|loa| loa_uri(profile, *loa) == uri)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::login::LoginMethod;

    #[test]
    fn the_authn_method_says_how_the_user_logged_in() {
        assert_eq!(authn_method(LoginMethod::Mtls), TLS_CLIENT);
        assert_eq!(authn_method(LoginMethod::MtlsProxy), TLS_CLIENT);
        assert_eq!(authn_method(LoginMethod::MobileQr), MOBILE_TWO_FACTOR);
        assert_eq!(
            authn_method(LoginMethod::MobileAutostart),
            MOBILE_TWO_FACTOR
        );
    }
}
