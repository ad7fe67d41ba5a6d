//! The login pages as a browser without JavaScript sees them: the method choice names
//! the application and organisation (Swedish and English), the QR page carries content
//! the phone can claim, a reload after the phone approved resumes the login with the SSO
//! cookie, the same-device page opens the app, the cancel form cancels, and a browser
//! without the login's binding cookie gets the "login expired" page. The browser is
//! reqwest without redirects, carrying cookies by hand.

use std::time::Duration;

use e2e::idp_server::shipped_config;
use e2e::{repo_root, SqliteDatabase, TestIdp};
use sp_test::phone::{Phone, PhoneCredential, Start};

const DESKTOP: &str =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36";
const ANDROID: &str =
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/130.0 Mobile Safari/537.36";
const IPHONE: &str =
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148";

struct Page {
    status: u16,
    location: Option<String>,
    set_cookie: Vec<String>,
    content_type: Option<String>,
    error_code: Option<String>,
    body: String,
}

/// A browser: no redirects followed, one login's binding cookie, a user agent.
struct Browser {
    client: reqwest::Client,
    cookies: Vec<String>,
    user_agent: &'static str,
}

fn client() -> reqwest::Client {
    idp::server::install_crypto_provider();
    let ca = std::fs::read(repo_root().join("certs-dev/tls/tls-ca.pem")).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

impl Browser {
    fn new(user_agent: &'static str) -> Self {
        Self {
            client: client(),
            cookies: Vec::new(),
            user_agent,
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Page {
        let mut request = request.header("user-agent", self.user_agent);
        if !self.cookies.is_empty() {
            request = request.header("cookie", self.cookies.join("; "));
        }
        let response = request.send().await.unwrap();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        Page {
            status: response.status().as_u16(),
            location: header("location"),
            content_type: header("content-type"),
            error_code: header("x-idp-error"),
            set_cookie: response
                .headers()
                .get_all("set-cookie")
                .iter()
                .map(|v| v.to_str().unwrap().to_owned())
                .collect(),
            body: response.text().await.unwrap(),
        }
    }

    async fn get(&self, idp: &TestIdp, path: &str) -> Page {
        self.send(self.client.get(idp.url(path))).await
    }

    /// `GET /login/start?app=region/journal`: keeps the binding cookie, returns the
    /// method choice path (`/login?login=<id>`).
    async fn start_login(&mut self, idp: &TestIdp) -> String {
        let page = self.get(idp, "/login/start?app=region/journal").await;
        assert_eq!(page.status, 303, "{}", page.body);
        self.keep_cookies(&page);
        page.location.unwrap()
    }

    fn keep_cookies(&mut self, page: &Page) {
        for cookie in &page.set_cookie {
            let pair = cookie.split(';').next().unwrap().to_owned();
            self.cookies.push(pair);
        }
    }

    /// Follows the redirect that starts an order; returns the waiting page's path.
    async fn start_order(&self, idp: &TestIdp, choice: &str, device: &str) -> String {
        let login = choice.strip_prefix("/login?login=").unwrap();
        let page = self
            .get(idp, &format!("/login/mobile?login={login}&device={device}"))
            .await;
        assert_eq!(page.status, 303, "{}", page.body);
        let location = page.location.unwrap();
        assert!(
            location.starts_with("/login/mobile?order=") && location.ends_with(device),
            "{location}"
        );
        location
    }
}

/// The value of the first `name="…"` attribute in `html`, unescaped.
fn attribute(html: &str, name: &str) -> Option<String> {
    let start = html.find(&format!("{name}=\""))? + name.len() + 2;
    let end = html[start..].find('"')? + start;
    Some(e2e::agent::unescape(&html[start..end]))
}

fn phone(idp: &TestIdp) -> Phone {
    Phone::with_client(&idp.url(""), e2e::https_client())
}

fn anna() -> PhoneCredential {
    e2e::mobile_credential("anna")
}

async fn idp() -> (TestIdp, SqliteDatabase) {
    let db = SqliteDatabase::create().unwrap();
    let idp = TestIdp::start(shipped_config(&db.url, None)).await.unwrap();
    (idp, db)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_method_choice_names_the_application_and_organisation() {
    let (idp, _db) = idp().await;
    let mut browser = Browser::new(DESKTOP);
    let choice = browser.start_login(&idp).await;
    let login = choice.strip_prefix("/login?login=").unwrap().to_owned();

    let page = browser.get(&idp, &choice).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<html lang=\"sv\">"));
    assert!(page
        .body
        .contains("<h1>Logga in i Journalen (test) hos Region Exempelland</h1>"));
    for text in [
        "Mobilt certifikat på en annan enhet",
        "Mobilt certifikat på den här enheten",
        "Certifikat på den här enheten (kort eller installerat)",
    ] {
        assert!(page.body.contains(text), "{text} missing");
    }
    let mtls = idp.mtls_url(&format!("/mtls/login?login={login}"));
    assert!(page.body.contains(&format!("href=\"{mtls}\"")), "{mtls}");
    let switch = format!("href=\"/login?login={login}&lang=en\"");
    assert!(
        e2e::agent::unescape(&page.body).contains(&switch),
        "the switch keeps the login"
    );

    let english = browser.get(&idp, &format!("{choice}&lang=en")).await;
    assert!(english.body.contains("<html lang=\"en\">"));
    assert!(english
        .body
        .contains("<h1>Log in to Patient records (test) at Region Exempelland</h1>"));
    assert!(english
        .body
        .contains("Mobile certificate on another device"));
    assert!(e2e::agent::unescape(&english.body).contains(&format!(
        "href=\"/login/mobile?login={login}&device=other&lang=en\""
    )));

    let by_header = browser
        .send(
            browser
                .client
                .get(idp.url(&choice))
                .header("accept-language", "en-GB,en;q=0.9"),
        )
        .await;
    assert!(by_header.body.contains("Log in to Patient records (test)"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_sees_the_app_on_this_device_first() {
    let (idp, _db) = idp().await;
    for (agent, same_first) in [(DESKTOP, false), (ANDROID, true), (IPHONE, true)] {
        let mut browser = Browser::new(agent);
        let choice = browser.start_login(&idp).await;
        let body = browser.get(&idp, &choice).await.body;
        let other = body.find("device=other").unwrap();
        let same = body.find("device=same").unwrap();
        assert_eq!(same < other, same_first, "{agent}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_qr_login_completes_with_a_reload() {
    let (idp, _db) = idp().await;
    let mut browser = Browser::new(DESKTOP);
    let choice = browser.start_login(&idp).await;
    let waiting = browser.start_order(&idp, &choice, "other").await;

    let page = browser.get(&idp, &waiting).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let order = attribute(&page.body, "data-order").unwrap();
    assert!(page.body.contains("Starta appen och skanna QR-koden"));
    assert!(page.body.contains("role=\"status\" aria-live=\"polite\""));
    assert!(page
        .body
        .contains("<script src=\"/static/login.js\" defer>"));
    assert!(page.body.contains("<noscript><p class=\"noscript\">"));
    let qr = attribute(&page.body, "data-qr").expect("the QR page carries data-qr");
    assert!(qr.starts_with("rid."), "{qr}");

    let svg = browser
        .get(&idp, &format!("/login/mobile/qr.svg?order={order}&t=1"))
        .await;
    assert_eq!(svg.status, 200);
    assert_eq!(svg.content_type.as_deref(), Some("image/svg+xml"));
    assert!(svg.body.contains("<svg"));

    let (shown, claim) = phone(&idp).claim(&Start::Qr(qr), &anna()).await.unwrap();
    assert_eq!(
        shown.text_sv,
        "Logga in i Journalen (test) hos Region Exempelland"
    );
    let claimed = browser.get(&idp, &waiting).await;
    assert!(claimed.body.contains("Godkänn inloggningen i appen"));
    assert!(!claimed.body.contains("data-qr"), "no QR code once claimed");

    phone(&idp).approve(&claim, &anna()).await.unwrap();
    let done = browser.get(&idp, &waiting).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location.as_deref(), Some("/session"));
    let sso = done
        .set_cookie
        .iter()
        .find(|c| c.starts_with("__Host-idp_sso="))
        .expect("the SSO cookie is set when the page sees completion");
    assert!(sso.contains("Secure") && sso.contains("HttpOnly"));

    let mut logged_in = Browser::new(DESKTOP);
    logged_in.keep_cookies(&done);
    let session = logged_in.get(&idp, "/session").await;
    assert!(session.body.contains("Du är inloggad"), "{}", session.body);
    assert!(session.body.contains("SE2321009991-anna01"));

    let gone = browser
        .get(&idp, &format!("/login/mobile/qr.svg?order={order}"))
        .await;
    assert_eq!(gone.status, 410);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_device_page_opens_the_app_and_cancel_cancels() {
    let (idp, _db) = idp().await;
    let mut android = Browser::new(ANDROID);
    let choice = android.start_login(&idp).await;
    let waiting = android.start_order(&idp, &choice, "same").await;
    let page = android.get(&idp, &waiting).await;
    let link = attribute(
        &page.body[page.body.find("id=\"open-app\"").unwrap()..],
        "href",
    )
    .expect("an open-app link");
    let token = link
        .strip_prefix("regionidp:///?autostarttoken=")
        .and_then(|rest| rest.strip_suffix("&redirect=null"))
        .unwrap_or_else(|| panic!("unexpected app link {link}"));
    assert!(page.body.contains("Öppna appen"));
    let (shown, _claim) = phone(&idp)
        .claim(&Start::AutostartToken(token.to_owned()), &anna())
        .await
        .unwrap();
    assert_eq!(shown.organisation, "Region Exempelland");

    let order = attribute(&page.body, "data-order").unwrap();
    let cancel = android
        .send(
            android
                .client
                .post(idp.url("/login/mobile/cancel-form"))
                .form(&[("order", order.as_str()), ("device", "same")]),
        )
        .await;
    assert_eq!(cancel.status, 303, "{}", cancel.body);
    let cancelled = android.get(&idp, &cancel.location.unwrap()).await;
    assert!(cancelled.body.contains("Inloggningen avbröts"));
    assert!(cancelled
        .body
        .contains("<a id=\"retry\" class=\"button\" href=\"/login/mobile?login="));
    assert!(!cancelled
        .body
        .contains("id=\"retry\" class=\"button\" href=\"/login/mobile?login=\" hidden"));

    let mut iphone = Browser::new(IPHONE);
    let choice = iphone.start_login(&idp).await;
    let waiting = iphone.start_order(&idp, &choice, "same").await;
    let page = iphone.get(&idp, &waiting).await;
    assert!(page
        .body
        .contains("href=\"https://app.regionidp.example/?autostarttoken="));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_binding_cookie_the_login_has_expired() {
    let (idp, _db) = idp().await;
    let mut owner = Browser::new(DESKTOP);
    let choice = owner.start_login(&idp).await;
    let waiting = owner.start_order(&idp, &choice, "other").await;
    let order = attribute(&owner.get(&idp, &waiting).await.body, "data-order").unwrap();

    let mut stranger = Browser::new(DESKTOP);
    for cookies in [vec![], vec!["__Host-idp_login=guess".to_owned()]] {
        stranger.cookies = cookies;
        for path in [choice.as_str(), waiting.as_str()] {
            let page = stranger.get(&idp, path).await;
            assert_eq!(page.status, 400, "{path}");
            assert_eq!(page.error_code.as_deref(), Some("LOGIN_EXPIRED"), "{path}");
            assert!(page.body.contains("Inloggningen har gått ut"));
        }
        let svg = stranger
            .get(&idp, &format!("/login/mobile/qr.svg?order={order}"))
            .await;
        assert_eq!(svg.status, 404);
        let login = choice.strip_prefix("/login?login=").unwrap();
        let start = stranger
            .get(&idp, &format!("/login/mobile?login={login}&device=other"))
            .await;
        assert_eq!(start.error_code.as_deref(), Some("LOGIN_EXPIRED"));
    }
    // The owner's order was not touched.
    let page = owner.get(&idp, &waiting).await;
    assert!(page.body.contains("Starta appen och skanna QR-koden"));
}
