//! Prometheus metrics: request counts and latencies by route, logins by method and
//! result. A small registry of our own: a handful of label sets, rendered as text.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Latency histogram bucket bounds, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (bound, count) in BUCKETS.iter().zip(self.counts.iter_mut()) {
            if seconds <= *bound {
                *count += 1;
            }
        }
        self.sum += seconds;
        self.count += 1;
    }
}

#[derive(Default)]
struct Registry {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
    logins: BTreeMap<(String, String), u64>,
    events: BTreeMap<String, u64>,
}

#[derive(Default)]
pub struct Metrics {
    registry: Mutex<Registry>,
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    /// One finished HTTP request; `route` is the matched route pattern, never the raw
    /// path (which could carry identifiers).
    pub fn record_request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        if let Ok(mut r) = self.registry.lock() {
            *r.requests
                .entry((route.to_owned(), method.to_owned(), status))
                .or_default() += 1;
            r.latency
                .entry(route.to_owned())
                .or_default()
                .observe(elapsed.as_secs_f64());
        }
    }

    /// One login attempt: `method` (mtls, mobile-qr, ...) and `result` (success or an
    /// error code).
    pub fn record_login(&self, method: &str, result: &str) {
        if let Ok(mut r) = self.registry.lock() {
            *r.logins
                .entry((method.to_owned(), result.to_owned()))
                .or_default() += 1;
        }
    }

    /// A notable event (e.g. a fail-open revocation decision).
    pub fn record_event(&self, name: &str) {
        if let Ok(mut r) = self.registry.lock() {
            *r.events.entry(name.to_owned()).or_default() += 1;
        }
    }

    /// The Prometheus text exposition format.
    pub fn render(&self) -> String {
        let Ok(r) = self.registry.lock() else {
            return String::new();
        };
        let mut out = String::new();
        out.push_str("# HELP idp_http_requests_total HTTP requests by route, method and status.\n");
        out.push_str("# TYPE idp_http_requests_total counter\n");
        for ((route, method, status), n) in &r.requests {
            let _ = writeln!(
                out,
                "idp_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {n}",
                escape(route),
                escape(method)
            );
        }
        out.push_str("# HELP idp_http_request_duration_seconds HTTP request latency by route.\n");
        out.push_str("# TYPE idp_http_request_duration_seconds histogram\n");
        for (route, h) in &r.latency {
            let route = escape(route);
            for (bound, count) in BUCKETS.iter().zip(h.counts.iter()) {
                let _ = writeln!(
                    out,
                    "idp_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "idp_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "idp_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "idp_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count
            );
        }
        out.push_str("# HELP idp_logins_total Login attempts by method and result.\n");
        out.push_str("# TYPE idp_logins_total counter\n");
        for ((method, result), n) in &r.logins {
            let _ = writeln!(
                out,
                "idp_logins_total{{method=\"{}\",result=\"{}\"}} {n}",
                escape(method),
                escape(result)
            );
        }
        out.push_str("# HELP idp_events_total Notable security events by name.\n");
        out.push_str("# TYPE idp_events_total counter\n");
        for (name, n) in &r.events {
            let _ = writeln!(out, "idp_events_total{{event=\"{}\"}} {n}", escape(name));
        }
        out
    }
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::new();
        m.record_request("/healthz", "GET", 200, Duration::from_micros(300));
        m.record_request("/healthz", "GET", 200, Duration::from_millis(30));
        m.record_login("mtls", "success");
        let text = m.render();
        assert!(text.contains(
            "idp_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"} 2"
        ));
        assert!(text.contains(
            "idp_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.0005\"} 1"
        ));
        assert!(text.contains(
            "idp_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"+Inf\"} 2"
        ));
        assert!(text.contains("idp_logins_total{method=\"mtls\",result=\"success\"} 1"));
    }
}
