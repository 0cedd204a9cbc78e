//! A month's totals (BILLING.md 5.4): what the documents posted in it add up to, per
//! agreement; the period close seals their sum per currency and `verify` recomputes it.

use time::Date;

use events::{LateChargeKind, Money, MoneyError, PeriodTotals};

use crate::facts::LedgerFact;
use crate::ledger::AgreementLedger;

impl AgreementLedger {
    /// The totals of the documents posted from `from` to `to` (both included), or `None`
    /// when none was: invoices less credit notes and voids, their VAT, payments less
    /// reversals and refunds, penalties and fines charged less those withdrawn or
    /// cancelled. The statement's lines of those days, waivers aside: a waiver is not
    /// a charge's withdrawal but the operator's forgoing of what is owed, shown on the
    /// statement and not in these totals. A month of corrections only can total less
    /// than zero (refunds and reversals of money received earlier).
    pub fn period_totals(&self, from: Date, to: Date) -> Result<Option<PeriodTotals>, MoneyError> {
        let Some(currency) = self.currency() else {
            return Ok(None);
        };
        let mut totals = PeriodTotals::zero(currency);
        let mut any = false;
        let add = |sum: &mut Money, amount: Money| -> Result<(), MoneyError> {
            *sum = sum.checked_add(amount)?;
            Ok(())
        };
        let less = |sum: &mut Money, amount: Money| -> Result<(), MoneyError> {
            *sum = sum.checked_sub(amount)?;
            Ok(())
        };
        for fact in self.facts.iter().filter(|f| f.on >= from && f.on <= to) {
            match &fact.fact {
                LedgerFact::Invoice { vat, total, .. } => {
                    add(&mut totals.invoiced, *total)?;
                    add(&mut totals.vat, *vat)?;
                }
                LedgerFact::CreditNote { vat, total, .. } => {
                    less(&mut totals.invoiced, *total)?;
                    less(&mut totals.vat, *vat)?;
                }
                LedgerFact::InvoiceVoided {
                    vat,
                    total,
                    penalty_cancelled,
                    fine_cancelled,
                    ..
                } => {
                    less(&mut totals.invoiced, *total)?;
                    less(&mut totals.vat, *vat)?;
                    less(&mut totals.penalties, *penalty_cancelled)?;
                    less(&mut totals.fines, *fine_cancelled)?;
                }
                LedgerFact::Payment { amount, .. } => add(&mut totals.paid, *amount)?,
                LedgerFact::PaymentReversed { amount, .. }
                | LedgerFact::AdvanceRefunded { amount, .. } => less(&mut totals.paid, *amount)?,
                LedgerFact::Charged { kind, amount, .. } => match kind {
                    LateChargeKind::Penalty => add(&mut totals.penalties, *amount)?,
                    LateChargeKind::Fine => add(&mut totals.fines, *amount)?,
                },
                LedgerFact::Withdrawn { kind, amount, .. } => match kind {
                    LateChargeKind::Penalty => less(&mut totals.penalties, *amount)?,
                    LateChargeKind::Fine => less(&mut totals.fines, *amount)?,
                },
                LedgerFact::AdvanceApplied { .. }
                | LedgerFact::Waived { .. }
                | LedgerFact::ChargePaymentReleased { .. }
                | LedgerFact::ForceMajeureDeclared { .. }
                | LedgerFact::ForceMajeureEnded { .. } => continue,
            }
            any = true;
        }
        Ok(any.then_some(totals))
    }

    /// The first day from `from` to `to` (both included) a document is posted on.
    pub fn first_document_on(&self, from: Date, to: Date) -> Option<Date> {
        self.facts
            .iter()
            .find(|f| {
                f.on >= from
                    && f.on <= to
                    && !matches!(
                        f.fact,
                        LedgerFact::ForceMajeureDeclared { .. }
                            | LedgerFact::ForceMajeureEnded { .. }
                    )
            })
            .map(|f| f.on)
    }
}

/// Adds one agreement's totals into the totals per currency (kept sorted by currency).
pub fn add_period_totals(
    into: &mut Vec<PeriodTotals>,
    totals: &PeriodTotals,
) -> Result<(), MoneyError> {
    let at = match into.iter().position(|t| t.currency == totals.currency) {
        Some(at) => at,
        None => {
            into.push(PeriodTotals::zero(totals.currency));
            into.sort_by_key(|t| t.currency.code());
            into.iter()
                .position(|t| t.currency == totals.currency)
                .expect("just inserted")
        }
    };
    let sum = &mut into[at];
    sum.invoiced = sum.invoiced.checked_add(totals.invoiced)?;
    sum.vat = sum.vat.checked_add(totals.vat)?;
    sum.paid = sum.paid.checked_add(totals.paid)?;
    sum.penalties = sum.penalties.checked_add(totals.penalties)?;
    sum.fines = sum.fines.checked_add(totals.fines)?;
    Ok(())
}
