use super::*;
use crate::auth::revocation::certs::{parse_pair, tests::dev_der};
use time::macros::datetime;

fn read(path: &str) -> Vec<u8> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../certs-dev");
    std::fs::read(root.join(path)).unwrap()
}

fn serial_and_issuer(user: &str, ca: &str) -> (Vec<u8>, IssuerInfo) {
    let (leaf, issuer) = parse_pair(&dev_der(user), &dev_der(ca)).unwrap();
    (leaf.serial, issuer)
}

#[test]
fn the_dev_crl_lists_fredrik_and_not_anna_in_pem_and_der() {
    let (anna, issuer) = serial_and_issuer("users/anna.pem", "ca/hsaid3.pem");
    let (fredrik, _) = serial_and_issuer("users/fredrik.pem", "ca/hsaid3.pem");
    let now = datetime!(2027-01-01 00:00 UTC);
    for file in ["ca/hsaid3.crl.pem", "ca/hsaid3.crl.der"] {
        let crl = parse_and_verify(&read(file), &issuer).unwrap();
        assert_eq!(crl.verdict(&anna, now), CrlVerdict::Good);
        assert_eq!(crl.verdict(&fredrik, now), CrlVerdict::Revoked);
        let after = crl.next_update + Duration::seconds(1);
        assert_eq!(crl.verdict(&anna, after), CrlVerdict::Expired);
        assert_eq!(crl.verdict(&fredrik, after), CrlVerdict::Revoked);
    }
}

#[test]
fn another_cas_crl_is_refused() {
    let (_, issuer) = serial_and_issuer("users/anna.pem", "ca/hsaid3.pem");
    let err = parse_and_verify(&read("ca/mobile.crl.der"), &issuer).unwrap_err();
    assert!(err.contains("issuer"), "{err}");
}

#[test]
fn an_altered_crl_is_refused() {
    let (_, issuer) = serial_and_issuer("users/anna.pem", "ca/hsaid3.pem");
    let mut der = read("ca/hsaid3.crl.der");
    let last = der.len() - 1;
    der[last] ^= 0x01;
    let err = parse_and_verify(&der, &issuer).unwrap_err();
    assert!(err.contains("signature"), "{err}");
}
