//! `sp-test load`: a load driver for the IdP's login flows, for benchmarks (never for
//! tests' assertions). Each worker is one browser holding a development user's
//! certificate: it logs in once with the certificate (its SSO session), then repeats
//! the measured flow for the duration, after a warm-up. One JSON line comes out:
//! flows per second, latency percentiles, errors by kind, and, given the IdP's pid,
//! the server's CPU time per flow read from /proc.
//!
//! Flows: `oidc-code` (authorization code flow from the SSO session: authorize, then
//! the code redeemed with client_secret_basic and PKCE). The other flows of issue 16
//! (SAML SSO hit, full certificate login, mobile login) come next.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::{Method, Url};
use serde::Serialize;

use crate::browser::{Answer, Browser};

/// What to drive.
#[derive(Debug, Clone)]
pub struct LoadRequest {
    /// The IdP's public base URL.
    pub idp_url: Url,
    /// The mTLS listener's base URL (certificate login).
    pub mtls_url: Url,
    pub flow: Flow,
    pub concurrency: usize,
    pub duration: Duration,
    pub warmup: Duration,
    /// An HTTPS client without redirects, holding the user's certificate.
    pub client: reqwest::Client,
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: Url,
    /// The IdP's process, for its CPU time.
    pub server_pid: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flow {
    OidcCode,
}

impl std::str::FromStr for Flow {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        match name {
            "oidc-code" => Ok(Flow::OidcCode),
            other => Err(format!(
                "unknown flow {other:?}; sp-test load drives: oidc-code"
            )),
        }
    }
}

/// The JSON line.
#[derive(Debug, Serialize)]
pub struct LoadReport {
    pub flow: Flow,
    pub concurrency: usize,
    pub duration_s: f64,
    pub flows: u64,
    pub flows_per_s: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub errors: BTreeMap<String, u64>,
    /// Server CPU (user + system) per completed flow, when the pid was given.
    pub server_cpu_ms_per_flow: Option<f64>,
}

/// One worker's tally.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    errors: BTreeMap<String, u64>,
}

pub async fn run(request: LoadRequest) -> Result<LoadReport, String> {
    let request = Arc::new(request);
    // Every worker logs in first; a worker that cannot is a setup failure.
    let mut browsers = Vec::new();
    for _ in 0..request.concurrency.max(1) {
        let browser = Browser::new(request.client.clone());
        log_in_with_certificate(&request, &browser).await?;
        browsers.push(browser);
    }
    let warm_until = Instant::now() + request.warmup;
    let measure_until = warm_until + request.duration;
    let cpu_before = Arc::new(tokio::sync::OnceCell::new());
    let mut workers = tokio::task::JoinSet::new();
    for browser in browsers {
        let request = request.clone();
        let cpu_before = cpu_before.clone();
        workers.spawn(async move {
            let mut tally = Tally::default();
            loop {
                let now = Instant::now();
                if now >= measure_until {
                    break;
                }
                let measured = now >= warm_until;
                if measured {
                    cpu_before
                        .get_or_init(|| async { request.server_pid.and_then(cpu_ticks) })
                        .await;
                }
                let started = Instant::now();
                let outcome = match request.flow {
                    Flow::OidcCode => oidc_code_flow(&request, &browser).await,
                };
                if !measured {
                    continue;
                }
                match outcome {
                    Ok(()) => tally
                        .latencies_us
                        .push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX)),
                    Err(kind) => *tally.errors.entry(kind).or_default() += 1,
                }
            }
            tally
        });
    }
    let mut latencies = Vec::new();
    let mut errors = BTreeMap::new();
    while let Some(joined) = workers.join_next().await {
        let tally = joined.map_err(|e| format!("a worker failed: {e}"))?;
        latencies.extend(tally.latencies_us);
        for (kind, n) in tally.errors {
            *errors.entry(kind).or_default() += n;
        }
    }
    let cpu_after = request.server_pid.and_then(cpu_ticks);
    latencies.sort_unstable();
    let flows = latencies.len() as u64;
    let duration_s = request.duration.as_secs_f64();
    let cpu = match (cpu_before.get().copied().flatten(), cpu_after) {
        (Some(before), Some(after)) if flows > 0 => {
            Some((after.saturating_sub(before)) as f64 * 1000.0 / TICKS_PER_SECOND / flows as f64)
        }
        _ => None,
    };
    Ok(LoadReport {
        flow: request.flow,
        concurrency: request.concurrency,
        duration_s,
        flows,
        flows_per_s: flows as f64 / duration_s.max(f64::EPSILON),
        p50_ms: percentile(&latencies, 0.50),
        p90_ms: percentile(&latencies, 0.90),
        p99_ms: percentile(&latencies, 0.99),
        p999_ms: percentile(&latencies, 0.999),
        errors,
        server_cpu_ms_per_flow: cpu,
    })
}

