//! Receiving a payment (§5.5; Civil Code art. 282): allocated the day it arrives, and
//! the lifting it causes at once.

use commands::ReceivePayment;
use events::{
    AgreementEvent, InvoiceNumber, LateChargeKind, LateChargeWithdrawn, Money, PaymentAllocation,
    PaymentReceived,
};

use crate::agreement::{InvoiceState, ParticipantAgreement, RestrictionKind};
use crate::{AgreementError, AgreementServices};

impl ParticipantAgreement {
    /// §5.5 and Civil Code art. 282: money is allocated the day it arrives, to the named
    /// invoice first, otherwise the oldest open first, principal before penalties and
    /// fines; the rest is kept as an advance. A repeated reference records nothing.
    pub(super) fn receive_payment(
        &self,
        command: ReceivePayment,
        services: &AgreementServices,
    ) -> Result<Vec<AgreementEvent>, AgreementError> {
        let currency = self.registered()?.currency;
        if let Some(given) = command.currency {
            if given != currency {
                return Err(AgreementError::PaymentCurrency {
                    given,
                    agreement: currency,
                });
            }
        }
        let amount = command.amount.in_currency(currency);
        if let Some(recorded) = self.payments.get(command.reference.as_str()) {
            let same = recorded.amount == amount
                && recorded.received_on == command.received_on
                && recorded.named_invoice == command.invoice_number;
            return if same {
                Ok(Vec::new())
            } else {
                Err(AgreementError::PaymentReferenceReused {
                    reference: command.reference.as_str().to_owned(),
                })
            };
        }
        if amount.is_zero() {
            return Err(AgreementError::ZeroPayment);
        }
        // §5.5: the moment of payment is the day the money reached the operator's account;
        // the bank statement saying so may reach the ledger days later. So a payment,
        // alone of all entries, may be dated before the agreement's latest business date
        // (still never in the future, never before registration).
        self.check_date_bounds("the payment date", command.received_on, services)?;
        if let Some(number) = command.invoice_number {
            if !self.invoices.contains_key(&number) {
                return Err(AgreementError::UnknownInvoice(number));
            }
        }

        let (allocations, advance) = allocate(amount, command.invoice_number, &self.invoices)?;
        // The advance held is a running total: it must stay an amount the ledger can
        // hold, checked here where the payment can still be refused (applying the event
        // cannot refuse it). Found by schemathesis: two payments of the largest amount.
        if let Some(held) = self.advance {
            held.checked_add(advance)?;
        }
        // Recorded late: dated before what the agreement has already recorded (§5.5).
        let late = self
            .latest_business_date
            .is_some_and(|latest| command.received_on < latest);
        let completes_charged = late
            && allocations.iter().any(|allocation| {
                self.invoices
                    .get(&allocation.invoice_number)
                    .is_some_and(|invoice| !invoice.charges.is_empty())
            });
        let received_on = command.received_on;
        let reference = command.reference;
        // BILLING.md 5.4: money received in a closed month is posted on the first open
        // day; its true date still decides penalties (§5.5).
        let first_open_day = services.first_open_day();
        let posted_on = first_open_day.filter(|open| received_on < *open);
        let payment = AgreementEvent::PaymentReceived(PaymentReceived {
            reference: reference.clone(),
            received_on,
            amount,
            named_invoice: command.invoice_number,
            allocations,
            advance,
            posted_on,
        });
        // What the payment changes is decided on the state after it: which charges its
        // true date withdraws, which restriction it lifts. An in-order payment with no
        // restriction in force and no charge on what it completes changes nothing more
        // (and needs no copy of the agreement).
        let lift_possible = self.restricted_for(RestrictionKind::Blocked)
            || self.restricted_for(RestrictionKind::Suspended);
        let mut events = vec![payment];
        if !lift_possible && !completes_charged {
            return Ok(events);
        }
        let mut after = self.clone();
        after.apply_event(events[0].clone());
        // Everything the payment causes is recorded on the agreement's current business
        // date: at once, never before what is already recorded (BILLING.md 5.1).
        let on = after
            .latest_business_date
            .unwrap_or(received_on)
            .max(received_on)
            .max(first_open_day.unwrap_or(received_on));
        let withdrawals = if completes_charged {
            let completed: Vec<InvoiceNumber> = match &events[0] {
                AgreementEvent::PaymentReceived(e) => {
                    e.allocations.iter().map(|a| a.invoice_number).collect()
                }
                _ => Vec::new(),
            };
            let cause = WithdrawalCause::Payment {
                reference: &reference,
                received_on,
            };
            after.withdrawals_of_excess(&completed, cause, on, first_open_day)?
        } else {
            Vec::new()
        };
        for withdrawal in withdrawals {
            after.apply_event(withdrawal.clone());
            events.push(withdrawal);
        }
        // A payment whose true date would have prevented a restriction the sweep
        // imposed lifts it at once, naming the payment (§5.5); one that clears the debt
        // of a block, or the overdue of a suspension, for debt lifts it too (§4.2). Only
        // a restriction for debt can be lifted, and a payment never imposes one.
        for lift in after.lifts_after_payment(&reference, on)? {
            after.apply_event(lift.clone());
            events.push(lift);
        }
        Ok(events)
    }
}

