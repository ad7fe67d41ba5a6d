//! Rate limits per client address on the routes that create state or cost work:
//! new logins, mobile orders (the JSON start, and the waiting page that starts one with
//! the login starts' quota: with a national eID service each start is a call to the
//! service), the app API, the token endpoint and the admin API
//! (`[limits.rates]`, `crate::rate_limit`). Answered with 429, `Retry-After` and the
//! error format of the route: a page, the app API's JSON, an OAuth error or the admin
//! API's JSON.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

use super::client_address::ClientAddress;
use super::{pages, AppState};
use crate::config::RateLimits;
use crate::rate_limit::{Decision, RateLimiter};

pub const CODE: &str = "RATE_LIMITED";

/// What a limited route is, for its quota and its error format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    LoginStart,
    OrderStart,
    /// An order started by the waiting page (`GET /login/mobile?login=…`, the login page's
    /// mobile links): every page login starts one, so it has the login starts' quota (a
    /// ward behind one NAT address), in a bucket of its own, answered with a page.
    OrderStartPage,
    MobileApp,
    Token,
    AdminApi,
    /// The admin console's pages and forms (the admin API's rate, answered with a page).
    Console,
    Scim,
}

impl Kind {
    /// The kind of a matched route pattern; `None` for routes without a limit.
    fn of(route: &str) -> Option<Kind> {
        match route {
            "/saml/sso" | "/oidc/authorize" | "/login/start" | "/console/login" => {
                Some(Kind::LoginStart)
            }
            "/login/mobile/start" => Some(Kind::OrderStart),
            "/oidc/token" | "/oidc/introspect" | "/oidc/revoke" => Some(Kind::Token),
            _ if route.starts_with("/mobile/v1/") => Some(Kind::MobileApp),
            _ if route.starts_with("/admin/api/") => Some(Kind::AdminApi),
            _ if route.starts_with("/scim/v2/") => Some(Kind::Scim),
            _ if route.starts_with("/console") => Some(Kind::Console),
            _ => None,
        }
    }

    /// The kind of a request: its route, and for the waiting page whether it starts an
    /// order (a `login` and no `order`) rather than showing one.
    fn of_request(route: &str, query: Option<&str>) -> Option<Kind> {
        if route == "/login/mobile" {
            let names: Vec<_> = url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .map(|(name, _)| name)
                .collect();
            let starts = names.iter().any(|n| n == "login") && !names.iter().any(|n| n == "order");
            return starts.then_some(Kind::OrderStartPage);
        }
        Kind::of(route)
    }

    fn name(self) -> &'static str {
        match self {
            Kind::LoginStart => "login-start",
            Kind::OrderStart => "order-start",
            Kind::OrderStartPage => "order-start-page",
            Kind::MobileApp => "mobile-app",
            Kind::Token => "token",
            Kind::AdminApi => "admin-api",
            Kind::Console => "console",
            Kind::Scim => "scim",
        }
    }

    fn per_minute(self, rates: &RateLimits) -> u32 {
        match self {
            Kind::LoginStart | Kind::OrderStartPage => rates.login_starts_per_minute,
            Kind::OrderStart => rates.order_starts_per_minute,
            Kind::MobileApp => rates.mobile_app_per_minute,
            Kind::Token => rates.token_requests_per_minute,
            Kind::AdminApi | Kind::Console => rates.admin_api_per_minute,
            Kind::Scim => rates.scim_per_minute,
        }
    }
}

