//! The MRP by calendar year (§5.9 fine): a version a year.

use super::*;

/// The monthly calculation index (МРП) by calendar year, in KZT, a version a year.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MrpTable {
    pub(super) years: BTreeMap<i32, (Decimal, String)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MrpFile {
    version: String,
    source: String,
    #[serde(rename = "year", default)]
    pub(super) years: Vec<MrpYearFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MrpYearFile {
    year: i32,
    version: Option<String>,
    mrp: String,
}

pub(super) fn mrp_versions(text: &str) -> Result<Vec<ReferenceVersionPublished>, ReferenceError> {
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
