//! The position as of a date: the agreement's money, its invoices and their late charges,
//! with the facts up to that date folded. The views built on it (`balance`, `invoices`,
//! `penalties`, `explanation`) let the accruals of §5.9 run to the date; `aging` buckets
//! its unpaid principal.

use std::collections::BTreeMap;

use time::Date;

use aggregates::late_payment::{self, FineFigure, InvoiceDelayFacts, LatePaymentError};
use aggregates::{ForceMajeurePeriod, ReferenceData};
use events::{
    Currency, FineAssessment, InvoiceKind, InvoiceNumber, LateChargeKind, Money, MoneyError,
    SettledPart, UsdRate,
};

use crate::error::ProjectionError;
use crate::facts::{DatedFact, LedgerFact};

/// One kind of late charge on one invoice: what was charged, paid and waived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LateChargePosition {
    pub charged: Money,
    pub paid: Money,
    /// Waived of what had been charged: lowers the debt.
    pub waived_charged: Money,
    /// Waived before it was charged: lowers what may still be charged.
    pub waived_uncharged: Money,
}

impl LateChargePosition {
    fn zero(zero: Money) -> Self {
        Self {
            charged: zero,
            paid: zero,
            waived_charged: zero,
            waived_uncharged: zero,
        }
    }

    /// Charged and still owed.
    pub fn owed(&self) -> Result<Money, MoneyError> {
        self.charged
            .checked_sub(self.paid)?
            .checked_sub(self.waived_charged)
    }

    pub fn waived(&self) -> Result<Money, MoneyError> {
        self.waived_charged.checked_add(self.waived_uncharged)
    }
}

/// One invoice as of a date.
#[derive(Debug, Clone, PartialEq)]
pub struct InvoicePosition {
    pub number: InvoiceNumber,
    pub kind: InvoiceKind,
    pub issued_on: Date,
    pub due_on: Date,
    pub total: Money,
    pub exchange_rate: Option<UsdRate>,
    pub principal_paid: Money,
    pub paid_in_full_on: Option<Date>,
    pub penalty: LateChargePosition,
    pub fine: LateChargePosition,
    /// How the fine was priced when it was charged (the first charge).
    pub fine_charged_as: Option<FineAssessment>,
}

impl InvoicePosition {
    /// The fine as of `as_of` (§5.9): as its charge priced it once charged, else priced
    /// now with the tables in force, or pending while they lack its MRP (BILLING.md 1).
    pub fn fine_figure(
        &self,
        facts: &InvoiceDelayFacts<'_>,
        as_of: Date,
        reference: &ReferenceData,
    ) -> Result<FineFigure, LatePaymentError> {
        match &self.fine_charged_as {
            Some(assessment) => Ok(FineFigure::Assessed(assessment.clone())),
            None => late_payment::fine_or_pending(facts, as_of, reference),
        }
    }

    pub fn principal_outstanding(&self) -> Result<Money, MoneyError> {
        self.total.checked_sub(self.principal_paid)
    }

    /// What §5.9 needs to know about this invoice, with the agreement's force majeure
    /// periods as of the same date (§8.1).
    pub fn delay_facts<'a>(
        &'a self,
        force_majeure: &'a [ForceMajeurePeriod],
    ) -> InvoiceDelayFacts<'a> {
        InvoiceDelayFacts {
            number: self.number,
            total: self.total,
            due_on: self.due_on,
            paid_in_full_on: self.paid_in_full_on,
            exchange_rate: self.exchange_rate.as_ref(),
            force_majeure,
        }
    }

    fn charge_mut(&mut self, kind: LateChargeKind) -> &mut LateChargePosition {
        match kind {
            LateChargeKind::Penalty => &mut self.penalty,
            LateChargeKind::Fine => &mut self.fine,
        }
    }

    fn settle(&mut self, part: SettledPart, amount: Money, on: Date) -> Result<(), MoneyError> {
        let slot = match part {
            SettledPart::Principal => &mut self.principal_paid,
            SettledPart::Penalty => &mut self.penalty.paid,
            SettledPart::Fine => &mut self.fine.paid,
        };
        *slot = slot.checked_add(amount)?;
        // Facts are folded in effective-date order, so the money that completes the
        // principal is the latest to settle it (§5.5).
        if part == SettledPart::Principal
            && amount.is_positive()
            && self.principal_outstanding()?.is_zero()
        {
            self.paid_in_full_on = Some(on);
        }
        Ok(())
    }
}

