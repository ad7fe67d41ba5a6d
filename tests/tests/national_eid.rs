//! Login through an external national mobile eID service (issue 17, point 3): the IdP is
//! a relying party of `sp-test national-eid`, a simulator of a BankID-RP-API-v6-shaped
//! service running as its own process (mutual TLS, its CA pinned). The browser is the
//! scripted agent on the server-rendered pages and the JSON poll; the user's phone is the
//! simulator's `/sim/v1/scan` with the QR content the IdP's page shows. Success ends in
//! the OIDC client's code with the right person; every failure (user cancel, expiry, a
//! certificate the IdP's engine refuses, the service down, slow, or with a certificate of
//! a CA the IdP does not pin) ends on its page or status with its stable code.

use serde_json::Value;
use std::time::{Duration, Instant};

use e2e::agent::{unescape, Agent, Page};
use e2e::idp_server::shipped_config;
use e2e::national_eid::NationalEidSim;
use e2e::oidc::*;
use e2e::{SqliteDatabase, TestIdp};
use idp::config::NationalEidConfig;

/// The tenant whose logins the service serves (`storstad-personal` is its OIDC client).
const SERVED: &str = "storstad";

async fn idp_with(service: NationalEidConfig) -> (TestIdp, SqliteDatabase) {
    let db = SqliteDatabase::create().unwrap();
    let mut config = shipped_config(&db.url, None);
    config.idp.mobile.national_eid = vec![service];
    let idp = TestIdp::start(config).await.unwrap();
    (idp, db)
}

fn attribute(html: &str, name: &str) -> Option<String> {
    let start = html.find(&format!("{name}=\""))? + name.len() + 2;
    let end = html[start..].find('"')? + start;
    Some(unescape(&html[start..end]))
}

/// An OIDC login for `storstad-personal` up to the IdP's login page; its login id.
async fn open_login(browser: &Agent, idp: &TestIdp) -> (String, String) {
    let (verifier, challenge) = pkce();
    let url = authorize_url(
        idp,
        CONFIDENTIAL,
        "openid profile hsa",
        Some(&challenge),
        &[],
    );
    let login_page = browser
        .open_until(&url, &callback(CONFIDENTIAL))
        .await
        .expect_err("the IdP asks for a login");
    (login_page.login_id(), verifier)
}

/// "Mobile app on another device": the order is started and the waiting page shown.
async fn waiting_page(browser: &Agent, idp: &TestIdp, login: &str) -> Page {
    browser
        .open(&idp.url(&format!("/login/mobile?login={login}&device=other")))
        .await
}

fn order_of(page: &Page) -> String {
    page.url
        .query_pairs()
        .find(|(k, _)| k == "order")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("not a waiting page: {} {}", page.status, page.url))
}

/// The browser's JSON poll.
async fn collect(browser: &Agent, idp: &TestIdp, order: &str) -> (u16, Value) {
    let page = browser
        .get(&idp.url(&format!("/login/mobile/collect?order={order}")))
        .await;
    let body = serde_json::from_str(&page.body).unwrap_or(Value::Null);
    (page.status.as_u16(), body)
}

/// A started order of a served tenant: the browser, its order and the QR content shown.
async fn started(idp: &TestIdp) -> (Agent, String, String) {
    let browser = Agent::new();
    let (login, _) = open_login(&browser, idp).await;
    let page = waiting_page(&browser, idp, &login).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let qr = attribute(&page.body, "data-qr").expect("the waiting page shows the QR code");
    (browser, order_of(&page), qr)
}

/// The user cancels in the service's app; the browser's next poll says so.
async fn cancel_in_the_app(
    sim: &NationalEidSim,
    browser: &Agent,
    idp: &TestIdp,
    order: &str,
    qr: &str,
) {
    let (status, _) = sim.scan(qr, "david", "cancel").await;
    assert_eq!(status, 200);
    let (status, poll) = collect(browser, idp, order).await;
    assert_eq!(status, 200, "{poll}");
    assert_eq!(
        (poll["status"].as_str(), poll["hint"].as_str()),
        (Some("failed"), Some("userCancel"))
    );
}

