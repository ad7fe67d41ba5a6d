//! Mobile app login end to end: a browser side (reqwest with the login's binding cookie)
//! starts an order, reads the QR content or autostart token, the reference phone
//! (`sp_test::phone`) claims and approves with a dev user's certificate, and the poll
//! completes with an SSO session. On the memory store and on a real Redis. Timing rules
//! (stale QR, start timeout, lifetime) are tested on the engine with a manual clock.

use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

use e2e::idp_server::shipped_config;
use e2e::{https_client, repo_root, RedisServer, SqliteDatabase, TestIdp};
use idp::auth::mobile::{
    ClaimStart, Hint, MobileError, OrderDisplay, OrderEngine, OrderSettings, Status,
};
use idp::clock::ManualClock;
use idp::directory::Directory;
use idp::session::{MemoryStore, RedisStore, SharedStore};
use sp_test::phone::{Phone, PhoneCredential, PhoneError, Start};

/// A certificate holder's leaf (Anna's mobile certificate), for claims on the engine.
fn holder() -> Vec<u8> {
    credential("anna-mobile").chain_der[0].clone()
}

fn credential(user: &str) -> PhoneCredential {
    let dir = repo_root().join("certs-dev/users");
    PhoneCredential::from_pem_files(
        &dir.join(format!("{user}.chain.pem")),
        &dir.join(format!("{user}.key.pem")),
    )
    .unwrap()
}

/// The browser: an HTTPS client and the binding cookie of its pending login.
struct Browser {
    client: reqwest::Client,
    cookie: String,
    login: String,
}

impl Browser {
    async fn open_login(idp: &TestIdp, tenant: &str, application: &str) -> Self {
        let (login, secret) = idp
            .state
            .pending_logins
            .create(
                tenant.parse().unwrap(),
                application.parse().unwrap(),
                "/resume/after-mobile".into(),
                None,
            )
            .await
            .unwrap();
        Self {
            client: https_client(),
            cookie: format!("__Host-idp_login={}", secret.0),
            login: login.id,
        }
    }

    async fn post(&self, idp: &TestIdp, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .client
            .post(idp.url(path))
            .header("cookie", &self.cookie)
            .json(&body)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    async fn get(&self, idp: &TestIdp, path: &str) -> (u16, Value, Option<String>) {
        let response = self
            .client
            .get(idp.url(path))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        let cookie = response
            .headers()
            .get("set-cookie")
            .map(|v| v.to_str().unwrap().to_owned());
        (
            response.status().as_u16(),
            response.json().await.unwrap(),
            cookie,
        )
    }

    async fn start(&self, idp: &TestIdp) -> (String, String) {
        let (status, body) = self
            .post(idp, "/login/mobile/start", json!({ "login": self.login }))
            .await;
        assert_eq!(status, 200, "{body}");
        (
            body["order_ref"].as_str().unwrap().to_owned(),
            body["autostart_token"].as_str().unwrap().to_owned(),
        )
    }

    async fn qr(&self, idp: &TestIdp, order: &str) -> String {
        let (status, body, _) = self
            .get(idp, &format!("/login/mobile/qr?order={order}"))
            .await;
        assert_eq!(status, 200, "{body}");
        body["qr"].as_str().unwrap().to_owned()
    }

    async fn collect(&self, idp: &TestIdp, order: &str) -> (Value, Option<String>) {
        let (status, body, cookie) = self
            .get(idp, &format!("/login/mobile/collect?order={order}"))
            .await;
        assert_eq!(status, 200, "{body}");
        (body, cookie)
    }
}

fn phone(idp: &TestIdp) -> Phone {
    Phone::with_client(&idp.url(""), https_client())
}

async fn completes_a_login_through_the_qr_code(idp: TestIdp) {
    let browser = Browser::open_login(&idp, "region", "journal").await;
    let (order, _) = browser.start(&idp).await;
    let (pending, _) = browser.collect(&idp, &order).await;
    assert_eq!(
        (pending["status"].as_str(), pending["hint"].as_str()),
        (Some("pending"), Some("outstandingTransaction"))
    );

    let qr = browser.qr(&idp, &order).await;
    let (shown, claim) = phone(&idp)
        .claim(&Start::Qr(qr), &credential("anna-mobile"))
        .await
        .unwrap();
    assert_eq!(
        shown.text_sv,
        "Logga in i Journalen (test) hos Region Exempelland"
    );
    assert_eq!(
        shown.text_en,
        "Log in to Patient records (test) at Region Exempelland"
    );
    assert_eq!(browser.collect(&idp, &order).await.0["hint"], "userSign");

    phone(&idp)
        .approve(&claim, &credential("anna-mobile"))
        .await
        .unwrap();
    let (done, cookie) = browser.collect(&idp, &order).await;
    assert_eq!(done["status"], "complete", "{done}");
    assert_eq!(done["redirect"], "/resume/after-mobile");
    let cookie = cookie.expect("the SSO cookie is set when the poll sees completion");
    let session_id = cookie
        .strip_prefix("__Host-idp_sso=")
        .unwrap()
        .split(';')
        .next()
        .unwrap();
    let session = idp
        .state
        .sso_sessions
        .find(session_id)
        .await
        .unwrap()
        .expect("an SSO session exists");
    assert_eq!(session.employee_hsa_id.as_str(), "SE2321009991-anna01");
    assert_eq!(session.method.as_str(), "mobile-qr");
    let pending_login = idp
        .state
        .pending_logins
        .find(&browser.login)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        pending_login.authenticated_session.as_deref(),
        Some(session_id)
    );
}

