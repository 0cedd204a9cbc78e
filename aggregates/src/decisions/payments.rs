//! Receiving a payment (§5.5; Civil Code art. 282): allocated the day it arrives, and
//! the lifting it causes at once.

use commands::ReceivePayment;
use events::{AgreementEvent, InvoiceNumber, Money, PaymentAllocation, PaymentReceived};

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
        self.check_date("the payment date", command.received_on, services)?;
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
        let received_on = command.received_on;
        let payment = AgreementEvent::PaymentReceived(PaymentReceived {
            reference: command.reference,
            received_on,
            amount,
            named_invoice: command.invoice_number,
            allocations,
            advance,
        });
        // A payment that clears the debt of a block, or the overdue of a suspension, for
        // debt lifts it at once: access returns the day the money arrives (§5.5, §4.2).
        // Only a restriction for debt can be lifted, and a payment never imposes one: with
        // none in force there is nothing to look at (and no copy of the agreement to make).
        let lift_possible = self.restricted_for(RestrictionKind::Blocked)
            || self.restricted_for(RestrictionKind::Suspended);
        let mut events = vec![payment];
        if lift_possible {
            let mut after = self.clone();
            after.apply_event(events[0].clone());
            events.extend(after.lifts_after_payment(received_on)?);
        }
        Ok(events)
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
