//! `GET /v1/agreements/{id}/penalties`: each late invoice's penalty and fine as of a date,
//! with the arithmetic in words (§5.9).

use serde::Serialize;
use time::Date;

use aggregates::late_payment::{self, FineFigure, PendingFine};
use aggregates::ReferenceData;
use events::{FineAssessment, InvoiceNumber, Money, MoneyError, PenaltyAccrual};

use crate::error::ProjectionError;
use crate::ledger::AgreementLedger;
use crate::money_string;
use crate::position::{AgreementPosition, InvoicePosition};

/// One row of `GET /v1/agreements/{id}/penalties`: a late invoice's penalty and fine,
/// explained down to the clause (§5.9).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PenaltyView {
    pub invoice_number: InvoiceNumber,
    #[serde(with = "money_string")]
    pub base: Money,
    /// Per day, as a fraction: `"0.001"`.
    #[serde(with = "rust_decimal::serde::str")]
    pub rate: rust_decimal::Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub cap_rate: rust_decimal::Decimal,
    #[serde(with = "money_string")]
    pub cap: Money,
    /// Days of delay counted: those from `from` to `to` less `force_majeure_days`.
    pub days: u32,
    /// Days of delay under a declared force majeure, not counted (§8.1).
    pub force_majeure_days: u32,
    #[serde(with = "events::business_date")]
    pub due_on: Date,
    #[serde(with = "events::business_date::option")]
    pub from: Option<Date>,
    #[serde(with = "events::business_date::option")]
    pub to: Option<Date>,
    pub paid_in_full: bool,
    pub capped: bool,
    #[serde(with = "money_string")]
    pub amount: Money,
    #[serde(with = "money_string")]
    pub charged: Money,
    #[serde(with = "money_string")]
    pub waived: Money,
    #[serde(with = "money_string")]
    pub owed: Money,
    pub fine_mrp: u32,
    /// The MRP in KZT in force on the first day of delay.
    #[serde(with = "rust_decimal::serde::str_option")]
    pub mrp: Option<rust_decimal::Decimal>,
    pub mrp_table_version: Option<String>,
    /// The fine; `null` while it is pending (see `fine_pending`).
    #[serde(with = "money_string::option")]
    #[schema(value_type = Option<events::Money>)]
    pub fine: Option<Money>,
    /// Set while the fine waits for reference data (the MRP of its year).
    pub fine_pending: Option<PendingFine>,
    #[serde(with = "money_string")]
    pub fine_charged: Money,
    #[serde(with = "money_string")]
    pub fine_waived: Money,
    #[serde(with = "money_string")]
    pub fine_owed: Money,
    pub fine_exchange_rate: Option<events::FineExchangeRate>,
    pub clause: String,
    /// The arithmetic in words, for a person checking it by hand.
    pub explanation: String,
}

impl PenaltyView {
    fn new(
        penalty: PenaltyAccrual,
        fine: FineFigure,
        invoice: &InvoicePosition,
    ) -> Result<Self, MoneyError> {
        let (fine, fine_pending) = match fine {
            FineFigure::Assessed(fine) => (fine, None),
            FineFigure::Pending(pending) => (
                FineAssessment {
                    clause: pending.clause.clone(),
                    invoice_number: pending.invoice_number,
                    first_day_of_delay: Some(pending.first_day_of_delay),
                    mrp_count: late_payment::FINE_MRP_COUNT,
                    mrp: None,
                    mrp_table_version: None,
                    exchange_rate: None,
                    amount: Money::zero(penalty.base.currency()),
                },
                Some(pending),
            ),
        };
        let fine_words = match &fine_pending {
            Some(pending) => format!(
                "fine {count} MRP: pending ({reason})",
                count = fine.mrp_count,
                reason = pending.reason
            ),
            None => format!(
                "fine {count} MRP x {mrp} = {fine}",
                count = fine.mrp_count,
                mrp = fine.mrp.map(|m| m.to_string()).unwrap_or_default(),
                fine = fine.amount.to_json_string(),
            ),
        };
        let explanation = format!(
            "§5.9: {base} x {rate} x {days} day(s) of delay ({from} to {to}) = {raw}{cap}; {fine_words}",
            base = penalty.base.to_json_string(),
            rate = penalty.rate_per_day,
            days = penalty.days,
            from = penalty.from.map(|d| d.to_string()).unwrap_or_default(),
            to = penalty.to.map(|d| d.to_string()).unwrap_or_default(),
            raw = if penalty.capped {
                "more than the cap".to_owned()
            } else {
                penalty.amount.to_json_string()
            },
            cap = if penalty.capped {
                format!(", capped at {} x {} = {}", penalty.base.to_json_string(), penalty.cap_rate, penalty.cap.to_json_string())
            } else {
                String::new()
            },
        );
        let explanation = if penalty.force_majeure_days > 0 {
            format!(
                "{explanation}; §8.1: {} day(s) of force majeure in that period are not counted",
                penalty.force_majeure_days
            )
        } else {
            explanation
        };
        Ok(Self {
            invoice_number: penalty.invoice_number,
            base: penalty.base,
            rate: penalty.rate_per_day,
            cap_rate: penalty.cap_rate,
            cap: penalty.cap,
            days: penalty.days,
            force_majeure_days: penalty.force_majeure_days,
            due_on: penalty.due_on,
            from: penalty.from,
            to: penalty.to,
            paid_in_full: penalty.paid_in_full,
            capped: penalty.capped,
            amount: penalty.amount,
            charged: invoice.penalty.charged,
            waived: invoice.penalty.waived()?,
            owed: invoice.penalty.owed()?,
            fine_mrp: fine.mrp_count,
            mrp: fine.mrp,
            mrp_table_version: fine.mrp_table_version,
            fine: fine_pending.is_none().then_some(fine.amount),
            fine_pending,
            fine_charged: invoice.fine.charged,
            fine_waived: invoice.fine.waived()?,
            fine_owed: invoice.fine.owed()?,
            fine_exchange_rate: fine.exchange_rate,
            clause: penalty.clause,
            explanation,
        })
    }
}

impl AgreementPosition {
    /// Per late invoice, the penalty and fine with their explanation (§5.9).
    pub fn penalties(
        &self,
        as_of: Date,
        reference: &ReferenceData,
    ) -> Result<Vec<PenaltyView>, ProjectionError> {
        let mut views = Vec::new();
        for invoice in self.invoices.values() {
            let facts = invoice.delay_facts(&self.force_majeure);
            let penalty = late_payment::penalty(&facts, as_of)?;
            // Late, even when every day of delay was force majeure (§8.1).
            if penalty.days + penalty.force_majeure_days == 0 {
                continue;
            }
            let fine = invoice.fine_figure(&facts, as_of, reference)?;
            views.push(PenaltyView::new(penalty, fine, invoice)?);
        }
        Ok(views)
    }
}

impl AgreementLedger {
    /// `GET /v1/agreements/{id}/penalties`.
    pub fn penalties(
        &self,
        as_of: Date,
        reference: &ReferenceData,
    ) -> Result<Vec<PenaltyView>, ProjectionError> {
        self.position(as_of)?.penalties(as_of, reference)
    }
}
