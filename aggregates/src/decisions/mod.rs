//! Deciding: a command and the current state in, events or a refusal out.
//!
//! `decide` hands each command to the decision of its group, a module each; the guards
//! they share (registered, in force, the business date of a new entry) are here. The
//! sweep's decisions are the dunning rules' (`crate::dunning`).

use time::Date;

use commands::AgreementCommand;
use events::AgreementEvent;

use crate::agreement::{ParticipantAgreement, Registration};
use crate::{AgreementError, AgreementServices};

mod billing;
pub use billing::prorated_fee;
mod corrections;
mod force_majeure;
mod invoicing;
mod late_charges;
mod onboarding;
mod payments;
mod restrictions;
mod subscriptions;
mod termination;
#[cfg(test)]
mod tests;

impl ParticipantAgreement {
    /// Decides what a command records. Pure: the same state, command and services always
    /// give the same answer.
    pub fn decide(
        &self,
        command: AgreementCommand,
        services: &AgreementServices,
    ) -> Result<Vec<AgreementEvent>, AgreementError> {
        match command {
            AgreementCommand::Register(command) => self.register(command, services),
            AgreementCommand::Sign(command) => self.sign(command, services),
            AgreementCommand::IssueInvoice(command) => self.issue_invoice(command, services),
            AgreementCommand::ReceivePayment(command) => self.receive_payment(command, services),
            AgreementCommand::Suspend(command) => self.suspend(command, services),
            AgreementCommand::Reinstate(command) => self.reinstate(command, services),
            AgreementCommand::Block(command) => self.block(command, services),
            AgreementCommand::Unblock(command) => self.unblock(command, services),
            AgreementCommand::RequestTermination(command) => {
                self.request_termination(command, services)
            }
            AgreementCommand::ChargeLatePayment(command) => {
                self.charge_late_payment(command, services)
            }
            AgreementCommand::WaiveLatePayment(command) => {
                self.waive_late_payment(command, services)
            }
            AgreementCommand::Sweep(command) => {
                self.sweep(command.as_of, command.charge_fines, services)
            }
            AgreementCommand::DeclareForceMajeure(command) => {
                self.declare_force_majeure(command, services)
            }
            AgreementCommand::EndForceMajeure(command) => self.end_force_majeure(command, services),
            AgreementCommand::ReversePayment(command) => self.reverse_payment(command, services),
            AgreementCommand::RefundAdvance(command) => self.refund_advance(command, services),
            AgreementCommand::VoidInvoice(command) => self.void_invoice(command, services),
            AgreementCommand::IssueCreditNote(command) => self.issue_credit_note(command, services),
            AgreementCommand::Subscribe(command) => self.subscribe(command, services),
            AgreementCommand::EndSubscription(command) => self.end_subscription(command, services),
            AgreementCommand::BillMonth(command) => self.bill_month(command, services),
            AgreementCommand::BillUsage(command) => self.bill_usage(command, services),
        }
    }

    /// The invoice `number` of this agreement, or the refusal naming it (404).
    pub(crate) fn invoice_or_unknown(
        &self,
        number: events::InvoiceNumber,
    ) -> Result<&crate::agreement::InvoiceState, AgreementError> {
        self.invoices
            .get(&number)
            .ok_or(AgreementError::UnknownInvoice(number))
    }

    /// [`Self::invoice_or_unknown`], refused when the invoice is void (BILLING.md 5.3:
    /// it owes nothing, so nothing is charged, waived or credited on it).
    pub(crate) fn live_invoice(
        &self,
        number: events::InvoiceNumber,
    ) -> Result<&crate::agreement::InvoiceState, AgreementError> {
        let invoice = self.invoice_or_unknown(number)?;
        if invoice.is_void() {
            return Err(AgreementError::InvoiceVoid { number });
        }
        Ok(invoice)
    }

    pub(crate) fn registered(&self) -> Result<&Registration, AgreementError> {
        self.registration
            .as_ref()
            .ok_or(AgreementError::NotRegistered)
    }

    /// The agreement must be signed and not terminated for `action`.
    fn in_force(&self, action: &'static str) -> Result<(), AgreementError> {
        self.registered()?;
        if self.signing.is_none() {
            return Err(AgreementError::NotSigned { action });
        }
        if let Some(terminated_on) = self.termination.and_then(|t| t.terminated_on) {
            return Err(AgreementError::AlreadyTerminated {
                terminated_on,
                action,
            });
        }
        Ok(())
    }

    /// A business date of a new entry: not before registration, not before the latest
    /// recorded entry (the ledger keeps each agreement's history in date order, so that
    /// any `as_of` view is exact), and not in the future. A payment alone is checked by
    /// [`Self::check_date_bounds`] only.
    pub(crate) fn check_date(
        &self,
        what: &'static str,
        date: Date,
        services: &AgreementServices,
    ) -> Result<(), AgreementError> {
        self.check_date_bounds(what, date, services)?;
        if let Some(latest) = self.latest_business_date {
            if date < latest {
                return Err(AgreementError::Backdated { what, date, latest });
            }
        }
        Ok(())
    }

    /// The date of a new document (an invoice, a credit note, a charge, a waiver, a
    /// void, a reversal, a refund, a sweep's charges): [`Self::check_date`], and not in a
    /// closed month (BILLING.md 5.4: a closed month's documents are final). Registration,
    /// signing, restrictions, notices and force majeure are not documents: no statement
    /// or total shows them.
    pub(crate) fn check_document_date(
        &self,
        what: &'static str,
        date: Date,
        services: &AgreementServices,
    ) -> Result<(), AgreementError> {
        self.check_date_bounds(what, date, services)?;
        if let Some(closed_through) = services.closed_through {
            if date <= closed_through {
                return Err(AgreementError::PeriodClosed {
                    what,
                    date,
                    closed_through,
                });
            }
        }
        self.check_date(what, date, services)
    }

    /// The part of [`Self::check_date`] that does not depend on the order of entries:
    /// not in the future, not before registration.
    fn check_date_bounds(
        &self,
        what: &'static str,
        date: Date,
        services: &AgreementServices,
    ) -> Result<(), AgreementError> {
        let registration = self.registered()?;
        if date > services.today {
            return Err(AgreementError::InTheFuture {
                what,
                date,
                today: services.today,
            });
        }
        if date < registration.registered_on {
            return Err(AgreementError::BeforeRegistration {
                what,
                date,
                registered_on: registration.registered_on,
            });
        }
        Ok(())
    }
}