/// What makes a charge no longer owed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum WithdrawalCause<'a> {
    /// A payment recorded late, counted from the day it was received (§5.5).
    Payment {
        reference: &'a events::PaymentReference,
        received_on: time::Date,
    },
    /// A credit note lowering the invoice's penalty base (BILLING.md 5.3).
    CreditNote(InvoiceNumber),
}

impl ParticipantAgreement {
    /// The charges later facts show were never owed (§5.5, BILLING.md 5.1 and 5.3). For
    /// each of `invoices` (those a payment completed, or the one a credit note credits),
    /// what §5.9 accrues with the delay ending on the day it was paid in full and on its
    /// base as credited is compared with what stands charged; the excess is withdrawn,
    /// newest charge first, each withdrawal naming its cause. What of it had been paid
    /// becomes advance. Called on the state after the payment or credit note.
    pub(crate) fn withdrawals_of_excess(
        &self,
        invoices: &[InvoiceNumber],
        cause: WithdrawalCause<'_>,
        on: time::Date,
        first_open_day: Option<time::Date>,
    ) -> Result<Vec<AgreementEvent>, AgreementError> {
        let mut withdrawals = Vec::new();
        for invoice in self.invoices.values() {
            if !invoices.contains(&invoice.number)
                || invoice.charges.is_empty()
                || invoice.voided_on.is_some()
            {
                continue;
            }
            let credited = invoice.credited.is_some();
            if invoice.paid_in_full_on.is_none() && !credited {
                continue;
            }
            for kind in [LateChargeKind::Penalty, LateChargeKind::Fine] {
                let (charged, paid, waived_charged, waived_uncharged) = invoice.late_charge(kind);
                let facts = invoice.delay_facts(&self.force_majeure);
                let accrued = match kind {
                    LateChargeKind::Penalty => crate::late_payment::penalty(&facts, on)?.amount,
                    // The fine is fixed once charged (never repriced): it stands while the
                    // invoice is late at all, and goes whole when it is not.
                    LateChargeKind::Fine => {
                        let late =
                            crate::late_payment::delay(invoice.due_on, invoice.delay_ends_on(), on)
                                .days
                                > 0;
                        if late {
                            continue;
                        }
                        Money::zero(charged.currency())
                    }
                };
                let zero = Money::zero(charged.currency());
                let owed_by_rule = accrued
                    .checked_sub(waived_uncharged)?
                    .checked_sub(waived_charged)?
                    .max(zero)?;
                let standing = charged.checked_sub(waived_charged)?;
                let mut excess = standing.checked_sub(owed_by_rule)?;
                if !excess.is_positive() {
                    continue;
                }
                // What was paid beyond what stays charged goes back to the advance.
                let owed_after = charged
                    .checked_sub(excess)?
                    .checked_sub(paid)?
                    .checked_sub(waived_charged)?;
                let mut to_advance = zero.checked_sub(owed_after)?.max(zero)?;
                for charge in invoice.charges.iter().rev().filter(|c| c.kind == kind) {
                    if !excess.is_positive() {
                        break;
                    }
                    let amount = excess.min(charge.standing())?;
                    if !amount.is_positive() {
                        continue;
                    }
                    let moved_to_advance = to_advance.min(amount)?;
                    excess = excess.checked_sub(amount)?;
                    to_advance = to_advance.checked_sub(moved_to_advance)?;
                    let (payment, received_on, credit_note) = match cause {
                        WithdrawalCause::Payment {
                            reference,
                            received_on,
                        } => (Some(reference.clone()), Some(received_on), None),
                        WithdrawalCause::CreditNote(number) => (None, None, Some(number)),
                    };
                    withdrawals.push(AgreementEvent::LateChargeWithdrawn(LateChargeWithdrawn {
                        invoice_number: invoice.number,
                        kind,
                        charged_on: charge.on,
                        amount,
                        moved_to_advance,
                        payment,
                        received_on,
                        credit_note,
                        // Effective on a day of a closed month: posted on the first open
                        // day instead (BILLING.md 5.4).
                        posted_on: first_open_day
                            .filter(|open| credit_note.is_none() && charge.on < *open),
                        on,
                    }));
                }
                debug_assert!(excess.is_zero(), "an excess beyond the charges standing");
            }
        }
        Ok(withdrawals)
    }
}

