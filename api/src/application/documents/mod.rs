//! The documents a Kazakh accountant needs (BILLING.md 6): the electronic invoice of IS
//! ESF (§5.7), the act of completed work and the reconciliation statement as PDF (§4.1).
//! Pure renderings of what the events recorded: no I/O, no clock.

pub mod act;
pub mod esf;
pub mod pdf;
pub mod reconciliation;

use events::{AgreementEvent, InvoiceIssued, InvoiceNumber, ParticipantId};

use super::commands::{Ledger, LedgerError};
use esf::{Customer, EsfDocument};

/// The ESF documents of one agreement's history, in the order recorded (invoices and
/// credit notes), with the participant as the customer; `None` before registration.
pub fn esf_documents_of<'a>(
    events: impl IntoIterator<Item = &'a AgreementEvent>,
) -> Option<(Customer, Vec<EsfDocument>)> {
    let mut customer = None;
    let mut invoices: Vec<&InvoiceIssued> = Vec::new();
    let mut documents = Vec::new();
    for event in events {
        match event {
            AgreementEvent::Registered(registered) => {
                customer = Some(Customer {
                    tin: registered.participant_id.clone(),
                    name: registered.name.to_string(),
                    address: None,
                });
            }
            AgreementEvent::InvoiceIssued(issued) => {
                invoices.push(issued);
                documents.push(EsfDocument::of_invoice(issued));
            }
            AgreementEvent::CreditNoteIssued(note) => {
                let related: Option<&&InvoiceIssued> = invoices
                    .iter()
                    .find(|invoice| invoice.number == note.related_invoice);
                if let Some(invoice) = related {
                    documents.push(EsfDocument::of_credit_note(note, invoice));
                }
            }
            _ => {}
        }
    }
    customer.map(|customer| (customer, documents))
}

/// The ESF document of the invoice or credit note numbered `number` on agreement `id`,
/// from the agreement's events (the recorded invoice, not a projection of it), with the
/// participant as the customer: `None` when the agreement has no such document.
pub async fn esf_of(
    ledger: &Ledger,
    id: &ParticipantId,
    number: InvoiceNumber,
) -> Result<Option<(EsfDocument, Customer)>, LedgerError> {
    let history = ledger.history(id).await?;
    let Some((customer, documents)) = esf_documents_of(history.iter().map(|e| &e.payload)) else {
        return Ok(None);
    };
    Ok(documents
        .into_iter()
        .find(|document| document.number == number)
        .map(|document| (document, customer)))
}

/// The act of completed work of agreement `id` for `month`, from its events recorded
/// before the month's close (BILLING.md 5.4: before the seal's global position): `None`
/// when the agreement was not registered by then or rendered no service in the month.
pub async fn act_of(
    ledger: &Ledger,
    id: &ParticipantId,
    month: events::CalendarMonth,
    close: &crate::application::periods::MonthClose,
) -> Result<Option<act::ActOfCompletedWork>, LedgerError> {
    let history = ledger.history(id).await?;
    let known = ledger
        .repository()
        .count_events_before(
            <aggregates::ParticipantAgreement as cqrs_es::Aggregate>::TYPE,
            id.as_str(),
            close.position,
        )
        .await?
        .min(history.len());
    Ok(act::ActOfCompletedWork::of(
        history[..known].iter().map(|e| &e.payload),
        month,
        &close.closed_at,
    ))
}

/// Every agreement's ESF documents issued from `from` through `to`, agreements in id
/// order; `progress(done, total)` sees the agreements read.
pub async fn esf_documents_issued(
    ledger: &Ledger,
    from: time::Date,
    to: time::Date,
    mut progress: impl FnMut(u64, u64),
) -> Result<Vec<(Customer, EsfDocument)>, LedgerError> {
    let ids = ledger.repository().participant_ids().await?;
    let total = ids.len() as u64;
    let mut found = Vec::new();
    for (done, id) in ids.iter().enumerate() {
        let Ok(id) = ParticipantId::parse(id) else {
            continue;
        };
        let history = ledger.history(&id).await?;
        if let Some((customer, documents)) = esf_documents_of(history.iter().map(|e| &e.payload)) {
            found.extend(
                documents
                    .into_iter()
                    .filter(|document| (from..=to).contains(&document.date))
                    .map(|document| (customer.clone(), document)),
            );
        }
        progress(done as u64 + 1, total);
    }
    Ok(found)
}

