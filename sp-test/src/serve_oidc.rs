//! The OIDC applications of `sp-test serve`: relying parties on [`crate::oidc_rp`]
//! (discovery, code flow with PKCE, ID token validation, UserInfo), at `/rp/<id>/`.
//! Each page shows who is logged in, with which `acr` and `amr`, the ID token claims
//! and UserInfo, and offers logout (RP-initiated); `/rp/<id>/backchannel-logout` ends
//! the logins of the session a logout token names.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Path as UrlPath, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::oidc_rp::{OidcRp, Started};
use crate::serve::{browser_key, escape, page, random_key, with_cookie};

/// An `[[oidc]]` application of config/sp-test.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcApp {
    pub id: String,
    pub name: String,
    pub registered_as: String,
    pub client_id: String,
    /// Development secret of a confidential client (`client_secret_basic`).
    #[serde(default)]
    pub client_secret: Option<String>,
    /// The client's registered ID token algorithm.
    #[serde(default = "default_alg")]
    pub id_token_alg: String,
    #[serde(default)]
    pub scopes: Vec<String>,
}

fn default_alg() -> String {
    "RS256".into()
}

/// A completed login as the application keeps it.
#[derive(Debug, Clone)]
struct RpLogin {
    sid: Option<String>,
    /// Sent back as `id_token_hint` at logout, so that the IdP need not ask the user.
    id_token: String,
    acr: Option<String>,
    amr: Vec<String>,
    subject: String,
    claims: Value,
    userinfo: Value,
}

pub struct OidcServed {
    /// Where the applications live (`<public_url>`).
    public_url: String,
    idp_url: String,
    apps: HashMap<String, OidcApp>,
    http: reqwest::Client,
    clients: tokio::sync::Mutex<HashMap<String, Arc<OidcRp>>>,
    started: Mutex<HashMap<String, Started>>,
    logins: Mutex<HashMap<String, RpLogin>>,
}

impl OidcServed {
    /// `http` must trust the IdP's TLS certificate and not follow redirects.
    pub fn new(public_url: &str, idp_url: &str, apps: Vec<OidcApp>, http: reqwest::Client) -> Self {
        Self {
            public_url: public_url.trim_end_matches('/').to_owned(),
            idp_url: idp_url.trim_end_matches('/').to_owned(),
            apps: apps.into_iter().map(|a| (a.id.clone(), a)).collect(),
            http,
            clients: tokio::sync::Mutex::new(HashMap::new()),
            started: Mutex::new(HashMap::new()),
            logins: Mutex::new(HashMap::new()),
        }
    }

    pub fn apps(&self) -> impl Iterator<Item = &OidcApp> {
        self.apps.values()
    }

    fn callback(&self, id: &str) -> String {
        format!("{}/rp/{id}/callback", self.public_url)
    }

    /// The client of `app`, discovered on first use (the IdP may start after sp-test).
    async fn client(&self, app: &OidcApp) -> Result<Arc<OidcRp>, String> {
        let mut clients = self.clients.lock().await;
        if let Some(client) = clients.get(&app.id) {
            return Ok(client.clone());
        }
        let client = Arc::new(
            OidcRp::discover(
                &self.idp_url,
                &app.client_id,
                app.client_secret.as_deref(),
                &self.callback(&app.id),
                &app.id_token_alg,
                self.http.clone(),
            )
            .await
            .map_err(|e| format!("{e:#}"))?,
        );
        clients.insert(app.id.clone(), client.clone());
        Ok(client)
    }

    fn login_of(&self, headers: &HeaderMap, id: &str) -> Option<RpLogin> {
        let key = browser_key(headers, id)?;
        self.logins.lock().ok()?.get(&key).cloned()
    }
}

type Shared = Arc<OidcServed>;

pub fn router(served: Shared) -> Router {
    Router::new()
        .route("/rp/{id}/", get(rp_get))
        .route("/rp/{id}/session.json", get(rp_session_json_get))
        .route("/rp/{id}/login", get(rp_login_get))
        .route("/rp/{id}/callback", get(rp_callback_get))
        .route("/rp/{id}/logout", get(rp_logout_get))
        .route("/rp/{id}/backchannel-logout", post(rp_backchannel_post))
        .with_state(served)
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "no such application").into_response()
}

async fn rp_get(
    State(served): State<Shared>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let Some(app) = served.apps.get(&id) else {
        return not_found();
    };
    let body = match served.login_of(&headers, &id) {
        None => format!(
            "<h1>{name}</h1><p id=\"status\">Inte inloggad / Not logged in</p>\
             <p><a id=\"login\" href=\"/rp/{id}/login\">Logga in / Log in</a></p>",
            name = escape(&app.name),
            id = escape(&id)
        ),
        Some(login) => format!(
            "<h1>{name}</h1><p id=\"status\">Inloggad / Logged in</p>\
             <table><tr><th>sub</th><td id=\"name-id\">{sub}</td></tr>\
             <tr><th>acr</th><td id=\"loa\">{acr}</td></tr><tr><th>amr</th><td>{amr}</td></tr></table>\
             <p><a id=\"logout\" href=\"/rp/{id}/logout\">Logga ut / Log out</a></p>\
             <h2>ID token</h2><pre>{claims}</pre><h2>UserInfo</h2><pre>{userinfo}</pre>",
            name = escape(&app.name),
            sub = escape(&login.subject),
            acr = escape(login.acr.as_deref().unwrap_or("-")),
            amr = escape(&login.amr.join(", ")),
            id = escape(&id),
            claims = escape(&serde_json::to_string_pretty(&login.claims).unwrap_or_default()),
            userinfo = escape(&serde_json::to_string_pretty(&login.userinfo).unwrap_or_default()),
        ),
    };
    page(&app.name, &body)
}

