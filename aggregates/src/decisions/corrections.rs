//! Corrections the real world needs (BILLING.md 5.2-5.3): a payment the bank returned,
//! a refund of the advance, a void invoice, a credit note.
//!
//! Each is recorded on the agreement's current business date (never backdated): what it
//! corrects stays in the history, and the correction is a new fact after it.

use commands::{IssueCreditNote, RefundAdvance, ReversePayment, VoidInvoice, INVOICE_LINES_MAX};
use events::{
    AdvanceRefunded, AdvanceUndone, AgreementEvent, CreditNoteIssued, InvoiceLine, InvoiceVoided,
    Money, PaymentAllocation, PaymentReversed, SettledPart, VatApplied,
};

use super::payments::WithdrawalCause;
use crate::agreement::ParticipantAgreement;
use crate::{AgreementError, AgreementServices};

impl ParticipantAgreement {
    /// BILLING.md 5.2: the bank returned a payment. Its money is undone as if it had
    /// never been received: what it still settles on each invoice is taken back (they
    /// reopen; their delay runs from their due date, §5.9), the advance it left is removed
    /// from the advance held, and where that advance has already settled later invoices
    /// the newest such settlements are undone (those invoices reopen too). A payment is
    /// reversed once. Restrictions the reopened debt calls for are the sweep's to impose.
    pub(super) fn reverse_payment(
        &self,
        command: ReversePayment,
        services: &AgreementServices,
    ) -> Result<Vec<AgreementEvent>, AgreementError> {
        let currency = self.registered()?.currency;
        let reference = command.reference.as_str();
        let payment =
            self.payments
                .get(reference)
                .ok_or_else(|| AgreementError::UnknownPayment {
                    reference: reference.to_owned(),
                })?;
        if let Some(reversed_on) = payment.reversed_on {
            return Err(AgreementError::PaymentAlreadyReversed {
                reference: reference.to_owned(),
                reversed_on,
            });
        }
        if command.on < payment.received_on {
            return Err(AgreementError::ReversalBeforePayment {
                on: command.on,
                received_on: payment.received_on,
            });
        }
        self.check_document_date("the reversal date", command.on, services)?;

        let zero = Money::zero(currency);
        let mut remaining = payment.amount;
        let mut taken_back = Vec::new();
        for allocation in &payment.allocations {
            let Some(invoice) = self.invoices.get(&allocation.invoice_number) else {
                continue;
            };
            let taken = PaymentAllocation {
                invoice_number: invoice.number,
                principal: invoice.settled_by(reference, SettledPart::Principal),
                penalty: invoice.settled_by(reference, SettledPart::Penalty),
                fine: invoice.settled_by(reference, SettledPart::Fine),
            };
            let sum = taken
                .principal
                .checked_add(taken.penalty)?
                .checked_add(taken.fine)?;
            if sum.is_positive() {
                remaining = remaining.checked_sub(sum)?;
                taken_back.push(taken);
            }
        }
        // What it no longer settles (a credit note or a withdrawal moved it) was
        // advance: taken from what is held, then from what the advance settled since,
        // newest first. Only since: a settlement by the advance dated before the payment
        // was received was made with other money (an earlier payment's advance), and
        // reopening it would put an invoice the payment never touched back into delay
        // from its due date; what cannot be found so is refused (ReversalNotHeld).
        let advance_removed = remaining.min(self.advance.unwrap_or(zero))?.max(zero)?;
        remaining = remaining.checked_sub(advance_removed)?;
        let received_on = payment.received_on;
        let mut by_advance: Vec<(time::Date, events::InvoiceNumber, SettledPart, Money)> = self
            .invoices
            .values()
            .flat_map(|invoice| {
                invoice
                    .settlements
                    .iter()
                    .filter(|s| s.payment.is_none() && s.on >= received_on)
                    .map(|s| (s.on, invoice.number, s.part, s.amount))
            })
            .collect();
        by_advance.sort_by_key(|(on, number, part, _)| (*on, *number, part_order(*part)));
        let mut advance_undone: Vec<AdvanceUndone> = Vec::new();
        for (_, invoice_number, part, amount) in by_advance.into_iter().rev() {
            if !remaining.is_positive() {
                break;
            }
            let take = remaining.min(amount)?;
            remaining = remaining.checked_sub(take)?;
            match advance_undone
                .iter_mut()
                .find(|u| u.invoice_number == invoice_number && u.part == part)
            {
                Some(undone) => undone.amount = undone.amount.checked_add(take)?,
                None => advance_undone.push(AdvanceUndone {
                    invoice_number,
                    part,
                    amount: take,
                }),
            }
        }
        if remaining.is_positive() {
            return Err(AgreementError::ReversalNotHeld {
                reference: reference.to_owned(),
                shortfall: remaining,
            });
        }
        Ok(vec![AgreementEvent::PaymentReversed(PaymentReversed {
            reference: command.reference,
            received_on: payment.received_on,
            amount: payment.amount,
            taken_back,
            advance_removed,
            advance_undone,
            reason: command.reason,
            on: command.on,
        })])
    }

