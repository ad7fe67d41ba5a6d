//! The process's own metrics (CPU, memory, file descriptors, start time), read from
//! Linux's /proc at each scrape under the names Prometheus' client libraries use.
//! prometheus-client has no process collector; these few reads are all it takes.

/// What /proc says about this process; `None` fields where it could not be read
/// (another OS, or a restricted /proc).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ProcessSample {
    pub cpu_seconds: Option<f64>,
    pub resident_bytes: Option<f64>,
    pub virtual_bytes: Option<f64>,
    pub open_fds: Option<f64>,
    pub max_fds: Option<f64>,
    pub start_time_seconds: Option<f64>,
    pub threads: Option<f64>,
}

/// Clock ticks per second of /proc/self/stat's times: 100 on every Linux platform Rust
/// supports (USER_HZ is fixed in the kernel ABI).
const TICKS_PER_SECOND: f64 = 100.0;
/// Page size of the RSS count in /proc/self/stat on x86_64 and aarch64 Linux defaults.
const PAGE_SIZE: f64 = 4096.0;

pub fn sample() -> ProcessSample {
    let mut sample = ProcessSample::default();
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        apply_stat(&mut sample, &stat, boot_time());
    }
    sample.open_fds = std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|entries| entries.count() as f64);
    sample.max_fds = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            limits
                .lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|soft| soft.parse::<f64>().ok())
        });
    sample
}

/// Seconds since the epoch at boot (`btime` of /proc/stat).
fn boot_time() -> Option<f64> {
    std::fs::read_to_string("/proc/stat").ok().and_then(|stat| {
        stat.lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse().ok())
    })
}

/// Fields of /proc/self/stat (proc(5)): after the command name in parentheses, field 3
/// onwards; utime 14, stime 15, num_threads 20, starttime 22, vsize 23, rss 24.
fn apply_stat(sample: &mut ProcessSample, stat: &str, boot_time: Option<f64>) {
    let Some(after_name) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return;
    };
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<f64>().ok());
    if let (Some(user), Some(system)) = (field(14), field(15)) {
        sample.cpu_seconds = Some((user + system) / TICKS_PER_SECOND);
    }
    sample.threads = field(20);
    sample.start_time_seconds = field(22)
        .zip(boot_time)
        .map(|(ticks, boot)| boot + ticks / TICKS_PER_SECOND);
    sample.virtual_bytes = field(23);
    sample.resident_bytes = field(24).map(|pages| pages * PAGE_SIZE);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fields_after_a_command_name_with_spaces_and_parentheses() {
        let stat = "4242 (idp (node) 1) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 150 0 0 20 0 7 0 1000 123456789 2048 18446744073709551615";
        let mut sample = ProcessSample::default();
        apply_stat(&mut sample, stat, Some(1_700_000_000.0));
        assert_eq!(sample.cpu_seconds, Some(4.0));
        assert_eq!(sample.threads, Some(7.0));
        assert_eq!(sample.start_time_seconds, Some(1_700_000_010.0));
        assert_eq!(sample.virtual_bytes, Some(123_456_789.0));
        assert_eq!(sample.resident_bytes, Some(2048.0 * 4096.0));
    }

    #[test]
    fn this_process_has_cpu_time_memory_and_descriptors() {
        let sample = sample();
        assert!(sample.resident_bytes.is_some_and(|b| b > 0.0), "{sample:?}");
        assert!(sample.open_fds.is_some_and(|n| n >= 1.0), "{sample:?}");
        assert!(sample.start_time_seconds.is_some(), "{sample:?}");
    }
}
