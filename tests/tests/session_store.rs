//! The session-store contract, run against the in-memory store and a real Redis: one
//! server, a master behind Sentinel, and a Cluster.

use std::sync::Arc;
use std::time::Duration;

use e2e::redis_topologies::{RedisCluster, RedisSentinel, SENTINEL_MASTER};
use e2e::RedisServer;
use idp::clock::ManualClock;
use idp::session::{
    Entry, MemoryStore, Namespace, RedisStore, RedisTarget, ReplayCache, SessionStore, SharedStore,
    TypedStore,
};

/// The Redis processes a fixture keeps running.
#[allow(dead_code)]
enum Servers {
    Single(RedisServer),
    Sentinel(RedisSentinel),
    Cluster(RedisCluster),
}

/// A store under test, with a way to let an entry's TTL run out.
struct Fixture {
    store: SharedStore,
    clock: Option<ManualClock>,
    _redis: Option<Servers>,
}

impl Fixture {
    async fn memory() -> Self {
        let clock = ManualClock::new(time::macros::datetime!(2026-11-22 07:00 UTC));
        Self {
            store: Arc::new(MemoryStore::new(Arc::new(clock.clone()))),
            clock: Some(clock),
            _redis: None,
        }
    }

    async fn redis() -> Self {
        let redis = RedisServer::start().await.unwrap();
        let prefix = format!("test-{}", uuid::Uuid::new_v4().simple());
        let store = RedisStore::new(&redis.url(), &prefix, Duration::from_secs(2)).unwrap();
        Self {
            store: Arc::new(store),
            clock: None,
            _redis: Some(Servers::Single(redis)),
        }
    }

    async fn sentinel() -> Self {
        let redis = RedisSentinel::start().await.unwrap();
        let store =
            RedisStore::at(&sentinel_target(&redis), "test", Duration::from_secs(2)).unwrap();
        Self {
            store: Arc::new(store),
            clock: None,
            _redis: Some(Servers::Sentinel(redis)),
        }
    }

    async fn cluster() -> Self {
        let redis = RedisCluster::start().await.unwrap();
        let target = RedisTarget::Cluster(redis.node_urls());
        let store = RedisStore::at(&target, "test", Duration::from_secs(2)).unwrap();
        Self {
            store: Arc::new(store),
            clock: None,
            _redis: Some(Servers::Cluster(redis)),
        }
    }

    /// The fixture's time: its manual clock's, or the system's on Redis.
    fn now(&self) -> time::OffsetDateTime {
        use idp::clock::Clock;
        match &self.clock {
            Some(clock) => clock.now(),
            None => idp::clock::SystemClock.now(),
        }
    }

    /// The fixture's clock for the IdP's components: its manual clock, or the system's.
    fn shared_clock(&self) -> idp::clock::SharedClock {
        match &self.clock {
            Some(clock) => Arc::new(clock.clone()),
            None => Arc::new(idp::clock::SystemClock),
        }
    }

    /// SSO sessions on the fixture's store.
    fn sso_sessions(&self) -> idp::login::SsoSessions {
        let idle = idp::login::IdleTimeouts {
            default: Duration::from_secs(3600),
            shared_workstation: Duration::from_secs(600),
        };
        idp::login::SsoSessions::new(self.store.clone(), LONG, idle)
    }

