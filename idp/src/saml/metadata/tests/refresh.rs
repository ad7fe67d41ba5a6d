//! The refresh task on paused tokio time: backoff for never-loaded metadata, the normal
//! interval for a source with a good copy, a live source list, shutdown; and the status
//! it leaves. Files are the sources here: their reads run on the blocking pool, during
//! which paused time does not auto-advance, so the attempt times are exact.

use super::*;
use crate::clock::Clock;
use arc_swap::ArcSwap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

const HOUR: Duration = Duration::from_secs(3600);

/// Wall-clock time that moves with (paused) tokio time, from `NOW`.
struct TokioClock {
    start: Instant,
}

impl Clock for TokioClock {
    fn now(&self) -> OffsetDateTime {
        NOW + self.start.elapsed()
    }
}

fn tokio_clock() -> crate::clock::SharedClock {
    Arc::new(TokioClock {
        start: Instant::now(),
    })
}

/// Seconds from `NOW` to the status' last attempt, to the millisecond the timer wheel
/// may add per sleep.
fn attempt_second(status: &SourceStatus) -> u64 {
    let elapsed = (status.last_attempt - NOW).as_seconds_f64();
    let rounded = elapsed.round();
    assert!((elapsed - rounded).abs() < 0.05, "attempt at {elapsed} s");
    rounded as u64
}

struct Refresh {
    cache: Arc<MetadataCache>,
    sources: Arc<ArcSwap<Vec<MetadataSource>>>,
    changes: watch::Receiver<u64>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Refresh {
    fn start(cache: MetadataCache, sources: Vec<MetadataSource>, every: Duration) -> Self {
        let cache = Arc::new(cache);
        let sources = Arc::new(ArcSwap::from_pointee(sources));
        let changes = cache.status_changes();
        let (stop, shutdown) = watch::channel(false);
        let task =
            Arc::clone(&cache).spawn_refresh(Arc::clone(&sources), every, tokio_clock(), shutdown);
        Self {
            cache,
            sources,
            changes,
            stop,
            task,
        }
    }

    /// The status after the next recorded attempt.
    async fn next_attempt(&mut self) -> SourceStatus {
        self.changes.changed().await.unwrap();
        self.cache.status(SP).unwrap()
    }

    async fn no_attempt_within(&mut self, window: Duration) {
        let next = tokio::time::timeout(window, self.changes.changed()).await;
        assert!(next.is_err(), "an attempt within {window:?}");
    }

    async fn stop(self) {
        self.stop.send(true).unwrap();
        self.task.await.unwrap();
    }
}

#[test]
fn the_retry_delay_doubles_from_one_second_up_to_a_minute() {
    let delays: Vec<u64> = (1..=8).map(|n| retry_delay(n).as_secs()).collect();
    assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60]);
    assert_eq!(retry_delay(0), MIN_RETRY_DELAY);
    assert_eq!(retry_delay(u32::MAX), MAX_RETRY_DELAY);
}

#[tokio::test(start_paused = true)]
async fn never_loaded_metadata_is_retried_with_backoff_until_it_appears() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sp.xml");
    let mut refresh = Refresh::start(
        MetadataCache::new(http_client()),
        vec![file_source(&path)],
        HOUR,
    );

    let mut attempts = Vec::new();
    for failures in 1..=5 {
        let status = refresh.next_attempt().await;
        assert_eq!(status.consecutive_failures, failures);
        assert_eq!(
            status.last_error.as_ref().unwrap().code,
            "SAML_METADATA_FILE"
        );
        assert_eq!(status.failing_since, Some(NOW));
        assert_eq!(status.last_success, None);
        assert!(!status.has_good_copy && !status.is_healthy());
        attempts.push(attempt_second(&status));
    }
    // At once, then after 1, 2, 4 and 8 seconds.
    assert_eq!(attempts, [0, 1, 3, 7, 15]);

    std::fs::write(&path, entity(SP, "_m1", "", false)).unwrap();
    let status = refresh.next_attempt().await;
    assert_eq!(attempt_second(&status), 31, "16 s after the fifth failure");
    assert!(status.is_healthy() && status.has_good_copy);
    assert_eq!(status.last_success, Some(status.last_attempt));
    assert_eq!(status.failing_since, None);
    let last_error = status.last_error.as_ref().unwrap();
    assert_eq!(last_error.code, "SAML_METADATA_FILE");
    assert_eq!(attempt_second_of(last_error.at), 15);
    assert!(refresh.cache.get(SP).is_some());

    // Loaded: back to the normal interval.
    refresh
        .no_attempt_within(HOUR - Duration::from_secs(1))
        .await;
    let status = refresh.next_attempt().await;
    assert_eq!(attempt_second(&status), 31 + 3600);
    refresh.stop().await;
}

fn attempt_second_of(at: OffsetDateTime) -> u64 {
    (at - NOW).as_seconds_f64().round() as u64
}

