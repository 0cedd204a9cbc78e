//! The tariff catalog (BILLING.md 2): the versions of every tariff, and the rules a new
//! version must keep. Pure: the caller passes today's date and records the event.

use std::collections::BTreeMap;

use time::Date;

use events::{MetricName, Prices, TariffCode, TariffName, TariffVersionPublished};

/// The most metrics one version may name (included or priced).
pub const METRICS_PER_VERSION_MAX: usize = 32;
/// The most versions one tariff may have.
pub const VERSIONS_PER_TARIFF_MAX: u32 = 10_000;
/// The largest included volume of one metric.
pub const INCLUDED_MAX: u64 = 1_000_000_000_000;

/// Why a version was refused; nothing is recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TariffError {
    #[error("effective_from: a tariff version takes effect only from a future date (§4.2): {effective_from} is not after today, {today}")]
    NotInTheFuture { effective_from: Date, today: Date },
    #[error("overage.{0}: the metric has an included volume but no overage price: its usage beyond the volume could not be priced")]
    UnpricedMetric(String),
    #[error("included: at most {METRICS_PER_VERSION_MAX} metrics per version")]
    TooManyMetrics,
    #[error("included.{0}: at most {INCLUDED_MAX}")]
    IncludedTooLarge(String),
    #[error("the tariff `{0}` has {VERSIONS_PER_TARIFF_MAX} versions, the most it may have")]
    TooManyVersions(String),
}

impl TariffError {
    /// The request field at fault, for the problem's `errors`.
    pub fn field(&self) -> String {
        match self {
            Self::NotInTheFuture { .. } => "effective_from".to_owned(),
            Self::UnpricedMetric(metric) => format!("overage.{metric}"),
            Self::TooManyMetrics => "included".to_owned(),
            Self::IncludedTooLarge(metric) => format!("included.{metric}"),
            Self::TooManyVersions(_) => "code".to_owned(),
        }
    }
}

/// A new version as the operator sends it (`PUT /v1/tariffs/{code}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TariffVersionRequest {
    pub name: TariffName,
    pub effective_from: Date,
    pub fees: Prices,
    pub included: BTreeMap<MetricName, u64>,
    pub overage: BTreeMap<MetricName, Prices>,
}

/// Every version of every tariff, in the order recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TariffCatalog {
    tariffs: BTreeMap<TariffCode, Vec<TariffVersionPublished>>,
}

impl TariffCatalog {
    pub fn from_versions(versions: impl IntoIterator<Item = TariffVersionPublished>) -> Self {
        let mut catalog = Self::default();
        for version in versions {
            catalog.apply(version);
        }
        catalog
    }

    pub fn apply(&mut self, version: TariffVersionPublished) {
        self.tariffs
            .entry(version.code.clone())
            .or_default()
            .push(version);
    }

    /// Decides a new version of `code` (BILLING.md 2): effective only from a day after
    /// `today` (§4.2), every included metric priced beyond its volume.
    pub fn publish(
        &self,
        code: TariffCode,
        request: TariffVersionRequest,
        today: Date,
    ) -> Result<TariffVersionPublished, TariffError> {
        if request.effective_from <= today {
            return Err(TariffError::NotInTheFuture {
                effective_from: request.effective_from,
                today,
            });
        }
        let metrics = request
            .included
            .keys()
            .chain(request.overage.keys())
            .collect::<std::collections::BTreeSet<_>>();
        if metrics.len() > METRICS_PER_VERSION_MAX {
            return Err(TariffError::TooManyMetrics);
        }
        for (metric, volume) in &request.included {
            if *volume > INCLUDED_MAX {
                return Err(TariffError::IncludedTooLarge(metric.to_string()));
            }
            if !request.overage.contains_key(metric) {
                return Err(TariffError::UnpricedMetric(metric.to_string()));
            }
        }
        let count = self.versions(&code).len();
        let version = u32::try_from(count + 1).unwrap_or(u32::MAX);
        if version > VERSIONS_PER_TARIFF_MAX {
            return Err(TariffError::TooManyVersions(code.to_string()));
        }
        Ok(TariffVersionPublished {
            code,
            version,
            name: request.name,
            effective_from: request.effective_from,
            published_on: today,
            fees: request.fees,
            included: request.included,
            overage: request.overage,
        })
    }

