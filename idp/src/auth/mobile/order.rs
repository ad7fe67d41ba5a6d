//! An order and its states.

use serde::{Deserialize, Serialize};

/// What the phone shows: where the user is logging in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderDisplay {
    pub application_sv: String,
    pub application_en: String,
    pub organisation_sv: String,
    pub organisation_en: String,
}

impl OrderDisplay {
    /// "Logga in i Journalen hos Region Exempelland" (`language` "sv" or "en"): what the
    /// login pages and the phone show.
    pub fn text(&self, language: &str) -> String {
        let (application, organisation) = if language == "en" {
            (&self.application_en, &self.organisation_en)
        } else {
            (&self.application_sv, &self.organisation_sv)
        };
        crate::i18n::Texts::of(language).fill(
            "login.where",
            &[("application", application), ("organisation", organisation)],
        )
    }
}

/// BankID-style hint codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Hint {
    // pending
    OutstandingTransaction,
    Started,
    UserSign,
    // failed
    ExpiredTransaction,
    CertificateErr,
    UserCancel,
    Cancelled,
    StartFailed,
    /// The same certificate holder claimed another order while this one was in
    /// progress: both were stopped (BankID's `alreadyInProgress`).
    AlreadyInProgress,
}

impl Hint {
    pub fn as_str(self) -> &'static str {
        match self {
            Hint::OutstandingTransaction => "outstandingTransaction",
            Hint::Started => "started",
            Hint::UserSign => "userSign",
            Hint::ExpiredTransaction => "expiredTransaction",
            Hint::CertificateErr => "certificateErr",
            Hint::UserCancel => "userCancel",
            Hint::Cancelled => "cancelled",
            Hint::StartFailed => "startFailed",
            Hint::AlreadyInProgress => "alreadyInProgress",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Failed,
    Complete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClaimedVia {
    Qr,
    Autostart,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderState {
    Outstanding,
    Claimed {
        via: ClaimedVia,
        /// base64url of the challenge the app must sign.
        challenge: String,
        /// SHA-256 (hex) of the claim token handed to the claiming app.
        claim_token_hash: String,
        /// Who claimed: the holder key of the certificate the app named (the same
        /// certificate must complete).
        #[serde(default)]
        holder: String,
    },
    Complete {
        via: ClaimedVia,
        session_id: String,
    },
    Failed {
        hint: Hint,
        /// Stable error code behind the failure, when there is one.
        code: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub order_ref: String,
    pub pending_login_id: String,
    pub display: OrderDisplay,
    pub qr_start_token: String,
    /// Hex; never leaves the IdP (the QR content is computed here).
    pub qr_start_secret: String,
    pub autostart_token: String,
    /// Unix milliseconds.
    pub started_at_ms: i64,
    pub state: OrderState,
}

/// What a poll returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collect {
    pub status: Status,
    pub hint: Option<Hint>,
    pub code: Option<String>,
    /// The SSO session, once complete.
    pub session_id: Option<String>,
    pub pending_login_id: String,
}
