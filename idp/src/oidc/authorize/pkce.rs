//! PKCE (RFC 7636) with `S256` only; required of every client (OAuth 2.1), except a
//! confidential client registered with `allow_without_pkce`.

use super::Checking;
use crate::oidc::OidcError;

pub fn check(c: &mut Checking<'_>) -> Result<(), OidcError> {
    let challenge = c.params.get("code_challenge");
    let method = c.params.get("code_challenge_method");
    match (challenge, method) {
        (None, None) => {
            let client = c.client()?;
            if client.allow_without_pkce && !client.is_public() {
                return Ok(());
            }
            Err(OidcError::PkceRequired)
        }
        (None, Some(_)) => Err(OidcError::PkceRequired),
        // Without a method the default is `plain` (RFC 7636 section 4.3).
        (Some(_), None) | (Some(_), Some("plain")) => Err(OidcError::PkcePlainNotSupported),
        (Some(_), Some(m)) if m != "S256" => Err(OidcError::PkcePlainNotSupported),
        (Some(challenge), Some(_)) => {
            let is_sha256 = challenge.len() == 43
                && challenge
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !is_sha256 {
                return Err(OidcError::InvalidRequest(
                    "code_challenge must be a base64url SHA-256 (43 characters)",
                ));
            }
            c.request.code_challenge = Some(challenge.to_owned());
            Ok(())
        }
    }
}
