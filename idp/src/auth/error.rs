//! Why a certificate login was refused: a stable code for support, logs, metrics and
//! the audit log, and words a nurse understands, in Swedish and English.

use super::revocation::RevocationError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    #[error("no certificate was presented")]
    Missing,
    #[error("the chain has more than {max} certificates")]
    ChainTooLong { max: usize },
    #[error("the certificate is not valid DER")]
    Malformed,
    #[error("the certificate has expired")]
    Expired,
    #[error("the certificate is not yet valid")]
    NotYetValid,
    #[error("the certificate does not chain to a trusted root")]
    Untrusted,
    #[error("the certificate's issuer is not accepted here")]
    IssuerNotAccepted,
    #[error("the certificate path is invalid ({0})")]
    PathInvalid(String),
    #[error("the certificate is not for client authentication")]
    WrongUsage,
    #[error("the certificate carries no accepted policy")]
    NoPolicy,
    #[error("the certificate uses a weak signature algorithm")]
    WeakAlgorithm,
    #[error("the certificate's key is too weak")]
    WeakKey,
    #[error("the certificate carries no usable identifier")]
    NoIdentifier,
    #[error("the certificate names more than one identifier, so whose it is is ambiguous")]
    AmbiguousIdentifier,
    #[error("the certificate's issuer does not allow this login method")]
    MethodNotAllowed,
    #[error(transparent)]
    Revocation(#[from] RevocationError),
}

/// A user-facing explanation: title, what happened, what to do.
#[derive(Debug, Clone, Copy)]
pub struct Explanation {
    pub title: &'static str,
    pub detail: &'static str,
}

impl CertError {
    pub fn code(&self) -> &'static str {
        match self {
            CertError::Missing => "CERT_MISSING",
            CertError::ChainTooLong { .. } => "CERT_CHAIN_TOO_LONG",
            CertError::Malformed => "CERT_MALFORMED",
            CertError::Expired => "CERT_EXPIRED",
            CertError::NotYetValid => "CERT_NOT_YET_VALID",
            CertError::Untrusted => "CERT_UNTRUSTED",
            CertError::IssuerNotAccepted => "CERT_ISSUER_NOT_ACCEPTED",
            CertError::PathInvalid(_) => "CERT_PATH_INVALID",
            CertError::WrongUsage => "CERT_WRONG_USAGE",
            CertError::NoPolicy => "CERT_NO_POLICY",
            CertError::WeakAlgorithm => "CERT_WEAK_ALGORITHM",
            CertError::WeakKey => "CERT_WEAK_KEY",
            CertError::NoIdentifier => "CERT_NO_IDENTIFIER",
            CertError::AmbiguousIdentifier => "CERT_AMBIGUOUS_IDENTIFIER",
            CertError::MethodNotAllowed => "CERT_METHOD_NOT_ALLOWED",
            CertError::Revocation(e) => e.code(),
        }
    }

    pub fn explain(&self, language: &str) -> Explanation {
        let (sv, en) = match self {
            CertError::Missing => (
                ("Inget certifikat hittades", "Din enhet visade inget certifikat. Kontrollera att ditt e-legitimationskort sitter i läsaren eller att certifikatet är installerat, och försök igen. Du kan också logga in med mobilappen."),
                ("No certificate found", "Your device did not present a certificate. Check that your card is in the reader or that the certificate is installed, then try again. You can also log in with the mobile app."),
            ),
            CertError::Expired => (
                ("Ditt certifikat har gått ut", "Certifikatet du använde är inte längre giltigt. Kontakta din organisations kortadministratör för att få ett nytt."),
                ("Your certificate has expired", "The certificate you used is no longer valid. Contact your organisation's card administrator for a new one."),
            ),
            CertError::NotYetValid => (
                ("Ditt certifikat är inte giltigt ännu", "Certifikatet börjar gälla senare. Försök igen senare eller kontakta din kortadministratör."),
                ("Your certificate is not valid yet", "The certificate becomes valid later. Try again later or contact your card administrator."),
            ),
            CertError::Revocation(RevocationError::Revoked { .. }) => (
                ("Ditt certifikat har spärrats", "Certifikatet du använde är spärrat och kan inte användas för inloggning. Kontakta din organisations kortadministratör."),
                ("Your certificate has been revoked", "The certificate you used has been revoked and cannot be used to log in. Contact your organisation's card administrator."),
            ),
            CertError::Revocation(_) => (
                ("Certifikatet kunde inte kontrolleras", "Vi kunde inte kontrollera att ditt certifikat inte är spärrat. Försök igen om en stund. Kvarstår felet, kontakta supporten och uppge felkoden."),
                ("Your certificate could not be checked", "We could not confirm that your certificate has not been revoked. Try again in a moment. If it keeps happening, contact support with the error code."),
            ),
            CertError::AmbiguousIdentifier => (
                ("Certifikatet anger mer än en person", "Certifikatet innehåller flera identiteter (HSA-id eller personnummer) och kan därför inte användas för inloggning. Kontakta din organisations kortadministratör och uppge felkoden."),
                ("The certificate names more than one person", "The certificate carries several identities (HSA-id or personal identity number) and so cannot be used to log in. Contact your organisation's card administrator with the error code."),
            ),
            CertError::MethodNotAllowed => (
                ("Certifikatet kan inte användas på det här sättet", "Det här certifikatet får inte användas för det inloggningssätt du valde (ett kortcertifikat hör hemma i kortläsaren, ett mobilt certifikat i appen). Välj ett annat sätt att logga in."),
                ("This certificate cannot be used this way", "This certificate may not be used for the way of logging in you chose (a card's certificate belongs in the card reader, a mobile certificate in the app). Choose another way to log in."),
            ),
            CertError::Untrusted | CertError::IssuerNotAccepted => (
                ("Certifikatet godtas inte här", "Certifikatet är inte utfärdat av en utfärdare som den här tjänsten litar på. Använd ditt SITHS- eller Efos-certifikat från arbetet."),
                ("This certificate is not accepted here", "The certificate was not issued by an issuer this service trusts. Use your SITHS or Efos certificate from work."),
            ),
            _ => (
                ("Certifikatet kan inte användas för inloggning", "Certifikatet du använde är inte ett giltigt inloggningscertifikat. Kontakta supporten och uppge felkoden."),
                ("This certificate cannot be used to log in", "The certificate you used is not a valid login certificate. Contact support with the error code."),
            ),
        };
        let (title, detail) = if language == "en" { en } else { sv };
        Explanation { title, detail }
    }
}
