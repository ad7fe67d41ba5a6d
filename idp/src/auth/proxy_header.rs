//! Client certificates forwarded by a TLS-terminating proxy. Accepted only from the
//! configured proxy addresses; from anyone else the header is ignored (and the attempt
//! logged by the caller). The certificate is then validated like any other: a proxy's
//! word is never trusted.
//!
//! Formats: RFC 9440 (`Client-Cert: :<base64 DER>:` and `Client-Cert-Chain` as a list of
//! such byte sequences) and nginx (`X-SSL-Client-Cert`: URL-encoded PEM).

use base64::Engine;
use http::HeaderMap;
use rustls::pki_types::CertificateDer;
use std::net::IpAddr;

use crate::config::ProxyHeaderFormat;

/// Upper bound on a forwarded header value (a chain of a few certificates).
const MAX_HEADER_BYTES: usize = 64 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub enum Forwarded {
    /// No certificate header on the request.
    Absent,
    /// A header came from an address that is not a trusted proxy; it was ignored.
    Untrusted,
    /// A header from a trusted proxy that could not be decoded.
    Malformed,
    Chain(Vec<CertificateDer<'static>>),
}

pub fn header_name(format: ProxyHeaderFormat) -> &'static str {
    match format {
        ProxyHeaderFormat::Rfc9440 => "client-cert",
        ProxyHeaderFormat::Nginx => "x-ssl-client-cert",
    }
}

pub fn forwarded_chain(
    headers: &HeaderMap,
    peer: IpAddr,
    trusted_proxies: &[IpAddr],
    format: ProxyHeaderFormat,
) -> Forwarded {
    let Some(value) = headers.get(header_name(format)) else {
        return Forwarded::Absent;
    };
    if !trusted_proxies.contains(&peer) {
        return Forwarded::Untrusted;
    }
    let Ok(value) = value.to_str() else {
        return Forwarded::Malformed;
    };
    if value.len() > MAX_HEADER_BYTES {
        return Forwarded::Malformed;
    }
    let chain = match format {
        ProxyHeaderFormat::Rfc9440 => rfc9440_chain(value, headers.get("client-cert-chain")),
        ProxyHeaderFormat::Nginx => nginx_chain(value),
    };
    match chain {
        Some(chain) if !chain.is_empty() => Forwarded::Chain(chain),
        _ => Forwarded::Malformed,
    }
}

/// An RFC 8941 byte sequence: `:<base64>:`.
fn byte_sequence(item: &str) -> Option<Vec<u8>> {
    let inner = item.trim().strip_prefix(':')?.strip_suffix(':')?;
    base64::engine::general_purpose::STANDARD.decode(inner).ok()
}

fn rfc9440_chain(
    leaf: &str,
    chain: Option<&http::HeaderValue>,
) -> Option<Vec<CertificateDer<'static>>> {
    let mut certificates = vec![CertificateDer::from(byte_sequence(leaf)?)];
    if let Some(chain) = chain {
        let chain = chain.to_str().ok()?;
        if chain.len() > MAX_HEADER_BYTES {
            return None;
        }
        for item in chain.split(',').filter(|i| !i.trim().is_empty()) {
            certificates.push(CertificateDer::from(byte_sequence(item)?));
        }
    }
    Some(certificates)
}

fn nginx_chain(value: &str) -> Option<Vec<CertificateDer<'static>>> {
    let pem = percent_encoding::percent_decode_str(value)
        .decode_utf8()
        .ok()?;
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, v.parse().unwrap());
        }
        map
    }

    const PROXY: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 5));
    const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 6));

    #[test]
    fn headers_from_other_addresses_are_ignored() {
        let h = headers(&[("client-cert", ":AAEC:")]);
        assert_eq!(
            forwarded_chain(&h, OTHER, &[PROXY], ProxyHeaderFormat::Rfc9440),
            Forwarded::Untrusted
        );
        assert_eq!(
            forwarded_chain(
                &HeaderMap::new(),
                PROXY,
                &[PROXY],
                ProxyHeaderFormat::Rfc9440
            ),
            Forwarded::Absent
        );
    }

    #[test]
    fn rfc9440_byte_sequences_decode() {
        let h = headers(&[
            ("client-cert", ":AAEC:"),
            ("client-cert-chain", ":AwQ=:, :BQY=:"),
        ]);
        let Forwarded::Chain(chain) =
            forwarded_chain(&h, PROXY, &[PROXY], ProxyHeaderFormat::Rfc9440)
        else {
            panic!("expected a chain");
        };
        let bytes: Vec<&[u8]> = chain.iter().map(|c| c.as_ref()).collect();
        assert_eq!(bytes, [&[0u8, 1, 2][..], &[3, 4][..], &[5, 6][..]]);
        let bad = headers(&[("client-cert", "AAEC")]);
        assert_eq!(
            forwarded_chain(&bad, PROXY, &[PROXY], ProxyHeaderFormat::Rfc9440),
            Forwarded::Malformed
        );
    }
}
