//! Prometheus metrics, served on the management listener's `/metrics` (never on the
//! public one). prometheus-client keeps them: typed label sets, counters and histograms
//! that are atomics under a read-locked map (no global lock on the request path), and
//! one registry per IdP instance, so that instances in one test process count apart.
//!
//! Label values are bounded by configuration: route patterns (never raw paths), the
//! registry's tenants and applications, login methods, stable error codes, configured
//! responder URLs and certificate keys. No person, no secret, no request data.

mod process;

use std::sync::atomic::AtomicU64;
use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use time::OffsetDateTime;

pub use process::{sample as process_sample, ProcessSample};

/// Bounds of the request and store latency histograms, in seconds: fine below 10 ms
/// (where the protocol paths should be), up to the 30 s a slow dependency can cost.
const LATENCY_BUCKETS: [f64; 16] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0,
    30.0,
];
/// Bounds of the login duration histogram (the application's request to the finished
/// login, the person's own time included: a phone login takes seconds).
const LOGIN_BUCKETS: [f64; 12] = [
    0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0,
];

/// The text format's content type (OpenMetrics, which Prometheus reads).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LoginLabels {
    tenant: String,
    application: String,
    method: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    event: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FetchLabels {
    /// "ocsp" or "crl".
    kind: &'static str,
    /// The responder or distribution point (one or two per issuer, from the issuer's
    /// certificates, which are verified before any fetch).
    url: String,
    /// "ok" or "failed".
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StoreLabels {
    /// "database" or "session_store".
    store: &'static str,
    operation: &'static str,
    /// "ok" or the error's stable code.
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CertificateLabels {
    /// The configuration key that names the file (`server.tls_certificate`).
    key: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabels {
    source: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceStateLabels {
    source: String,
    state: &'static str,
}

type GaugeF64 = Gauge<f64, AtomicU64>;

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

fn login_histogram() -> Histogram {
    Histogram::new(LOGIN_BUCKETS)
}

/// The IdP's metrics. Cheap to record from any task; rendered on scrape.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
    logins: Family<LoginLabels, Counter>,
    login_duration: Family<MethodLabels, Histogram, fn() -> Histogram>,
    events: Family<EventLabels, Counter>,
    connections_refused: Family<CodeLabels, Counter>,
    rate_limited: Family<KindLabels, Counter>,
    revocation_fetches: Family<FetchLabels, Histogram, fn() -> Histogram>,
    store_operations: Family<StoreLabels, Histogram, fn() -> Histogram>,
    certificate_expiry: Family<CertificateLabels, GaugeF64>,
    /// `(key, notAfter)` of every configured certificate file, from the last (re)load.
    certificates: Mutex<Vec<(String, OffsetDateTime)>>,
    directory_records: Family<SourceStateLabels, Gauge>,
    directory_last_success: Family<SourceLabels, Gauge>,
    directory_failing: Family<SourceLabels, Gauge>,
    directory_refused: Family<SourceLabels, Gauge>,
    ready: Gauge,
    audit_buffered: Gauge,
    audit_batches: Histogram,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::default();
        registry.register(
            "idp_http_requests",
            "HTTP requests by route pattern, method and status",
            Family::clone(&requests),
        );
        let request_duration = Family::new_with_constructor(latency_histogram as fn() -> _);
        registry.register(
            "idp_http_request_duration_seconds",
            "HTTP request latency by route pattern (the protocol steps' latency)",
            Family::clone(&request_duration),
        );
        let logins = Family::default();
        registry.register(
            "idp_logins",
            "Login attempts by tenant, application, method and result (success or the error code)",
            Family::clone(&logins),
        );
        let login_duration = Family::new_with_constructor(login_histogram as fn() -> _);
        registry.register(
            "idp_login_duration_seconds",
            "From the application's request to the finished login, successful logins by method",
            Family::clone(&login_duration),
        );
        let events = Family::default();
        registry.register(
            "idp_events",
            "Notable security and operational events by name",
            Family::clone(&events),
        );
        let connections_refused = Family::default();
        registry.register(
            "idp_connections_refused",
            "Connections refused or dropped by the listeners, by code",
            Family::clone(&connections_refused),
        );
        let rate_limited = Family::default();
        registry.register(
            "idp_rate_limited",
            "Requests refused by a rate limit, by limit",
            Family::clone(&rate_limited),
        );
        let revocation_fetches = Family::new_with_constructor(latency_histogram as fn() -> _);
        registry.register(
            "idp_revocation_fetch_duration_seconds",
            "OCSP and CRL fetches by responder and result",
            Family::clone(&revocation_fetches),
        );
        let store_operations = Family::new_with_constructor(latency_histogram as fn() -> _);
        registry.register(
            "idp_store_operation_duration_seconds",
            "Database and session store operations by operation and result (ok or the error code)",
            Family::clone(&store_operations),
        );
        let certificate_expiry = Family::default();
        registry.register(
            "idp_certificate_expiry_days",
            "Days until the next expiry in each configured certificate file (TLS, signing, trust anchors, issuers), by configuration key",
            Family::clone(&certificate_expiry),
        );
        let directory_records = Family::default();
        registry.register(
            "idp_directory_source_records",
            "Directory records of a source by state",
            Family::clone(&directory_records),
        );
        let directory_last_success = Family::default();
        registry.register(
            "idp_directory_source_last_success_timestamp_seconds",
            "When the source's last run succeeded",
            Family::clone(&directory_last_success),
        );
        let directory_failing = Family::default();
        registry.register(
            "idp_directory_source_failing",
            "1 when the source's last run failed (its last good state is in use)",
            Family::clone(&directory_failing),
        );
        let directory_refused = Family::default();
        registry.register(
            "idp_directory_source_refused",
            "Records the source's last run refused",
            Family::clone(&directory_refused),
        );
        let audit_buffered = Gauge::default();
        registry.register(
            "idp_audit_buffered_events",
            "Audit events kept in memory while the database does not answer (written when it does)",
            audit_buffered.clone(),
        );
        let audit_batches = Histogram::new([1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0]);
        registry.register(
            "idp_audit_batch_events",
            "Audit events written together in one statement (group commit)",
            audit_batches.clone(),
        );
        let ready = Gauge::default();
        registry.register(
            "idp_ready",
            "1 while the node is ready for traffic (what /readyz answers)",
            ready.clone(),
        );
        registry.register(
            "idp_build",
            "The running build",
            Info::new(vec![
                ("version", env!("CARGO_PKG_VERSION")),
                (
                    "commit",
                    option_env!("IDP_BUILD_COMMIT").unwrap_or("unknown"),
                ),
            ]),
        );
        registry.register_collector(Box::new(ProcessCollector));
        Self {
            registry,
            requests,
            request_duration,
            logins,
            login_duration,
            events,
            connections_refused,
            rate_limited,
            revocation_fetches,
            store_operations,
            certificate_expiry,
            certificates: Mutex::new(Vec::new()),
            directory_records,
            directory_last_success,
            directory_failing,
            directory_refused,
            ready,
            audit_buffered,
            audit_batches,
        }
    }

    /// One finished HTTP request; `route` is the matched route pattern, never the raw
    /// path (which could carry identifiers).
    pub fn record_request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                method: method.to_owned(),
                status,
            })
            .inc();
        self.request_duration
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// One login attempt, as its audit record tells it: tenant and application (empty
    /// when the login never got that far), method, and `success` or the error code.
    pub fn record_login(&self, login: &LoginRecord<'_>) {
        self.logins
            .get_or_create(&LoginLabels {
                tenant: login.tenant.unwrap_or_default().to_owned(),
                application: login.application.unwrap_or_default().to_owned(),
                method: login.method.to_owned(),
                result: login.result.to_owned(),
            })
            .inc();
        if let Some(elapsed) = login.elapsed {
            self.login_duration
                .get_or_create(&MethodLabels {
                    method: login.method.to_owned(),
                })
                .observe(elapsed.as_secs_f64());
        }
    }

    /// A notable event (e.g. a fail-open revocation decision).
    pub fn record_event(&self, name: &str) {
        self.events
            .get_or_create(&EventLabels {
                event: name.to_owned(),
            })
            .inc();
    }

    /// A connection a listener refused or dropped (`CONNECTIONS_ADDRESS_FULL`,
    /// `TLS_HANDSHAKE_FAILED`, ...).
    pub fn record_connection_refused(&self, code: &str) {
        self.connections_refused
            .get_or_create(&CodeLabels {
                code: code.to_owned(),
            })
            .inc();
    }

    /// A request a rate limit refused.
    pub fn record_rate_limited(&self, kind: &str) {
        self.rate_limited
            .get_or_create(&KindLabels {
                kind: kind.to_owned(),
            })
            .inc();
    }

    /// One OCSP (`ocsp`) or CRL (`crl`) fetch.
    pub fn record_revocation_fetch(
        &self,
        kind: &'static str,
        url: &str,
        ok: bool,
        elapsed: Duration,
    ) {
        self.revocation_fetches
            .get_or_create(&FetchLabels {
                kind,
                url: url.to_owned(),
                result: if ok { "ok" } else { "failed" },
            })
            .observe(elapsed.as_secs_f64());
    }

    /// One database (`database`) or session store (`session_store`) operation, `ok` or
    /// the error's stable code.
    pub fn record_store_operation(
        &self,
        store: &'static str,
        operation: &'static str,
        result: &'static str,
        elapsed: Duration,
    ) {
        self.store_operations
            .get_or_create(&StoreLabels {
                store,
                operation,
                result,
            })
            .observe(elapsed.as_secs_f64());
    }

    /// The configured certificate files' expiries (`key`, earliest notAfter in the
    /// file), replacing the previous ones: at start and at every reload.
    pub fn set_certificates(&self, certificates: Vec<(String, OffsetDateTime)>) {
        if let Ok(mut held) = self.certificates.lock() {
            *held = certificates;
        }
    }

    /// The directory sources' state, replacing the previous one (at each scrape).
    pub fn set_directory_sources(&self, statuses: &[crate::directory::SourceStatus]) {
        for family in [
            &self.directory_last_success,
            &self.directory_failing,
            &self.directory_refused,
        ] {
            family.clear();
        }
        self.directory_records.clear();
        for s in statuses {
            let source = || SourceLabels {
                source: s.source.clone(),
            };
            for (state, count) in [
                ("active", s.active_records),
                ("disabled", s.disabled_records),
            ] {
                self.directory_records
                    .get_or_create(&SourceStateLabels {
                        source: s.source.clone(),
                        state,
                    })
                    .set(count);
            }
            if let Some(ms) = s.last_success_at_ms {
                self.directory_last_success
                    .get_or_create(&source())
                    .set(ms / 1000);
            }
            self.directory_failing
                .get_or_create(&source())
                .set(i64::from(s.last_error.is_some()));
            let refused = s.last_report.as_ref().map_or(0, |r| r.refused.len());
            self.directory_refused
                .get_or_create(&source())
                .set(i64::try_from(refused).unwrap_or(i64::MAX));
        }
    }

    /// How many audit events wait for the database.
    pub fn set_audit_buffered(&self, kept: usize) {
        self.audit_buffered
            .set(i64::try_from(kept).unwrap_or(i64::MAX));
    }

    /// One group commit of the audit writer, of `events` events.
    pub fn record_audit_batch(&self, events: usize) {
        self.audit_batches.observe(events as f64);
    }

    /// Whether the node is ready (kept by the readiness check).
    pub fn set_ready(&self, ready: bool) {
        self.ready.set(i64::from(ready));
    }

    /// The OpenMetrics text exposition, certificate expiry counted from `now`.
    pub fn render(&self, now: OffsetDateTime) -> String {
        self.certificate_expiry.clear();
        if let Ok(certificates) = self.certificates.lock() {
            for (key, not_after) in certificates.iter() {
                let days = (*not_after - now).as_seconds_f64() / 86_400.0;
                self.certificate_expiry
                    .get_or_create(&CertificateLabels { key: key.clone() })
                    .set(days);
            }
        }
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::warn!(error = %e, "metrics could not be encoded");
        }
        out
    }
}

