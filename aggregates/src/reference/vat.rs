//! VAT rates by the date they take effect (§5.11): a version a start date.

use super::*;

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
    pub(super) rates: BTreeMap<Date, (Decimal, String)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct VatFile {
    version: String,
    source: String,
    #[serde(rename = "rate", default)]
    pub(super) rates: Vec<VatRateFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct VatRateFile {
    effective_from: toml::Value,
    version: Option<String>,
    rate_percent: String,
}

pub(super) fn vat_versions(text: &str) -> Result<Vec<ReferenceVersionPublished>, ReferenceError> {
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
