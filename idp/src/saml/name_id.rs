//! NameIDs: a persistent pseudonym, stable per user and SP and different between SPs
//! (HMAC-SHA-256 under the IdP's pseudonym secret, so that SPs cannot link a user
//! across each other and never see the HSA-id or personal number in it), or a transient
//! one, new on every login.

use aws_lc_rs::hmac;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::session::random_key;
use crate::tenants::NameIdFormat;

pub fn name_id(format: NameIdFormat, secret: &str, person_id: &str, sp_entity_id: &str) -> String {
    match format {
        NameIdFormat::Persistent => persistent(secret, person_id, sp_entity_id),
        NameIdFormat::Transient => format!("_{}", random_key()),
    }
}

fn persistent(secret: &str, person_id: &str, sp_entity_id: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut context = hmac::Context::with_key(&key);
    context.update(b"saml-persistent-v1\0");
    context.update(sp_entity_id.as_bytes());
    context.update(b"\0");
    context.update(person_id.as_bytes());
    URL_SAFE_NO_PAD.encode(context.sign().as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persistent_ids_are_stable_per_sp_and_differ_between_sps() {
        let a = name_id(NameIdFormat::Persistent, "s", "p1", "https://sp-a");
        assert_eq!(
            a,
            name_id(NameIdFormat::Persistent, "s", "p1", "https://sp-a")
        );
        assert_ne!(
            a,
            name_id(NameIdFormat::Persistent, "s", "p1", "https://sp-b")
        );
        assert_ne!(
            a,
            name_id(NameIdFormat::Persistent, "s", "p2", "https://sp-a")
        );
        assert!(!a.contains("p1"));
    }

    #[test]
    fn transient_ids_change_every_time() {
        let a = name_id(NameIdFormat::Transient, "s", "p1", "https://sp-a");
        assert_ne!(
            a,
            name_id(NameIdFormat::Transient, "s", "p1", "https://sp-a")
        );
    }
}
