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
            calendar: include_str!("../reference/calendar.toml"),
            mrp: include_str!("../reference/mrp.toml"),
            vat: include_str!("../reference/vat.toml"),
            exchange_rates: include_str!("../reference/exchange_rates.toml"),
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

// ---------------------------------------------------------------------------------------
// Calendar

const CALENDAR_FILE: &str = "calendar.toml";
const MRP_FILE: &str = "mrp.toml";
const VAT_FILE: &str = "vat.toml";
const RATES_FILE: &str = "exchange_rates.toml";

fn invalid(file: &'static str, message: String) -> ReferenceError {
    ReferenceError::Invalid { file, message }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct CalendarYear {
    version: String,
    provisional: bool,
    non_working_weekdays: BTreeSet<Date>,
    working_weekend_days: BTreeSet<Date>,
}

/// The Kazakh production calendar: which days are working (and banking) days, a version
/// a year.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BusinessCalendar {
    years: BTreeMap<i32, CalendarYear>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarFile {
    version: String,
    source: String,
    #[serde(rename = "year", default)]
    years: Vec<CalendarYearFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarYearFile {
    year: i32,
    /// This year's version id; the file's `version` when absent.
    version: Option<String>,
    #[serde(default)]
    provisional: bool,
    non_working_weekdays: Vec<toml::Value>,
    #[serde(default)]
    working_weekend_days: Vec<toml::Value>,
}

fn is_weekend(date: Date) -> bool {
    matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday)
}

/// Reads a version check's refusal as a file error, naming the file.
fn in_file(file: &'static str) -> impl Fn(ReferenceError) -> ReferenceError {
    move |error| match error {
        ReferenceError::InvalidVersion { field, message, .. } => {
            invalid(file, format!("{field}: {message}"))
        }
        other => other,
    }
}

fn calendar_versions(text: &str) -> Result<Vec<ReferenceVersionPublished>, ReferenceError> {
    let file: CalendarFile = parse_toml(CALENDAR_FILE, text)?;
    check_file_version(CALENDAR_FILE, &file.version)?;
    let mut years = BTreeSet::new();
    let mut versions = Vec::with_capacity(file.years.len());
    for entry in file.years {
        if !years.insert(entry.year) {
            return Err(invalid(
                CALENDAR_FILE,
                format!("year {} appears twice", entry.year),
            ));
        }
        let dates = |values: &[toml::Value]| -> Result<Vec<Date>, ReferenceError> {
            values.iter().map(|v| toml_date(CALENDAR_FILE, v)).collect()
        };
        let version = ReferenceVersionPublished {
            version: entry.version.unwrap_or_else(|| file.version.clone()),
            source: file.source.clone(),
            content: ReferenceContent::Calendar {
                year: entry.year,
                non_working: dates(&entry.non_working_weekdays)?,
                working_weekends: dates(&entry.working_weekend_days)?,
                provisional: entry.provisional,
            },
        };
        check_version(&version).map_err(in_file(CALENDAR_FILE))?;
        versions.push(version);
    }
    Ok(versions)
}

impl BusinessCalendar {
    /// The calendar of one file (the shipped format).
    pub fn parse(text: &str) -> Result<Self, ReferenceError> {
        let versions = calendar_versions(text)?;
        if versions.is_empty() {
            return Err(invalid(CALENDAR_FILE, "no [[year]] table".into()));
        }
        Ok(ReferenceData::from_versions(&versions)?.calendar)
    }

    /// The years the calendar covers, ascending.
    pub fn years(&self) -> impl Iterator<Item = i32> + '_ {
        self.years.keys().copied()
    }

    /// The version in force for `year`, and whether it is provisional.
    pub fn year_version(&self, year: i32) -> Option<(&str, bool)> {
        self.years
            .get(&year)
            .map(|y| (y.version.as_str(), y.provisional))
    }

    /// The versions of the years from `from` to `to` (inclusive), joined by `+`: what a
    /// due date computed over those days records. Years without a table are left out.
    pub fn versions_between(&self, from: Date, to: Date) -> String {
        let mut names: Vec<&str> = Vec::new();
        for year in from.year().min(to.year())..=to.year().max(from.year()) {
            if let Some(entry) = self.years.get(&year) {
                if !names.contains(&entry.version.as_str()) {
                    names.push(&entry.version);
                }
            }
        }
        names.join("+")
    }

    /// Whether any of the years from `from` to `to` is provisional.
    pub fn provisional_between(&self, from: Date, to: Date) -> bool {
        (from.year()..=to.year()).any(|y| self.years.get(&y).is_some_and(|e| e.provisional))
    }

    /// Whether `date` is a working (and banking) day; an error in a year with no table.
    pub fn is_working_day(&self, date: Date) -> Result<bool, ReferenceError> {
        let year = self
            .years
            .get(&date.year())
            .ok_or(ReferenceError::NoCalendarForYear(date.year()))?;
        Ok(if is_weekend(date) {
            year.working_weekend_days.contains(&date)
        } else {
            !year.non_working_weekdays.contains(&date)
        })
    }
    /// The date `days` working days after `from`: day 1 is the first working day after
    /// `from`, whatever `from` itself is (§5.4, §5.8).
    pub fn add_working_days(&self, from: Date, days: u32) -> Result<Date, ReferenceError> {
        assert!(
            days <= WORKING_DAYS_MAX,
            "{days} working days exceeds the bound {WORKING_DAYS_MAX}"
        );
        let mut date = from;
        let mut counted = 0;
        while counted < days {
            date = date
                .next_day()
                .ok_or(ReferenceError::NoCalendarForYear(from.year() + 1))?;
            if self.is_working_day(date)? {
                counted += 1;
            }
        }
        Ok(date)
    }

    /// The date `days` working days before `to` (day 1 is the last working day before it).
    pub fn working_days_before(&self, to: Date, days: u32) -> Result<Date, ReferenceError> {
        assert!(
            days <= WORKING_DAYS_MAX,
            "{days} working days exceeds the bound {WORKING_DAYS_MAX}"
        );
        let mut date = to;
        let mut counted = 0;
        while counted < days {
            date = date
                .previous_day()
                .ok_or(ReferenceError::NoCalendarForYear(to.year() - 1))?;
            if self.is_working_day(date)? {
                counted += 1;
            }
        }
        Ok(date)
    }
}

