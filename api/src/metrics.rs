//! Counters the server keeps about itself (exposed in Prometheus format by a later issue).

use std::sync::atomic::{AtomicU64, Ordering};

static CONFLICTS_RETRIED: AtomicU64 = AtomicU64::new(0);

/// Counts a write conflict that was retried.
pub fn record_conflict() {
    CONFLICTS_RETRIED.fetch_add(1, Ordering::Relaxed);
}

/// Write conflicts retried since the process started.
pub fn conflicts_retried() -> u64 {
    CONFLICTS_RETRIED.load(Ordering::Relaxed)
}