#[tokio::test(start_paused = true)]
async fn a_source_with_a_good_copy_keeps_the_normal_interval_when_failing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sp.xml");
    std::fs::write(&path, entity(SP, "_m1", "", false)).unwrap();
    let cache = MetadataCache::new(http_client());
    cache.load_one(&file_source(&path), NOW).await.unwrap();
    let good = cache.get(SP).unwrap();
    std::fs::write(&path, "<garbage").unwrap();

    let mut refresh = Refresh::start(cache, vec![file_source(&path)], HOUR);
    refresh
        .no_attempt_within(HOUR - Duration::from_secs(1))
        .await;
    for (failures, second) in [(1, 3600), (2, 7200)] {
        let status = refresh.next_attempt().await;
        assert_eq!(attempt_second(&status), second);
        assert_eq!(status.consecutive_failures, failures);
        assert_eq!(
            status.last_error.as_ref().unwrap().code,
            "SAML_METADATA_INVALID"
        );
        assert!(status.has_good_copy);
        assert_eq!(status.failing_since, Some(NOW + HOUR));
    }
    assert_eq!(refresh.cache.get(SP).unwrap(), good, "the good copy stays");

    // A fixed document is picked up at the next round.
    let changed = entity(SP, "_m1", "", false).replace(
        r#"AuthnRequestsSigned="true""#,
        r#"AuthnRequestsSigned="false""#,
    );
    std::fs::write(&path, changed).unwrap();
    let status = refresh.next_attempt().await;
    assert_eq!(attempt_second(&status), 3 * 3600);
    assert!(status.is_healthy());
    assert!(!refresh.cache.get(SP).unwrap().authn_requests_signed);
    refresh.stop().await;
}

#[tokio::test(start_paused = true)]
async fn sources_added_and_removed_at_run_time_are_followed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sp.xml");
    std::fs::write(&path, entity(SP, "_m1", "", false)).unwrap();
    let mut refresh = Refresh::start(MetadataCache::new(http_client()), Vec::new(), HOUR);
    refresh.no_attempt_within(Duration::from_secs(10)).await;

    // Registered at second 10: loaded within the second, as the list is re-read.
    refresh.sources.store(Arc::new(vec![file_source(&path)]));
    let status = refresh.next_attempt().await;
    assert!(status.is_healthy());
    assert!(attempt_second(&status) <= 11);

    // Moved to another file: loaded from there at once.
    let moved = dir.path().join("moved.xml");
    refresh.sources.store(Arc::new(vec![file_source(&moved)]));
    let status = refresh.next_attempt().await;
    assert_eq!(
        status.last_error.as_ref().unwrap().code,
        "SAML_METADATA_FILE"
    );
    assert!(status.has_good_copy, "the copy from the old file stays");

    // Removed: never loaded again.
    refresh.sources.store(Arc::new(Vec::new()));
    refresh.no_attempt_within(2 * HOUR).await;
    refresh.stop().await;
}

#[tokio::test(start_paused = true)]
async fn of_two_sources_for_one_entity_the_first_counts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sp.xml");
    std::fs::write(&path, entity(SP, "_m1", "", false)).unwrap();
    let other = file_source(&dir.path().join("other.xml"));
    let mut refresh = Refresh::start(
        MetadataCache::new(http_client()),
        vec![file_source(&path), other],
        HOUR,
    );
    let status = refresh.next_attempt().await;
    assert!(status.is_healthy(), "{status:?}");
    refresh
        .no_attempt_within(HOUR - Duration::from_secs(1))
        .await;
    refresh.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_source_that_failed_before_the_task_started_continues_its_backoff() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sp.xml");
    let cache = MetadataCache::new(http_client());
    for _ in 0..3 {
        cache.load_one(&file_source(&path), NOW).await.unwrap_err();
    }
    let mut refresh = Refresh::start(cache, vec![file_source(&path)], HOUR);
    refresh.no_attempt_within(Duration::from_millis(3900)).await;
    let status = refresh.next_attempt().await;
    assert_eq!(status.consecutive_failures, 4);
    refresh.stop().await;
}

#[tokio::test]
async fn load_one_records_the_failure_then_the_success() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sp.xml");
    let cache = MetadataCache::new(http_client());
    assert!(cache.status(SP).is_none());

    let err = cache.load_one(&file_source(&path), NOW).await.unwrap_err();
    let status = cache.status(SP).unwrap();
    assert_eq!(status.consecutive_failures, 1);
    let failure = status.last_error.clone().unwrap();
    assert_eq!(
        (failure.code, failure.message),
        (err.code(), err.to_string())
    );
    let json = serde_json::to_value(&status).unwrap();
    assert_eq!(json["last_attempt"], "2026-11-22T09:00:00Z");
    assert_eq!(json["failing_since"], "2026-11-22T09:00:00Z");
    assert_eq!(json["last_success"], serde_json::Value::Null);
    assert_eq!(json["last_error"]["code"], "SAML_METADATA_FILE");

    std::fs::write(&path, entity(SP, "_m1", "", false)).unwrap();
    let later = NOW + Duration::from_secs(5);
    cache.load_one(&file_source(&path), later).await.unwrap();
    let status = cache.status(SP).unwrap();
    assert!(status.is_healthy() && status.has_good_copy);
    assert_eq!(status.last_success, Some(later));
    assert_eq!(status.last_error.unwrap().at, NOW);

    cache.remove(SP);
    assert!(cache.status(SP).is_none() && cache.get(SP).is_none());
}

#[tokio::test(start_paused = true)]
async fn the_refresh_task_stops_on_shutdown_or_when_the_sender_is_dropped() {
    let refresh = Refresh::start(MetadataCache::new(http_client()), Vec::new(), HOUR);
    refresh.stop().await;

    let refresh = Refresh::start(MetadataCache::new(http_client()), Vec::new(), HOUR);
    drop(refresh.stop);
    refresh.task.await.unwrap();
}
