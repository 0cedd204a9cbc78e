//! Reference data the offer's rules depend on: the Kazakh calendar of working days, the
//! MRP by year, VAT by effective date and the National Bank's USD/KZT rates.
//!
//! They are data, never code (DOMAIN.md, reference data): TOML files shipped in the
//! binary (`aggregates/reference/*.toml`), each replaceable by a file of the same name
//! the operator names at start. Parsing is pure: the caller reads the files and passes
//! their text in [`ReferenceSources`]. Every table carries a `version` that the figures
//! computed from it record, so an auditor can tell which table produced a due date, a
//! VAT amount or a rate.
//!
//! A date computation in a year the calendar does not cover is an error, never a
//! weekday-only guess.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Deserialize;
use time::{Date, Month, Weekday};

/// Limit on the number of working days a due-date computation may add (TIGER_STYLE:
/// a bound on every loop). The offer's longest term is 5 days.
pub const WORKING_DAYS_MAX: u32 = 366;

/// Why reference data could not answer, or could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("the calendar has no table for {0}: working days in that year are unknown; load a calendar that covers it")]
    NoCalendarForYear(i32),
    #[error("the MRP table has no value for {0}")]
    NoMrpForYear(i32),
    #[error("no VAT rate is in force on {0}")]
    NoVatRate(Date),
    #[error("no National Bank USD/KZT rate is loaded for {0} (§5.1)")]
    NoExchangeRate(Date),
    #[error("reference file {file}: {message}")]
    Invalid { file: &'static str, message: String },
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

/// All reference tables, parsed and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceData {
    pub calendar: BusinessCalendar,
    pub mrp: MrpTable,
    pub vat: VatTable,
    pub exchange_rates: ExchangeRates,
}

impl ReferenceData {
    pub fn parse(sources: &ReferenceSources<'_>) -> Result<Self, ReferenceError> {
        Ok(Self {
            calendar: BusinessCalendar::parse(sources.calendar)?,
            mrp: MrpTable::parse(sources.mrp)?,
            vat: VatTable::parse(sources.vat)?,
            exchange_rates: ExchangeRates::parse(sources.exchange_rates)?,
        })
    }

    /// The tables shipped in the binary.
    pub fn embedded() -> Result<Self, ReferenceError> {
        Self::parse(&ReferenceSources::embedded())
    }
}

// ---------------------------------------------------------------------------------------
// Calendar

const CALENDAR_FILE: &str = "calendar.toml";
const MRP_FILE: &str = "mrp.toml";
const VAT_FILE: &str = "vat.toml";
const RATES_FILE: &str = "exchange_rates.toml";

#[derive(Debug, Clone, PartialEq, Eq)]
struct CalendarYear {
    non_working_weekdays: BTreeSet<Date>,
    working_weekend_days: BTreeSet<Date>,
}

/// The Kazakh production calendar: which days are working (and banking) days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessCalendar {
    version: String,
    years: BTreeMap<i32, CalendarYear>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarFile {
    version: String,
    #[allow(dead_code)]
    source: String,
    #[serde(rename = "year", default)]
    years: Vec<CalendarYearFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarYearFile {
    year: i32,
    non_working_weekdays: Vec<toml::Value>,
    #[serde(default)]
    working_weekend_days: Vec<toml::Value>,
}

fn is_weekend(date: Date) -> bool {
    matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday)
}