// ---------------------------------------------------------------------------------------
// MRP

/// The monthly calculation index (МРП) by calendar year, in KZT, a version a year.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MrpTable {
    years: BTreeMap<i32, (Decimal, String)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MrpFile {
    version: String,
    source: String,
    #[serde(rename = "year", default)]
    years: Vec<MrpYearFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MrpYearFile {
    year: i32,
    version: Option<String>,
    mrp: String,
}

fn mrp_versions(text: &str) -> Result<Vec<ReferenceVersionPublished>, ReferenceError> {
    let file: MrpFile = parse_toml(MRP_FILE, text)?;
    check_file_version(MRP_FILE, &file.version)?;
    let mut years = BTreeSet::new();
    let mut versions = Vec::with_capacity(file.years.len());
    for entry in file.years {
        if !years.insert(entry.year) {
            return Err(invalid(
                MRP_FILE,
                format!("year {} appears twice", entry.year),
            ));
        }
        let version = ReferenceVersionPublished {
            version: entry.version.unwrap_or_else(|| file.version.clone()),
            source: file.source.clone(),
            content: ReferenceContent::Mrp {
                year: entry.year,
                mrp: positive_decimal(MRP_FILE, &entry.mrp)?,
            },
        };
        check_version(&version).map_err(in_file(MRP_FILE))?;
        versions.push(version);
    }
    Ok(versions)
}

impl MrpTable {
    pub fn parse(text: &str) -> Result<Self, ReferenceError> {
        let versions = mrp_versions(text)?;
        if versions.is_empty() {
            return Err(invalid(MRP_FILE, "no [[year]] table".into()));
        }
        Ok(ReferenceData::from_versions(&versions)?.mrp)
    }

    /// The MRP of a calendar year, in KZT.
    pub fn for_year(&self, year: i32) -> Result<Decimal, ReferenceError> {
        self.years
            .get(&year)
            .map(|(mrp, _)| *mrp)
            .ok_or(ReferenceError::NoMrpForYear(year))
    }

    /// The MRP in force on a date (that of its calendar year).
    pub fn on(&self, date: Date) -> Result<Decimal, ReferenceError> {
        self.for_year(date.year())
    }

    /// The version in force for `year`.
    pub fn version_for(&self, year: i32) -> Option<&str> {
        self.years.get(&year).map(|(_, version)| version.as_str())
    }
}

// ---------------------------------------------------------------------------------------
// VAT

/// A VAT rate and the date from which it applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VatRate {
    /// As a fraction: 0.16 for 16%.
    pub rate: Decimal,
    pub effective_from: Date,
}