/// Allocates `amount` over the open invoices: the named one first, then the oldest
/// (by issue date, then number) first; all principal before any penalty, all penalties
/// before any fine. Returns the allocations in the order they were made and the advance.
fn allocate(
    amount: Money,
    named: Option<InvoiceNumber>,
    invoices: &std::collections::BTreeMap<InvoiceNumber, InvoiceState>,
) -> Result<(Vec<PaymentAllocation>, Money), AgreementError> {
    let currency = amount.currency();
    let zero = Money::zero(currency);
    let mut order: Vec<&InvoiceState> = invoices.values().collect();
    order.sort_by_key(|invoice| {
        (
            Some(invoice.number) != named,
            invoice.issued_on,
            invoice.number,
        )
    });

    let mut allocations: Vec<PaymentAllocation> = Vec::new();
    let mut remaining = amount;
    type Owed = fn(&InvoiceState) -> Money;
    type Slot = fn(&mut PaymentAllocation) -> &mut Money;
    let passes: [(Owed, Slot); 3] = [
        (InvoiceState::principal_outstanding, |a| &mut a.principal),
        (InvoiceState::penalty_outstanding, |a| &mut a.penalty),
        (InvoiceState::fine_outstanding, |a| &mut a.fine),
    ];
    for (owed, slot) in passes {
        for invoice in &order {
            if !remaining.is_positive() {
                break;
            }
            let take = remaining.min(owed(invoice))?;
            if !take.is_positive() {
                continue;
            }
            remaining = remaining.checked_sub(take)?;
            let index = match allocations
                .iter()
                .position(|a| a.invoice_number == invoice.number)
            {
                Some(index) => index,
                None => {
                    allocations.push(PaymentAllocation {
                        invoice_number: invoice.number,
                        principal: zero,
                        penalty: zero,
                        fine: zero,
                    });
                    allocations.len() - 1
                }
            };
            let target = slot(&mut allocations[index]);
            *target = target.checked_add(take)?;
        }
    }

    // Invariant: every tiyn of the payment is accounted for, exactly once.
    let mut accounted = remaining;
    for allocation in &allocations {
        accounted = accounted
            .checked_add(allocation.principal)?
            .checked_add(allocation.penalty)?
            .checked_add(allocation.fine)?;
    }
    assert_eq!(
        accounted, amount,
        "a payment's allocations must add up to its amount"
    );
    Ok((allocations, remaining))
}

#[cfg(test)]
mod tests;