/// The middleware (a route layer: it sees the matched route).
pub async fn limit(
    State(state): State<Arc<AppState>>,
    matched: Option<MatchedPath>,
    ClientAddress(client): ClientAddress,
    request: Request,
    next: Next,
) -> Response {
    let query = request.uri().query();
    let Some(kind) = matched
        .as_ref()
        .and_then(|m| Kind::of_request(m.as_str(), query))
    else {
        return next.run(request).await;
    };
    let limits = &state.config.idp.limits;
    let bucket = format!("{}:{client}", kind.name());
    let limiter = RateLimiter::new(state.store.clone(), state.clock.clone());
    match limiter.check(&bucket, kind.per_minute(&limits.rates)).await {
        Ok(Decision::Allowed) => next.run(request).await,
        Ok(Decision::Limited { retry_after }) => {
            state.metrics.record_rate_limited(kind.name());
            let language = pages::negotiate_language(None, request.headers());
            refusal(kind, retry_after, language)
        }
        Err(e) => {
            // The store is down: the request itself will fail or succeed on its own;
            // the limit is no reason to refuse it (availability over counting).
            tracing::warn!(code = e.code(), "rate limit not counted");
            next.run(request).await
        }
    }
}

fn refusal(kind: Kind, retry_after: Duration, language: &str) -> Response {
    let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    let seconds = seconds.max(1);
    let message = format!("too many requests from this address; retry after {seconds} s");
    let status = StatusCode::TOO_MANY_REQUESTS;
    let mut response = match kind {
        Kind::LoginStart | Kind::OrderStartPage | Kind::Console => {
            pages::error_page(status, language, rate_limited(language), CODE, None)
        }
        Kind::OrderStart | Kind::MobileApp => {
            (status, Json(json!({ "error": CODE, "message": message }))).into_response()
        }
        Kind::Token => (
            status,
            Json(json!({
                "error": "temporarily_unavailable",
                "error_description": message,
            })),
        )
            .into_response(),
        Kind::AdminApi => (
            status,
            Json(json!({ "error": { "code": CODE, "message": message } })),
        )
            .into_response(),
        Kind::Scim => crate::web::scim::error_response(&crate::scim::ScimError::new(
            429,
            Some("tooMany"),
            CODE,
            message,
        )),
    };
    let headers = response.headers_mut();
    headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    headers.insert("x-idp-error", HeaderValue::from_static(CODE));
    response
}

fn rate_limited(language: &str) -> crate::auth::error::Explanation {
    if language == "en" {
        crate::auth::error::Explanation {
            title: "Too many logins from your network",
            detail: "The login service is receiving more logins from your network than it \
                     allows right now. Wait a minute and try again.",
        }
    } else {
        crate::auth::error::Explanation {
            title: "För många inloggningar från ditt nätverk",
            detail: "Inloggningstjänsten tar emot fler inloggningar från ditt nätverk än den \
                     tillåter just nu. Vänta en minut och försök igen.",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_routes_that_start_things_are_limited_and_no_others() {
        assert_eq!(Kind::of("/saml/sso"), Some(Kind::LoginStart));
        assert_eq!(Kind::of("/oidc/authorize"), Some(Kind::LoginStart));
        assert_eq!(Kind::of("/login/mobile/start"), Some(Kind::OrderStart));
        assert_eq!(Kind::of("/console/login"), Some(Kind::LoginStart));
        assert_eq!(Kind::of("/console/t/{tenant}/oidc"), Some(Kind::Console));
        assert_eq!(Kind::of("/mobile/v1/claim"), Some(Kind::MobileApp));
        assert_eq!(Kind::of("/oidc/token"), Some(Kind::Token));
        assert_eq!(
            Kind::of("/admin/api/v1/tenants/{tenant}"),
            Some(Kind::AdminApi)
        );
        assert_eq!(Kind::of("/login/mobile/collect"), None);
        assert_eq!(Kind::of("/healthz"), None);
    }

    #[test]
    fn the_waiting_page_counts_as_an_order_start_only_when_it_starts_one() {
        let of = |query| Kind::of_request("/login/mobile", Some(query));
        assert_eq!(of("login=abc&device=other"), Some(Kind::OrderStartPage));
        assert_eq!(of("order=national.x&device=other"), None);
        assert_eq!(of("login=abc&order=x"), None);
        assert_eq!(Kind::of_request("/login/mobile", None), None);
        assert_ne!(
            Kind::OrderStartPage.name(),
            Kind::OrderStart.name(),
            "a bucket of its own"
        );
        assert_eq!(
            Kind::of_request("/login/mobile/start", None),
            Some(Kind::OrderStart)
        );
    }
}