/// VAT rates by effective date (§5.11), a version a start date.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VatTable {
    rates: BTreeMap<Date, (Decimal, String)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VatFile {
    version: String,
    source: String,
    #[serde(rename = "rate", default)]
    rates: Vec<VatRateFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VatRateFile {
    effective_from: toml::Value,
    version: Option<String>,
    rate_percent: String,
}

fn vat_versions(text: &str) -> Result<Vec<ReferenceVersionPublished>, ReferenceError> {
    let file: VatFile = parse_toml(VAT_FILE, text)?;
    check_file_version(VAT_FILE, &file.version)?;
    let mut dates = BTreeSet::new();
    let mut versions = Vec::with_capacity(file.rates.len());
    for entry in file.rates {
        let effective_from = toml_date(VAT_FILE, &entry.effective_from)?;
        let percent = Decimal::from_str(entry.rate_percent.trim()).map_err(|e| {
            invalid(
                VAT_FILE,
                format!("rate_percent {:?}: {e}", entry.rate_percent),
            )
        })?;
        if percent.is_sign_negative() || percent >= Decimal::ONE_HUNDRED {
            return Err(invalid(
                VAT_FILE,
                format!("rate_percent {percent} is not between 0 and 100"),
            ));
        }
        if !dates.insert(effective_from) {
            return Err(invalid(
                VAT_FILE,
                format!("two rates take effect on {effective_from}"),
            ));
        }
        let version = ReferenceVersionPublished {
            version: entry.version.unwrap_or_else(|| file.version.clone()),
            source: file.source.clone(),
            content: ReferenceContent::Vat {
                effective_from,
                rate: (percent / Decimal::ONE_HUNDRED).normalize(),
            },
        };
        check_version(&version).map_err(in_file(VAT_FILE))?;
        versions.push(version);
    }
    Ok(versions)
}

impl VatTable {
    pub fn parse(text: &str) -> Result<Self, ReferenceError> {
        let versions = vat_versions(text)?;
        if versions.is_empty() {
            return Err(invalid(VAT_FILE, "no [[rate]] table".into()));
        }
        Ok(ReferenceData::from_versions(&versions)?.vat)
    }

    /// The rate in force on `date`: the latest whose `effective_from` is not after it.
    pub fn rate_on(&self, date: Date) -> Result<VatRate, ReferenceError> {
        self.rates
            .range(..=date)
            .next_back()
            .map(|(&effective_from, (rate, _))| VatRate {
                rate: *rate,
                effective_from,
            })
            .ok_or(ReferenceError::NoVatRate(date))
    }

    /// The version of the rate taking effect on `effective_from`.
    pub fn version_for(&self, effective_from: Date) -> Option<&str> {
        self.rates
            .get(&effective_from)
            .map(|(_, version)| version.as_str())
    }
}

// ---------------------------------------------------------------------------------------
// Exchange rates

/// The National Bank's official rate for one date, per one unit of currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExchangeRate {
    pub date: Date,
    pub kzt_per_unit: Decimal,
}

