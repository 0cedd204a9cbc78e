//! Reference data the offer's rules depend on: the Kazakh calendar of working days, the
//! MRP by year, VAT by effective date and the National Bank's USD/KZT rates.
//!
//! They are recorded data, never code (DOMAIN.md, BILLING.md 1): each table is a set of
//! versions, one per range (a year of the calendar or of the MRP, a VAT start date, a
//! rate's date), published by the operator as events of the reference stream
//! ([`events::ReferenceVersionPublished`]). [`ReferenceData`] is the fold of those
//! versions: the latest of each range is in force. The TOML files shipped in the binary
//! (`aggregates/reference/*.toml`) are the first versions, recorded at first start.
//! Parsing and folding are pure: the caller reads the files and the stream.
//!
//! Every figure computed from a table records the version of the range it used (a due
//! date names its calendar years' versions, a fine its MRP year's), so an auditor can tell
//! which table produced it. A date computation in a year the calendar does not cover is
//! an error, never a weekday-only guess; a missing MRP is an error only for the fine that
//! needs it.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use events::{ReferenceContent, ReferenceTable, ReferenceVersionPublished};
use rust_decimal::Decimal;
use serde::Deserialize;
use time::{Date, Month, Weekday};

mod calendar;
mod exchange_rates;
mod mrp;
mod nbk;
#[cfg(test)]
mod tests;
mod toml_file;
mod vat;

pub use calendar::BusinessCalendar;
pub use exchange_rates::{ExchangeRate, ExchangeRates};
pub use mrp::MrpTable;
pub use nbk::{parse_nbk_rates, NbkRate, NBK_XML_BYTES_MAX};
pub use vat::{VatRate, VatTable};
// What the tables' modules share with each other.
use calendar::*;
use exchange_rates::*;
use mrp::*;
use toml_file::*;
use vat::*;

/// Limit on the number of working days a due-date computation may add (TIGER_STYLE:
/// a bound on every loop). The offer's longest term is 5 days.
pub const WORKING_DAYS_MAX: u32 = 366;
/// The years a published version may cover (a bound on what a typo can record).
pub const YEAR_MIN: i32 = 2000;
pub const YEAR_MAX: i32 = 2100;
/// A version id or source is at most this long.
pub const LABEL_CHARS_MAX: usize = 200;
/// An exchange rate above this many KZT for one USD is a typo, not a rate.
pub const USD_KZT_MAX: u32 = 100_000;

/// Why reference data could not answer, or could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("the calendar has no table for {0}: working days in that year are unknown; load a calendar that covers it")]
    NoCalendarForYear(i32),
    #[error("the MRP table has no value for {0}: the operator has not published the MRP of {0} yet (PUT /v1/reference/mrp/{0})")]
    NoMrpForYear(i32),
    #[error("no VAT rate is in force on {0}")]
    NoVatRate(Date),
    #[error("no National Bank USD/KZT rate is loaded for {0} (§5.1)")]
    NoExchangeRate(Date),
    #[error("reference file {file}: {message}")]
    Invalid { file: &'static str, message: String },
    /// A published version breaks the table's rules; `field` names what is wrong.
    #[error("{table} version: {field}: {message}")]
    InvalidVersion {
        table: &'static str,
        field: &'static str,
        message: String,
    },
}

impl ReferenceError {
    /// The table whose missing range caused the error, and that range, for the figures
    /// that wait for it (BILLING.md 1).
    pub fn missing(&self) -> Option<(ReferenceTable, String)> {
        match self {
            Self::NoCalendarForYear(year) => Some((ReferenceTable::Calendar, year.to_string())),
            Self::NoMrpForYear(year) => Some((ReferenceTable::Mrp, year.to_string())),
            Self::NoVatRate(date) => Some((ReferenceTable::Vat, date.to_string())),
            Self::NoExchangeRate(date) => Some((ReferenceTable::ExchangeRates, date.to_string())),
            Self::Invalid { .. } | Self::InvalidVersion { .. } => None,
        }
    }
}

/// The text of the four reference files, as read by the caller.
#[derive(Debug, Clone, Copy)]
pub struct ReferenceSources<'a> {
    pub calendar: &'a str,
    pub mrp: &'a str,
    pub vat: &'a str,
    pub exchange_rates: &'a str,
}

impl ReferenceSources<'static> {
    /// The tables shipped in the binary.
    pub fn embedded() -> Self {
        Self {
            calendar: include_str!("../../reference/calendar.toml"),
            mrp: include_str!("../../reference/mrp.toml"),
            vat: include_str!("../../reference/vat.toml"),
            exchange_rates: include_str!("../../reference/exchange_rates.toml"),
        }
    }
}

