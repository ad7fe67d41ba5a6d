//! Why a call to the external service failed: stable codes for the pages and logs. Every
//! one fails the step closed (no login), and none is retried inside the request.

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Nothing answered (connection refused, reset, DNS) or the service said it is
    /// unavailable (5xx).
    #[error("the national eID service is unavailable: {0}")]
    Unavailable(String),
    /// No answer within the configured timeout.
    #[error("the national eID service did not answer in time")]
    Timeout,
    /// The TLS handshake failed: the service's certificate is not from the pinned CA,
    /// names another host, or the service refused our RP certificate.
    #[error("TLS with the national eID service failed: {0}")]
    Tls(String),
    /// The service answered with one of its errors (`errorCode`).
    #[error("the national eID service refused the call: {error_code}")]
    Refused { status: u16, error_code: String },
    /// An answer that is not the documented JSON.
    #[error("the national eID service answered outside its protocol: {0}")]
    Protocol(String),
}

impl ServiceError {
    pub fn code(&self) -> &'static str {
        match self {
            ServiceError::Unavailable(_) => "NATIONAL_EID_UNAVAILABLE",
            ServiceError::Timeout => "NATIONAL_EID_TIMEOUT",
            ServiceError::Tls(_) => "NATIONAL_EID_TLS",
            ServiceError::Refused { .. } => "NATIONAL_EID_REFUSED",
            ServiceError::Protocol(_) => "NATIONAL_EID_PROTOCOL",
        }
    }

    /// Classifies a transport error: timeout, TLS (anywhere in its source chain), or
    /// unavailable.
    pub(super) fn from_transport(error: &reqwest::Error) -> Self {
        if error.is_timeout() {
            return ServiceError::Timeout;
        }
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
        while let Some(current) = source {
            if let Some(tls) = current.downcast_ref::<rustls::Error>() {
                return ServiceError::Tls(tls.to_string());
            }
            // An io::Error's `source` skips the error it wraps: follow `get_ref` instead
            // (the TLS connector wraps rustls' error in io errors, twice).
            source = match current.downcast_ref::<std::io::Error>() {
                Some(io) => io
                    .get_ref()
                    .map(|inner| inner as &(dyn std::error::Error + 'static)),
                None => current.source(),
            };
        }
        ServiceError::Unavailable(without_url(error))
    }
}

/// The error's text without the URL (which names the service, not a secret, but keeps
/// log lines short and stable).
fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "[the service]");
    }
    let mut source = std::error::Error::source(error);
    while let Some(current) = source {
        text.push_str(": ");
        text.push_str(&current.to_string());
        source = current.source();
    }
    text
}
