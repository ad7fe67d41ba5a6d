//! Generates the development PKI into a temporary directory and checks it with
//! x509-parser and with the OpenSSL command line (a required test tool).

mod certificates;
mod files;
mod openssl;

use std::path::{Path, PathBuf};

use time::macros::datetime;
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::parse_x509_certificate;
use x509_parser::pem::Pem;
use x509_parser::time::ASN1Time;

use super::{generate, GenerateReport};

/// A fixed generation time; OpenSSL checks run with `-attime` at the same instant.
const NOW: OffsetDateTime = datetime!(2026-03-01 10:00:00 UTC);

fn generated() -> (tempfile::TempDir, PathBuf, GenerateReport) {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("certs-dev");
    let report = generate(&out, NOW).unwrap();
    (tmp, out, report)
}

/// DER of every PEM block in a file.
fn pem_blocks(dir: &Path, rel: &str) -> Vec<Vec<u8>> {
    let data = std::fs::read(dir.join(rel)).unwrap();
    Pem::iter_from_buffer(&data)
        .map(|p| p.unwrap().contents)
        .collect()
}

fn pem_der(dir: &Path, rel: &str) -> Vec<u8> {
    pem_blocks(dir, rel).remove(0)
}

fn parse(der: &[u8]) -> X509Certificate<'_> {
    let (rest, cert) = parse_x509_certificate(der).unwrap();
    assert!(rest.is_empty());
    cert
}

fn at(t: OffsetDateTime) -> ASN1Time {
    ASN1Time::new(t)
}
