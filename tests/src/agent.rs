//! A scripted browser for protocol tests: keeps cookies, follows redirects itself (so a
//! test can stop at any hop), presents a development user certificate on the IdP's
//! mutual-TLS listener, and reads the auto-submitting forms that SAML's POST binding
//! and the IdP's pages use. Headless Chromium covers the real pages; this covers the
//! protocols, quickly and in detail.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::{HeaderMap, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Method, StatusCode, Url};

use crate::{repo_root, TestIdp};

/// One response, as the browser saw it.
#[derive(Debug, Clone)]
pub struct Page {
    pub url: Url,
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    /// The pending login's id of an IdP login page (`/login?login=…`).
    pub fn login_id(&self) -> String {
        self.url
            .query_pairs()
            .find(|(k, _)| k == "login")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| {
                panic!(
                    "expected the IdP login page, got {} {}: {}",
                    self.status, self.url, self.body
                )
            })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `Location` of a redirect, resolved against this page's URL.
    pub fn location(&self) -> Option<Url> {
        self.header(LOCATION.as_str())
            .and_then(|l| self.url.join(l).ok())
    }

    pub fn is_redirect(&self) -> bool {
        self.status.is_redirection()
    }

    /// The stable error code the IdP puts on its error pages.
    pub fn error_code(&self) -> Option<&str> {
        self.header("x-idp-error")
    }

    /// The commissions offered on the IdP's commission choice page: the value (HSA-id)
    /// of each `commission` button, in page order.
    pub fn commission_options(&self) -> Vec<String> {
        self.body
            .split("<button")
            .skip(1)
            .filter_map(|tag| {
                let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
                (attribute(tag, "name").as_deref() == Some("commission"))
                    .then(|| attribute(tag, "value"))
                    .flatten()
            })
            .collect()
    }

    /// The first `<form>` on the page: its action (resolved) and its inputs.
    pub fn form(&self) -> Option<Form> {
        self.form_at(0)
    }

    /// The first `<form>` whose action ends with `action`.
    pub fn form_to(&self, action: &str) -> Option<Form> {
        let mut from = 0;
        while let Some(i) = self.body[from..].find("<form") {
            let form = self.form_at(from + i)?;
            if form.action.as_str().ends_with(action) {
                return Some(form);
            }
            from += i + 5;
        }
        None
    }

    fn form_at(&self, from: usize) -> Option<Form> {
        let start = self.body[from..].find("<form")? + from;
        let end = self.body[start..].find("</form>")? + start;
        let html = &self.body[start..end];
        let tag_end = html.find('>')?;
        let action = attribute(&html[..tag_end], "action").unwrap_or_default();
        let method = attribute(&html[..tag_end], "method").unwrap_or_else(|| "get".into());
        let mut fields = Vec::new();
        let mut rest = html;
        while let Some(i) = rest.find("<input") {
            let tag = &rest[i..];
            let close = tag.find('>').unwrap_or(tag.len());
            let tag = &tag[..close];
            if let Some(name) = attribute(tag, "name") {
                fields.push((name, attribute(tag, "value").unwrap_or_default()));
            }
            rest = &rest[i + close..];
        }
        Some(Form {
            action: self.url.join(&action).ok()?,
            method: method.to_ascii_lowercase(),
            fields,
        })
    }
}

/// A form read from a page.
#[derive(Debug, Clone)]
pub struct Form {
    pub action: Url,
    pub method: String,
    pub fields: Vec<(String, String)>,
}

impl Form {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let start = tag.find(&needle)? + needle.len();
    let end = tag[start..].find('"')? + start;
    Some(unescape(&tag[start..end]))
}

/// Undoes HTML attribute escaping (named entities, and the numeric ones askama writes).
pub fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#38;", "&")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// A browser. Cookies are kept per host (ports share cookies, as in real browsers).
pub struct Agent {
    plain: reqwest::Client,
    with_certificate: Option<reqwest::Client>,
    cookies: Mutex<BTreeMap<(String, String), String>>,
    max_redirects: usize,
    /// Sent with every request (e.g. the X-Forwarded-For a proxy in front would add).
    headers: reqwest::header::HeaderMap,
}

