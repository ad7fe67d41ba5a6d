//! The SQLite audit log's thread runs under Linux's `SCHED_BATCH` policy, at its
//! niceness: a batch thread that is woken does not preempt the thread that woke it.
//!
//! A request hands that thread its audit record and waits. Under the normal policy the
//! wake-up switched the busy core to the audit thread at once, for a transaction of one
//! or two records, and back. As a batch thread it runs when the runtime's worker waits
//! or its time slice ends, and by then more records have queued for one transaction:
//! measured on the certificate login, 5-9 % less CPU per login, and on the code flow
//! and the mobile login 9-13 % (docs/benchmarks.md, "The hand-overs between threads").
//! It still gets its fair share of the CPU, so records are not held back under load,
//! and a login still waits for its own record. Where the system refuses the change,
//! the thread runs as before (logged at debug). The log writer's thread was measured
//! the same way and kept the normal policy: as a batch thread it cost 2 % more.

/// Puts the calling thread under `SCHED_BATCH`, keeping its niceness.
pub fn batch() {
    #[cfg(target_os = "linux")]
    if let Err(e) = linux::batch() {
        tracing::debug!(error = %e, "the thread keeps the normal scheduling policy");
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use thread_priority::unix::{
        set_thread_priority_and_policy, thread_native_id, NormalThreadSchedulePolicy,
        ThreadSchedulePolicy,
    };
    use thread_priority::{ThreadPriority, ThreadPriorityValue};

    pub(super) const BATCH: ThreadSchedulePolicy =
        ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Batch);

    pub(super) fn batch() -> Result<(), String> {
        // The crate sets a normal policy's niceness too, from its own 0-99 scale: the
        // value on that scale that is this thread's niceness now.
        let nice = niceness()?;
        let priority = (u8::from(ThreadPriorityValue::MIN)..=u8::from(ThreadPriorityValue::MAX))
            .filter_map(|value| ThreadPriorityValue::try_from(value).ok())
            .map(ThreadPriority::Crossplatform)
            .find(|priority| priority.to_posix(BATCH).ok() == Some(nice))
            .ok_or_else(|| format!("niceness {nice} has no priority value"))?;
        set_thread_priority_and_policy(thread_native_id(), priority, BATCH)
            .map_err(|e| format!("{e:?}"))
    }

    /// The calling thread's niceness (`/proc/thread-self/stat`, field 19).
    pub(super) fn niceness() -> Result<i32, String> {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").map_err(|e| e.to_string())?;
        // The fields after the parenthesised command name start with the third.
        let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        after_name
            .split_whitespace()
            .nth(19 - 3)
            .and_then(|field| field.parse().ok())
            .ok_or_else(|| "no niceness in /proc/thread-self/stat".to_owned())
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::linux::{niceness, BATCH};
    use thread_priority::unix::thread_schedule_policy;

    #[test]
    fn a_batch_thread_keeps_its_niceness() {
        let (before, after, policy) = std::thread::spawn(|| {
            let before = niceness().unwrap();
            super::batch();
            (
                before,
                niceness().unwrap(),
                thread_schedule_policy().unwrap(),
            )
        })
        .join()
        .unwrap();
        assert_eq!(policy, BATCH);
        assert_eq!(after, before, "the niceness is kept");
    }
}
