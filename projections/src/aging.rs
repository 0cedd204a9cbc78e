//! `GET /v1/reports/aging`: outstanding principal by how long past its due date, per
//! agreement and per currency.

use serde::Serialize;
use time::Date;

use events::{Currency, Money, MoneyError};

use crate::error::ProjectionError;
use crate::ledger::AgreementLedger;
use crate::money_string;

/// Outstanding principal by how many days past its due date.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AgingBuckets {
    #[serde(with = "money_string")]
    pub current: Money,
    #[serde(rename = "1_15", with = "money_string")]
    pub days_1_15: Money,
    #[serde(rename = "16_30", with = "money_string")]
    pub days_16_30: Money,
    #[serde(rename = "31_90", with = "money_string")]
    pub days_31_90: Money,
    #[serde(with = "money_string")]
    pub over_90: Money,
    #[serde(with = "money_string")]
    pub total: Money,
}

impl AgingBuckets {
    pub fn zero(zero: Money) -> Self {
        Self {
            current: zero,
            days_1_15: zero,
            days_16_30: zero,
            days_31_90: zero,
            over_90: zero,
            total: zero,
        }
    }

    /// Adds an amount `days_overdue` past its due date (0 or less: not yet due).
    pub fn add(&mut self, days_overdue: i64, amount: Money) -> Result<(), MoneyError> {
        let bucket = match days_overdue {
            i64::MIN..=0 => &mut self.current,
            1..=15 => &mut self.days_1_15,
            16..=30 => &mut self.days_16_30,
            31..=90 => &mut self.days_31_90,
            _ => &mut self.over_90,
        };
        *bucket = bucket.checked_add(amount)?;
        self.total = self.total.checked_add(amount)?;
        Ok(())
    }

    pub fn add_all(&mut self, other: &AgingBuckets) -> Result<(), MoneyError> {
        self.current = self.current.checked_add(other.current)?;
        self.days_1_15 = self.days_1_15.checked_add(other.days_1_15)?;
        self.days_16_30 = self.days_16_30.checked_add(other.days_16_30)?;
        self.days_31_90 = self.days_31_90.checked_add(other.days_31_90)?;
        self.over_90 = self.over_90.checked_add(other.over_90)?;
        self.total = self.total.checked_add(other.total)?;
        Ok(())
    }
}

/// One agreement's line of the aging report.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AgingRow {
    pub participant_id: String,
    pub name: String,
    pub currency: Currency,
    #[serde(flatten)]
    pub buckets: AgingBuckets,
}

/// The totals of one currency (KZT and USD are never added together).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AgingTotals {
    pub currency: Currency,
    pub agreements: u64,
    #[serde(flatten)]
    pub buckets: AgingBuckets,
}

/// `GET /v1/reports/aging`: outstanding principal by bucket, per agreement that owes
/// anything, and totals per currency.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AgingReport {
    #[serde(with = "events::business_date")]
    pub as_of: Date,
    pub buckets: [&'static str; 5],
    pub totals: Vec<AgingTotals>,
    pub agreements: Vec<AgingRow>,
}

impl AgingReport {
    pub const BUCKETS: [&'static str; 5] = ["current", "1_15", "16_30", "31_90", "over_90"];

    pub fn new(as_of: Date) -> Self {
        Self {
            as_of,
            buckets: Self::BUCKETS,
            totals: Vec::new(),
            agreements: Vec::new(),
        }
    }

    /// Adds an agreement's row (rows with nothing outstanding are left out).
    pub fn add(&mut self, row: AgingRow) -> Result<(), MoneyError> {
        if row.buckets.total.is_zero() {
            return Ok(());
        }
        let totals = match self.totals.iter_mut().find(|t| t.currency == row.currency) {
            Some(totals) => totals,
            None => {
                self.totals.push(AgingTotals {
                    currency: row.currency,
                    agreements: 0,
                    buckets: AgingBuckets::zero(Money::zero(row.currency)),
                });
                self.totals.last_mut().expect("just pushed")
            }
        };
        totals.agreements += 1;
        totals.buckets.add_all(&row.buckets)?;
        self.agreements.push(row);
        Ok(())
    }

    /// Orders rows by participant id and totals by currency, so the answer is stable.
    pub fn finish(mut self) -> Self {
        self.agreements
            .sort_by(|a, b| a.participant_id.cmp(&b.participant_id));
        self.totals.sort_by_key(|t| t.currency.code());
        self
    }
}

impl AgreementLedger {
    /// This agreement's row of the aging report, as of `as_of`.
    pub fn aging(&self, as_of: Date) -> Result<AgingRow, ProjectionError> {
        let header = self.header_as_of(as_of)?;
        let position = self.position(as_of)?;
        let zero = Money::zero(header.currency);
        let mut row = AgingRow {
            participant_id: header.participant_id.clone(),
            name: header.name.clone(),
            currency: header.currency,
            buckets: AgingBuckets::zero(zero),
        };
        for invoice in position.invoices.values() {
            let outstanding = invoice.principal_outstanding()?;
            if outstanding.is_zero() {
                continue;
            }
            let overdue = (as_of - invoice.due_on).whole_days();
            row.buckets.add(overdue, outstanding)?;
        }
        Ok(row)
    }
}
