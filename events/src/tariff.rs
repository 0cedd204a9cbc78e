//! The tariff catalog (BILLING.md 2, §4.2, §5.3): the tariffs the operator publishes, each
//! a series of versions by `effective_from`. Every published version is an event of one
//! operator-wide stream (`TariffCatalog` / `tariffs`), hash-chained like an agreement's,
//! in the digest and the export, so an auditor can tell which version priced an invoice
//! and that no version was altered after the fact.
//!
//! A version takes effect only from a date after the day it is recorded (§4.2: the
//! operator changes tariffs unilaterally, for the future); the ledger never reprices the
//! past, and an invoice names the version that priced it (§5.3).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::Date;

use crate::{business_date, Amount, Currency, MetricName, Money, TariffCode, TariffName};

/// The aggregate type of the tariff stream in the event store.
pub const TARIFF_AGGREGATE_TYPE: &str = "TariffCatalog";
/// The id of the one tariff stream.
pub const TARIFF_STREAM_ID: &str = "tariffs";
/// The version of the tariff events' shape.
pub const TARIFF_EVENT_VERSION: &str = "1.0";
/// The event type of a published version.
pub const TARIFF_VERSION_PUBLISHED: &str = "TariffVersionPublished";

/// A price in each currency an agreement may settle in (§5.1): `{"KZT": "5000.00",
/// "USD": "10.00"}`, net of VAT (§5.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    #[serde(rename = "KZT")]
    #[schema(value_type = String, example = "5000.00")]
    pub kzt: Amount,
    #[serde(rename = "USD")]
    #[schema(value_type = String, example = "10.00")]
    pub usd: Amount,
}

impl Prices {
    /// The price in `currency`.
    pub fn in_currency(&self, currency: Currency) -> Money {
        match currency {
            Currency::KZT => self.kzt.in_currency(currency),
            Currency::USD => self.usd.in_currency(currency),
        }
    }
}

/// A version of a tariff, as published (BILLING.md 2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TariffVersionPublished {
    pub code: TariffCode,
    /// 1 for the tariff's first version, then each next one.
    pub version: u32,
    pub name: TariffName,
    /// The first day it prices; after the day it was recorded (§4.2).
    #[serde(with = "business_date")]
    pub effective_from: Date,
    /// The day it was recorded.
    #[serde(with = "business_date")]
    pub published_on: Date,
    /// The monthly subscription fee, net of VAT.
    pub fees: Prices,
    /// What a month's fee includes, per metric (BILLING.md 3).
    pub included: BTreeMap<MetricName, u64>,
    /// The price of each unit beyond what is included, per metric, net of VAT.
    pub overage: BTreeMap<MetricName, Prices>,
}

impl TariffVersionPublished {
    /// `standard-v2`: how invoices and documents name it.
    pub fn id(&self) -> String {
        format!("{}-v{}", self.code, self.version)
    }
}
