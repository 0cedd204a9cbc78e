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