#[tokio::test]
async fn a_login_through_the_service_reaches_the_application_as_the_person() {
    let sim = NationalEidSim::start(&[]).await.unwrap();
    let (idp, _db) = idp_with(sim.service_config(&[SERVED])).await;
    let browser = Agent::new();
    let (login, verifier) = open_login(&browser, &idp).await;
    let page = waiting_page(&browser, &idp, &login).await;
    let order = order_of(&page);
    assert!(
        order.starts_with("national."),
        "the service's order: {order}"
    );
    let qr = attribute(&page.body, "data-qr").expect("a QR code");
    assert!(qr.starts_with("bankid."), "the service's QR shape: {qr}");
    let (status, poll) = collect(&browser, &idp, &order).await;
    assert_eq!(
        (status, poll["status"].as_str()),
        (200, Some("pending")),
        "{poll}"
    );
    assert_eq!(poll["hint"], "outstandingTransaction");

    let (status, scanned) = sim.scan(&qr, "david", "approve").await;
    assert_eq!(status, 200, "{scanned}");
    // The browser's next poll completes the login (the JSON poll, as login.js does).
    let (status, poll) = collect(&browser, &idp, &order).await;
    assert_eq!(
        (status, poll["status"].as_str()),
        (200, Some("complete")),
        "{poll}"
    );
    let resume = poll["redirect"].as_str().expect("where the login resumes");
    let callback_url = browser
        .open_until(&idp.url(resume), &callback(CONFIDENTIAL))
        .await
        .unwrap_or_else(|page| panic!("not back at the client: {} {}", page.status, page.body));
    let code = param(&callback_url, "code").expect("a code");
    let (status, tokens, error) = exchange_confidential(&idp, &code, &verifier).await;
    assert_eq!(status, 200, "{tokens} {error:?}");
    let (_, claims) = jwt_parts(tokens["id_token"].as_str().unwrap());
    assert_eq!(
        claims["http://sambi.se/attributes/1/employeeHsaId"],
        "SE2120008889-dav04"
    );
    assert_eq!(claims["given_name"], "David");
    assert_eq!(claims["amr"], serde_json::json!(["national-eid"]));
    assert_eq!(claims["acr"], "http://id.elegnamnden.se/loa/1.0/loa3");
    // The login is audited as one through the service.
    let events = audit_events(&idp).await;
    assert!(
        events.contains(&("login".into(), "success".into())),
        "{events:?}"
    );
    let methods: Vec<Option<String>> = idp::storage::find_recent_audit_events(&idp.state.db, 50)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event == "login")
        .map(|e| e.method)
        .collect();
    assert_eq!(methods, vec![Some("national-eid".to_owned())]);
}

#[tokio::test]
async fn the_app_on_this_device_is_the_services_app() {
    let sim = NationalEidSim::start(&[]).await.unwrap();
    let (idp, _db) = idp_with(sim.service_config(&[SERVED])).await;
    let browser = Agent::new();
    let (login, _) = open_login(&browser, &idp).await;
    let page = browser
        .open(&idp.url(&format!("/login/mobile?login={login}&device=same")))
        .await;
    let link = attribute(
        &page.body[page.body.find("id=\"open-app\"").unwrap()..],
        "href",
    )
    .expect("the link that opens the app");
    let token = link
        .strip_prefix("bankid:///?autostarttoken=")
        .and_then(|rest| rest.strip_suffix("&redirect=null"))
        .unwrap_or_else(|| panic!("the service's app and its autostart token: {link}"));
    let (status, opened) = sim.open_with_autostart_token(token, "david").await;
    assert_eq!(status, 200, "{opened}");
    let (_, poll) = collect(&browser, &idp, &order_of(&page)).await;
    assert_eq!(poll["status"], "complete", "{poll}");
}