/// The `q` quantile of sorted microseconds, in milliseconds.
fn percentile(sorted_us: &[u32], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((sorted_us.len() as f64 * q).ceil() as usize).clamp(1, sorted_us.len());
    f64::from(sorted_us[rank - 1]) / 1000.0
}

/// Clock ticks per second of /proc's CPU times (USER_HZ, fixed at 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// utime + stime of `pid` in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of proc(5), counted from the state (field 3).
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// PKCE verifier and S256 challenge.
fn pkce() -> (String, String) {
    let verifier = idp::session::random_key();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref());
    (verifier, challenge)
}

fn authorize_url(request: &LoadRequest, challenge: &str) -> Result<Url, String> {
    let mut url = request
        .idp_url
        .join("/oidc/authorize")
        .map_err(|e| e.to_string())?;
    url.query_pairs_mut()
        .append_pair("client_id", &request.client_id)
        .append_pair("redirect_uri", request.redirect_uri.as_str())
        .append_pair("response_type", "code")
        .append_pair("scope", "openid")
        .append_pair("state", "load")
        .append_pair("nonce", "load")
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    Ok(url)
}

fn is_callback(request: &LoadRequest, url: &Url) -> bool {
    url.as_str().starts_with(request.redirect_uri.as_str())
}

fn code_of(url: &Url) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
}

/// The login that gives the worker its SSO session: authorize, the certificate on the
/// mTLS listener, the ticket back on the main host, on to the application.
async fn log_in_with_certificate(request: &LoadRequest, browser: &Browser) -> Result<(), String> {
    let (verifier, challenge) = pkce();
    let first = browser.get(&authorize_url(request, &challenge)?).await?;
    let login_page = browser
        .follow(first, |url| !is_callback(request, url))
        .await?;
    let login = login_page
        .url
        .query_pairs()
        .find(|(k, _)| k == "login")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| format!("no login page: {} {}", login_page.status, login_page.url))?;
    let mut mtls = request
        .mtls_url
        .join("/mtls/login")
        .map_err(|e| e.to_string())?;
    mtls.query_pairs_mut().append_pair("login", &login);
    let ticket = browser.get(&mtls).await?;
    let landed = browser
        .follow(ticket, |url| !is_callback(request, url))
        .await?;
    let code = landed
        .location()
        .filter(|url| is_callback(request, url))
        .and_then(|url| code_of(&url))
        .ok_or_else(|| {
            format!(
                "the certificate login did not return to the client: {} {} {:?}",
                landed.status,
                landed.url,
                landed.idp_error()
            )
        })?;
    redeem(request, browser, &code, &verifier)
        .await
        .map_err(|kind| format!("the first code was not redeemed: {kind}"))
}

/// One measured flow: authorize from the SSO session, the code redeemed.
async fn oidc_code_flow(request: &LoadRequest, browser: &Browser) -> Result<(), String> {
    let (verifier, challenge) = pkce();
    let url = authorize_url(request, &challenge).map_err(|_| "request".to_owned())?;
    let first = browser
        .get(&url)
        .await
        .map_err(|_| "transport".to_owned())?;
    let landed = browser
        .follow(first, |url| !is_callback(request, url))
        .await
        .map_err(|_| "transport".to_owned())?;
    let code = landed
        .location()
        .filter(|url| is_callback(request, url))
        .and_then(|url| code_of(&url))
        .ok_or_else(|| answer_error("authorize", &landed))?;
    redeem(request, browser, &code, &verifier).await
}

fn answer_error(step: &str, answer: &Answer) -> String {
    match answer.idp_error() {
        Some(code) => format!("{step}_{code}"),
        None => format!("{step}_http_{}", answer.status.as_u16()),
    }
}

async fn redeem(
    request: &LoadRequest,
    browser: &Browser,
    code: &str,
    verifier: &str,
) -> Result<(), String> {
    let url = request
        .idp_url
        .join("/oidc/token")
        .map_err(|_| "request".to_owned())?;
    let response = browser
        .client
        .request(Method::POST, url)
        .basic_auth(&request.client_id, Some(&request.client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", request.redirect_uri.as_str()),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .map_err(|_| "transport".to_owned())?;
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    if status.is_success() && body["id_token"].is_string() {
        Ok(())
    } else {
        Err(format!(
            "token_{}",
            body["error"].as_str().unwrap_or(status.as_str())
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_ranks_of_the_sorted_latencies() {
        let sorted: Vec<u32> = (1..=1000).map(|ms| ms * 1000).collect();
        assert_eq!(percentile(&sorted, 0.50), 500.0);
        assert_eq!(percentile(&sorted, 0.99), 990.0);
        assert_eq!(percentile(&sorted, 0.999), 999.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }

    #[test]
    fn this_process_has_cpu_ticks() {
        assert!(cpu_ticks(std::process::id()).is_some());
    }
}