    /// Waits until `key` has expired: the manual clock moves past the TTL, or, on
    /// Redis, the server's own expiry is awaited (bounded).
    async fn let_expire(&self, ns: Namespace, key: &str, ttl: Duration) {
        match &self.clock {
            Some(clock) => clock
                .advance(time::Duration::try_from(ttl).unwrap() + time::Duration::milliseconds(1)),
            None => {
                for _ in 0..400 {
                    if self.store.get(ns, key).await.unwrap().is_none() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                panic!("entry {key} did not expire on Redis");
            }
        }
    }
}

const LONG: Duration = Duration::from_secs(60);

async fn put_then_get_returns_the_value(f: Fixture) {
    let s = &f.store;
    assert_eq!(s.get(Namespace::SsoSession, "a").await.unwrap(), None);
    s.put(Namespace::SsoSession, "a", b"one", LONG)
        .await
        .unwrap();
    assert_eq!(
        s.get(Namespace::SsoSession, "a").await.unwrap().as_deref(),
        Some(&b"one"[..])
    );
    s.put(Namespace::SsoSession, "a", b"two", LONG)
        .await
        .unwrap();
    assert_eq!(
        s.get(Namespace::SsoSession, "a").await.unwrap().as_deref(),
        Some(&b"two"[..])
    );
}

async fn put_many_stores_every_entry_with_its_ttl(f: Fixture) {
    let s = &f.store;
    let short = Duration::from_millis(20);
    let entry = |ns, key: &str, value: &[u8], ttl| Entry {
        ns,
        key: key.to_owned(),
        value: value.to_vec(),
        ttl,
    };
    s.put(Namespace::OidcGrant, "g", b"old", LONG)
        .await
        .unwrap();
    s.put_many(&[
        entry(Namespace::OidcGrant, "g", b"grant", LONG),
        entry(Namespace::OidcCode, "used", b"marker", LONG),
        entry(Namespace::OidcRefresh, "r", b"refresh", short),
    ])
    .await
    .unwrap();
    let get = |ns, key: &'static str| async move { s.get(ns, key).await.unwrap() };
    assert_eq!(
        get(Namespace::OidcGrant, "g").await.as_deref(),
        Some(&b"grant"[..])
    );
    assert_eq!(
        get(Namespace::OidcCode, "used").await.as_deref(),
        Some(&b"marker"[..])
    );
    assert_eq!(
        get(Namespace::OidcRefresh, "r").await.as_deref(),
        Some(&b"refresh"[..])
    );
    f.let_expire(Namespace::OidcRefresh, "r", short).await;
    assert_eq!(get(Namespace::OidcRefresh, "r").await, None);
    assert!(get(Namespace::OidcGrant, "g").await.is_some());
    s.put_many(&[]).await.unwrap();
    let refused = s
        .put_many(&[entry(Namespace::OidcGrant, "z", b"x", Duration::ZERO)])
        .await;
    assert!(refused.is_err(), "a zero TTL is refused in put_many too");
}

async fn namespaces_are_separate(f: Fixture) {
    let s = &f.store;
    s.put(Namespace::OneTimeCode, "k", b"code", LONG)
        .await
        .unwrap();
    assert_eq!(s.get(Namespace::SsoSession, "k").await.unwrap(), None);
    assert_eq!(s.take(Namespace::MobileOrder, "k").await.unwrap(), None);
    assert!(s.get(Namespace::OneTimeCode, "k").await.unwrap().is_some());
}

async fn take_returns_the_value_once(f: Fixture) {
    let s = &f.store;
    s.put(Namespace::OneTimeCode, "code", b"grant", LONG)
        .await
        .unwrap();
    assert_eq!(
        s.take(Namespace::OneTimeCode, "code")
            .await
            .unwrap()
            .as_deref(),
        Some(&b"grant"[..])
    );
    assert_eq!(s.take(Namespace::OneTimeCode, "code").await.unwrap(), None);
    assert_eq!(s.get(Namespace::OneTimeCode, "code").await.unwrap(), None);
}

async fn many_concurrent_takes_have_exactly_one_winner(f: Fixture) {
    for round in 0..5 {
        let key = format!("raced-{round}");
        f.store
            .put(Namespace::OneTimeCode, &key, b"grant", LONG)
            .await
            .unwrap();
        let barrier = Arc::new(tokio::sync::Barrier::new(64));
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let store = f.store.clone();
                let barrier = barrier.clone();
                let key = key.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.take(Namespace::OneTimeCode, &key).await.unwrap()
                })
            })
            .collect();
        let results = futures::future::join_all(tasks).await;
        let winners = results
            .into_iter()
            .filter(|r| r.as_ref().unwrap().is_some())
            .count();
        assert_eq!(winners, 1, "round {round}");
    }
}

