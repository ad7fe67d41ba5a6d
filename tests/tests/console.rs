//! The admin console: an organisation admin logs in through the IdP itself, registers an
//! OIDC client and a SAML SP (pysaml2's metadata URL, a preview first) without a restart,
//! and the applications work at once; every route refuses another tenant's admin, every
//! form a missing or wrong CSRF token; dangerous actions need a recent login.

use reqwest::{Method, StatusCode};
use serde_json::json;
use std::sync::Arc;

use e2e::agent::{unescape, Agent, Page};
use e2e::idp_server::shipped_config;
use e2e::saml::PySp;
use e2e::{https_client, SqliteDatabase, TestIdp};
use idp::admin::TokenScope;
use idp::clock::{Clock, ManualClock, SystemClock};

/// An IdP with the shipped configuration, its console client's redirect URI pointed at
/// this test's port.
async fn console_idp(db: &SqliteDatabase, clock: Option<Arc<ManualClock>>) -> TestIdp {
    console_idp_with_operators(db, clock, &[]).await
}

/// Like [`console_idp`], with `operators` as the platform's operators.
async fn console_idp_with_operators(
    db: &SqliteDatabase,
    clock: Option<Arc<ManualClock>>,
    operators: &[&str],
) -> TestIdp {
    let operators: Vec<_> = operators.iter().map(|o| o.parse().unwrap()).collect();
    console_idp_configured(db, clock, |config| config.idp.admin.operators = operators).await
}

