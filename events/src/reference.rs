//! The reference stream: versions of the reference tables the operator publishes
//! (BILLING.md 1). Calendar, MRP, VAT and USD/KZT rates are recorded data: each published
//! version is an event of one stream of its own, hash-chained like an agreement's, so an
//! auditor can tell which table produced a due date, a VAT amount or a fine, and that no
//! table was altered after the fact.
//!
//! A version covers one range: a year (`calendar`, `mrp`), a start date (`vat`) or a date
//! (`exchange-rates`). A newer version of the same range replaces the older one for the
//! computations made after it is recorded; figures already recorded name the version they
//! used and never change.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::Date;

use crate::business_date;

/// The aggregate type of the reference stream in the event store.
pub const REFERENCE_AGGREGATE_TYPE: &str = "ReferenceData";
/// The id of the one reference stream.
pub const REFERENCE_STREAM_ID: &str = "kz-reference";
/// The version of the reference events' shape.
pub const REFERENCE_EVENT_VERSION: &str = "1.0";
/// The event type of a published version.
pub const REFERENCE_VERSION_PUBLISHED: &str = "ReferenceVersionPublished";

/// The tables the operator publishes.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum ReferenceTable {
    /// The Kazakh production calendar, a year a version (§5.4, §5.8).
    Calendar,
    /// The monthly calculation index, a year a version (§5.9 fine).
    Mrp,
    /// VAT rates by the date they take effect (§5.11).
    Vat,
    /// The National Bank's USD/KZT rate, a date a version (§5.1).
    ExchangeRates,
}

impl ReferenceTable {
    pub const ALL: [ReferenceTable; 4] =
        [Self::Calendar, Self::Mrp, Self::Vat, Self::ExchangeRates];

    /// The table's name in paths and in version ids.
    pub fn code(self) -> &'static str {
        match self {
            Self::Calendar => "calendar",
            Self::Mrp => "mrp",
            Self::Vat => "vat",
            Self::ExchangeRates => "exchange-rates",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.code() == text)
    }
}

/// What a version says, by table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "table")]
pub enum ReferenceContent {
    /// The weekdays that are not working days and the weekend days that are, in `year`.
    Calendar {
        year: i32,
        #[serde(with = "business_date::vec")]
        non_working: Vec<Date>,
        #[serde(with = "business_date::vec")]
        working_weekends: Vec<Date>,
        /// True while the government's decree on moved days off is not yet known.
        provisional: bool,
    },
    /// The MRP of `year`, in KZT.
    Mrp {
        year: i32,
        #[serde(with = "rust_decimal::serde::str")]
        mrp: Decimal,
    },
    /// The VAT rate (a fraction: 0.16) from `effective_from` until the next.
    Vat {
        #[serde(with = "business_date")]
        effective_from: Date,
        #[serde(with = "rust_decimal::serde::str")]
        rate: Decimal,
    },
    /// KZT for one USD, applying on `date`.
    #[serde(rename = "exchange-rates")]
    ExchangeRate {
        #[serde(with = "business_date")]
        date: Date,
        #[serde(with = "rust_decimal::serde::str")]
        usd_kzt: Decimal,
    },
}

impl ReferenceContent {
    pub fn table(&self) -> ReferenceTable {
        match self {
            Self::Calendar { .. } => ReferenceTable::Calendar,
            Self::Mrp { .. } => ReferenceTable::Mrp,
            Self::Vat { .. } => ReferenceTable::Vat,
            Self::ExchangeRate { .. } => ReferenceTable::ExchangeRates,
        }
    }

    /// The range the version covers, as written in paths: `2027`, or `2026-12-30`.
    pub fn range(&self) -> String {
        match self {
            Self::Calendar { year, .. } | Self::Mrp { year, .. } => year.to_string(),
            Self::Vat {
                effective_from: date,
                ..
            }
            | Self::ExchangeRate { date, .. } => business_date::format(*date),
        }
    }
}

/// A version of one range of one table, published by the operator (or shipped in the
/// binary and recorded at first start).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferenceVersionPublished {
    /// `kz-{table}-{range}-{n}`, e.g. `kz-calendar-2027-2`; shipped versions keep the id
    /// their file gave them (`kz-calendar-2026-1`).
    pub version: String,
    /// Where the figures come from: a law, a decree, the National Bank's feed.
    pub source: String,
    pub content: ReferenceContent,
}
