//! What the benchmarks share (`edoc-ledger bench` and the `replay`, `verify` and `sweep`
//! cargo benches): the generator of realistic agreements, the COPY loader, the benchmark
//! database and the measuring helpers.
//!
//! The generator runs the pure aggregate: register, sign, monthly subscription and usage
//! invoices, payments on time, late, partial and over the total, suspensions for overdue
//! invoices, penalties and fines charged and settled (about 100 events an agreement). Each
//! agreement's events are sealed into a hash chain exactly as `Ledger::execute` does it:
//! the envelope's metadata (`actor`, `recorded_at`, `request_id`, `clause`, `command`) is
//! serialized with cqrs-es's `SerializedEvent`, hashed with `api::application::audit::event_hash`
//! chained to the previous event's hash ([`api::application::audit::GENESIS`] for sequence 1), and
//! `prev_hash` and `hash` are added to it. So the loaded store verifies intact.
//!
//! - `plan`: what an agreement does on which date;
//! - `generator`: the agreements made from their plans, sealed and serialized;
//! - `load`: the generator on a thread of its own, COPYed into the database as it goes;
//! - `database`: the benchmark's database, created and dropped;
//! - `measure`: durations, rates and the process's memory.

mod database;
mod generator;
mod load;
mod measure;
mod plan;

use time::macros::date;
use time::Date;

pub use database::{recreate_database, with_database, BenchDatabase};
pub use load::{load, Loaded};
pub use measure::{mib, per_second, proc_status_kb, reset_peak_rss, seconds};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The "today" of the generated history: the calendar shipped covers 2025 and 2026, and
/// the history lies before the first run of `edoc-ledger bench` (2026-11-30), whose
/// commands are dated on the real today.
const TODAY: Date = date!(2026 - 11 - 20);
/// The range of `as_of` dates the benchmark's reads ask for: inside the history.
pub const READS_FROM: Date = date!(2025 - 03 - 01);
pub const READS_TO: Date = TODAY;
/// The month of the last generated invoices (their due dates and payments follow).
const LAST_MONTH: Date = date!(2026 - 10 - 01);
/// The most months of history the shipped calendar allows (February 2025 to October
/// 2026: registration in January 2025 needs the 2025 calendar).
pub const MONTHS_MAX: u32 = 21;
const ACTOR: &str = "bench";

// ---------------------------------------------------------------------------------------
// A small deterministic random number generator (splitmix64): no floats, no dependency.

pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low + 1)
    }

    /// True with probability `percent`%.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// How much history to generate: until `events` events, or `agreements` whole
/// agreements, whichever comes first; each with `months` of invoices.
#[derive(Debug, Clone, Copy)]
pub struct HistoryShape {
    pub events: u64,
    pub agreements: Option<u64>,
    pub months: u32,
}

impl HistoryShape {
    /// `events` events over as many agreements as it takes, [`MONTHS_MAX`] months each.
    pub fn events(events: u64) -> Self {
        Self {
            events,
            agreements: None,
            months: MONTHS_MAX,
        }
    }
}