/// The agreement's money as of a date: the facts up to it, folded.
#[derive(Debug, Clone, PartialEq)]
pub struct AgreementPosition {
    pub currency: Currency,
    pub invoices: BTreeMap<InvoiceNumber, InvoicePosition>,
    /// The sum of payments received.
    pub received: Money,
    pub advance: Money,
    /// The force majeure periods declared by the date (§8.1), oldest first.
    pub force_majeure: Vec<ForceMajeurePeriod>,
}

impl AgreementPosition {
    pub fn fold<'a>(
        currency: Currency,
        facts: impl Iterator<Item = &'a DatedFact>,
    ) -> Result<Self, ProjectionError> {
        let zero = Money::zero(currency);
        let mut position = Self {
            currency,
            invoices: BTreeMap::new(),
            received: zero,
            advance: zero,
            force_majeure: Vec::new(),
        };
        for dated in facts {
            let on = dated.on;
            match &dated.fact {
                LedgerFact::Invoice {
                    number,
                    kind,
                    due_on,
                    total,
                    exchange_rate,
                    ..
                } => {
                    position.invoices.insert(
                        *number,
                        InvoicePosition {
                            number: *number,
                            kind: *kind,
                            issued_on: on,
                            due_on: *due_on,
                            total: *total,
                            exchange_rate: exchange_rate.clone(),
                            principal_paid: zero,
                            paid_in_full_on: None,
                            penalty: LateChargePosition::zero(zero),
                            fine: LateChargePosition::zero(zero),
                            fine_charged_as: None,
                        },
                    );
                }
                LedgerFact::Payment {
                    amount,
                    allocations,
                    advance,
                    ..
                } => {
                    position.received = position.received.checked_add(*amount)?;
                    position.advance = position.advance.checked_add(*advance)?;
                    for allocation in allocations {
                        if let Some(invoice) = position.invoices.get_mut(&allocation.invoice_number)
                        {
                            invoice.settle(SettledPart::Principal, allocation.principal, on)?;
                            invoice.settle(SettledPart::Penalty, allocation.penalty, on)?;
                            invoice.settle(SettledPart::Fine, allocation.fine, on)?;
                        }
                    }
                }
                LedgerFact::AdvanceApplied {
                    invoice_number,
                    part,
                    amount,
                } => {
                    position.advance = position.advance.checked_sub(*amount)?;
                    if let Some(invoice) = position.invoices.get_mut(invoice_number) {
                        invoice.settle(*part, *amount, on)?;
                    }
                }
                LedgerFact::Charged {
                    invoice_number,
                    kind,
                    amount,
                    fine,
                } => {
                    if let Some(invoice) = position.invoices.get_mut(invoice_number) {
                        let charge = invoice.charge_mut(*kind);
                        charge.charged = charge.charged.checked_add(*amount)?;
                        if invoice.fine_charged_as.is_none() {
                            invoice.fine_charged_as = fine.clone();
                        }
                    }
                }
                LedgerFact::Waived {
                    invoice_number,
                    kind,
                    charged_part,
                    uncharged_part,
                    ..
                } => {
                    if let Some(invoice) = position.invoices.get_mut(invoice_number) {
                        let charge = invoice.charge_mut(*kind);
                        charge.waived_charged = charge.waived_charged.checked_add(*charged_part)?;
                        charge.waived_uncharged =
                            charge.waived_uncharged.checked_add(*uncharged_part)?;
                    }
                }
                LedgerFact::Withdrawn {
                    invoice_number,
                    kind,
                    amount,
                    ..
                } => {
                    if let Some(invoice) = position.invoices.get_mut(invoice_number) {
                        let charge = invoice.charge_mut(*kind);
                        charge.charged = charge.charged.checked_sub(*amount)?;
                        // A fine withdrawn whole was never assessed: as known now, the
                        // invoice was not late (§5.5).
                        if *kind == LateChargeKind::Fine && invoice.fine.charged.is_zero() {
                            invoice.fine_charged_as = None;
                        }
                    }
                }
                LedgerFact::ChargePaymentReleased {
                    invoice_number,
                    kind,
                    amount,
                } => {
                    position.advance = position.advance.checked_add(*amount)?;
                    if let Some(invoice) = position.invoices.get_mut(invoice_number) {
                        let charge = invoice.charge_mut(*kind);
                        charge.paid = charge.paid.checked_sub(*amount)?;
                    }
                }
                LedgerFact::ForceMajeureDeclared { started_on } => {
                    position.force_majeure.push(ForceMajeurePeriod {
                        started_on: *started_on,
                        ended_on: None,
                    });
                }
                LedgerFact::ForceMajeureEnded { ended_on } => {
                    if let Some(period) = position.force_majeure.last_mut() {
                        period.ended_on = Some(*ended_on);
                    }
                }
            }
        }
        Ok(position)
    }
}