    /// BILLING.md 5.2, §5.10: money is paid back only from the advance (what no invoice
    /// holds), never more; a subscription fee allocated is never refunded. Allowed after
    /// termination, so no money is stuck. A repeated reference records nothing.
    pub(super) fn refund_advance(
        &self,
        command: RefundAdvance,
        services: &AgreementServices,
    ) -> Result<Vec<AgreementEvent>, AgreementError> {
        let currency = self.registered()?.currency;
        let amount = command.amount.in_currency(currency);
        if let Some(recorded) = self.refunds.get(command.reference.as_str()) {
            return if recorded.amount == amount && recorded.on == command.on {
                Ok(Vec::new())
            } else {
                Err(AgreementError::RefundReferenceReused {
                    reference: command.reference.as_str().to_owned(),
                })
            };
        }
        if amount.is_zero() {
            return Err(AgreementError::ZeroRefund);
        }
        self.check_document_date("the refund date", command.on, services)?;
        let advance = self.advance.unwrap_or(Money::zero(currency));
        if amount.amount() > advance.amount() {
            return Err(AgreementError::RefundBeyondAdvance {
                requested: amount,
                advance,
            });
        }
        Ok(vec![AgreementEvent::AdvanceRefunded(AdvanceRefunded {
            reference: command.reference,
            amount,
            reason: command.reason,
            on: command.on,
            advance_remaining: advance.checked_sub(amount)?,
        })])
    }

    /// BILLING.md 5.3: an invoice issued by mistake, with nothing paid on it, is
    /// cancelled; its number stays used. What was charged on it and not paid goes with
    /// it. An invoice with money allocated must first have that money reversed (409).
    pub(super) fn void_invoice(
        &self,
        command: VoidInvoice,
        services: &AgreementServices,
    ) -> Result<Vec<AgreementEvent>, AgreementError> {
        self.registered()?;
        let invoice = self.invoice_or_unknown(command.number)?;
        if let Some(voided_on) = invoice.voided_on {
            return Err(AgreementError::InvoiceAlreadyVoided {
                number: command.number,
                voided_on,
            });
        }
        let paid = invoice
            .principal_paid
            .checked_add(invoice.penalty_paid)?
            .checked_add(invoice.fine_paid)?;
        if paid.is_positive() {
            return Err(AgreementError::InvoiceHasMoney {
                number: command.number,
                paid,
            });
        }
        if invoice.credited.is_some() {
            return Err(AgreementError::InvoiceCredited {
                number: command.number,
            });
        }
        self.check_document_date("the void date", command.on, services)?;
        Ok(vec![AgreementEvent::InvoiceVoided(InvoiceVoided {
            number: command.number,
            total: invoice.total,
            penalty_cancelled: invoice.penalty_outstanding(),
            fine_cancelled: invoice.fine_outstanding(),
            reason: command.reason,
            on: command.on,
        })])
    }

