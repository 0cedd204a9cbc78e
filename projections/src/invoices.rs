//! `GET /v1/agreements/{id}/invoices`: each invoice as of a date, open, overdue or paid.

use serde::Serialize;
use time::Date;

use aggregates::late_payment::{self, PendingFine};
use aggregates::ReferenceData;
use events::{InvoiceKind, InvoiceNumber, Money};

use crate::error::ProjectionError;
use crate::ledger::AgreementLedger;
use crate::money_string;
use crate::position::AgreementPosition;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    Open,
    Paid,
    Overdue,
    /// Cancelled (BILLING.md 5.3): owes nothing, its number stays used.
    Void,
}

/// One row of `GET /v1/agreements/{id}/invoices`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct InvoiceStatusView {
    pub number: InvoiceNumber,
    pub kind: InvoiceKind,
    #[serde(with = "events::business_date")]
    pub issued_on: Date,
    #[serde(with = "events::business_date")]
    pub due_on: Date,
    #[serde(with = "money_string")]
    pub total: Money,
    /// The total of its credit notes (BILLING.md 5.3).
    #[serde(with = "money_string")]
    pub credited: Money,
    #[serde(with = "events::business_date::option")]
    pub voided_on: Option<Date>,
    /// Principal paid.
    #[serde(with = "money_string")]
    pub paid: Money,
    #[serde(with = "money_string")]
    pub outstanding: Money,
    #[serde(with = "events::business_date::option")]
    pub paid_in_full_on: Option<Date>,
    /// Days past the due date while unpaid (0 once paid).
    pub days_overdue: u32,
    /// Days of delay counted for the penalty (§5.5): up to full payment or the date.
    pub days_late: u32,
    #[serde(with = "money_string")]
    pub penalty_accrued: Money,
    #[serde(with = "money_string")]
    pub penalty_charged: Money,
    #[serde(with = "money_string")]
    pub penalty_owed: Money,
    /// The fine §5.9 allows (accrued), charged or not; `null` while it is pending.
    #[serde(with = "money_string::option")]
    #[schema(value_type = Option<events::Money>)]
    pub fine: Option<Money>,
    /// Set while the fine waits for reference data (the MRP of its year).
    pub fine_pending: Option<PendingFine>,
    #[serde(with = "money_string")]
    pub fine_charged: Money,
    #[serde(with = "money_string")]
    pub fine_owed: Money,
    pub status: InvoiceStatus,
}

impl AgreementPosition {
    /// Each invoice with what is paid, owed and accrued on it as of `as_of`.
    pub fn invoices(
        &self,
        as_of: Date,
        reference: &ReferenceData,
    ) -> Result<Vec<InvoiceStatusView>, ProjectionError> {
        self.invoices
            .values()
            .map(|invoice| {
                let facts = invoice.delay_facts(&self.force_majeure);
                let penalty = late_payment::penalty(&facts, as_of)?;
                let fine = invoice.fine_figure(&facts, as_of, reference)?;
                let outstanding = invoice.principal_outstanding()?;
                let status = if invoice.voided_on.is_some() {
                    InvoiceStatus::Void
                } else if outstanding.is_zero() {
                    InvoiceStatus::Paid
                } else if as_of > invoice.due_on {
                    InvoiceStatus::Overdue
                } else {
                    InvoiceStatus::Open
                };
                Ok(InvoiceStatusView {
                    number: invoice.number,
                    kind: invoice.kind,
                    issued_on: invoice.issued_on,
                    due_on: invoice.due_on,
                    total: invoice.total,
                    credited: invoice.credited,
                    voided_on: invoice.voided_on,
                    paid: invoice.principal_paid,
                    outstanding,
                    paid_in_full_on: invoice.paid_in_full_on,
                    days_overdue: if outstanding.is_zero() {
                        0
                    } else {
                        penalty.days + penalty.force_majeure_days
                    },
                    days_late: penalty.days,
                    penalty_accrued: penalty.amount,
                    penalty_charged: invoice.penalty.charged,
                    penalty_owed: invoice.penalty.owed()?,
                    fine: fine.amount(),
                    fine_pending: fine.pending().cloned(),
                    fine_charged: invoice.fine.charged,
                    fine_owed: invoice.fine.owed()?,
                    status,
                })
            })
            .collect()
    }
}

impl AgreementLedger {
    /// `GET /v1/agreements/{id}/invoices`.
    pub fn invoices(
        &self,
        as_of: Date,
        reference: &ReferenceData,
    ) -> Result<Vec<InvoiceStatusView>, ProjectionError> {
        self.position(as_of)?.invoices(as_of, reference)
    }
}
