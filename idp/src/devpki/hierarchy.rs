//! The shape of the development PKI: its certificate authorities and its users.
//!
//! Shaped like Inera's SITHS e-id hierarchy (a root, issuing CAs per identifier profile
//! and level of assurance, and a mobile CA), with `TEST` in every CA name like Inera's
//! test CAs. The user table is shared with the directory seed file: change both together.

/// Base URL of the IdP's own development revocation endpoints.
pub(crate) const DEV_PKI_BASE_URL: &str = "http://localhost:8080/pki";

/// Organisation of every CA and protocol key in the development PKI.
/// The organisation every development certificate names (subject or issuer): a production
/// instance refuses certificates that name it (`config/development.rs`).
pub const DEV_ORGANISATION: &str = "Regional IdP Development";

/// Common name of the development root CA.
pub(crate) const ROOT_CA_NAME: &str = "TEST Dev e-id Root CA v2";

/// Common name of the CA that issues the development TLS server certificate.
pub(crate) const TLS_CA_NAME: &str = "TEST Dev TLS CA";

/// Cecilia's personal identity number: born 1985-04-04, birth number 238, Luhn digit 6.
///
/// Computed, not taken from Skatteverket's list of test numbers (see the unit test).
pub const CECILIA_PERSONAL_IDENTITY_NUMBER: &str = "198504042386";

/// An issuing CA of the development PKI, named by a short slug used in file names and URLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaSlug {
    /// HSA-id certificates, level of assurance 3.
    HsaId3,
    /// HSA-id certificates, level of assurance 2.
    HsaId2,
    /// Personal identity number certificates, level of assurance 3.
    Pnr3,
    /// Mobile certificates (Mobilt SITHS).
    Mobile,
}

impl CaSlug {
    /// Every issuing CA, in the order they are generated and listed.
    pub const ALL: [CaSlug; 4] = [CaSlug::HsaId3, CaSlug::HsaId2, CaSlug::Pnr3, CaSlug::Mobile];

    /// The slug used in file names (`ca/<slug>.pem`) and revocation URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            CaSlug::HsaId3 => "hsaid3",
            CaSlug::HsaId2 => "hsaid2",
            CaSlug::Pnr3 => "pnr3",
            CaSlug::Mobile => "mobile",
        }
    }

    /// The CA's subject common name.
    pub fn common_name(self) -> &'static str {
        match self {
            CaSlug::HsaId3 => "TEST Dev e-id Person HSA-id 3 CA v1",
            CaSlug::HsaId2 => "TEST Dev e-id Person HSA-id 2 CA v1",
            CaSlug::Pnr3 => "TEST Dev e-id Person ID 3 CA v1",
            CaSlug::Mobile => "TEST Dev e-id Person ID Mobile CA v1",
        }
    }

    /// The certificate policy OID this CA puts in its own and its users' certificates.
    ///
    /// 1.3.6.1.4.1.32473 is the documentation enterprise number of RFC 5612; 1.2.752.74.8.512 is the Mobilt SITHS policy.
    pub fn policy_oid(self) -> &'static [u64] {
        match self {
            CaSlug::HsaId3 => &[1, 3, 6, 1, 4, 1, 32473, 752, 1, 3],
            CaSlug::HsaId2 => &[1, 3, 6, 1, 4, 1, 32473, 752, 1, 2],
            CaSlug::Pnr3 => &[1, 3, 6, 1, 4, 1, 32473, 752, 2, 3],
            CaSlug::Mobile => &[1, 2, 752, 74, 8, 512],
        }
    }

    /// The policy OID in dotted form.
    pub fn policy_oid_string(self) -> String {
        dotted(self.policy_oid())
    }

    /// Whether this CA's users get ECDSA P-256 keys (mobile) rather than RSA-2048.
    pub fn is_ecdsa(self) -> bool {
        matches!(self, CaSlug::Mobile)
    }

    /// Where this CA's CRL is published by the development IdP.
    pub fn crl_url(self) -> String {
        format!("{DEV_PKI_BASE_URL}/crl/{}.crl", self.as_str())
    }

    /// Where this CA's OCSP responder answers in development.
    pub fn ocsp_url(self) -> String {
        format!("{DEV_PKI_BASE_URL}/ocsp/{}", self.as_str())
    }
}

/// The revocation state a development user's certificate is generated in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertStatus {
    /// Valid now and for ten years.
    Valid,
    /// Within its validity period but listed on its CA's CRL (keyCompromise).
    Revoked,
    /// Expired a year ago.
    Expired,
}

impl CertStatus {
    /// The status as written in `users.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            CertStatus::Valid => "valid",
            CertStatus::Revoked => "revoked",
            CertStatus::Expired => "expired",
        }
    }
}

