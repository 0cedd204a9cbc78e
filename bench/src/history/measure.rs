//! Measuring: durations, rates and the process's resident memory.

use std::time::Duration;

pub fn seconds(duration: Duration) -> String {
    format!("{}.{:03} s", duration.as_secs(), duration.subsec_millis())
}

pub fn per_second(count: u64, duration: Duration) -> u64 {
    let micros = duration.as_micros().max(1);
    u64::try_from(u128::from(count) * 1_000_000 / micros).unwrap_or(u64::MAX)
}

/// A `VmHWM` / `VmRSS` line of /proc/self/status, in kB.
pub fn proc_status_kb(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

pub fn mib(kb: Option<u64>) -> String {
    match kb {
        Some(kb) => format!("{} MiB ({kb} kB)", kb / 1024),
        None => "unknown".to_owned(),
    }
}

/// Resets the peak RSS to the current RSS (Linux >= 4.0); false when not allowed.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}
