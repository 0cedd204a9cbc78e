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
    /// The money settling its principal, in effective-date order: the day it counts from
    /// (§5.5) and the sequence of the event that recorded it, its amount and its payment
    /// (`None` for the advance).
    pub principal_settlements: Vec<((Date, u64), Money, Option<String>)>,
    /// The total of its credit notes (BILLING.md 5.3).
    pub credited: Money,
    /// The day it was voided (BILLING.md 5.3).
    pub voided_on: Option<Date>,
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
        // Not late as known now (a credit note or a void ended its delay, BILLING.md
        // 5.3): no fine accrues, whatever was charged and stands waived.
        let late = late_payment::delay(facts.due_on, facts.paid_in_full_on, as_of).days > 0;
        match &self.fine_charged_as {
            Some(assessment) if late => Ok(FineFigure::Assessed(assessment.clone())),
            _ => late_payment::fine_or_pending(facts, as_of, reference),
        }
    }

    /// What it owes as principal: its total less its credit notes; nothing once voided
    /// (BILLING.md 5.3). The penalty base, for every day.
    pub fn owed_total(&self) -> Result<Money, MoneyError> {
        if self.voided_on.is_some() {
            return Ok(Money::zero(self.total.currency()));
        }
        self.total.checked_sub(self.credited)
    }

    pub fn principal_outstanding(&self) -> Result<Money, MoneyError> {
        self.owed_total()?.checked_sub(self.principal_paid)
    }

    /// The day its delay ended for good: paid in full, or its issue once voided.
    pub fn delay_ends_on(&self) -> Option<Date> {
        if self.voided_on.is_some() {
            Some(self.issued_on)
        } else {
            self.paid_in_full_on
        }
    }

    /// What §5.9 needs to know about this invoice, with the agreement's force majeure
    /// periods as of the same date (§8.1).
    pub fn delay_facts<'a>(
        &'a self,
        force_majeure: &'a [ForceMajeurePeriod],
    ) -> InvoiceDelayFacts<'a> {
        InvoiceDelayFacts {
            number: self.number,
            total: self.owed_total().unwrap_or(self.total),
            due_on: self.due_on,
            paid_in_full_on: self.delay_ends_on(),
            exchange_rate: self.exchange_rate.as_ref(),
            force_majeure,
        }
    }

    /// What has been paid of `part`.
    fn paid_mut(&mut self, part: SettledPart) -> &mut Money {
        match part {
            SettledPart::Principal => &mut self.principal_paid,
            SettledPart::Penalty => &mut self.penalty.paid,
            SettledPart::Fine => &mut self.fine.paid,
        }
    }

    fn charge_mut(&mut self, kind: LateChargeKind) -> &mut LateChargePosition {
        match kind {
            LateChargeKind::Penalty => &mut self.penalty,
            LateChargeKind::Fine => &mut self.fine,
        }
    }

    fn settle(
        &mut self,
        part: SettledPart,
        amount: Money,
        (on, sequence): (Date, u64),
        payment: Option<&str>,
    ) -> Result<(), MoneyError> {
        let slot = self.paid_mut(part);
        *slot = slot.checked_add(amount)?;
        // Paid in full as of the latest effective date of the money settling it (§5.5):
        // a payment recorded late counts from the day it arrived, not the day its money
        // could be applied.
        if part == SettledPart::Principal && amount.is_positive() {
            self.principal_settlements
                .push(((on, sequence), amount, payment.map(str::to_owned)));
            self.note_paid_in_full()?;
        }
        Ok(())
    }

    /// The latest effective date of money still settling its principal.
    fn principal_settled_on(&self) -> Option<Date> {
        self.principal_settlements
            .iter()
            .map(|((on, _), _, _)| *on)
            .max()
    }

    /// Takes `amount` of principal settlements `from` selects, latest first (as the
    /// aggregate does), and marks the invoice paid in full again if nothing is
    /// outstanding: on the latest money still settling it, or its issue.
    fn take_principal(
        &mut self,
        amount: Money,
        from: impl Fn(&(Date, u64), &Option<String>) -> bool,
    ) -> Result<(), MoneyError> {
        // Latest settlement date first (then latest folded), as the aggregate does.
        take_latest_first(
            &mut self.principal_settlements,
            amount,
            |(on, _), index| (*on, index),
            from,
        )?;
        self.note_paid_in_full()
    }

    fn note_paid_in_full(&mut self) -> Result<(), MoneyError> {
        self.paid_in_full_on =
            if self.voided_on.is_none() && self.principal_outstanding()?.is_zero() {
                Some(self.principal_settled_on().unwrap_or(self.issued_on))
            } else {
                None
            };
        Ok(())
    }

    /// Takes back money that settled `part` (a reversal, BILLING.md 5.2): the invoice
    /// reopens when principal is taken back.
    fn unsettle(
        &mut self,
        part: SettledPart,
        amount: Money,
        payment: Option<&str>,
    ) -> Result<(), MoneyError> {
        let slot = self.paid_mut(part);
        *slot = slot.checked_sub(amount)?;
        if part == SettledPart::Principal && amount.is_positive() {
            self.take_principal(amount, |_, source| source.as_deref() == payment)?;
        }
        Ok(())
    }
}

