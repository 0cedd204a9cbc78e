//! The walk over the facts: the terms of each figure, collected fact by fact, and the
//! figures checked against them.

use std::collections::BTreeMap;

use time::Date;

use aggregates::late_payment;
use aggregates::ReferenceData;
use events::{Clause, InvoiceNumber, LateChargeKind, Money, SettledPart};

use super::words::{fine_words, kind_name, money, part_name, penalty_words};
use super::{BalanceExplanation, EventRef, FigureExplanation, FigureExplanations, FigureTerm};
use crate::balance::BalanceView;
use crate::error::ProjectionError;
use crate::facts::{DatedFact, LedgerFact, WithdrawalReason};
use crate::position::AgreementPosition;

impl BalanceExplanation {
    /// Explains `balance`, the balance of `position` as of `as_of`, from `facts`: the
    /// facts up to `as_of` that `position` was folded from.
    pub(crate) fn new<'a>(
        balance: BalanceView,
        position: &AgreementPosition,
        facts: impl Iterator<Item = &'a DatedFact>,
        as_of: Date,
        reference: &ReferenceData,
    ) -> Result<Self, ProjectionError> {
        let mut walk = Walk::default();
        for fact in facts {
            walk.fact(fact)?;
        }
        walk.accruals(position, as_of, reference)?;
        let Walk {
            invoiced,
            paid,
            mut outstanding,
            penalties_accrued,
            mut penalties_charged,
            mut penalties_waived,
            mut penalties_owed,
            fines_accrued,
            mut fines,
            mut fines_waived,
            mut fines_owed,
            advance,
            ..
        } = walk;
        // Per-invoice figures read best grouped by invoice, in event order within each.
        for terms in [
            &mut outstanding,
            &mut penalties_charged,
            &mut penalties_waived,
            &mut penalties_owed,
            &mut fines,
            &mut fines_waived,
            &mut fines_owed,
        ] {
            terms.sort_by_key(|term| term.invoice_number);
        }
        let b = &balance;
        let total_due = [
            (
                "outstanding",
                b.outstanding,
                Clause::ALLOCATION,
                "invoice principal not yet paid",
            ),
            (
                "penalties_owed",
                b.penalties_owed,
                Clause::LATE_PAYMENT,
                "penalties charged and still owed",
            ),
            (
                "fines_owed",
                b.fines_owed,
                Clause::LATE_PAYMENT,
                "fines charged and still owed",
            ),
        ]
        .into_iter()
        .map(|(figure, amount, clause, what)| FigureTerm {
            amount,
            what: format!("{figure}: {what}"),
            clause: clause.as_str(),
            invoice_number: None,
            figure: Some(figure),
            sources: Vec::new(),
        })
        .collect();
        let explanation = FigureExplanations {
            invoiced: FigureExplanation::new(
                "invoiced",
                b.invoiced,
                "the sum of the totals of the invoices issued up to as_of, less their credit notes and the invoices voided (BILLING.md 5.3); each total is its net amount plus VAT at the rate in force on its issue date (§5.11)",
                Clause::VAT,
                invoiced,
            )?,
            paid: FigureExplanation::new(
                "paid",
                b.paid,
                "the sum of the payments received up to as_of, each on the day the money reached the operator's account (§5.5), less the payments the bank returned (BILLING.md 5.2) and the advance refunded (§5.10)",
                Clause::PAYMENT_MOMENT,
                paid,
            )?,
            outstanding: FigureExplanation::new(
                "outstanding",
                b.outstanding,
                "per invoice: its total less its credit notes (nothing once voided, BILLING.md 5.3) less the principal settled on it by payments and advances, which go to the named invoice or else the oldest open one, principal before penalties and fines (Civil Code art. 282)",
                Clause::ALLOCATION,
                outstanding,
            )?,
            penalties_accrued: FigureExplanation::new(
                "penalties_accrued",
                b.penalties_accrued,
                "per late invoice: min(round(total x 0.001 x days of delay, 2), round(total x 0.05, 2)), the days counted from the day after the due date to the day the invoice was paid in full (§5.5) or as_of; charged or not, before waivers (§5.9)",
                Clause::LATE_PAYMENT,
                penalties_accrued,
            )?,
            penalties_charged: FigureExplanation::new(
                "penalties_charged",
                b.penalties_charged,
                "the sum of the penalties the operator charged, each what had accrued by its date less what was charged or waived before (§5.9)",
                Clause::LATE_PAYMENT,
                penalties_charged,
            )?,
            penalties_waived: FigureExplanation::new(
                "penalties_waived",
                b.penalties_waived,
                "the sum of the penalties waived, charged (lowering the debt) or not yet charged (lowering what may be charged) (§5.9)",
                Clause::LATE_PAYMENT,
                penalties_waived,
            )?,
            penalties_owed: FigureExplanation::new(
                "penalties_owed",
                b.penalties_owed,
                "per invoice: the penalties charged, less what payments and advances settled of them (Civil Code art. 282) and the charged parts waived (§5.9)",
                Clause::LATE_PAYMENT,
                penalties_owed,
            )?,
            fines_accrued: FigureExplanation::new(
                "fines_accrued",
                b.fines_accrued,
                "per late invoice: 2 MRP at the MRP in force on its first day of delay, converted at the National Bank rate for an agreement in USD; charged or not, before waivers (§5.9)",
                Clause::LATE_PAYMENT,
                fines_accrued,
            )?,
            fines: FigureExplanation::new(
                "fines",
                b.fines,
                "the sum of the fines the operator charged, once per late invoice (§5.9)",
                Clause::LATE_PAYMENT,
                fines,
            )?,
            fines_waived: FigureExplanation::new(
                "fines_waived",
                b.fines_waived,
                "the sum of the fines waived, charged (lowering the debt) or not yet charged (lowering what may be charged) (§5.9)",
                Clause::LATE_PAYMENT,
                fines_waived,
            )?,
            fines_owed: FigureExplanation::new(
                "fines_owed",
                b.fines_owed,
                "per invoice: the fines charged, less what payments and advances settled of them (Civil Code art. 282) and the charged parts waived (§5.9)",
                Clause::LATE_PAYMENT,
                fines_owed,
            )?,
            advance: FigureExplanation::new(
                "advance",
                b.advance,
                "the parts of payments left over after settling everything owed, less what was applied to later invoices, penalties and fines (Civil Code art. 282)",
                Clause::ALLOCATION,
                advance,
            )?,
            total_due: FigureExplanation::new(
                "total_due",
                b.total_due,
                "outstanding + penalties_owed + fines_owed: accrued penalties and fines are owed only once charged (§5.9)",
                Clause::LATE_PAYMENT,
                total_due,
            )?,
        };
        Ok(Self {
            balance,
            explanation,
        })
    }
}

