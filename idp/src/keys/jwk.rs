//! Public key parts as JWK (RFC 7517) and the RFC 7638 thumbprint used as `kid`.

use aws_lc_rs::digest::{digest, SHA256};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::json;

use super::{Algorithm, KeyError};

pub(super) enum PublicParts {
    Rsa { n: String, e: String },
    Ec { x: String, y: String },
}

/// Big-endian unsigned integer without leading zero bytes.
fn unsigned(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

impl PublicParts {
    pub(super) fn rsa(modulus: &[u8], exponent: &[u8]) -> Self {
        PublicParts::Rsa {
            n: URL_SAFE_NO_PAD.encode(unsigned(modulus)),
            e: URL_SAFE_NO_PAD.encode(unsigned(exponent)),
        }
    }

    /// From an uncompressed P-256 point (0x04 ‖ X ‖ Y).
    pub(super) fn ec_p256(point: &[u8]) -> Result<Self, KeyError> {
        match point {
            [0x04, rest @ ..] if rest.len() == 64 => {
                let (x, y) = rest.split_at(32);
                Ok(PublicParts::Ec {
                    x: URL_SAFE_NO_PAD.encode(x),
                    y: URL_SAFE_NO_PAD.encode(y),
                })
            }
            _ => Err(KeyError::Unsupported(
                "EC key is not an uncompressed P-256 point".into(),
            )),
        }
    }

    /// RFC 7638: SHA-256 over the required members in lexicographic order, no spaces.
    pub(super) fn thumbprint(&self) -> String {
        let canonical = match self {
            PublicParts::Rsa { n, e } => format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#),
            PublicParts::Ec { x, y } => {
                format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#)
            }
        };
        URL_SAFE_NO_PAD.encode(digest(&SHA256, canonical.as_bytes()))
    }

    pub(super) fn to_jwk(
        &self,
        kid: &str,
        algorithm: Algorithm,
        certificate_der: &[u8],
    ) -> serde_json::Value {
        let x5c = [STANDARD.encode(certificate_der)];
        match self {
            PublicParts::Rsa { n, e } => json!({
                "kty": "RSA", "use": "sig", "alg": algorithm.jose(), "kid": kid, "n": n, "e": e, "x5c": x5c,
            }),
            PublicParts::Ec { x, y } => json!({
                "kty": "EC", "use": "sig", "alg": algorithm.jose(), "kid": kid, "crv": "P-256", "x": x, "y": y, "x5c": x5c,
            }),
        }
    }
}