async fn insert_new_only_stores_when_absent(f: Fixture) {
    let s = &f.store;
    assert!(s
        .insert_new(Namespace::MobileOrder, "o", b"first", LONG)
        .await
        .unwrap());
    assert!(!s
        .insert_new(Namespace::MobileOrder, "o", b"second", LONG)
        .await
        .unwrap());
    assert_eq!(
        s.get(Namespace::MobileOrder, "o").await.unwrap().as_deref(),
        Some(&b"first"[..])
    );
}

async fn concurrent_insert_new_has_exactly_one_winner(f: Fixture) {
    let barrier = Arc::new(tokio::sync::Barrier::new(32));
    let tasks: Vec<_> = (0..32u8)
        .map(|i| {
            let store = f.store.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .insert_new(Namespace::Replay, "request-id", &[i], LONG)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let wins = futures::future::join_all(tasks)
        .await
        .into_iter()
        .filter(|r| *r.as_ref().unwrap())
        .count();
    assert_eq!(wins, 1);
}

async fn replace_if_swaps_only_the_expected_value(f: Fixture) {
    let s = &f.store;
    assert!(!s
        .replace_if(Namespace::MobileOrder, "o", b"pending", b"complete", LONG)
        .await
        .unwrap());
    s.put(Namespace::MobileOrder, "o", b"pending", LONG)
        .await
        .unwrap();
    assert!(!s
        .replace_if(Namespace::MobileOrder, "o", b"started", b"complete", LONG)
        .await
        .unwrap());
    assert!(s
        .replace_if(Namespace::MobileOrder, "o", b"pending", b"complete", LONG)
        .await
        .unwrap());
    assert_eq!(
        s.get(Namespace::MobileOrder, "o").await.unwrap().as_deref(),
        Some(&b"complete"[..])
    );
}

async fn concurrent_replace_if_has_exactly_one_winner(f: Fixture) {
    f.store
        .put(Namespace::MobileOrder, "o", b"pending", LONG)
        .await
        .unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(32));
    let tasks: Vec<_> = (0..32u8)
        .map(|i| {
            let store = f.store.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .replace_if(Namespace::MobileOrder, "o", b"pending", &[b'c', i], LONG)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let wins = futures::future::join_all(tasks)
        .await
        .into_iter()
        .filter(|r| *r.as_ref().unwrap())
        .count();
    assert_eq!(wins, 1);
}

async fn delete_removes(f: Fixture) {
    let s = &f.store;
    s.put(Namespace::PendingLogin, "l", b"x", LONG)
        .await
        .unwrap();
    assert!(s.delete(Namespace::PendingLogin, "l").await.unwrap());
    assert!(!s.delete(Namespace::PendingLogin, "l").await.unwrap());
    assert_eq!(s.get(Namespace::PendingLogin, "l").await.unwrap(), None);
}

async fn entries_expire_after_their_ttl(f: Fixture) {
    let s = &f.store;
    let short = Duration::from_millis(20);
    s.put(Namespace::OneTimeCode, "short", b"x", short)
        .await
        .unwrap();
    s.put(Namespace::OneTimeCode, "long", b"y", LONG)
        .await
        .unwrap();
    let remaining = s
        .ttl(Namespace::OneTimeCode, "long")
        .await
        .unwrap()
        .unwrap();
    assert!(
        remaining <= LONG && remaining > Duration::from_secs(50),
        "{remaining:?}"
    );
    f.let_expire(Namespace::OneTimeCode, "short", short).await;
    assert_eq!(s.get(Namespace::OneTimeCode, "short").await.unwrap(), None);
    assert_eq!(s.take(Namespace::OneTimeCode, "short").await.unwrap(), None);
    assert_eq!(s.ttl(Namespace::OneTimeCode, "short").await.unwrap(), None);
    // An expired key is free again for insert_new.
    assert!(s
        .insert_new(Namespace::OneTimeCode, "short", b"z", LONG)
        .await
        .unwrap());
    assert!(s
        .get(Namespace::OneTimeCode, "long")
        .await
        .unwrap()
        .is_some());
}

async fn zero_ttl_is_rejected(f: Fixture) {
    let err = f
        .store
        .put(Namespace::SsoSession, "z", b"x", Duration::ZERO)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "SESSION_STORE_INVALID_TTL");
}

async fn typed_store_and_replay_cache_work_on_top(f: Fixture) {
    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct Session {
        subject: String,
        applications: Vec<String>,
    }
    let sessions = TypedStore::<Session>::new(f.store.clone(), Namespace::SsoSession, LONG);
    let session = Session {
        subject: "SE2321009991-anna01".into(),
        applications: vec!["journal".into()],
    };
    sessions.put("s1", &session).await.unwrap();
    assert_eq!(sessions.get("s1").await.unwrap(), Some(session));
    assert!(sessions.take("s1").await.unwrap().is_some());
    assert!(sessions.take("s1").await.unwrap().is_none());

    let replay = ReplayCache::new(f.store.clone());
    assert!(replay
        .is_first_use("saml-request", "_abc", LONG)
        .await
        .unwrap());
    assert!(!replay
        .is_first_use("saml-request", "_abc", LONG)
        .await
        .unwrap());
    assert!(replay.is_first_use("jwt", "_abc", LONG).await.unwrap());
}

/// The rate limiter works on the store alone, so every node sharing a Redis counts
/// against the same bucket; concurrency never lets more through than the quota.
async fn rate_limits_hold_under_concurrency(f: Fixture) {
    use idp::rate_limit::{Decision, RateLimiter};
    let clock = f.shared_clock();
    let limiter = RateLimiter::new(f.store.clone(), clock);
    let checks = (0..40).map(|_| limiter.check("login-start:192.0.2.1", 10));
    let allowed = futures::future::join_all(checks)
        .await
        .into_iter()
        .filter(|d| *d.as_ref().unwrap() == Decision::Allowed)
        .count();
    assert!((1..=10).contains(&allowed), "{allowed} of 40 allowed");
    // One after another: exactly the quota, then a wait.
    for _ in 0..10 {
        assert_eq!(
            limiter.check("login-start:192.0.2.2", 10).await.unwrap(),
            Decision::Allowed
        );
    }
    assert!(matches!(
        limiter.check("login-start:192.0.2.2", 10).await.unwrap(),
        Decision::Limited { retry_after } if retry_after <= Duration::from_secs(6)
    ));
}

async fn ping_answers(f: Fixture) {
    f.store.ping().await.unwrap();
}

/// A person's session index written in other bytes (by another release, say) still
/// takes the next session: its compare-and-swap compares the bytes it read.
async fn a_person_index_in_other_bytes_still_takes_new_sessions(f: Fixture) {
    let now = f.now();
    let sessions = f.sso_sessions();
    let first = sessions.create(sso_session("p-anna", now)).await.unwrap();
    e2e::fixtures::rewrite_in_other_bytes(&f.store, Namespace::SsoByPerson, "p-anna").await;
    let second = sessions.create(sso_session("p-anna", now)).await.unwrap();
    let found = session_ids_of(&sessions, "p-anna", now).await;
    assert_eq!(found, [second.id, first.id]);
}

/// A pending login written in other bytes is still marked authenticated, once.
async fn a_pending_login_in_other_bytes_is_still_marked_authenticated(f: Fixture) {
    let clock = f.shared_clock();
    let logins = idp::login::PendingLogins::new(f.store.clone(), LONG, clock);
    let (login, _) = logins
        .create(
            "region".parse().unwrap(),
            "journal".parse().unwrap(),
            "/resume".into(),
            None,
        )
        .await
        .unwrap();
    e2e::fixtures::rewrite_in_other_bytes(&f.store, Namespace::PendingLogin, &login.id).await;
    let found = logins.find(&login.id).await.unwrap().expect("the login");
    let recorded = logins
        .mark_authenticated(&found, "session-1")
        .await
        .unwrap()
        .expect("the login marked");
    let marked = logins.find(&login.id).await.unwrap().expect("the login");
    assert_eq!(marked.authenticated_session.as_deref(), Some("session-1"));
    assert_eq!(marked.value, recorded);
    // What was read before the mark no longer moves it.
    assert!(logins
        .mark_authenticated(&found, "session-2")
        .await
        .unwrap()
        .is_none());
}

/// The contract's tests for stores: `contract!([fixture, ...]: [test, ...])` runs each
/// test on each `Fixture::fixture()`, in a module named after the fixture.
macro_rules! contract {
    ([$($fixture:ident),* $(,)?]: $tests:tt) => {
        $( contract!(@one $fixture: $tests); )*
    };
    (@one $fixture:ident: [$($name:ident),* $(,)?]) => {
        mod $fixture {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Fixture::$fixture().await).await;
                }
            )*
        }
    };
}

