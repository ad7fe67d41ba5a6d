//! Compact JWS (RFC 7515) for the few JWTs the provider makes and reads: ID, access and
//! logout tokens signed through `keys/`, and client assertions (`private_key_jwt`)
//! verified with aws-lc-rs against the client's registered JWKs.

use aws_lc_rs::signature::{
    RsaPublicKeyComponents, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::keys::{KeyError, KeySet, SigningKey};

#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    #[error("not a compact JWS")]
    Malformed,
    #[error("unsupported algorithm {0:?} (RS256 or ES256)")]
    Algorithm(String),
    #[error("no key matches the token's kid")]
    UnknownKey,
    #[error("the signature does not verify")]
    Signature,
    #[error("invalid JWK Set: {0}")]
    Jwks(String),
}

/// Signs `claims` with `key`: header `{alg, kid, typ}`.
pub fn sign(claims: &Value, key: &SigningKey, typ: &str) -> Result<String, KeyError> {
    let header = json!({ "alg": key.algorithm().jose(), "kid": key.kid(), "typ": typ });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = key.sign(signing_input.as_bytes())?;
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    ))
}

/// A token split into its parts; nothing is verified yet.
pub struct Parsed {
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
    signing_input: String,
    signature: Vec<u8>,
}

impl Parsed {
    pub fn parse(token: &str) -> Result<Self, JwtError> {
        let mut parts = token.split('.');
        let (Some(h), Some(c), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Malformed);
        };
        let object = |part: &str| -> Result<Map<String, Value>, JwtError> {
            let bytes = URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|_| JwtError::Malformed)?;
            match serde_json::from_slice(&bytes) {
                Ok(Value::Object(map)) => Ok(map),
                _ => Err(JwtError::Malformed),
            }
        };
        Ok(Self {
            header: object(h)?,
            claims: object(c)?,
            signing_input: format!("{h}.{c}"),
            signature: URL_SAFE_NO_PAD.decode(s).map_err(|_| JwtError::Malformed)?,
        })
    }

    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header.get(name).and_then(Value::as_str)
    }

    /// Whether the header has `name` at all (of any type).
    pub fn has_header(&self, name: &str) -> bool {
        self.header.contains_key(name)
    }

    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    pub fn claim_i64(&self, name: &str) -> Option<i64> {
        self.claims.get(name).and_then(Value::as_i64)
    }

    /// Whether `aud` is `audience` or an array containing it.
    pub fn has_audience(&self, audience: &str) -> bool {
        match self.claims.get("aud") {
            Some(Value::String(a)) => a == audience,
            Some(Value::Array(all)) => all.iter().any(|a| a.as_str() == Some(audience)),
            _ => false,
        }
    }

    /// Verifies the signature with one of the provider's own keys (by `kid`, with the
    /// key's own algorithm).
    pub fn verify_own(&self, keys: &KeySet) -> Result<(), JwtError> {
        let key = self
            .header_str("kid")
            .and_then(|kid| keys.find(kid))
            .ok_or(JwtError::UnknownKey)?;
        if self.header_str("alg") != Some(key.algorithm().jose()) {
            return Err(JwtError::Algorithm(
                self.header_str("alg").unwrap_or_default().to_owned(),
            ));
        }
        key.verify(self.signing_input.as_bytes(), &self.signature)
            .then_some(())
            .ok_or(JwtError::Signature)
    }

    /// Verifies the signature with a client's registered keys.
    pub fn verify_client(&self, keys: &ClientKeys) -> Result<(), JwtError> {
        let alg = self.header_str("alg").unwrap_or_default();
        let kid = self.header_str("kid");
        let candidates = keys
            .keys
            .iter()
            .filter(|k| k.alg == alg && (kid.is_none() || k.kid.as_deref() == kid));
        let mut found = false;
        for key in candidates {
            found = true;
            if key.verify(self.signing_input.as_bytes(), &self.signature) {
                return Ok(());
            }
        }
        if found {
            Err(JwtError::Signature)
        } else if alg == "RS256" || alg == "ES256" {
            Err(JwtError::UnknownKey)
        } else {
            Err(JwtError::Algorithm(alg.to_owned()))
        }
    }
}

