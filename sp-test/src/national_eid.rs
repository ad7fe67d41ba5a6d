//! `sp-test national-eid`: a simulator of an external national mobile eID service with
//! the shape of the BankID RP API v6, run as its own process (docs/mobile-api.md,
//! "National eID service"). Two listeners:
//!
//! - the RP API (`/rp/v6.0/auth`, `collect`, `cancel`): HTTPS with the service's server
//!   certificate, client certificates required and accepted only from the service CA
//!   (mutual TLS, as the service issues RP certificates);
//! - the user's side (`/sim/v1/…`, plain HTTP on its own port): what the service's phone
//!   app would do. `scan` takes the animated QR content the IdP's page shows (or the
//!   autostart token), checks it against the order's `qrStartSecret` and its time (a
//!   stale code is refused), and approves (signs with the development user's key from
//!   certs-dev/users), cancels, or fails the order; `faults` makes the RP API slow or
//!   down; `calls` counts the RP API calls answered.
//!
//! Orders expire (`--order-lifetime-seconds`), fail with `startFailed` when no app took
//! them (`--start-timeout-seconds`), and a user's new order cancels their order in
//! progress. The bound addresses are printed as one JSON line on stdout.

mod pki;

pub use pki::{ensure as ensure_pki, Pki};

use anyhow::{Context, Result};
use aws_lc_rs::hmac;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const QR_PREFIX: &str = "bankid";

/// How the simulator runs.
#[derive(Debug, Clone)]
pub struct Options {
    pub pki_dir: PathBuf,
    pub listen: SocketAddr,
    pub control_listen: SocketAddr,
    /// certs-dev/users: `<user>.chain.pem` and `<user>.key.pem`.
    pub users_dir: PathBuf,
    pub order_lifetime: Duration,
    pub start_timeout: Duration,
    pub qr_max_age: Duration,
    /// Every RP API answer waits this long.
    pub delay: Duration,
    /// Every RP API call answers 503 `maintenance`.
    pub down: bool,
    /// Serve the foreign CA's server certificate instead of the service's.
    pub serve_foreign_certificate: bool,
}

#[derive(Debug, Clone)]
enum SimState {
    Outstanding,
    /// The app has the order; the user has not decided.
    UserSign {
        user: String,
    },
    Complete {
        user: String,
        completion: Value,
    },
    Failed {
        hint: &'static str,
    },
}

#[derive(Debug, Clone)]
struct SimOrder {
    order_ref: String,
    auto_start_token: String,
    qr_start_token: String,
    qr_start_secret: String,
    end_user_ip: String,
    user_visible_data: Option<String>,
    started: Instant,
    state: SimState,
}

impl SimOrder {
    fn is_open(&self) -> bool {
        matches!(
            self.state,
            SimState::Outstanding | SimState::UserSign { .. }
        )
    }
}

struct Faults {
    delay: Duration,
    down: bool,
}

struct Service {
    options: Options,
    orders: Mutex<HashMap<String, SimOrder>>,
    faults: Mutex<Faults>,
    /// RP API calls answered, by operation.
    calls: Mutex<HashMap<&'static str, u64>>,
}

type Shared = Arc<Service>;

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    let _ = aws_lc_rs::rand::fill(&mut buffer);
    buffer.iter().map(|b| format!("{b:02x}")).collect()
}

fn rp_error(status: StatusCode, code: &str, details: &str) -> Response {
    (
        status,
        Json(json!({ "errorCode": code, "details": details })),
    )
        .into_response()
}

impl Service {
    /// Applies the deadlines to every order (and forgets long-finished ones).
    fn expire(&self, orders: &mut HashMap<String, SimOrder>) {
        let lifetime = self.options.order_lifetime;
        orders.retain(|_, o| o.started.elapsed() < lifetime + Duration::from_secs(300));
        for order in orders.values_mut() {
            let age = order.started.elapsed();
            match order.state {
                SimState::Outstanding if age > self.options.start_timeout => {
                    order.state = SimState::Failed {
                        hint: "startFailed",
                    }
                }
                SimState::Outstanding | SimState::UserSign { .. } if age > lifetime => {
                    order.state = SimState::Failed {
                        hint: "expiredTransaction",
                    }
                }
                _ => {}
            }
        }
    }

