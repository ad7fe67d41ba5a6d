//! The load driver's own staff for the mobile flow: people of the development region
//! (HSA-ids `SE2321009991-load0001`, ...), each with a mobile certificate issued on the
//! spot by the development mobile CA. The IdP allows one mobile order in progress per
//! certificate holder, so a mobile load at concurrency N needs N people; the five
//! development users allow four. [`directory_csv`] is the region's directory import file
//! that makes them known to the IdP (`idp directory import --tenant region`);
//! [`credentials`] issues their phones' credentials.

use std::fmt::Write as _;
use std::path::Path;

use time::OffsetDateTime;

use crate::phone::PhoneCredential;

/// The region whose staff they are: its organisation number and name in certs-dev/.
const ORGANISATION_NUMBER: &str = "2321009991";
const ORGANISATION_NAME: &str = "Region Exempelland";
/// Where their personal identity numbers start among the platform's generated persons,
/// far beyond any generated platform's staff.
const FIRST_PERSON: usize = 1_000_000;

/// The `n`th (from 1) load staff member's HSA-id.
pub fn hsa_id(n: usize) -> String {
    format!("SE{ORGANISATION_NUMBER}-load{n:04}")
}

/// The directory import file (CSV) of `count` load staff members of the region.
pub fn directory_csv(count: usize) -> String {
    let mut csv = String::from(
        "personal_identity_number,given_name,surname,mail,hsa_id,organisation_number,\
         organisation_name,title\n",
    );
    for n in 1..=count {
        let pnr = crate::platform::personal_identity_number(FIRST_PERSON + n);
        let _ = writeln!(
            csv,
            "{pnr},Last,Nummer {n},load{n}@region.example,{},{ORGANISATION_NUMBER},\
             {ORGANISATION_NAME},Sjuksköterska",
            hsa_id(n)
        );
    }
    csv
}

/// Mobile credentials for `count` load staff members, issued at `now` by the mobile CA
/// of the development PKI in `pki_dir`.
pub fn credentials(
    pki_dir: &Path,
    count: usize,
    now: OffsetDateTime,
) -> anyhow::Result<Vec<PhoneCredential>> {
    let ids: Vec<String> = (1..=count).map(hsa_id).collect();
    let surnames: Vec<String> = (1..=count).map(|n| format!("Nummer {n}")).collect();
    let people: Vec<idp::devpki::Person<'_>> = ids
        .iter()
        .zip(&surnames)
        .map(|(id, surname)| idp::devpki::Person {
            given_name: "Last",
            surname,
            serial_number: id,
            organisation: ORGANISATION_NAME,
        })
        .collect();
    let issued = idp::devpki::issue_more(pki_dir, idp::devpki::CaSlug::Mobile, &people, now)?;
    issued
        .iter()
        .map(|credential| PhoneCredential::from_pem(&credential.chain_pem, &credential.key_pem))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_import_file_and_the_credentials_name_the_same_people() {
        let csv = directory_csv(3);
        assert_eq!(csv.lines().count(), 4, "a header and three people");
        let pki = Path::new(env!("CARGO_MANIFEST_DIR")).join("../certs-dev");
        let now = idp::clock::Clock::now(&idp::clock::SystemClock);
        let phones = credentials(&pki, 3, now).unwrap();
        for (n, (line, phone)) in csv.lines().skip(1).zip(&phones).enumerate() {
            let hsa_id = hsa_id(n + 1);
            assert_eq!(line.split(',').nth(4), Some(hsa_id.as_str()));
            let (_, leaf) = x509_parser::parse_x509_certificate(&phone.chain_der[0]).unwrap();
            let serial_number = leaf
                .subject()
                .iter_by_oid(&x509_parser::oid_registry::OID_X509_SERIALNUMBER)
                .next()
                .and_then(|a| a.as_str().ok().map(str::to_owned));
            assert_eq!(serial_number.as_deref(), Some(hsa_id.as_str()));
        }
    }
}
