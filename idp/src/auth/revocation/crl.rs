//! CRLs: read (PEM or DER, from a file or over HTTP), checked against the CA (issuer
//! name and signature), cached per source until their nextUpdate, refreshed near it.

use super::cache::{lock, SingleFlight};
use super::certs::{name_der_matches, normalize_serial, IssuerInfo};
use super::http::{Http, MAX_CRL};
use super::ocsp::CLOCK_SKEW;
use super::signature;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use time::{Duration, OffsetDateTime};
use url::Url;
use x509_parser::oid_registry::OID_X509_EXT_DELTA_CRL_INDICATOR;
use x509_parser::prelude::{CertificateRevocationList, FromDer, ParsedExtension};
use x509_parser::x509::SubjectPublicKeyInfo;

/// Where a CRL comes from; with the CA, its cache key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum CrlSource {
    File(PathBuf),
    Url(Url),
}

impl std::fmt::Display for CrlSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Url(url) => write!(f, "{url}"),
        }
    }
}

/// A CRL that was read, whose issuer and signature were checked: what lookups need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CrlData {
    pub(crate) this_update: OffsetDateTime,
    pub(crate) next_update: OffsetDateTime,
    revoked: HashSet<Vec<u8>>,
}

/// What one CRL source says about a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CrlVerdict {
    Good,
    Revoked,
    /// The newest CRL to be had is past its nextUpdate.
    Expired,
    Unavailable(String),
}

impl CrlData {
    /// Revocation is final, so a listed serial is revoked even when the CRL has expired;
    /// only "not listed" needs a current CRL.
    pub(crate) fn verdict(&self, serial: &[u8], now: OffsetDateTime) -> CrlVerdict {
        if self.this_update > now + CLOCK_SKEW {
            CrlVerdict::Unavailable("the CRL's thisUpdate is in the future".to_owned())
        } else if self.revoked.contains(normalize_serial(serial)) {
            CrlVerdict::Revoked
        } else if now >= self.next_update {
            CrlVerdict::Expired
        } else {
            CrlVerdict::Good
        }
    }
}

/// Reads a CRL (PEM or DER) and checks it is a complete CRL by `issuer`, signed by it.
pub(crate) fn parse_and_verify(bytes: &[u8], issuer: &IssuerInfo) -> Result<CrlData, String> {
    let pem;
    let der = if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
        pem = x509_parser::pem::parse_x509_pem(bytes)
            .map_err(|e| format!("not a PEM CRL: {e}"))?
            .1;
        if pem.label != "X509 CRL" {
            return Err(format!("PEM holds a {}, not a CRL", pem.label));
        }
        pem.contents.as_slice()
    } else {
        bytes
    };
    let (_, crl) =
        CertificateRevocationList::from_der(der).map_err(|e| format!("not a CRL: {e}"))?;
    if !name_der_matches(&issuer.name_der, crl.issuer()) {
        return Err("the CRL's issuer is not the CA".to_owned());
    }
    if crl.signature_algorithm != crl.tbs_cert_list.signature {
        return Err("the CRL's two signature algorithms differ".to_owned());
    }
    let (_, key) = SubjectPublicKeyInfo::from_der(&issuer.spki_der)
        .map_err(|_| "the CA's key cannot be read".to_owned())?;
    signature::verify(
        &key,
        &crl.signature_algorithm,
        &crl.signature_value.data,
        crl.tbs_cert_list.as_ref(),
    )
    .map_err(|e| format!("CRL signature: {e}"))?;
    for ext in crl.extensions() {
        if ext.oid == OID_X509_EXT_DELTA_CRL_INDICATOR {
            return Err("a delta CRL is not a complete CRL".to_owned());
        }
        if ext.critical
            && matches!(
                ext.parsed_extension(),
                ParsedExtension::UnsupportedExtension { .. }
            )
        {
            return Err(format!(
                "the CRL has an unknown critical extension {}",
                ext.oid
            ));
        }
    }
    let next_update = crl
        .next_update()
        .ok_or_else(|| "the CRL has no nextUpdate".to_owned())?;
    Ok(CrlData {
        this_update: crl.last_update().to_datetime(),
        next_update: next_update.to_datetime(),
        revoked: crl
            .iter_revoked_certificates()
            .map(|r| normalize_serial(r.raw_serial()).to_vec())
            .collect(),
    })
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CrlKey {
    source: CrlSource,
    issuer_key_hash: [u8; 20],
}

#[derive(Debug, Clone)]
struct CrlEntry {
    data: Arc<CrlData>,
    issuer: Arc<IssuerInfo>,
    /// When the source was last read (or tried).
    last_attempt: OffsetDateTime,
}

/// An expired CRL's source is read again at most this often by checks (the periodic
/// refresh is not limited).
const EXPIRED_RETRY: Duration = Duration::minutes(1);

type Entries = Arc<Mutex<HashMap<CrlKey, CrlEntry>>>;
type Loaded = Result<Arc<CrlData>, String>;

pub(crate) struct CrlStore {
    http: Http,
    entries: Entries,
    flights: SingleFlight<CrlKey, Loaded>,
    loads: Arc<AtomicU64>,
}