    /// BILLING.md 5.3: a credit note reduces an issued invoice, by lines or by a net
    /// amount, with VAT at the invoice's own rate (§5.11), under its own number from the
    /// same gapless series. It lowers what is outstanding; beyond that it becomes advance.
    /// The penalty base is the invoice total less its credit notes for every day, so a
    /// penalty or fine charged beyond what the lower base accrues is withdrawn, naming
    /// the credit note.
    pub(super) fn issue_credit_note(
        &self,
        command: IssueCreditNote,
        services: &AgreementServices,
    ) -> Result<Vec<AgreementEvent>, AgreementError> {
        let currency = self.registered()?.currency;
        let invoice = self.live_invoice(command.invoice_number)?;
        self.check_document_date("the credit note's date", command.on, services)?;
        let (lines, net) = match (command.lines, command.net) {
            (Some(requested), None) => {
                if requested.is_empty() {
                    return Err(AgreementError::NoInvoiceLines);
                }
                if requested.len() > INVOICE_LINES_MAX {
                    return Err(AgreementError::TooManyInvoiceLines {
                        max: INVOICE_LINES_MAX,
                        given: requested.len(),
                    });
                }
                let mut lines = Vec::with_capacity(requested.len());
                let mut net = Money::zero(currency);
                for line in requested {
                    let unit_price = line.unit_price.in_currency(currency);
                    let amount = unit_price.checked_mul(line.quantity.value())?;
                    net = net.checked_add(amount)?;
                    lines.push(InvoiceLine {
                        description: line.description,
                        quantity: line.quantity,
                        unit_price,
                        amount,
                    });
                }
                (lines, net)
            }
            (None, Some(net)) => (Vec::new(), net.in_currency(currency)),
            _ => return Err(AgreementError::CreditNoteLinesOrNet),
        };
        if net.is_zero() {
            return Err(AgreementError::ZeroCredit);
        }
        let creditable = invoice.net_creditable();
        if net.amount() > creditable.amount() {
            return Err(AgreementError::CreditBeyondInvoice {
                number: command.invoice_number,
                requested: net,
                creditable,
            });
        }
        // VAT at the invoice's own rate, rounded once; crediting what is left of the net
        // credits exactly what is left of the VAT, so the credit notes never drift from
        // the invoice by a tiyn.
        let vat_amount = if net == creditable {
            invoice.vat_creditable()
        } else {
            net.checked_mul(invoice.vat.rate)?
                .min(invoice.vat_creditable())?
        };
        let total = net.checked_add(vat_amount)?;
        let to_advance = total
            .checked_sub(invoice.principal_outstanding())?
            .max(Money::zero(currency))?;
        if let Some(held) = self.advance {
            held.checked_add(to_advance)?;
        }
        let number = services
            .next_invoice_number
            .ok_or(AgreementError::NoInvoiceNumberReserved)?;
        let issued = AgreementEvent::CreditNoteIssued(CreditNoteIssued {
            number,
            related_invoice: invoice.number,
            issued_on: command.on,
            lines,
            net,
            vat: VatApplied {
                rate: invoice.vat.rate,
                rate_effective_from: invoice.vat.rate_effective_from,
                amount: vat_amount,
                table_version: invoice.vat.table_version.clone(),
            },
            total,
            currency,
            to_advance,
            reason: command.reason,
        });
        let mut events = vec![issued];
        if !invoice.charges.is_empty() {
            let mut after = self.clone();
            after.apply_event(events[0].clone());
            let on = after.latest_business_date.unwrap_or(command.on);
            events.extend(after.withdrawals_of_excess(
                &[invoice.number],
                WithdrawalCause::CreditNote(number),
                on,
                services.first_open_day(),
            )?);
        }
        Ok(events)
    }
}

/// Principal before penalty before fine: the order money settles them in.
fn part_order(part: SettledPart) -> u8 {
    match part {
        SettledPart::Principal => 0,
        SettledPart::Penalty => 1,
        SettledPart::Fine => 2,
    }
}

#[cfg(test)]
mod tests;
