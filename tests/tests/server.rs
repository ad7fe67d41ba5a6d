//! The HTTP server: health, readiness (with Redis going away and coming back), metrics,
//! request ids and security headers, over HTTPS with the development certificate.

use std::time::Duration;

use e2e::idp_server::shipped_config;
use e2e::{https_client, RedisServer, SqliteDatabase, TestIdp};

async fn memory_idp() -> (TestIdp, SqliteDatabase) {
    let db = SqliteDatabase::create().unwrap();
    let idp = TestIdp::start(shipped_config(&db.url, None)).await.unwrap();
    (idp, db)
}

#[tokio::test]
async fn healthz_answers_over_https_with_security_headers_and_a_request_id() {
    let (idp, _db) = memory_idp().await;
    let response = https_client()
        .get(idp.url("/healthz"))
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
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn a_plain_client_request_id_is_kept_and_a_hostile_one_replaced() {
    let (idp, _db) = memory_idp().await;
    let client = https_client();
    let kept = client
        .get(idp.url("/healthz"))
        .header("x-request-id", "lb-1234abcd")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["x-request-id"], "lb-1234abcd");
    let replaced = client
        .get(idp.url("/healthz"))
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
    let response = https_client().get(idp.url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["session_store"]["backend"], "memory");
}

async fn ready_status(client: &reqwest::Client, idp: &TestIdp) -> (u16, serde_json::Value) {
    let response = client.get(idp.url("/readyz")).send().await.unwrap();
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
    let client = https_client();

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
    let (status, body) = ready_status(&https_client(), &idp).await;
    assert_eq!(status, 503);
    assert_eq!(body["reason"], "unreachable: session store (redis)");
}

#[tokio::test]
async fn metrics_count_requests_by_route_pattern() {
    let (idp, _db) = memory_idp().await;
    let client = https_client();
    for _ in 0..3 {
        client.get(idp.url("/healthz")).send().await.unwrap();
    }
    client
        .get(idp.url("/secret/SE2321009991-anna01"))
        .send()
        .await
        .unwrap();
    idp.state.metrics.record_login("mtls", "success");
    let text = client
        .get(idp.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(
            "idp_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"} 3"
        ),
        "{text}"
    );
    assert!(text.contains("idp_http_request_duration_seconds_count{route=\"/healthz\"} 3"));
    assert!(text.contains("route=\"unmatched\",method=\"GET\",status=\"404\"} 1"));
    assert!(!text.contains("anna01"), "raw paths must not become labels");
    assert!(text.contains("idp_logins_total{method=\"mtls\",result=\"success\"} 1"));
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
        .get(idp.url("/healthz"))
        .send()
        .await
        .unwrap();
    idp.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
