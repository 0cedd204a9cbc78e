//! Loading the reference data: the tables shipped in the binary, each replaceable by a
//! file of the same name in a directory the operator names (`--reference-dir`), so that
//! a holiday, a rate or an MRP can be corrected without a new release (DOMAIN.md).

use std::path::{Path, PathBuf};

use aggregates::reference::{ReferenceData, ReferenceError, ReferenceSources};
use events::ReferenceVersionPublished;

pub const CALENDAR_FILE: &str = "calendar.toml";
pub const MRP_FILE: &str = "mrp.toml";
pub const VAT_FILE: &str = "vat.toml";
pub const EXCHANGE_RATES_FILE: &str = "exchange_rates.toml";

#[derive(Debug, thiserror::Error)]
pub enum ReferenceFilesError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the reference directory {0} does not exist")]
    MissingDirectory(PathBuf),
    #[error(transparent)]
    Invalid(#[from] ReferenceError),
}

/// Which file each table came from, for the start message and the logs.
#[derive(Debug, Clone, Default)]
pub struct ReferenceOrigins {
    pub overridden: Vec<PathBuf>,
}

/// The embedded tables, with any file present in `directory` taking the place of its
/// embedded counterpart.
pub fn load(
    directory: Option<&Path>,
) -> Result<(ReferenceData, ReferenceOrigins), ReferenceFilesError> {
    let (versions, origins) = shipped_versions(directory)?;
    let mut data = ReferenceData::default();
    for version in &versions {
        data.apply(version)?;
    }
    Ok((data, origins))
}

/// The versions of the shipped tables (the embedded files, each replaced by a file of
/// the same name in `directory`): what a store records at first start for every range
/// its reference stream does not hold yet (api::application::reference_book).
pub fn shipped_versions(
    directory: Option<&Path>,
) -> Result<(Vec<ReferenceVersionPublished>, ReferenceOrigins), ReferenceFilesError> {
    let embedded = ReferenceSources::embedded();
    let Some(directory) = directory else {
        ReferenceData::parse(&embedded)?;
        return Ok((embedded.versions()?, ReferenceOrigins::default()));
    };
    if !directory.is_dir() {
        return Err(ReferenceFilesError::MissingDirectory(directory.to_owned()));
    }
    let mut origins = ReferenceOrigins::default();
    let mut read = |name: &str| -> Result<Option<String>, ReferenceFilesError> {
        let path = directory.join(name);
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).map_err(|source| ReferenceFilesError::Read {
            path: path.clone(),
            source,
        })?;
        origins.overridden.push(path);
        Ok(Some(text))
    };
    let calendar = read(CALENDAR_FILE)?;
    let mrp = read(MRP_FILE)?;
    let vat = read(VAT_FILE)?;
    let exchange_rates = read(EXCHANGE_RATES_FILE)?;
    let sources = ReferenceSources {
        calendar: calendar.as_deref().unwrap_or(embedded.calendar),
        mrp: mrp.as_deref().unwrap_or(embedded.mrp),
        vat: vat.as_deref().unwrap_or(embedded.vat),
        exchange_rates: exchange_rates.as_deref().unwrap_or(embedded.exchange_rates),
    };
    ReferenceData::parse(&sources)?;
    Ok((sources.versions()?, origins))
}
