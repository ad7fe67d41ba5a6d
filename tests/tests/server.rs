//! The HTTP server: request ids and security headers over HTTPS with the development
//! certificate; the management listener's health, readiness (with Redis going away and
//! coming back, while the node drains) and metrics.

use std::time::Duration;

use std::sync::Arc;

use e2e::agent::Agent;
use e2e::balancer::{Reserved, RoundRobin};
use e2e::idp_server::shipped_config;
use e2e::postgres_pair::PostgresPair;
use e2e::{https_client, PostgresDatabase, RedisServer, SqliteDatabase, TestIdp};
use idp::web::management::Lifecycle;

/// Asks `url` until `done` holds for its status and JSON body (or panics at the deadline,
/// with the last answer).
async fn poll_until(
    url: &str,
    done: impl Fn(u16, &serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut last = serde_json::Value::Null;
    while tokio::time::Instant::now() < deadline {
        if let Ok(response) = reqwest::get(url).await {
            let status = response.status().as_u16();
            last = response.json().await.unwrap_or_default();
            if done(status, &last) {
                return last;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{url} never answered as expected; last: {last}");
}

async fn memory_idp() -> (TestIdp, SqliteDatabase) {
    let db = SqliteDatabase::create().unwrap();
    let idp = TestIdp::start(shipped_config(&db.url, None)).await.unwrap();
    (idp, db)
}

#[tokio::test]
async fn pages_answer_over_https_with_security_headers_and_a_request_id() {
    let (idp, _db) = memory_idp().await;
    let response = https_client()
        .get(idp.url("/accessibility"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    assert_eq!(
        headers["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
    assert!(headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    let id = headers["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
}

#[tokio::test]
async fn a_plain_client_request_id_is_kept_and_a_hostile_one_replaced() {
    let (idp, _db) = memory_idp().await;
    let client = https_client();
    let kept = client
        .get(idp.url("/accessibility"))
        .header("x-request-id", "lb-1234abcd")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["x-request-id"], "lb-1234abcd");
    let replaced = client
        .get(idp.url("/accessibility"))
        .header("x-request-id", "evil\" injected=1")
        .send()
        .await
        .unwrap();
    assert_ne!(replaced.headers()["x-request-id"], "evil\" injected=1");
}

#[tokio::test]
async fn unknown_paths_get_a_json_404_with_a_stable_code_and_the_headers() {
    let (idp, _db) = memory_idp().await;
    let response = https_client()
        .get(idp.url("/no/such/page"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["x-frame-options"], "DENY");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "NOT_FOUND");
}

#[tokio::test]
async fn readyz_is_ok_with_the_embedded_defaults() {
    let (idp, _db) = memory_idp().await;
    let response = reqwest::get(idp.management_url("/readyz")).await.unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["session_store"]["backend"], "memory");
}

async fn ready_status(client: &reqwest::Client, idp: &TestIdp) -> (u16, serde_json::Value) {
    let response = client
        .get(idp.management_url("/readyz"))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_names_redis_while_it_is_down_and_recovers_without_a_restart() {
    let mut redis = RedisServer::start().await.unwrap();
    let db = SqliteDatabase::create().unwrap();
    let idp = TestIdp::start(shipped_config(&db.url, Some(&redis.url())))
        .await
        .unwrap();
    let client = reqwest::Client::new();

    let (status, _) = ready_status(&client, &idp).await;
    assert_eq!(status, 200);

    redis.stop().await.unwrap();
    let (status, body) = ready_status(&client, &idp).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["reason"], "unreachable: session store (redis)");
    assert_eq!(body["checks"]["database"]["status"], "ok");
    assert_eq!(body["checks"]["session_store"]["backend"], "redis");

    redis.restart().await.unwrap();
    let mut last = (0, serde_json::Value::Null);
    for _ in 0..100 {
        last = ready_status(&client, &idp).await;
        if last.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        last.0, 200,
        "not ready again after Redis came back: {}",
        last.1
    );
}

#[tokio::test]
async fn readyz_is_unavailable_when_redis_was_never_up() {
    let db = SqliteDatabase::create().unwrap();
    let url = format!("redis://127.0.0.1:{}/", e2e::free_port());
    let idp = TestIdp::start(shipped_config(&db.url, Some(&url)))
        .await
        .unwrap();
    let (status, body) = ready_status(&reqwest::Client::new(), &idp).await;
    assert_eq!(status, 503);
    assert_eq!(body["reason"], "unreachable: session store (redis)");
}

#[tokio::test]
async fn nothing_operational_is_served_on_the_public_listeners() {
    let (idp, _db) = memory_idp().await;
    for path in ["/healthz", "/readyz", "/metrics"] {
        let public = https_client().get(idp.url(path)).send().await.unwrap();
        assert_eq!(public.status(), 404, "{path} on the public listener");
        let mtls = https_client().get(idp.mtls_url(path)).send().await.unwrap();
        assert_eq!(mtls.status(), 404, "{path} on the mTLS listener");
        let management = reqwest::get(idp.management_url(path)).await.unwrap();
        assert_eq!(
            management.status(),
            200,
            "{path} on the management listener"
        );
    }
}

#[tokio::test]
async fn metrics_count_requests_by_route_pattern_logins_by_application_and_expiry() {
    let (idp, _db) = memory_idp().await;
    let client = https_client();
    for _ in 0..3 {
        client.get(idp.url("/accessibility")).send().await.unwrap();
    }
    client
        .get(idp.url("/secret/SE2321009991-anna01"))
        .send()
        .await
        .unwrap();
    idp.state.metrics.record_login(&idp::metrics::LoginRecord {
        tenant: Some("region"),
        application: Some("journal"),
        method: "mtls",
        result: "success",
        elapsed: Some(Duration::from_millis(1500)),
    });
    let ready = reqwest::get(idp.management_url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    let response = reqwest::get(idp.management_url("/metrics")).await.unwrap();
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let text = response.text().await.unwrap();
    for expected in [
        "idp_http_requests_total{route=\"/accessibility\",method=\"GET\",status=\"200\"} 3",
        "idp_http_request_duration_seconds_count{route=\"/accessibility\"} 3",
        "route=\"unmatched\",method=\"GET\",status=\"404\"} 1",
        "idp_logins_total{tenant=\"region\",application=\"journal\",method=\"mtls\",result=\"success\"} 1",
        "idp_login_duration_seconds_bucket{le=\"2.0\",method=\"mtls\"} 1",
        "idp_certificate_expiry_days{key=\"server.tls_certificate\"}",
        "idp_certificate_expiry_days{key=\"trust.issuer[0].certificate\"}",
        "idp_store_operation_duration_seconds_count{store=\"database\",operation=\"ping\",result=\"ok\"}",
        "idp_store_operation_duration_seconds_count{store=\"session_store\",operation=\"ping\",result=\"ok\"}",
        "idp_ready 1",
        "idp_build_info{",
        "process_resident_memory_bytes",
    ] {
        assert!(text.contains(expected), "{expected} missing in\n{text}");
    }
    assert!(!text.contains("anna01"), "raw paths must not become labels");
}

#[tokio::test]
async fn plain_http_is_refused_on_the_tls_listener() {
    let (idp, _db) = memory_idp().await;
    let plain = reqwest::Client::new();
    let result = plain
        .get(format!("http://localhost:{}/healthz", idp.addr.port()))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(result.is_err() || !result.unwrap().status().is_success());
}

#[tokio::test]
async fn graceful_shutdown_finishes_and_closes_the_port() {
    let (idp, _db) = memory_idp().await;
    let addr = idp.addr;
    https_client()
        .get(idp.url("/accessibility"))
        .send()
        .await
        .unwrap();
    idp.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_shutdown_readiness_turns_503_while_the_node_serves_the_drain_period() {
    let db = SqliteDatabase::create().unwrap();
    let mut config = shipped_config(&db.url, None);
    config.idp.server.drain_seconds = 2;
    let mut idp = TestIdp::start(config).await.unwrap();
    let ready = reqwest::get(idp.management_url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);

    idp.begin_shutdown();
    let body = poll_until(&idp.management_url("/readyz"), |status, body| {
        status == 503 && body["status"] == "draining"
    })
    .await;
    assert!(body["reason"].as_str().unwrap().contains("shutting down"));
    // The load balancer has not noticed yet: a new connection is still served.
    let page = https_client()
        .get(idp.url("/accessibility"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let metrics = reqwest::get(idp.management_url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("idp_ready 0"), "{metrics}");

    let addr = idp.addr;
    idp.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_starts_while_postgresql_is_down_and_turns_ready_when_it_comes() {
    let pg = PostgresDatabase::create().await.unwrap();
    let mut real: url::Url = pg.url.parse().unwrap();
    let real_addr = format!("127.0.0.1:{}", real.port().unwrap())
        .parse()
        .unwrap();
    // The IdP is told of a port where no PostgreSQL listens yet.
    let port = e2e::free_port();
    real.set_port(Some(port)).unwrap();
    let config = shipped_config(real.as_str(), None);

    let lifecycle = Lifecycle::new(Arc::new(idp::metrics::Metrics::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let management = format!("http://{}", listener.local_addr().unwrap());
    let _management =
        idp::app::serve_management(&config, lifecycle.clone(), listener, std::future::pending())
            .unwrap();
    let starting = lifecycle.clone();
    let start = tokio::spawn(async move {
        idp::app::build_state_with(config, Arc::new(idp::clock::SystemClock), &starting).await
    });

    let body = poll_until(&format!("{management}/readyz"), |status, body| {
        status == 503
            && body["reason"]
                .as_str()
                .is_some_and(|r| r.contains("the database"))
    })
    .await;
    assert_eq!(body["status"], "starting", "{body}");
    let live = reqwest::get(format!("{management}/healthz")).await.unwrap();
    assert_eq!(live.status(), 200, "alive while it waits");
    assert!(!start.is_finished(), "the start waits instead of failing");

    // PostgreSQL comes up on that port.
    let _postgres = RoundRobin::start(Reserved::bind_port(port).await, vec![real_addr]).await;
    let state = start
        .await
        .unwrap()
        .expect("started once the database answered");
    poll_until(&format!("{management}/readyz"), |status, _| status == 200).await;
    assert!(!state.registry.load().tenants.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_two_database_hosts_a_node_follows_a_failover_without_a_restart() {
    use e2e::oidc::{authorize_url, browse_to_callback, pkce, CONFIDENTIAL};
    let pg = PostgresPair::start().await.unwrap();
    let idp = TestIdp::start(shipped_config(&pg.url(), None))
        .await
        .unwrap();
    let log_in = || async {
        let (_, challenge) = pkce();
        let authorize = authorize_url(&idp, CONFIDENTIAL, "openid", Some(&challenge), &[]);
        browse_to_callback(
            &Agent::with_certificate("david"),
            &idp,
            &authorize,
            CONFIDENTIAL,
        )
        .await
    };
    log_in().await;

    pg.fail_over().await.unwrap();
    poll_until(&idp.management_url("/readyz"), |status, _| status == 200).await;
    // A login after the failover: its audit record is written on the new primary.
    log_in().await;
    let standby_alone = format!("postgres://idp@127.0.0.1:{}/idp", pg.standby_port);
    let promoted = idp::storage::Database::connect(&standby_alone, 1)
        .await
        .unwrap();
    let logins = idp::storage::find_recent_audit_events(&promoted, 50)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event == "login")
        .count();
    assert_eq!(
        logins, 2,
        "both logins' records are on the promoted primary"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_session_store_is_down_a_login_gets_a_clear_503_page() {
    use e2e::oidc::{authorize_url, pkce, CONFIDENTIAL};
    let mut redis = RedisServer::start().await.unwrap();
    let db = SqliteDatabase::create().unwrap();
    let idp = TestIdp::start(shipped_config(&db.url, Some(&redis.url())))
        .await
        .unwrap();
    redis.stop().await.unwrap();
    let (verifier, challenge) = pkce();
    let nurse = Agent::with_certificate("david");
    let authorize = authorize_url(&idp, CONFIDENTIAL, "openid", Some(&challenge), &[]);
    for url in [
        authorize.clone(),
        idp.url("/login/start?app=region/journal"),
    ] {
        let page = nurse.get(&url).await;
        assert_eq!(page.status, 503, "{url}: {}", page.body);
        assert_eq!(
            page.header("x-idp-error"),
            Some("SESSION_STORE_UNAVAILABLE")
        );
        assert!(page.body.contains("<html lang=\"sv\">"), "{}", page.body);
        assert!(
            page.body.contains("Försök igen om en stund"),
            "{}",
            page.body
        );
        assert!(
            page.location().is_none(),
            "no answer goes back to the application"
        );
    }

    // Redis is back: the same login works without a restart.
    redis.restart().await.unwrap();
    poll_until(&idp.management_url("/readyz"), |status, _| status == 200).await;
    let landed = e2e::oidc::browse_to_callback(&nurse, &idp, &authorize, CONFIDENTIAL).await;
    let code = e2e::oidc::param(&landed, "code").expect("a code after the outage");
    let (status, _, _) = e2e::oidc::exchange_confidential(&idp, &code, &verifier).await;
    assert_eq!(status, 200);
}
