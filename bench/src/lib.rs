//! edoc-ledger's benchmark and load generator, under the `edoc-ledger` program
//! (`edoc-ledger bench`, `edoc-ledger load`) and this crate's cargo benches (`replay`,
//! `verify`, `sweep`). The server library (`api`) depends on none of it, nor on its HTTP
//! client or progress bars.
//!
//! - `benchmark`: `edoc-ledger bench`, the ledger's speed as ratios to what its
//!   PostgreSQL server can do at all, in one run (docs/performance.md);
//! - `load`: `edoc-ledger load`, a running server loaded over HTTP with a mix of
//!   commands and reads;
//! - [`cqrs_demo`]: a server built as the cqrs-es demo is, the yardstick `edoc-ledger
//!   bench` loads beside the ledger (`edoc-ledger cqrs-demo-serve`);
//! - [`http_load`]: the closed-loop HTTP load generator both use;
//! - [`history`]: the synthetic history (realistic agreements made by the aggregate,
//!   hash-chained, COPYed in), the benchmark database and the measuring helpers, shared
//!   with the cargo benches.

// Timings, rates and ratios are floats here; no money is ever computed in this crate.
#![allow(clippy::float_arithmetic)]

mod benchmark;
pub mod cqrs_demo;
pub mod history;
pub mod http_load;
mod load;

use std::time::Duration;

use serde::Serialize;
use time::Date;

pub use benchmark::{
    run, BenchReport, BenchSettings, Machine, Throughput, BENCH_DATABASE, DEFAULT_SERVER_URL,
};
pub use history::BoxError;
pub use load::load_server;

/// Latency percentiles of a set of timed operations, in milliseconds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct LatencySummary {
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl LatencySummary {
    /// Sorts `latencies` and summarizes them (nearest-rank percentiles).
    pub fn of(latencies: &mut [Duration]) -> Self {
        latencies.sort_unstable();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let rank = |p: f64| -> f64 {
            if latencies.is_empty() {
                return 0.0;
            }
            let index = ((p / 100.0) * latencies.len() as f64).ceil() as usize;
            ms(latencies[index.clamp(1, latencies.len()) - 1])
        };
        let total: Duration = latencies.iter().sum();
        Self {
            count: latencies.len() as u64,
            mean_ms: if latencies.is_empty() {
                0.0
            } else {
                ms(total) / latencies.len() as f64
            },
            p50_ms: rank(50.0),
            p90_ms: rank(90.0),
            p99_ms: rank(99.0),
            max_ms: latencies.last().copied().map_or(0.0, ms),
        }
    }
}

/// A date as `YYYY-MM-DD`.
pub fn iso(date: Date) -> String {
    events::business_date::format(date)
}
