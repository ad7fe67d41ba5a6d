//! `sp-test load`: a load driver for the IdP's login flows, for benchmarks (never for
//! tests' assertions). Each worker is one browser holding a development user's
//! certificate: it logs in once with the certificate (its SSO session), then repeats
//! the measured flow for the duration, after a warm-up. One JSON line comes out:
//! flows per second, latency percentiles, errors by kind, and, given the IdP's pid,
//! the server's CPU time per flow read from /proc.
//!
//! Flows:
//! - `oidc-code`: authorization code flow from the SSO session (authorize, then the
//!   code redeemed with client_secret_basic and PKCE);
//! - `saml-sso`: a signed HTTP-Redirect AuthnRequest answered from the SSO session
//!   with a signed Response on the POST form;
//! - `saml-certificate`: a full certificate login to a SAML application in a new
//!   browser (AuthnRequest, the login page, the certificate on the mTLS listener over a
//!   new TLS handshake, the ticket back, the signed Response);
//! - `mobile`: a full mobile login to the OIDC client in a new browser (authorize, the
//!   login page, the order started, the reference phone's claim and signature, the
//!   browser's collect, back to the client with a code). Each worker is one mobile
//!   user (the IdP lets a person have one order in progress), so the concurrency is at
//!   most the number of mobile users given.
//! - `mobile-order`: the mobile order alone, the steps issue 16's goal names (the order
//!   started, the phone's claim and signature, the browser's collect until complete).
//!   The login pages it starts from (authorize, the login page) are opened before the
//!   measurement, one per flow, after a warm-up of full mobile logins; so it needs a
//!   fixed number of flows (`--flows`), and the code issued afterwards is not counted.
//! - `transport`: one small static file over the kept connection, the floor every
//!   request pays.
//! - `handshake`: a small static file (the stylesheet) from the mTLS listener over a
//!   new TLS connection with the certificate, the floor a certificate login's
//!   handshake adds.
//! - `admin-list`: the admin API's list of tenants and one tenant's applications (with
//!   their metadata state), as the operator's token sees them.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::{Method, Url};
use serde::Serialize;

use crate::browser::{Answer, Browser};
use crate::phone::{Phone, PhoneCredential, PhoneError, Start};
use crate::saml_sp::SamlSp;

/// What to drive.
#[derive(Clone)]
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
    /// The same, keeping no connection: each request a new TLS handshake.
    pub handshake_client: reqwest::Client,
    /// The SAML application of the SAML flows (signs its AuthnRequests).
    pub saml_sp: Option<Arc<SamlSp>>,
    /// The mobile flow's users, one per worker.
    pub mobile_users: Vec<Arc<PhoneCredential>>,
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: Url,
    /// The IdP's process, for its CPU time and memory.
    pub server_pid: Option<u32>,
    /// Flows started per second over all workers (an open-loop pace, for soak runs at a
    /// fraction of capacity); `None`: each worker starts its next flow when its last ends.
    pub rate: Option<f64>,
    /// A fixed number of measured flows over all workers: the measurement ends when
    /// they are done instead of after `duration` (for instruction counts, which must
    /// cover exactly the same work twice).
    pub flows: Option<u64>,
    /// The processes of the IdP's stores (Redis, PostgreSQL's postmaster): their CPU
    /// time per flow, with their child processes' (PostgreSQL's backends), is reported
    /// beside the server's.
    pub store_pids: Vec<u32>,
    /// The admin API token of the `admin-list` flow (an operator's: every tenant).
    pub admin_token: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flow {
    OidcCode,
    SamlSso,
    SamlCertificate,
    Mobile,
    /// The mobile order alone, from login pages opened before the measurement.
    MobileOrder,
    /// One small static file over the kept connection: the floor every request pays
    /// (TLS record, HTTP/2, the middleware, the access log line), to set the other
    /// flows' CPU against.
    Transport,
    /// A small static file (the stylesheet) from the mTLS listener over a new
    /// connection, presenting the certificate: the floor a certificate login's TLS handshake adds (TCP, the key
    /// exchange, the server's signature, the client's proof of its key).
    Handshake,
    /// The admin API's list pages as an operator opens them: every tenant, then one
    /// tenant's applications with their metadata state (a different tenant each time).
    AdminList,
}

impl Flow {
    /// The flows of mobile logins: each browser is one of the mobile users.
    pub fn is_mobile(self) -> bool {
        matches!(self, Flow::Mobile | Flow::MobileOrder)
    }
}