/// One login attempt for [`Metrics::record_login`].
pub struct LoginRecord<'a> {
    pub tenant: Option<&'a str>,
    pub application: Option<&'a str>,
    pub method: &'a str,
    /// `success` or the error code.
    pub result: &'a str,
    /// From the application's request to the finished login, for a success.
    pub elapsed: Option<Duration>,
}

/// The process metrics, read at each scrape.
#[derive(Debug)]
struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let sample = process::sample();
        if let Some(seconds) = sample.cpu_seconds {
            let counter = ConstCounter::new(seconds);
            let metric = encoder.encode_descriptor(
                "process_cpu_seconds",
                "User and system CPU time spent",
                None,
                counter.metric_type(),
            )?;
            counter.encode(metric)?;
        }
        for (name, help, value) in [
            (
                "process_resident_memory_bytes",
                "Resident memory size",
                sample.resident_bytes,
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size",
                sample.virtual_bytes,
            ),
            ("process_open_fds", "Open file descriptors", sample.open_fds),
            (
                "process_max_fds",
                "The file-descriptor limit",
                sample.max_fds,
            ),
            (
                "process_start_time_seconds",
                "Start time since the Unix epoch",
                sample.start_time_seconds,
            ),
            ("process_threads", "OS threads", sample.threads),
        ] {
            if let Some(value) = value {
                let gauge = ConstGauge::new(value);
                let metric = encoder.encode_descriptor(name, help, None, gauge.metric_type())?;
                gauge.encode(metric)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_labels_and_the_process() {
        let m = Metrics::new();
        m.record_request("/saml/sso", "GET", 200, Duration::from_micros(300));
        m.record_request("/saml/sso", "GET", 200, Duration::from_secs(25));
        m.record_login(&LoginRecord {
            tenant: Some("region"),
            application: Some("journal"),
            method: "mtls",
            result: "success",
            elapsed: Some(Duration::from_secs(4)),
        });
        let now = time::macros::datetime!(2026-12-06 10:00 UTC);
        m.set_certificates(vec![(
            "server.tls_certificate".to_owned(),
            now + time::Duration::days(30),
        )]);
        let text = m.render(now);
        for expected in [
            "idp_http_requests_total{route=\"/saml/sso\",method=\"GET\",status=\"200\"} 2",
            "idp_http_request_duration_seconds_bucket{le=\"0.0005\",route=\"/saml/sso\"} 1",
            "idp_http_request_duration_seconds_bucket{le=\"30.0\",route=\"/saml/sso\"} 2",
            "idp_logins_total{tenant=\"region\",application=\"journal\",method=\"mtls\",result=\"success\"} 1",
            "idp_login_duration_seconds_bucket{le=\"5.0\",method=\"mtls\"} 1",
            "idp_certificate_expiry_days{key=\"server.tls_certificate\"} 30",
            "idp_build_info{version=",
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
        ] {
            assert!(text.contains(expected), "{expected} missing in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