/// USD/KZT official rates by the date they apply (§5.1), a version a date.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExchangeRates {
    usd_kzt: BTreeMap<Date, (Decimal, String)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RatesFile {
    version: String,
    source: String,
    #[serde(default)]
    usd_kzt: Vec<RateFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RateFile {
    date: toml::Value,
    version: Option<String>,
    rate: String,
    quant: u32,
}

fn rate_versions(text: &str) -> Result<Vec<ReferenceVersionPublished>, ReferenceError> {
    let file: RatesFile = parse_toml(RATES_FILE, text)?;
    check_file_version(RATES_FILE, &file.version)?;
    let mut dates = BTreeSet::new();
    let mut versions = Vec::with_capacity(file.usd_kzt.len());
    for entry in file.usd_kzt {
        let date = toml_date(RATES_FILE, &entry.date)?;
        let rate = positive_decimal(RATES_FILE, &entry.rate)?;
        if entry.quant == 0 {
            return Err(invalid(
                RATES_FILE,
                format!("{date}: quant must be at least 1"),
            ));
        }
        if !dates.insert(date) {
            return Err(invalid(RATES_FILE, format!("{date} appears twice")));
        }
        let version = ReferenceVersionPublished {
            version: entry.version.unwrap_or_else(|| file.version.clone()),
            source: file.source.clone(),
            content: ReferenceContent::ExchangeRate {
                date,
                usd_kzt: (rate / Decimal::from(entry.quant)).round_dp(6).normalize(),
            },
        };
        check_version(&version).map_err(in_file(RATES_FILE))?;
        versions.push(version);
    }
    Ok(versions)
}

impl ExchangeRates {
    pub fn parse(text: &str) -> Result<Self, ReferenceError> {
        Ok(ReferenceData::from_versions(&rate_versions(text)?)?.exchange_rates)
    }

    pub fn is_empty(&self) -> bool {
        self.usd_kzt.is_empty()
    }

    /// The latest rate on or before `date` (the National Bank's rate stays in force
    /// until the next fixing); `None` when none is loaded that early.
    pub fn usd_kzt_on_or_before(&self, date: Date) -> Option<ExchangeRate> {
        self.usd_kzt
            .range(..=date)
            .next_back()
            .map(|(&date, (kzt_per_unit, _))| ExchangeRate {
                date,
                kzt_per_unit: *kzt_per_unit,
            })
    }

    /// The rate of exactly `date`; no rate is carried over from another day.
    pub fn usd_kzt_on(&self, date: Date) -> Result<ExchangeRate, ReferenceError> {
        self.usd_kzt
            .get(&date)
            .map(|(kzt_per_unit, _)| ExchangeRate {
                date,
                kzt_per_unit: *kzt_per_unit,
            })
            .ok_or(ReferenceError::NoExchangeRate(date))
    }

    /// The version of the rate of `date`.
    pub fn version_for(&self, date: Date) -> Option<&str> {
        self.usd_kzt.get(&date).map(|(_, version)| version.as_str())
    }
}

// ---------------------------------------------------------------------------------------
// The National Bank's daily rates file

/// One rate read from the National Bank's daily rates XML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NbkRate {
    pub date: Date,
    /// KZT for one USD (the published rate divided by its `quant`, to 6 decimals).
    pub usd_kzt: Decimal,
}

/// A bound on the size of a rates file (the real one is a few KB).
pub const NBK_XML_BYTES_MAX: usize = 1 << 20;

/// Reads the USD rate from the National Bank's daily rates XML (BILLING.md 1):
/// `<rates><date>DD.MM.YYYY</date><item><title>USD</title><quant>1</quant>
/// <description>RATE</description></item>...</rates>`. Anything else is refused with
/// the reason; a file without a USD item is refused too (it would load nothing).
pub fn parse_nbk_rates(xml: &str) -> Result<NbkRate, ReferenceError> {
    let refuse = |field: &'static str, message: String| ReferenceError::InvalidVersion {
        table: ReferenceTable::ExchangeRates.code(),
        field,
        message,
    };
    if xml.len() > NBK_XML_BYTES_MAX {
        return Err(refuse(
            "body",
            format!("the file is over {NBK_XML_BYTES_MAX} bytes"),
        ));
    }
    let body = xml.trim_start_matches('\u{feff}').trim();
    let body = match body.strip_prefix("<?xml") {
        Some(rest) => rest
            .split_once("?>")
            .map(|(_, rest)| rest.trim())
            .ok_or_else(|| refuse("body", "an unterminated XML declaration".into()))?,
        None => body,
    };
    let inner = element(body, "rates")
        .filter(|(_, rest)| rest.trim().is_empty())
        .map(|(inner, _)| inner)
        .ok_or_else(|| {
            refuse(
                "body",
                "not the National Bank's rates file: no <rates> root element".into(),
            )
        })?;
    let (date_text, _) =
        element(inner, "date").ok_or_else(|| refuse("date", "the file has no <date>".into()))?;
    let date = parse_dotted_date(date_text.trim())
        .ok_or_else(|| refuse("date", format!("{date_text:?} is not a date DD.MM.YYYY")))?;
    let mut rest = inner;
    let mut items = 0;
    while let Some((item, after)) = element(rest, "item") {
        items += 1;
        if items > 1000 {
            return Err(refuse("item", "more than 1000 items".into()));
        }
        rest = after;
        let field = |name: &str| element(item, name).map(|(text, _)| text.trim());
        if field("title") != Some("USD") {
            continue;
        }
        let quant: u32 = field("quant")
            .and_then(|q| q.parse().ok())
            .filter(|q| *q > 0)
            .ok_or_else(|| refuse("quant", "the USD item has no positive <quant>".into()))?;
        let text = field("description")
            .ok_or_else(|| refuse("description", "the USD item has no <description>".into()))?;
        let rate = Decimal::from_str(text)
            .ok()
            .filter(|r| *r > Decimal::ZERO)
            .ok_or_else(|| refuse("description", format!("{text:?} is not a positive rate")))?;
        return Ok(NbkRate {
            date,
            usd_kzt: (rate / Decimal::from(quant)).round_dp(6).normalize(),
        });
    }
    Err(refuse("item", "the file has no USD item".into()))
}

