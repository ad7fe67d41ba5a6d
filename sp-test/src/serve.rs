//! `sp-test serve`: one small web server hosting several test applications at once, each
//! a SAML SP (or, with the OIDC issue, a relying party) registered in an IdP tenant. Each
//! application page shows who is logged in, with which LoA and method, the released
//! attributes and the decoded assertion, and offers logout.
//!
//! Logins are kept in memory per browser (a random cookie per application); this is a
//! test tool, not a production SP.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Path as UrlPath, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use time::OffsetDateTime;

use crate::saml_sp::{SamlLogin, SamlSp};

/// `config/sp-test.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    pub listen: std::net::SocketAddr,
    /// Where the applications are reached: `<public_url>/sp/<id>/`.
    pub public_url: String,
    /// The IdP's base URL and SAML entityID.
    pub idp_url: String,
    pub idp_entity_id: String,
    pub tls_certificate: PathBuf,
    pub tls_private_key: PathBuf,
    /// CA of the IdP's TLS certificate (for OIDC discovery and token requests).
    #[serde(default = "default_ca")]
    pub idp_ca_file: PathBuf,
    #[serde(default)]
    pub saml: Vec<SamlApp>,
    #[serde(default)]
    pub oidc: Vec<crate::serve_oidc::OidcApp>,
}