    /// Counts the call, then the fault switches: a delay, then maybe "down".
    async fn faults(&self, operation: &'static str) -> Option<Response> {
        *lock(&self.calls).entry(operation).or_insert(0) += 1;
        let (delay, down) = {
            let faults = lock(&self.faults);
            (faults.delay, faults.down)
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        down.then(|| {
            rp_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "maintenance",
                "The service is down for maintenance.",
            )
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthBody {
    end_user_ip: Option<String>,
    user_visible_data: Option<String>,
}

async fn rp_auth_post(State(service): State<Shared>, body: Option<Json<AuthBody>>) -> Response {
    if let Some(fault) = service.faults("auth").await {
        return fault;
    }
    let Some(Json(body)) = body else {
        return rp_error(
            StatusCode::BAD_REQUEST,
            "invalidParameters",
            "Invalid JSON.",
        );
    };
    let Some(end_user_ip) = body
        .end_user_ip
        .filter(|ip| ip.parse::<std::net::IpAddr>().is_ok())
    else {
        return rp_error(
            StatusCode::BAD_REQUEST,
            "invalidParameters",
            "Invalid endUserIp.",
        );
    };
    if let Some(text) = &body.user_visible_data {
        let decoded = base64::engine::general_purpose::STANDARD.decode(text);
        if text.is_empty() || text.len() > 1500 || decoded.is_err() {
            return rp_error(
                StatusCode::BAD_REQUEST,
                "invalidParameters",
                "Invalid userVisibleData.",
            );
        }
    }
    let order = SimOrder {
        order_ref: random_hex(16),
        auto_start_token: random_hex(16),
        qr_start_token: random_hex(16),
        qr_start_secret: random_hex(16),
        end_user_ip,
        user_visible_data: body.user_visible_data,
        started: Instant::now(),
        state: SimState::Outstanding,
    };
    let answer = json!({
        "orderRef": order.order_ref,
        "autoStartToken": order.auto_start_token,
        "qrStartToken": order.qr_start_token,
        "qrStartSecret": order.qr_start_secret,
    });
    lock(&service.orders).insert(order.order_ref.clone(), order);
    Json(answer).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderBody {
    order_ref: Option<String>,
}

async fn rp_collect_post(State(service): State<Shared>, body: Option<Json<OrderBody>>) -> Response {
    if let Some(fault) = service.faults("collect").await {
        return fault;
    }
    let order_ref = body.and_then(|Json(b)| b.order_ref).unwrap_or_default();
    let mut orders = lock(&service.orders);
    service.expire(&mut orders);
    let Some(order) = orders.get(&order_ref) else {
        return rp_error(
            StatusCode::BAD_REQUEST,
            "invalidParameters",
            "No such order.",
        );
    };
    let answer = match &order.state {
        SimState::Outstanding => json!({
            "orderRef": order.order_ref, "status": "pending", "hintCode": "outstandingTransaction",
        }),
        SimState::UserSign { .. } => json!({
            "orderRef": order.order_ref, "status": "pending", "hintCode": "userSign",
        }),
        SimState::Complete { completion, .. } => json!({
            "orderRef": order.order_ref, "status": "complete", "completionData": completion,
        }),
        SimState::Failed { hint } => json!({
            "orderRef": order.order_ref, "status": "failed", "hintCode": hint,
        }),
    };
    Json(answer).into_response()
}

async fn rp_cancel_post(State(service): State<Shared>, body: Option<Json<OrderBody>>) -> Response {
    if let Some(fault) = service.faults("cancel").await {
        return fault;
    }
    let order_ref = body.and_then(|Json(b)| b.order_ref).unwrap_or_default();
    let mut orders = lock(&service.orders);
    service.expire(&mut orders);
    match orders.get_mut(&order_ref) {
        Some(order) if order.is_open() => {
            order.state = SimState::Failed { hint: "cancelled" };
            Json(json!({})).into_response()
        }
        _ => rp_error(
            StatusCode::BAD_REQUEST,
            "invalidParameters",
            "No such order.",
        ),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ScanBody {
    qr: Option<String>,
    auto_start_token: Option<String>,
    user: String,
    /// approve (default), cancel, certificateErr, hold (stay at userSign).
    #[serde(default)]
    outcome: Option<String>,
}

fn sim_error(status: StatusCode, code: &str) -> Response {
    (status, Json(json!({ "errorCode": code }))).into_response()
}

/// Whether `qr` is this order's animated code of a recent second.
fn qr_matches(
    order: &SimOrder,
    time: u64,
    code: &str,
    max_age: Duration,
) -> Result<(), &'static str> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, order.qr_start_secret.as_bytes());
    let tag = decode_hex(code).ok_or("qrInvalid")?;
    hmac::verify(&key, time.to_string().as_bytes(), &tag).map_err(|_| "qrInvalid")?;
    let age = order.started.elapsed().as_secs();
    if time > age + 1 || age.saturating_sub(time) > max_age.as_secs() {
        return Err("qrStale");
    }
    Ok(())
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// `POST /sim/v1/scan`: the service's phone app with the user `user`.
async fn sim_scan_post(State(service): State<Shared>, Json(body): Json<ScanBody>) -> Response {
    if body.user.is_empty()
        || !body
            .user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return sim_error(StatusCode::BAD_REQUEST, "invalidUser");
    }
    let mut orders = lock(&service.orders);
    service.expire(&mut orders);
    let found = match (&body.qr, &body.auto_start_token) {
        (Some(qr), None) => {
            let parts: Vec<&str> = qr.split('.').collect();
            let [prefix, token, time, code] = parts.as_slice() else {
                return sim_error(StatusCode::BAD_REQUEST, "qrInvalid");
            };
            let Ok(time) = time.parse::<u64>() else {
                return sim_error(StatusCode::BAD_REQUEST, "qrInvalid");
            };
            if *prefix != QR_PREFIX {
                return sim_error(StatusCode::BAD_REQUEST, "qrInvalid");
            }
            let order = orders.values().find(|o| o.qr_start_token == *token);
            match order.map(|o| qr_matches(o, time, code, service.options.qr_max_age)) {
                None => return sim_error(StatusCode::NOT_FOUND, "noSuchOrder"),
                Some(Err(code)) => return sim_error(StatusCode::BAD_REQUEST, code),
                Some(Ok(())) => order.map(|o| o.order_ref.clone()),
            }
        }
        (None, Some(token)) => orders
            .values()
            .find(|o| o.auto_start_token == *token)
            .map(|o| o.order_ref.clone()),
        _ => return sim_error(StatusCode::BAD_REQUEST, "giveQrOrAutoStartToken"),
    };
    let Some(order_ref) = found else {
        return sim_error(StatusCode::NOT_FOUND, "noSuchOrder");
    };
    if !orders
        .get(&order_ref)
        .is_some_and(|o| matches!(o.state, SimState::Outstanding))
    {
        return sim_error(StatusCode::CONFLICT, "notOutstanding");
    }
    // One order per user: the user's order in progress is cancelled.
    for other in orders.values_mut() {
        if other.order_ref != order_ref
            && matches!(&other.state, SimState::UserSign { user } if *user == body.user)
        {
            other.state = SimState::Failed { hint: "cancelled" };
        }
    }
    let Some(order) = orders.get_mut(&order_ref) else {
        return sim_error(StatusCode::NOT_FOUND, "noSuchOrder");
    };
    let state = match body.outcome.as_deref().unwrap_or("approve") {
        "approve" => match completion(&service.options, order, &body.user) {
            Ok(completion) => SimState::Complete {
                user: body.user.clone(),
                completion,
            },
            Err(e) => {
                eprintln!("sp-test national-eid: cannot sign as {}: {e:#}", body.user);
                return sim_error(StatusCode::BAD_REQUEST, "unknownUser");
            }
        },
        "cancel" => SimState::Failed { hint: "userCancel" },
        "certificateErr" => SimState::Failed {
            hint: "certificateErr",
        },
        "hold" => SimState::UserSign {
            user: body.user.clone(),
        },
        _ => return sim_error(StatusCode::BAD_REQUEST, "invalidOutcome"),
    };
    order.state = state;
    let status = match &order.state {
        SimState::Complete { user, .. } => json!({ "status": "complete", "user": user }),
        SimState::UserSign { .. } => json!({ "status": "pending", "hintCode": "userSign" }),
        SimState::Failed { hint } => json!({ "status": "failed", "hintCode": hint }),
        SimState::Outstanding => json!({ "status": "pending" }),
    };
    Json(status).into_response()
}

/// The completion data: the user's signature over the order (see
/// `idp::auth::mobile::external::signed_message`) and their certificate chain.
fn completion(options: &Options, order: &SimOrder, user: &str) -> Result<Value> {
    let credential = crate::phone::PhoneCredential::from_pem_files(
        &options.users_dir.join(format!("{user}.chain.pem")),
        &options.users_dir.join(format!("{user}.key.pem")),
    )?;
    let message = idp::auth::mobile::external::signed_message(
        &order.order_ref,
        order.user_visible_data.as_deref(),
    );
    let (signature, algorithm) = credential.sign(&message)?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let leaf = credential
        .chain_der
        .first()
        .context("an empty certificate chain")?;
    let (_, certificate) = x509_parser::parse_x509_certificate(leaf)
        .map_err(|e| anyhow::anyhow!("{user}'s certificate: {e}"))?;
    let subject = certificate.subject();
    let first = |values: Vec<&str>| values.first().map(|v| (*v).to_owned());
    let given_name = first(
        subject
            .iter_by_oid(&x509_parser::oid_registry::OID_X509_GIVEN_NAME)
            .filter_map(|a| a.as_str().ok())
            .collect(),
    );
    let surname = first(
        subject
            .iter_by_oid(&x509_parser::oid_registry::OID_X509_SURNAME)
            .filter_map(|a| a.as_str().ok())
            .collect(),
    );
    let name = first(
        subject
            .iter_common_name()
            .filter_map(|a| a.as_str().ok())
            .collect(),
    );
    let serial = first(
        subject
            .iter_by_oid(&x509_parser::oid_registry::OID_X509_SERIALNUMBER)
            .filter_map(|a| a.as_str().ok())
            .collect(),
    );
    let mut user_json = json!({ "name": name, "givenName": given_name, "surname": surname });
    if let Some(number) = serial.filter(|s| s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()))
    {
        user_json["personalNumber"] = json!(number);
    }
    Ok(json!({
        "user": user_json,
        "device": { "ipAddress": order.end_user_ip },
        "signature": b64.encode(signature),
        "signatureAlgorithm": algorithm,
        "certificateChain": credential.chain_der.iter().map(|c| b64.encode(c)).collect::<Vec<_>>(),
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FaultsBody {
    delay_ms: Option<u64>,
    down: Option<bool>,
}

/// `POST /sim/v1/faults`: make the RP API slow (`delayMs`) or down.
async fn sim_faults_post(State(service): State<Shared>, Json(body): Json<FaultsBody>) -> Response {
    let mut faults = lock(&service.faults);
    if let Some(delay) = body.delay_ms {
        faults.delay = Duration::from_millis(delay);
    }
    if let Some(down) = body.down {
        faults.down = down;
    }
    Json(json!({ "delayMs": faults.delay.as_millis() as u64, "down": faults.down })).into_response()
}

/// `GET /sim/v1/calls`: the RP API calls answered, by operation.
async fn sim_calls_get(State(service): State<Shared>) -> Response {
    let calls = lock(&service.calls).clone();
    Json(json!(calls)).into_response()
}

async fn sim_health_get() -> Response {
    Json(json!({ "status": "up" })).into_response()
}

fn tls_config(options: &Options, pki: &Pki) -> Result<rustls::ServerConfig> {
    use rustls::server::WebPkiClientVerifier;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for ca in idp::server::load_certificates(&pki.path(pki::SERVICE_CA))? {
        roots.add(ca)?;
    }
    // Only RP certificates the service issued open a connection.
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone()).build()?;
    let (cert, key) = if options.serve_foreign_certificate {
        (pki::FOREIGN_SERVER_CERT, pki::FOREIGN_SERVER_KEY)
    } else {
        (pki::SERVER_CERT, pki::SERVER_KEY)
    };
    let chain = idp::server::load_certificates(&pki.path(cert))?;
    let key = idp::server::load_private_key(&pki.path(key))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Runs the simulator until SIGTERM / Ctrl-C.
pub async fn run(options: Options) -> Result<()> {
    idp::server::install_crypto_provider();
    let pki = ensure_pki(&options.pki_dir)?;
    let tls = tls_config(&options, &pki)?;
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("listen on {}", options.listen))?;
    let control_listener = tokio::net::TcpListener::bind(options.control_listen)
        .await
        .with_context(|| format!("listen on {}", options.control_listen))?;
    let addr = listener.local_addr()?;
    let control_addr = control_listener.local_addr()?;
    let service = Arc::new(Service {
        faults: Mutex::new(Faults {
            delay: options.delay,
            down: options.down,
        }),
        options,
        orders: Mutex::new(HashMap::new()),
        calls: Mutex::new(HashMap::new()),
    });
    let rp = Router::new()
        .route("/rp/v6.0/auth", post(rp_auth_post))
        .route("/rp/v6.0/collect", post(rp_collect_post))
        .route("/rp/v6.0/cancel", post(rp_cancel_post))
        .with_state(service.clone());
    let control = Router::new()
        .route("/sim/v1/scan", post(sim_scan_post))
        .route("/sim/v1/faults", post(sim_faults_post))
        .route("/sim/v1/health", get(sim_health_get))
        .route("/sim/v1/calls", get(sim_calls_get))
        .with_state(service);
    let path = |name: &str| pki.path(name).display().to_string();
    println!(
        "{}",
        json!({
            "rp_api": format!("https://localhost:{}/rp/v6.0/", addr.port()),
            "rp_addr": addr.to_string(),
            "control": format!("http://{control_addr}"),
            "service_ca": path(pki::SERVICE_CA),
            "client_certificate": path(pki::RP_CERT),
            "client_private_key": path(pki::RP_KEY),
            "foreign_ca": path(pki::FOREIGN_CA),
        })
    );
    let serve = |listener, router, tls: Option<rustls::ServerConfig>| {
        idp::server::serve(
            listener,
            router,
            idp::server::ServeOptions {
                tls: tls.map(|t| Arc::new(arc_swap::ArcSwap::from_pointee(t))),
                handshake_timeout: Duration::from_secs(10),
                shutdown_grace: Duration::from_secs(1),
                connections: Default::default(),
                metrics: None,
            },
            idp::server::shutdown_signal(),
        )
    };
    tokio::join!(
        serve(listener, rp, Some(tls)),
        serve(control_listener, control, None)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(age: Duration) -> SimOrder {
        SimOrder {
            order_ref: "o".into(),
            auto_start_token: "a".into(),
            qr_start_token: "t".into(),
            qr_start_secret: "secret".into(),
            end_user_ip: "192.0.2.1".into(),
            user_visible_data: None,
            started: Instant::now().checked_sub(age).unwrap(),
            state: SimState::Outstanding,
        }
    }

    /// The IdP's QR content for `order` at `time` (an independent implementation there).
    fn code(order: &SimOrder, time: u64) -> String {
        let content = idp::auth::mobile::service_qr_content(
            QR_PREFIX,
            &order.qr_start_token,
            &order.qr_start_secret,
            time,
        );
        content.rsplit('.').next().unwrap().to_owned()
    }

    #[test]
    fn a_qr_code_of_this_second_is_taken() {
        let order = order(Duration::from_secs(3));
        assert_eq!(
            qr_matches(&order, 3, &code(&order, 3), Duration::from_secs(5)),
            Ok(())
        );
    }

    #[test]
    fn a_stale_or_forged_qr_code_is_refused() {
        let order = order(Duration::from_secs(20));
        let max_age = Duration::from_secs(5);
        assert_eq!(
            qr_matches(&order, 2, &code(&order, 2), max_age),
            Err("qrStale")
        );
        assert_eq!(
            qr_matches(&order, 30, &code(&order, 30), max_age),
            Err("qrStale")
        );
        assert_eq!(
            qr_matches(&order, 20, &code(&order, 19), max_age),
            Err("qrInvalid")
        );
        assert_eq!(qr_matches(&order, 20, "zz", max_age), Err("qrInvalid"));
    }

    #[test]
    fn hex_decodes_pairs_only() {
        assert_eq!(decode_hex("0aff"), Some(vec![0x0a, 0xff]));
        assert_eq!(decode_hex("0af"), None);
        assert_eq!(decode_hex("zz"), None);
    }
}
