//! Charging and waiving penalties and fines for late payment (§5.9); the figures
//! themselves are `crate::late_payment`'s.

use commands::{ChargeLatePayment, WaiveLatePayment};
use events::{
    AdvanceApplied, AgreementEvent, FineCharged, LateChargeKind, LateChargeWaived, Money,
    PenaltyCharged, SettledPart,
};

use crate::agreement::ParticipantAgreement;
use crate::{AgreementError, AgreementServices};

impl ParticipantAgreement {
    /// §5.9: the operator charges what has accrued on an invoice as of `on`, less what
    /// was charged or waived before: the penalty up to 5% of the total, the fine of
    /// 2 MRP once. An advance held settles the charge at once (allocation, DOMAIN.md).
    pub(super) fn charge_late_payment(
        &self,
        command: ChargeLatePayment,
        services: &AgreementServices,
    ) -> Result<Vec<AgreementEvent>, AgreementError> {
        self.in_force("charged")?;
        let invoice = self.live_invoice(command.invoice_number)?;
        self.check_document_date("the charge date", command.on, services)?;
        let facts = invoice.delay_facts(&self.force_majeure);
        let (charged, _paid, _waived_charged, waived_uncharged) = invoice.late_charge(command.kind);
        let (accrued, event) = match command.kind {
            LateChargeKind::Penalty => {
                let accrual = crate::late_payment::penalty(&facts, command.on)?;
                let accrued = accrual.amount;
                let amount = accrued
                    .checked_sub(charged)?
                    .checked_sub(waived_uncharged)?;
                (
                    accrued,
                    amount.is_positive().then_some({
                        AgreementEvent::PenaltyCharged(PenaltyCharged {
                            invoice_number: command.invoice_number,
                            on: command.on,
                            amount,
                            accrual,
                            settlement: false,
                        })
                    }),
                )
            }
            // §5.9: the fine is charged once per late invoice, at the MRP version its
            // charge names; a table published later never reprices it (BILLING.md 1).
            LateChargeKind::Fine if charged.is_positive() => (charged, None),
            LateChargeKind::Fine => {
                let assessment =
                    crate::late_payment::fine(&facts, command.on, &services.reference)?;
                let accrued = assessment.amount;
                let amount = accrued
                    .checked_sub(charged)?
                    .checked_sub(waived_uncharged)?;
                (
                    accrued,
                    amount.is_positive().then_some({
                        AgreementEvent::FineCharged(FineCharged {
                            invoice_number: command.invoice_number,
                            on: command.on,
                            amount,
                            assessment,
                            settlement: false,
                        })
                    }),
                )
            }
        };
        let late = crate::late_payment::delay(invoice.due_on, invoice.delay_ends_on(), command.on)
            .days
            > 0;
        if !late {
            return Err(AgreementError::NotLate {
                invoice_number: command.invoice_number,
                kind: command.kind,
                on: command.on,
                due_on: invoice.due_on,
            });
        }
        let Some(event) = event else {
            return Err(AgreementError::NothingToCharge {
                invoice_number: command.invoice_number,
                kind: command.kind,
                on: command.on,
                accrued,
                charged,
                waived: waived_uncharged,
            });
        };
        let amount = match &event {
            AgreementEvent::PenaltyCharged(e) => e.amount,
            AgreementEvent::FineCharged(e) => e.amount,
            _ => unreachable!("a charge event"),
        };
        let mut events = vec![event];
        let advance = self.advance.unwrap_or(Money::zero(amount.currency()));
        if advance.is_positive() {
            let applied = advance.min(amount)?;
            events.push(AgreementEvent::AdvanceApplied(AdvanceApplied {
                invoice_number: command.invoice_number,
                amount: applied,
                part: match command.kind {
                    LateChargeKind::Penalty => SettledPart::Penalty,
                    LateChargeKind::Fine => SettledPart::Fine,
                },
                on: command.on,
                advance_remaining: advance.checked_sub(applied)?,
            }));
        }
        Ok(events)
    }

    /// §5.9 says the operator *may* charge: it may also waive part or all of a penalty or
    /// fine, with a reason. What was charged and is unpaid is waived first; the rest
    /// lowers what may still be charged. Never more than accrued, less paid and waived.
    pub(super) fn waive_late_payment(
        &self,
        command: WaiveLatePayment,
        services: &AgreementServices,
    ) -> Result<Vec<AgreementEvent>, AgreementError> {
        let currency = self.registered()?.currency;
        self.in_force("waived")?;
        let on = command.on.unwrap_or(services.today);
        let invoice = self.live_invoice(command.invoice_number)?;
        self.check_document_date("the waiver date", on, services)?;
        let amount = command.amount.in_currency(currency);
        if amount.is_zero() {
            return Err(AgreementError::ZeroWaiver);
        }
        let facts = invoice.delay_facts(&self.force_majeure);
        let (charged, paid, waived_charged, waived_uncharged) = invoice.late_charge(command.kind);
        let accrued = match command.kind {
            LateChargeKind::Penalty => crate::late_payment::penalty(&facts, on)?.amount,
            // A fine once charged is what its charge recorded (never repriced).
            LateChargeKind::Fine if charged.is_positive() => charged,
            LateChargeKind::Fine => {
                crate::late_payment::fine(&facts, on, &services.reference)?.amount
            }
        };
        // The charged part still owed, and what may still be charged.
        let charged_open = charged.checked_sub(paid)?.checked_sub(waived_charged)?;
        let chargeable = accrued
            .checked_sub(charged)?
            .checked_sub(waived_uncharged)?;
        let chargeable = if chargeable.is_negative() {
            Money::zero(currency)
        } else {
            chargeable
        };
        let waivable = charged_open.checked_add(chargeable)?;
        if amount.amount() > waivable.amount() {
            return Err(AgreementError::WaiverTooLarge {
                invoice_number: command.invoice_number,
                kind: command.kind,
                on,
                requested: amount,
                waivable,
            });
        }
        let charged_part = amount.min(charged_open)?;
        let uncharged_part = amount.checked_sub(charged_part)?;
        Ok(vec![AgreementEvent::LateChargeWaived(LateChargeWaived {
            invoice_number: command.invoice_number,
            kind: command.kind,
            on,
            amount,
            charged_part,
            uncharged_part,
            reason: command.reason,
        })])
    }
}

#[cfg(test)]
mod tests;