/// Takes `amount` out of `settlements` (each: what orders it, its amount, its payment or
/// `None` for the advance), only from those `from` selects, the greatest `key` first, and
/// drops those emptied: how a reversal or a credit note's excess takes money back
/// (BILLING.md 5.2-5.3), the same order in the position and the explanation as in the
/// aggregate.
pub(crate) fn take_latest_first<A, K: Ord>(
    settlements: &mut Vec<(A, Money, Option<String>)>,
    amount: Money,
    key: impl Fn(&A, usize) -> K,
    from: impl Fn(&A, &Option<String>) -> bool,
) -> Result<(), MoneyError> {
    let mut order: Vec<usize> = (0..settlements.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(key(&settlements[i].0, i)));
    let mut left = amount;
    for index in order {
        if !left.is_positive() {
            break;
        }
        let (what, settled, payment) = &mut settlements[index];
        if !from(what, payment) {
            continue;
        }
        let take = left.min(*settled)?;
        *settled = settled.checked_sub(take)?;
        left = left.checked_sub(take)?;
    }
    settlements.retain(|(_, settled, _)| settled.is_positive());
    Ok(())
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
        let mut position = Self::empty(currency);
        for dated in facts {
            position.apply(dated)?;
        }
        Ok(position)
    }

    /// Before any fact.
    pub(crate) fn empty(currency: Currency) -> Self {
        let zero = Money::zero(currency);
        Self {
            currency,
            invoices: BTreeMap::new(),
            received: zero,
            advance: zero,
            force_majeure: Vec::new(),
        }
    }

    /// What is still owed of `part` of invoice `number`: nothing before it is issued.
    pub(crate) fn open(
        &self,
        number: InvoiceNumber,
        part: SettledPart,
    ) -> Result<Money, MoneyError> {
        let zero = Money::zero(self.currency);
        let Some(invoice) = self.invoices.get(&number) else {
            return Ok(zero);
        };
        let open = match part {
            SettledPart::Principal => invoice.principal_outstanding()?,
            SettledPart::Penalty => invoice.penalty.owed()?,
            SettledPart::Fine => invoice.fine.owed()?,
        };
        open.max(zero)
    }

    /// Folds one more fact, the next in effective-date order.
    pub(crate) fn apply(&mut self, dated: &DatedFact) -> Result<(), ProjectionError> {
        let zero = Money::zero(self.currency);
        let position = self;
        {
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
                            principal_settlements: Vec::new(),
                            credited: zero,
                            voided_on: None,
                            penalty: LateChargePosition::zero(zero),
                            fine: LateChargePosition::zero(zero),
                            fine_charged_as: None,
                        },
                    );
                }
                LedgerFact::Payment {
                    reference,
                    received_on,
                    amount,
                    allocations,
                    advance,
                } => {
                    position.received = position.received.checked_add(*amount)?;
                    position.advance = position.advance.checked_add(*advance)?;
                    for allocation in allocations {
                        if let Some(invoice) = position.invoices.get_mut(&allocation.invoice_number)
                        {
                            // Settled as of the day the money arrived (§5.5), or the
                            // invoice's issue when it arrived before.
                            let settles_on = (*received_on).max(invoice.issued_on);
                            let source = Some(reference.as_str());
                            invoice.settle(
                                SettledPart::Principal,
                                allocation.principal,
                                (settles_on, dated.sequence),
                                source,
                            )?;
                            invoice.settle(
                                SettledPart::Penalty,
                                allocation.penalty,
                                (settles_on, dated.sequence),
                                source,
                            )?;
                            invoice.settle(
                                SettledPart::Fine,
                                allocation.fine,
                                (settles_on, dated.sequence),
                                source,
                            )?;
                        }
                    }
                }
                LedgerFact::AdvanceApplied {
                    invoice_number,
                    part,
                    amount,
                    payment,
                    received_on,
                } => {
                    position.advance = position.advance.checked_sub(*amount)?;
                    if let Some(invoice) = position.invoices.get_mut(invoice_number) {
                        // A payment's money settles as of the day it arrived (§5.5), or
                        // the invoice's issue when it arrived before.
                        let settles_on = received_on.map_or(on, |r| r.max(invoice.issued_on));
                        invoice.settle(
                            *part,
                            *amount,
                            (settles_on, dated.sequence),
                            payment.as_deref(),
                        )?;
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
                    ..
                } => {
                    position.advance = position.advance.checked_add(*amount)?;
                    if let Some(invoice) = position.invoices.get_mut(invoice_number) {
                        let charge = invoice.charge_mut(*kind);
                        charge.paid = charge.paid.checked_sub(*amount)?;
                    }
                }
                LedgerFact::PaymentReversed {
                    reference,
                    amount,
                    taken_back,
                    advance_removed,
                    advance_undone,
                    ..
                } => {
                    position.received = position.received.checked_sub(*amount)?;
                    position.advance = position.advance.checked_sub(*advance_removed)?;
                    for taken in taken_back {
                        if let Some(invoice) = position.invoices.get_mut(&taken.invoice_number) {
                            let source = Some(reference.as_str());
                            invoice.unsettle(SettledPart::Principal, taken.principal, source)?;
                            invoice.unsettle(SettledPart::Penalty, taken.penalty, source)?;
                            invoice.unsettle(SettledPart::Fine, taken.fine, source)?;
                        }
                    }
                    for undone in advance_undone {
                        if let Some(invoice) = position.invoices.get_mut(&undone.invoice_number) {
                            invoice.unsettle(undone.part, undone.amount, None)?;
                        }
                    }
                }
                LedgerFact::AdvanceRefunded { amount, .. } => {
                    position.received = position.received.checked_sub(*amount)?;
                    position.advance = position.advance.checked_sub(*amount)?;
                }
                LedgerFact::InvoiceVoided {
                    number,
                    penalty_cancelled,
                    fine_cancelled,
                    ..
                } => {
                    if let Some(invoice) = position.invoices.get_mut(number) {
                        invoice.voided_on = Some(on);
                        invoice.paid_in_full_on = None;
                        // Its fine, like all of it, is cancelled: it accrues nothing.
                        invoice.fine_charged_as = None;
                        invoice.penalty.charged =
                            invoice.penalty.charged.checked_sub(*penalty_cancelled)?;
                        invoice.fine.charged = invoice.fine.charged.checked_sub(*fine_cancelled)?;
                    }
                }
                LedgerFact::CreditNote {
                    related_invoice,
                    total,
                    to_advance,
                    ..
                } => {
                    position.advance = position.advance.checked_add(*to_advance)?;
                    if let Some(invoice) = position.invoices.get_mut(related_invoice) {
                        invoice.credited = invoice.credited.checked_add(*total)?;
                        invoice.principal_paid = invoice.principal_paid.checked_sub(*to_advance)?;
                        // As known from the credit note on, the invoice owed only what is
                        // left: paid in full on the latest money still settling it, or on
                        // its issue when it owed nothing. The money it returns is what the
                        // aggregate saw when it was recorded: not a payment recorded after
                        // it, though dated before (BILLING.md 5.1).
                        let credited_at = dated.sequence;
                        invoice.take_principal(*to_advance, |(_, recorded), _| {
                            *recorded < credited_at
                        })?;
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
        Ok(())
    }
}