impl BusinessCalendar {
    pub fn parse(text: &str) -> Result<Self, ReferenceError> {
        let file: CalendarFile = parse_toml(CALENDAR_FILE, text)?;
        check_version(CALENDAR_FILE, &file.version)?;
        let invalid = |message: String| ReferenceError::Invalid {
            file: CALENDAR_FILE,
            message,
        };
        let mut years = BTreeMap::new();
        for entry in file.years {
            let mut year = CalendarYear {
                non_working_weekdays: BTreeSet::new(),
                working_weekend_days: BTreeSet::new(),
            };
            for value in &entry.non_working_weekdays {
                let date = toml_date(CALENDAR_FILE, value)?;
                if date.year() != entry.year {
                    return Err(invalid(format!(
                        "{date} is listed under year {}",
                        entry.year
                    )));
                }
                if is_weekend(date) {
                    return Err(invalid(format!(
                        "{date} is a {}, already a day off; list only weekdays under non_working_weekdays",
                        date.weekday()
                    )));
                }
                if !year.non_working_weekdays.insert(date) {
                    return Err(invalid(format!("{date} is listed twice")));
                }
            }
            for value in &entry.working_weekend_days {
                let date = toml_date(CALENDAR_FILE, value)?;
                if date.year() != entry.year {
                    return Err(invalid(format!(
                        "{date} is listed under year {}",
                        entry.year
                    )));
                }
                if !is_weekend(date) {
                    return Err(invalid(format!(
                        "{date} is a {}, already a working day; list only Saturdays and Sundays under working_weekend_days",
                        date.weekday()
                    )));
                }
                if !year.working_weekend_days.insert(date) {
                    return Err(invalid(format!("{date} is listed twice")));
                }
            }
            if years.insert(entry.year, year).is_some() {
                return Err(invalid(format!("year {} appears twice", entry.year)));
            }
        }
        if years.is_empty() {
            return Err(invalid("no [[year]] table".into()));
        }
        Ok(Self {
            version: file.version,
            years,
        })
    }