/// A client's public keys from its JWK Set (RSA and P-256 signature keys).
#[derive(Debug, Clone)]
pub struct ClientKeys {
    keys: Vec<ClientKey>,
}

#[derive(Debug, Clone)]
struct ClientKey {
    kid: Option<String>,
    alg: &'static str,
    public: PublicKey,
}

#[derive(Debug, Clone)]
enum PublicKey {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    Ec { point: Vec<u8> },
}

impl ClientKey {
    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match &self.public {
            PublicKey::Rsa { n, e } => RsaPublicKeyComponents { n, e }
                .verify(&RSA_PKCS1_2048_8192_SHA256, message, signature)
                .is_ok(),
            PublicKey::Ec { point } => UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                .verify(message, signature)
                .is_ok(),
        }
    }
}

fn member<'a>(jwk: &'a Value, name: &str) -> Result<&'a str, JwtError> {
    jwk.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| JwtError::Jwks(format!("a key has no {name:?}")))
}

fn bytes(jwk: &Value, name: &str) -> Result<Vec<u8>, JwtError> {
    URL_SAFE_NO_PAD
        .decode(member(jwk, name)?)
        .map_err(|_| JwtError::Jwks(format!("{name:?} is not base64url")))
}

impl ClientKeys {
    /// Reads a JWK Set (`{"keys": [...]}`); keys for encryption are skipped.
    pub fn from_jwks(jwks: &Value) -> Result<Self, JwtError> {
        let list = jwks
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| JwtError::Jwks("no \"keys\" array".into()))?;
        let mut keys = Vec::new();
        for jwk in list {
            if jwk.get("use").and_then(Value::as_str) == Some("enc") {
                continue;
            }
            let kid = jwk.get("kid").and_then(Value::as_str).map(str::to_owned);
            let key = match member(jwk, "kty")? {
                "RSA" => {
                    let n = bytes(jwk, "n")?;
                    if n.len() < 256 {
                        return Err(JwtError::Jwks(
                            "RSA keys must have at least 2048 bits".into(),
                        ));
                    }
                    ClientKey {
                        kid,
                        alg: "RS256",
                        public: PublicKey::Rsa {
                            n,
                            e: bytes(jwk, "e")?,
                        },
                    }
                }
                "EC" if member(jwk, "crv")? == "P-256" => {
                    let (x, y) = (bytes(jwk, "x")?, bytes(jwk, "y")?);
                    if x.len() != 32 || y.len() != 32 {
                        return Err(JwtError::Jwks("P-256 coordinates must be 32 bytes".into()));
                    }
                    let mut point = vec![0x04];
                    point.extend(x);
                    point.extend(y);
                    ClientKey {
                        kid,
                        alg: "ES256",
                        public: PublicKey::Ec { point },
                    }
                }
                other => {
                    return Err(JwtError::Jwks(format!(
                        "unsupported key type {other:?} (RSA or EC P-256)"
                    )))
                }
            };
            if let Some(alg) = jwk.get("alg").and_then(Value::as_str) {
                if alg != key.alg {
                    return Err(JwtError::Jwks(format!("alg {alg:?} does not fit the key")));
                }
            }
            keys.push(key);
        }
        if keys.is_empty() {
            return Err(JwtError::Jwks("no signature keys".into()));
        }
        Ok(Self { keys })
    }
}

/// `at_hash`: the left half of the SHA-256 of the access token, base64url (both RS256
/// and ES256 use SHA-256).
pub fn left_half_hash(token: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let half = digest.as_ref().get(..16).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(half)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_token_is_refused() {
        assert!(matches!(Parsed::parse("a.b"), Err(JwtError::Malformed)));
        assert!(matches!(Parsed::parse("a.b.c.d"), Err(JwtError::Malformed)));
    }

    #[test]
    fn a_jwks_without_keys_is_refused() {
        assert!(ClientKeys::from_jwks(&json!({"keys": []})).is_err());
        assert!(ClientKeys::from_jwks(&json!({})).is_err());
    }
}