impl IssuedInvoice {
    /// Takes `amount` of the principal settlements `from` selects, latest effective date
    /// first (then latest recorded), as the position and the aggregate do.
    fn take_principal(
        &mut self,
        amount: Money,
        from: impl Fn(&Settling, &Option<String>) -> bool,
    ) -> Result<(), ProjectionError> {
        crate::position::take_latest_first(
            &mut self.settlements,
            amount,
            |s, _| (s.settles_on, s.folded_on, s.source.sequence),
            from,
        )?;
        Ok(())
    }
}

/// The money settling a principal: its event, the day it counts from (§5.5) and the
/// date of the fact that applied it (the order the position takes it back in).
#[derive(Debug)]
struct Settling {
    source: EventRef,
    settles_on: Date,
    folded_on: Date,
}

/// What the walk knows of an invoice issued so far.
#[derive(Debug)]
struct IssuedInvoice {
    issued: EventRef,
    /// The money settling its principal: the event and the day the money counts from
    /// (§5.5), the amount and the payment (`None` for the advance), taken back latest
    /// first as the position does.
    settlements: Vec<(Settling, Money, Option<String>)>,
    /// The latest credit note on it (BILLING.md 5.3).
    credited_by: Option<EventRef>,
}

/// The terms of each figure, collected fact by fact.
#[derive(Debug, Default)]
struct Walk {
    invoices: BTreeMap<InvoiceNumber, IssuedInvoice>,
    invoiced: Vec<FigureTerm>,
    paid: Vec<FigureTerm>,
    outstanding: Vec<FigureTerm>,
    penalties_accrued: Vec<FigureTerm>,
    penalties_charged: Vec<FigureTerm>,
    penalties_waived: Vec<FigureTerm>,
    penalties_owed: Vec<FigureTerm>,
    fines_accrued: Vec<FigureTerm>,
    fines: Vec<FigureTerm>,
    fines_waived: Vec<FigureTerm>,
    fines_owed: Vec<FigureTerm>,
    advance: Vec<FigureTerm>,
}