    /// Every version of `code`, oldest first (empty for an unknown tariff).
    pub fn versions(&self, code: &TariffCode) -> &[TariffVersionPublished] {
        self.tariffs.get(code).map_or(&[], Vec::as_slice)
    }

    pub fn knows(&self, code: &TariffCode) -> bool {
        self.tariffs.contains_key(code)
    }

    pub fn tariffs(&self) -> impl Iterator<Item = (&TariffCode, &[TariffVersionPublished])> {
        self.tariffs.iter().map(|(code, v)| (code, v.as_slice()))
    }

    /// The version of `code` that prices `on`: the latest `effective_from` on or before
    /// it, the one recorded last when two share it. `None` before its first version.
    pub fn in_force(&self, code: &TariffCode, on: Date) -> Option<&TariffVersionPublished> {
        self.versions(code)
            .iter()
            .filter(|v| v.effective_from <= on)
            .max_by_key(|v| (v.effective_from, v.version))
    }
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use events::Amount;

    use super::*;

    fn prices(kzt: &str, usd: &str) -> Prices {
        Prices {
            kzt: Amount::parse(kzt).unwrap(),
            usd: Amount::parse(usd).unwrap(),
        }
    }

    fn request(effective_from: Date, fee: &str) -> TariffVersionRequest {
        let documents = MetricName::parse("documents").unwrap();
        TariffVersionRequest {
            name: TariffName::parse("Стандарт").unwrap(),
            effective_from,
            fees: prices(fee, "10.00"),
            included: BTreeMap::from([(documents.clone(), 100)]),
            overage: BTreeMap::from([(documents, prices("50.00", "0.10"))]),
        }
    }

    fn standard() -> TariffCode {
        TariffCode::parse("standard").unwrap()
    }

    #[test]
    fn a_version_takes_effect_only_from_a_future_date() {
        let catalog = TariffCatalog::default();
        let today = date!(2026 - 12 - 02);
        assert_eq!(
            catalog.publish(standard(), request(today, "5000.00"), today),
            Err(TariffError::NotInTheFuture {
                effective_from: today,
                today
            })
        );
        let first = catalog
            .publish(standard(), request(date!(2027 - 01 - 01), "5000.00"), today)
            .unwrap();
        assert_eq!((first.version, first.id()), (1, "standard-v1".to_owned()));
        assert_eq!(first.published_on, today);
    }

    #[test]
    fn the_version_in_force_is_the_latest_effective_on_the_day() {
        let today = date!(2026 - 12 - 02);
        let mut catalog = TariffCatalog::default();
        for (from, fee) in [
            (date!(2027 - 01 - 01), "5000.00"),
            (date!(2027 - 03 - 01), "6000.00"),
            (date!(2027 - 03 - 01), "5500.00"),
        ] {
            let version = catalog
                .publish(standard(), request(from, fee), today)
                .unwrap();
            catalog.apply(version);
        }
        assert!(catalog
            .in_force(&standard(), date!(2026 - 12 - 31))
            .is_none());
        assert_eq!(
            catalog
                .in_force(&standard(), date!(2027 - 02 - 28))
                .unwrap()
                .version,
            1
        );
        // Two versions from the same day: the one recorded last prices it.
        let march = catalog
            .in_force(&standard(), date!(2027 - 03 - 01))
            .unwrap();
        assert_eq!(
            (march.version, march.fees.kzt.to_string()),
            (3, "5500.00".to_owned())
        );
    }

    #[test]
    fn an_included_metric_needs_an_overage_price() {
        let mut unpriced = request(date!(2027 - 01 - 01), "5000.00");
        unpriced.overage.clear();
        let refused = TariffCatalog::default()
            .publish(standard(), unpriced, date!(2026 - 12 - 02))
            .unwrap_err();
        assert_eq!(refused.field(), "overage.documents");
    }
}
