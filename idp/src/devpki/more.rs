//! More people than the development users: authentication certificates issued on demand
//! by an issuing CA of a development PKI already written (`certs-dev/`), for load runs
//! that need many distinct certificate holders. Nothing is written; the caller holds the
//! keys. Like everything here, NOTHING is for production.

use std::path::Path;

use rcgen::{Issuer, KeyPair};
use time::{Duration, OffsetDateTime};

use super::hierarchy::CaSlug;
use super::issue::{add_years, before, ec_key, random_serial, rcgen_err, rsa_key, user_params};
use super::names::person_subject;
use super::DevPkiError;

/// Who a certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Person<'a> {
    pub given_name: &'a str,
    pub surname: &'a str,
    /// Subject serialNumber: an HSA-id, or a personal identity number.
    pub serial_number: &'a str,
    /// Subject organisation.
    pub organisation: &'a str,
}

/// A certificate chain (the leaf, then its issuing CA) and the leaf's private key, PEM.
#[derive(Clone)]
pub struct IssuedCredential {
    pub chain_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for IssuedCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCredential").finish_non_exhaustive()
    }
}

/// Issues one valid certificate (a day back, a year on) to each of `people` from `ca`'s
/// key in `pki_dir` (`ca/SLUG.pem` and `ca/SLUG.key.pem`), with the same extensions
/// as the development users of that CA. The CA's CRL is not touched: none of them is
/// revoked.
pub fn issue_more(
    pki_dir: &Path,
    ca: CaSlug,
    people: &[Person<'_>],
    now: OffsetDateTime,
) -> Result<Vec<IssuedCredential>, DevPkiError> {
    let read = |name: String| {
        let path = pki_dir.join(name);
        std::fs::read_to_string(&path).map_err(|source| DevPkiError::Io {
            action: "read",
            path,
            source,
        })
    };
    let ca_pem = read(format!("ca/{}.pem", ca.as_str()))?;
    let ca_key = KeyPair::from_pem(&read(format!("ca/{}.key.pem", ca.as_str()))?)
        .map_err(rcgen_err(ca.common_name()))?;
    let issuer = Issuer::from_ca_cert_pem(&ca_pem, ca_key).map_err(rcgen_err(ca.common_name()))?;
    let (not_before, not_after) = (before(now, Duration::days(1))?, add_years(now, 1)?);
    people
        .iter()
        .map(|person| {
            let params = user_params(
                &person_subject(person),
                ca,
                &random_serial(),
                not_before,
                not_after,
            )?;
            let key = if ca.is_ecdsa() { ec_key()? } else { rsa_key()? };
            let cert = params
                .signed_by(&key, &issuer)
                .map_err(rcgen_err(person.serial_number))?;
            Ok(IssuedCredential {
                chain_pem: format!("{}{}", cert.pem(), ca_pem),
                key_pem: key.serialize_pem(),
            })
        })
        .collect()
}