contract!(
    [memory, redis, cluster]: [
        put_then_get_returns_the_value,
        put_many_stores_every_entry_with_its_ttl,
        namespaces_are_separate,
        take_returns_the_value_once,
        many_concurrent_takes_have_exactly_one_winner,
        insert_new_only_stores_when_absent,
        concurrent_insert_new_has_exactly_one_winner,
        replace_if_swaps_only_the_expected_value,
        concurrent_replace_if_has_exactly_one_winner,
        delete_removes,
        entries_expire_after_their_ttl,
        zero_ttl_is_rejected,
        typed_store_and_replay_cache_work_on_top,
        rate_limits_hold_under_concurrency,
        ping_answers,
        sso_sessions_are_found_by_person,
        a_person_index_in_other_bytes_still_takes_new_sessions,
        a_pending_login_in_other_bytes_is_still_marked_authenticated,
    ]
);
// Behind Sentinel the store is the same code on another connection: the contract's
// atomic operations and the person index, plus the failover test below (a Sentinel
// topology takes seconds to settle, so not every test gets its own).
contract!(
    [sentinel]: [
        put_then_get_returns_the_value,
        put_many_stores_every_entry_with_its_ttl,
        many_concurrent_takes_have_exactly_one_winner,
        concurrent_replace_if_has_exactly_one_winner,
        rate_limits_hold_under_concurrency,
        sso_sessions_are_found_by_person,
    ]
);