/// How long after its turnover date an ESF is due (BILLING.md 6; Tax Code): 15 calendar
/// days.
pub const ESF_DUE_DAYS: i64 = 15;

/// One document whose ESF is not produced yet (`GET /v1/reports/esf-due`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct EsfDue {
    pub participant_id: String,
    #[schema(value_type = String)]
    pub number: InvoiceNumber,
    /// `ORDINARY_INVOICE` (an invoice) or `ADDITIONAL_INVOICE` (a credit note).
    pub document_type: &'static str,
    #[serde(with = "events::business_date")]
    #[schema(value_type = String, format = Date)]
    pub issued_on: time::Date,
    #[serde(with = "events::business_date")]
    #[schema(value_type = String, format = Date)]
    pub turnover_date: time::Date,
    /// The turnover date plus [`ESF_DUE_DAYS`] calendar days.
    #[serde(with = "events::business_date")]
    #[schema(value_type = String, format = Date)]
    pub deadline: time::Date,
    /// Days from today to the deadline (negative once it has passed).
    pub days_left: i64,
    pub overdue: bool,
}

/// The ESF-due report: every invoice and credit note whose ESF was not produced yet
/// (`edoc-ledger esf export` records production), by deadline. A voided invoice needs
/// none (BILLING.md 5.3: it was issued by mistake).
pub async fn esf_due(ledger: &Ledger, today: time::Date) -> Result<Vec<EsfDue>, LedgerError> {
    let repository = ledger.repository();
    let produced: std::collections::HashSet<(String, i64)> = repository
        .esf_produced()
        .await?
        .into_iter()
        .map(|row| (row.participant_id, row.number))
        .collect();
    let mut due: Vec<EsfDue> = Vec::new();
    let mut voided: std::collections::HashSet<(String, InvoiceNumber)> =
        std::collections::HashSet::new();
    let mut failure = None;
    repository
        .for_each_document_event(
            |participant, sequence, event_type, event_version, payload| {
                let event = match events::upcast::decode(event_type, event_version, payload) {
                    Ok(event) => event,
                    Err(e) => {
                        failure.get_or_insert_with(|| {
                            format!("event {participant}/{sequence} cannot be read: {e}")
                        });
                        return Ok::<(), crate::store::StoreError>(());
                    }
                };
                let (number, document_type, issued_on, turnover_date) = match &event {
                    AgreementEvent::InvoiceIssued(issued) => (
                        issued.number,
                        esf::ORDINARY_INVOICE,
                        issued.issued_on,
                        issued.turnover_date(),
                    ),
                    AgreementEvent::CreditNoteIssued(note) => (
                        note.number,
                        esf::ADDITIONAL_INVOICE,
                        note.issued_on,
                        esf::credit_note_turnover_date(note),
                    ),
                    AgreementEvent::InvoiceVoided(void) => {
                        voided.insert((participant.to_owned(), void.number));
                        return Ok(());
                    }
                    _ => return Ok(()),
                };
                let number_key = i64::try_from(number.value()).unwrap_or(i64::MAX);
                if produced.contains(&(participant.to_owned(), number_key)) {
                    return Ok(());
                }
                let deadline = turnover_date + time::Duration::days(ESF_DUE_DAYS);
                let days_left = (deadline - today).whole_days();
                due.push(EsfDue {
                    participant_id: participant.to_owned(),
                    number,
                    document_type,
                    issued_on,
                    turnover_date,
                    deadline,
                    days_left,
                    overdue: days_left < 0,
                });
                Ok(())
            },
        )
        .await?;
    if let Some(failure) = failure {
        return Err(crate::store::StoreError::Corrupt(failure).into());
    }
    due.retain(|document| {
        !(document.document_type == esf::ORDINARY_INVOICE
            && voided.contains(&(document.participant_id.clone(), document.number)))
    });
    due.sort_by(|a, b| {
        (a.deadline, &a.participant_id, a.number).cmp(&(b.deadline, &b.participant_id, b.number))
    });
    Ok(due)
}
