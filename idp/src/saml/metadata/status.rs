//! The health of each SP's metadata source, for the admin API: "healthy, last loaded at
//! ..." or "failing since ... with cause ...".

use super::{rfc3339, MetadataError};
use serde::{Serialize, Serializer};
use time::OffsetDateTime;

/// One failed load: its stable code, its message (never the document) and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceFailure {
    pub code: &'static str,
    pub message: String,
    #[serde(serialize_with = "serialize_time")]
    pub at: OffsetDateTime,
}

/// What the cache knows about loading one SP's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceStatus {
    #[serde(serialize_with = "serialize_time")]
    pub last_attempt: OffsetDateTime,
    #[serde(serialize_with = "serialize_optional_time")]
    pub last_success: Option<OffsetDateTime>,
    /// The latest failure, kept after a later success (so that "failed at 09:00 with
    /// ..., fine since 09:01" can be shown); see `consecutive_failures` for the present.
    pub last_error: Option<SourceFailure>,
    /// Failures since the last success (0: healthy).
    pub consecutive_failures: u32,
    /// The first failure of the present run of failures; `None` when healthy.
    #[serde(serialize_with = "serialize_optional_time")]
    pub failing_since: Option<OffsetDateTime>,
    /// A verified copy is in the cache (possibly from before the present failures).
    pub has_good_copy: bool,
}

impl SourceStatus {
    pub fn is_healthy(&self) -> bool {
        self.consecutive_failures == 0
    }

    /// The code of the failure the source is in, if it is failing.
    pub fn failing_code(&self) -> Option<&'static str> {
        if self.is_healthy() {
            return None;
        }
        self.last_error.as_ref().map(|e| e.code)
    }

    /// The status after one more attempt at `now`.
    pub(super) fn record(
        previous: Option<&SourceStatus>,
        outcome: Result<(), &MetadataError>,
        has_good_copy: bool,
        now: OffsetDateTime,
    ) -> SourceStatus {
        let last_success = previous.and_then(|p| p.last_success);
        let last_error = previous.and_then(|p| p.last_error.clone());
        match outcome {
            Ok(()) => SourceStatus {
                last_attempt: now,
                last_success: Some(now),
                last_error,
                consecutive_failures: 0,
                failing_since: None,
                has_good_copy,
            },
            Err(error) => SourceStatus {
                last_attempt: now,
                last_success,
                last_error: Some(SourceFailure {
                    code: error.code(),
                    message: error.to_string(),
                    at: now,
                }),
                consecutive_failures: previous
                    .map_or(0, |p| p.consecutive_failures)
                    .saturating_add(1),
                failing_since: Some(previous.and_then(|p| p.failing_since).unwrap_or(now)),
                has_good_copy,
            },
        }
    }
}

pub(super) fn serialize_time<S: Serializer>(
    at: &OffsetDateTime,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&rfc3339(at))
}

fn serialize_optional_time<S: Serializer>(
    at: &Option<OffsetDateTime>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => serializer.serialize_some(&rfc3339(at)),
        None => serializer.serialize_none(),
    }
}
