//! Cookies. `__Host-` names: Secure, Path=/, no Domain (bound to this host). The SSO
//! cookie is SameSite=None because SAML's HTTP-POST binding arrives cross-site; the
//! login binding cookie is SameSite=Lax (top-level navigations only).

use axum::http::{header, HeaderMap, HeaderValue};

pub const SSO_COOKIE: &str = "__Host-idp_sso";
pub const LOGIN_BINDING_COOKIE: &str = "__Host-idp_login";

/// The value of cookie `name` in the request, if present once.
pub fn read(headers: &HeaderMap, name: &str) -> Option<String> {
    let mut found = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned());
    let first = found.next()?;
    // Two cookies of one name (a cookie-tossing attempt): trust neither.
    found.next().is_none().then_some(first)
}

/// A `__Host-` cookie `name=value`: Secure, HttpOnly, Path=/, with `same_site` (`None`,
/// `Lax` or `Strict`); a browser-session cookie unless `max_age_seconds` is given.
/// `None` when `value` cannot be a header (it never can for the ids this IdP makes).
pub fn host_cookie(
    name: &str,
    value: &str,
    same_site: &str,
    max_age_seconds: Option<u64>,
) -> Option<HeaderValue> {
    let max_age = max_age_seconds
        .map(|seconds| format!("; Max-Age={seconds}"))
        .unwrap_or_default();
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; Secure; HttpOnly; SameSite={same_site}{max_age}"
    ))
    .ok()
}

/// Removes cookie `name` (set with `same_site`).
pub fn clear(name: &str, same_site: &str) -> Option<HeaderValue> {
    host_cookie(name, "", same_site, Some(0))
}

/// The SSO cookie: a browser-session cookie (gone when the browser closes) unless
/// `max_age_seconds` is given.
pub fn sso(value: &str, max_age_seconds: Option<u64>) -> Option<HeaderValue> {
    host_cookie(SSO_COOKIE, value, "None", max_age_seconds)
}

pub fn login_binding(value: &str, max_age_seconds: u64) -> Option<HeaderValue> {
    host_cookie(LOGIN_BINDING_COOKIE, value, "Lax", Some(max_age_seconds))
}

/// Removes the SSO cookie (logout).
pub fn clear_sso() -> HeaderValue {
    HeaderValue::from_static("__Host-idp_sso=; Path=/; Secure; HttpOnly; SameSite=None; Max-Age=0")
}
