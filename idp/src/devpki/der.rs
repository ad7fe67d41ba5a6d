//! The few DER structures rcgen has no helper for: certificatePolicies and
//! authorityInfoAccess, written as custom extensions.

/// OID of the certificatePolicies extension (RFC 5280 4.2.1.4).
pub(crate) const CERTIFICATE_POLICIES: &[u64] = &[2, 5, 29, 32];

/// OID of the authorityInfoAccess extension (RFC 5280 4.2.2.1).
pub(crate) const AUTHORITY_INFO_ACCESS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 1];

/// id-ad-ocsp, the access method of an OCSP responder.
const ACCESS_METHOD_OCSP: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 1];

const TAG_OID: u8 = 0x06;
const TAG_SEQUENCE: u8 = 0x30;
/// GeneralName uniformResourceIdentifier: [6] IMPLICIT IA5String.
const TAG_GENERAL_NAME_URI: u8 = 0x86;

/// `certificatePolicies ::= SEQUENCE OF PolicyInformation`, each with only a policyIdentifier.
pub(crate) fn certificate_policies(policies: &[&[u64]]) -> Vec<u8> {
    let infos: Vec<u8> = policies
        .iter()
        .flat_map(|oid| tlv(TAG_SEQUENCE, &object_identifier(oid)))
        .collect();
    tlv(TAG_SEQUENCE, &infos)
}

/// `AuthorityInfoAccessSyntax` with a single OCSP AccessDescription.
pub(crate) fn authority_info_access_ocsp(url: &str) -> Vec<u8> {
    let mut description = object_identifier(ACCESS_METHOD_OCSP);
    description.extend(tlv(TAG_GENERAL_NAME_URI, url.as_bytes()));
    tlv(TAG_SEQUENCE, &tlv(TAG_SEQUENCE, &description))
}

/// An OBJECT IDENTIFIER: the first two arcs combined, every sub-identifier base 128.
pub(crate) fn object_identifier(arcs: &[u64]) -> Vec<u8> {
    let first = arcs.first().copied().unwrap_or(0) * 40 + arcs.get(1).copied().unwrap_or(0);
    let mut content = Vec::new();
    for arc in std::iter::once(first).chain(arcs.iter().skip(2).copied()) {
        let mut groups = vec![(arc & 0x7f) as u8];
        let mut rest = arc >> 7;
        while rest > 0 {
            groups.push((rest & 0x7f) as u8 | 0x80);
            rest >>= 7;
        }
        content.extend(groups.iter().rev());
    }
    tlv(TAG_OID, &content)
}

/// Tag, definite length, content.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_oids_with_large_first_arcs() {
        // 2.999.3 is the X.690 example: 06 03 88 37 03.
        assert_eq!(
            object_identifier(&[2, 999, 3]),
            vec![0x06, 0x03, 0x88, 0x37, 0x03]
        );
        assert_eq!(
            object_identifier(&[1, 2, 752]),
            vec![0x06, 0x03, 0x2a, 0x85, 0x70]
        );
    }

    #[test]
    fn encodes_long_lengths() {
        let content = vec![0u8; 300];
        assert_eq!(&tlv(0x04, &content)[..4], &[0x04, 0x82, 0x01, 0x2c]);
    }
}
