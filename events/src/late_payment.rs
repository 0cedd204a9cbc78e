//! What late payment (§5.9) produced: the explanation of a penalty or fine, recorded in
//! the events that charge or waive them so that a replay under later rules still gives
//! the historical figure (DOMAIN.md, "record the rule version they applied").

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::Date;

use crate::{business_date, InvoiceNumber, Money, ReasonNote};

/// The two sanctions of §5.9 that cost money.
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
#[serde(rename_all = "snake_case")]
pub enum LateChargeKind {
    /// Пеня: 0.1% of the invoice total per day of delay, at most 5% (§5.9).
    Penalty,
    /// Штраф: 2 MRP once per late invoice, at the MRP of the first day of delay (§5.9).
    Fine,
}

impl LateChargeKind {
    pub fn code(self) -> &'static str {
        match self {
            Self::Penalty => "penalty",
            Self::Fine => "fine",
        }
    }
}

/// How a penalty (пеня, §5.9) on one invoice was computed as of a date.
///
/// `amount = min(round(base x rate_per_day x days, 2), round(base x cap_rate, 2))`,
/// rounded once over the whole period, half away from zero. Days of delay run from the
/// day after the due date (`from`) to the day the invoice was paid in full or the
/// `as_of` date (`to`), both included (§5.5); `days` counts them less the
/// `force_majeure_days` among them, on which no penalty accrues (§8.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PenaltyAccrual {
    /// Always `5.9`.
    pub clause: String,
    pub invoice_number: InvoiceNumber,
    /// The invoice total (DOMAIN.md decision: the base stays the total after partial payments).
    pub base: Money,
    /// 0.001 (0.1% a day).
    #[serde(with = "rust_decimal::serde::str")]
    pub rate_per_day: Decimal,
    /// 0.05 (5% of the total).
    #[serde(with = "rust_decimal::serde::str")]
    pub cap_rate: Decimal,
    #[serde(with = "business_date")]
    pub due_on: Date,
    /// The first day of delay (the day after the due date); `None` when not late.
    #[serde(with = "business_date::option")]
    pub from: Option<Date>,
    /// The last day counted: the day of full payment, or the as-of date while unpaid.
    #[serde(with = "business_date::option")]
    pub to: Option<Date>,
    pub days: u32,
    /// The days from `from` to `to` under a declared force majeure (§8.1, since
    /// 2026-12-01): not counted in `days`. Absent (0) in accruals recorded before, so
    /// their JSON and hashes are unchanged.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub force_majeure_days: u32,
    /// True when the 5% cap limited the amount (from day 50 on).
    pub capped: bool,
    /// `round(base x cap_rate, 2)`.
    pub cap: Money,
    pub amount: Money,
    /// True when the invoice was paid in full on `to`, so accrual has stopped for good.
    pub paid_in_full: bool,
}

/// How the fine (штраф, §5.9) on one late invoice was computed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FineAssessment {
    /// Always `5.9`.
    pub clause: String,
    pub invoice_number: InvoiceNumber,
    /// The first day of delay, whose MRP applies; `None` when the invoice is not late.
    #[serde(with = "business_date::option")]
    pub first_day_of_delay: Option<Date>,
    /// How many MRP the fine is: 2.
    pub mrp_count: u32,
    /// The MRP in KZT in force on the first day of delay.
    #[serde(with = "rust_decimal::serde::str_option", default)]
    pub mrp: Option<Decimal>,
    /// The MRP table's version.
    pub mrp_table_version: Option<String>,
    /// For an agreement in USD: the National Bank rate the KZT fine was converted at.
    pub exchange_rate: Option<FineExchangeRate>,
    /// Zero when the invoice is not late.
    pub amount: Money,
}

/// The USD/KZT rate a fine in MRP (KZT) was converted at for an agreement in USD:
/// the latest National Bank rate on or before the first day of delay, or the invoice's
/// own rate when none is loaded (DOMAIN.md decision, docs/domain.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FineExchangeRate {
    #[serde(with = "rust_decimal::serde::str")]
    pub kzt_per_usd: Decimal,
    #[serde(with = "business_date")]
    pub date: Date,
    /// `exchange_rates` when taken from the table; `invoice` when the invoice's rate.
    pub source: String,
}

/// The operator charged the penalty §5.9 allows on an invoice as of `on`: what has
/// accrued by then, less what was charged or waived before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PenaltyCharged {
    pub invoice_number: InvoiceNumber,
    #[serde(with = "business_date")]
    pub on: Date,
    pub amount: Money,
    /// The accrual as of `on` this charge is taken from.
    pub accrual: PenaltyAccrual,
    /// True when the sweep charged it on the settlement of a termination (§10.3: on the
    /// effective date what has accrued is charged). Absent (false) in events before
    /// 2026-12-01 and in the operator's own charges, so their JSON is unchanged.
    #[serde(default, skip_serializing_if = "is_false")]
    pub settlement: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

/// The operator charged the fine §5.9 allows on a late invoice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FineCharged {
    pub invoice_number: InvoiceNumber,
    #[serde(with = "business_date")]
    pub on: Date,
    pub amount: Money,
    pub assessment: FineAssessment,
    /// True when the sweep charged it on the settlement of a termination (§10.3), as
    /// [`PenaltyCharged::settlement`].
    #[serde(default, skip_serializing_if = "is_false")]
    pub settlement: bool,
}

/// The operator waived part or all of a penalty or fine on an invoice. What was already
/// charged and is still unpaid is waived first (`charged_part`, which lowers the debt);
/// the rest (`uncharged_part`) lowers what may still be charged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LateChargeWaived {
    pub invoice_number: InvoiceNumber,
    pub kind: LateChargeKind,
    #[serde(with = "business_date")]
    pub on: Date,
    pub amount: Money,
    pub charged_part: Money,
    pub uncharged_part: Money,
    pub reason: ReasonNote,
}
