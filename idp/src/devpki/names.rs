//! Subject names: built once as an ordered attribute list, rendered both for rcgen and in
//! OpenSSL's one-line `/C=SE/O=.../CN=...` form (for the CA index files).

use rcgen::string::PrintableString;
use rcgen::{DistinguishedName, DnType, DnValue};

use super::hierarchy::{DevUser, DEV_ORGANISATION};
use super::issue::rcgen_err;
use super::DevPkiError;
use super::Person;

const OID_SERIAL_NUMBER: &[u64] = &[2, 5, 4, 5];
const OID_GIVEN_NAME: &[u64] = &[2, 5, 4, 42];
const OID_SURNAME: &[u64] = &[2, 5, 4, 4];

/// One attribute of a subject name, kept in order for both rcgen and OpenSSL's index file.
pub(super) struct Attribute {
    ty: DnType,
    /// OpenSSL's short name, for the one-line form.
    short_name: &'static str,
    value: String,
    /// PrintableString rather than UTF8String (countryName and serialNumber, per X.520).
    is_printable: bool,
}

fn attribute(ty: DnType, short_name: &'static str, value: &str, is_printable: bool) -> Attribute {
    Attribute {
        ty,
        short_name,
        value: value.to_owned(),
        is_printable,
    }
}

pub(super) fn org_subject(common_name: &str) -> Vec<Attribute> {
    vec![
        attribute(DnType::CountryName, "C", "SE", true),
        attribute(DnType::OrganizationName, "O", DEV_ORGANISATION, false),
        attribute(DnType::CommonName, "CN", common_name, false),
    ]
}

pub(super) fn user_subject(user: &DevUser) -> Vec<Attribute> {
    person_subject(&Person {
        given_name: user.given_name,
        surname: user.surname,
        serial_number: user.serial_number,
        organisation: user.organisation,
    })
}

/// The subject of a person's authentication certificate: C, O, givenName, surname,
/// serialNumber (the identifier) and CN: the given name, a space, the surname.
pub(super) fn person_subject(person: &Person<'_>) -> Vec<Attribute> {
    vec![
        attribute(DnType::CountryName, "C", "SE", true),
        attribute(DnType::OrganizationName, "O", person.organisation, false),
        attribute(
            DnType::CustomDnType(OID_GIVEN_NAME.to_vec()),
            "GN",
            person.given_name,
            false,
        ),
        attribute(
            DnType::CustomDnType(OID_SURNAME.to_vec()),
            "SN",
            person.surname,
            false,
        ),
        attribute(
            DnType::CustomDnType(OID_SERIAL_NUMBER.to_vec()),
            "serialNumber",
            person.serial_number,
            true,
        ),
        attribute(
            DnType::CommonName,
            "CN",
            &format!("{} {}", person.given_name, person.surname),
            false,
        ),
    ]
}

pub(super) fn distinguished_name(
    attributes: &[Attribute],
) -> Result<DistinguishedName, DevPkiError> {
    let mut dn = DistinguishedName::new();
    for a in attributes {
        let value = if a.is_printable {
            let printable =
                PrintableString::try_from(a.value.as_str()).map_err(rcgen_err(&a.value))?;
            DnValue::PrintableString(printable)
        } else {
            DnValue::Utf8String(a.value.clone())
        };
        dn.push(a.ty.clone(), value);
    }
    Ok(dn)
}

pub(super) fn oneline(attributes: &[Attribute]) -> String {
    attributes
        .iter()
        .map(|a| format!("/{}={}", a.short_name, a.value))
        .collect()
}
