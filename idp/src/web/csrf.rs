//! CSRF tokens for the IdP's own forms: a token is bound to a secret the browser already
//! holds in an HttpOnly cookie (the SSO session id), so a page on another site can neither
//! read nor forge it. The token is a hash of that secret, so it does not reveal it.

use aws_lc_rs::digest;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// The form field that carries the token.
pub const FIELD: &str = "csrf_token";

/// The token for forms of the browser whose cookie secret is `binding`.
pub fn token_for(binding: &str) -> String {
    let mut context = digest::Context::new(&digest::SHA256);
    context.update(b"idp-csrf-v1\0");
    context.update(binding.as_bytes());
    URL_SAFE_NO_PAD.encode(context.finish().as_ref())
}

/// Whether `presented` is the token of `binding` (constant time).
pub fn is_valid(binding: &str, presented: &str) -> bool {
    use subtle::ConstantTimeEq;
    token_for(binding)
        .as_bytes()
        .ct_eq(presented.as_bytes())
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_valid_only_for_its_binding() {
        let token = token_for("session-a");
        assert!(is_valid("session-a", &token));
        assert!(!is_valid("session-b", &token));
        assert!(!is_valid("session-a", ""));
        assert!(!token.contains("session-a"));
    }
}
