//! The few DER pieces the IdP writes by hand: OIDs (also for comparing policy OIDs as
//! bytes), and the certificatePolicies and authorityInfoAccess extensions that rcgen has
//! no helper for (development PKI, test certificates).

/// OID of the certificatePolicies extension (RFC 5280 4.2.1.4).
pub const CERTIFICATE_POLICIES: &[u64] = &[2, 5, 29, 32];

/// OID of the authorityInfoAccess extension (RFC 5280 4.2.2.1).
pub const AUTHORITY_INFO_ACCESS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 1];

/// id-ad-ocsp, the access method of an OCSP responder.
const ACCESS_METHOD_OCSP: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 1];

pub const TAG_OID: u8 = 0x06;
pub const TAG_SEQUENCE: u8 = 0x30;
/// GeneralName uniformResourceIdentifier: [6] IMPLICIT IA5String.
pub const TAG_GENERAL_NAME_URI: u8 = 0x86;

/// `certificatePolicies ::= SEQUENCE OF PolicyInformation`, each with only a policyIdentifier.
pub fn certificate_policies(policies: &[&[u64]]) -> Vec<u8> {
    let infos: Vec<u8> = policies
        .iter()
        .flat_map(|oid| tlv(TAG_SEQUENCE, &object_identifier(oid)))
        .collect();
    tlv(TAG_SEQUENCE, &infos)
}

/// `AuthorityInfoAccessSyntax` with a single OCSP AccessDescription.
pub fn authority_info_access_ocsp(url: &str) -> Vec<u8> {
    let mut description = object_identifier(ACCESS_METHOD_OCSP);
    description.extend(tlv(TAG_GENERAL_NAME_URI, url.as_bytes()));
    tlv(TAG_SEQUENCE, &tlv(TAG_SEQUENCE, &description))
}

/// The arcs of a dotted OID ("1.2.752.74.8.512"), if it is one.
pub fn oid_arcs(dotted: &str) -> Option<Vec<u64>> {
    let arcs: Vec<u64> = dotted
        .split('.')
        .map(|a| a.parse().ok())
        .collect::<Option<_>>()?;
    match arcs.as_slice() {
        [first, second, ..] if *first < 2 && *second < 40 => Some(arcs),
        [2, _, ..] => Some(arcs),
        _ => None,
    }
}

/// An OBJECT IDENTIFIER (tag, length, content).
pub fn object_identifier(arcs: &[u64]) -> Vec<u8> {
    tlv(TAG_OID, &oid_content(arcs))
}

/// The content octets of an OID: the first two arcs combined, every sub-identifier base 128.
pub fn oid_content(arcs: &[u64]) -> Vec<u8> {
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
    content
}

/// Tag, definite length, content.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
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