fn client_builder() -> reqwest::ClientBuilder {
    idp::server::install_crypto_provider();
    let ca = std::fs::read(repo_root().join("certs-dev/tls/tls-ca.pem"))
        .unwrap_or_else(|e| panic!("certs-dev/tls/tls-ca.pem: {e}"));
    let ca = reqwest::Certificate::from_pem(&ca).unwrap_or_else(|e| panic!("dev TLS CA: {e}"));
    reqwest::Client::builder()
        .add_root_certificate(ca)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
}

impl Default for Agent {
    fn default() -> Self {
        Self::new()
    }
}

impl Agent {
    /// A browser without a certificate.
    pub fn new() -> Self {
        Self {
            plain: client_builder()
                .build()
                .unwrap_or_else(|e| panic!("client: {e}")),
            with_certificate: None,
            cookies: Mutex::new(BTreeMap::new()),
            max_redirects: 25,
            headers: reqwest::header::HeaderMap::new(),
        }
    }

    /// A browser holding the development user `user`'s certificate
    /// (`certs-dev/users/<user>.chain.pem` and `.key.pem`), presented when a server asks.
    pub fn with_certificate(user: &str) -> Self {
        Self::holding(user, None)
    }

    /// Like [`Agent::with_certificate`], connecting from the local address `from` (for
    /// example 127.0.0.2: another client address on the same machine).
    pub fn with_certificate_from(user: &str, from: std::net::IpAddr) -> Self {
        Self::holding(user, Some(from))
    }

    fn holding(user: &str, from: Option<std::net::IpAddr>) -> Self {
        let dir = repo_root().join("certs-dev/users");
        let mut pem = std::fs::read(dir.join(format!("{user}.key.pem")))
            .unwrap_or_else(|e| panic!("{user}.key.pem: {e}"));
        pem.extend(
            std::fs::read(dir.join(format!("{user}.chain.pem")))
                .unwrap_or_else(|e| panic!("{user}.chain.pem: {e}")),
        );
        let identity =
            reqwest::Identity::from_pem(&pem).unwrap_or_else(|e| panic!("{user} identity: {e}"));
        let mut agent = Self::new();
        agent.plain = client_builder()
            .local_address(from)
            .build()
            .unwrap_or_else(|e| panic!("client: {e}"));
        agent.with_certificate = Some(
            client_builder()
                .local_address(from)
                .identity(identity)
                .build()
                .unwrap_or_else(|e| panic!("client: {e}")),
        );
        agent
    }

    /// The same browser opening a new connection for every request (so that a load
    /// balancer in front of several IdP nodes spreads its requests over them).
    pub fn with_certificate_and_fresh_connections(user: &str) -> Self {
        let mut agent = Self::with_certificate(user);
        let dir = repo_root().join("certs-dev/users");
        let mut pem = std::fs::read(dir.join(format!("{user}.key.pem"))).unwrap_or_default();
        pem.extend(std::fs::read(dir.join(format!("{user}.chain.pem"))).unwrap_or_default());
        let identity =
            reqwest::Identity::from_pem(&pem).unwrap_or_else(|e| panic!("{user} identity: {e}"));
        agent.with_certificate = Some(
            client_builder()
                .identity(identity)
                .pool_max_idle_per_host(0)
                .build()
                .unwrap_or_else(|e| panic!("client: {e}")),
        );
        agent
    }

    /// The same browser with `name: value` on every request it sends.
    pub fn sending(mut self, name: &'static str, value: &str) -> Self {
        let value = value
            .parse()
            .unwrap_or_else(|e| panic!("header {name}: {e}"));
        self.headers.insert(name, value);
        self
    }

