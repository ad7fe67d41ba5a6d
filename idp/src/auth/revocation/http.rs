//! HTTP for OCSP and CRLs: bounded bodies, errors as text without personal data.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use url::Url;

use crate::metrics::Metrics;

/// OCSP responses are small; anything bigger is not one.
const MAX_OCSP_RESPONSE: usize = 1 << 20;
/// Large CAs publish CRLs of tens of megabytes.
pub(crate) const MAX_CRL: usize = 128 << 20;

#[derive(Debug, Clone)]
pub(crate) struct Http {
    client: Result<reqwest::Client, String>,
    /// Where fetches are counted (shared by the clones the checker and CRL store hold).
    metrics: Arc<OnceLock<Arc<Metrics>>>,
}

impl Http {
    pub(crate) fn new(timeout: Duration) -> Self {
        let client = crate::outbound::client_builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| {
                tracing::error!(error = %e, "revocation checking has no HTTP client");
                format!("no HTTP client: {e}")
            });
        Self {
            client,
            metrics: Arc::default(),
        }
    }

    pub(crate) fn with_client(client: reqwest::Client) -> Self {
        Self {
            client: Ok(client),
            metrics: Arc::default(),
        }
    }

    /// Counts every fetch (by kind, URL and result) into `metrics`, for this client and
    /// all its clones.
    pub(crate) fn observe(&self, metrics: Arc<Metrics>) {
        let _ = self.metrics.set(metrics);
    }

    fn record(&self, kind: &'static str, url: &Url, ok: bool, started: Instant) {
        if let Some(metrics) = self.metrics.get() {
            metrics.record_revocation_fetch(kind, url.as_str(), ok, started.elapsed());
        }
    }

    fn client(&self) -> Result<&reqwest::Client, String> {
        self.client.as_ref().map_err(Clone::clone)
    }

    /// POSTs a DER OCSP request (RFC 6960 appendix A.1) and returns the response body.
    pub(crate) async fn post_ocsp(&self, url: &Url, request: Vec<u8>) -> Result<Vec<u8>, String> {
        let started = Instant::now();
        let result = self.send_ocsp(url, request).await;
        self.record("ocsp", url, result.is_ok(), started);
        result
    }

    async fn send_ocsp(&self, url: &Url, request: Vec<u8>) -> Result<Vec<u8>, String> {
        let response = self
            .client()?
            .post(url.clone())
            .header(http::header::CONTENT_TYPE, "application/ocsp-request")
            .header(http::header::ACCEPT, "application/ocsp-response")
            .body(request)
            .send()
            .await
            .map_err(|e| describe(&e))?;
        read_body(response, MAX_OCSP_RESPONSE).await
    }

    /// GETs a CRL.
    pub(crate) async fn get_crl(&self, url: &Url) -> Result<Vec<u8>, String> {
        let started = Instant::now();
        let result = self.send_crl(url).await;
        self.record("crl", url, result.is_ok(), started);
        result
    }

    async fn send_crl(&self, url: &Url) -> Result<Vec<u8>, String> {
        let response = self
            .client()?
            .get(url.clone())
            .send()
            .await
            .map_err(|e| describe(&e))?;
        read_body(response, MAX_CRL).await
    }
}

async fn read_body(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, String> {
    let status = response.status();
    if !status.is_success() {
        return Err(format!("HTTP status {status}"));
    }
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(format!("response larger than {limit} bytes"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e))? {
        if body.len() + chunk.len() > limit {
            return Err(format!("response larger than {limit} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The error and its causes on one line ("error sending request: … Connection refused").
fn describe(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out: "
    } else if error.is_connect() {
        "cannot connect: "
    } else {
        ""
    };
    let mut text = format!("{kind}{}", without_url(error));
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// reqwest's error text without the URL (callers name the URL themselves).
fn without_url(error: &reqwest::Error) -> String {
    let text = error.to_string();
    match error.url() {
        Some(url) => text.replace(&format!(" for url ({url})"), ""),
        None => text,
    }
}