pub(super) fn term(
    amount: Money,
    what: String,
    clause: Clause,
    invoice_number: Option<InvoiceNumber>,
    sources: Vec<EventRef>,
) -> FigureTerm {
    FigureTerm {
        amount,
        what,
        clause: clause.as_str(),
        invoice_number,
        figure: None,
        sources,
    }
}

fn negative(amount: Money) -> Result<Money, ProjectionError> {
    Ok(Money::zero(amount.currency()).checked_sub(amount)?)
}

fn charged_event(kind: LateChargeKind) -> &'static str {
    match kind {
        LateChargeKind::Penalty => "PenaltyCharged",
        LateChargeKind::Fine => "FineCharged",
    }
}

impl Walk {
    fn fact(&mut self, dated: &DatedFact) -> Result<(), ProjectionError> {
        let on = dated.on;
        // The event behind the fact, dated as the event is (its business date), which
        // for a few facts is not the fact's own date: a payment posted after a closed
        // month or applied once what it settles opened is dated by its `received_on`.
        let dated_source = |event_type: &'static str, on: Date| EventRef {
            sequence: dated.sequence,
            event_type,
            on,
            hash: None,
        };
        let source = |event_type: &'static str| dated_source(event_type, on);
        match &dated.fact {
            LedgerFact::Invoice {
                number,
                kind,
                due_on,
                net,
                vat,
                total,
                ..
            } => {
                let issued = source("InvoiceIssued");
                let clause = kind.due_clause();
                let what = format!(
                    "invoice {number} ({kind}) issued on {on}, due on {due_on} ({due}): net {net} + VAT {vat} (§5.11) = {total}",
                    kind = kind_name(*kind),
                    due = clause,
                    net = money(*net),
                    vat = money(*vat),
                    total = money(*total),
                );
                self.invoiced.push(term(
                    *total,
                    what.clone(),
                    clause,
                    Some(*number),
                    vec![issued.clone()],
                ));
                self.outstanding.push(term(
                    *total,
                    what,
                    clause,
                    Some(*number),
                    vec![issued.clone()],
                ));
                // The fold keeps the last invoice of a number; numbers are unique anyway.
                self.invoices.insert(
                    *number,
                    IssuedInvoice {
                        issued,
                        settlements: Vec::new(),
                        credited_by: None,
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
                let received = dated_source("PaymentReceived", *received_on);
                let payment = if *received_on == on {
                    format!("payment {reference} received on {on}")
                } else {
                    format!(
                        "payment {reference} received on {received_on}, posted on {on} (its month was closed, BILLING.md 5.4)"
                    )
                };
                self.paid.push(term(
                    *amount,
                    format!("{payment}: {}", money(*amount)),
                    Clause::PAYMENT_MOMENT,
                    None,
                    vec![received.clone()],
                ));
                if advance.is_positive() {
                    self.advance.push(term(
                        *advance,
                        format!(
                            "{payment}: {} left after settling what was owed, kept as an advance",
                            money(*advance)
                        ),
                        Clause::ALLOCATION,
                        None,
                        vec![received.clone()],
                    ));
                }
                for allocation in allocations {
                    let number = allocation.invoice_number;
                    if !self.invoices.contains_key(&number) {
                        continue; // the fold ignores it too
                    }
                    for (part, settled) in [
                        (SettledPart::Principal, allocation.principal),
                        (SettledPart::Penalty, allocation.penalty),
                        (SettledPart::Fine, allocation.fine),
                    ] {
                        let what = format!(
                            "{payment} settled {} of the {} of invoice {number}",
                            money(settled),
                            part_name(part),
                        );
                        self.settle(
                            number,
                            part,
                            settled,
                            what,
                            (&received, on, Some(*received_on)),
                            Some(reference),
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
                let what = match (payment, received_on) {
                    // A payment recorded late, held as advance until what it settles
                    // opened (BILLING.md 5.1): its own event.
                    (Some(reference), Some(received_on)) => format!(
                        "payment {reference} received on {received_on}, held as advance until {on}, when the {} of invoice {invoice_number} it was allocated to was open: {}",
                        part_name(*part),
                        money(*amount),
                    ),
                    _ => format!(
                        "advance applied on {on} to the {} of invoice {invoice_number}: {}",
                        part_name(*part),
                        money(*amount),
                    ),
                };
                let applied = match received_on {
                    Some(received_on) if payment.is_some() => {
                        dated_source("PaymentReceived", *received_on)
                    }
                    _ => source("AdvanceApplied"),
                };
                self.advance.push(term(
                    negative(*amount)?,
                    what.clone(),
                    Clause::ALLOCATION,
                    Some(*invoice_number),
                    vec![applied.clone()],
                ));
                if self.invoices.contains_key(invoice_number) {
                    self.settle(
                        *invoice_number,
                        *part,
                        *amount,
                        what,
                        (&applied, on, *received_on),
                        payment.as_deref(),
                    )?;
                }
            }
            LedgerFact::Charged {
                invoice_number,
                kind,
                amount,
                ..
            } => {
                if !self.invoices.contains_key(invoice_number) {
                    return Ok(());
                }
                let charged = source(charged_event(*kind));
                let what = format!(
                    "{} on invoice {invoice_number} charged on {on}: {} (what had accrued by then less what was charged or waived before; the event records the accrual)",
                    kind.code(),
                    money(*amount),
                );
                let (charges, owed) = self.charged_and_owed(*kind);
                for terms in [charges, owed] {
                    terms.push(term(
                        *amount,
                        what.clone(),
                        Clause::LATE_PAYMENT,
                        Some(*invoice_number),
                        vec![charged.clone()],
                    ));
                }
            }
            LedgerFact::Waived {
                invoice_number,
                kind,
                charged_part,
                uncharged_part,
                reason,
                ..
            } => {
                if !self.invoices.contains_key(invoice_number) {
                    return Ok(());
                }
                let waived = source("LateChargeWaived");
                let total = charged_part.checked_add(*uncharged_part)?;
                let (all, owed) = match kind {
                    LateChargeKind::Penalty => {
                        (&mut self.penalties_waived, &mut self.penalties_owed)
                    }
                    LateChargeKind::Fine => (&mut self.fines_waived, &mut self.fines_owed),
                };
                all.push(term(
                    total,
                    format!(
                        "{} on invoice {invoice_number} waived on {on}: {} ({} of it charged, {} not yet charged); reason: {reason}",
                        kind.code(),
                        money(total),
                        money(*charged_part),
                        money(*uncharged_part),
                    ),
                    Clause::LATE_PAYMENT,
                    Some(*invoice_number),
                    vec![waived.clone()],
                ));
                if charged_part.is_positive() {
                    owed.push(term(
                        negative(*charged_part)?,
                        format!(
                            "{} charged on invoice {invoice_number} waived on {on}: {}; reason: {reason}",
                            kind.code(),
                            money(*charged_part),
                        ),
                        Clause::LATE_PAYMENT,
                        Some(*invoice_number),
                        vec![waived],
                    ));
                }
            }
            LedgerFact::Withdrawn {
                invoice_number,
                kind,
                amount,
                because,
                event_on,
            } => {
                if !self.invoices.contains_key(invoice_number) {
                    return Ok(());
                }
                let withdrawn = dated_source("LateChargeWithdrawn", *event_on);
                let why = match because {
                    WithdrawalReason::Payment {
                        reference,
                        received_on,
                    } => format!("payment {reference}, recorded later, was received on {received_on} and ends the delay earlier (§5.5)"),
                    WithdrawalReason::CreditNote { number } => format!(
                        "credit note {number} lowers the invoice's penalty base, its total less its credit notes, for every day (BILLING.md 5.3)"
                    ),
                };
                let what = format!(
                    "{} charged on invoice {invoice_number} on {on} withdrawn: {}; {why}",
                    kind.code(),
                    money(*amount),
                );
                let (charges, owed) = self.charged_and_owed(*kind);
                for terms in [charges, owed] {
                    terms.push(term(
                        negative(*amount)?,
                        what.clone(),
                        because.clause(),
                        Some(*invoice_number),
                        vec![withdrawn.clone()],
                    ));
                }
            }
            LedgerFact::ChargePaymentReleased {
                invoice_number,
                kind,
                amount,
                event_on,
            } => {
                let released = dated_source("LateChargeWithdrawn", *event_on);
                let what = format!(
                    "{} paid of the {} withdrawn on invoice {invoice_number}, returned to the advance on {on}",
                    money(*amount),
                    kind.code(),
                );
                self.advance.push(term(
                    *amount,
                    what.clone(),
                    Clause::ALLOCATION,
                    Some(*invoice_number),
                    vec![released.clone()],
                ));
                if self.invoices.contains_key(invoice_number) {
                    let owed = match kind {
                        LateChargeKind::Penalty => &mut self.penalties_owed,
                        LateChargeKind::Fine => &mut self.fines_owed,
                    };
                    owed.push(term(
                        *amount,
                        what,
                        Clause::ALLOCATION,
                        Some(*invoice_number),
                        vec![released],
                    ));
                }
            }
            LedgerFact::PaymentReversed {
                reference,
                amount,
                taken_back,
                advance_removed,
                advance_undone,
                reason,
            } => {
                let reversed = source("PaymentReversed");
                let reversal = format!("payment {reference} reversed on {on} ({reason})");
                self.paid.push(term(
                    negative(*amount)?,
                    format!("{reversal}: {} returned by the bank", money(*amount)),
                    Clause::REVERSAL,
                    None,
                    vec![reversed.clone()],
                ));
                if advance_removed.is_positive() {
                    self.advance.push(term(
                        negative(*advance_removed)?,
                        format!(
                            "{reversal}: {} of the advance it left removed",
                            money(*advance_removed)
                        ),
                        Clause::REVERSAL,
                        None,
                        vec![reversed.clone()],
                    ));
                }
                for taken in taken_back {
                    for (part, amount) in [
                        (SettledPart::Principal, taken.principal),
                        (SettledPart::Penalty, taken.penalty),
                        (SettledPart::Fine, taken.fine),
                    ] {
                        let what = format!(
                            "{reversal}: the {} of invoice {} it settled, {}, is owed again",
                            part_name(part),
                            taken.invoice_number,
                            money(amount),
                        );
                        self.unsettle(
                            taken.invoice_number,
                            part,
                            amount,
                            what,
                            &reversed,
                            Some(reference),
                        )?;
                    }
                }
                for undone in advance_undone {
                    let what = format!(
                        "{reversal}: the advance it left had settled {} of the {} of invoice {}, which is owed again",
                        money(undone.amount),
                        part_name(undone.part),
                        undone.invoice_number,
                    );
                    self.unsettle(
                        undone.invoice_number,
                        undone.part,
                        undone.amount,
                        what,
                        &reversed,
                        None,
                    )?;
                }
            }
            LedgerFact::AdvanceRefunded {
                reference,
                amount,
                reason,
            } => {
                let refunded = source("AdvanceRefunded");
                let what = format!(
                    "refund {reference} on {on}: {} of the advance paid back ({reason}; §5.10: only unallocated money)",
                    money(*amount)
                );
                for terms in [&mut self.paid, &mut self.advance] {
                    terms.push(term(
                        negative(*amount)?,
                        what.clone(),
                        Clause::REFUND,
                        None,
                        vec![refunded.clone()],
                    ));
                }
            }
            LedgerFact::InvoiceVoided {
                number,
                total,
                penalty_cancelled,
                fine_cancelled,
                reason,
                ..
            } => {
                let voided = source("InvoiceVoided");
                let what = format!(
                    "invoice {number} voided on {on} ({reason}): its total {} is cancelled; its number stays used",
                    money(*total)
                );
                for terms in [&mut self.invoiced, &mut self.outstanding] {
                    terms.push(term(
                        negative(*total)?,
                        what.clone(),
                        Clause::CORRECTION,
                        Some(*number),
                        vec![voided.clone()],
                    ));
                }
                for (kind, amount) in [
                    (LateChargeKind::Penalty, penalty_cancelled),
                    (LateChargeKind::Fine, fine_cancelled),
                ] {
                    if !amount.is_positive() {
                        continue;
                    }
                    let what = format!(
                        "{} charged on invoice {number}, {}, cancelled with it",
                        kind.code(),
                        money(*amount)
                    );
                    let (charges, owed) = self.charged_and_owed(kind);
                    for terms in [charges, owed] {
                        terms.push(term(
                            negative(*amount)?,
                            what.clone(),
                            Clause::CORRECTION,
                            Some(*number),
                            vec![voided.clone()],
                        ));
                    }
                }
            }
            LedgerFact::CreditNote {
                number,
                related_invoice,
                net,
                vat,
                total,
                to_advance,
                reason,
            } => {
                let credited = source("CreditNoteIssued");
                let what = format!(
                    "credit note {number} on {on} to invoice {related_invoice} ({reason}): net {} + VAT {} at the invoice's rate = {}",
                    money(*net),
                    money(*vat),
                    money(*total),
                );
                self.invoiced.push(term(
                    negative(*total)?,
                    what.clone(),
                    Clause::CORRECTION,
                    Some(*related_invoice),
                    vec![credited.clone()],
                ));
                let reduces = total.checked_sub(*to_advance)?;
                self.outstanding.push(term(
                    negative(reduces)?,
                    format!("{what}: lowers what the invoice owes by {}", money(reduces)),
                    Clause::CORRECTION,
                    Some(*related_invoice),
                    vec![credited.clone()],
                ));
                if to_advance.is_positive() {
                    self.advance.push(term(
                        *to_advance,
                        format!(
                            "{what}: {} the invoice had been paid beyond what it owes now, kept as an advance",
                            money(*to_advance)
                        ),
                        Clause::CORRECTION,
                        Some(*related_invoice),
                        vec![credited.clone()],
                    ));
                }
                if let Some(invoice) = self.invoices.get_mut(related_invoice) {
                    // What the aggregate saw: not a payment recorded after the credit
                    // note, though dated before (BILLING.md 5.1).
                    let credited_at = credited.sequence;
                    invoice.take_principal(*to_advance, |settling, _| {
                        settling.source.sequence < credited_at
                    })?;
                    invoice.credited_by = Some(credited.clone());
                }
            }
            // No money moves; the accrual terms name the days it exempts (§8.1).
            LedgerFact::ForceMajeureDeclared { .. } | LedgerFact::ForceMajeureEnded { .. } => {}
        }
        Ok(())
    }

    /// The terms of what is charged and what is owed of one kind of late charge.
    fn charged_and_owed(
        &mut self,
        kind: LateChargeKind,
    ) -> (&mut Vec<FigureTerm>, &mut Vec<FigureTerm>) {
        match kind {
            LateChargeKind::Penalty => (&mut self.penalties_charged, &mut self.penalties_owed),
            LateChargeKind::Fine => (&mut self.fines, &mut self.fines_owed),
        }
    }

    /// Money (a payment's allocation or an advance) settled `part` of an issued invoice.
    /// `source` is the fact's event, with the fact's date and, for a payment's money, the
    /// day it arrived: the principal counts as paid from then, or from the invoice's
    /// issue (§5.5).
    fn settle(
        &mut self,
        number: InvoiceNumber,
        part: SettledPart,
        amount: Money,
        what: String,
        (source, folded_on, received_on): (&EventRef, Date, Option<Date>),
        payment: Option<&str>,
    ) -> Result<(), ProjectionError> {
        let Some(invoice) = self.invoices.get_mut(&number) else {
            return Ok(());
        };
        if part == SettledPart::Principal && amount.is_positive() {
            let settles_on = received_on.map_or(folded_on, |r| r.max(invoice.issued.on));
            invoice.settlements.push((
                Settling {
                    source: source.clone(),
                    settles_on,
                    folded_on,
                },
                amount,
                payment.map(str::to_owned),
            ));
        }
        if amount.is_zero() {
            return Ok(());
        }
        let terms = match part {
            SettledPart::Principal => &mut self.outstanding,
            SettledPart::Penalty => &mut self.penalties_owed,
            SettledPart::Fine => &mut self.fines_owed,
        };
        terms.push(term(
            negative(amount)?,
            what,
            Clause::ALLOCATION,
            Some(number),
            vec![source.clone()],
        ));
        Ok(())
    }

    /// Money that settled `part` of an invoice taken back (a reversal, BILLING.md 5.2):
    /// owed again; the invoice is no longer paid in full.
    #[allow(clippy::too_many_arguments)]
    fn unsettle(
        &mut self,
        number: InvoiceNumber,
        part: SettledPart,
        amount: Money,
        what: String,
        source: &EventRef,
        payment: Option<&str>,
    ) -> Result<(), ProjectionError> {
        let Some(invoice) = self.invoices.get_mut(&number) else {
            return Ok(());
        };
        if amount.is_zero() {
            return Ok(());
        }
        if part == SettledPart::Principal {
            invoice.take_principal(amount, |_, source| source.as_deref() == payment)?;
        }
        let terms = match part {
            SettledPart::Principal => &mut self.outstanding,
            SettledPart::Penalty => &mut self.penalties_owed,
            SettledPart::Fine => &mut self.fines_owed,
        };
        terms.push(term(
            amount,
            what,
            Clause::REVERSAL,
            Some(number),
            vec![source.clone()],
        ));
        Ok(())
    }

    /// One term per late invoice for what §5.9 lets accrue as of `as_of`.
    fn accruals(
        &mut self,
        position: &AgreementPosition,
        as_of: Date,
        reference: &ReferenceData,
    ) -> Result<(), ProjectionError> {
        for invoice in position.invoices.values() {
            let facts = invoice.delay_facts(&position.force_majeure);
            let penalty = late_payment::penalty(&facts, as_of)?;
            // Late, even when every day of delay was force majeure (§8.1).
            if penalty.days + penalty.force_majeure_days == 0 {
                continue;
            }
            // A pending fine (its MRP not yet published) has no figure to explain: the
            // balance lists it under `fines_pending` (BILLING.md 1).
            let fine = match invoice.fine_figure(&facts, as_of, reference)? {
                late_payment::FineFigure::Assessed(fine) => Some(fine),
                late_payment::FineFigure::Pending(_) => None,
            };
            let mut sources = Vec::new();
            if let Some(issued) = self.invoices.get(&invoice.number) {
                sources.push(issued.issued.clone());
                // The money that completed it (§5.5): the latest still settling it, dated
                // the day it was paid in full; a credit note when it owed nothing.
                if let Some(paid) = invoice.paid_in_full_on.filter(|paid| *paid <= as_of) {
                    let by = issued
                        .settlements
                        .iter()
                        .rev()
                        .find(|(settling, _, _)| settling.settles_on == paid)
                        .or(issued.settlements.last())
                        .map(|(settling, _, _)| settling.source.clone())
                        .or_else(|| issued.credited_by.clone());
                    sources.extend(by);
                }
            }
            self.penalties_accrued.push(term(
                penalty.amount,
                penalty_words(&penalty),
                Clause::LATE_PAYMENT,
                Some(invoice.number),
                sources.clone(),
            ));
            if let Some(fine) = fine {
                self.fines_accrued.push(term(
                    fine.amount,
                    fine_words(&fine),
                    Clause::LATE_PAYMENT,
                    Some(invoice.number),
                    sources,
                ));
            }
        }
        Ok(())
    }
}
