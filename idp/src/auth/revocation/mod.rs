//! Revocation checking: OCSP first, the CRL as fallback, answers cached, and a per-CA
//! policy that decides what happens when neither can say.
//!
//! The decision, in order:
//! 1. OCSP (when enabled and a responder is known): a fresh cached answer, else one
//!    request (shared by every concurrent check of the same certificate). Good and revoked
//!    are final; unknown, or a responder that is down or answers badly, goes on to the CRL.
//! 2. The CRL (a configured file, else a configured URL, else the certificate's CRL
//!    distribution points): listed means revoked (revocation is final, so even in an
//!    expired CRL); not listed in a current CRL means good.
//! 3. Neither: `Unavailable` (or `CrlExpired` when the only CRL is past its nextUpdate;
//!    `OcspUnknown` when OCSP said unknown). Fail-open turns `Unavailable` and
//!    `CrlExpired` into [`RevocationOutcome::FailedOpen`]; revoked and unknown never are.

mod cache;
mod certs;
mod crl;
mod http;
mod ocsp;
mod policy;
mod signature;

pub use policy::{
    apply_policy, FailPolicy, RevocationError, RevocationOutcome, RevocationSettings, Source,
};

use cache::{CachedStatus, CertKey, OcspCache, SingleFlight};
pub(crate) use certs::{IssuerInfo, LeafInfo};
use crl::{CrlSource, CrlStore, CrlVerdict};
use http::Http;
use ocsp::OcspStatus;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use time::OffsetDateTime;

/// One OCSP lookup's result, shared by every check that waited for it.
type OcspResult = Result<(OcspStatus, Source), String>;

/// Checks certificates for revocation; holds the HTTP client and the caches. Cheap to
/// share behind an `Arc`; one per process.
pub struct RevocationChecker {
    http: Http,
    ocsp_cache: Arc<OcspCache>,
    ocsp_flights: SingleFlight<CertKey, OcspResult>,
    ocsp_requests: Arc<AtomicU64>,
    crls: CrlStore,
}

impl RevocationChecker {
    pub fn new(http_timeout: std::time::Duration) -> Self {
        Self::with_http(Http::new(http_timeout))
    }

    /// With a client of the caller's making (e.g. one that trusts a private TLS CA for
    /// https responders). Its timeouts apply.
    pub fn with_client(client: reqwest::Client) -> Self {
        Self::with_http(Http::with_client(client))
    }

    /// Counts every OCSP and CRL fetch into `metrics` from now on.
    pub fn observe(&self, metrics: Arc<crate::metrics::Metrics>) {
        self.http.observe(metrics);
    }