    /// The cookie `name` this browser holds for `host`.
    pub fn cookie(&self, host: &str, name: &str) -> Option<String> {
        self.cookies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(host.to_owned(), name.to_owned()))
            .cloned()
    }

    /// Forgets every cookie (a new browser profile, same certificate).
    pub fn clear_cookies(&self) {
        self.cookies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    fn cookie_header(&self, url: &Url) -> Option<String> {
        let host = url.host_str()?.to_owned();
        let jar = self.cookies.lock().unwrap_or_else(|e| e.into_inner());
        let pairs: Vec<String> = jar
            .iter()
            .filter(|((h, _), _)| *h == host)
            .map(|((_, name), value)| format!("{name}={value}"))
            .collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }

    fn store_cookies(&self, url: &Url, headers: &HeaderMap) {
        let Some(host) = url.host_str() else { return };
        let mut jar = self.cookies.lock().unwrap_or_else(|e| e.into_inner());
        for value in headers.get_all(SET_COOKIE) {
            let Ok(header) = value.to_str() else { continue };
            let first = header.split(';').next().unwrap_or_default();
            let Some((name, value)) = first.split_once('=') else {
                continue;
            };
            let expired = value.is_empty() || header.to_ascii_lowercase().contains("max-age=0");
            let key = (host.to_owned(), name.trim().to_owned());
            if expired {
                jar.remove(&key);
            } else {
                jar.insert(key, value.trim().to_owned());
            }
        }
    }

    /// One request, no redirect following.
    pub async fn request(
        &self,
        method: Method,
        url: &Url,
        form: Option<&[(String, String)]>,
    ) -> Page {
        let client = self.with_certificate.as_ref().unwrap_or(&self.plain);
        let mut request = client.request(method, url.clone());
        if let Some(fields) = form {
            request = request.form(fields);
        }
        self.send(url, request).await
    }

    /// Sends `request` to `url` with the agent's headers and cookies, keeps the cookies
    /// of the answer, and returns it as a page.
    async fn send(&self, url: &Url, request: reqwest::RequestBuilder) -> Page {
        let mut request = request.headers(self.headers.clone());
        if let Some(cookies) = self.cookie_header(url) {
            request = request.header(COOKIE, cookies);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("request to {url}: {e}"));
        let status = response.status();
        let headers = response.headers().clone();
        self.store_cookies(url, &headers);
        let body = response.text().await.unwrap_or_default();
        Page {
            url: url.clone(),
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, url: &str) -> Page {
        let url = Url::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
        self.request(Method::GET, &url, None).await
    }

    /// Follows redirects from `page` until a page that is not one.
    pub async fn follow(&self, mut page: Page) -> Page {
        for _ in 0..self.max_redirects {
            let Some(next) = page.location().filter(|_| page.is_redirect()) else {
                return page;
            };
            page = self.request(Method::GET, &next, None).await;
        }
        panic!(
            "more than {} redirects from {}",
            self.max_redirects, page.url
        )
    }

    /// Follows redirects from `page` until one leads to a URL starting with `prefix`
    /// (an application's callback, which this browser does not fetch): `Ok(that URL)`.
    /// A page that is not a redirect ends the walk: `Err(page)`.
    pub async fn follow_until(&self, mut page: Page, prefix: &str) -> Result<Url, Page> {
        for _ in 0..self.max_redirects {
            let Some(next) = page.location().filter(|_| page.is_redirect()) else {
                return Err(page);
            };
            if next.as_str().starts_with(prefix) {
                return Ok(next);
            }
            page = self.request(Method::GET, &next, None).await;
        }
        panic!(
            "more than {} redirects from {}",
            self.max_redirects, page.url
        )
    }

    /// `GET url` and follow its redirects until one leads to `prefix` (see
    /// [`Agent::follow_until`]).
    pub async fn open_until(&self, url: &str, prefix: &str) -> Result<Url, Page> {
        let first = self.get(url).await;
        self.follow_until(first, prefix).await
    }

    /// On the IdP's login page, logs in with this browser's certificate and follows the
    /// IdP back until it redirects to `prefix` (the application's callback).
    pub async fn log_in_until(
        &self,
        idp: &TestIdp,
        login_page: &Page,
        prefix: &str,
    ) -> Result<Url, Page> {
        let login_id = login_page.login_id();
        self.open_until(
            &idp.mtls_url(&format!("/mtls/login?login={login_id}")),
            prefix,
        )
        .await
    }

    /// `GET url` and follow its redirects.
    pub async fn open(&self, url: &str) -> Page {
        let first = self.get(url).await;
        self.follow(first).await
    }

    /// Submits `form` (as a browser would, also without JavaScript) and follows redirects.
    pub async fn submit(&self, form: &Form) -> Page {
        let page = if form.method == "post" {
            self.request(Method::POST, &form.action, Some(&form.fields))
                .await
        } else {
            let mut url = form.action.clone();
            url.query_pairs_mut().extend_pairs(form.fields.iter());
            self.request(Method::GET, &url, None).await
        };
        self.follow(page).await
    }

    /// On the IdP's commission choice page, presses the button of commission `hsa_id`
    /// (the form's hidden fields, CSRF token included, go with it); does not follow the
    /// answer.
    pub async fn choose_commission(&self, page: &Page, hsa_id: &str) -> Page {
        let form = page
            .form()
            .unwrap_or_else(|| panic!("no form on {} {}: {}", page.status, page.url, page.body));
        let mut fields = form.fields.clone();
        fields.push(("commission".into(), hsa_id.into()));
        self.request(Method::POST, &form.action, Some(&fields))
            .await
    }

    /// `POST url` with a JSON body (as the login page's script does), no redirect
    /// following.
    pub async fn post_json(&self, url: &Url, body: &serde_json::Value) -> Page {
        let client = self.with_certificate.as_ref().unwrap_or(&self.plain);
        self.send(url, client.post(url.clone()).json(body)).await
    }

    /// On the IdP's login page (`/login?login=<id>`), logs in with the reference phone
    /// as the page's script does: starts an order, shows its QR code to `phone`, which
    /// claims and approves it with `credential`, and polls until the login is complete.
    /// Returns what the phone showed and the IdP's first answer where the login resumes
    /// (not followed).
    pub async fn log_in_with_phone(
        &self,
        idp: &TestIdp,
        login_page: &Page,
        phone: &sp_test::phone::Phone,
        credential: &sp_test::phone::PhoneCredential,
    ) -> (sp_test::phone::Shown, Page) {
        let login_id = login_page.login_id();
        let json = |page: &Page| -> serde_json::Value {
            assert_eq!(
                page.status, 200,
                "{} {}: {}",
                page.status, page.url, page.body
            );
            serde_json::from_str(&page.body)
                .unwrap_or_else(|e| panic!("{}: {e}: {}", page.url, page.body))
        };
        let url = |path: &str| Url::parse(&idp.url(path)).unwrap_or_else(|e| panic!("{e}"));
        let started = self
            .post_json(
                &url("/login/mobile/start"),
                &serde_json::json!({ "login": login_id }),
            )
            .await;
        let order = json(&started)["order_ref"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let qr = self
            .request(
                Method::GET,
                &url(&format!("/login/mobile/qr?order={order}")),
                None,
            )
            .await;
        let qr = json(&qr)["qr"].as_str().unwrap_or_default().to_owned();
        let (shown, claim) = phone
            .claim(&sp_test::phone::Start::Qr(qr), credential)
            .await
            .unwrap_or_else(|e| panic!("the phone cannot claim the order: {e:?}"));
        phone
            .approve(&claim, credential)
            .await
            .unwrap_or_else(|e| panic!("the phone cannot approve: {e:?}"));
        let collected = self
            .request(
                Method::GET,
                &url(&format!("/login/mobile/collect?order={order}")),
                None,
            )
            .await;
        let done = json(&collected);
        assert_eq!(done["status"], "complete", "{done}");
        let resume = done["redirect"].as_str().unwrap_or_default();
        (shown, self.request(Method::GET, &url(resume), None).await)
    }

    /// On the IdP's login page (`/login?login=<id>`), logs in with this browser's
    /// certificate over mutual TLS and follows the IdP back to where the login resumes.
    pub async fn log_in_with_certificate(&self, idp: &TestIdp, login_page: &Page) -> Page {
        assert!(
            self.with_certificate.is_some(),
            "this agent has no certificate"
        );
        let login_id = login_page.login_id();
        self.open(&idp.mtls_url(&format!("/mtls/login?login={login_id}")))
            .await
    }
}
