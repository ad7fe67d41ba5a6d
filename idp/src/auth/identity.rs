//! From a validated certificate to a person who may log in here: the identifier
//! (HSA-id or personal identity number) is looked up in the directory; the employment
//! used decides the user's tenant; the application decides whether that tenant's users
//! are welcome. A valid certificate whose holder is unknown or not allowed gets a clear
//! refusal, never a half-empty login.

use std::sync::Arc;

use super::validate::{Identifier, ValidatedCertificate};
use crate::directory::{Directory, DirectoryError, Employment, Person};
use crate::tenants::{Application, Refusal, Tenant, Tenants};

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("the certificate holder is not in the directory")]
    UnknownUser,
    #[error("the user's organisation is not connected to this service")]
    NotAllowed,
    #[error("the user belongs to no organisation connected to the IdP")]
    NoTenant,
    #[error("the user's organisation does not accept this certificate issuer")]
    IssuerNotAcceptedByTenant,
    #[error(transparent)]
    Directory(#[from] DirectoryError),
}

impl IdentityError {
    pub fn code(&self) -> &'static str {
        match self {
            IdentityError::UnknownUser => "USER_UNKNOWN",
            IdentityError::NotAllowed => "USER_NOT_ALLOWED",
            IdentityError::NoTenant => "USER_NO_TENANT",
            IdentityError::IssuerNotAcceptedByTenant => "CERT_ISSUER_NOT_ACCEPTED_BY_TENANT",
            IdentityError::Directory(_) => "DIRECTORY_UNAVAILABLE",
        }
    }

    pub fn explain(&self, language: &str) -> super::error::Explanation {
        let (sv, en) = match self {
            IdentityError::UnknownUser => (
                ("Du finns inte i katalogen", "Ditt certifikat är giltigt, men du finns inte registrerad hos någon ansluten organisation. Kontakta din chef eller organisationens administratör."),
                ("You are not in the directory", "Your certificate is valid, but you are not registered with any connected organisation. Contact your manager or your organisation's administrator."),
            ),
            IdentityError::NotAllowed => (
                ("Din organisation är inte ansluten till tjänsten", "Du kan inte logga in i den här tjänsten med din nuvarande anställning. Kontakta tjänstens ägare om du behöver åtkomst."),
                ("Your organisation is not connected to this service", "You cannot log in to this service with your current employment. Contact the service owner if you need access."),
            ),
            IdentityError::NoTenant => (
                ("Din organisation är inte ansluten", "Din organisation använder inte den här inloggningstjänsten. Kontakta din organisations administratör."),
                ("Your organisation is not connected", "Your organisation does not use this login service. Contact your organisation's administrator."),
            ),
            IdentityError::IssuerNotAcceptedByTenant => (
                ("Certifikatet godtas inte av din organisation", "Din organisation godtar inte den här typen av certifikat. Använd ett annat certifikat eller mobilappen."),
                ("Your organisation does not accept this certificate", "Your organisation does not accept this kind of certificate. Use another certificate or the mobile app."),
            ),
            IdentityError::Directory(_) => (
                ("Tillfälligt fel", "Vi kunde inte hämta dina uppgifter just nu. Försök igen om en stund."),
                ("Temporary error", "We could not fetch your details just now. Try again in a moment."),
            ),
        };
        let (title, detail) = if language == "en" { en } else { sv };
        super::error::Explanation { title, detail }
    }
}

/// Who is logging in: the person, the employment used, and that employment's tenant.
#[derive(Debug, Clone)]
pub struct LoginIdentity {
    pub person: Person,
    pub employment: Employment,
    pub tenant: Arc<Tenant>,
    /// Whether the certificate names one employment (an HSA-id certificate), so that
    /// single sign-on may use only that one; a personal identity number certificate may
    /// use any of the person's employments.
    pub is_employment_bound: bool,
}

impl From<Refusal> for IdentityError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::NoTenant => IdentityError::NoTenant,
            Refusal::IssuerNotAccepted => IdentityError::IssuerNotAcceptedByTenant,
            Refusal::NotAllowed => IdentityError::NotAllowed,
        }
    }
}

/// Maps a validated certificate to a login identity, for a login to `target` (the
/// tenant and application asking) or, with `None`, to the IdP itself. The organisation
/// of the login is the employment's, decided by the registry's admission rule.
pub async fn map_identity(
    directory: &dyn Directory,
    tenants: &Tenants,
    certificate: &ValidatedCertificate,
    target: Option<(&Tenant, &Application<'_>)>,
) -> Result<LoginIdentity, IdentityError> {
    let (person, candidates, is_employment_bound) = match &certificate.identifier {
        Identifier::HsaId(hsa_id) => {
            let person = directory
                .find_by_hsa_id(hsa_id)
                .await?
                .ok_or(IdentityError::UnknownUser)?;
            let employment = person
                .employment(hsa_id)
                .cloned()
                .ok_or(IdentityError::UnknownUser)?;
            (person, vec![employment], true)
        }
        Identifier::PersonalIdentityNumber(pnr) => {
            let person = directory
                .find_by_personal_identity_number(pnr)
                .await?
                .ok_or(IdentityError::UnknownUser)?;
            let employments = person.employments.clone();
            (person, employments, false)
        }
    };
    let issuer = Some(certificate.issuer_name.as_str());
    let (employment, tenant) = match target {
        Some((owner, application)) => {
            let admission = tenants.admit(owner, application, &candidates, issuer)?;
            (admission.employment, admission.user_tenant)
        }
        None => tenants.home(&candidates, issuer)?,
    };
    Ok(LoginIdentity {
        person,
        employment,
        tenant,
        is_employment_bound,
    })
}
