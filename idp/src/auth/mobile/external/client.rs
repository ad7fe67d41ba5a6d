//! The relying-party side of the service's API (the BankID RP API v6 shape): `auth`,
//! `collect`, `cancel`, JSON over HTTPS with mutual TLS. The service's CA is the only
//! trust anchor (pinned: no system roots), the RP certificate the service issued is our
//! client certificate, and every call has a connect and a whole-call timeout.

use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

use super::ServiceError;
use crate::config::NationalEidConfig;

/// Largest answer read from the service (a completion carries a certificate chain).
const MAX_ANSWER: usize = 64 * 1024;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthRequest {
    pub end_user_ip: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_visible_data: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthResponse {
    pub order_ref: String,
    pub auto_start_token: String,
    pub qr_start_token: String,
    pub qr_start_secret: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceStatus {
    Pending,
    Failed,
    Complete,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CollectResponse {
    pub order_ref: String,
    pub status: ServiceStatus,
    #[serde(default)]
    pub hint_code: Option<String>,
    #[serde(default)]
    pub completion_data: Option<CompletionData>,
}

/// What a completed order carries. `user` and `device` are BankID's; `certificateChain`
/// (base64 DER, leaf first) and `signatureAlgorithm` are this shape's extension for a
/// certificate service (SITHS/Efos style), see docs/mobile-api.md.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompletionData {
    #[serde(default)]
    pub user: Option<CompletionUser>,
    /// base64 of the user's signature (see `signed_message`).
    pub signature: String,
    pub signature_algorithm: String,
    pub certificate_chain: Vec<String>,
}

/// Informational only: the identity comes from the validated certificate.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompletionUser {
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ErrorAnswer {
    error_code: String,
}

/// What the user's app signs on completion (this shape's extension, the same on both
/// sides): `national-eid-auth:v1`, the service's orderRef and the userVisibleData as sent
/// (base64, empty when none), one per line.
pub fn signed_message(order_ref: &str, user_visible_data: Option<&str>) -> Vec<u8> {
    format!(
        "national-eid-auth:v1\n{order_ref}\n{}",
        user_visible_data.unwrap_or("")
    )
    .into_bytes()
}

#[derive(Debug, thiserror::Error)]
#[error("{key}: {detail}")]
pub struct ClientSetupError {
    pub key: &'static str,
    pub detail: String,
}

/// The API client of one service.
#[derive(Clone)]
pub struct RpClient {
    http: reqwest::Client,
    base: Url,
}

impl RpClient {
    pub fn new(config: &NationalEidConfig) -> Result<Self, ClientSetupError> {
        crate::server::install_crypto_provider();
        let setup = |key: &'static str| {
            move |e: crate::server::TlsError| ClientSetupError {
                key,
                detail: e.to_string(),
            }
        };
        let mut roots = rustls::RootCertStore::empty();
        for ca in
            crate::server::load_certificates(&config.service_ca).map_err(setup("service_ca"))?
        {
            roots.add(ca).map_err(|e| ClientSetupError {
                key: "service_ca",
                detail: e.to_string(),
            })?;
        }
        let chain = crate::server::load_certificates(&config.client_certificate)
            .map_err(setup("client_certificate"))?;
        let key = crate::server::load_private_key(&config.client_private_key)
            .map_err(setup("client_private_key"))?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|builder| {
                builder
                    .with_root_certificates(roots)
                    .with_client_auth_cert(chain, key)
            })
            .map_err(|e| ClientSetupError {
                key: "client_certificate",
                detail: e.to_string(),
            })?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .connect_timeout(Duration::from_millis(config.connect_timeout_millis))
            .timeout(Duration::from_millis(config.request_timeout_millis))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ClientSetupError {
                key: "url",
                detail: e.to_string(),
            })?;
        let mut base = config.url.clone();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        Ok(Self { http, base })
    }

    pub async fn auth(&self, request: &AuthRequest) -> Result<AuthResponse, ServiceError> {
        self.call("auth", request).await
    }

    pub async fn collect(&self, order_ref: &str) -> Result<CollectResponse, ServiceError> {
        let answer: CollectResponse = self
            .call("collect", &serde_json::json!({ "orderRef": order_ref }))
            .await?;
        if answer.order_ref != order_ref {
            return Err(ServiceError::Protocol(
                "collect answered for another order".into(),
            ));
        }
        Ok(answer)
    }

    pub async fn cancel(&self, order_ref: &str) -> Result<(), ServiceError> {
        let _: serde_json::Value = self
            .call("cancel", &serde_json::json!({ "orderRef": order_ref }))
            .await?;
        Ok(())
    }

    async fn call<B: Serialize + ?Sized, T: serde::de::DeserializeOwned>(
        &self,
        operation: &str,
        body: &B,
    ) -> Result<T, ServiceError> {
        let url = self
            .base
            .join(operation)
            .map_err(|e| ServiceError::Protocol(e.to_string()))?;
        let mut response = self
            .http
            .post(url)
            .json(body)
            .send()
            .await
            .map_err(|e| ServiceError::from_transport(&e))?;
        let status = response.status();
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| ServiceError::from_transport(&e))?
        {
            if bytes.len() + chunk.len() > MAX_ANSWER {
                return Err(ServiceError::Protocol("answer too large".into()));
            }
            bytes.extend_from_slice(&chunk);
        }
        if status.is_server_error() {
            return Err(ServiceError::Unavailable(format!(
                "HTTP {}",
                status.as_u16()
            )));
        }
        if !status.is_success() {
            let error_code = serde_json::from_slice::<ErrorAnswer>(&bytes)
                .map(|e| e.error_code)
                .unwrap_or_else(|_| "unknown".into());
            return Err(ServiceError::Refused {
                status: status.as_u16(),
                error_code,
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| ServiceError::Protocol(unreadable(&e)))
    }
}

