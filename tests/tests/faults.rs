//! Faults an operator meets, survived: the database or Redis going away, failing over
//! or restarting while people log in, and a node cut off from both. Every login is
//! counted: attempted, completed, and lost (none may be). The cuts are TCP links the
//! test drops and restores (`e2e::balancer::Link`): to the node, the same as a network
//! partition or a restarted server.

use std::time::Duration;

use e2e::agent::Agent;
use e2e::balancer::Link;
use e2e::idp_server::shipped_config;
use e2e::oidc::{
    authorize_url, browse_to_callback, exchange_confidential, param, pkce, CONFIDENTIAL,
};
use e2e::{PostgresDatabase, TestIdp};

/// One OIDC login of `david` to the confidential client, code exchanged: `true` when
/// the client got its tokens, `false` when a page refused it on the way.
async fn log_in(idp: &TestIdp) -> bool {
    let (verifier, challenge) = pkce();
    let authorize = authorize_url(idp, CONFIDENTIAL, "openid", Some(&challenge), &[]);
    let callback = e2e::oidc::callback(CONFIDENTIAL);
    let nurse = Agent::with_certificate("david");
    let landed = match nurse.open_until(&authorize, &callback).await {
        Ok(landed) => landed,
        Err(login_page) if login_page.status == 200 => {
            match nurse.log_in_until(idp, &login_page, &callback).await {
                Ok(landed) => landed,
                Err(_) => return false,
            }
        }
        Err(_) => return false,
    };
    let Some(code) = param(&landed, "code") else {
        return false;
    };
    exchange_confidential(idp, &code, &verifier).await.0 == 200
}

/// A login as a user makes it through a disruption: on a refusal ("try again in a
/// moment") tried again, for up to ten seconds. `true` when it completed.
async fn log_in_trying_again(idp: &TestIdp) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        if log_in(idp).await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// The IdP on a fresh PostgreSQL database reached through a link the test can cut.
async fn idp_behind_a_link(audit_buffer_events: usize) -> (TestIdp, Link, PostgresDatabase) {
    let pg = PostgresDatabase::create().await.unwrap();
    let mut url: url::Url = pg.url.parse().unwrap();
    let link = Link::start(
        format!("127.0.0.1:{}", url.port().unwrap())
            .parse()
            .unwrap(),
    )
    .await;
    url.set_port(Some(link.port())).unwrap();
    let mut config = shipped_config(url.as_str(), None);
    // The directory cache carries the logins through the outage (the person was looked
    // up a moment before).
    config.idp.directory.cache_ttl_millis = 120_000;
    config.idp.storage.audit_buffer_events = audit_buffer_events;
    (TestIdp::start(config).await.unwrap(), link, pg)
}