impl ReferenceSources<'_> {
    /// Every version the four files hold, with the ids the files give them.
    pub fn versions(&self) -> Result<Vec<ReferenceVersionPublished>, ReferenceError> {
        let mut versions = calendar_versions(self.calendar)?;
        versions.extend(mrp_versions(self.mrp)?);
        versions.extend(vat_versions(self.vat)?);
        versions.extend(rate_versions(self.exchange_rates)?);
        Ok(versions)
    }
}

/// The versions a table file holds (the shipped TOML format of `table`), each checked
/// as if published; the ids are the file's.
pub fn versions_of_file(
    table: ReferenceTable,
    text: &str,
) -> Result<Vec<ReferenceVersionPublished>, ReferenceError> {
    match table {
        ReferenceTable::Calendar => calendar_versions(text),
        ReferenceTable::Mrp => mrp_versions(text),
        ReferenceTable::Vat => vat_versions(text),
        ReferenceTable::ExchangeRates => rate_versions(text),
    }
}

/// All reference tables in force: the fold of the published versions.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReferenceData {
    pub calendar: BusinessCalendar,
    pub mrp: MrpTable,
    pub vat: VatTable,
    pub exchange_rates: ExchangeRates,
}

impl ReferenceData {
    /// The tables of the four files (each version checked as if published).
    pub fn parse(sources: &ReferenceSources<'_>) -> Result<Self, ReferenceError> {
        let mut data = Self::default();
        for version in sources.versions()? {
            data.apply(&version)?;
        }
        if data.calendar.years.is_empty() {
            return Err(invalid(CALENDAR_FILE, "no [[year]] table".into()));
        }
        if data.mrp.years.is_empty() {
            return Err(invalid(MRP_FILE, "no [[year]] table".into()));
        }
        if data.vat.rates.is_empty() {
            return Err(invalid(VAT_FILE, "no [[rate]] table".into()));
        }
        Ok(data)
    }

    /// The tables shipped in the binary.
    pub fn embedded() -> Result<Self, ReferenceError> {
        Self::parse(&ReferenceSources::embedded())
    }

    /// The fold of recorded versions, in the order recorded.
    pub fn from_versions<'a>(
        versions: impl IntoIterator<Item = &'a ReferenceVersionPublished>,
    ) -> Result<Self, ReferenceError> {
        let mut data = Self::default();
        for version in versions {
            data.apply(version)?;
        }
        Ok(data)
    }

    /// Puts a version in force for its range, replacing the one before (BILLING.md 1).
    /// The version is checked first; a refused version changes nothing.
    pub fn apply(&mut self, published: &ReferenceVersionPublished) -> Result<(), ReferenceError> {
        check_version(published)?;
        self.put_recorded(published);
        Ok(())
    }

    /// Puts a version already recorded in force, as recorded: it was checked when it was
    /// published, and a rule tightened since must not make a recorded history unreadable.
    pub fn put_recorded(&mut self, published: &ReferenceVersionPublished) {
        let version = published.version.clone();
        match &published.content {
            ReferenceContent::Calendar {
                year,
                non_working,
                working_weekends,
                provisional,
            } => {
                self.calendar.years.insert(
                    *year,
                    CalendarYear {
                        version,
                        provisional: *provisional,
                        non_working_weekdays: non_working.iter().copied().collect(),
                        working_weekend_days: working_weekends.iter().copied().collect(),
                    },
                );
            }
            ReferenceContent::Mrp { year, mrp } => {
                self.mrp.years.insert(*year, (*mrp, version));
            }
            ReferenceContent::Vat {
                effective_from,
                rate,
            } => {
                self.vat.rates.insert(*effective_from, (*rate, version));
            }
            ReferenceContent::ExchangeRate { date, usd_kzt } => {
                self.exchange_rates
                    .usd_kzt
                    .insert(*date, (*usd_kzt, version));
            }
        }
    }

    /// The fold of versions read from a reference stream (recorded, so not checked again).
    pub fn from_recorded<'a>(
        versions: impl IntoIterator<Item = &'a ReferenceVersionPublished>,
    ) -> Self {
        let mut data = Self::default();
        for version in versions {
            data.put_recorded(version);
        }
        data
    }
}

