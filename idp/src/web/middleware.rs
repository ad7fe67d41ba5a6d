//! Middleware on every response: a request id (on the response and every log line of
//! the request), security headers, and request metrics.

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

use super::client_address::{client_address, ClientAddress};
use super::AppState;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request id of the current request, for handlers and audit records.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// A request id from the client is kept only if it is short and plain; otherwise a
/// fresh one is made (so ids in logs can be trusted to be ours or harmless).
fn request_id_from(request: &Request) -> String {
    request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (8..=64).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let mut bytes = [0u8; 16];
            crate::session::random_bytes(&mut bytes);
            uuid::Builder::from_random_bytes(bytes)
                .into_uuid()
                .to_string()
        })
}

pub async fn observe(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let id = request_id_from(&request);
    let method = request.method().clone();
    request.extensions_mut().insert(RequestId(id.clone()));
    // The client behind trusted proxies, once, for the audit log and the rate limits.
    if let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>() {
        let client = client_address(
            peer.ip(),
            request.headers(),
            &state.config.idp.limits.trusted_proxies,
        );
        request.extensions_mut().insert(ClientAddress(client));
    }
    let span = tracing::info_span!("request", request_id = %id, method = %method);
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status();
    let route = response
        .extensions()
        .get::<RouteLabel>()
        .map_or("unmatched", |r| r.0.as_str())
        .to_owned();
    span.in_scope(|| {
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        tracing::info!(status = status.as_u16(), route = %route, elapsed_ms, "request finished");
    });
    state
        .metrics
        .record_request(&route, method.as_str(), status.as_u16(), started.elapsed());
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// The matched route pattern, carried out on the response for metrics.
#[derive(Debug, Clone)]
struct RouteLabel(String);

/// Runs inside routing (as a route layer), where the matched route is known.
pub async fn label_route(matched: Option<MatchedPath>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if let Some(path) = matched {
        response
            .extensions_mut()
            .insert(RouteLabel(path.as_str().to_owned()));
    }
    response
}

const SECURITY_HEADERS: [(&str, &str); 7] = [
    (
        "strict-transport-security",
        "max-age=31536000; includeSubDomains",
    ),
    (
        "content-security-policy",
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'",
    ),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cache-control", "no-store"),
];

/// Sets the page's content security policy to the default one with `form-action` set to
/// `form_action` (a page whose form leads, maybe through redirects, to another origin
/// must name it: browsers apply `form-action` to every redirect of a form submission).
pub fn set_form_action(response: &mut Response, form_action: &str) {
    let policy = format!(
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; \
         form-action {form_action}; frame-ancestors 'none'"
    );
    if let Ok(value) = HeaderValue::from_str(&policy) {
        response
            .headers_mut()
            .insert(axum::http::header::CONTENT_SECURITY_POLICY, value);
    }
}

/// Adds the security headers unless a handler set its own value (a SAML POST form
/// widens form-action, for example).
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers
            .entry(HeaderName::from_static(name))
            .or_insert(HeaderValue::from_static(value));
    }
    response
}
