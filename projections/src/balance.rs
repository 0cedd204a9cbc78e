//! `GET /v1/agreements/{id}/balance`: the agreement's money as of a date, with the accruals
//! run to it.

use serde::Serialize;
use time::Date;

use aggregates::late_payment::{self, FineFigure, PendingFine};
use aggregates::ReferenceData;
use events::{Clause, Currency, Money};

use crate::error::ProjectionError;
use crate::ledger::AgreementLedger;
use crate::money_string;
use crate::position::AgreementPosition;

/// `GET /v1/agreements/{id}/balance` (API.md), with the parts behind each total.
/// `total_due = outstanding + penalties_owed + fines_owed`; the advance is held for the
/// participant beside it (it is applied to each new invoice or charge at once).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct BalanceView {
    pub currency: Currency,
    #[serde(with = "events::business_date")]
    pub as_of: Date,
    /// The sum of invoice totals.
    #[serde(with = "money_string")]
    pub invoiced: Money,
    /// The sum of payments received, less those the bank returned (BILLING.md 5.2) and
    /// the advance refunded (§5.10).
    #[serde(with = "money_string")]
    pub paid: Money,
    /// Invoice principal not yet paid.
    #[serde(with = "money_string")]
    pub outstanding: Money,
    /// Penalties §5.9 allows as of the date, charged or not (before waivers).
    #[serde(with = "money_string")]
    pub penalties_accrued: Money,
    #[serde(with = "money_string")]
    pub penalties_charged: Money,
    #[serde(with = "money_string")]
    pub penalties_waived: Money,
    /// Penalties charged and still owed.
    #[serde(with = "money_string")]
    pub penalties_owed: Money,
    /// Fines §5.9 allows as of the date, charged or not.
    #[serde(with = "money_string")]
    pub fines_accrued: Money,
    /// Fines charged.
    #[serde(with = "money_string")]
    pub fines: Money,
    #[serde(with = "money_string")]
    pub fines_waived: Money,
    #[serde(with = "money_string")]
    pub fines_owed: Money,
    /// Fines that wait for reference data not yet published (the MRP of their year,
    /// BILLING.md 1): not in `fines_accrued`, never counted as zero.
    pub fines_pending: Vec<PendingFine>,
    #[serde(with = "money_string")]
    pub advance: Money,
    #[serde(with = "money_string")]
    pub total_due: Money,
    pub clause: &'static str,
}

impl AgreementPosition {
    /// The balance (API.md) as of `as_of`; accruals run to that date.
    pub fn balance(
        &self,
        as_of: Date,
        reference: &ReferenceData,
    ) -> Result<BalanceView, ProjectionError> {
        let zero = Money::zero(self.currency);
        let mut balance = BalanceView {
            currency: self.currency,
            as_of,
            invoiced: zero,
            paid: self.received,
            outstanding: zero,
            penalties_accrued: zero,
            penalties_charged: zero,
            penalties_waived: zero,
            penalties_owed: zero,
            fines_accrued: zero,
            fines: zero,
            fines_waived: zero,
            fines_owed: zero,
            fines_pending: Vec::new(),
            advance: self.advance,
            total_due: zero,
            clause: Clause::LATE_PAYMENT.as_str(),
        };
        for invoice in self.invoices.values() {
            let facts = invoice.delay_facts(&self.force_majeure);
            let penalty = late_payment::penalty(&facts, as_of)?;
            let fine = invoice.fine_figure(&facts, as_of, reference)?;
            balance.invoiced = balance.invoiced.checked_add(invoice.owed_total()?)?;
            balance.outstanding = balance
                .outstanding
                .checked_add(invoice.principal_outstanding()?)?;
            balance.penalties_accrued = balance.penalties_accrued.checked_add(penalty.amount)?;
            balance.penalties_charged = balance
                .penalties_charged
                .checked_add(invoice.penalty.charged)?;
            balance.penalties_waived = balance
                .penalties_waived
                .checked_add(invoice.penalty.waived()?)?;
            balance.penalties_owed = balance
                .penalties_owed
                .checked_add(invoice.penalty.owed()?)?;
            match fine {
                FineFigure::Assessed(fine) => {
                    balance.fines_accrued = balance.fines_accrued.checked_add(fine.amount)?;
                }
                FineFigure::Pending(pending) => balance.fines_pending.push(pending),
            }
            balance.fines = balance.fines.checked_add(invoice.fine.charged)?;
            balance.fines_waived = balance.fines_waived.checked_add(invoice.fine.waived()?)?;
            balance.fines_owed = balance.fines_owed.checked_add(invoice.fine.owed()?)?;
        }
        balance.total_due = balance
            .outstanding
            .checked_add(balance.penalties_owed)?
            .checked_add(balance.fines_owed)?;
        Ok(balance)
    }
}

impl AgreementLedger {
    /// `GET /v1/agreements/{id}/balance`.
    pub fn balance(
        &self,
        as_of: Date,
        reference: &ReferenceData,
    ) -> Result<BalanceView, ProjectionError> {
        self.position(as_of)?.balance(as_of, reference)
    }
}