fn default_ca() -> PathBuf {
    PathBuf::from("certs-dev/tls/tls-ca.pem")
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamlApp {
    pub id: String,
    pub name: String,
    /// The IdP's `<tenant>/<application>` for this SP.
    pub registered_as: String,
    #[serde(default)]
    pub encrypted: bool,
    /// `AuthnContextClassRef` to request, if any.
    #[serde(default)]
    pub requested_loa: Option<String>,
}

impl ServeConfig {
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The SAML SPs, with the development keys under `root`.
    pub fn saml_sps(&self, root: &Path) -> Result<Vec<(SamlApp, SamlSp)>, String> {
        self.saml
            .iter()
            .map(|app| {
                let entity_id = format!("{}/sp/{}", self.public_url.trim_end_matches('/'), app.id);
                let mut sp = SamlSp::with_dev_keys(
                    root,
                    &entity_id,
                    &self.idp_url,
                    &self.idp_entity_id,
                    app.encrypted,
                )?;
                sp.display_name = app.name.clone();
                sp.requested_loa = app.requested_loa.clone();
                Ok((app.clone(), sp))
            })
            .collect()
    }
}

/// What the server keeps: the applications and, per browser cookie, logins and
/// outstanding request IDs.
pub struct Served {
    apps: HashMap<String, (SamlApp, SamlSp)>,
    order: Vec<String>,
    logins: Mutex<HashMap<String, SamlLogin>>,
    outstanding: Mutex<HashMap<String, String>>,
}

impl Served {
    pub fn new(apps: Vec<(SamlApp, SamlSp)>) -> Self {
        let order = apps.iter().map(|(a, _)| a.id.clone()).collect();
        Self {
            apps: apps
                .into_iter()
                .map(|(a, sp)| (a.id.clone(), (a, sp)))
                .collect(),
            order,
            logins: Mutex::new(HashMap::new()),
            outstanding: Mutex::new(HashMap::new()),
        }
    }
}

type Shared = Arc<Served>;

/// Every application: the SAML SPs of `served` and the OIDC RPs of `oidc`.
pub fn router(served: Shared, oidc: Arc<crate::serve_oidc::OidcServed>) -> Router {
    let index_oidc = oidc.clone();
    Router::new()
        .route(
            "/",
            get(move |state: State<Shared>| index_get(state, index_oidc.clone())),
        )
        .route("/sp/{id}/", get(app_get))
        .route("/sp/{id}/login", get(login_get))
        .route("/sp/{id}/acs", post(acs_post))
        .route("/sp/{id}/logout", get(logout_get))
        .route("/sp/{id}/slo", get(slo_get))
        .route("/sp/{id}/metadata", get(metadata_get))
        .route("/sp/{id}/session.json", get(session_json_get))
        .with_state(served)
        .merge(crate::serve_oidc::router(oidc))
}

fn now() -> OffsetDateTime {
    // sp-test is a tool; its clock is the system's.
    #[allow(clippy::disallowed_methods)]
    OffsetDateTime::now_utc()
}

pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub(crate) fn page(title: &str, body: &str) -> Response {
    Html(format!(
        "<!doctype html>\n<html lang=\"sv\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>body{{font-family:sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem}}\
         pre{{white-space:pre-wrap;word-break:break-all;background:#f4f4f4;padding:.5rem}}\
         td,th{{text-align:left;padding:.2rem .6rem;vertical-align:top}}</style></head>\
         <body>{body}</body></html>",
        title = escape(title)
    ))
    .into_response()
}

fn cookie_name(id: &str) -> String {
    format!("sptest_{}", id.replace('-', "_"))
}

pub(crate) fn browser_key(headers: &HeaderMap, id: &str) -> Option<String> {
    let name = cookie_name(id);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

pub(crate) fn random_key() -> String {
    let mut bytes = [0u8; 16];
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "no such application").into_response()
}

async fn index_get(
    State(served): State<Shared>,
    oidc: Arc<crate::serve_oidc::OidcServed>,
) -> Response {
    let oidc_items: String = oidc
        .apps()
        .map(|app| {
            format!(
                "<li><a href=\"/rp/{id}/\">{name}</a> (OIDC, {reg})</li>",
                id = escape(&app.id),
                name = escape(&app.name),
                reg = escape(&app.registered_as)
            )
        })
        .collect();
    let items: String = served
        .order
        .iter()
        .filter_map(|id| served.apps.get(id))
        .map(|(app, _)| {
            format!(
                "<li><a href=\"/sp/{id}/\">{name}</a> (SAML, {reg})</li>",
                id = escape(&app.id),
                name = escape(&app.name),
                reg = escape(&app.registered_as)
            )
        })
        .collect();
    page(
        "sp-test",
        &format!("<h1>sp-test</h1><ul>{items}{oidc_items}</ul>"),
    )
}

async fn app_get(
    State(served): State<Shared>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let Some((app, sp)) = served.apps.get(&id) else {
        return not_found();
    };
    let login = browser_key(&headers, &id).and_then(|key| {
        served
            .logins
            .lock()
            .ok()
            .and_then(|logins| logins.get(&key).cloned())
    });
    let body = match login {
        None => format!(
            "<h1>{name}</h1><p id=\"status\">Inte inloggad / Not logged in</p>\
             <p><a id=\"login\" href=\"/sp/{id}/login\">Logga in / Log in</a></p>",
            name = escape(&app.name),
            id = escape(&id)
        ),
        Some(login) => {
            let rows: String = login
                .attributes
                .iter()
                .map(|(name, values)| {
                    format!(
                        "<tr><th>{}</th><td>{}</td></tr>",
                        escape(name),
                        escape(&values.join(", "))
                    )
                })
                .collect();
            format!(
                "<h1>{name}</h1><p id=\"status\">Inloggad / Logged in</p>\
                 <table><tr><th>NameID</th><td id=\"name-id\">{name_id}</td></tr>\
                 <tr><th>LoA</th><td id=\"loa\">{loa}</td></tr>\
                 <tr><th>Signed</th><td>response: {rs}, assertion: {as_}, encrypted: {enc}</td></tr>\
                 {rows}</table>\
                 <p><a id=\"logout\" href=\"/sp/{id}/logout\">Logga ut / Log out</a></p>\
                 <h2>Assertion</h2><pre>{xml}</pre>",
                name = escape(&app.name),
                name_id = escape(&login.name_id),
                loa = escape(&login.loa),
                rs = login.response_signed,
                as_ = login.assertion_signed,
                enc = login.assertion_encrypted,
                id = escape(&id),
                xml = escape(&login.assertion_xml),
            )
        }
    };
    let _ = sp;
    page(&app.name, &body)
}

/// Sets this browser's key for application `id`, whose pages are under `/<base>/<id>/`
/// (`sp` for SAML applications, `rp` for OIDC ones).
pub(crate) fn with_cookie(mut response: Response, base: &str, id: &str, value: &str) -> Response {
    let name = cookie_name(id);
    if let Ok(cookie) = HeaderValue::from_str(&format!(
        "{name}={value}; Path=/{base}/{id}/; Secure; HttpOnly; SameSite=None"
    )) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

async fn login_get(
    State(served): State<Shared>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let Some((_, sp)) = served.apps.get(&id) else {
        return not_found();
    };
    let key = browser_key(&headers, &id).unwrap_or_else(random_key);
    match sp.login_url(None, false, now()) {
        Ok((url, request_id)) => {
            if let Ok(mut outstanding) = served.outstanding.lock() {
                outstanding.insert(key.clone(), request_id);
            }
            with_cookie(Redirect::to(&url).into_response(), "sp", &id, &key)
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[derive(Deserialize)]
pub struct AcsForm {
    #[serde(rename = "SAMLResponse")]
    saml_response: String,
}

async fn acs_post(
    State(served): State<Shared>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    Form(form): Form<AcsForm>,
) -> Response {
    let Some((app, sp)) = served.apps.get(&id) else {
        return not_found();
    };
    let Some(key) = browser_key(&headers, &id) else {
        return (
            StatusCode::BAD_REQUEST,
            "no login was started in this browser",
        )
            .into_response();
    };
    let expected = served
        .outstanding
        .lock()
        .ok()
        .and_then(|mut o| o.remove(&key));
    let Some(expected) = expected else {
        return (StatusCode::BAD_REQUEST, "no outstanding request").into_response();
    };
    match sp.consume(&form.saml_response, &expected, now()) {
        Ok(login) => {
            if let Ok(mut logins) = served.logins.lock() {
                logins.insert(key, login);
            }
            Redirect::to(&format!("/sp/{id}/")).into_response()
        }
        Err(e) => {
            let mut response = page(
                &app.name,
                &format!(
                    "<h1>{}</h1><p id=\"status\">Inloggningen misslyckades / Login failed</p>\
                     <p id=\"error\" data-code=\"{}\">{}</p>",
                    escape(&app.name),
                    e.code(),
                    escape(&e.to_string())
                ),
            );
            *response.status_mut() = StatusCode::FORBIDDEN;
            response
        }
    }
}

async fn logout_get(
    State(served): State<Shared>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let Some((_, sp)) = served.apps.get(&id) else {
        return not_found();
    };
    let login = browser_key(&headers, &id)
        .and_then(|key| served.logins.lock().ok().and_then(|l| l.get(&key).cloned()));
    match login {
        Some(login) => match sp.logout_url(&login, now()) {
            Ok((url, _)) => Redirect::to(&url).into_response(),
            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        },
        None => Redirect::to(&format!("/sp/{id}/")).into_response(),
    }
}

async fn slo_get(
    State(served): State<Shared>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let Some((_, sp)) = served.apps.get(&id) else {
        return not_found();
    };
    let result = sp.slo_message(query.as_deref().unwrap_or_default(), now());
    // Either way this browser's login here has ended.
    if let Some(key) = browser_key(&headers, &id) {
        if let Ok(mut logins) = served.logins.lock() {
            logins.remove(&key);
        }
    }
    match result {
        Ok(Some(answer)) => Redirect::to(&answer).into_response(),
        Ok(None) => page(
            "sp-test",
            &format!(
                "<p id=\"status\">Utloggad / Logged out</p><p><a href=\"/sp/{}/\">OK</a></p>",
                escape(&id)
            ),
        ),
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
}

async fn metadata_get(State(served): State<Shared>, UrlPath(id): UrlPath<String>) -> Response {
    match served.apps.get(&id) {
        Some((_, sp)) => (
            [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
            sp.metadata(),
        )
            .into_response(),
        None => not_found(),
    }
}

/// `GET /sp/<id>/session.json`: this browser's login here, for `sp-test verify`.
async fn session_json_get(
    State(served): State<Shared>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    if !served.apps.contains_key(&id) {
        return not_found();
    }
    let login = browser_key(&headers, &id)
        .and_then(|key| served.logins.lock().ok().and_then(|l| l.get(&key).cloned()));
    let body = match login {
        None => serde_json::json!({ "logged_in": false }),
        Some(login) => serde_json::json!({
            "logged_in": true,
            "name_id": login.name_id,
            "name_id_format": login.name_id_format,
            "session_index": login.session_index,
            "loa": login.loa,
            "issuer": login.issuer,
            "audience": login.audience,
            "response_signed": login.response_signed,
            "assertion_signed": login.assertion_signed,
            "assertion_encrypted": login.assertion_encrypted,
            "attributes": login
                .attributes
                .iter()
                .map(|(name, values)| (name.clone(), serde_json::json!(values)))
                .collect::<serde_json::Map<String, serde_json::Value>>(),
        }),
    };
    axum::Json(body).into_response()
}
