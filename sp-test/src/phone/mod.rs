//! The reference phone app: claims a login order from the IdP's mobile app API,
//! shows what the user is logging in to, and approves (signs the challenge with
//! the certificate's key) or declines.
//!
//! The API, JSON over HTTPS on the IdP's main address:
//! - `POST /mobile/v1/claim` `{"qr": ...}` or `{"autostart_token": ...}` -> order,
//!   claim token, challenge (base64url) and what to display;
//! - `POST /mobile/v1/complete` claim token, signature over the challenge bytes,
//!   its algorithm and the certificate chain (leaf first) -> `{"status": "complete"}`;
//! - `POST /mobile/v1/decline` claim token -> `{"status": "failed", "hint": "userCancel"}`;
//! - any error: 4xx/5xx `{"error": "<STABLE_CODE>", "message": ...}`.

mod credential;

use std::error::Error as _;
use std::time::Duration;

use anyhow::{bail, Context};
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine as _};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use credential::{PhoneCredential, ALGORITHM_ECDSA_P256_SHA256, ALGORITHM_RSA_PKCS1_SHA256};

/// The challenge is base64url without padding; a phone that also takes padding costs nothing.
const BASE64URL_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// How the phone learned of the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// The content of the (animated) QR code, scanned from the browser on another device.
    Qr(String),
    /// The autostart token from the link that opened the app on this device.
    AutostartToken(String),
}

/// What the phone shows the user before they approve or decline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shown {
    pub order_ref: String,
    /// "Logga in i <application> hos <organisation>"
    pub text_sv: String,
    /// "Log in to <application> at <organisation>"
    pub text_en: String,
    pub application: String,
    pub organisation: String,
}

/// A claimed order, to approve or decline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub order_ref: String,
    pub claim_token: String,
    /// The exact bytes to sign (base64url-decoded from the claim response).
    pub challenge: Vec<u8>,
}

/// Why a step failed.
#[derive(Debug, thiserror::Error)]
pub enum PhoneError {
    /// The request did not get an HTTP response (connection, TLS, timeout).
    #[error("no response from the IdP: {0}")]
    Http(String),
    /// The IdP answered with an error: its HTTP status and stable error code.
    #[error("the IdP refused: {status} {code}: {message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    /// The answer was not what the API promises (or the phone could not build its request).
    #[error("protocol error: {0}")]
    Protocol(String),
}

/// The phone app: an HTTP client and the IdP's base URL.
#[derive(Debug, Clone)]
pub struct Phone {
    client: reqwest::Client,
    base_url: String,
}

#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum ClaimStartRequest<'a> {
    Qr(&'a str),
    AutostartToken(&'a str),
}

#[derive(Serialize)]
struct ClaimRequest<'a> {
    #[serde(flatten)]
    start: ClaimStartRequest<'a>,
    /// The leaf certificate the phone will complete with (base64 DER).
    certificate: String,
}

#[derive(Deserialize)]
struct ClaimResponse {
    order_ref: String,
    claim_token: String,
    challenge: String,
    display: DisplayResponse,
}

#[derive(Deserialize)]
struct DisplayResponse {
    text_sv: String,
    text_en: String,
    application: String,
    organisation: String,
}

#[derive(Serialize)]
struct CompleteRequest<'a> {
    claim_token: &'a str,
    signature: String,
    signature_algorithm: &'static str,
    certificate_chain: Vec<String>,
}

#[derive(Serialize)]
struct DeclineRequest<'a> {
    claim_token: &'a str,
}

#[derive(Deserialize)]
struct StatusResponse {
    status: String,
    #[serde(default)]
    hint: Option<String>,
}

#[derive(Deserialize)]
struct ErrorResponse {
    error: String,
    #[serde(default)]
    message: String,
}

