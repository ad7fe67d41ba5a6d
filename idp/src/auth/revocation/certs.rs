//! What revocation checking needs from the certificate and its issuer, read once.

use aws_lc_rs::digest;
use url::Url;
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::oid_registry::OID_PKIX_ACCESS_DESCRIPTOR_OCSP;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::x509::X509Name;

/// The issuing CA, as far as OCSP and CRLs are concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IssuerInfo {
    /// The DER of the subject name.
    pub(crate) name_der: Vec<u8>,
    /// The DER of the SubjectPublicKeyInfo.
    pub(crate) spki_der: Vec<u8>,
    /// The contents of the subjectPublicKey BIT STRING (what OCSP's key hash covers).
    pub(crate) key_bits: Vec<u8>,
    /// SHA-1 of `key_bits`: with the serial number, names a certificate in caches.
    pub(crate) key_hash: [u8; 20],
}

/// The certificate being checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LeafInfo {
    /// The serial number without leading zero octets.
    pub(crate) serial: Vec<u8>,
    /// http(s) URLs of OCSP responders named in the Authority Information Access extension.
    pub(crate) ocsp_urls: Vec<Url>,
    /// http(s) URLs named in the CRL distribution points.
    pub(crate) crl_urls: Vec<Url>,
}

/// Reads both certificates and checks that `issuer` is the leaf's issuer by name.
pub(crate) fn parse_pair(
    leaf_der: &[u8],
    issuer_der: &[u8],
) -> Result<(LeafInfo, IssuerInfo), String> {
    let (_, leaf) = X509Certificate::from_der(leaf_der)
        .map_err(|e| format!("the certificate cannot be parsed: {e}"))?;
    let (_, issuer) = X509Certificate::from_der(issuer_der)
        .map_err(|e| format!("the issuer certificate cannot be parsed: {e}"))?;
    if !names_match(leaf.issuer(), issuer.subject()) {
        return Err("the issuer certificate is not the certificate's issuer".to_owned());
    }
    Ok((LeafInfo::read(&leaf), IssuerInfo::read(&issuer)))
}

impl IssuerInfo {
    /// What checking the certificates of `issuer` needs of it.
    pub(crate) fn read(issuer: &X509Certificate<'_>) -> Self {
        let key_bits = issuer.public_key().subject_public_key.data.to_vec();
        Self {
            name_der: issuer.subject().as_raw().to_vec(),
            spki_der: issuer.public_key().raw.to_vec(),
            key_hash: sha1(&key_bits),
            key_bits,
        }
    }

    /// [`IssuerInfo::read`] of the certificate `der`.
    pub(crate) fn from_der(der: &[u8]) -> Result<Self, String> {
        X509Certificate::from_der(der)
            .map(|(_, issuer)| Self::read(&issuer))
            .map_err(|e| format!("the issuer certificate cannot be parsed: {e}"))
    }
}

impl LeafInfo {
    /// What checking `leaf` needs of it.
    pub(crate) fn read(leaf: &X509Certificate<'_>) -> Self {
        Self {
            serial: normalize_serial(leaf.raw_serial()).to_vec(),
            ocsp_urls: ocsp_urls(leaf),
            crl_urls: crl_urls(leaf),
        }
    }
}

pub(crate) fn sha1(data: &[u8]) -> [u8; 20] {
    let mut out = [0u8; 20];
    let digest = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, data);
    out.copy_from_slice(digest.as_ref());
    out
}

/// A serial number's octets without the sign padding, so that `00 8F…` and `8F…` compare equal.
pub(crate) fn normalize_serial(raw: &[u8]) -> &[u8] {
    let zeros = raw.iter().take_while(|b| **b == 0).count();
    &raw[zeros.min(raw.len().saturating_sub(1))..]
}