/// The text inside the first `<name>...</name>` of `text` and what follows it. Only what
/// the rates file uses: no attributes on the elements read, no CDATA.
fn element<'a>(text: &'a str, name: &str) -> Option<(&'a str, &'a str)> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = text.find(&open)? + open.len();
    let end = start + text[start..].find(&close)?;
    Some((&text[start..end], &text[end + close.len()..]))
}

fn parse_dotted_date(text: &str) -> Option<Date> {
    let mut parts = text.split('.');
    let day: u8 = parts.next()?.parse().ok()?;
    let month: u8 = parts.next()?.parse().ok()?;
    let year: i32 = parts.next()?.parse().ok()?;
    if parts.next().is_some() {
        return None;
    }
    Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()
}

// ---------------------------------------------------------------------------------------
// Parsing helpers shared by the tables

fn parse_toml<T: serde::de::DeserializeOwned>(
    file: &'static str,
    text: &str,
) -> Result<T, ReferenceError> {
    toml::from_str(text).map_err(|e| ReferenceError::Invalid {
        file,
        message: e.to_string(),
    })
}

fn check_file_version(file: &'static str, version: &str) -> Result<(), ReferenceError> {
    if version.trim().is_empty() || version.len() > 64 {
        return Err(ReferenceError::Invalid {
            file,
            message: "version must be 1 to 64 characters".into(),
        });
    }
    Ok(())
}

fn positive_decimal(file: &'static str, text: &str) -> Result<Decimal, ReferenceError> {
    let value = Decimal::from_str(text.trim()).map_err(|e| ReferenceError::Invalid {
        file,
        message: format!("{text:?} is not a decimal number: {e}"),
    })?;
    if value <= Decimal::ZERO {
        return Err(ReferenceError::Invalid {
            file,
            message: format!("{value} must be positive"),
        });
    }
    Ok(value)
}

/// A date written either as a TOML local date (`2026-01-01`) or a string (`"2026-01-01"`).
fn toml_date(file: &'static str, value: &toml::Value) -> Result<Date, ReferenceError> {
    let invalid = |message: String| ReferenceError::Invalid { file, message };
    let text = match value {
        toml::Value::String(text) => text.clone(),
        toml::Value::Datetime(datetime) => {
            if datetime.time.is_some() || datetime.offset.is_some() {
                return Err(invalid(format!("{datetime} is not a plain date")));
            }
            datetime.to_string()
        }
        other => return Err(invalid(format!("{other} is not a date (YYYY-MM-DD)"))),
    };
    parse_iso_date(&text).ok_or_else(|| invalid(format!("{text:?} is not a date (YYYY-MM-DD)")))
}