impl ReferenceData {
    /// Every range of `table` in force with its version, `range=version`, ascending.
    pub fn versions_in_force(&self, table: ReferenceTable) -> Vec<String> {
        match table {
            ReferenceTable::Calendar => self
                .calendar
                .years
                .iter()
                .map(|(year, y)| format!("{year}={}", y.version))
                .collect(),
            ReferenceTable::Mrp => self
                .mrp
                .years
                .iter()
                .map(|(year, (_, v))| format!("{year}={v}"))
                .collect(),
            ReferenceTable::Vat => self
                .vat
                .rates
                .iter()
                .map(|(date, (_, v))| format!("{date}={v}"))
                .collect(),
            ReferenceTable::ExchangeRates => self
                .exchange_rates
                .usd_kzt
                .iter()
                .map(|(date, (_, v))| format!("{date}={v}"))
                .collect(),
        }
    }
}

/// Checks a version against its table's rules: the field at fault is named.
pub fn check_version(published: &ReferenceVersionPublished) -> Result<(), ReferenceError> {
    let table = published.content.table().code();
    let refuse = |field: &'static str, message: String| ReferenceError::InvalidVersion {
        table,
        field,
        message,
    };
    if published.version.trim().is_empty() || published.version.chars().count() > LABEL_CHARS_MAX {
        return Err(refuse(
            "version",
            format!("must be 1 to {LABEL_CHARS_MAX} characters"),
        ));
    }
    if published.source.trim().is_empty() || published.source.chars().count() > LABEL_CHARS_MAX {
        return Err(refuse(
            "source",
            format!("must be 1 to {LABEL_CHARS_MAX} characters: the law, decree or feed the figures come from"),
        ));
    }
    let year_in_bounds = |year: i32| {
        if (YEAR_MIN..=YEAR_MAX).contains(&year) {
            Ok(())
        } else {
            Err(refuse(
                "range",
                format!("year {year} is outside {YEAR_MIN}..{YEAR_MAX}"),
            ))
        }
    };
    match &published.content {
        ReferenceContent::Calendar {
            year,
            non_working,
            working_weekends,
            ..
        } => {
            year_in_bounds(*year)?;
            let mut seen = BTreeSet::new();
            for date in non_working {
                if date.year() != *year {
                    return Err(refuse("non_working", format!("{date} is not in {year}")));
                }
                if is_weekend(*date) {
                    return Err(refuse(
                        "non_working",
                        format!(
                            "{date} is a {}, already a day off; list only weekdays",
                            date.weekday()
                        ),
                    ));
                }
                if !seen.insert(*date) {
                    return Err(refuse("non_working", format!("{date} is listed twice")));
                }
            }
            for date in working_weekends {
                if date.year() != *year {
                    return Err(refuse(
                        "working_weekends",
                        format!("{date} is not in {year}"),
                    ));
                }
                if !is_weekend(*date) {
                    return Err(refuse(
                        "working_weekends",
                        format!(
                            "{date} is a {}, already a working day; list only Saturdays and Sundays",
                            date.weekday()
                        ),
                    ));
                }
                if !seen.insert(*date) {
                    return Err(refuse(
                        "working_weekends",
                        format!("{date} is listed twice"),
                    ));
                }
            }
        }
        ReferenceContent::Mrp { year, mrp } => {
            year_in_bounds(*year)?;
            if *mrp <= Decimal::ZERO || *mrp > Decimal::from(1_000_000) || mrp.scale() > 2 {
                return Err(refuse(
                    "mrp",
                    format!(
                        "{mrp} is not an MRP in KZT: a positive amount with at most 2 decimals"
                    ),
                ));
            }
        }
        ReferenceContent::Vat {
            effective_from,
            rate,
        } => {
            year_in_bounds(effective_from.year())?;
            if rate.is_sign_negative() || *rate >= Decimal::ONE || rate.scale() > 6 {
                return Err(refuse(
                    "rate",
                    format!(
                        "{rate} is not a VAT rate: a fraction from 0 to below 1 (0.16 for 16%)"
                    ),
                ));
            }
        }
        ReferenceContent::ExchangeRate { date, usd_kzt } => {
            year_in_bounds(date.year())?;
            if *usd_kzt <= Decimal::ZERO
                || *usd_kzt > Decimal::from(USD_KZT_MAX)
                || usd_kzt.scale() > 6
            {
                return Err(refuse(
                    "USD",
                    format!("{usd_kzt} is not a USD/KZT rate: KZT for one USD, positive, at most {USD_KZT_MAX}"),
                ));
            }
        }
    }
    Ok(())
}