/// RFC 5280 §7.1 name matching, simplified: equal DER, or the same attributes in the same
/// order with string values equal after case folding and whitespace compression.
pub(crate) fn names_match(a: &X509Name<'_>, b: &X509Name<'_>) -> bool {
    if a.as_raw() == b.as_raw() {
        return true;
    }
    let (a_rdns, b_rdns): (Vec<_>, Vec<_>) = (a.iter_rdn().collect(), b.iter_rdn().collect());
    a_rdns.len() == b_rdns.len()
        && a_rdns.iter().zip(&b_rdns).all(|(x, y)| {
            let (xs, ys): (Vec<_>, Vec<_>) = (x.iter().collect(), y.iter().collect());
            xs.len() == ys.len()
                && xs.iter().zip(&ys).all(|(p, q)| {
                    p.attr_type() == q.attr_type()
                        && match (p.as_str(), q.as_str()) {
                            (Ok(p), Ok(q)) => fold(p) == fold(q),
                            _ => p.as_slice() == q.as_slice(),
                        }
                })
        })
}

/// [`names_match`] for a name held as DER.
pub(crate) fn name_der_matches(der: &[u8], name: &X509Name<'_>) -> bool {
    X509Name::from_der(der).is_ok_and(|(_, parsed)| names_match(&parsed, name))
}

fn fold(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn http_url(uri: &str) -> Option<Url> {
    Url::parse(uri)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
}

fn ocsp_urls(cert: &X509Certificate<'_>) -> Vec<Url> {
    let mut urls = Vec::new();
    for ext in cert.extensions() {
        if let ParsedExtension::AuthorityInfoAccess(aia) = ext.parsed_extension() {
            for desc in aia.iter() {
                if let (true, GeneralName::URI(uri)) = (
                    desc.access_method == OID_PKIX_ACCESS_DESCRIPTOR_OCSP,
                    &desc.access_location,
                ) {
                    urls.extend(http_url(uri));
                }
            }
        }
    }
    urls
}

fn crl_urls(cert: &X509Certificate<'_>) -> Vec<Url> {
    let mut urls = Vec::new();
    for ext in cert.extensions() {
        if let ParsedExtension::CRLDistributionPoints(points) = ext.parsed_extension() {
            for point in points.iter() {
                // A point limited to some reasons, or whose CRL another issuer signs, is not
                // a complete CRL from this CA.
                if point.reasons.is_some() || point.crl_issuer.is_some() {
                    continue;
                }
                if let Some(DistributionPointName::FullName(names)) = &point.distribution_point {
                    for name in names {
                        if let GeneralName::URI(uri) = name {
                            urls.extend(http_url(uri));
                        }
                    }
                }
            }
        }
    }
    urls
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn dev_der(path: &str) -> Vec<u8> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let pem = std::fs::read(root.join("certs-dev").join(path)).unwrap();
        let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
        pem.contents
    }

    #[test]
    fn reads_serial_and_urls_of_a_dev_certificate() {
        let (leaf, issuer) =
            parse_pair(&dev_der("users/anna.pem"), &dev_der("ca/hsaid3.pem")).unwrap();
        assert_eq!(
            hex::encode_upper(&leaf.serial),
            "509D5C82F88C3D8C3AFA5BDBEEF26C8C"
        );
        assert_eq!(
            leaf.ocsp_urls,
            vec![Url::parse("http://localhost:8080/pki/ocsp/hsaid3").unwrap()]
        );
        assert_eq!(
            leaf.crl_urls,
            vec![Url::parse("http://localhost:8080/pki/crl/hsaid3.crl").unwrap()]
        );
        // The key hash openssl prints for this CA.
        assert_eq!(
            hex::encode_upper(issuer.key_hash),
            "CCE058F9E6A86808F2CBBAC52824D49E300C6593"
        );
    }

    #[test]
    fn refuses_an_issuer_that_did_not_issue_the_certificate() {
        let err = parse_pair(&dev_der("users/anna.pem"), &dev_der("ca/mobile.pem")).unwrap_err();
        assert!(err.contains("not the certificate's issuer"), "{err}");
    }

    #[test]
    fn serials_compare_without_sign_padding() {
        assert_eq!(normalize_serial(&[0, 0x8f, 1]), &[0x8f, 1]);
        assert_eq!(normalize_serial(&[0]), &[0]);
        assert_eq!(normalize_serial(&[]), &[] as &[u8]);
    }
}
