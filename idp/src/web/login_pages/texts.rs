//! The status texts of the mobile waiting page, from `locales/` (`mobile.*`). `login.js`
//! gets them from the page (`messages_json`), so that every word stays in the
//! translation files.

use super::{Device, Lang};
use crate::auth::mobile::Hint;
use crate::i18n::Texts;

/// The key of a hint's status text.
fn hint_key(hint: Hint, device: Device) -> &'static str {
    match (hint, device) {
        (Hint::OutstandingTransaction | Hint::Started, Device::Other) => "mobile.hint.start_other",
        (Hint::OutstandingTransaction | Hint::Started, Device::Same) => "mobile.hint.start_same",
        (Hint::UserSign, _) => "mobile.hint.userSign",
        (Hint::UserCancel, _) => "mobile.hint.userCancel",
        (Hint::ExpiredTransaction, _) => "mobile.hint.expiredTransaction",
        (Hint::StartFailed, _) => "mobile.hint.startFailed",
        (Hint::CertificateErr, _) => "mobile.hint.certificateErr",
        (Hint::Cancelled, _) => "mobile.hint.cancelled",
        (Hint::AlreadyInProgress, _) => "mobile.hint.alreadyInProgress",
    }
}

/// The status line for an order's hint; a failure's error code is appended
/// ("Certifikatet kunde inte användas (felkod CERT_REVOKED)").
pub(super) fn hint_message(
    hint: Option<Hint>,
    code: Option<&str>,
    device: Device,
    lang: Lang,
) -> String {
    let t = Texts::of(lang.code);
    let message = match hint {
        Some(hint) => t.get(hint_key(hint, device)),
        None => t.get("mobile.complete"),
    };
    match code {
        Some(code) => format!("{message} ({} {code})", t.get("mobile.code_label")),
        None => message.to_owned(),
    }
}

/// Every status text `login.js` may show, keyed by hint, plus `complete`, `expired` and
/// `codeLabel`: JSON for the page's `data-messages`.
pub(super) fn messages_json(device: Device, lang: Lang) -> String {
    let t = Texts::of(lang.code);
    let hints = [
        Hint::OutstandingTransaction,
        Hint::Started,
        Hint::UserSign,
        Hint::UserCancel,
        Hint::ExpiredTransaction,
        Hint::StartFailed,
        Hint::CertificateErr,
        Hint::Cancelled,
        Hint::AlreadyInProgress,
    ];
    let mut messages = serde_json::Map::new();
    for hint in hints {
        messages.insert(hint.as_str().into(), t.get(hint_key(hint, device)).into());
    }
    for (name, key) in [
        ("complete", "mobile.complete"),
        ("expired", "mobile.expired"),
        ("unavailable", "mobile.unavailable"),
        ("codeLabel", "mobile.code_label"),
    ] {
        messages.insert(name.into(), t.get(key).into());
    }
    serde_json::Value::Object(messages).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SV: Lang = Lang {
        code: "sv",
        chosen: None,
    };

    #[test]
    fn a_failure_says_its_code() {
        let message = hint_message(
            Some(Hint::CertificateErr),
            Some("CERT_REVOKED"),
            Device::Other,
            SV,
        );
        assert_eq!(
            message,
            "Certifikatet kunde inte användas (felkod CERT_REVOKED)"
        );
    }

    #[test]
    fn the_script_gets_every_hint() {
        let json: serde_json::Value =
            serde_json::from_str(&messages_json(Device::Same, SV)).unwrap();
        assert_eq!(
            json["outstandingTransaction"],
            "Öppna appen för att logga in"
        );
        assert_eq!(json["cancelled"], "Inloggningen avbröts");
        assert_eq!(json["codeLabel"], "felkod");
        for (_, text) in json.as_object().unwrap() {
            assert!(!text.as_str().unwrap().starts_with("mobile."), "{text}");
        }
    }
}