/// Why an answer could not be read, without quoting it: serde's message may carry a
/// value of the answer (a personal identity number in `completionData.user`), and this
/// text reaches the log.
fn unreadable(error: &serde_json::Error) -> String {
    format!(
        "unreadable answer ({:?} at line {} column {})",
        error.classify(),
        error.line(),
        error.column()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_completion_reads_with_fields_this_side_ignores() {
        let answer: CollectResponse = serde_json::from_value(serde_json::json!({
            "orderRef": "o1",
            "status": "complete",
            "completionData": {
                "user": {"personalNumber": "190000000000", "name": "A B", "givenName": "A", "surname": "B"},
                "device": {"ipAddress": "192.0.2.1"},
                "signature": "c2ln",
                "signatureAlgorithm": "ecdsa-p256-sha256",
                "certificateChain": ["AAAA"],
                "ocspResponse": "x"
            }
        }))
        .unwrap();
        assert_eq!(answer.status, ServiceStatus::Complete);
        let data = answer.completion_data.unwrap();
        assert_eq!(data.certificate_chain, vec!["AAAA".to_owned()]);
    }

    #[test]
    fn an_unreadable_answer_is_described_without_its_values() {
        // personalNumber where the user object belongs: serde would quote it.
        let body = br#"{"orderRef": "o1", "status": "complete", "completionData": {"user": "195001011234"}}"#;
        let error = serde_json::from_slice::<CollectResponse>(body).unwrap_err();
        assert!(
            error.to_string().contains("195001011234"),
            "serde quotes it"
        );
        let described = unreadable(&error);
        assert!(!described.contains("195001011234"), "{described}");
        assert!(
            described.starts_with("unreadable answer (Data at line 1"),
            "{described}"
        );
    }

    #[test]
    fn the_signed_message_binds_order_and_text() {
        assert_eq!(
            signed_message("o1", Some("dGV4dA")),
            b"national-eid-auth:v1\no1\ndGV4dA".to_vec()
        );
        assert_ne!(signed_message("o1", None), signed_message("o2", None));
    }
}
