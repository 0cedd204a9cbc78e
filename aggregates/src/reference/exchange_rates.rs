//! The National Bank's USD/KZT rates (§5.1): a version a date.

use super::*;

/// The National Bank's official rate for one date, per one unit of currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExchangeRate {
    pub date: Date,
    pub kzt_per_unit: Decimal,
}

/// USD/KZT official rates by the date they apply (§5.1), a version a date.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExchangeRates {
    pub(super) usd_kzt: BTreeMap<Date, (Decimal, String)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RatesFile {
    version: String,
    source: String,
    #[serde(default)]
    pub(super) usd_kzt: Vec<RateFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RateFile {
    date: toml::Value,
    version: Option<String>,
    rate: String,
    quant: u32,
}

pub(super) fn rate_versions(text: &str) -> Result<Vec<ReferenceVersionPublished>, ReferenceError> {
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
