//! `/oidc/logout`: RP-initiated logout.

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use std::sync::Arc;

use super::error::error_page;
use crate::oidc::authorize::Params;
use crate::web::middleware::RequestId;
use crate::web::{cookies, pages, AppState};

pub async fn oidc_logout_get(
    State(state): State<Arc<AppState>>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref().unwrap_or_default());
    logout_response(&state, &headers, &params, &request_id).await
}

pub async fn oidc_logout_post(
    State(state): State<Arc<AppState>>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let params = Params::parse(&body);
    logout_response(&state, &headers, &params, &request_id).await
}

async fn logout_response(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
    request_id: &str,
) -> Response {
    let language = pages::negotiate_language(params.get("ui_locales"), headers);
    let sso = cookies::read(headers, cookies::SSO_COOKIE);
    match crate::oidc::logout::rp_initiated_logout(state, params, sso.as_deref()).await {
        Ok(outcome) => {
            let mut response = match outcome.redirect {
                Some(url) => Redirect::to(url.as_str()).into_response(),
                None => pages::session_page(language, None),
            };
            if sso.is_some() {
                response
                    .headers_mut()
                    .append(header::SET_COOKIE, cookies::clear_sso());
            }
            response
        }
        Err(e) => error_page(&e, language, request_id),
    }
}
