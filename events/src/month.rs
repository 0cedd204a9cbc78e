//! A calendar month, written `YYYY-MM`: what a period close, a billing run and a usage
//! invoice are about.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::{Date, Month};

/// A calendar month (`2027-01`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CalendarMonth {
    year: i32,
    month: Month,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a month written as YYYY-MM")]
pub struct CalendarMonthError(pub String);

impl CalendarMonth {
    /// Parses `YYYY-MM` (a year from 1900 to 9999).
    pub fn parse(text: &str) -> Result<Self, CalendarMonthError> {
        let invalid = || CalendarMonthError(text.to_owned());
        let (year, month) = text.split_once('-').ok_or_else(invalid)?;
        if year.len() != 4
            || month.len() != 2
            || !(year.bytes().chain(month.bytes())).all(|b| b.is_ascii_digit())
        {
            return Err(invalid());
        }
        let year: i32 = year.parse().map_err(|_| invalid())?;
        let month: u8 = month.parse().map_err(|_| invalid())?;
        let month = Month::try_from(month).map_err(|_| invalid())?;
        if year < 1900 {
            return Err(invalid());
        }
        Ok(Self { year, month })
    }

    /// The month `day` is in.
    pub fn of(day: Date) -> Self {
        Self {
            year: day.year(),
            month: day.month(),
        }
    }

    pub fn year(self) -> i32 {
        self.year
    }

    pub fn month(self) -> Month {
        self.month
    }

    pub fn days(self) -> u8 {
        self.month.length(self.year)
    }

    pub fn first_day(self) -> Date {
        Date::from_calendar_date(self.year, self.month, 1).expect("the first of a month exists")
    }

    pub fn last_day(self) -> Date {
        Date::from_calendar_date(self.year, self.month, self.days())
            .expect("the last day of a month exists")
    }

    pub fn contains(self, day: Date) -> bool {
        Self::of(day) == self
    }

    pub fn next(self) -> Self {
        Self::of(self.last_day().next_day().expect("a month after it"))
    }

    pub fn previous(self) -> Self {
        Self::of(self.first_day().previous_day().expect("a month before it"))
    }
}

impl fmt::Display for CalendarMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, u8::from(self.month))
    }
}

impl Serialize for CalendarMonth {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CalendarMonth {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    #[test]
    fn months_parse_and_step() {
        let january = CalendarMonth::parse("2027-01").unwrap();
        assert_eq!(january.to_string(), "2027-01");
        assert_eq!(january.first_day(), date!(2027 - 01 - 01));
        assert_eq!(january.last_day(), date!(2027 - 01 - 31));
        assert_eq!(january.previous().to_string(), "2026-12");
        assert_eq!(january.next().next().days(), 31);
        assert_eq!(CalendarMonth::parse("2028-02").unwrap().days(), 29);
        assert!(january.contains(date!(2027 - 01 - 15)));
        for bad in [
            "2027-1",
            "2027-13",
            "27-01",
            "2027/01",
            "2027-01-01",
            "+027-01",
            "",
        ] {
            assert!(CalendarMonth::parse(bad).is_err(), "{bad}");
        }
    }
}
