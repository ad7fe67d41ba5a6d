//! The words of the login pages, Swedish and English side by side. `login.js` gets the
//! status texts from the page (`messages_json`), so every text lives only here.

use super::{Device, Lang};
use crate::auth::mobile::Hint;

/// One text in both languages.
pub(super) struct Text {
    pub sv: &'static str,
    pub en: &'static str,
}

const fn text(sv: &'static str, en: &'static str) -> Text {
    Text { sv, en }
}

pub(super) const LOG_IN: Text = text("Logga in", "Log in");
pub(super) const CHOOSE: Text = text("Välj hur du vill logga in", "Choose how to log in");
pub(super) const QR_TITLE: Text = text(
    "Mobilt certifikat på en annan enhet",
    "Mobile certificate on another device",
);
pub(super) const QR_DETAIL: Text = text(
    "Skanna en QR-kod med appen i din mobil",
    "Scan a QR code with the app on your phone",
);
pub(super) const APP_TITLE: Text = text(
    "Mobilt certifikat på den här enheten",
    "Mobile certificate on this device",
);
pub(super) const APP_DETAIL: Text = text(
    "Appen öppnas direkt och du godkänner där",
    "The app opens directly and you approve there",
);
pub(super) const CERT_TITLE: Text = text(
    "Certifikat på den här enheten (kort eller installerat)",
    "Certificate on this device (card or installed)",
);
pub(super) const CERT_DETAIL: Text = text(
    "Sätt i kortet i läsaren eller använd ett installerat certifikat",
    "Insert your card in the reader or use an installed certificate",
);
pub(super) const MOBILE_PAGE_TITLE: Text = text(
    "Logga in med mobilt certifikat",
    "Log in with a mobile certificate",
);
/// List items (markup): the steps on the QR page.
pub(super) const QR_STEPS: Text = text(
    "<li>Öppna appen i din mobil.</li><li>Skanna QR-koden.</li>\
     <li>Godkänn inloggningen i appen.</li>",
    "<li>Open the app on your phone.</li><li>Scan the QR code.</li>\
     <li>Approve the login in the app.</li>",
);
pub(super) const QR_ALT: Text = text(
    "QR-kod att skanna med appen. Den byts varje sekund.",
    "QR code to scan with the app. It changes every second.",
);
pub(super) const OPEN_APP: Text = text("Öppna appen", "Open the app");
pub(super) const AFTER_APP: Text = text(
    "Godkänn inloggningen i appen och gå sedan tillbaka hit.",
    "Approve the login in the app, then come back here.",
);
pub(super) const NOSCRIPT: Text = text(
    "Utan JavaScript uppdateras sidan inte av sig själv.",
    "Without JavaScript this page does not update by itself.",
);
pub(super) const REFRESH: Text = text("Uppdatera", "Refresh");
pub(super) const CANCEL: Text = text("Avbryt", "Cancel");
pub(super) const BACK_TO_SERVICE: Text = text(
    "Avbryt och gå tillbaka till tjänsten",
    "Cancel and go back to the service",
);
pub(super) const RETRY: Text = text("Försök igen", "Try again");
pub(super) const OTHER_METHOD: Text = text(
    "Välj ett annat sätt att logga in",
    "Choose another way to log in",
);
const CODE_LABEL: Text = text("felkod", "error code");
const COMPLETE: Text = text("Klart! Du skickas vidare …", "Done! Taking you onwards …");
const EXPIRED: Text = text(
    "Inloggningen har gått ut. Försök igen.",
    "The login has expired. Try again.",
);

fn hint_text(hint: Hint, device: Device) -> Text {
    match (hint, device) {
        (Hint::OutstandingTransaction | Hint::Started, Device::Other) => text(
            "Starta appen och skanna QR-koden",
            "Start the app and scan the QR code",
        ),
        (Hint::OutstandingTransaction | Hint::Started, Device::Same) => {
            text("Öppna appen för att logga in", "Open the app to log in")
        }
        (Hint::UserSign, _) => text(
            "Godkänn inloggningen i appen",
            "Approve the login in the app",
        ),
        (Hint::UserCancel, _) => text("Du avbröt inloggningen", "You cancelled the login"),
        (Hint::ExpiredTransaction, _) => text("Tiden gick ut", "The time ran out"),
        (Hint::StartFailed, _) => text(
            "Appen startades inte i tid",
            "The app was not started in time",
        ),
        (Hint::CertificateErr, _) => text(
            "Certifikatet kunde inte användas",
            "The certificate could not be used",
        ),
        (Hint::Cancelled, _) => text("Inloggningen avbröts", "The login was cancelled"),
        (Hint::AlreadyInProgress, _) => text(
            "Du hade redan en inloggning på gång med samma certifikat. Båda har avbrutits \
             för säkerhets skull. Börja om och godkänn bara inloggningar du själv har startat.",
            "You already had a login in progress with the same certificate. Both were \
             stopped to be safe. Start again, and approve only logins you started yourself.",
        ),
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
    let message = match hint {
        Some(hint) => lang.t(&hint_text(hint, device)),
        None => lang.t(&COMPLETE),
    };
    match code {
        Some(code) => format!("{message} ({} {code})", lang.t(&CODE_LABEL)),
        None => message.to_owned(),
    }
}

/// Every status text `login.js` may show, keyed by hint, plus `complete`, `expired` and
/// `codeLabel`: JSON for the page's `data-messages`.
pub(super) fn messages_json(device: Device, lang: Lang) -> String {
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
        messages.insert(
            hint.as_str().into(),
            lang.t(&hint_text(hint, device)).into(),
        );
    }
    for (key, text) in [
        ("complete", COMPLETE),
        ("expired", EXPIRED),
        ("codeLabel", CODE_LABEL),
    ] {
        messages.insert(key.into(), lang.t(&text).into());
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
    }
}
