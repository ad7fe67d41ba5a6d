//! Animated QR content: `<prefix>.<qrStartToken>.<qrTime>.<qrAuthCode>`, where qrTime is
//! whole seconds since the order started and qrAuthCode is hex(HMAC-SHA256(qrStartSecret,
//! qrTime as decimal text)). A code photographed and sent elsewhere is stale seconds later.

use aws_lc_rs::hmac;
use subtle::ConstantTimeEq;

pub const QR_PREFIX: &str = "rid";

fn auth_code(secret_hex: &str, qr_time: u64) -> Option<String> {
    let secret = hex::decode(secret_hex).ok()?;
    Some(auth_code_with_key(&secret, qr_time))
}

fn auth_code_with_key(key: &[u8], qr_time: u64) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    hex::encode(hmac::sign(&key, qr_time.to_string().as_bytes()))
}

/// The QR content of an external service's order, by the BankID RP API's rule: the
/// HMAC key is the `qrStartSecret` text as the service sent it (its UTF-8 bytes, not
/// hex-decoded), the prefix the service's app expects (`bankid`).
pub fn service_qr_content(
    prefix: &str,
    qr_start_token: &str,
    secret: &str,
    qr_time: u64,
) -> String {
    let code = auth_code_with_key(secret.as_bytes(), qr_time);
    format!("{prefix}.{qr_start_token}.{qr_time}.{code}")
}

/// The QR content for an order `qr_time` seconds after its start.
pub fn qr_content(qr_start_token: &str, secret_hex: &str, qr_time: u64) -> Option<String> {
    let code = auth_code(secret_hex, qr_time)?;
    Some(format!("{QR_PREFIX}.{qr_start_token}.{qr_time}.{code}"))
}

/// Parsed QR content (token, time, code), if it has the right shape.
pub fn parse(content: &str) -> Option<(&str, u64, &str)> {
    let mut parts = content.split('.');
    let (prefix, token, time, code) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if prefix != QR_PREFIX || parts.next().is_some() || token.is_empty() || time.len() > 6 {
        return None;
    }
    Some((token, time.parse().ok()?, code))
}

/// Whether `code` is the right auth code for `qr_time` (constant time).
pub fn is_authentic(secret_hex: &str, qr_time: u64, code: &str) -> bool {
    auth_code(secret_hex, qr_time)
        .is_some_and(|expected| expected.as_bytes().ct_eq(code.as_bytes()).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_round_trips_and_is_bound_to_its_second() {
        let secret = "00112233445566778899aabbccddeeff";
        let content = qr_content("tok", secret, 7).unwrap();
        let (token, time, code) = parse(&content).unwrap();
        assert_eq!((token, time), ("tok", 7));
        assert!(is_authentic(secret, 7, code));
        assert!(!is_authentic(secret, 8, code));
        assert!(!is_authentic("ffeeddccbbaa99887766554433221100", 7, code));
        assert!(parse("bankid.tok.7.abc").is_none());
        assert!(parse("rid.tok.x.abc").is_none());
    }

    #[test]
    fn a_service_qr_keys_the_hmac_with_the_secret_text() {
        // printf 3 | openssl dgst -sha256 -mac HMAC -macopt key:secret
        assert_eq!(
            service_qr_content("bankid", "tok", "secret", 3),
            "bankid.tok.3.88a43b1b8ef6d2e900797363da21fd2bb29351d3022389feb31fb1340a94dae2"
        );
    }

    #[test]
    fn the_auth_code_is_hmac_sha256_of_the_decimal_time() {
        // HMAC-SHA256(key = 0x00..0x0f, "0"), computed independently with openssl:
        // printf 0 | openssl dgst -sha256 -mac HMAC -macopt hexkey:000102030405060708090a0b0c0d0e0f
        let code = auth_code("000102030405060708090a0b0c0d0e0f", 0).unwrap();
        assert_eq!(
            code,
            "f0f939e8641a57360a2fda4e373c6637c8ff632d03fc2fce7e779a8a32c91610"
        );
    }
}