fn parse_iso_date(text: &str) -> Option<Date> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let year: i32 = text[0..4].parse().ok()?;
    let month: u8 = text[5..7].parse().ok()?;
    let day: u8 = text[8..10].parse().ok()?;
    Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    fn data() -> ReferenceData {
        ReferenceData::embedded().expect("the embedded reference data parses")
    }

    #[test]
    fn the_embedded_tables_parse_and_cover_2025_to_2027() {
        let data = data();
        assert_eq!(
            data.calendar.years().collect::<Vec<_>>(),
            vec![2025, 2026, 2027]
        );
        assert_eq!(
            data.calendar.year_version(2026),
            Some(("kz-calendar-2026-1", false))
        );
        assert_eq!(
            data.calendar.year_version(2027),
            Some(("kz-calendar-2027-1", true)),
            "2027 is provisional until the decree on moved days off"
        );
        assert_eq!(
            data.mrp.for_year(2027),
            Err(ReferenceError::NoMrpForYear(2027)),
            "no 2027 MRP is shipped: the budget law sets it"
        );
        assert!(data.exchange_rates.is_empty());
        assert_eq!(data.mrp.for_year(2026).unwrap(), Decimal::from(4325));
        assert_eq!(
            data.mrp.on(date!(2025 - 12 - 31)).unwrap(),
            Decimal::from(3932)
        );
        assert_eq!(
            data.mrp.for_year(2022),
            Err(ReferenceError::NoMrpForYear(2022))
        );
    }

    #[test]
    fn vat_is_twelve_percent_until_2025_and_sixteen_from_2026() {
        let vat = data().vat;
        assert_eq!(
            vat.rate_on(date!(2025 - 12 - 31)).unwrap().rate,
            Decimal::from_str("0.12").unwrap()
        );
        let rate = vat.rate_on(date!(2026 - 01 - 01)).unwrap();
        assert_eq!(rate.rate, Decimal::from_str("0.16").unwrap());
        assert_eq!(rate.effective_from, date!(2026 - 01 - 01));
        assert_eq!(
            vat.rate_on(date!(2008 - 12 - 31)),
            Err(ReferenceError::NoVatRate(date!(2008 - 12 - 31)))
        );
    }

    #[test]
    fn working_days_follow_the_holidays_and_moved_days() {
        let calendar = data().calendar;
        assert!(
            !calendar.is_working_day(date!(2026 - 03 - 23)).unwrap(),
            "Nauryz"
        );
        assert!(
            !calendar.is_working_day(date!(2026 - 03 - 21)).unwrap(),
            "Saturday"
        );
        assert!(
            calendar.is_working_day(date!(2026 - 08 - 31)).unwrap(),
            "no Constitution Day in 2026"
        );
        assert!(
            calendar.is_working_day(date!(2025 - 01 - 05)).unwrap(),
            "working Sunday"
        );
        assert!(!calendar.is_working_day(date!(2025 - 09 - 01)).unwrap());
        assert!(
            !calendar.is_working_day(date!(2027 - 01 - 04)).unwrap(),
            "2 January 2027 is a Saturday: the day off moves to Monday"
        );
        assert!(
            !calendar.is_working_day(date!(2027 - 03 - 15)).unwrap(),
            "Constitution Day from 2027"
        );
        assert!(calendar.is_working_day(date!(2027 - 05 - 17)).unwrap());
        assert_eq!(
            calendar.is_working_day(date!(2028 - 01 - 04)),
            Err(ReferenceError::NoCalendarForYear(2028))
        );
        assert_eq!(
            calendar.is_working_day(date!(2024 - 12 - 31)),
            Err(ReferenceError::NoCalendarForYear(2024))
        );
    }

    #[test]
    fn adding_working_days_skips_weekends_and_holidays() {
        let calendar = data().calendar;
        let cases = [
            (date!(2026 - 02 - 02), 5, date!(2026 - 02 - 09)),
            (date!(2026 - 03 - 20), 5, date!(2026 - 04 - 01)),
            (date!(2026 - 03 - 20), 3, date!(2026 - 03 - 30)),
            (date!(2026 - 04 - 30), 5, date!(2026 - 05 - 12)),
            (date!(2025 - 12 - 29), 5, date!(2026 - 01 - 08)),
            (date!(2025 - 12 - 31), 3, date!(2026 - 01 - 08)),
            (date!(2025 - 01 - 03), 1, date!(2025 - 01 - 05)),
            (date!(2026 - 03 - 21), 0, date!(2026 - 03 - 21)),
            // Across New Year 2027 (§5.4 subscription, §5.8 credit).
            (date!(2026 - 12 - 28), 5, date!(2027 - 01 - 06)),
            (date!(2026 - 12 - 29), 3, date!(2027 - 01 - 05)),
            (date!(2026 - 12 - 30), 5, date!(2027 - 01 - 11)),
        ];
        for (from, days, expected) in cases {
            assert_eq!(
                calendar.add_working_days(from, days).unwrap(),
                expected,
                "{from} + {days}"
            );
        }
        assert_eq!(
            calendar.add_working_days(date!(2027 - 12 - 30), 5),
            Err(ReferenceError::NoCalendarForYear(2028))
        );
        assert_eq!(
            calendar.versions_between(date!(2026 - 12 - 28), date!(2027 - 01 - 06)),
            "kz-calendar-2026-1+kz-calendar-2027-1"
        );
        assert_eq!(
            calendar.versions_between(date!(2026 - 02 - 02), date!(2026 - 02 - 09)),
            "kz-calendar-2026-1"
        );
    }

    #[test]
    fn exchange_rates_divide_by_the_quant_and_are_exact_to_the_date() {
        let rates = ExchangeRates::parse(
            "version = \"v\"\nsource = \"s\"\n[[usd_kzt]]\ndate = 2026-02-02\nrate = \"50315\"\nquant = 100\n",
        )
        .unwrap();
        assert_eq!(
            rates
                .usd_kzt_on(date!(2026 - 02 - 02))
                .unwrap()
                .kzt_per_unit,
            Decimal::from_str("503.15").unwrap()
        );
        assert_eq!(
            rates.usd_kzt_on(date!(2026 - 02 - 03)),
            Err(ReferenceError::NoExchangeRate(date!(2026 - 02 - 03)))
        );
    }

    fn calendar_error(body: &str) -> String {
        let text = format!("version = \"v\"\nsource = \"s\"\n{body}");
        match BusinessCalendar::parse(&text) {
            Err(ReferenceError::Invalid { file, message }) => {
                assert_eq!(file, CALENDAR_FILE);
                message
            }
            other => panic!("expected an invalid calendar, got {other:?}"),
        }
    }

    #[test]
    fn a_calendar_with_mistakes_is_refused_with_the_reason() {
        assert!(
            calendar_error("[[year]]\nyear = 2026\nnon_working_weekdays = [2026-03-21]")
                .contains("Saturday")
        );
        assert!(calendar_error(
            "[[year]]\nyear = 2026\nnon_working_weekdays = []\nworking_weekend_days = [2026-03-23]"
        )
        .contains("Monday"));
        assert!(
            calendar_error("[[year]]\nyear = 2026\nnon_working_weekdays = [2025-03-24]")
                .contains("not in 2026")
        );
        assert!(calendar_error(
            "[[year]]\nyear = 2026\nnon_working_weekdays = [2026-03-23, 2026-03-23]"
        )
        .contains("twice"));
        assert!(calendar_error(
            "[[year]]\nyear = 2026\nnon_working_weekdays = []\n[[year]]\nyear = 2026\nnon_working_weekdays = []"
        )
        .contains("twice"));
        assert!(
            calendar_error("[[year]]\nyear = 2026\nnon_working_weekdays = [\"2026-02-30\"]")
                .contains("not a date")
        );
        assert!(
            calendar_error("[[year]]\nyear = 2026\nnon_working_weekdays = []\nholidays = []")
                .contains("unknown field")
        );
        assert!(calendar_error("").contains("no [[year]]"));
    }

    #[test]
    fn other_tables_with_mistakes_are_refused() {
        assert!(MrpTable::parse(
            "version = \"v\"\nsource = \"s\"\n[[year]]\nyear = 2026\nmrp = \"-1\""
        )
        .is_err());
        assert!(MrpTable::parse("version = \"v\"\nsource = \"s\"\n[[year]]\nyear = 2026\nmrp = \"1\"\n[[year]]\nyear = 2026\nmrp = \"2\"").is_err());
        assert!(VatTable::parse("version = \"v\"\nsource = \"s\"\n[[rate]]\neffective_from = 2026-01-01\nrate_percent = \"160\"").is_err());
        assert!(VatTable::parse("version = \"v\"\nsource = \"s\"").is_err());
        assert!(ExchangeRates::parse("version = \"v\"\nsource = \"s\"\n[[usd_kzt]]\ndate = 2026-01-05\nrate = \"500\"\nquant = 0").is_err());
        assert!(ExchangeRates::parse("version = \"\"\nsource = \"s\"").is_err());
    }

    fn published(version: &str, content: ReferenceContent) -> ReferenceVersionPublished {
        ReferenceVersionPublished {
            version: version.into(),
            source: "test".into(),
            content,
        }
    }

    #[test]
    fn a_newer_version_of_a_range_replaces_the_older_and_only_that_range() {
        let mut data = data();
        data.apply(&published(
            "kz-calendar-2027-2",
            ReferenceContent::Calendar {
                year: 2027,
                non_working: vec![date!(2027 - 01 - 01), date!(2027 - 01 - 05)],
                working_weekends: vec![date!(2027 - 01 - 09)],
                provisional: false,
            },
        ))
        .unwrap();
        let calendar = &data.calendar;
        assert_eq!(
            calendar.year_version(2027),
            Some(("kz-calendar-2027-2", false))
        );
        assert!(calendar.is_working_day(date!(2027 - 01 - 04)).unwrap());
        assert!(!calendar.is_working_day(date!(2027 - 01 - 05)).unwrap());
        assert!(calendar.is_working_day(date!(2027 - 01 - 09)).unwrap());
        assert_eq!(
            calendar.year_version(2026),
            Some(("kz-calendar-2026-1", false))
        );
        data.apply(&published(
            "kz-mrp-2027-1",
            ReferenceContent::Mrp {
                year: 2027,
                mrp: Decimal::from(4500),
            },
        ))
        .unwrap();
        assert_eq!(data.mrp.for_year(2027), Ok(Decimal::from(4500)));
        assert_eq!(data.mrp.version_for(2027), Some("kz-mrp-2027-1"));
    }

    #[test]
    fn a_version_breaking_its_tables_rules_is_refused_naming_the_field() {
        let refused = |content| match check_version(&published("v", content)) {
            Err(ReferenceError::InvalidVersion { field, .. }) => field,
            other => panic!("expected a refusal, got {other:?}"),
        };
        assert_eq!(
            refused(ReferenceContent::Calendar {
                year: 2027,
                non_working: vec![date!(2026 - 12 - 31)],
                working_weekends: vec![],
                provisional: false
            }),
            "non_working"
        );
        assert_eq!(
            refused(ReferenceContent::Mrp {
                year: 2027,
                mrp: Decimal::from(-1)
            }),
            "mrp"
        );
        assert_eq!(
            refused(ReferenceContent::Vat {
                effective_from: date!(2027 - 01 - 01),
                rate: Decimal::from(16)
            }),
            "rate"
        );
        assert_eq!(
            refused(ReferenceContent::ExchangeRate {
                date: date!(2027 - 01 - 05),
                usd_kzt: Decimal::ZERO
            }),
            "USD"
        );
        assert_eq!(
            refused(ReferenceContent::Mrp {
                year: 1999,
                mrp: Decimal::from(1)
            }),
            "range"
        );
    }

    #[test]
    fn the_national_banks_rates_file_gives_the_usd_rate_per_unit() {
        let xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rates><generator>NBK</generator><title>rates</title><date>30.12.2026</date>\n<item><fullname>EURO</fullname><title>EUR</title><description>590.1</description><quant>1</quant></item>\n<item><fullname>US DOLLAR</fullname><title>USD</title><description>51234</description><quant>100</quant><index>UP</index></item></rates>";
        assert_eq!(
            parse_nbk_rates(xml).unwrap(),
            NbkRate {
                date: date!(2026 - 12 - 30),
                usd_kzt: Decimal::from_str("512.34").unwrap()
            }
        );
        let field = |xml: &str| match parse_nbk_rates(xml) {
            Err(ReferenceError::InvalidVersion { field, .. }) => field,
            other => panic!("expected a refusal, got {other:?}"),
        };
        assert_eq!(field("<html>no</html>"), "body");
        assert_eq!(field("<rates><item></item></rates>"), "date");
        assert_eq!(field("<rates><date>31.02.2026</date></rates>"), "date");
        assert_eq!(
            field("<rates><date>30.12.2026</date><item><title>EUR</title></item></rates>"),
            "item"
        );
        assert_eq!(
            field("<rates><date>30.12.2026</date><item><title>USD</title><quant>1</quant><description>-5</description></item></rates>"),
            "description"
        );
    }
}