async fn completes_a_login_through_the_autostart_token(idp: TestIdp) {
    let browser = Browser::open_login(&idp, "lillby", "hemtjanst").await;
    let (order, autostart) = browser.start(&idp).await;
    let (shown, claim) = phone(&idp)
        .claim(&Start::AutostartToken(autostart), &credential("eva"))
        .await
        .unwrap();
    assert_eq!(shown.organisation, "Lillby kommun");
    phone(&idp)
        .approve(&claim, &credential("eva"))
        .await
        .unwrap();
    let (done, cookie) = browser.collect(&idp, &order).await;
    assert_eq!(done["status"], "complete", "{done}");
    assert!(cookie.is_some());
    let events = idp::storage::find_recent_audit_events(&idp.state.db, 5)
        .await
        .unwrap();
    assert_eq!(events[0].method.as_deref(), Some("mobile-autostart"));
    assert_eq!(
        events[0].employee_hsa_id.as_deref(),
        Some("SE2120007774-eva05")
    );
}

async fn memory_idp() -> (TestIdp, SqliteDatabase) {
    let db = SqliteDatabase::create().unwrap();
    (
        TestIdp::start(shipped_config(&db.url, None)).await.unwrap(),
        db,
    )
}

async fn redis_idp() -> (TestIdp, SqliteDatabase, RedisServer) {
    let redis = RedisServer::start().await.unwrap();
    let db = SqliteDatabase::create().unwrap();
    (
        TestIdp::start(shipped_config(&db.url, Some(&redis.url())))
            .await
            .unwrap(),
        db,
        redis,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qr_login_on_the_memory_store() {
    let (idp, _db) = memory_idp().await;
    completes_a_login_through_the_qr_code(idp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qr_login_on_redis() {
    let (idp, _db, _redis) = redis_idp().await;
    completes_a_login_through_the_qr_code(idp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autostart_login_on_the_memory_store() {
    let (idp, _db) = memory_idp().await;
    completes_a_login_through_the_autostart_token(idp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autostart_login_on_redis() {
    let (idp, _db, _redis) = redis_idp().await;
    completes_a_login_through_the_autostart_token(idp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_in_flight_on_a_node_that_dies_complete_on_the_other() {
    const IN_FLIGHT: usize = 3;
    let redis = RedisServer::start().await.unwrap();
    let pg = e2e::PostgresDatabase::create().await.unwrap();
    let config = shipped_config(&pg.url, Some(&redis.url()));
    let a = TestIdp::start(config.clone()).await.unwrap();
    let b = TestIdp::start(config).await.unwrap();

    // The browsers open their logins and start the phone orders on node A...
    let mut in_flight = Vec::new();
    for _ in 0..IN_FLIGHT {
        let browser = Browser::open_login(&a, "lillby", "hemtjanst").await;
        let (order, autostart) = browser.start(&a).await;
        in_flight.push((browser, order, autostart));
    }
    // ...and node A dies before any phone has signed.
    a.shutdown().await;

    // The phones and the browsers' polls reach node B (the balancer's next choice).
    let mut completed = 0;
    for (browser, order, autostart) in &in_flight {
        let (_, claim) = phone(&b)
            .claim(
                &Start::AutostartToken(autostart.clone()),
                &credential("eva"),
            )
            .await
            .unwrap();
        phone(&b).approve(&claim, &credential("eva")).await.unwrap();
        let (done, cookie) = browser.collect(&b, order).await;
        if done["status"] == "complete" && cookie.is_some() {
            completed += 1;
        }
    }
    eprintln!(
        "logins attempted {IN_FLIGHT}, completed {completed}, lost {}",
        IN_FLIGHT - completed
    );
    assert_eq!(completed, IN_FLIGHT, "no login is lost with its node");
}

fn refused_code(result: Result<impl std::fmt::Debug, PhoneError>) -> String {
    match result {
        Err(PhoneError::Refused { code, .. }) => code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_declines_in_the_app() {
    let (idp, _db) = memory_idp().await;
    let browser = Browser::open_login(&idp, "region", "journal").await;
    let (order, autostart) = browser.start(&idp).await;
    let (_, claim) = phone(&idp)
        .claim(
            &Start::AutostartToken(autostart),
            &credential("anna-mobile"),
        )
        .await
        .unwrap();
    phone(&idp).decline(&claim).await.unwrap();
    let (body, cookie) = browser.collect(&idp, &order).await;
    assert_eq!(
        (body["status"].as_str(), body["hint"].as_str()),
        (Some("failed"), Some("userCancel"))
    );
    assert!(cookie.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_signature_fails_the_order() {
    let (idp, _db) = memory_idp().await;
    let browser = Browser::open_login(&idp, "region", "journal").await;
    let (order, autostart) = browser.start(&idp).await;
    let (_, claim) = phone(&idp)
        .claim(
            &Start::AutostartToken(autostart),
            &credential("anna-mobile"),
        )
        .await
        .unwrap();
    let result = phone(&idp)
        .approve_signing(&claim, &credential("anna-mobile"), b"not the challenge")
        .await;
    assert_eq!(refused_code(result), "SIGNATURE_INVALID");
    let (body, _) = browser.collect(&idp, &order).await;
    assert_eq!(
        (body["status"].as_str(), body["hint"].as_str()),
        (Some("failed"), Some("certificateErr"))
    );
    assert_eq!(body["code"], "SIGNATURE_INVALID");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_certificate_fails_the_order() {
    let (idp, _db) = memory_idp().await;
    let browser = Browser::open_login(&idp, "region", "journal").await;
    let (order, autostart) = browser.start(&idp).await;
    let (_, claim) = phone(&idp)
        .claim(&Start::AutostartToken(autostart), &credential("fredrik"))
        .await
        .unwrap();
    let result = phone(&idp).approve(&claim, &credential("fredrik")).await;
    assert_eq!(refused_code(result), "CERT_REVOKED");
    let (body, _) = browser.collect(&idp, &order).await;
    assert_eq!(body["hint"], "certificateErr");
    assert_eq!(body["code"], "CERT_REVOKED");
    let events = idp::storage::find_recent_audit_events(&idp.state.db, 5)
        .await
        .unwrap();
    assert_eq!(events[0].code.as_deref(), Some("CERT_REVOKED"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_order_cannot_be_claimed_again() {
    let (idp, _db) = memory_idp().await;
    let browser = Browser::open_login(&idp, "region", "journal").await;
    let (_, autostart) = browser.start(&idp).await;
    let start = Start::AutostartToken(autostart);
    let (_, claim) = phone(&idp)
        .claim(&start, &credential("anna-mobile"))
        .await
        .unwrap();
    phone(&idp)
        .approve(&claim, &credential("anna-mobile"))
        .await
        .unwrap();
    assert_eq!(
        refused_code(phone(&idp).claim(&start, &credential("anna-mobile")).await),
        "ORDER_NOT_ACTIVE"
    );
    assert_eq!(
        refused_code(
            phone(&idp)
                .approve(&claim, &credential("anna-mobile"))
                .await
        ),
        "ORDER_NOT_ACTIVE"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_browser_cannot_poll_or_start_the_login() {
    let (idp, _db) = memory_idp().await;
    let browser = Browser::open_login(&idp, "region", "journal").await;
    let (order, _) = browser.start(&idp).await;
    let stranger = Browser {
        cookie: "__Host-idp_login=guess".into(),
        ..Browser::open_login(&idp, "region", "journal").await
    };
    let (status, body, _) = stranger
        .get(&idp, &format!("/login/mobile/collect?order={order}"))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("LOGIN_EXPIRED"))
    );
    let (status, _, _) = stranger
        .get(&idp, &format!("/login/mobile/qr?order={order}"))
        .await;
    assert_eq!(status, 400);

    // An order reference that does not exist gets exactly the same answer, so the
    // endpoints do not tell which references are live (issue 14, defect 10).
    let foreign = stranger
        .get(&idp, &format!("/login/mobile/collect?order={order}"))
        .await;
    let unknown = stranger
        .get(&idp, "/login/mobile/collect?order=no-such-order-ref")
        .await;
    assert_eq!((unknown.0, unknown.1), (foreign.0, foreign.1));
    let unknown_qr = stranger
        .get(&idp, "/login/mobile/qr?order=no-such-order-ref")
        .await;
    assert_eq!(unknown_qr.0, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_start_cancels_the_first_order() {
    let (idp, _db) = memory_idp().await;
    let browser = Browser::open_login(&idp, "region", "journal").await;
    let (first, first_token) = browser.start(&idp).await;
    let (_second, _) = browser.start(&idp).await;
    let (body, _) = browser.collect(&idp, &first).await;
    assert_eq!(
        (body["status"].as_str(), body["hint"].as_str()),
        (Some("failed"), Some("cancelled"))
    );
    assert_eq!(
        refused_code(
            phone(&idp)
                .claim(
                    &Start::AutostartToken(first_token),
                    &credential("anna-mobile")
                )
                .await
        ),
        "ORDER_NOT_ACTIVE"
    );
}

// --- The engine's timing and race rules, with a manual clock, on both stores. ---

fn display() -> OrderDisplay {
    OrderDisplay {
        application_sv: "Journalen".into(),
        application_en: "Records".into(),
        organisation_sv: "Region Exempelland".into(),
        organisation_en: "Region Exempelland".into(),
    }
}

async fn engine_on(store: SharedStore, clock: &ManualClock) -> (OrderEngine, String, String) {
    let engine = OrderEngine::new(store, OrderSettings::default());
    let started = engine
        .start("login-1", display(), idp::clock::Clock::now(clock))
        .await
        .unwrap();
    (engine, started.order_ref, started.autostart_token)
}

fn clock() -> ManualClock {
    ManualClock::new(time::macros::datetime!(2026-11-22 07:00 UTC))
}

async fn stores() -> Vec<(&'static str, SharedStore, ManualClock, Option<RedisServer>)> {
    let memory_clock = clock();
    let redis = RedisServer::start().await.unwrap();
    let redis_store = RedisStore::new(&redis.url(), "mobile", Duration::from_secs(2)).unwrap();
    vec![
        (
            "memory",
            Arc::new(MemoryStore::new(Arc::new(memory_clock.clone()))),
            memory_clock,
            None,
        ),
        ("redis", Arc::new(redis_store), clock(), Some(redis)),
    ]
}

fn now(clock: &ManualClock) -> time::OffsetDateTime {
    idp::clock::Clock::now(clock)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_qr_code_is_refused_and_a_fresh_one_accepted() {
    for (name, store, clock, _redis) in stores().await {
        let (engine, order, _) = engine_on(store, &clock).await;
        let first_code = engine
            .current_qr(&order, now(&clock))
            .await
            .unwrap()
            .unwrap();
        clock.advance(time::Duration::seconds(12));
        let stale = engine
            .claim(&ClaimStart::Qr(first_code), &holder(), now(&clock))
            .await
            .unwrap_err();
        assert!(matches!(stale, MobileError::QrStale), "{name}: {stale:?}");
        let fresh = engine
            .current_qr(&order, now(&clock))
            .await
            .unwrap()
            .unwrap();
        assert!(fresh.contains(".12."), "{name}: {fresh}");
        engine
            .claim(&ClaimStart::Qr(fresh.clone()), &holder(), now(&clock))
            .await
            .unwrap();
        // A forged auth code for the current second is refused too.
        let last = if fresh.ends_with('0') { '1' } else { '0' };
        let forged = format!("{}{last}", &fresh[..fresh.len() - 1]);
        assert!(
            matches!(
                engine
                    .claim(&ClaimStart::Qr(forged), &holder(), now(&clock))
                    .await,
                Err(MobileError::QrInvalid)
            ),
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_app_within_thirty_seconds_fails_with_start_failed() {
    for (name, store, clock, _redis) in stores().await {
        let (engine, order, token) = engine_on(store, &clock).await;
        clock.advance(time::Duration::seconds(31));
        let collect = engine.collect(&order, now(&clock)).await.unwrap();
        assert_eq!(
            (collect.status, collect.hint),
            (Status::Failed, Some(Hint::StartFailed)),
            "{name}"
        );
        let late = engine
            .claim(&ClaimStart::AutostartToken(token), &holder(), now(&clock))
            .await
            .unwrap_err();
        assert!(matches!(late, MobileError::Expired), "{name}: {late:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_not_completed_within_its_lifetime_expires() {
    for (name, store, clock, _redis) in stores().await {
        let (engine, order, token) = engine_on(store, &clock).await;
        clock.advance(time::Duration::seconds(10));
        let claimed = engine
            .claim(&ClaimStart::AutostartToken(token), &holder(), now(&clock))
            .await
            .unwrap();
        clock.advance(time::Duration::seconds(175));
        let collect = engine.collect(&order, now(&clock)).await.unwrap();
        assert_eq!(
            (collect.status, collect.hint),
            (Status::Failed, Some(Hint::ExpiredTransaction)),
            "{name}"
        );
        let late = engine
            .decline(&claimed.claim_token, now(&clock))
            .await
            .unwrap_err();
        assert!(
            matches!(late, MobileError::Expired | MobileError::NotActive),
            "{name}: {late:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_concurrent_claims_exactly_one_wins() {
    for (name, store, clock, _redis) in stores().await {
        for round in 0..3 {
            let (engine, _, token) = engine_on(store.clone(), &clock).await;
            let barrier = Arc::new(tokio::sync::Barrier::new(2));
            let tasks: Vec<_> = (0..2)
                .map(|_| {
                    let (engine, token, barrier, at) =
                        (engine.clone(), token.clone(), barrier.clone(), now(&clock));
                    tokio::spawn(async move {
                        barrier.wait().await;
                        engine
                            .claim(&ClaimStart::AutostartToken(token), &holder(), at)
                            .await
                    })
                })
                .collect();
            let results = futures::future::join_all(tasks).await;
            let wins = results
                .iter()
                .filter(|r| r.as_ref().unwrap().is_ok())
                .count();
            assert_eq!(wins, 1, "{name}, round {round}");
        }
    }
}

/// `token` with its random part replaced: it names the same order.
fn forged(token: &str) -> String {
    let order_ref = &token[..idp::session::RANDOM_KEY_LENGTH];
    format!("{order_ref}{}", idp::session::random_key())
}

/// The app declines with `claim_token`: order `order` ends as cancelled by the user
/// (`store` names the store in a failure).
async fn decline_ends(
    engine: &OrderEngine,
    claim_token: &str,
    order: &str,
    at: time::OffsetDateTime,
    store: &str,
) {
    engine
        .decline(claim_token, at)
        .await
        .unwrap_or_else(|e| panic!("{store}: {e:?}"));
    let collect = engine.collect(order, at).await.unwrap();
    assert_eq!(
        (collect.status, collect.hint),
        (Status::Failed, Some(Hint::UserCancel)),
        "{store}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_that_names_an_order_counts_only_if_the_order_handed_it_out() {
    for (name, store, clock, _redis) in stores().await {
        let (engine, order, token) = engine_on(store, &clock).await;
        assert!(token.starts_with(&order), "{name}: {token}");
        let refused = engine
            .claim(
                &ClaimStart::AutostartToken(forged(&token)),
                &holder(),
                now(&clock),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(refused, MobileError::OrderNotFound),
            "{name}: {refused:?}"
        );
        // A QR code's auth code covers its second, not its token: a forged token with
        // the screen's current code is refused too.
        let qr = engine
            .current_qr(&order, now(&clock))
            .await
            .unwrap()
            .unwrap();
        let parts: Vec<&str> = qr.split('.').collect();
        let forged_qr = format!(
            "{}.{}.{}.{}",
            parts[0],
            forged(parts[1]),
            parts[2],
            parts[3]
        );
        let refused = engine
            .claim(&ClaimStart::Qr(forged_qr), &holder(), now(&clock))
            .await
            .unwrap_err();
        assert!(
            matches!(refused, MobileError::OrderNotFound),
            "{name}: {refused:?}"
        );
        // The order still waits for its own app; then a forged claim token is refused
        // and the order stays claimed for the right one.
        let claimed = engine
            .claim(&ClaimStart::AutostartToken(token), &holder(), now(&clock))
            .await
            .unwrap();
        let refused = engine
            .decline(&forged(&claimed.claim_token), now(&clock))
            .await
            .unwrap_err();
        assert!(
            matches!(refused, MobileError::ClaimInvalid),
            "{name}: {refused:?}"
        );
        assert_eq!(
            engine.collect(&order, now(&clock)).await.unwrap().hint,
            Some(Hint::UserSign),
            "{name}"
        );
        decline_ends(&engine, &claimed.claim_token, &order, now(&clock), name).await;
    }
}

/// A state change compares the order's bytes as read, not the order encoded again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_stored_in_other_bytes_still_moves() {
    for (name, store, clock, _redis) in stores().await {
        let (engine, order, token) = engine_on(store.clone(), &clock).await;
        e2e::fixtures::rewrite_order_in_other_bytes(&store, &format!("o:{order}")).await;
        let claimed = engine
            .claim(&ClaimStart::AutostartToken(token), &holder(), now(&clock))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        e2e::fixtures::rewrite_order_in_other_bytes(&store, &format!("o:{order}")).await;
        decline_ends(&engine, &claimed.claim_token, &order, now(&clock), name).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_of_another_person_than_expected_fails_the_order() {
    let (idp, _db) = memory_idp().await;
    let browser = Browser::open_login(&idp, "region", "journal").await;
    let anna = idp
        .state
        .directory
        .find_by_hsa_id(&"SE2321009991-anna01".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    let login = idp
        .state
        .pending_logins
        .find(&browser.login)
        .await
        .unwrap()
        .unwrap();
    assert!(idp
        .state
        .pending_logins
        .expect_person(&login, &anna.id)
        .await
        .unwrap());

    let (order, autostart) = browser.start(&idp).await;
    let (_, claim) = phone(&idp)
        .claim(&Start::AutostartToken(autostart), &credential("bertil"))
        .await
        .unwrap();
    let result = phone(&idp).approve(&claim, &credential("bertil")).await;
    assert_eq!(refused_code(result), "USER_MISMATCH");
    let (body, cookie) = browser.collect(&idp, &order).await;
    assert_eq!(
        (body["hint"].as_str(), body["code"].as_str()),
        (Some("certificateErr"), Some("USER_MISMATCH"))
    );
    assert!(cookie.is_none());

    // The expected person completes a new order.
    let (order, autostart) = browser.start(&idp).await;
    let (_, claim) = phone(&idp)
        .claim(
            &Start::AutostartToken(autostart),
            &credential("anna-mobile"),
        )
        .await
        .unwrap();
    phone(&idp)
        .approve(&claim, &credential("anna-mobile"))
        .await
        .unwrap();
    assert_eq!(browser.collect(&idp, &order).await.0["status"], "complete");
}

/// Every error of the app API is the documented JSON with a code, whatever is wrong
/// with the body: not JSON, broken JSON, wrong types, too large (issue 14, defect 7).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_app_requests_get_the_documented_json_error() {
    let (idp, _db) = memory_idp().await;
    let client = e2e::https_client();
    let oversized = format!("{{\"qr\": \"{}\"}}", "x".repeat(3 * 1024 * 1024));
    for path in [
        "/mobile/v1/claim",
        "/mobile/v1/complete",
        "/mobile/v1/decline",
    ] {
        for (what, content_type, body, status) in [
            ("not JSON", "text/plain", "{}".to_owned(), 415),
            (
                "broken JSON",
                "application/json",
                "{\"qr\": ".to_owned(),
                400,
            ),
            (
                "wrong types",
                "application/json",
                "{\"qr\": 5, \"claim_token\": []}".to_owned(),
                400,
            ),
            ("too large", "application/json", oversized.clone(), 413),
        ] {
            let response = client
                .post(idp.url(path))
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
            let got = response.status().as_u16();
            let answer: Value = response.json().await.unwrap_or(Value::Null);
            assert_eq!(
                (got, answer["error"].as_str()),
                (status, Some("REQUEST_INVALID")),
                "{path}, {what}: {answer}"
            );
            assert!(answer["message"].is_string(), "{path}, {what}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rsa_1024_certificate_is_refused_as_weak_not_as_a_bad_signature() {
    use base64::Engine;
    let (idp, _db) = memory_idp().await;
    let browser = Browser::open_login(&idp, "region", "journal").await;
    let (order, autostart) = browser.start(&idp).await;
    // The weak key's signature is beside the point (the crypto library cannot even check
    // it): the certificate is what is refused. (An app of our own makes the requests:
    // the reference phone does not hold RSA-1024 keys.)
    let weak = e2e::test_certs::Factory::new().rsa_1024();
    let b64 = |der: &[u8]| base64::engine::general_purpose::STANDARD.encode(der);
    let claim: Value = https_client()
        .post(idp.url("/mobile/v1/claim"))
        .json(&json!({ "autostart_token": autostart, "certificate": b64(weak.leaf()) }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let response = https_client()
        .post(idp.url("/mobile/v1/complete"))
        .json(&json!({
            "claim_token": claim["claim_token"],
            "signature": b64(&[0u8; 128]),
            "signature_algorithm": "rsa-pkcs1-sha256",
            "certificate_chain": weak.chain.iter().map(|c| b64(c)).collect::<Vec<_>>(),
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "CERT_WEAK_KEY", "{body}");
    let (body, _) = browser.collect(&idp, &order).await;
    assert_eq!(body["code"], "CERT_WEAK_KEY");
    let events = idp::storage::find_recent_audit_events(&idp.state.db, 5)
        .await
        .unwrap();
    assert_eq!(events[0].code.as_deref(), Some("CERT_WEAK_KEY"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_order_of_the_same_certificate_holder_stops_both() {
    let (idp, _db) = memory_idp().await;
    let anna = credential("anna-mobile");
    // Anna's own login, and an attacker's order relayed to her phone at the same time.
    let own = Browser::open_login(&idp, "region", "journal").await;
    let relayed = Browser::open_login(&idp, "region", "journal").await;
    let (own_order, own_token) = own.start(&idp).await;
    let (relayed_order, relayed_token) = relayed.start(&idp).await;
    let (_, own_claim) = phone(&idp)
        .claim(&Start::AutostartToken(own_token), &anna)
        .await
        .unwrap();
    assert_eq!(
        refused_code(
            phone(&idp)
                .claim(&Start::AutostartToken(relayed_token), &anna)
                .await
        ),
        "ALREADY_IN_PROGRESS"
    );
    // Both orders are stopped, and both browsers are told why.
    for (browser, order) in [(&own, &own_order), (&relayed, &relayed_order)] {
        let (body, cookie) = browser.collect(&idp, order).await;
        assert_eq!(body["status"], "failed");
        assert_eq!(body["hint"], "alreadyInProgress");
        assert_eq!(body["code"], "ALREADY_IN_PROGRESS");
        assert!(cookie.is_none(), "no session for a stopped order");
    }
    assert_eq!(
        refused_code(phone(&idp).approve(&own_claim, &anna).await),
        "ORDER_NOT_ACTIVE"
    );

    // Afterwards, one login at a time works as always, one after the other.
    for _ in 0..2 {
        let browser = Browser::open_login(&idp, "region", "journal").await;
        let (order, token) = browser.start(&idp).await;
        let (_, claim) = phone(&idp)
            .claim(&Start::AutostartToken(token), &anna)
            .await
            .unwrap();
        phone(&idp).approve(&claim, &anna).await.unwrap();
        let (body, _) = browser.collect(&idp, &order).await;
        assert_eq!(body["status"], "complete");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_completes_only_with_the_certificate_that_claimed_it() {
    let (idp, _db) = memory_idp().await;
    let browser = Browser::open_login(&idp, "region", "journal").await;
    let (order, token) = browser.start(&idp).await;
    let (_, claim) = phone(&idp)
        .claim(&Start::AutostartToken(token), &credential("anna-mobile"))
        .await
        .unwrap();
    assert_eq!(
        refused_code(phone(&idp).approve(&claim, &credential("eva")).await),
        "CERTIFICATE_MISMATCH"
    );
    let (body, _) = browser.collect(&idp, &order).await;
    assert_eq!(body["status"], "failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims_of_one_holder_never_both_go_ahead() {
    let (idp, _db) = memory_idp().await;
    let anna = credential("anna-mobile");
    for _ in 0..5 {
        let first = Browser::open_login(&idp, "region", "journal").await;
        let second = Browser::open_login(&idp, "region", "journal").await;
        let (_, a) = first.start(&idp).await;
        let (_, b) = second.start(&idp).await;
        let (phone_a, phone_b) = (phone(&idp), phone(&idp));
        let (a, b) = (Start::AutostartToken(a), Start::AutostartToken(b));
        let (x, y) = tokio::join!(phone_a.claim(&a, &anna), phone_b.claim(&b, &anna));
        assert!(
            !(x.is_ok() && y.is_ok()),
            "both claims of one holder went ahead"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_smart_cards_certificate_cannot_complete_a_mobile_login_and_the_method_is_recorded() {
    let (idp, _db) = memory_idp().await;
    // Anna's SITHS card certificate (hsaid3: methods = ["certificate"]) in a phone app.
    let card = credential("anna");
    let browser = Browser::open_login(&idp, "region", "journal").await;
    let (order, token) = browser.start(&idp).await;
    let (_, claim) = phone(&idp)
        .claim(&Start::AutostartToken(token), &card)
        .await
        .unwrap();
    assert_eq!(
        refused_code(phone(&idp).approve(&claim, &card).await),
        "CERT_METHOD_NOT_ALLOWED"
    );
    let (body, cookie) = browser.collect(&idp, &order).await;
    assert_eq!(body["code"], "CERT_METHOD_NOT_ALLOWED");
    assert!(cookie.is_none());
    let events = idp::storage::find_recent_audit_events(&idp.state.db, 5)
        .await
        .unwrap();
    assert_eq!(events[0].code.as_deref(), Some("CERT_METHOD_NOT_ALLOWED"));
    assert_eq!(events[0].certificate_type.as_deref(), Some("smart-card"));

    // Her mobile certificate logs in, and session and audit say what happened.
    let mobile = credential("anna-mobile");
    let browser = Browser::open_login(&idp, "region", "journal").await;
    let (order, token) = browser.start(&idp).await;
    let (_, claim) = phone(&idp)
        .claim(&Start::AutostartToken(token), &mobile)
        .await
        .unwrap();
    phone(&idp).approve(&claim, &mobile).await.unwrap();
    let (body, _) = browser.collect(&idp, &order).await;
    assert_eq!(body["status"], "complete");
    let events = idp::storage::find_recent_audit_events(&idp.state.db, 5)
        .await
        .unwrap();
    let login = events.iter().find(|e| e.event == "login").unwrap();
    assert_eq!(login.method.as_deref(), Some("mobile-autostart"));
    assert_eq!(login.certificate_type.as_deref(), Some("mobile"));
    let session_id = idp
        .state
        .pending_logins
        .find(&browser.login)
        .await
        .unwrap()
        .and_then(|l| l.value.authenticated_session)
        .expect("the login's session");
    let session = idp
        .state
        .sso_sessions
        .find(&session_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(session.method.as_str(), "mobile-autostart");
    assert_eq!(
        session.certificate_type,
        Some(idp::auth::CertificateType::Mobile)
    );
}
