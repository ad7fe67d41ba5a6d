//! The subject's serialNumber is the identifier: an HSA-id (HSA-id certificates) or a
//! personal identity number (Person ID certificates). Names come along for display.

use x509_parser::oid_registry::Oid;
use x509_parser::oid_registry::{
    OID_X509_COMMON_NAME, OID_X509_GIVEN_NAME, OID_X509_SERIALNUMBER, OID_X509_SURNAME,
};
use x509_parser::prelude::X509Certificate;
use x509_parser::x509::X509Name;

use crate::auth::error::CertError;
use crate::ids::{HsaId, PersonalIdentityNumber};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identifier {
    HsaId(HsaId),
    PersonalIdentityNumber(PersonalIdentityNumber),
}

pub struct Subject {
    pub identifier: Identifier,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub common_name: Option<String>,
}

/// The one identifier of `leaf`. A subject with more than one serialNumber is refused
/// whatever their order (`CERT_AMBIGUOUS_IDENTIFIER`): which of two people logs in must
/// never depend on which attribute a parser reads first.
pub fn check(leaf: &X509Certificate<'_>) -> Result<Subject, CertError> {
    let subject = leaf.subject();
    if subject.iter_by_oid(&OID_X509_SERIALNUMBER).count() > 1 {
        return Err(CertError::AmbiguousIdentifier);
    }
    let serial = first(subject, &OID_X509_SERIALNUMBER).ok_or(CertError::NoIdentifier)?;
    let identifier = if let Ok(hsa_id) = serial.parse::<HsaId>() {
        Identifier::HsaId(hsa_id)
    } else if let Ok(pnr) = serial.parse::<PersonalIdentityNumber>() {
        Identifier::PersonalIdentityNumber(pnr)
    } else {
        return Err(CertError::NoIdentifier);
    };
    Ok(Subject {
        identifier,
        given_name: first(subject, &OID_X509_GIVEN_NAME),
        surname: first(subject, &OID_X509_SURNAME),
        common_name: first(subject, &OID_X509_COMMON_NAME),
    })
}

fn first(name: &X509Name<'_>, oid: &Oid<'_>) -> Option<String> {
    name.iter_by_oid(oid)
        .next()
        .and_then(|a| a.as_str().ok())
        .map(str::to_owned)
}