#[tokio::test]
async fn a_tenant_the_service_does_not_serve_keeps_the_own_engine() {
    let sim = NationalEidSim::start(&[]).await.unwrap();
    // The service serves Lillby only; Storstad's login stays with the IdP's own engine.
    let (idp, _db) = idp_with(sim.service_config(&["lillby"])).await;
    let browser = Agent::new();
    let (login, _) = open_login(&browser, &idp).await;
    let page = waiting_page(&browser, &idp, &login).await;
    assert!(!order_of(&page).contains('.'), "the own engine's order");
    let qr = attribute(&page.body, "data-qr").expect("a QR code");
    assert!(qr.starts_with("rid."), "the own engine's QR: {qr}");
    let (status, _) = sim.scan(&qr, "david", "approve").await;
    assert_eq!(
        status, 400,
        "the service knows nothing of the own engine's order"
    );
}

#[tokio::test]
async fn the_user_cancelling_in_the_app_ends_on_the_cancelled_page() {
    let sim = NationalEidSim::start(&[]).await.unwrap();
    let (idp, _db) = idp_with(sim.service_config(&[SERVED])).await;
    let (browser, order, qr) = started(&idp).await;
    cancel_in_the_app(&sim, &browser, &idp, &order, &qr).await;
    // The page without JavaScript says so, and offers to try again.
    let page = browser
        .get(&idp.url(&format!("/login/mobile?order={order}&device=other&lang=en")))
        .await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("You cancelled the login"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("data-qr"), "no QR code once failed");
    // The browser's own cancel of a new order is the service's cancel too.
    let (browser, order, qr) = started(&idp).await;
    let cancelled = browser
        .request(
            reqwest::Method::POST,
            &url::Url::parse(&idp.url("/login/mobile/cancel-form")).unwrap(),
            Some(&[
                ("order".into(), order.clone()),
                ("device".into(), "other".into()),
            ]),
        )
        .await;
    assert!(cancelled.is_redirect(), "{}", cancelled.body);
    let (status, scanned) = sim.scan(&qr, "david", "approve").await;
    assert_eq!(
        (status, scanned["errorCode"].as_str()),
        (409, Some("notOutstanding"))
    );
}

/// A state change compares the order's bytes as read, not the order encoded again: an
/// order stored with its fields in another order (as another release might write it)
/// still moves when the service reports its end.
#[tokio::test]
async fn an_order_stored_in_other_bytes_still_moves() {
    let sim = NationalEidSim::start(&[]).await.unwrap();
    let (idp, _db) = idp_with(sim.service_config(&[SERVED])).await;
    let (browser, order, qr) = started(&idp).await;
    e2e::fixtures::rewrite_order_in_other_bytes(&idp.state.store, &format!("x:{order}")).await;
    cancel_in_the_app(&sim, &browser, &idp, &order, &qr).await;
}

