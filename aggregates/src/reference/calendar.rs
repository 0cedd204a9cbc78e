//! The Kazakh production calendar (§5.4, §5.8): a version a year.

use super::*;

pub(super) const CALENDAR_FILE: &str = "calendar.toml";
pub(super) const MRP_FILE: &str = "mrp.toml";
pub(super) const VAT_FILE: &str = "vat.toml";
pub(super) const RATES_FILE: &str = "exchange_rates.toml";

pub(super) fn invalid(file: &'static str, message: String) -> ReferenceError {
    ReferenceError::Invalid { file, message }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CalendarYear {
    pub(super) version: String,
    pub(super) provisional: bool,
    pub(super) non_working_weekdays: BTreeSet<Date>,
    pub(super) working_weekend_days: BTreeSet<Date>,
}

/// The Kazakh production calendar: which days are working (and banking) days, a version
/// a year.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BusinessCalendar {
    pub(super) years: BTreeMap<i32, CalendarYear>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CalendarFile {
    pub(super) version: String,
    source: String,
    #[serde(rename = "year", default)]
    pub(super) years: Vec<CalendarYearFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CalendarYearFile {
    year: i32,
    /// This year's version id; the file's `version` when absent.
    pub(super) version: Option<String>,
    #[serde(default)]
    pub(super) provisional: bool,
    pub(super) non_working_weekdays: Vec<toml::Value>,
    #[serde(default)]
    pub(super) working_weekend_days: Vec<toml::Value>,
}

pub(super) fn is_weekend(date: Date) -> bool {
    matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday)
}

/// Reads a version check's refusal as a file error, naming the file.
pub(super) fn in_file(file: &'static str) -> impl Fn(ReferenceError) -> ReferenceError {
    move |error| match error {
        ReferenceError::InvalidVersion { field, message, .. } => {
            invalid(file, format!("{field}: {message}"))
        }
        other => other,
    }
}

pub(super) fn calendar_versions(
    text: &str,
) -> Result<Vec<ReferenceVersionPublished>, ReferenceError> {
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
