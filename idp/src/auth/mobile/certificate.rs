//! The parts of the app's certificate that an order's steps read (its names for the
//! holder, its key for the proof of possession), found by walking the certificate's
//! outer DER elements rather than decoding it whole: the completion checks the whole
//! certificate anyway, once per chain (`CertificateValidator`'s cache).

use x509_parser::asn1_rs::{Any, Class, FromDer, Tag};

/// Issuer name, subject name and SubjectPublicKeyInfo of a certificate, each the DER
/// of the element as it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Parts<'a> {
    pub(super) issuer: &'a [u8],
    pub(super) subject: &'a [u8],
    pub(super) public_key_info: &'a [u8],
}

/// The element at the front of `input`, its whole encoding and what follows it.
fn element(input: &[u8]) -> Option<(Any<'_>, &[u8], &[u8])> {
    let (rest, any) = Any::from_der(input).ok()?;
    Some((any, &input[..input.len() - rest.len()], rest))
}

fn is_sequence(any: &Any<'_>) -> bool {
    any.header.tag() == Tag::Sequence && any.header.is_constructed()
}

/// The [`Parts`] of `certificate` (DER); `None` unless it is shaped like one.
pub(super) fn parts(certificate: &[u8]) -> Option<Parts<'_>> {
    let (certificate, _, _) = element(certificate).filter(|(c, _, _)| is_sequence(c))?;
    let (tbs, _, _) = element(certificate.data).filter(|(t, _, _)| is_sequence(t))?;
    let (first, _, after_first) = element(tbs.data)?;
    // version [0] EXPLICIT is optional; serialNumber and signature come next.
    let explicit_version =
        first.header.class() == Class::ContextSpecific && first.header.tag() == Tag(0);
    let rest = if explicit_version {
        after_first
    } else {
        tbs.data
    };
    let (_, _, rest) = element(rest)?;
    let (_, _, rest) = element(rest)?;
    let (issuer, issuer_der, rest) = element(rest)?;
    let (_, _, rest) = element(rest)?;
    let (subject, subject_der, rest) = element(rest)?;
    let (key, key_der, _) = element(rest)?;
    (is_sequence(&issuer) && is_sequence(&subject) && is_sequence(&key)).then_some(Parts {
        issuer: issuer_der,
        subject: subject_der,
        public_key_info: key_der,
    })
}

#[cfg(test)]
mod tests {
    use super::{parts, Parts};
    use x509_parser::prelude::{FromDer, X509Certificate};

    #[test]
    fn the_parts_read_alone_are_those_of_the_whole_certificate() {
        let users = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../certs-dev/users");
        let mut checked = 0;
        for file in std::fs::read_dir(users).unwrap() {
            let path = file.unwrap().path();
            if !path.to_string_lossy().ends_with(".chain.pem") {
                continue;
            }
            let pem = std::fs::read(&path).unwrap();
            for pem in x509_parser::pem::Pem::iter_from_buffer(&pem) {
                let der = pem.unwrap().contents;
                let (_, whole) = X509Certificate::from_der(&der).unwrap();
                let expected = Parts {
                    issuer: whole.issuer().as_raw(),
                    subject: whole.subject().as_raw(),
                    public_key_info: whole.public_key().raw,
                };
                assert_eq!(parts(&der), Some(expected), "{}", path.display());
                // Cut anywhere, it is unreadable.
                for cut in [1, 10, der.len() / 2, der.len() - 1] {
                    assert_eq!(parts(&der[..cut]), None, "{}", path.display());
                }
                checked += 1;
            }
        }
        assert!(checked >= 10, "{checked} certificates");
        assert_eq!(parts(b"not a certificate"), None);
    }
}