/// A development user holding one authentication certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DevUser {
    /// File name stem (`users/<slug>.pem`) and manifest key.
    pub slug: &'static str,
    /// Subject givenName.
    pub given_name: &'static str,
    /// Subject surname.
    pub surname: &'static str,
    /// Subject serialNumber: an HSA-id, or a personal identity number for `pnr3`.
    pub serial_number: &'static str,
    /// Subject organisation.
    pub organisation: &'static str,
    /// The issuing CA.
    pub issuer: CaSlug,
    /// The state the certificate is generated in.
    pub status: CertStatus,
}

impl DevUser {
    /// Subject common name and PKCS#12 friendly name: "<given> <surname>".
    pub fn common_name(&self) -> String {
        format!("{} {}", self.given_name, self.surname)
    }
}

/// The development users, shared with the directory seed file.
#[rustfmt::skip]
pub const USERS: &[DevUser] = &[
    user("anna",        "Anna",    "Andersson", "SE2321009991-anna01", REGION,   CaSlug::HsaId3, CertStatus::Valid),
    user("anna-mobile", "Anna",    "Andersson", "SE2321009991-anna01", REGION,   CaSlug::Mobile, CertStatus::Valid),
    user("bertil",      "Bertil",  "Berg",      "SE2321009991-bert02", REGION,   CaSlug::Mobile, CertStatus::Valid),
    user("cecilia",     "Cecilia", "Carlsson",  CECILIA_PERSONAL_IDENTITY_NUMBER, STORSTAD, CaSlug::Pnr3, CertStatus::Valid),
    user("david",       "David",   "Dahl",      "SE2120008889-dav04",  STORSTAD, CaSlug::Mobile, CertStatus::Valid),
    user("eva",         "Eva",     "Ek",        "SE2120007774-eva05",  LILLBY,   CaSlug::Mobile, CertStatus::Valid),
    user("fredrik",     "Fredrik", "Fors",      "SE2321009991-fre06",  REGION,   CaSlug::HsaId3, CertStatus::Revoked),
    user("gunilla",     "Gunilla", "Gran",      "SE2120008889-gun07",  STORSTAD, CaSlug::Mobile, CertStatus::Expired),
    user("helena",      "Helena",  "Holm",      "SE2321009991-hel08",  REGION,   CaSlug::HsaId2, CertStatus::Valid),
];

const REGION: &str = "Region Exempelland";
const STORSTAD: &str = "Storstads kommun";
const LILLBY: &str = "Lillby kommun";

const fn user(
    slug: &'static str,
    given_name: &'static str,
    surname: &'static str,
    serial_number: &'static str,
    organisation: &'static str,
    issuer: CaSlug,
    status: CertStatus,
) -> DevUser {
    DevUser {
        slug,
        given_name,
        surname,
        serial_number,
        organisation,
        issuer,
        status,
    }
}

/// An OID in dotted form.
pub(crate) fn dotted(arcs: &[u64]) -> String {
    arcs.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Luhn check digit over the nine digits YYMMDDNNN (weights 2, 1, 2, 1, ...).
    fn luhn_digit(digits: &str) -> u32 {
        let sum: u32 = digits
            .chars()
            .filter_map(|c| c.to_digit(10))
            .enumerate()
            .map(|(i, d)| {
                let p = if i % 2 == 0 { d * 2 } else { d };
                p / 10 + p % 10
            })
            .sum();
        (10 - sum % 10) % 10
    }

    #[test]
    fn cecilia_personal_identity_number_has_a_correct_luhn_digit() {
        let pnr = CECILIA_PERSONAL_IDENTITY_NUMBER;
        assert_eq!(pnr.len(), 12);
        assert!(pnr.starts_with("19850404238"));
        let check = pnr[11..].parse::<u32>().unwrap();
        assert_eq!(luhn_digit(&pnr[2..11]), check);
        // The commonly cited example 811218-9876 checks out.
        assert_eq!(luhn_digit("811218987"), 6);
    }

    #[test]
    fn users_have_unique_slugs_and_hsa_ids_within_limits() {
        for (i, a) in USERS.iter().enumerate() {
            assert!(
                USERS[i + 1..].iter().all(|b| b.slug != a.slug),
                "{}",
                a.slug
            );
            if a.issuer != CaSlug::Pnr3 {
                let (org, local) = a.serial_number.split_once('-').unwrap();
                assert!(
                    org.starts_with("SE") && org.len() == 12,
                    "{}",
                    a.serial_number
                );
                assert!(org[2..].chars().all(|c| c.is_ascii_digit()));
                assert!(!local.is_empty() && local.chars().all(|c| c.is_ascii_alphanumeric()));
                assert!(a.serial_number.len() <= 31);
            }
        }
    }

    #[test]
    fn policy_oids_are_dotted() {
        assert_eq!(CaSlug::Mobile.policy_oid_string(), "1.2.752.74.8.512");
        assert_eq!(
            CaSlug::HsaId3.policy_oid_string(),
            "1.3.6.1.4.1.32473.752.1.3"
        );
    }
}
