//! The only clock the ledger reads, and Kazakhstan's business date.

use time::{Date, OffsetDateTime, UtcOffset};

/// Kazakhstan's offset from UTC since 2024-03-01 (DOMAIN.md): business dates are dates there.
pub const KAZAKHSTAN_OFFSET_HOURS: i8 = 5;

/// [`KAZAKHSTAN_OFFSET_HOURS`] as an offset.
pub const KAZAKHSTAN: UtcOffset = time::macros::offset!(+5);

/// The business date (in Kazakhstan) of a moment.
pub fn business_date_of(at: OffsetDateTime) -> Date {
    at.to_offset(KAZAKHSTAN).date()
}

/// The source of the current time: the only clock the ledger reads.
pub trait Clock: Send + Sync {
    fn now_utc(&self) -> OffsetDateTime;

    /// Today's business date in Kazakhstan.
    fn today(&self) -> Date {
        business_date_of(self.now_utc())
    }
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_utc(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}