#[tokio::test]
async fn an_order_that_runs_out_of_time_ends_expired() {
    // The service's lifetime (1 s) ends the order long before its start timeout (30 s)
    // or the IdP's own lifetime (180 s): the hint is the service's.
    let sim = NationalEidSim::start(&["--order-lifetime-seconds", "1"])
        .await
        .unwrap();
    let (idp, _db) = idp_with(sim.service_config(&[SERVED])).await;
    let (browser, order, qr) = started(&idp).await;
    // Polled as the page does, until the service ends the order (bounded).
    let deadline = Instant::now() + Duration::from_secs(15);
    let poll = loop {
        let (status, poll) = collect(&browser, &idp, &order).await;
        assert_eq!(status, 200, "{poll}");
        if poll["status"] != "pending" || Instant::now() > deadline {
            break poll;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(
        (poll["status"].as_str(), poll["hint"].as_str()),
        (Some("failed"), Some("expiredTransaction")),
        "{poll}"
    );
    let page = browser
        .get(&idp.url(&format!("/login/mobile?order={order}&device=other&lang=en")))
        .await;
    assert!(page.body.contains("The time ran out"), "{}", page.body);
    // The app can no longer take it.
    let (status, scanned) = sim.scan(&qr, "david", "approve").await;
    assert_eq!(status, 409, "{scanned}");
}

#[tokio::test]
async fn a_certificate_the_engine_refuses_ends_as_a_certificate_error_with_its_code() {
    let sim = NationalEidSim::start(&[]).await.unwrap();
    let (idp, _db) = idp_with(sim.service_config(&[SERVED])).await;
    // Revoked (Fredrik) and expired (Gunilla) certificates, delivered by the service: the
    // IdP's own certificate engine refuses them.
    for (user, code) in [("fredrik", "CERT_REVOKED"), ("gunilla", "CERT_EXPIRED")] {
        let (browser, order, qr) = started(&idp).await;
        let (status, scanned) = sim.scan(&qr, user, "approve").await;
        assert_eq!(status, 200, "{scanned}");
        let (status, poll) = collect(&browser, &idp, &order).await;
        assert_eq!(status, 200, "{poll}");
        assert_eq!(poll["status"], "failed", "{user}: {poll}");
        assert_eq!(poll["hint"], "certificateErr", "{user}: {poll}");
        assert_eq!(poll["code"], code, "{user}: {poll}");
        let page = browser
            .get(&idp.url(&format!("/login/mobile?order={order}&device=other&lang=en")))
            .await;
        assert!(
            page.body.contains(&format!(
                "The certificate could not be used (error code {code})"
            )),
            "{}",
            page.body
        );
        assert!(
            browser.cookie("localhost", "__Host-idp_sso").is_none(),
            "no session"
        );
    }
    // The service's own certificate error.
    let (browser, order, qr) = started(&idp).await;
    sim.scan(&qr, "david", "certificateErr").await;
    let (_, poll) = collect(&browser, &idp, &order).await;
    assert_eq!(poll["hint"], "certificateErr", "{poll}");
    assert_eq!(poll["code"], "NATIONAL_EID_CERTIFICATE_ERR", "{poll}");
    let events = audit_events(&idp).await;
    assert_eq!(
        events
            .iter()
            .filter(|e| *e == &("login".to_owned(), "failure".to_owned()))
            .count(),
        2,
        "each refusal by the engine is audited: {events:?}"
    );
}

#[tokio::test]
async fn a_service_that_is_down_ends_on_the_unavailable_page() {
    let mut sim = NationalEidSim::start(&[]).await.unwrap();
    let (idp, _db) = idp_with(sim.service_config(&[SERVED])).await;
    // Down for maintenance while an order waits: the poll says so, with its code.
    let (browser, order, _) = started(&idp).await;
    sim.faults(0, true).await;
    let (status, poll) = collect(&browser, &idp, &order).await;
    assert_eq!(
        (status, poll["error"].as_str()),
        (503, Some("NATIONAL_EID_UNAVAILABLE")),
        "{poll}"
    );
    let page = browser
        .get(&idp.url(&format!("/login/mobile?order={order}&device=other&lang=en")))
        .await;
    assert_eq!(page.status, 503);
    assert_eq!(page.error_code(), Some("NATIONAL_EID_UNAVAILABLE"));
    assert!(
        page.body
            .contains("The e-identification service is not answering"),
        "{}",
        page.body
    );
    // Gone altogether: starting an order ends on the same page.
    sim.stop().await;
    let browser = Agent::new();
    let (login, _) = open_login(&browser, &idp).await;
    let page = browser
        .get(&idp.url(&format!("/login/mobile?login={login}&device=other")))
        .await;
    assert_eq!(page.status, 503, "{}", page.body);
    assert_eq!(page.error_code(), Some("NATIONAL_EID_UNAVAILABLE"));
    // Counted for the operator's alert.
    let metrics = idp.metrics();
    assert!(
        metrics.contains("idp_events_total{event=\"national_eid_unavailable\"} 3"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_slow_service_ends_at_the_idps_timeout_not_in_a_hang() {
    let sim = NationalEidSim::start(&["--delay-ms", "10000"])
        .await
        .unwrap();
    let mut service = sim.service_config(&[SERVED]);
    service.request_timeout_millis = 500;
    let (idp, _db) = idp_with(service).await;
    let browser = Agent::new();
    let (login, _) = open_login(&browser, &idp).await;
    let begun = Instant::now();
    let page = browser
        .get(&idp.url(&format!("/login/mobile?login={login}&device=other")))
        .await;
    assert!(
        begun.elapsed() < Duration::from_secs(5),
        "answered at the timeout"
    );
    assert_eq!(page.status, 503, "{}", page.body);
    assert_eq!(page.error_code(), Some("NATIONAL_EID_TIMEOUT"));
}

#[tokio::test]
async fn a_service_certificate_from_a_ca_the_idp_does_not_pin_is_refused() {
    let sim = NationalEidSim::start(&["--serve-foreign-certificate"])
        .await
        .unwrap();
    let (idp, _db) = idp_with(sim.service_config(&[SERVED])).await;
    let browser = Agent::new();
    let (login, _) = open_login(&browser, &idp).await;
    let page = browser
        .get(&idp.url(&format!("/login/mobile?login={login}&device=other")))
        .await;
    assert_eq!(page.status, 503, "{}", page.body);
    assert_eq!(page.error_code(), Some("NATIONAL_EID_TLS"));
    // Starting for the app on this device ends the same.
    let started = browser
        .request(
            reqwest::Method::GET,
            &url::Url::parse(&idp.url(&format!("/login/mobile?login={login}&device=same")))
                .unwrap(),
            None,
        )
        .await;
    assert_eq!(started.error_code(), Some("NATIONAL_EID_TLS"));
}

#[tokio::test]
async fn an_rp_certificate_the_service_did_not_issue_gets_no_answer() {
    let sim = NationalEidSim::start(&[]).await.unwrap();
    let mut service = sim.service_config(&[SERVED]);
    // The IdP's own TLS certificate is no RP certificate of this service.
    service.client_certificate = e2e::repo_root().join("certs-dev/tls/localhost.pem");
    service.client_private_key = e2e::repo_root().join("certs-dev/tls/localhost.key.pem");
    let (idp, _db) = idp_with(service).await;
    let browser = Agent::new();
    let (login, _) = open_login(&browser, &idp).await;
    let page = browser
        .get(&idp.url(&format!("/login/mobile?login={login}&device=other")))
        .await;
    assert_eq!(page.status, 503, "{}", page.body);
    // With TLS 1.3 the service refuses our certificate after our side of the handshake
    // is done: its alert arrives with the first answer (NATIONAL_EID_TLS), or, should the
    // connection close before it is read, as a dropped connection.
    let code = page.error_code().unwrap_or_default();
    assert!(
        code == "NATIONAL_EID_TLS" || code == "NATIONAL_EID_UNAVAILABLE",
        "refused in the handshake: {code}"
    );
}

#[tokio::test]
async fn a_certificate_of_an_issuer_the_service_may_not_deliver_is_refused() {
    let sim = NationalEidSim::start(&[]).await.unwrap();
    let mut service = sim.service_config(&[SERVED]);
    // This service may deliver smart-card HSA-id certificates only; David's is mobile.
    service.issuers = vec!["hsaid3".into()];
    let (idp, _db) = idp_with(service).await;
    let (browser, order, qr) = started(&idp).await;
    let (status, _) = sim.scan(&qr, "david", "approve").await;
    assert_eq!(status, 200);
    let (_, poll) = collect(&browser, &idp, &order).await;
    assert_eq!(poll["status"], "failed", "{poll}");
    assert_eq!(poll["hint"], "certificateErr", "{poll}");
    assert_eq!(poll["code"], "NATIONAL_EID_ISSUER_NOT_ALLOWED", "{poll}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_node_serves_the_poll_of_an_order_another_node_started() {
    let sim = NationalEidSim::start(&[]).await.unwrap();
    let redis = e2e::RedisServer::start().await.unwrap();
    let db = SqliteDatabase::create().unwrap();
    let node = || {
        let mut config = shipped_config(&db.url, Some(&redis.url()));
        config.idp.mobile.national_eid = vec![sim.service_config(&[SERVED])];
        config
    };
    let a = TestIdp::start(node()).await.unwrap();
    let b = TestIdp::start(node()).await.unwrap();
    // Started on node A; the browser (cookies per host, as browsers keep them) polls B.
    let (browser, order, qr) = started(&a).await;
    let (status, _) = sim.scan(&qr, "david", "approve").await;
    assert_eq!(status, 200);
    let (status, poll) = collect(&browser, &b, &order).await;
    assert_eq!(
        (status, poll["status"].as_str()),
        (200, Some("complete")),
        "{poll}"
    );
    // A's poll now reports the same completion (one login, not two).
    let (_, again) = collect(&browser, &a, &order).await;
    assert_eq!(again["status"], "complete", "{again}");
    let logins = audit_events(&a)
        .await
        .into_iter()
        .filter(|e| e.0 == "login")
        .count();
    assert_eq!(logins, 1, "one completion, one login");
}

#[tokio::test]
async fn a_users_new_order_at_the_service_cancels_the_one_in_progress() {
    let sim = NationalEidSim::start(&[]).await.unwrap();
    let (idp, _db) = idp_with(sim.service_config(&[SERVED])).await;
    // David opens a login in one browser and leaves it in the app…
    let (first, first_order, first_qr) = started(&idp).await;
    assert_eq!(sim.scan(&first_qr, "david", "hold").await.0, 200);
    // …then logs in from another browser: the service cancels the first.
    let (second, second_order, second_qr) = started(&idp).await;
    assert_eq!(sim.scan(&second_qr, "david", "approve").await.0, 200);
    let (_, poll) = collect(&first, &idp, &first_order).await;
    assert_eq!(
        (poll["status"].as_str(), poll["hint"].as_str()),
        (Some("failed"), Some("cancelled")),
        "{poll}"
    );
    let (_, poll) = collect(&second, &idp, &second_order).await;
    assert_eq!(poll["status"], "complete", "{poll}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_real_browser_the_page_follows_the_service_and_says_when_it_is_down() {
    let sim = NationalEidSim::start(&[]).await.unwrap();
    let (idp, _db) = idp_with(sim.service_config(&[SERVED])).await;
    let mut shown = 0;
    let sim = &sim;
    e2e::browser_script::run_with_qrs(
        "national_eid.mjs",
        &[&idp.url("")],
        &[
            "national-eid-qr.png",
            "national-eid-session.png",
            "national-eid-unavailable.png",
        ],
        |qr| {
            shown += 1;
            let first = shown == 1;
            async move {
                if first {
                    let (status, scanned) = sim.scan(&qr, "david", "approve").await;
                    assert_eq!(status, 200, "{scanned}");
                } else {
                    sim.faults(0, true).await;
                }
            }
        },
    )
    .await;
}

#[tokio::test]
async fn polls_faster_than_the_interval_make_one_collect_per_interval_at_the_service() {
    let sim = NationalEidSim::start(&[]).await.unwrap();
    let mut service = sim.service_config(&[SERVED]);
    service.min_collect_interval_millis = 1000;
    let (idp, _db) = idp_with(service).await;
    let (browser, order, qr) = started(&idp).await;
    let begun = Instant::now();
    for _ in 0..20 {
        let (status, poll) = collect(&browser, &idp, &order).await;
        assert_eq!(
            (status, poll["status"].as_str()),
            (200, Some("pending")),
            "{poll}"
        );
    }
    let collects = sim.calls().await["collect"].as_u64().unwrap_or(0);
    // The waiting page's collect, then at most one per second begun.
    let allowed = begun.elapsed().as_secs() + 2;
    assert!(
        (1..=allowed).contains(&collects),
        "{collects} collects at the service for 21 polls"
    );
    // The completion arrives with the next poll that may ask.
    let (status, _) = sim.scan(&qr, "david", "approve").await;
    assert_eq!(status, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    let poll = loop {
        let (_, poll) = collect(&browser, &idp, &order).await;
        if poll["status"] != "pending" || Instant::now() > deadline {
            break poll;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(poll["status"], "complete", "{poll}");
}
