//! The ESF section of an export (format 3, BILLING.md 6): which IS ESF documents were
//! produced for upload (`edoc-ledger esf export`), when, by what, and the SHA-256 of the
//! XML written, exactly as the store's `esf_documents` log holds them; their count and
//! hash in the digest line, as for the usage section.

use super::*;

/// One document produced, exactly as logged: `{"kind":"esf_document",...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportedEsfDocument {
    pub participant_id: String,
    /// The invoice's or credit note's number.
    pub number: i64,
    /// `ORDINARY_INVOICE` or `ADDITIONAL_INVOICE`.
    pub document_type: String,
    /// `YYYY-MM-DD`.
    pub issued_on: String,
    /// `YYYY-MM-DD`.
    pub turnover_date: String,
    /// SHA-256 (hex) of the XML as written.
    pub digest: String,
    /// When it was first produced (RFC 3339, UTC).
    pub produced_at: String,
    /// What produced it (`edoc-ledger esf export`).
    pub produced_by: String,
}

impl ExportedEsfDocument {
    /// The day it was produced, in Kazakhstan (what an export cut at a date compares).
    pub fn produced_on(&self) -> Option<Date> {
        OffsetDateTime::parse(
            &self.produced_at,
            &time::format_description::well_known::Rfc3339,
        )
        .ok()
        .map(crate::application::commands::business_date_of)
    }

    /// The key the section is ordered by.
    pub(super) fn key(&self) -> (&str, i64) {
        (self.participant_id.as_str(), self.number)
    }
}

/// What an exported invoice or credit note says of itself, as its ESF line names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DocumentFacts {
    pub document_type: &'static str,
    pub issued_on: String,
    pub turnover_date: String,
}

/// The (participant, number) and facts of an exported invoice or credit note; `None` for
/// any other event (or one that cannot be read: the chain check reports it).
pub(super) fn document_of(event: &ExportedEvent) -> Option<((String, i64), DocumentFacts)> {
    if event.aggregate_type != AGGREGATE_TYPE
        || !matches!(
            event.event_type.as_str(),
            "InvoiceIssued" | "CreditNoteIssued"
        )
    {
        return None;
    }
    use crate::application::documents::esf;
    let (number, facts) = match event.decode().ok()? {
        AgreementEvent::InvoiceIssued(issued) => (
            issued.number,
            DocumentFacts {
                document_type: esf::ORDINARY_INVOICE,
                issued_on: issued.issued_on.to_string(),
                turnover_date: issued.turnover_date().to_string(),
            },
        ),
        AgreementEvent::CreditNoteIssued(note) => (
            note.number,
            DocumentFacts {
                document_type: esf::ADDITIONAL_INVOICE,
                issued_on: note.issued_on.to_string(),
                turnover_date: esf::credit_note_turnover_date(&note).to_string(),
            },
        ),
        _ => return None,
    };
    let number = i64::try_from(number.value()).ok()?;
    Some(((event.aggregate_id.clone(), number), facts))
}

impl ExportedEsfDocument {
    /// Whether the line names the exported document as it is.
    pub(super) fn matches(&self, facts: &DocumentFacts) -> bool {
        self.document_type == facts.document_type
            && self.issued_on == facts.issued_on
            && self.turnover_date == facts.turnover_date
    }
}
