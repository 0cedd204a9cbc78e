//! The documents a Kazakh accountant needs (BILLING.md 6): the electronic invoice of IS
//! ESF (§5.7). Pure renderings of what the events recorded: no I/O, no clock.

pub mod esf;

use events::{AgreementEvent, CreditNoteIssued, InvoiceIssued, InvoiceNumber, ParticipantId};

use super::commands::{Ledger, LedgerError};
use esf::{Customer, EsfDocument};

/// The ESF document of the invoice or credit note numbered `number` on agreement `id`,
/// from the agreement's events (the recorded invoice, not a projection of it), with the
/// participant as the customer: `None` when the agreement has no such document.
pub async fn esf_of(
    ledger: &Ledger,
    id: &ParticipantId,
    number: InvoiceNumber,
) -> Result<Option<(EsfDocument, Customer)>, LedgerError> {
    let history = ledger.history(id).await?;
    let mut customer = None;
    let mut invoices: Vec<&InvoiceIssued> = Vec::new();
    let mut credit_note: Option<&CreditNoteIssued> = None;
    for envelope in &history {
        match &envelope.payload {
            AgreementEvent::Registered(registered) => {
                customer = Some(Customer {
                    tin: registered.participant_id.clone(),
                    name: registered.name.to_string(),
                    address: None,
                });
            }
            AgreementEvent::InvoiceIssued(issued) => invoices.push(issued),
            AgreementEvent::CreditNoteIssued(note) if note.number == number => {
                credit_note = Some(note);
            }
            _ => {}
        }
    }
    let Some(customer) = customer else {
        return Ok(None);
    };
    let document = match credit_note {
        Some(note) => invoices
            .iter()
            .find(|invoice| invoice.number == note.related_invoice)
            .map(|invoice| EsfDocument::of_credit_note(note, invoice)),
        None => invoices
            .iter()
            .find(|invoice| invoice.number == number)
            .map(|invoice| EsfDocument::of_invoice(invoice)),
    };
    Ok(document.map(|document| (document, customer)))
}