async fn rp_session_json_get(
    State(served): State<Shared>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    if !served.apps.contains_key(&id) {
        return not_found();
    }
    let body = match served.login_of(&headers, &id) {
        None => json!({ "logged_in": false }),
        Some(login) => {
            // The released claims, as the SAML apps list their attributes.
            let mut attributes = serde_json::Map::new();
            for source in [&login.claims, &login.userinfo] {
                if let Some(object) = source.as_object() {
                    for (name, value) in object {
                        attributes.insert(name.clone(), json!([value]));
                    }
                }
            }
            json!({
                "logged_in": true,
                "name_id": login.subject,
                "loa": login.acr,
                "amr": login.amr,
                "attributes": attributes,
            })
        }
    };
    axum::Json(body).into_response()
}

async fn rp_login_get(
    State(served): State<Shared>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let Some(app) = served.apps.get(&id) else {
        return not_found();
    };
    let client = match served.client(app).await {
        Ok(client) => client,
        Err(e) => {
            return (StatusCode::BAD_GATEWAY, format!("discovery failed: {e}")).into_response()
        }
    };
    let scopes: Vec<&str> = app.scopes.iter().map(String::as_str).collect();
    let started = client.start(&scopes);
    let url = started.url.to_string();
    let key = browser_key(&headers, &id).unwrap_or_else(random_key);
    if let Ok(mut all) = served.started.lock() {
        all.insert(key.clone(), started);
    }
    with_cookie(Redirect::to(&url).into_response(), "rp", &id, &key)
}

async fn rp_callback_get(
    State(served): State<Shared>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(app) = served.apps.get(&id) else {
        return not_found();
    };
    let Some(key) = browser_key(&headers, &id) else {
        return (
            StatusCode::BAD_REQUEST,
            "no login was started in this browser",
        )
            .into_response();
    };
    let Some(started) = served.started.lock().ok().and_then(|mut s| s.remove(&key)) else {
        return (StatusCode::BAD_REQUEST, "no outstanding login").into_response();
    };
    let Ok(callback) = url::Url::parse(&format!(
        "{}?{}",
        served.callback(&id),
        query.unwrap_or_default()
    )) else {
        return (StatusCode::BAD_REQUEST, "bad callback").into_response();
    };
    let completed = match served.client(app).await {
        Ok(client) => client
            .complete(started, &callback)
            .await
            .map_err(|e| format!("{e:#}")),
        Err(e) => Err(e),
    };
    match completed {
        Ok(done) => {
            let login = RpLogin {
                sid: done.id_token_claims["sid"].as_str().map(str::to_owned),
                id_token: done.id_token,
                acr: done.acr,
                amr: done.amr,
                subject: done.subject,
                claims: done.id_token_claims,
                userinfo: done.userinfo,
            };
            if let Ok(mut logins) = served.logins.lock() {
                logins.insert(key, login);
            }
            Redirect::to(&format!("/rp/{id}/")).into_response()
        }
        Err(e) => {
            let mut response = page(
                &app.name,
                &format!(
                    "<h1>{}</h1><p id=\"status\">Inloggningen misslyckades / Login failed</p>\
                     <p id=\"error\">{}</p>",
                    escape(&app.name),
                    escape(&e)
                ),
            );
            *response.status_mut() = StatusCode::FORBIDDEN;
            response
        }
    }
}

async fn rp_logout_get(
    State(served): State<Shared>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let Some(app) = served.apps.get(&id) else {
        return not_found();
    };
    let ended = browser_key(&headers, &id).and_then(|key| {
        served
            .logins
            .lock()
            .ok()
            .and_then(|mut logins| logins.remove(&key))
    });
    let mut url = match url::Url::parse(&format!("{}/oidc/logout", served.idp_url)) {
        Ok(url) => url,
        Err(_) => return (StatusCode::INTERNAL_SERVER_ERROR, "bad IdP URL").into_response(),
    };
    if let Some(login) = &ended {
        url.query_pairs_mut()
            .append_pair("id_token_hint", &login.id_token);
    }
    url.query_pairs_mut()
        .append_pair("client_id", &app.client_id)
        .append_pair(
            "post_logout_redirect_uri",
            &format!("{}/rp/{id}/", served.public_url),
        );
    Redirect::to(url.as_str()).into_response()
}

#[derive(Deserialize)]
struct BackChannelForm {
    logout_token: String,
}

/// Ends the logins of the session the token names. The token's signature is not checked
/// here (a test tool; the IdP's own tests verify logout tokens).
async fn rp_backchannel_post(
    State(served): State<Shared>,
    UrlPath(id): UrlPath<String>,
    Form(form): Form<BackChannelForm>,
) -> Response {
    if !served.apps.contains_key(&id) {
        return not_found();
    }
    let sid = form
        .logout_token
        .split('.')
        .nth(1)
        .and_then(|payload| URL_SAFE_NO_PAD.decode(payload).ok())
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .and_then(|claims| claims["sid"].as_str().map(str::to_owned));
    let Some(sid) = sid else {
        return (StatusCode::BAD_REQUEST, "no sid").into_response();
    };
    if let Ok(mut logins) = served.logins.lock() {
        logins.retain(|_, login| login.sid.as_deref() != Some(sid.as_str()));
    }
    ([(header::CACHE_CONTROL, "no-store")], "").into_response()
}