    /// The version recorded with every due date computed from this calendar.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The years the calendar covers, ascending.
    pub fn years(&self) -> impl Iterator<Item = i32> + '_ {
        self.years.keys().copied()
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

/// The monthly calculation index (МРП) by calendar year, in KZT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MrpTable {
    version: String,
    years: BTreeMap<i32, Decimal>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MrpFile {
    version: String,
    #[allow(dead_code)]
    source: String,
    #[serde(rename = "year", default)]
    years: Vec<MrpYearFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MrpYearFile {
    year: i32,
    mrp: String,
}

impl MrpTable {
    pub fn parse(text: &str) -> Result<Self, ReferenceError> {
        let file: MrpFile = parse_toml(MRP_FILE, text)?;
        check_version(MRP_FILE, &file.version)?;
        let invalid = |message: String| ReferenceError::Invalid {
            file: MRP_FILE,
            message,
        };
        let mut years = BTreeMap::new();
        for entry in file.years {
            let mrp = positive_decimal(MRP_FILE, &entry.mrp)?;
            if years.insert(entry.year, mrp).is_some() {
                return Err(invalid(format!("year {} appears twice", entry.year)));
            }
        }
        if years.is_empty() {
            return Err(invalid("no [[year]] table".into()));
        }
        Ok(Self {
            version: file.version,
            years,
        })
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    /// The MRP of a calendar year, in KZT.
    pub fn for_year(&self, year: i32) -> Result<Decimal, ReferenceError> {
        self.years
            .get(&year)
            .copied()
            .ok_or(ReferenceError::NoMrpForYear(year))
    }

    /// The MRP in force on a date (that of its calendar year).
    pub fn on(&self, date: Date) -> Result<Decimal, ReferenceError> {
        self.for_year(date.year())
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

/// VAT rates by effective date (§5.11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VatTable {
    version: String,
    /// Ascending by `effective_from`.
    rates: Vec<VatRate>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VatFile {
    version: String,
    #[allow(dead_code)]
    source: String,
    #[serde(rename = "rate", default)]
    rates: Vec<VatRateFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VatRateFile {
    effective_from: toml::Value,
    rate_percent: String,
}

impl VatTable {
    pub fn parse(text: &str) -> Result<Self, ReferenceError> {
        let file: VatFile = parse_toml(VAT_FILE, text)?;
        check_version(VAT_FILE, &file.version)?;
        let invalid = |message: String| ReferenceError::Invalid {
            file: VAT_FILE,
            message,
        };
        let mut rates = Vec::with_capacity(file.rates.len());
        for entry in &file.rates {
            let effective_from = toml_date(VAT_FILE, &entry.effective_from)?;
            let percent = Decimal::from_str(entry.rate_percent.trim())
                .map_err(|e| invalid(format!("rate_percent {:?}: {e}", entry.rate_percent)))?;
            if percent.is_sign_negative() || percent >= Decimal::ONE_HUNDRED {
                return Err(invalid(format!(
                    "rate_percent {percent} is not between 0 and 100"
                )));
            }
            rates.push(VatRate {
                rate: percent / Decimal::ONE_HUNDRED,
                effective_from,
            });
        }
        rates.sort_by_key(|r| r.effective_from);
        if let Some(pair) = rates
            .windows(2)
            .find(|w| w[0].effective_from == w[1].effective_from)
        {
            return Err(invalid(format!(
                "two rates take effect on {}",
                pair[0].effective_from
            )));
        }
        if rates.is_empty() {
            return Err(invalid("no [[rate]] table".into()));
        }
        Ok(Self {
            version: file.version,
            rates,
        })
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    /// The rate in force on `date`: the latest whose `effective_from` is not after it.
    pub fn rate_on(&self, date: Date) -> Result<VatRate, ReferenceError> {
        self.rates
            .iter()
            .rev()
            .find(|r| r.effective_from <= date)
            .copied()
            .ok_or(ReferenceError::NoVatRate(date))
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

/// USD/KZT official rates by the date they apply (§5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeRates {
    version: String,
    usd_kzt: BTreeMap<Date, Decimal>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RatesFile {
    version: String,
    #[allow(dead_code)]
    source: String,
    #[serde(default)]
    usd_kzt: Vec<RateFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RateFile {
    date: toml::Value,
    rate: String,
    quant: u32,
}

impl ExchangeRates {
    pub fn parse(text: &str) -> Result<Self, ReferenceError> {
        let file: RatesFile = parse_toml(RATES_FILE, text)?;
        check_version(RATES_FILE, &file.version)?;
        let invalid = |message: String| ReferenceError::Invalid {
            file: RATES_FILE,
            message,
        };
        let mut usd_kzt = BTreeMap::new();
        for entry in &file.usd_kzt {
            let date = toml_date(RATES_FILE, &entry.date)?;
            let rate = positive_decimal(RATES_FILE, &entry.rate)?;
            if entry.quant == 0 {
                return Err(invalid(format!("{date}: quant must be at least 1")));
            }
            let per_unit = rate / Decimal::from(entry.quant);
            if usd_kzt.insert(date, per_unit).is_some() {
                return Err(invalid(format!("{date} appears twice")));
            }
        }
        Ok(Self {
            version: file.version,
            usd_kzt,
        })
    }

    pub fn version(&self) -> &str {
        &self.version
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
            .map(|(&date, &kzt_per_unit)| ExchangeRate { date, kzt_per_unit })
    }

    /// The rate of exactly `date`; no rate is carried over from another day.
    pub fn usd_kzt_on(&self, date: Date) -> Result<ExchangeRate, ReferenceError> {
        self.usd_kzt
            .get(&date)
            .map(|&kzt_per_unit| ExchangeRate { date, kzt_per_unit })
            .ok_or(ReferenceError::NoExchangeRate(date))
    }
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

fn check_version(file: &'static str, version: &str) -> Result<(), ReferenceError> {
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
    fn the_embedded_tables_parse_and_cover_2025_and_2026() {
        let data = data();
        assert_eq!(data.calendar.years().collect::<Vec<_>>(), vec![2025, 2026]);
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
        assert_eq!(
            calendar.is_working_day(date!(2027 - 01 - 04)),
            Err(ReferenceError::NoCalendarForYear(2027))
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
        ];
        for (from, days, expected) in cases {
            assert_eq!(
                calendar.add_working_days(from, days).unwrap(),
                expected,
                "{from} + {days}"
            );
        }
        assert_eq!(
            calendar.add_working_days(date!(2026 - 12 - 30), 5),
            Err(ReferenceError::NoCalendarForYear(2027))
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
                .contains("under year 2026")
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
}
