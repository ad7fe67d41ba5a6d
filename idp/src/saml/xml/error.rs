//! Errors of the XML-security layer, each with a stable code for logs and error pages.

/// Why an XML message (or a Redirect-binding query) was refused.
///
/// Messages name the check that failed, never the attacker's document.
#[derive(Debug, thiserror::Error)]
pub enum XmlError {
    #[error("the XML message exceeds the limit of {max} bytes")]
    TooLarge { max: usize },
    #[error("DTD, entity and other markup declarations are forbidden")]
    Dtd,
    #[error("malformed XML: {0}")]
    Malformed(String),
    #[error("the root element is {found}, expected {expected}")]
    UnexpectedRoot { expected: String, found: String },
    #[error("the message carries no signature")]
    SignatureMissing,
    #[error("the signature does not verify: {0}")]
    SignatureInvalid(String),
    #[error("signature wrapping suspected: {0}")]
    WrappingSuspected(String),
    #[error("algorithm not accepted (SHA-1 and unknown algorithms are refused): {0}")]
    WeakAlgorithm(String),
    #[error("transform not accepted (only enveloped-signature and exclusive c14n): {0}")]
    UnsupportedTransform(String),
    #[error("none of the trusted certificates holds a usable RSA or ECDSA public key")]
    NoTrustedKey,
    #[error("HTTP-Redirect binding: {0}")]
    Binding(String),
    #[error("signing failed")]
    Signing,
}

impl XmlError {
    /// A stable code for logs, metrics and the error page.
    pub fn code(&self) -> &'static str {
        match self {
            XmlError::TooLarge { .. } => "XML_TOO_LARGE",
            XmlError::Dtd => "XML_DTD_FORBIDDEN",
            XmlError::Malformed(_) => "XML_MALFORMED",
            XmlError::UnexpectedRoot { .. } => "XML_UNEXPECTED_ROOT",
            XmlError::SignatureMissing => "XML_SIGNATURE_MISSING",
            XmlError::SignatureInvalid(_) => "XML_SIGNATURE_INVALID",
            XmlError::WrappingSuspected(_) => "XML_SIGNATURE_WRAPPING",
            XmlError::WeakAlgorithm(_) => "XML_WEAK_ALGORITHM",
            XmlError::UnsupportedTransform(_) => "XML_UNSUPPORTED_TRANSFORM",
            XmlError::NoTrustedKey => "XML_NO_TRUSTED_KEY",
            XmlError::Binding(_) => "XML_BINDING_INVALID",
            XmlError::Signing => "XML_SIGNING_FAILED",
        }
    }
}
