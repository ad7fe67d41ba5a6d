//! Why a mobile order step was refused: stable codes for the app, the browser and logs.

use crate::login::LoginFailure;

#[derive(Debug, thiserror::Error)]
pub enum MobileError {
    #[error("no such order")]
    OrderNotFound,
    #[error("the QR code is not valid")]
    QrInvalid,
    #[error("the QR code is too old; scan the code on the screen again")]
    QrStale,
    #[error("the order has already been claimed by an app")]
    AlreadyClaimed,
    #[error("the order is no longer active")]
    NotActive,
    #[error("the order has expired")]
    Expired,
    #[error("the claim is not valid")]
    ClaimInvalid,
    #[error("the signature does not verify with the certificate's key")]
    SignatureInvalid,
    #[error("unsupported signature algorithm")]
    UnsupportedAlgorithm,
    #[error("another login with this certificate was in progress; both were stopped")]
    AlreadyInProgress,
    #[error("the certificate is not the one the order was claimed with")]
    CertificateMismatch,
    #[error("the certificate cannot be read")]
    CertificateUnreadable,
    #[error("login refused: {0}")]
    Login(#[from] LoginFailure),
    #[error(transparent)]
    Store(#[from] crate::session::StoreError),
    /// The external national eID service failed (down, slow, TLS, protocol).
    #[error(transparent)]
    Service(#[from] super::external::ServiceError),
}

impl MobileError {
    pub fn code(&self) -> &'static str {
        match self {
            MobileError::OrderNotFound => "ORDER_NOT_FOUND",
            MobileError::QrInvalid => "QR_INVALID",
            MobileError::QrStale => "QR_STALE",
            MobileError::AlreadyClaimed => "ORDER_ALREADY_CLAIMED",
            MobileError::NotActive => "ORDER_NOT_ACTIVE",
            MobileError::Expired => "ORDER_EXPIRED",
            MobileError::ClaimInvalid => "CLAIM_INVALID",
            MobileError::SignatureInvalid => "SIGNATURE_INVALID",
            MobileError::UnsupportedAlgorithm => "SIGNATURE_ALGORITHM_UNSUPPORTED",
            MobileError::AlreadyInProgress => "ALREADY_IN_PROGRESS",
            MobileError::CertificateMismatch => "CERTIFICATE_MISMATCH",
            MobileError::CertificateUnreadable => "CERT_MALFORMED",
            MobileError::Login(failure) => failure.code(),
            MobileError::Store(e) => e.code(),
            MobileError::Service(e) => e.code(),
        }
    }

    /// HTTP status for the app API.
    pub fn http_status(&self) -> u16 {
        match self {
            MobileError::OrderNotFound | MobileError::ClaimInvalid => 404,
            MobileError::AlreadyClaimed
            | MobileError::NotActive
            | MobileError::AlreadyInProgress => 409,
            MobileError::Expired => 410,
            MobileError::Login(failure) if failure.is_server_fault() => 503,
            MobileError::Store(_) | MobileError::Service(_) => 503,
            MobileError::Login(_) => 403,
            _ => 400,
        }
    }
}
