//! Typed identifiers, parsed once at the edge: HSA-ids, personal identity numbers,
//! organisation numbers and tenant ids (../shared/DOMAIN.md, "Certificates").

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("not an HSA-id (expected SE + 10-digit organisation number + '-' + letters/digits, at most 31 characters)")]
    HsaId,
    #[error(
        "not a personal identity number (expected 12 digits YYYYMMDDNNNC with a valid check digit)"
    )]
    PersonalIdentityNumber,
    #[error("not an organisation number (expected 10 digits with a valid check digit)")]
    OrganisationNumber,
    #[error("not a valid id (expected 1-63 characters a-z, 0-9 and '-', starting with a letter)")]
    Slug,
}

/// Luhn check digit over a run of ASCII digits (weights 2,1,2,1,... from the left).
pub fn luhn_digit(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let v = u32::from(d - b'0') * if i % 2 == 0 { 2 } else { 1 };
            v / 10 + v % 10
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

fn has_valid_luhn(ten_digits: &[u8]) -> bool {
    match ten_digits.split_last() {
        Some((check, body)) if ten_digits.len() == 10 => {
            ten_digits.iter().all(u8::is_ascii_digit) && luhn_digit(body) == check - b'0'
        }
        _ => false,
    }
}

macro_rules! string_id {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                value.parse()
            }
        }
        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
    };
}

/// An organisation number (organisationsnummer), 10 digits, stored without hyphen.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrganisationNumber(String);
string_id!(OrganisationNumber);

impl FromStr for OrganisationNumber {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits: String = s.chars().filter(|c| *c != '-').collect();
        if s.len() > 11 || !has_valid_luhn(digits.as_bytes()) {
            return Err(IdError::OrganisationNumber);
        }
        Ok(Self(digits))
    }
}

/// An HSA-id: `SE` + organisation number + `-` + `[A-Za-z0-9]+`, at most 31 characters.
/// Test ids (`TSTNMT2321000156-1019`) are accepted too.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HsaId(String);
string_id!(HsaId);

impl HsaId {
    /// The 10-digit organisation number of the directory owner.
    pub fn organisation_digits(&self) -> &str {
        let prefix_len = if self.0.starts_with("TSTNMT") { 6 } else { 2 };
        self.0.get(prefix_len..prefix_len + 10).unwrap_or_default()
    }
}

impl FromStr for HsaId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let rest = s
            .strip_prefix("SE")
            .or_else(|| s.strip_prefix("TSTNMT"))
            .ok_or(IdError::HsaId)?;
        let (org, local) = rest.split_once('-').ok_or(IdError::HsaId)?;
        let is_valid = s.len() <= 31
            && org.len() == 10
            && org.bytes().all(|b| b.is_ascii_digit())
            && !local.is_empty()
            && local.bytes().all(|b| b.is_ascii_alphanumeric());
        if is_valid {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdError::HsaId)
        }
    }
}

/// A Swedish personal identity number (personnummer or samordningsnummer), 12 digits.
/// Its `Debug` output is masked so that it never reaches a log line by accident.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonalIdentityNumber(String);
string_id!(PersonalIdentityNumber);

impl fmt::Debug for PersonalIdentityNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PersonalIdentityNumber(****)")
    }
}

impl FromStr for PersonalIdentityNumber {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits: String = s.chars().filter(|c| *c != '-' && *c != '+').collect();
        let tail = digits.get(2..).ok_or(IdError::PersonalIdentityNumber)?;
        if s.len() > 13 || digits.len() != 12 || !has_valid_luhn(tail.as_bytes()) {
            return Err(IdError::PersonalIdentityNumber);
        }
        Ok(Self(digits))
    }
}

/// A lowercase identifier used for tenants and applications (`region`, `storstad`).
fn parse_slug(s: &str) -> Result<String, IdError> {
    let is_valid = (1..=63).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if is_valid {
        Ok(s.to_owned())
    } else {
        Err(IdError::Slug)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantId(String);
string_id!(TenantId);

impl FromStr for TenantId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_slug(s).map(Self)
    }
}

/// An application's id, unique within its tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ApplicationId(String);
string_id!(ApplicationId);

impl FromStr for ApplicationId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_slug(s).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsa_ids_follow_the_documented_shape() {
        let id: HsaId = "SE2321009991-anna01".parse().unwrap();
        assert_eq!(id.organisation_digits(), "2321009991");
        let test_id: HsaId = "TSTNMT2321000156-1019".parse().unwrap();
        assert_eq!(test_id.organisation_digits(), "2321000156");
        for bad in [
            "",
            "SE2321009991",
            "SE2321009991-",
            "SE232100999-abc",
            "SE2321009991-ab_c",
            "XX2321009991-abc",
            "SE2321009991-abcdefghijklmnopqrstu",
        ] {
            assert_eq!(bad.parse::<HsaId>(), Err(IdError::HsaId), "{bad}");
        }
    }

    #[test]
    fn personal_identity_numbers_need_a_valid_check_digit() {
        let pnr: PersonalIdentityNumber = "19850404-2386".parse().unwrap();
        assert_eq!(pnr.as_str(), "198504042386");
        assert!("198504042383".parse::<PersonalIdentityNumber>().is_err());
        assert!("8504042386".parse::<PersonalIdentityNumber>().is_err());
        assert_eq!(format!("{pnr:?}"), "PersonalIdentityNumber(****)");
    }

    #[test]
    fn organisation_numbers_need_a_valid_check_digit() {
        assert_eq!(
            "232100-9991"
                .parse::<OrganisationNumber>()
                .unwrap()
                .as_str(),
            "2321009991"
        );
        assert!("2321009992".parse::<OrganisationNumber>().is_err());
    }

    #[test]
    fn slugs_are_lowercase_words() {
        assert!("storstad".parse::<TenantId>().is_ok());
        assert!("region-2".parse::<TenantId>().is_ok());
        for bad in ["", "Region", "2region", "re gion", "région"] {
            assert!(bad.parse::<TenantId>().is_err(), "{bad}");
        }
    }
}
