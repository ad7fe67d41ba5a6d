//! Abuse limits at the connection level: a slow or idle client is disconnected within the
//! configured timeouts, and one address holding every connection it can open does not
//! lock out another address.

use e2e::agent::Agent;
use e2e::idp_server::shipped_config;
use e2e::oidc::*;
use e2e::{repo_root, SqliteDatabase, TestIdp};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// An upper bound for waiting on something the server must do by itself within a few
/// seconds; reaching it fails the test (it is not a synchronisation sleep).
const GUARD: Duration = Duration::from_secs(20);

async fn idp_with(edit: impl FnOnce(&mut idp::config::LimitsConfig)) -> (TestIdp, SqliteDatabase) {
    let db = SqliteDatabase::create().unwrap();
    let mut config = shipped_config(&db.url, None);
    edit(&mut config.idp.limits);
    (TestIdp::start(config).await.unwrap(), db)
}

fn tls_connector() -> tokio_rustls::TlsConnector {
    idp::server::install_crypto_provider();
    let mut roots = rustls::RootCertStore::empty();
    for cert in
        idp::server::load_certificates(&repo_root().join("certs-dev/tls/tls-ca.pem")).unwrap()
    {
        roots.add(cert).unwrap();
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// A TCP connection to `addr` from the local address `from`.
async fn connect_from(from: IpAddr, addr: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(from, 0))?;
    socket.connect(addr).await
}

async fn tls_from(from: IpAddr, addr: SocketAddr) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = connect_from(from, addr).await?;
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    tls_connector().connect(name, tcp).await
}

/// Reads until the server closes the connection (EOF or reset); `None` if it stays
/// open past the guard.
async fn closed_by_server<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> Option<Vec<u8>> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(GUARD, async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    read.ok().map(|()| received)
}

const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1));