impl std::str::FromStr for Flow {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        match name {
            "oidc-code" => Ok(Flow::OidcCode),
            "saml-sso" => Ok(Flow::SamlSso),
            "saml-certificate" => Ok(Flow::SamlCertificate),
            "mobile" => Ok(Flow::Mobile),
            "mobile-order" => Ok(Flow::MobileOrder),
            "transport" => Ok(Flow::Transport),
            "handshake" => Ok(Flow::Handshake),
            "admin-list" => Ok(Flow::AdminList),
            other => Err(format!(
                "unknown flow {other:?}; sp-test load drives: oidc-code, saml-sso, \
                 saml-certificate, mobile, mobile-order, transport, handshake, admin-list"
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
    /// The stores' CPU (user + system) per completed flow, when their pids were given.
    pub store_cpu_ms_per_flow: Option<f64>,
    /// The pace asked for, flows started per second.
    pub rate: Option<f64>,
    /// The server's resident memory when the measurement began and when it ended.
    pub server_rss_start_kib: Option<u64>,
    pub server_rss_end_kib: Option<u64>,
}

/// What the server had used when the measurement began.
#[derive(Debug, Clone, Copy)]
struct ServerSample {
    at: Instant,
    cpu_ticks: Option<u64>,
    store_ticks: Option<u64>,
    rss_kib: Option<u64>,
}

impl ServerSample {
    fn take(pid: Option<u32>, store_pids: &[u32]) -> Self {
        Self {
            at: Instant::now(),
            cpu_ticks: pid.and_then(cpu_ticks),
            store_ticks: (!store_pids.is_empty()).then(|| process_tree_ticks(store_pids)),
            rss_kib: pid.and_then(rss_kib),
        }
    }
}

/// One worker's tally.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    errors: BTreeMap<String, u64>,
}

pub async fn run(request: LoadRequest) -> Result<LoadReport, String> {
    if request.flow.is_mobile() && request.concurrency > request.mobile_users.len() {
        return Err(format!(
            "the mobile flow needs one mobile user per browser: {} users for concurrency {}",
            request.mobile_users.len(),
            request.concurrency
        ));
    }
    let request = Arc::new(request);
    // Every worker of a flow from the SSO session logs in first; a worker that cannot
    // is a setup failure. The full-login flows make a new browser for every flow.
    let from_sso_session = matches!(request.flow, Flow::OidcCode | Flow::SamlSso);
    let mut browsers = Vec::new();
    for _ in 0..request.concurrency.max(1) {
        let browser = Browser::new(request.client.clone());
        if from_sso_session {
            log_in_with_certificate(&request, &browser).await?;
        }
        browsers.push(browser);
    }
    let logins_ahead = open_logins_ahead(&request, browsers.len()).await?;
    // The mobile-order flow warmed up while its login pages were opened.
    let warm_until = match request.flow {
        Flow::MobileOrder => Instant::now(),
        _ => Instant::now() + request.warmup,
    };
    // With a fixed number of flows the count ends the measurement, not the clock.
    let measure_until = match request.flows {
        Some(_) => None,
        None => Some(warm_until + request.duration),
    };
    let claimed = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let before = Arc::new(tokio::sync::OnceCell::new());
    let workers_n = browsers.len();
    let paced_from = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for ((index, browser), mut logins_ahead) in browsers.into_iter().enumerate().zip(logins_ahead) {
        let request = request.clone();
        let before = before.clone();
        let claimed = claimed.clone();
        workers.spawn(async move {
            let mut tally = Tally::default();
            for round in 0u64.. {
                // With a pace, this worker's flows start at fixed times, and latency
                // counts from that time (a slow answer delays what follows and is
                // counted, not hidden).
                let scheduled = request.rate.map(|rate| {
                    let nth = round * workers_n as u64 + index as u64;
                    paced_from + Duration::from_secs_f64(nth as f64 / rate)
                });
                if let Some(at) = scheduled {
                    tokio::time::sleep_until(at.into()).await;
                }
                let now = Instant::now();
                if measure_until.is_some_and(|until| now >= until) {
                    break;
                }
                // A mobile-order worker ends with its opened login pages.
                if request.flow == Flow::MobileOrder && logins_ahead.is_empty() {
                    break;
                }
                let measured = now >= warm_until;
                if measured
                    && request.flows.is_some_and(|limit| {
                        claimed.fetch_add(1, std::sync::atomic::Ordering::Relaxed) >= limit
                    })
                {
                    break;
                }
                if measured {
                    before
                        .get_or_init(|| async {
                            ServerSample::take(request.server_pid, &request.store_pids)
                        })
                        .await;
                }
                let started = scheduled.unwrap_or(now);
                let outcome = match request.flow {
                    Flow::OidcCode => oidc_code_flow(&request, &browser).await,
                    Flow::SamlSso => saml_sso_flow(&request, &browser).await,
                    Flow::SamlCertificate => saml_certificate_flow(&request).await,
                    Flow::Mobile => mobile_flow(&request, &request.mobile_users[index]).await,
                    Flow::MobileOrder => match logins_ahead.pop_front() {
                        Some(opened) => {
                            mobile_order(&request, &request.mobile_users[index], &opened)
                                .await
                                .map(|_| ())
                        }
                        None => break,
                    },
                    Flow::Transport => transport_flow(&request, &browser).await,
                    Flow::Handshake => handshake_flow(&request, &browser).await,
                    Flow::AdminList => admin_list_flow(&request, round).await,
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
    let after = ServerSample::take(request.server_pid, &request.store_pids);
    let before = before.get().copied();
    latencies.sort_unstable();
    let flows = latencies.len() as u64;
    let duration_s = match (request.flows, before) {
        (Some(_), Some(before)) => after.at.duration_since(before.at).as_secs_f64(),
        _ => request.duration.as_secs_f64(),
    };
    let per_flow = |before: Option<u64>, after: Option<u64>| match (before, after) {
        (Some(before), Some(after)) if flows > 0 => {
            Some((after.saturating_sub(before)) as f64 * 1000.0 / TICKS_PER_SECOND / flows as f64)
        }
        _ => None,
    };
    let cpu = per_flow(before.and_then(|b| b.cpu_ticks), after.cpu_ticks);
    let store_cpu = per_flow(before.and_then(|b| b.store_ticks), after.store_ticks);
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
        store_cpu_ms_per_flow: store_cpu,
        rate: request.rate,
        server_rss_start_kib: before.and_then(|b| b.rss_kib),
        server_rss_end_kib: after.rss_kib,
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

/// CPU ticks of `pids` and of their child processes (PostgreSQL's backends are the
/// postmaster's children; a backend that ended between two samples is not counted).
fn process_tree_ticks(pids: &[u32]) -> u64 {
    let children = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| parent_pid(*pid).is_some_and(|parent| pids.contains(&parent)));
    pids.iter()
        .copied()
        .chain(children)
        .filter_map(cpu_ticks)
        .sum()
}

fn parent_pid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    // Field 4 of proc(5), counted from the state (field 3).
    after_name.split_whitespace().nth(1)?.parse().ok()
}

/// The resident set of `pid` in KiB (VmRSS of /proc/<pid>/status).
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
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
    let login = login_id(&login_page)
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
    let first = browser.get(&url).await.map_err(transport)?;
    let landed = browser
        .follow(first, |url| !is_callback(request, url))
        .await
        .map_err(transport)?;
    let code = landed
        .location()
        .filter(|url| is_callback(request, url))
        .and_then(|url| code_of(&url))
        .ok_or_else(|| answer_error("authorize", &landed))?;
    redeem(request, browser, &code, &verifier).await
}

/// A new signed HTTP-Redirect AuthnRequest of the SAML application.
fn saml_login_url(request: &LoadRequest) -> Result<Url, String> {
    let sp = request.saml_sp.as_ref().ok_or("request")?;
    let (url, _) = sp
        .login_url(
            None,
            false,
            idp::clock::Clock::now(&idp::clock::SystemClock),
        )
        .map_err(|_| "request".to_owned())?;
    Url::parse(&url).map_err(|_| "request".to_owned())
}

/// One SSO hit: the SP's signed AuthnRequest, answered from the browser's SSO session
/// with the POST form to the SP.
async fn saml_sso_flow(request: &LoadRequest, browser: &Browser) -> Result<(), String> {
    let url = saml_login_url(request)?;
    let answer = browser.get(&url).await.map_err(transport)?;
    saml_success(&answer, "sso")
}

async fn transport_flow(request: &LoadRequest, browser: &Browser) -> Result<(), String> {
    static_file(
        browser,
        &request.idp_url,
        "/static/autosubmit.js",
        &request.client,
    )
    .await
}

async fn handshake_flow(request: &LoadRequest, browser: &Browser) -> Result<(), String> {
    // The stylesheet: the one static file the mTLS listener serves (its pages' own).
    static_file(
        browser,
        &request.mtls_url,
        "/static/idp.css",
        &request.handshake_client,
    )
    .await
}

/// A small static file, `path` of the listener at `base`, through `client`.
async fn static_file(
    browser: &Browser,
    base: &Url,
    path: &str,
    client: &reqwest::Client,
) -> Result<(), String> {
    let url = base.join(path).map_err(|_| "request".to_owned())?;
    let answer = browser
        .request_through(client, Method::GET, &url, None, None)
        .await
        .map_err(transport)?;
    if answer.status.is_success() && !answer.body.is_empty() {
        Ok(())
    } else {
        Err(format!("static_{}", answer.status.as_u16()))
    }
}

/// GET `path` of the admin API with the operator's token: the JSON answer.
async fn admin_get(request: &LoadRequest, path: &str) -> Result<serde_json::Value, String> {
    let token = request.admin_token.as_deref().ok_or("admin_token")?;
    let url = request
        .idp_url
        .join(&format!("/admin/api/v1{path}"))
        .map_err(|_| "request".to_owned())?;
    let answer = request
        .client
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .map_err(transport)?;
    let status = answer.status();
    if !status.is_success() {
        return Err(format!("admin_{}", status.as_u16()));
    }
    answer.json().await.map_err(|_| "admin_json".to_owned())
}

async fn admin_list_flow(request: &LoadRequest, round: u64) -> Result<(), String> {
    let tenants = admin_get(request, "/tenants").await?;
    let tenants = tenants.as_array().ok_or("admin_json")?;
    let pick = tenants
        .get(usize::try_from(round).unwrap_or(0) % tenants.len().max(1))
        .and_then(|t| t["id"].as_str())
        .ok_or("admin_no_tenants")?;
    let applications = admin_get(request, &format!("/tenants/{pick}/applications")).await?;
    if applications.as_array().is_some() {
        Ok(())
    } else {
        Err("admin_json".to_owned())
    }
}

/// One full certificate login to the SAML application in a new browser.
async fn saml_certificate_flow(request: &LoadRequest) -> Result<(), String> {
    let browser = Browser::new(request.client.clone());
    let url = saml_login_url(request)?;
    let first = browser.get(&url).await.map_err(transport)?;
    let page = browser
        .follow(first, |url| url.origin() == request.idp_url.origin())
        .await
        .map_err(transport)?;
    let login = login_id(&page).ok_or_else(|| answer_error("login_page", &page))?;
    let mut mtls = request
        .mtls_url
        .join("/mtls/login")
        .map_err(|_| "request".to_owned())?;
    mtls.query_pairs_mut().append_pair("login", &login);
    let ticket = browser
        .request_through(&request.handshake_client, Method::GET, &mtls, None, None)
        .await
        .map_err(transport)?;
    let answer = browser
        .follow(ticket, |url| url.origin() == request.idp_url.origin())
        .await
        .map_err(transport)?;
    saml_success(&answer, "certificate_login")
}

/// A login page open in a new browser: the pending login a mobile order starts from.
struct OpenedLogin {
    browser: Browser,
    login: String,
}

/// The OIDC client's authorization request, up to its login page, in a new browser.
async fn open_login(request: &LoadRequest) -> Result<OpenedLogin, String> {
    let browser = Browser::new(request.client.clone());
    let (_, challenge) = pkce();
    let url = authorize_url(request, &challenge).map_err(|_| "request".to_owned())?;
    let first = browser.get(&url).await.map_err(transport)?;
    let page = browser
        .follow(first, |url| url.origin() == request.idp_url.origin())
        .await
        .map_err(transport)?;
    let login = login_id(&page).ok_or_else(|| answer_error("login_page", &page))?;
    Ok(OpenedLogin { browser, login })
}

/// For the `mobile-order` flow, one queue of opened login pages per worker (`flows`
/// of them in all), after a warm-up of full mobile logins; empty queues for the other
/// flows.
async fn open_logins_ahead(
    request: &Arc<LoadRequest>,
    workers: usize,
) -> Result<Vec<VecDeque<OpenedLogin>>, String> {
    let mut queues: Vec<VecDeque<OpenedLogin>> = (0..workers).map(|_| VecDeque::new()).collect();
    if request.flow != Flow::MobileOrder {
        return Ok(queues);
    }
    let Some(flows) = request.flows else {
        return Err(
            "the mobile-order flow needs --flows N: a login page is opened for \
                    each flow before the measurement"
                .to_owned(),
        );
    };
    let per_worker = flows.div_ceil(workers.max(1) as u64);
    let warm_until = Instant::now() + request.warmup;
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..workers {
        let request = request.clone();
        tasks.spawn(async move {
            while Instant::now() < warm_until {
                mobile_flow(&request, &request.mobile_users[index]).await?;
            }
            let mut queue = VecDeque::new();
            for _ in 0..per_worker {
                queue.push_back(open_login(&request).await?);
            }
            Ok::<_, String>((index, queue))
        });
    }
    while let Some(joined) = tasks.join_next().await {
        let (index, queue) = joined
            .map_err(|e| format!("a worker failed: {e}"))?
            .map_err(|kind| format!("before the measurement: {kind}"))?;
        queues[index] = queue;
    }
    Ok(queues)
}

/// The mobile order of an opened login page: started, claimed and signed by the
/// reference phone as `user`, collected by the browser until complete. The URL the
/// browser resumes the login at.
async fn mobile_order(
    request: &LoadRequest,
    user: &PhoneCredential,
    opened: &OpenedLogin,
) -> Result<Url, String> {
    let OpenedLogin { browser, login } = opened;
    let start = request
        .idp_url
        .join("/login/mobile/start")
        .map_err(|_| "request".to_owned())?;
    let started = browser
        .request(
            Method::POST,
            &start,
            None,
            Some(&serde_json::json!({ "login": login })),
        )
        .await
        .map_err(transport)?;
    let order: serde_json::Value =
        serde_json::from_str(&started.body).map_err(|_| answer_error("start", &started))?;
    let (Some(order_ref), Some(token)) = (
        order["order_ref"].as_str(),
        order["autostart_token"].as_str(),
    ) else {
        return Err(answer_error("start", &started));
    };
    let phone = Phone::with_client(request.idp_url.as_str(), request.client.clone());
    let (_, claim) = phone
        .claim(&Start::AutostartToken(token.to_owned()), user)
        .await
        .map_err(|e| phone_error("claim", &e))?;
    phone
        .approve(&claim, user)
        .await
        .map_err(|e| phone_error("approve", &e))?;
    let collect = request
        .idp_url
        .join(&format!("/login/mobile/collect?order={order_ref}"))
        .map_err(|_| "request".to_owned())?;
    let collected = browser.get(&collect).await.map_err(transport)?;
    let status: serde_json::Value = serde_json::from_str(&collected.body).unwrap_or_default();
    status["redirect"]
        .as_str()
        .filter(|_| status["status"] == "complete")
        .and_then(|r| request.idp_url.join(r).ok())
        .ok_or_else(|| answer_error("collect", &collected))
}

/// One full mobile login of `user` to the OIDC client, in a new browser.
async fn mobile_flow(request: &LoadRequest, user: &PhoneCredential) -> Result<(), String> {
    let opened = open_login(request).await?;
    let resume = mobile_order(request, user, &opened).await?;
    let resumed = opened.browser.get(&resume).await.map_err(transport)?;
    let landed = opened
        .browser
        .follow(resumed, |url| !is_callback(request, url))
        .await
        .map_err(transport)?;
    landed
        .location()
        .filter(|url| is_callback(request, url))
        .and_then(|url| code_of(&url))
        .map(|_| ())
        .ok_or_else(|| answer_error("resume", &landed))
}

/// The error kind of a request that got no answer.
fn transport<E>(_: E) -> String {
    "transport".to_owned()
}

fn phone_error(step: &str, error: &PhoneError) -> String {
    match error {
        PhoneError::Refused { code, .. } => format!("{step}_{code}"),
        PhoneError::Http(_) => "transport".to_owned(),
        PhoneError::Protocol(_) => format!("{step}_protocol"),
    }
}

/// The pending login's id from the login page's URL.
fn login_id(page: &Answer) -> Option<String> {
    page.url
        .query_pairs()
        .find(|(k, _)| k == "login")
        .map(|(_, v)| v.into_owned())
}

/// The answer is the POST form with a signed, successful SAML Response.
fn saml_success(answer: &Answer, step: &str) -> Result<(), String> {
    let (_, fields) = answer.form().ok_or_else(|| answer_error(step, answer))?;
    let encoded = fields
        .iter()
        .find(|(name, _)| name == "SAMLResponse")
        .map(|(_, value)| value)
        .ok_or_else(|| format!("{step}_no_saml_response"))?;
    let xml = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| format!("{step}_saml_response_not_base64"))?;
    let xml = String::from_utf8_lossy(&xml);
    if !xml.contains("urn:oasis:names:tc:SAML:2.0:status:Success") {
        return Err(format!("{step}_saml_status"));
    }
    if !xml.contains("SignatureValue") {
        return Err(format!("{step}_saml_unsigned"));
    }
    Ok(())
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
        .map_err(transport)?;
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
    fn this_process_has_cpu_ticks_and_memory() {
        assert!(cpu_ticks(std::process::id()).is_some());
        assert!(rss_kib(std::process::id()).is_some_and(|kib| kib > 0));
    }
}