impl Phone {
    /// A phone talking to the IdP at `idp_base_url` (e.g. `https://localhost:8443`),
    /// trusting only the CA certificates in `ca_cert_pem` for TLS.
    pub fn new(idp_base_url: &str, ca_cert_pem: Option<&[u8]>) -> anyhow::Result<Self> {
        // reqwest is built without a rustls provider; an already installed one is fine.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let url = url::Url::parse(idp_base_url)
            .with_context(|| format!("IdP base URL {idp_base_url:?}"))?;
        if !matches!(url.scheme(), "https" | "http") {
            bail!("IdP base URL {idp_base_url:?} is not http(s)");
        }
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            // The API never redirects; a redirect would turn the POST into a GET.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("sp-test-phone/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = ca_cert_pem {
            let roots = reqwest::Certificate::from_pem_bundle(pem)
                .context("reading the CA certificates")?;
            if roots.is_empty() {
                bail!("the CA certificate PEM holds no CERTIFICATE");
            }
            for root in roots {
                builder = builder.add_root_certificate(root);
            }
        }
        let client = builder.build().context("building the HTTP client")?;
        Ok(Self::with_client(idp_base_url, client))
    }

    /// A phone using the caller's HTTP client.
    pub fn with_client(idp_base_url: &str, client: reqwest::Client) -> Self {
        Self {
            client,
            base_url: idp_base_url.trim_end_matches('/').to_owned(),
        }
    }

    /// Claims the order as the holder of `credential` (the IdP lets one order per
    /// certificate holder be in progress); returns what the phone shows and a claim to
    /// approve or decline.
    pub async fn claim(
        &self,
        start: &Start,
        credential: &PhoneCredential,
    ) -> Result<(Shown, Claim), PhoneError> {
        let start = match start {
            Start::Qr(content) => ClaimStartRequest::Qr(content),
            Start::AutostartToken(token) => ClaimStartRequest::AutostartToken(token),
        };
        let request = ClaimRequest {
            start,
            certificate: STANDARD.encode(
                credential
                    .chain_der
                    .first()
                    .map(Vec::as_slice)
                    .unwrap_or_default(),
            ),
        };
        let response: ClaimResponse = self.post("/mobile/v1/claim", &request).await?;
        let challenge = BASE64URL_ANY_PADDING
            .decode(&response.challenge)
            .map_err(|e| PhoneError::Protocol(format!("claim: challenge is not base64url: {e}")))?;
        if challenge.is_empty() {
            return Err(PhoneError::Protocol("claim: empty challenge".to_owned()));
        }
        let shown = Shown {
            order_ref: response.order_ref.clone(),
            text_sv: response.display.text_sv,
            text_en: response.display.text_en,
            application: response.display.application,
            organisation: response.display.organisation,
        };
        let claim = Claim {
            order_ref: response.order_ref,
            claim_token: response.claim_token,
            challenge,
        };
        Ok((shown, claim))
    }

    /// Approves: signs the challenge and sends signature and certificate chain.
    pub async fn approve(
        &self,
        claim: &Claim,
        credential: &PhoneCredential,
    ) -> Result<(), PhoneError> {
        self.approve_signing(claim, credential, &claim.challenge)
            .await
    }

    /// Declines: the user pressed "cancel" in the app.
    pub async fn decline(&self, claim: &Claim) -> Result<(), PhoneError> {
        let request = DeclineRequest {
            claim_token: &claim.claim_token,
        };
        let response: StatusResponse = self.post("/mobile/v1/decline", &request).await?;
        match (response.status.as_str(), response.hint.as_deref()) {
            ("failed", Some("userCancel")) => Ok(()),
            (status, hint) => Err(PhoneError::Protocol(format!(
                "decline: expected status \"failed\" with hint \"userCancel\", got {status:?} with {hint:?}"
            ))),
        }
    }

    /// Like approve, but signs `message` instead of the challenge (for negative tests).
    pub async fn approve_signing(
        &self,
        claim: &Claim,
        credential: &PhoneCredential,
        message: &[u8],
    ) -> Result<(), PhoneError> {
        let (signature, signature_algorithm) = credential
            .sign(message)
            .map_err(|e| PhoneError::Protocol(format!("complete: could not sign: {e:#}")))?;
        let request = CompleteRequest {
            claim_token: &claim.claim_token,
            signature: STANDARD.encode(signature),
            signature_algorithm,
            certificate_chain: credential
                .chain_der
                .iter()
                .map(|der| STANDARD.encode(der))
                .collect(),
        };
        let response: StatusResponse = self.post("/mobile/v1/complete", &request).await?;
        if response.status == "complete" {
            Ok(())
        } else {
            Err(PhoneError::Protocol(format!(
                "complete: expected status \"complete\", got {:?}",
                response.status
            )))
        }
    }

    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, PhoneError> {
        let url = format!("{}{path}", self.base_url);
        let response = self
            .client
            .post(&url)
            .json(body)
            .send()
            .await
            .map_err(|e| PhoneError::Http(error_chain(&e)))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| {
            PhoneError::Http(format!(
                "reading the answer from {url}: {}",
                error_chain(&e)
            ))
        })?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| {
                PhoneError::Protocol(format!(
                    "POST {path}: {status} with unexpected body ({e}): {}",
                    snippet(&bytes)
                ))
            });
        }
        match serde_json::from_slice::<ErrorResponse>(&bytes) {
            Ok(error) if status.is_client_error() || status.is_server_error() => {
                Err(PhoneError::Refused {
                    status: status.as_u16(),
                    code: error.error,
                    message: error.message,
                })
            }
            _ => Err(PhoneError::Protocol(format!(
                "POST {path}: {status} without an error body: {}",
                snippet(&bytes)
            ))),
        }
    }
}

/// reqwest's Display hides the cause (e.g. the TLS certificate error); show the chain.
fn error_chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut snippet: String = text.chars().take(200).collect();
    if snippet.len() < text.len() {
        snippet.push('…');
    }
    if snippet.is_empty() {
        snippet.push_str("(empty)");
    }
    snippet
}

#[cfg(test)]
mod tests;
