//! Parsing helpers shared by the tables' TOML files.

use super::*;

pub(super) fn parse_toml<T: serde::de::DeserializeOwned>(
    file: &'static str,
    text: &str,
) -> Result<T, ReferenceError> {
    toml::from_str(text).map_err(|e| ReferenceError::Invalid {
        file,
        message: e.to_string(),
    })
}

pub(super) fn check_file_version(file: &'static str, version: &str) -> Result<(), ReferenceError> {
    if version.trim().is_empty() || version.len() > 64 {
        return Err(ReferenceError::Invalid {
            file,
            message: "version must be 1 to 64 characters".into(),
        });
    }
    Ok(())
}

pub(super) fn positive_decimal(file: &'static str, text: &str) -> Result<Decimal, ReferenceError> {
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
pub(super) fn toml_date(file: &'static str, value: &toml::Value) -> Result<Date, ReferenceError> {
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

pub(super) fn parse_iso_date(text: &str) -> Option<Date> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let year: i32 = text[0..4].parse().ok()?;
    let month: u8 = text[5..7].parse().ok()?;
    let day: u8 = text[8..10].parse().ok()?;
    Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()
}
