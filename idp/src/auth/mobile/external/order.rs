//! What the IdP keeps of an external service's order (in the session store, so that any
//! node serves any poll) and how the service's hint codes map to the pages' [`Hint`]s.

use serde::{Deserialize, Serialize};

use super::super::{Hint, OrderDisplay};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct ExternalOrder {
    /// Ours (`<service>.<random>`): the browser sees only this.
    pub order_ref: String,
    /// The service's; never leaves the IdP.
    pub service_order_ref: String,
    pub pending_login_id: String,
    pub display: OrderDisplay,
    pub qr_start_token: String,
    /// Never leaves the IdP (the QR content is computed here).
    pub qr_start_secret: String,
    pub autostart_token: String,
    /// As sent to the service (base64), part of what the user's app signs.
    pub user_visible_data: Option<String>,
    /// Unix milliseconds.
    pub started_at_ms: i64,
    pub state: ExternalState,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum ExternalState {
    /// Waiting at the service; the last hint it gave.
    Pending {
        hint: Hint,
    },
    /// One poll saw the completion and is running the certificate engine; the others
    /// report `userSign` meanwhile (a completion becomes one login, once).
    Completing,
    Complete {
        session_id: String,
    },
    Failed {
        hint: Hint,
        code: Option<String>,
    },
}

/// A pending order's hint from the service's `hintCode` (unknown codes: still waiting
/// for the app, as the BankID RP guidelines advise).
pub(super) fn pending_hint(code: Option<&str>) -> Hint {
    match code {
        Some("started") => Hint::Started,
        Some("userSign" | "userMrtd" | "userCallConfirm") => Hint::UserSign,
        _ => Hint::OutstandingTransaction,
    }
}

/// A failed order's hint, and the code shown with it when the service's hint is not
/// one the pages know.
pub(super) fn failed_hint(code: Option<&str>) -> (Hint, Option<&'static str>) {
    match code {
        Some("userCancel") => (Hint::UserCancel, None),
        Some("expiredTransaction") => (Hint::ExpiredTransaction, None),
        Some("certificateErr") => (Hint::CertificateErr, Some("NATIONAL_EID_CERTIFICATE_ERR")),
        Some("startFailed") => (Hint::StartFailed, None),
        Some("cancelled") => (Hint::Cancelled, None),
        Some("alreadyInProgress") => (Hint::AlreadyInProgress, None),
        _ => (Hint::Cancelled, Some("NATIONAL_EID_FAILED")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_hints_map_to_the_pages_hints() {
        assert_eq!(
            pending_hint(Some("outstandingTransaction")),
            Hint::OutstandingTransaction
        );
        assert_eq!(pending_hint(Some("noClient")), Hint::OutstandingTransaction);
        assert_eq!(pending_hint(Some("started")), Hint::Started);
        assert_eq!(pending_hint(Some("userSign")), Hint::UserSign);
        assert_eq!(
            pending_hint(Some("somethingNew")),
            Hint::OutstandingTransaction
        );
        assert_eq!(failed_hint(Some("userCancel")), (Hint::UserCancel, None));
        assert_eq!(
            failed_hint(Some("expiredTransaction")).0,
            Hint::ExpiredTransaction
        );
        assert_eq!(failed_hint(Some("certificateErr")).0, Hint::CertificateErr);
        assert_eq!(failed_hint(Some("startFailed")).0, Hint::StartFailed);
        assert_eq!(
            failed_hint(Some("somethingNew")),
            (Hint::Cancelled, Some("NATIONAL_EID_FAILED"))
        );
        assert_eq!(failed_hint(None).1, Some("NATIONAL_EID_FAILED"));
    }
}
