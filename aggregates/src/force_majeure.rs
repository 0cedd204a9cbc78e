//! Force majeure (§8) as the rules need it: a declared period, its days.

use serde::{Deserialize, Serialize};
use time::Date;

/// A period of force majeure (§8): from its start to its end, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForceMajeurePeriod {
    pub started_on: Date,
    pub ended_on: Option<Date>,
}

impl ForceMajeurePeriod {
    /// Whether `on` falls in it (start and end included; an ongoing one has no end).
    pub fn covers(&self, on: Date) -> bool {
        self.started_on <= on && self.ended_on.is_none_or(|end| on <= end)
    }

    /// Its length in calendar days as of `on` (start and end included).
    pub fn days_as_of(&self, on: Date) -> i64 {
        let end = self.ended_on.unwrap_or(on);
        (end - self.started_on).whole_days() + 1
    }
}