/// Like [`console_idp`], with `edit` applied to the configuration.
async fn console_idp_configured(
    db: &SqliteDatabase,
    clock: Option<Arc<ManualClock>>,
    edit: impl FnOnce(&mut idp::config::LoadedConfig),
) -> TestIdp {
    let mut config = shipped_config(&db.url, None);
    edit(&mut config);
    let idp = match clock {
        Some(clock) => TestIdp::start_with_clock(config, clock).await.unwrap(),
        None => TestIdp::start(config).await.unwrap(),
    };
    let operator = e2e::admin_token(&idp, TokenScope::Operator).await;
    let response = https_client()
        .put(idp.url("/admin/api/v1/tenants/region/oidc-clients/console"))
        .bearer_auth(&operator)
        .json(&json!({
            "id": "console",
            "display_name": { "sv": "Administrationen", "en": "Administration" },
            "client_id": "idp-admin",
            "token_endpoint_auth_method": "none",
            "redirect_uris": [idp.url("/console/callback")],
            "scopes": ["openid"],
            "user_tenants": ["region", "storstad", "lillby"]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    idp
}

/// Opens the console, logs in with the agent's certificate, and returns the page the
/// console shows after the login.
async fn sign_in(idp: &TestIdp, agent: &Agent, path: &str) -> Page {
    let login_page = agent.open(&idp.url(path)).await;
    assert!(
        e2e::saml::is_login_page(&login_page),
        "the console sends an admin without a session to the IdP's login: {} {}",
        login_page.url,
        login_page.body
    );
    let page = agent.log_in_with_certificate(idp, &login_page).await;
    assert_eq!(page.status, StatusCode::OK, "{} {}", page.url, page.body);
    page
}

fn csrf(page: &Page) -> String {
    page.form_to("/console/logout")
        .and_then(|f| f.field("csrf_token").map(str::to_owned))
        .unwrap_or_else(|| panic!("no console form on {}: {}", page.url, page.body))
}

async fn post(agent: &Agent, idp: &TestIdp, path: &str, fields: &[(&str, &str)]) -> Page {
    let fields: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let url = reqwest::Url::parse(&idp.url(path)).unwrap();
    agent.request(Method::POST, &url, Some(&fields)).await
}

/// The text between `<code id="{id}">` and `</code>`.
fn code_text(page: &Page, id: &str) -> String {
    let start = format!("<code id=\"{id}\">");
    let from = page
        .body
        .find(&start)
        .unwrap_or_else(|| panic!("no {id}: {}", page.body))
        + start.len();
    let to = page.body[from..].find("</code>").unwrap() + from;
    unescape(&page.body[from..to])
}

/// Gives pysaml2 this IdP's metadata (as its operator would download it).
async fn trust_this_idp(idp: &TestIdp, sp: &PySp) {
    let metadata = https_client()
        .get(idp.url("/saml/metadata"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    sp.trust_idp(&metadata);
}

/// Serves `body` at `http://127.0.0.1:<port>/metadata` (where pysaml2's metadata is
/// published for the IdP to fetch).
async fn serve_metadata(body: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://127.0.0.1:{}/metadata",
        listener.local_addr().unwrap().port()
    );
    let app = axum::Router::new().route(
        "/metadata",
        axum::routing::get(move || {
            let body = body.clone();
            async move { body }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_registers_an_oidc_client_and_a_saml_sp_that_work_at_once() {
    let db = SqliteDatabase::create().unwrap();
    let idp = console_idp(&db, None).await;
    let eva = Agent::with_certificate("eva");

    // Eva, Lillby's admin, logs in to the console with her certificate: she sees Lillby
    // only.
    let home = sign_in(&idp, &eva, "/console").await;
    assert!(
        home.body.contains("href=\"/console/t/lillby\""),
        "{}",
        home.body
    );
    assert!(!home.body.contains("/console/t/storstad"), "{}", home.body);
    assert!(!home.body.contains("/console/t/region"), "{}", home.body);
    let token = csrf(&home);

    // An OIDC client whose access tokens are opaque references: the secret is shown
    // once, and works with the token endpoint.
    let form = eva.get(&idp.url("/console/t/lillby/oidc/new")).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    let choices = form
        .form_to("/console/t/lillby/oidc")
        .expect("the registration form")
        .fields;
    assert!(
        choices.contains(&("access_token_format".into(), "opaque".into())),
        "{choices:?}"
    );
    let redirect = e2e::oidc::callback("lillby-natt");
    let page = post(
        &eva,
        &idp,
        "/console/t/lillby/oidc",
        &[
            ("csrf_token", &token),
            ("id", "natt"),
            ("name_sv", "Nattpatrullen"),
            ("name_en", "Night patrol"),
            ("kind", "web"),
            ("access_token_format", "opaque"),
            ("redirect_uris", &redirect),
            ("scope", "openid"),
            ("scope", "hsa"),
        ],
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(code_text(&page, "client-id"), "lillby-natt");
    let secret = code_text(&page, "secret");
    assert!(secret.len() >= 40, "{secret}");

    let (verifier, challenge) = e2e::oidc::pkce();
    let url = e2e::oidc::authorize_url(&idp, "lillby-natt", "openid hsa", Some(&challenge), &[]);
    let back = e2e::oidc::browse_to_callback(&eva, &idp, &url, "lillby-natt").await;
    let code = e2e::oidc::param(&back, "code").expect("a code");
    let (status, tokens, _) = e2e::oidc::token_request(
        &idp,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect),
            ("code_verifier", &verifier),
        ],
        Some(("lillby-natt", &secret)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert!(tokens["id_token"].is_string());
    let access = tokens["access_token"].as_str().unwrap();
    assert!(!access.contains('.'), "a JWT, not a reference: {access}");

    // "Try a login": the console plays the client with Eva's own login. A wrong
    // secret fails at the token exchange; the right one passes every step.
    let page = eva.get(&idp.url("/console/t/lillby/apps/natt/try")).await;
    assert!(page.body.contains("id=\"client_secret\""), "{}", page.body);
    let wrong = post(
        &eva,
        &idp,
        "/console/t/lillby/apps/natt/try",
        &[("csrf_token", &token), ("client_secret", "not-the-secret")],
    )
    .await;
    assert_eq!(wrong.status, StatusCode::OK, "{}", wrong.body);
    assert_eq!(
        wrong.body.matches("class=\"step failed\"").count(),
        1,
        "{}",
        wrong.body
    );
    assert!(!wrong.body.contains("ID-token</span>"), "{}", wrong.body);
    let tried = post(
        &eva,
        &idp,
        "/console/t/lillby/apps/natt/try",
        &[("csrf_token", &token), ("client_secret", &secret)],
    )
    .await;
    assert_eq!(
        tried.body.matches("class=\"step ok\"").count(),
        7,
        "{}",
        tried.body
    );
    assert!(
        !tried.body.contains("class=\"step failed\""),
        "{}",
        tried.body
    );
    assert!(
        unescape(&tried.body)
            .contains("\"http://sambi.se/attributes/1/employeeHsaId\": \"SE2120007774-eva05\""),
        "{}",
        tried.body
    );

    // A SAML SP by its metadata URL: the preview says what the metadata says.
    let sp = PySp::init("console-natt", json!({})).await;
    let metadata_url = serve_metadata(sp.metadata.clone()).await;
    let preview = post(
        &eva,
        &idp,
        "/console/t/lillby/saml/preview",
        &[("csrf_token", &token), ("metadata_url", &metadata_url)],
    )
    .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    assert_eq!(code_text(&preview, "entity-id"), sp.entity_id);
    assert!(
        unescape(&preview.body).contains(&sp.acs_url),
        "{}",
        preview.body
    );
    let registered = post(
        &eva,
        &idp,
        "/console/t/lillby/saml",
        &[
            ("csrf_token", &token),
            ("metadata_url", &metadata_url),
            ("entity_id", &sp.entity_id),
            ("id", "natt-sp"),
            ("name_sv", "Nattpatrullen (SAML)"),
            ("profile", "sambi"),
            ("release", "employeeHsaId"),
            ("release", "givenName"),
            ("required_loa", "3"),
        ],
    )
    .await;
    assert_eq!(
        registered.status,
        StatusCode::SEE_OTHER,
        "{}",
        registered.body
    );
    let tenant = eva.open(registered.location().unwrap().as_str()).await;
    assert!(
        tenant.body.contains("natt-sp är registrerad"),
        "{}",
        tenant.body
    );
    assert!(
        tenant.body.contains("Nattpatrullen (SAML)"),
        "{}",
        tenant.body
    );

    // "Try a login" to the SP: the console sends an AuthnRequest as the SP and reads the
    // signed answer with Eva's own login.
    let tried = post(
        &eva,
        &idp,
        "/console/t/lillby/apps/natt-sp/try",
        &[("csrf_token", &token)],
    )
    .await;
    assert_eq!(
        tried.body.matches("class=\"step ok\"").count(),
        3,
        "{}",
        tried.body
    );
    assert!(
        !tried.body.contains("class=\"step failed\""),
        "{}",
        tried.body
    );
    let report = unescape(&tried.body);
    assert!(
        report.contains("http://sambi.se/attributes/1/employeeHsaId = SE2120007774-eva05"),
        "{report}"
    );
    assert!(report.contains("✓ Audience = "), "{report}");
    // The try leaves no trace in Eva's session (single logout does not visit the SP);
    // the client she really logged in to above stays.
    let sso = eva
        .cookie("localhost", "__Host-idp_sso")
        .expect("an SSO cookie");
    let session = idp.state.sso_sessions.find(&sso).await.unwrap().unwrap();
    let participants: Vec<&str> = session
        .participants
        .iter()
        .map(|p| p.application.as_str())
        .collect();
    assert!(
        !participants.contains(&"lillby/natt-sp") && participants.contains(&"lillby/natt"),
        "{participants:?}"
    );

    // A Lillby user logs in to the SP at once (no restart), and receives what Eva chose.
    trust_this_idp(&idp, &sp).await;
    let user = Agent::with_certificate("eva");
    let login = e2e::saml::log_in(&idp, &user, &sp, json!({})).await;
    let hsa = login.attribute("http://sambi.se/attributes/1/employeeHsaId");
    assert_eq!(hsa, ["SE2120007774-eva05"], "{:?}", login.result);
    assert!(login
        .attribute("http://sambi.se/attributes/1/mail")
        .is_empty());

    // "What this application receives" says the same before anyone logs in.
    let receives = eva
        .get(&idp.url("/console/t/lillby/apps/natt-sp/receives"))
        .await;
    assert_eq!(receives.status, StatusCode::OK, "{}", receives.body);
    let body = unescape(&receives.body);
    assert!(
        body.contains("<code>http://sambi.se/attributes/1/employeeHsaId</code>"),
        "{body}"
    );
    assert!(body.contains("<code>SE2120007774-eva05</code>"), "{body}");
    assert!(!body.contains("attributes/1/mail"), "{body}");
    let claims = eva
        .get(&idp.url("/console/t/lillby/apps/natt/receives"))
        .await;
    assert!(
        unescape(&claims.body)
            .contains("\"http://sambi.se/attributes/1/employeeHsaId\": \"SE2120007774-eva05\""),
        "{}",
        claims.body
    );
    // Another organisation's staff are not Eva's to look up.
    let other = eva
        .get(&idp.url("/console/t/lillby/apps/natt-sp/receives?person=SE2120008889-dav04"))
        .await;
    assert_eq!(
        other.error_code(),
        Some("ADMIN_NOT_FOUND"),
        "{}",
        other.body
    );
}

/// Every console route that names a tenant, as (method, path).
fn tenant_routes(tenant: &str) -> Vec<(Method, String)> {
    vec![
        (Method::GET, format!("/console/t/{tenant}")),
        (Method::GET, format!("/console/t/{tenant}/oidc/new")),
        (Method::POST, format!("/console/t/{tenant}/oidc")),
        (
            Method::POST,
            format!("/console/t/{tenant}/oidc/hemtjanst/secret"),
        ),
        (Method::GET, format!("/console/t/{tenant}/saml/new")),
        (Method::POST, format!("/console/t/{tenant}/saml/preview")),
        (Method::POST, format!("/console/t/{tenant}/saml")),
        (
            Method::POST,
            format!("/console/t/{tenant}/apps/hemtjanst/delete"),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_refuses_another_tenants_admin_and_every_form_a_bad_csrf_token() {
    let db = SqliteDatabase::create().unwrap();
    let idp = console_idp(&db, None).await;
    let before = idp.state.registry.load().version;

    // Without a console session every route sends the browser to log in.
    let stranger = Agent::new();
    for (method, path) in tenant_routes("lillby") {
        let page = stranger
            .request(
                method.clone(),
                &reqwest::Url::parse(&idp.url(&path)).unwrap(),
                Some(&[][..]),
            )
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{method} {path}");
        let to = page.location().unwrap();
        assert_eq!(to.path(), "/console/login", "{method} {path}");
    }

    // David administers Storstad, not Lillby: every Lillby route is refused him, also
    // with his own valid CSRF token.
    let david = Agent::with_certificate("david");
    let home = sign_in(&idp, &david, "/console").await;
    let token = csrf(&home);
    let fields = [
        ("csrf_token", token.as_str()),
        ("id", "intrang"),
        ("name_sv", "Intrång"),
        ("kind", "web"),
        ("redirect_uris", "https://evil.example/cb"),
        ("scope", "openid"),
        ("metadata_url", "https://evil.example/md"),
        ("entity_id", "https://evil.example/sp"),
        ("protocol", "oidc"),
    ];
    let mut wrong = Vec::new();
    for (method, path) in tenant_routes("lillby") {
        let page = if method == Method::GET {
            david.get(&idp.url(&path)).await
        } else {
            post(&david, &idp, &path, &fields).await
        };
        if (page.status, page.error_code()) != (StatusCode::FORBIDDEN, Some("ADMIN_FORBIDDEN")) {
            wrong.push(format!(
                "{method} {path}: {} {:?}",
                page.status,
                page.error_code()
            ));
        }
    }
    let platform = david.get(&idp.url("/console/platform")).await;
    if (platform.status, platform.error_code()) != (StatusCode::FORBIDDEN, Some("ADMIN_FORBIDDEN"))
    {
        wrong.push(format!("GET /console/platform: {}", platform.status));
    }
    assert!(wrong.is_empty(), "not refused: {wrong:#?}");

    // Eva on her own tenant: a form without the token, or with David's, is refused.
    let eva = Agent::with_certificate("eva");
    let home = sign_in(&idp, &eva, "/console").await;
    let own = csrf(&home);
    assert_ne!(own, token);
    for (method, path) in tenant_routes("lillby")
        .into_iter()
        .filter(|(m, _)| *m == Method::POST)
        .chain([(Method::POST, "/console/logout".to_owned())])
    {
        for presented in [None, Some(token.as_str()), Some("")] {
            let mut with = fields.to_vec();
            with.retain(|(k, _)| *k != "csrf_token");
            if let Some(t) = presented {
                with.push(("csrf_token", t));
            }
            let page = post(&eva, &idp, &path, &with).await;
            assert_eq!(
                (page.status, page.error_code()),
                (StatusCode::FORBIDDEN, Some("CSRF_INVALID")),
                "{method} {path} with {presented:?}"
            );
        }
    }
    // Nothing changed.
    assert_eq!(idp.state.registry.load().version, before);
    let apps: Vec<String> = idp
        .state
        .registry
        .load()
        .tenants
        .get(&"lillby".parse().unwrap())
        .unwrap()
        .applications()
        .map(|a| a.id.to_string())
        .collect();
    assert!(!apps.contains(&"intrang".to_owned()), "{apps:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_application_needs_a_recent_login() {
    let db = SqliteDatabase::create().unwrap();
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let idp = console_idp(&db, Some(clock.clone())).await;
    let eva = Agent::with_certificate("eva");
    let tenant = sign_in(&idp, &eva, "/console/t/lillby").await;
    assert!(tenant.body.contains("hemtjanst"), "{}", tenant.body);
    let token = csrf(&tenant);

    // Ten minutes later the login is too old for a deletion.
    clock.advance(time::Duration::minutes(10));
    let delete = [("csrf_token", token.as_str()), ("protocol", "oidc")];
    let page = post(
        &eva,
        &idp,
        "/console/t/lillby/apps/hemtjanst/delete",
        &delete,
    )
    .await;
    assert_eq!(
        page.error_code(),
        Some("CONSOLE_REAUTH_REQUIRED"),
        "{}",
        page.body
    );
    assert!(idp
        .state
        .registry
        .load()
        .tenants
        .get(&"lillby".parse().unwrap())
        .unwrap()
        .applications()
        .any(|a| a.id.as_str() == "hemtjanst"));

    // A new login (prompt=login: the SSO session is not enough), then the deletion.
    let reauth = page
        .body
        .find("id=\"reauth\" href=\"")
        .map(|i| {
            let rest = &page.body[i + 18..];
            unescape(&rest[..rest.find('"').unwrap()])
        })
        .expect("a link to log in again");
    let login_page = eva.open(&idp.url(&reauth)).await;
    assert!(
        e2e::saml::is_login_page(&login_page),
        "{} {}",
        login_page.url,
        login_page.body
    );
    let tenant = eva.log_in_with_certificate(&idp, &login_page).await;
    assert_eq!(tenant.url.path(), "/console/t/lillby");
    let token = csrf(&tenant);
    let delete = [("csrf_token", token.as_str()), ("protocol", "oidc")];
    let page = post(
        &eva,
        &idp,
        "/console/t/lillby/apps/hemtjanst/delete",
        &delete,
    )
    .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert!(!idp
        .state
        .registry
        .load()
        .tenants
        .get(&"lillby".parse().unwrap())
        .unwrap()
        .applications()
        .any(|a| a.id.as_str() == "hemtjanst"));
}

/// Lillby's grant for `region/journal`, from the live registry.
fn lillby_grant(idp: &TestIdp) -> Option<Vec<String>> {
    let registry = idp.state.registry.load();
    let lillby = registry.tenants.get(&"lillby".parse().unwrap()).unwrap();
    lillby
        .grant_for(&"region".parse().unwrap(), "journal")
        .map(|g| {
            g.attributes
                .iter()
                .map(|a| {
                    serde_json::to_value(a)
                        .unwrap()
                        .as_str()
                        .unwrap()
                        .to_owned()
                })
                .collect()
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organisation_revokes_and_approves_a_grant_in_the_console() {
    let db = SqliteDatabase::create().unwrap();
    let idp = console_idp(&db, None).await;
    let eva = Agent::with_certificate("eva");
    let grants = sign_in(&idp, &eva, "/console/t/lillby/grants").await;
    // The region's Journalen asks for Lillby's staff and has Lillby's grant.
    assert!(
        grants
            .body
            .contains("action=\"/console/t/lillby/grants/region/journal/revoke\""),
        "{}",
        grants.body
    );
    assert!(lillby_grant(&idp).is_some());
    let token = csrf(&grants);

    let page = post(
        &eva,
        &idp,
        "/console/t/lillby/grants/region/journal/revoke",
        &[("csrf_token", &token)],
    )
    .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(lillby_grant(&idp), None);
    let page = eva.open(page.location().unwrap().as_str()).await;
    assert!(page.body.contains("återkallat"), "{}", page.body);

    // Approved again, with two attributes only.
    let page = post(
        &eva,
        &idp,
        "/console/t/lillby/grants/region/journal",
        &[
            ("csrf_token", &token),
            ("attribute", "employeeHsaId"),
            ("attribute", "givenName"),
        ],
    )
    .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(
        lillby_grant(&idp),
        Some(vec!["employeeHsaId".to_owned(), "givenName".to_owned()])
    );
}

/// A tenant admin's API token (for the other organisation's side of a grant).
async fn tenant_token(idp: &TestIdp, tenant: &str) -> String {
    e2e::admin_token(idp, TokenScope::Tenant(tenant.parse().unwrap())).await
}

async fn grant(idp: &TestIdp, token: &str, path: &str, attributes: &[&str]) {
    let response = https_client()
        .put(idp.url(&format!("/admin/api/v1{path}")))
        .bearer_auth(token)
        .json(&json!({ "attributes": attributes }))
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
}

/// The onboarding as an admin does it in Chromium: Anna logs in to the console with the
/// reference phone and registers pysaml2 (by its metadata URL) and an OIDC client for
/// Node's openid-client; after Lillby grants them, a Lillby user logs in to both. No
/// restart. axe-core and the harness check every page; screenshots at phone and
/// desktop width (target/browser-screenshots/console-*.png).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_onboards_a_saml_and_an_oidc_application_in_chromium() {
    let db = SqliteDatabase::create().unwrap();
    // Anna is the region's admin and one of the platform's operators.
    let idp = console_idp_with_operators(&db, None, &["SE2321009991-anna01"]).await;
    let sp = PySp::init("journal2", json!({})).await;
    let metadata_url = serve_metadata(sp.metadata.clone()).await;
    let redirect = e2e::oidc::callback("region-natt");
    let phone = sp_test::phone::Phone::with_client(&idp.url(""), https_client());
    let pages = [
        "login",
        "home",
        "tenant",
        "saml-new",
        "saml-preview",
        "tenant-registered",
        "oidc-new",
        "oidc-secret",
        "home-en",
    ];
    let screenshots: Vec<String> = pages
        .iter()
        .flat_map(|p| {
            [
                format!("console-{p}.png"),
                format!("console-{p}-desktop.png"),
            ]
        })
        .collect();
    let screenshots: Vec<&str> = screenshots.iter().map(String::as_str).collect();
    let printed = e2e::browser_script::run_with_qrs(
        "console.mjs",
        &[&idp.url("/console"), &metadata_url, &redirect],
        &screenshots,
        |qr| {
            let phone = &phone;
            async move {
                let anna = e2e::mobile_credential("anna");
                let start = sp_test::phone::Start::Qr(qr);
                let (_, claim) = phone.claim(&start, &anna).await.unwrap();
                phone.approve(&claim, &anna).await.unwrap();
            }
        },
    )
    .await;
    let line = |prefix: &str| {
        printed
            .iter()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("the script printed no {prefix}: {printed:?}"))
            .to_owned()
    };
    let client = line("CLIENT ");
    let (client_id, secret) = client.split_once(' ').unwrap();
    assert_eq!(client_id, "region-natt");
    println!(
        "console onboarding: {} pages, admin part {} ms",
        line("PAGES "),
        line("ADMIN_MS ")
    );

    // Lillby approves both for its staff (its side of the grant).
    let lillby = tenant_token(&idp, "lillby").await;
    grant(
        &idp,
        &lillby,
        "/tenants/lillby/grants/region/journal2",
        &["employeeHsaId", "givenName"],
    )
    .await;
    grant(
        &idp,
        &lillby,
        "/tenants/lillby/grants/region/natt",
        &["employeeHsaId"],
    )
    .await;

    // Eva of Lillby logs in to the SAML service through pysaml2.
    trust_this_idp(&idp, &sp).await;
    let eva = Agent::with_certificate("eva");
    let login = e2e::saml::log_in(&idp, &eva, &sp, json!({})).await;
    assert_eq!(
        login.attribute("http://sambi.se/attributes/1/employeeHsaId"),
        ["SE2120007774-eva05"],
        "{:?}",
        login.result
    );

    // And to the OIDC client through Node's openid-client.
    let input = json!({
        "issuer": idp.url(""),
        "client_id": client_id,
        "auth": "client_secret_basic",
        "secret": secret,
        "redirect_uri": redirect,
        "scope": "openid hsa",
    });
    let (result, _) = e2e::oidc::run_node_rp(&idp, input, "eva", None).await;
    assert_eq!(result["claims"]["aud"], client_id, "{result}");
    assert_eq!(
        result["userinfo"]["http://sambi.se/attributes/1/employeeHsaId"], "SE2120007774-eva05",
        "{result}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_ends_a_staff_members_logins_after_a_lost_phone() {
    let db = SqliteDatabase::create().unwrap();
    let idp = console_idp(&db, None).await;

    // Bertil of the region is logged in to the region's Journalen in two browsers.
    let phone_browser = Agent::with_certificate("bertil");
    let desk_browser = Agent::with_certificate("bertil");
    let (_, challenge) = e2e::oidc::pkce();
    let url = e2e::oidc::authorize_url(&idp, "region-appen", "openid", Some(&challenge), &[]);
    for browser in [&phone_browser, &desk_browser] {
        e2e::oidc::browse_to_callback(browser, &idp, &url, "region-appen").await;
    }

    // Anna, the region's admin, finds both and ends them.
    let anna = Agent::with_certificate("anna");
    let page = sign_in(
        &idp,
        &anna,
        "/console/t/region/sessions?person=SE2321009991-bert02",
    )
    .await;
    assert_eq!(
        page.body
            .matches("<li class=\"application session\"")
            .count(),
        2,
        "{}",
        page.body
    );
    assert!(page.body.contains("region/appen"), "{}", page.body);
    let token = csrf(&page);
    let ended = post(
        &anna,
        &idp,
        "/console/t/region/sessions/end",
        &[("csrf_token", &token), ("person", "SE2321009991-bert02")],
    )
    .await;
    assert_eq!(ended.status, StatusCode::SEE_OTHER, "{}", ended.body);
    let after = anna.open(ended.location().unwrap().as_str()).await;
    assert!(
        after.body.contains("2 inloggningar avslutades"),
        "{}",
        after.body
    );
    assert!(after.body.contains("id=\"no-sessions\""), "{}", after.body);

    // Neither browser gets a code without logging in again.
    for browser in [&phone_browser, &desk_browser] {
        let page = browser
            .open_until(&url, &e2e::oidc::callback("region-appen"))
            .await
            .expect_err("a login page, not a code");
        assert!(e2e::saml::is_login_page(&page), "{}", page.url);
    }
    // Anna's own login is not Bertil's: her console still works; the log names her.
    let log = anna
        .get(&idp.url("/console/t/region/audit?event=sessions-ended"))
        .await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.body);
    assert!(log.body.contains("<td>sessions-ended"), "{}", log.body);

    // Another organisation's staff cannot be looked up.
    let other = anna
        .get(&idp.url("/console/t/region/sessions?person=SE2120007774-eva05"))
        .await;
    assert_eq!(
        other.error_code(),
        Some("ADMIN_NOT_FOUND"),
        "{}",
        other.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_registers_a_federation_member_by_its_entity_id() {
    // The federation operator's key, and its aggregate of ten members as a file the
    // platform operator placed.
    let dir = tempfile::tempdir().unwrap();
    let pair = rcgen::KeyPair::generate().unwrap();
    let certificate = rcgen::CertificateParams::new(Vec::new())
        .unwrap()
        .self_signed(&pair)
        .unwrap();
    let (key_file, certificate_file) = (dir.path().join("fed.key.pem"), dir.path().join("fed.pem"));
    std::fs::write(&key_file, pair.serialize_pem()).unwrap();
    std::fs::write(&certificate_file, certificate.pem()).unwrap();
    let key = idp::keys::SigningKey::from_pem_files(&key_file, &certificate_file).unwrap();
    let aggregate = sp_test::federation::aggregate(&sp_test::federation::AggregateRequest {
        name: "urn:test:sambi",
        members: Vec::new(),
        generated: 10,
        generated_domain: "members.example.se",
        authority: "https://federation.example.se",
        valid_for: std::time::Duration::from_secs(48 * 3600),
        cache_duration: None,
        key: &key,
        now: SystemClock.now(),
    })
    .unwrap();
    let aggregate_file = dir.path().join("sambi.xml");
    std::fs::write(&aggregate_file, aggregate).unwrap();
    let federation = idp::config::FederationConfig {
        id: "sambi".into(),
        metadata_url: None,
        metadata_file: Some(aggregate_file),
        signing_certificate: certificate_file,
        registration_authorities: Vec::new(),
        entity_categories: Vec::new(),
        max_bytes: 1024 * 1024,
        refresh_seconds: None,
        require_valid_until: true,
    };
    let db = SqliteDatabase::create().unwrap();
    let idp = console_idp_configured(&db, None, |config| {
        config.idp.saml.federation.push(federation)
    })
    .await;
    let eva = Agent::with_certificate("eva");
    let home = sign_in(&idp, &eva, "/console").await;
    let token = csrf(&home);

    // The new-SP page offers the federation beside a metadata URL.
    let new = eva.get(&idp.url("/console/t/lillby/saml/new")).await;
    assert!(
        unescape(&new.body).contains("Eller: en tjänst i en federation"),
        "{}",
        new.body
    );

    // A member by its entityID: the preview shows what the aggregate says of it.
    let member = "https://sp-0007.members.example.se/sp";
    let preview = post(
        &eva,
        &idp,
        "/console/t/lillby/saml/preview",
        &[
            ("csrf_token", &token),
            ("federation", "sambi"),
            ("entity_id", member),
        ],
    )
    .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    assert_eq!(code_text(&preview, "entity-id"), member);
    assert!(
        unescape(&preview.body).contains(&format!("{member}/acs")),
        "{}",
        preview.body
    );
    let form = preview
        .form_to("/console/t/lillby/saml")
        .expect("the registration form");
    assert!(
        form.fields.contains(&("federation".into(), "sambi".into())),
        "{:?}",
        form.fields
    );

    // Registered: by entityID, from the federation, with no metadata URL of its own.
    let registered = post(
        &eva,
        &idp,
        "/console/t/lillby/saml",
        &[
            ("csrf_token", &token),
            ("federation", "sambi"),
            ("entity_id", member),
            ("id", "sambi-sp"),
            ("name_sv", "Federerad tjänst"),
            ("profile", "sambi"),
            ("release", "employeeHsaId"),
        ],
    )
    .await;
    assert_eq!(
        registered.status,
        StatusCode::SEE_OTHER,
        "{}",
        registered.body
    );
    let registry = idp.state.registry.load();
    let lillby = registry.tenants.get(&"lillby".parse().unwrap()).unwrap();
    let sp = lillby
        .saml_sp
        .iter()
        .find(|sp| sp.id.as_str() == "sambi-sp")
        .unwrap();
    assert_eq!(sp.federation.as_deref(), Some("sambi"));
    assert_eq!(sp.metadata_url, None);
    assert!(
        idp.state.saml.metadata.get(member).is_some(),
        "served at once"
    );

    // An entityID the federation does not list: the preview says so, with its code.
    let absent = post(
        &eva,
        &idp,
        "/console/t/lillby/saml/preview",
        &[
            ("csrf_token", &token),
            ("federation", "sambi"),
            ("entity_id", "https://absent.example.se/sp"),
        ],
    )
    .await;
    assert_eq!(
        absent.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        absent.body
    );
    assert!(
        absent.body.contains("SAML_FEDERATION_ENTITY_MISSING"),
        "{}",
        absent.body
    );
}
