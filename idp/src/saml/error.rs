//! What can go wrong with a SAML request, each with a stable code. Errors where the
//! requester and its ACS URL are established go back to the SP as a SAML status
//! ([`SamlError::status`]); the others end on an error page, because a response to an
//! unverified address could hand an assertion, or an oracle, to an attacker.

use crate::auth::error::Explanation;
use crate::session::StoreError;

use super::response::{ResponseError, STATUS_REQUESTER, STATUS_RESPONDER};

pub const NO_AUTHN_CONTEXT: &str = "urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext";
pub const NO_PASSIVE: &str = "urn:oasis:names:tc:SAML:2.0:status:NoPassive";
pub const INVALID_NAME_ID_POLICY: &str = "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy";
pub const REQUEST_UNSUPPORTED: &str = "urn:oasis:names:tc:SAML:2.0:status:RequestUnsupported";
pub const AUTHN_FAILED: &str = "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed";
pub const PARTIAL_LOGOUT: &str = "urn:oasis:names:tc:SAML:2.0:status:PartialLogout";
/// Swedish eID Framework: the user cancelled.
pub const CANCEL: &str = "http://id.elegnamnden.se/status/1.0/cancel";

#[derive(Debug, thiserror::Error)]
pub enum SamlError {
    #[error("no SAML message in the request")]
    MissingMessage,
    #[error("the message could not be decoded")]
    Undecodable,
    #[error("the message's XML was refused: {0}")]
    Xml(#[from] super::xml::XmlError),
    #[error("the message contains an XML comment")]
    CommentForbidden,
    #[error(transparent)]
    Malformed(#[from] super::request::ParseError),
    #[error("the issuer is not a registered service provider")]
    UnknownSp,
    #[error("the assertion consumer service is not in the SP's metadata")]
    AcsNotRegistered,
    #[error("the message was sent to another destination")]
    DestinationMismatch,
    #[error("the request's IssueInstant is outside the accepted window")]
    Expired,
    #[error("the request ID was used before")]
    Replayed,
    #[error("the SP must sign its requests and this one is unsigned")]
    SignatureRequired,
    #[error("the signature does not verify with the SP's keys")]
    SignatureInvalid,
    #[error("RelayState is too long")]
    RelayStateTooLong,
    #[error("the user's organisation may not use this service")]
    UserNotAllowed,
    #[error("the SP requires a commission and the user has none")]
    NoCommission,
    #[error("the requested authentication context cannot be met")]
    NoAuthnContext,
    #[error("passive authentication requested without an SSO session")]
    NoPassive,
    #[error("the requested NameID format is not supported")]
    InvalidNameIdPolicy,
    #[error("the request asks for something the IdP does not support: {0}")]
    Unsupported(&'static str),
    #[error("the user cancelled the login")]
    Cancelled,
    #[error("the SP's metadata is configured but could not be loaded")]
    MetadataUnavailable,
    #[error("the login could not be found or has expired")]
    LoginExpired,
    #[error("the user's directory entry could not be read")]
    Directory,
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The answer could not be recorded (the database is down and the audit buffer is
    /// full): no assertion without its record.
    #[error(transparent)]
    Audit(crate::storage::StorageError),
    #[error(transparent)]
    Response(#[from] ResponseError),
}

impl SamlError {
    pub fn code(&self) -> &'static str {
        match self {
            SamlError::MissingMessage => "SAML_REQUEST_MISSING",
            SamlError::Undecodable => "SAML_REQUEST_UNDECODABLE",
            SamlError::Xml(e) => e.code(),
            SamlError::CommentForbidden => "XML_COMMENT_FORBIDDEN",
            SamlError::Malformed(_) => "SAML_REQUEST_MALFORMED",
            SamlError::UnknownSp => "SAML_UNKNOWN_SP",
            SamlError::AcsNotRegistered => "SAML_ACS_NOT_REGISTERED",
            SamlError::DestinationMismatch => "SAML_DESTINATION_MISMATCH",
            SamlError::Expired => "SAML_REQUEST_EXPIRED",
            SamlError::Replayed => "SAML_REQUEST_REPLAYED",
            SamlError::SignatureRequired => "SAML_SIGNATURE_REQUIRED",
            SamlError::SignatureInvalid => "SAML_SIGNATURE_INVALID",
            SamlError::RelayStateTooLong => "SAML_RELAY_STATE_TOO_LONG",
            SamlError::UserNotAllowed => "USER_NOT_ALLOWED",
            SamlError::NoCommission => crate::login::commission::MISSING_CODE,
            SamlError::NoAuthnContext => "SAML_NO_AUTHN_CONTEXT",
            SamlError::NoPassive => "SAML_NO_PASSIVE",
            SamlError::InvalidNameIdPolicy => "SAML_INVALID_NAMEID_POLICY",
            SamlError::Unsupported(_) => "SAML_REQUEST_UNSUPPORTED",
            SamlError::Cancelled => "SAML_USER_CANCELLED",
            SamlError::MetadataUnavailable => "SAML_METADATA_UNAVAILABLE",
            SamlError::LoginExpired => "LOGIN_EXPIRED",
            SamlError::Directory => "DIRECTORY_UNAVAILABLE",
            SamlError::Store(e) => e.code(),
            SamlError::Audit(e) => e.code(),
            SamlError::Response(e) => e.code(),
        }
    }

    /// The SAML status (top-level, second-level) to send back to the SP, for errors
    /// that may be answered at the SP's verified ACS.
    pub fn status(&self) -> Option<(&'static str, &'static str)> {
        match self {
            SamlError::NoAuthnContext => Some((STATUS_REQUESTER, NO_AUTHN_CONTEXT)),
            SamlError::NoPassive => Some((STATUS_RESPONDER, NO_PASSIVE)),
            SamlError::InvalidNameIdPolicy => Some((STATUS_REQUESTER, INVALID_NAME_ID_POLICY)),
            SamlError::Unsupported(_) => Some((STATUS_REQUESTER, REQUEST_UNSUPPORTED)),
            SamlError::Cancelled => Some((STATUS_RESPONDER, CANCEL)),
            _ => None,
        }
    }

    /// Whether the fault is the IdP's (5xx) rather than the request's.
    pub fn is_server_fault(&self) -> bool {
        matches!(
            self,
            SamlError::Store(_)
                | SamlError::Audit(_)
                | SamlError::Response(_)
                | SamlError::Directory
                | SamlError::MetadataUnavailable
        )
    }

    pub fn explain(&self, language: &str) -> Explanation {
        if let SamlError::NoCommission = self {
            return crate::login::commission::missing_explanation(language);
        }
        let en = language == "en";
        let (title, detail) = match self {
            SamlError::UserNotAllowed if en => (
                "Your organisation is not connected to this service",
                "You are logged in, but users of your organisation cannot use this service. Contact the service owner if you need access.",
            ),
            SamlError::UserNotAllowed => (
                "Din organisation är inte ansluten till tjänsten",
                "Du är inloggad, men användare från din organisation kan inte använda den här tjänsten. Kontakta tjänstens ägare om du behöver åtkomst.",
            ),
            SamlError::LoginExpired if en => (
                "The login has expired",
                "Too much time passed, or the login was started in another browser. Go back to the service and start again.",
            ),
            SamlError::LoginExpired => (
                "Inloggningen har gått ut",
                "Det gick för lång tid, eller så startades inloggningen i en annan webbläsare. Gå tillbaka till tjänsten och börja om.",
            ),
            _ if self.is_server_fault() && en => (
                "Temporary error",
                "The login service cannot complete your login just now. Try again in a moment.",
            ),
            _ if self.is_server_fault() => (
                "Tillfälligt fel",
                "Inloggningstjänsten kan inte slutföra din inloggning just nu. Försök igen om en stund.",
            ),
            _ if en => (
                "The service sent an invalid login request",
                "The service you came from asked for a login in a way this login service cannot accept. Go back and try again; if it happens again, tell the service's support the error code below.",
            ),
            _ => (
                "Tjänsten skickade en felaktig inloggningsbegäran",
                "Tjänsten du kom från bad om inloggning på ett sätt som inloggningstjänsten inte kan godta. Gå tillbaka och försök igen; om det händer igen, ge tjänstens support felkoden nedan.",
            ),
        };
        Explanation { title, detail }
    }
}