impl CrlStore {
    pub(crate) fn new(http: Http) -> Self {
        Self {
            http,
            entries: Entries::default(),
            flights: SingleFlight::default(),
            loads: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Files read and HTTP fetches made (successful or not).
    pub(crate) fn loads(&self) -> u64 {
        self.loads.load(Ordering::Relaxed)
    }

    /// The first definite answer from `sources`, in order; else Expired if one had only
    /// an expired CRL, else Unavailable.
    pub(crate) async fn verdict(
        &self,
        sources: &[CrlSource],
        issuer: &Arc<IssuerInfo>,
        serial: &[u8],
        now: OffsetDateTime,
    ) -> CrlVerdict {
        let mut problems = Vec::new();
        let mut expired = false;
        for source in sources {
            match self.verdict_from(source, issuer, serial, now).await {
                CrlVerdict::Unavailable(why) => problems.push(format!("{source}: {why}")),
                CrlVerdict::Expired => expired = true,
                definite => return definite,
            }
        }
        if expired {
            CrlVerdict::Expired
        } else if problems.is_empty() {
            CrlVerdict::Unavailable("no CRL source is configured or named".to_owned())
        } else {
            CrlVerdict::Unavailable(problems.join("; "))
        }
    }

    async fn verdict_from(
        &self,
        source: &CrlSource,
        issuer: &Arc<IssuerInfo>,
        serial: &[u8],
        now: OffsetDateTime,
    ) -> CrlVerdict {
        let key = CrlKey {
            source: source.clone(),
            issuer_key_hash: issuer.key_hash,
        };
        let cached = lock(&self.entries).get(&key).cloned();
        if let Some(entry) = &cached {
            // Current, or expired and just tried again: no new read.
            if now < entry.data.next_update || now < entry.last_attempt + EXPIRED_RETRY {
                return entry.data.verdict(serial, now);
            }
        }
        match self.load(key, Arc::clone(issuer), now, false).await {
            Ok(data) => data.verdict(serial, now),
            Err(why) => match cached {
                Some(entry) => entry.data.verdict(serial, now),
                None => CrlVerdict::Unavailable(why),
            },
        }
    }

    /// Reads the source again (one read per source at a time) and keeps the result if it
    /// is at least as new as what is cached; returns the newest CRL. Unless `force`, a
    /// current cached CRL is returned without reading.
    async fn load(
        &self,
        key: CrlKey,
        issuer: Arc<IssuerInfo>,
        now: OffsetDateTime,
        force: bool,
    ) -> Loaded {
        let (http, entries, loads) = (
            self.http.clone(),
            Arc::clone(&self.entries),
            Arc::clone(&self.loads),
        );
        let flight_key = key.clone();
        self.flights
            .run(flight_key, move || async move {
                let cached = lock(&entries).get(&key).map(|e| e.data.clone());
                if let Some(data) = cached.filter(|d| !force && now < d.next_update) {
                    return Ok(data);
                }
                loads.fetch_add(1, Ordering::Relaxed);
                if let Some(entry) = lock(&entries).get_mut(&key) {
                    entry.last_attempt = now;
                }
                let bytes = read_source(&http, &key.source).await?;
                let checking_issuer = Arc::clone(&issuer);
                let data =
                    tokio::task::spawn_blocking(move || parse_and_verify(&bytes, &checking_issuer))
                        .await
                        .map_err(|e| format!("CRL check failed: {e}"))??;
                let data = Arc::new(data);
                let mut entries = lock(&entries);
                let entry = entries.entry(key).or_insert_with(|| CrlEntry {
                    data: Arc::clone(&data),
                    issuer,
                    last_attempt: now,
                });
                // Never go back to an older CRL than one already seen.
                if data.this_update >= entry.data.this_update {
                    entry.data = data;
                }
                Ok(Arc::clone(&entry.data))
            })
            .await
    }

    /// Reads again every cached CRL within `margin` of its nextUpdate (or past it);
    /// returns how many were read and checked successfully.
    pub(crate) async fn refresh(&self, now: OffsetDateTime, margin: Duration) -> usize {
        let due: Vec<(CrlKey, Arc<IssuerInfo>)> = lock(&self.entries)
            .iter()
            .filter(|(_, e)| e.data.next_update - margin <= now)
            .map(|(k, e)| (k.clone(), Arc::clone(&e.issuer)))
            .collect();
        let loads = due.into_iter().map(|(key, issuer)| async move {
            let source = key.source.clone();
            let loaded = self.load(key, issuer, now, true).await;
            if let Err(why) = &loaded {
                tracing::warn!(%source, error = %why, "CRL refresh failed");
            }
            loaded.is_ok()
        });
        futures::future::join_all(loads)
            .await
            .into_iter()
            .filter(|ok| *ok)
            .count()
    }
}

async fn read_source(http: &Http, source: &CrlSource) -> Result<Vec<u8>, String> {
    match source {
        CrlSource::Url(url) => http.get_crl(url).await,
        CrlSource::File(path) => {
            let len = tokio::fs::metadata(path)
                .await
                .map_err(|e| format!("cannot read: {e}"))?
                .len();
            if len > MAX_CRL as u64 {
                return Err(format!("larger than {MAX_CRL} bytes"));
            }
            tokio::fs::read(path)
                .await
                .map_err(|e| format!("cannot read: {e}"))
        }
    }
}

#[cfg(test)]
#[path = "crl_tests.rs"]
mod tests;