#[tokio::test]
async fn a_slow_header_client_is_disconnected_within_the_header_timeout() {
    let (idp, _db) = idp_with(|limits| limits.header_read_timeout_seconds = 1).await;
    let mut tls = tls_from(LOCAL, idp.addr).await.unwrap();
    // Half a request head, then nothing.
    tls.write_all(b"GET /accessibility HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    tls.flush().await.unwrap();
    let answer = closed_by_server(&mut tls)
        .await
        .expect("the server closes a connection whose request head never completes");
    // hyper answers 408 or just closes; it never served the half request.
    assert!(!String::from_utf8_lossy(&answer).contains("200 OK"));
}

#[tokio::test]
async fn idle_connections_are_closed_after_the_idle_timeout() {
    let (idp, _db) = idp_with(|limits| {
        limits.idle_timeout_seconds = 1;
        limits.header_read_timeout_seconds = 30;
    })
    .await;
    // A TLS connection that never sends a byte of HTTP.
    let mut silent = tls_from(LOCAL, idp.addr).await.unwrap();
    assert!(closed_by_server(&mut silent).await.is_some());

    // A kept-alive connection after one complete request.
    let mut kept = tls_from(LOCAL, idp.addr).await.unwrap();
    kept.write_all(b"GET /accessibility HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let answer = closed_by_server(&mut kept)
        .await
        .expect("the idle kept-alive connection is closed");
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
    let metrics = idp.metrics();
    assert!(metrics.contains("CONNECTION_IDLE_TIMEOUT"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_holding_every_connection_it_can_does_not_lock_out_another() {
    const PER_ADDRESS: usize = 8;
    let (idp, _db) = idp_with(|limits| {
        limits.max_connections_per_address = PER_ADDRESS;
        limits.idle_timeout_seconds = 600;
        limits.header_read_timeout_seconds = 600;
    })
    .await;
    let hog: IpAddr = "127.0.0.3".parse().unwrap();
    // The hog opens three times its share and keeps every connection that stays open.
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..PER_ADDRESS * 3 {
        match tls_from(hog, idp.addr).await {
            Ok(tls) => held.push(tls),
            Err(_) => refused += 1,
        }
    }
    assert_eq!(held.len(), PER_ADDRESS, "refused {refused}");
    let metrics = idp.metrics();
    assert!(metrics.contains("CONNECTIONS_ADDRESS_FULL"), "{metrics}");

    // Meanwhile a nurse at another address logs in as usual.
    let nurse = Agent::with_certificate_from("david", "127.0.0.2".parse().unwrap());
    let (verifier, challenge) = pkce();
    let authorize = authorize_url(&idp, CONFIDENTIAL, "openid", Some(&challenge), &[]);
    let landed = browse_to_callback(&nurse, &idp, &authorize, CONFIDENTIAL).await;
    let (status, _, _) =
        exchange_confidential(&idp, &param(&landed, "code").unwrap(), &verifier).await;
    assert_eq!(status, 200);

    // The hog's connections were never dropped for the nurse's sake: they still work.
    let first = held.first_mut().unwrap();
    first
        .write_all(b"GET /accessibility HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = closed_by_server(first).await.unwrap();
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_records_the_client_behind_a_trusted_proxy_and_only_there() {
    let (idp, _db) = idp_with(|limits| limits.trusted_proxies = vec![LOCAL]).await;
    // Through the load balancer (a trusted proxy at 127.0.0.1): the client it names.
    let behind_proxy = Agent::with_certificate_from("david", LOCAL)
        .sending("x-forwarded-for", "198.51.100.23, 203.0.113.7");
    // From anywhere else, the header is the client's own claim: the peer counts.
    let direct = Agent::with_certificate_from("david", "127.0.0.2".parse().unwrap())
        .sending("x-forwarded-for", "203.0.113.99");
    for (agent, expected) in [(&behind_proxy, "203.0.113.7"), (&direct, "127.0.0.2")] {
        let (_, challenge) = pkce();
        let authorize = authorize_url(&idp, CONFIDENTIAL, "openid", Some(&challenge), &[]);
        browse_to_callback(agent, &idp, &authorize, CONFIDENTIAL).await;
        let events = idp::storage::find_recent_audit_events(&idp.state.db, 20)
            .await
            .unwrap();
        let login = events
            .iter()
            .find(|e| e.event == "login")
            .expect("a login record");
        assert_eq!(login.client_address.as_deref(), Some(expected));
    }
}

/// An HTTPS client (no redirects followed) connecting from `from`.
fn client_from(from: IpAddr) -> reqwest::Client {
    idp::server::install_crypto_provider();
    let ca = std::fs::read(repo_root().join("certs-dev/tls/tls-ca.pem")).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .local_address(from)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_logins_and_orders_from_one_address_gets_429s_while_another_logs_in() {
    const LOGINS: u32 = 20;
    const ORDERS: u32 = 5;
    let (idp, _db) = idp_with(|limits| {
        limits.rates.login_starts_per_minute = LOGINS;
        limits.rates.order_starts_per_minute = ORDERS;
    })
    .await;
    let flooder = client_from("127.0.0.3".parse().unwrap());

    // 200 new logins (each would open a pending login) from one address.
    let (_, challenge) = pkce();
    let authorize = authorize_url(&idp, CONFIDENTIAL, "openid", Some(&challenge), &[]);
    let mut opened = 0;
    let mut limited = 0;
    let mut binding = None;
    for _ in 0..200 {
        let response = flooder.get(&authorize).send().await.unwrap();
        match response.status().as_u16() {
            429 => {
                limited += 1;
                let retry_after: u64 = response.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!((1..=60).contains(&retry_after));
                assert_eq!(response.headers()["x-idp-error"], "RATE_LIMITED");
                let page = response.text().await.unwrap();
                assert!(page.contains("För många inloggningar"), "{page}");
            }
            _ => {
                opened += 1;
                let location = response.headers()["location"].to_str().unwrap().to_owned();
                let cookie = response.headers()["set-cookie"]
                    .to_str()
                    .unwrap()
                    .to_owned();
                binding = Some((location, cookie));
            }
        }
    }
    // At most the burst got a pending login: memory is bounded by the quota, not the flood.
    assert_eq!(opened, LOGINS, "{opened} opened, {limited} limited");
    assert_eq!(limited, 200 - LOGINS);

    // 50 order starts for the last login the flooder opened.
    let (location, cookie) = binding.unwrap();
    let login = reqwest::Url::parse(&idp.url(&location))
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "login")
        .map(|(_, v)| v.into_owned())
        .expect("the login page names the pending login");
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let mut started = 0;
    for _ in 0..50 {
        let response = flooder
            .post(idp.url("/login/mobile/start"))
            .header("cookie", &cookie)
            .json(&serde_json::json!({ "login": login }))
            .send()
            .await
            .unwrap();
        match response.status().as_u16() {
            200 => started += 1,
            429 => {
                assert!(response.headers().contains_key("retry-after"));
                let body: serde_json::Value = response.json().await.unwrap();
                assert_eq!(body["error"], "RATE_LIMITED");
            }
            other => panic!("order start answered {other}"),
        }
    }
    assert_eq!(started, ORDERS);
    // The waiting page that starts an order (the login page's mobile links) has the login
    // starts' quota in a bucket of its own, and answers with a page.
    let mut page_starts = 0;
    for _ in 0..LOGINS + 5 {
        let page = flooder
            .get(idp.url(&format!("/login/mobile?login={login}&device=other")))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        match page.status().as_u16() {
            303 => page_starts += 1,
            429 => {
                assert_eq!(page.headers()["x-idp-error"], "RATE_LIMITED");
                let content_type: mime::Mime = page.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert_eq!(
                    content_type.essence_str(),
                    mime::TEXT_HTML.essence_str(),
                    "a page"
                );
                let text = page.text().await.unwrap();
                assert!(text.contains("RATE_LIMITED"), "the page names its code");
            }
            other => panic!("the waiting page's start answered {other}"),
        }
    }
    assert_eq!(page_starts, LOGINS);
    let metrics = idp.metrics();
    assert!(
        metrics.contains("idp_rate_limited_total{kind=\"login-start\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("idp_rate_limited_total{kind=\"order-start\"}"),
        "{metrics}"
    );

    // A nurse at another address logs in meanwhile.
    let nurse = Agent::with_certificate_from("david", "127.0.0.2".parse().unwrap());
    let (verifier, challenge) = pkce();
    let authorize = authorize_url(&idp, CONFIDENTIAL, "openid", Some(&challenge), &[]);
    let landed = browse_to_callback(&nurse, &idp, &authorize, CONFIDENTIAL).await;
    let (status, _, _) =
        exchange_confidential(&idp, &param(&landed, "code").unwrap(), &verifier).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_api_the_token_endpoint_and_the_admin_api_answer_429_in_their_own_format() {
    let (idp, _db) = idp_with(|limits| {
        limits.rates.mobile_app_per_minute = 2;
        limits.rates.token_requests_per_minute = 2;
        limits.rates.admin_api_per_minute = 2;
    })
    .await;
    let client = client_from(LOCAL);
    let token = idp::admin::create_api_token(
        &idp.state.db,
        idp::admin::TokenScope::Operator,
        idp::admin::TokenPurpose::Admin,
        "limits",
        "operator:test",
        idp::clock::Clock::now(&idp::clock::SystemClock),
    )
    .await
    .unwrap();
    // Each route: send until refused; the refusal is the route's own error format.
    let mut refusals = Vec::new();
    for kind in ["app", "token", "admin"] {
        let mut refused = None;
        for _ in 0..5 {
            let request = match kind {
                "app" => client
                    .post(idp.url("/mobile/v1/claim"))
                    .json(&serde_json::json!({ "qr": "x", "certificate": "eA==" })),
                "token" => client
                    .post(idp.url("/oidc/token"))
                    .form(&[("grant_type", "authorization_code"), ("code", "x")]),
                _ => client
                    .get(idp.url("/admin/api/v1/tenants"))
                    .bearer_auth(&token.token),
            };
            let response = request.send().await.unwrap();
            if response.status() == 429 {
                refused = Some(response);
                break;
            }
        }
        let response = refused.unwrap_or_else(|| panic!("{kind}: never refused"));
        assert!(response.headers().contains_key("retry-after"), "{kind}");
        let body: serde_json::Value = response.json().await.unwrap();
        refusals.push((kind, body));
    }
    assert_eq!(refusals[0].1["error"], "RATE_LIMITED");
    assert_eq!(refusals[1].1["error"], "temporarily_unavailable");
    assert_eq!(refusals[2].1["error"]["code"], "RATE_LIMITED");
}
