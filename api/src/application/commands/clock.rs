//! The only clock the ledger reads, and Kazakhstan's business date.

use time::{Date, OffsetDateTime, UtcOffset};

/// Kazakhstan's offset from UTC since 2024-03-01 (DOMAIN.md): business dates are dates there.
pub const KAZAKHSTAN_OFFSET_HOURS: i8 = 5;

/// The source of the current time: the only clock the ledger reads.
pub trait Clock: Send + Sync {
    fn now_utc(&self) -> OffsetDateTime;

    /// Today's business date in Kazakhstan.
    fn today(&self) -> Date {
        let offset = UtcOffset::from_hms(KAZAKHSTAN_OFFSET_HOURS, 0, 0).expect("a valid offset");
        self.now_utc().to_offset(offset).date()
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