async fn logins_recorded(pg: &PostgresDatabase) -> usize {
    let db = idp::storage::Database::connect(&pg.url, 1).await.unwrap();
    idp::storage::find_recent_audit_events(&db, 1000)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.event == "login")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_postgresql_is_away_logins_go_on_and_no_audit_record_is_lost() {
    const DURING: usize = 5;
    let (idp, link, pg) = idp_behind_a_link(1000).await;
    assert!(log_in(&idp).await, "the first login, with the database up");

    link.cut();
    let mut completed = 0;
    for _ in 0..DURING {
        completed += usize::from(log_in(&idp).await);
    }
    let kept = idp.state.db.audit_buffer().len();
    assert!(kept >= DURING, "the records are kept meanwhile: {kept}");

    link.restore().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !idp.state.db.audit_buffer().is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let attempted = 1 + DURING;
    let recorded = logins_recorded(&pg).await;
    eprintln!(
        "logins attempted {attempted}, completed {}, records lost {}",
        1 + completed,
        attempted - recorded.min(attempted)
    );
    assert_eq!(completed, DURING, "every login during the outage completed");
    assert_eq!(
        recorded, attempted,
        "every login's record reached the database"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_audit_buffer_is_full_logins_fail_closed() {
    let (idp, link, _pg) = idp_behind_a_link(2).await;
    assert!(log_in(&idp).await);
    link.cut();
    let callback = e2e::oidc::callback(CONFIDENTIAL);
    let mut refusals = Vec::new();
    for _ in 0..3 {
        let (_, challenge) = pkce();
        let authorize = authorize_url(&idp, CONFIDENTIAL, "openid", Some(&challenge), &[]);
        let nurse = Agent::with_certificate("david");
        let login_page = nurse
            .open_until(&authorize, &callback)
            .await
            .expect_err("a login page");
        if let Err(page) = nurse.log_in_until(&idp, &login_page, &callback).await {
            refusals.push((page.status.as_u16(), page.error_code().map(str::to_owned)));
        }
    }
    // The first login's records (the login, the code) fill the buffer of two; the next
    // logins cannot be recorded and are refused with the clear 503.
    assert_eq!(
        refusals,
        vec![(503, Some("AUDIT_BUFFER_FULL".to_owned())); 2],
        "logins that cannot be recorded are refused"
    );
    let metrics = idp.metrics();
    assert!(metrics.contains("idp_audit_buffered_events 2"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_cut_off_from_its_stores_answers_503_while_the_other_node_logs_people_in() {
    let redis = e2e::RedisServer::start().await.unwrap();
    let pg = PostgresDatabase::create().await.unwrap();
    let pg_url: url::Url = pg.url.parse().unwrap();
    let redis_url: url::Url = redis.url().parse().unwrap();
    let address = |url: &url::Url| {
        format!("127.0.0.1:{}", url.port().unwrap())
            .parse()
            .unwrap()
    };
    // Node A reaches both stores through links that the partition cuts; node B directly.
    let to_pg = Link::start(address(&pg_url)).await;
    let to_redis = Link::start(address(&redis_url)).await;
    let through = |url: &url::Url, link: &Link| {
        let mut url = url.clone();
        url.set_port(Some(link.port())).unwrap();
        url.to_string()
    };
    let a = TestIdp::start(shipped_config(
        &through(&pg_url, &to_pg),
        Some(&through(&redis_url, &to_redis)),
    ))
    .await
    .unwrap();
    let b = TestIdp::start(shipped_config(&pg.url, Some(&redis.url())))
        .await
        .unwrap();
    let ready = |idp: &TestIdp| {
        let url = idp.management_url("/readyz");
        async move { reqwest::get(url).await.unwrap().status().as_u16() }
    };
    assert!(log_in(&a).await && log_in(&b).await);

    to_pg.cut();
    to_redis.cut();
    let mut counts = (0, 0); // (attempted on B, completed on B)
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while ready(&a).await != 503 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(ready(&a).await, 503, "the cut-off node turns unready");
    let page = Agent::with_certificate("david")
        .get(&a.url("/login/start?app=region/journal"))
        .await;
    assert_eq!(page.status, 503, "{}", page.body);
    assert!(
        page.body.contains("Försök igen om en stund"),
        "{}",
        page.body
    );
    for _ in 0..3 {
        counts.0 += 1;
        counts.1 += usize::from(log_in(&b).await);
    }
    assert_eq!(ready(&b).await, 200);

    to_pg.restore().await;
    to_redis.restore().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while ready(&a).await != 200 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(ready(&a).await, 200, "ready again without a restart");
    assert!(log_in(&a).await, "node A logs people in again");
    eprintln!(
        "during the partition: logins attempted on the other node {}, completed {}, lost {}",
        counts.0,
        counts.1,
        counts.0 - counts.1
    );
    assert_eq!(counts.1, counts.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_with_its_append_only_file_loses_no_sso_session() {
    let mut redis = e2e::RedisServer::start_append_only().await.unwrap();
    let db = e2e::SqliteDatabase::create().unwrap();
    let idp = TestIdp::start(shipped_config(&db.url, Some(&redis.url())))
        .await
        .unwrap();
    let nurses: Vec<Agent> = (0..3).map(|_| Agent::with_certificate("david")).collect();
    let callback = e2e::oidc::callback(CONFIDENTIAL);
    for nurse in &nurses {
        let (_, challenge) = pkce();
        let authorize = authorize_url(&idp, CONFIDENTIAL, "openid", Some(&challenge), &[]);
        browse_to_callback(nurse, &idp, &authorize, CONFIDENTIAL).await;
    }

    redis.restart().await.unwrap();
    let mut kept = 0;
    for nurse in &nurses {
        let (_, challenge) = pkce();
        let authorize = authorize_url(&idp, CONFIDENTIAL, "openid", Some(&challenge), &[]);
        // Single sign-on: straight back to the application, no login page.
        let mut answer = nurse.open_until(&authorize, &callback).await;
        for _ in 0..50 {
            if answer.is_ok() {
                break;
            }
            // The node reconnects to Redis on the next command; a request in between
            // gets the 503 page, and the user tries again.
            tokio::time::sleep(Duration::from_millis(50)).await;
            answer = nurse.open_until(&authorize, &callback).await;
        }
        kept += usize::from(answer.is_ok_and(|url| param(&url, "code").is_some()));
    }
    eprintln!(
        "SSO sessions before the restart 3, after it {kept}, lost {}",
        3 - kept
    );
    assert_eq!(kept, nurses.len(), "every SSO session survived the restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_go_on_through_a_redis_sentinel_failover() {
    use e2e::redis_topologies::{RedisSentinel, SENTINEL_MASTER};
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;

    let redis = RedisSentinel::start().await.unwrap();
    let db = e2e::SqliteDatabase::create().unwrap();
    let mut config = shipped_config(&db.url, Some(&redis.node_url()));
    config.idp.session.redis_sentinels = redis.sentinel_urls();
    config.idp.session.redis_sentinel_master = Some(SENTINEL_MASTER.to_owned());
    let idp = Arc::new(TestIdp::start(config).await.unwrap());

    let (attempted, completed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let stop = Arc::new(AtomicBool::new(false));
    let running = {
        let (idp, attempted, completed, stop) = (
            idp.clone(),
            attempted.clone(),
            completed.clone(),
            stop.clone(),
        );
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                attempted.fetch_add(1, Ordering::SeqCst);
                if log_in_trying_again(&idp).await {
                    completed.fetch_add(1, Ordering::SeqCst);
                }
            }
        })
    };
    let completed_at_least = |n: usize| {
        let completed = completed.clone();
        async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            while completed.load(Ordering::SeqCst) < n && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            completed.load(Ordering::SeqCst) >= n
        }
    };
    assert!(completed_at_least(2).await, "logins before the failover");
    redis.fail_over().await.unwrap();
    let after = completed.load(Ordering::SeqCst) + 3;
    assert!(completed_at_least(after).await, "logins after the failover");
    stop.store(true, Ordering::SeqCst);
    running.await.unwrap();

    let (attempted, completed) = (
        attempted.load(Ordering::SeqCst),
        completed.load(Ordering::SeqCst),
    );
    eprintln!(
        "logins attempted {attempted}, completed {completed}, lost {}",
        attempted - completed
    );
    assert_eq!(completed, attempted, "no login lost to the failover");
}