    fn with_http(http: Http) -> Self {
        Self {
            crls: CrlStore::new(http.clone()),
            http,
            ocsp_cache: Arc::default(),
            ocsp_flights: SingleFlight::default(),
            ocsp_requests: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Checks `leaf_der` (issued by `issuer_der`, both DER). Never panics; network and
    /// parse failures become `Unavailable`, which the policy then decides.
    pub async fn check(
        &self,
        leaf_der: &[u8],
        issuer_der: &[u8],
        settings: &RevocationSettings,
        now: OffsetDateTime,
    ) -> Result<RevocationOutcome, RevocationError> {
        match certs::parse_pair(leaf_der, issuer_der) {
            Ok((leaf, issuer)) => {
                let issuer = Arc::new(issuer);
                self.check_read(&leaf, &issuer, settings, now).await
            }
            Err(detail) => apply_policy(
                settings.policy,
                Err(RevocationError::Unavailable { detail }),
            ),
        }
    }

    /// [`RevocationChecker::check`] of a certificate and its issuer already read (the
    /// validator reads the leaf once for all its checks, and each issuer once).
    pub(crate) async fn check_read(
        &self,
        leaf: &LeafInfo,
        issuer: &Arc<IssuerInfo>,
        settings: &RevocationSettings,
        now: OffsetDateTime,
    ) -> Result<RevocationOutcome, RevocationError> {
        let decision = self.decide(leaf, issuer, settings, now).await;
        apply_policy(settings.policy, decision)
    }

    /// Re-fetches cached CRLs that are within `margin` of their nextUpdate (or past it);
    /// returns how many were fetched and checked successfully.
    pub async fn refresh_crls(&self, now: OffsetDateTime, margin: time::Duration) -> usize {
        self.crls.refresh(now, margin).await
    }

    /// OCSP HTTP requests made so far (successful or not).
    pub fn ocsp_requests_made(&self) -> u64 {
        self.ocsp_requests.load(Ordering::Relaxed)
    }

    /// CRL fetches (HTTP) and file reads made so far (successful or not).
    pub fn crl_fetches_made(&self) -> u64 {
        self.crls.loads()
    }

    async fn decide(
        &self,
        leaf: &LeafInfo,
        issuer: &Arc<IssuerInfo>,
        settings: &RevocationSettings,
        now: OffsetDateTime,
    ) -> Result<Source, RevocationError> {
        let mut problems = Vec::new();
        let mut ocsp_said_unknown = false;
        if settings.use_ocsp {
            let url = settings
                .ocsp_url
                .clone()
                .or_else(|| leaf.ocsp_urls.first().cloned());
            match url {
                None => problems.push("OCSP: the certificate names no responder".to_owned()),
                Some(url) => match self.ocsp_status(leaf, issuer, url, now).await {
                    Ok((OcspStatus::Good, source)) => return Ok(source),
                    Ok((OcspStatus::Revoked, source)) => {
                        return Err(RevocationError::Revoked { source })
                    }
                    Ok((OcspStatus::Unknown, _)) => ocsp_said_unknown = true,
                    Err(why) => problems.push(format!("OCSP: {why}")),
                },
            }
        }
        let sources = crl_sources(settings, leaf);
        match self.crls.verdict(&sources, issuer, &leaf.serial, now).await {
            CrlVerdict::Good => Ok(Source::Crl),
            CrlVerdict::Revoked => Err(RevocationError::Revoked {
                source: Source::Crl,
            }),
            _ if ocsp_said_unknown => Err(RevocationError::OcspUnknown),
            CrlVerdict::Expired => Err(RevocationError::CrlExpired),
            CrlVerdict::Unavailable(why) => {
                problems.push(format!("CRL: {why}"));
                Err(RevocationError::Unavailable {
                    detail: problems.join("; "),
                })
            }
        }
    }

    /// The OCSP status from the cache, or from the responder: one request per certificate
    /// at a time, whose result every concurrent check shares.
    async fn ocsp_status(
        &self,
        leaf: &LeafInfo,
        issuer: &Arc<IssuerInfo>,
        url: url::Url,
        now: OffsetDateTime,
    ) -> OcspResult {
        let key = CertKey {
            issuer_key_hash: issuer.key_hash,
            serial: leaf.serial.clone(),
        };
        if let Some(status) = self.ocsp_cache.get(&key, now) {
            return Ok((status.into(), Source::OcspCache));
        }
        let (http, cache, requests) = (
            self.http.clone(),
            Arc::clone(&self.ocsp_cache),
            Arc::clone(&self.ocsp_requests),
        );
        let issuer = Arc::clone(issuer);
        let flight_key = key.clone();
        self.ocsp_flights
            .run(flight_key, move || async move {
                // A flight that finished just before this one started has filled the cache.
                if let Some(status) = cache.get(&key, now) {
                    return Ok((status.into(), Source::OcspCache));
                }
                let nonce = ocsp::new_nonce();
                let request =
                    ocsp::build_request(&issuer, &key.serial, &nonce).map_err(|e| e.to_string())?;
                requests.fetch_add(1, Ordering::Relaxed);
                let answer = match http.post_ocsp(&url, request).await {
                    Ok(body) => ocsp::read_response(&body, &issuer, &key.serial, &nonce, now)
                        .map_err(|e| e.to_string()),
                    Err(why) => Err(why),
                };
                let answer = answer.map_err(|why| {
                    tracing::warn!(responder = %url, error = %why, "OCSP check failed; trying the CRL");
                    format!("{url}: {why}")
                })?;
                let definite = match answer.status {
                    OcspStatus::Good => Some(CachedStatus::Good),
                    OcspStatus::Revoked => Some(CachedStatus::Revoked),
                    OcspStatus::Unknown => None,
                };
                let until = cache::cache_until(answer.this_update, answer.next_update, now);
                if let (Some(status), Some(until)) = (definite, until) {
                    cache.insert(key, status, until, now);
                }
                Ok((answer.status, Source::Ocsp))
            })
            .await
    }
}

impl From<CachedStatus> for OcspStatus {
    fn from(status: CachedStatus) -> Self {
        match status {
            CachedStatus::Good => Self::Good,
            CachedStatus::Revoked => Self::Revoked,
        }
    }
}

/// The configured CRL file, else the configured URL, else the certificate's own.
fn crl_sources(settings: &RevocationSettings, leaf: &LeafInfo) -> Vec<CrlSource> {
    if let Some(path) = &settings.crl_file {
        vec![CrlSource::File(path.clone())]
    } else if let Some(url) = &settings.crl_url {
        vec![CrlSource::Url(url.clone())]
    } else {
        leaf.crl_urls.iter().cloned().map(CrlSource::Url).collect()
    }
}

#[cfg(test)]
mod tests;