#[tokio::test]
async fn a_full_memory_store_refuses_new_keys_but_serves_existing_ones() {
    let clock = ManualClock::new(time::macros::datetime!(2026-11-22 07:00 UTC));
    let store = MemoryStore::with_max_entries(Arc::new(clock.clone()), 3);
    for key in ["a", "b", "c"] {
        store
            .put(Namespace::PendingLogin, key, b"1", LONG)
            .await
            .unwrap();
    }
    let full = store.put(Namespace::PendingLogin, "d", b"1", LONG).await;
    assert_eq!(full.unwrap_err().code(), "SESSION_STORE_FULL");
    assert_eq!(
        store
            .insert_new(Namespace::MobileOrder, "d", b"1", LONG)
            .await
            .unwrap_err()
            .code(),
        "SESSION_STORE_FULL"
    );
    // Existing keys still change and go; then there is room again.
    store
        .put(Namespace::PendingLogin, "a", b"2", LONG)
        .await
        .unwrap();
    assert!(store
        .take(Namespace::PendingLogin, "b")
        .await
        .unwrap()
        .is_some());
    store
        .put(Namespace::PendingLogin, "d", b"1", LONG)
        .await
        .unwrap();
    // Expired entries make room too.
    clock.advance(time::Duration::minutes(2));
    store
        .put(Namespace::PendingLogin, "e", b"1", LONG)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_store_recovers_after_a_restart() {
    let mut redis = RedisServer::start().await.unwrap();
    let store = RedisStore::new(&redis.url(), "recover", Duration::from_millis(500)).unwrap();
    store.ping().await.unwrap();
    redis.stop().await.unwrap();
    assert!(store.ping().await.is_err());
    redis.restart().await.unwrap();
    let mut recovered = false;
    for _ in 0..100 {
        if store.ping().await.is_ok() {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        recovered,
        "the store did not reconnect after Redis came back"
    );
}

fn sentinel_target(redis: &RedisSentinel) -> RedisTarget {
    RedisTarget::Sentinel {
        sentinels: redis.sentinel_urls(),
        master: SENTINEL_MASTER.to_owned(),
        node: redis.node_url(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_sentinel_the_store_follows_a_failover_and_keeps_what_was_written() {
    let redis = RedisSentinel::start().await.unwrap();
    let store =
        RedisStore::at(&sentinel_target(&redis), "failover", Duration::from_secs(2)).unwrap();
    store
        .put(Namespace::SsoSession, "before", b"kept", LONG)
        .await
        .unwrap();
    let first_master = redis.master_port().await.unwrap();

    redis.fail_over().await.unwrap();
    assert_ne!(redis.master_port().await.unwrap(), first_master);

    // The old master is a replica now: the store finds the new one by itself.
    store
        .put(Namespace::SsoSession, "after", b"written", LONG)
        .await
        .unwrap();
    assert_eq!(
        store.get(Namespace::SsoSession, "before").await.unwrap(),
        Some(b"kept".to_vec())
    );
    assert_eq!(
        store.take(Namespace::SsoSession, "after").await.unwrap(),
        Some(b"written".to_vec())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_cluster_the_keys_spread_over_the_nodes() {
    let redis = RedisCluster::start().await.unwrap();
    let store = RedisStore::at(
        &RedisTarget::Cluster(redis.node_urls()),
        "spread",
        Duration::from_secs(2),
    )
    .unwrap();
    for i in 0..60 {
        store
            .put(Namespace::SsoSession, &format!("session-{i}"), b"x", LONG)
            .await
            .unwrap();
    }
    let counts = redis.keys_per_node().await.unwrap();
    assert_eq!(counts.iter().sum::<i64>(), 60, "{counts:?}");
    assert!(
        counts.iter().all(|n| *n > 0),
        "every node holds some: {counts:?}"
    );
}

#[tokio::test]
async fn redis_store_starts_while_redis_is_down() {
    let port = e2e::free_port();
    let store = RedisStore::new(
        &format!("redis://127.0.0.1:{port}/"),
        "down",
        Duration::from_millis(300),
    )
    .unwrap();
    let err = store.ping().await.unwrap_err();
    assert!(
        matches!(
            err.code(),
            "SESSION_STORE_UNAVAILABLE" | "SESSION_STORE_TIMEOUT"
        ),
        "{err}"
    );
}

/// An SSO session of `person` (the fields a login fills in).
fn sso_session(person: &str, now: time::OffsetDateTime) -> idp::login::SsoSession {
    serde_json::from_value(serde_json::json!({
        "id": "",
        "person_id": person,
        "display_name": "Anna Andersson",
        "employee_hsa_id": "SE2321009991-anna01",
        "user_tenant": "region",
        "loa": "Loa3",
        "method": "MobileQr",
        "authenticated_at": now.unix_timestamp(),
        "certificate_serial": "01",
        "certificate_issuer": "CN=test",
    }))
    .unwrap()
}

/// The ids of `person`'s current SSO sessions, newest first.
async fn session_ids_of(
    sessions: &idp::login::SsoSessions,
    person: &str,
    now: time::OffsetDateTime,
) -> Vec<String> {
    let found = sessions.of_person(person, now).await.unwrap();
    found.into_iter().map(|s| s.id).collect()
}

async fn sso_sessions_are_found_by_person(f: Fixture) {
    let now = f.now();
    let sessions = f.sso_sessions();
    let mut anna = Vec::new();
    for _ in 0..3 {
        anna.push(sessions.create(sso_session("p-anna", now)).await.unwrap());
    }
    sessions.create(sso_session("p-bertil", now)).await.unwrap();

    let found = session_ids_of(&sessions, "p-anna", now).await;
    let newest_first: Vec<String> = anna.iter().rev().map(|s| s.id.clone()).collect();
    assert_eq!(found, newest_first);

    // An ended session is no longer listed; the index keeps a bounded number.
    sessions.take(&anna[1].id).await.unwrap();
    assert_eq!(sessions.of_person("p-anna", now).await.unwrap().len(), 2);
    for _ in 0..idp::login::MAX_INDEXED_SESSIONS {
        sessions.create(sso_session("p-anna", now)).await.unwrap();
    }
    let all = sessions.of_person("p-anna", now).await.unwrap();
    assert_eq!(all.len(), idp::login::MAX_INDEXED_SESSIONS);
    assert!(all.iter().all(|s| s.person_id == "p-anna"));
    assert!(sessions.of_person("nobody", now).await.unwrap().is_empty());
}
