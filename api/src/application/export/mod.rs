//! Exports for auditors (issue 5): the events as JSON Lines with their hashes and a
//! digest, verified and replayed with no database, and loaded into an empty store.
//!
//! An export is one JSON object per line (docs/audit.md has the full format):
//! 1. `{"kind":"header","format":"edoc-ledger-export/2",...}`: when, what was selected
//!    (one participant, events up to a business date) and the versions of the reference
//!    tables in use;
//! 2. `{"kind":"event",...}` for each event, by participant and sequence, exactly as
//!    stored (payload, metadata with `hash` and `prev_hash`, global position, row time);
//! 3. `{"kind":"usage",...}` for each usage record (BILLING.md 3), in position order,
//!    exactly as stored (position, id, participant, metric, quantity, date, row time):
//!    what the usage invoices counted, so they can be recounted offline;
//! 4. `{"kind":"digest",...}`: the Merkle root over the heads of the exported chains
//!    (`api::application::audit::StoreDigest`) and the usage section's record count and
//!    SHA-256 ([`SectionDigest`]), so a truncated file fails verification.
//!
//! Format `edoc-ledger-export/1` (before usage records were exported) is still read: it
//! has no usage lines and its digest no `usage`.
//!
//! Verification ([`verify_export`]) and the offline recomputation ([`recompute`]) read
//! the file alone; the figures come from the same projection code the API answers with,
//! the usage invoices are recounted by the same code as the store's `verify`.

use std::collections::HashMap;
use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::{Date, OffsetDateTime};

use aggregates::ReferenceData;
use events::{
    AgreementEvent, ParticipantId, ReferenceTable, ReferenceVersionPublished,
    REFERENCE_AGGREGATE_TYPE,
};
use projections::{
    AgreementLedger, AgreementView, BalanceView, InvoiceStatusView, PenaltyView, StatementView,
};

use crate::hash_chain::{
    merkle_root, verify_stream, BrokenEvent, StoreDigest, StreamHead, HASH_KEY,
};
use crate::store::{EventRow, LedgerEventRepository, StoreError, UsageRow, LEDGERS_TABLE};

mod esf;
mod import;
mod recompute;
#[cfg(test)]
mod tests;
mod usage;
mod verify;
mod write;

pub use esf::ExportedEsfDocument;
pub use import::{import, ImportSummary};
pub use recompute::{figures, recompute, reference_of_export, AgreementFigures, RecomputeSummary};
pub use usage::{ExportDigest, ExportedUsage, SectionDigest};
pub use verify::{verify_export, ExportReader, ExportVerification, KeptDigestCheck};
pub use write::export;

/// The format written in every export's header.
pub const EXPORT_FORMAT: &str = "edoc-ledger-export/3";
/// The format before the ESF section: no ESF lines, no `esf` in the digest. Still read.
pub const EXPORT_FORMAT_2: &str = "edoc-ledger-export/2";
/// The format before usage records were exported: no usage lines, no `usage` in the
/// digest. Still read; a reader refuses any other format.
pub const EXPORT_FORMAT_1: &str = "edoc-ledger-export/1";
/// Usage records inserted per statement by [`import`].
pub(super) const IMPORT_USAGE_BATCH: usize = 5_000;
/// The aggregate type of every agreement's events.
pub const AGGREGATE_TYPE: &str = "ParticipantAgreement";
/// Events inserted per statement by [`import`].
pub(super) const IMPORT_BATCH: usize = 2_000;
/// The longest line a reader accepts (TIGER_STYLE: a limit on everything). The largest
/// event the ledger writes is an invoice with its lines, far below this.
pub const LINE_BYTES_MAX: usize = 1 << 20;

/// The versions of the reference tables the figures depend on (MRP for fines, VAT, NBK
/// rates, the calendar), so an auditor replays with the same tables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferenceVersions {
    pub calendar: String,
    pub mrp: String,
    pub vat: String,
    pub exchange_rates: String,
}

impl ReferenceVersions {
    pub fn of(reference: &ReferenceData) -> Self {
        Self {
            calendar: reference
                .versions_in_force(ReferenceTable::Calendar)
                .join(", "),
            mrp: reference.versions_in_force(ReferenceTable::Mrp).join(", "),
            vat: reference.versions_in_force(ReferenceTable::Vat).join(", "),
            exchange_rates: reference
                .versions_in_force(ReferenceTable::ExchangeRates)
                .join(", "),
        }
    }
}

/// The first line of an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportHeader {
    pub format: String,
    /// When the export was taken (RFC 3339, UTC).
    pub exported_at: String,
    /// Set when only one participant's events were exported.
    pub participant: Option<String>,
    /// Set when only events up to the end of this business day were exported.
    pub as_of: Option<String>,
    pub reference: ReferenceVersions,
}

impl ExportHeader {
    /// True when the export holds every event of the store when it was taken.
    pub fn is_complete(&self) -> bool {
        self.participant.is_none() && self.as_of.is_none()
    }

    /// True when the export carries a usage section (format 2 on): usage lines, and
    /// their count and hash in the digest.
    pub fn has_usage(&self) -> bool {
        self.format != EXPORT_FORMAT_1
    }

    /// True when the export carries an ESF section (format 3 on): the documents
    /// produced, and their count and hash in the digest.
    pub fn has_esf(&self) -> bool {
        self.format != EXPORT_FORMAT_1 && self.format != EXPORT_FORMAT_2
    }
}

/// One event, exactly as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportedEvent {
    /// `ParticipantAgreement`, or `ReferenceData` for the reference stream (BILLING.md
    /// 1); exports written before the reference stream existed have no such field.
    #[serde(default = "agreement_type")]
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: Value,
    /// With `hash` and `prev_hash`.
    pub metadata: Value,
    /// Its place in the order the store recorded events in (restored by [`import`]).
    pub global_position: i64,
    /// When its row was written (RFC 3339, UTC); not part of the hash.
    pub stored_at: String,
}

/// An event moves between the store and an export as it is: the same fields, named once
/// here (a field one of the two lacks does not compile).
macro_rules! same_fields {
    ($a:ty, $b:ty: $($field:ident),+) => {
        impl From<$a> for $b {
            fn from(from: $a) -> Self {
                Self { $($field: from.$field),+ }
            }
        }
        impl From<$b> for $a {
            fn from(from: $b) -> Self {
                Self { $($field: from.$field),+ }
            }
        }
    };
}

same_fields!(EventRow, ExportedEvent: aggregate_type, aggregate_id, sequence, event_type,
    event_version, payload, metadata, global_position, stored_at);
same_fields!(UsageRow, ExportedUsage: position, id, participant_id, metric, quantity,
    occurred_on, recorded_at);
same_fields!(crate::store::EsfProducedRow, ExportedEsfDocument: participant_id, number,
    document_type, issued_on, turnover_date, digest, produced_at, produced_by);

pub(super) fn agreement_type() -> String {
    AGGREGATE_TYPE.to_owned()
}

impl ExportedEvent {
    /// True for an event of the reference stream (a published table version).
    pub fn is_reference(&self) -> bool {
        self.aggregate_type == REFERENCE_AGGREGATE_TYPE
    }

    /// True for an event of the period stream (a month's seal, BILLING.md 5.4).
    pub fn is_period(&self) -> bool {
        self.aggregate_type == events::PERIOD_AGGREGATE_TYPE
    }

    /// True for an event of the tariff stream (a published tariff version, BILLING.md 2).
    pub fn is_tariff(&self) -> bool {
        self.aggregate_type == events::TARIFF_AGGREGATE_TYPE
    }

    /// True for an event of an operator-wide stream (reference tables, period seals,
    /// tariffs): exported whole, in a partial export too.
    pub fn is_operator(&self) -> bool {
        self.is_reference() || self.is_period() || self.is_tariff()
    }

    /// The reference version, for an event of the reference stream.
    pub fn reference_version(&self) -> Result<ReferenceVersionPublished, serde_json::Error> {
        serde_json::from_value(self.payload.clone())
    }

    fn hash(&self) -> Option<&str> {
        self.metadata.get(HASH_KEY).and_then(Value::as_str)
    }

    /// The event in today's shape (older versions are upcast, events::upcast).
    pub fn decode(&self) -> Result<AgreementEvent, serde_json::Error> {
        events::upcast::decode(&self.event_type, &self.event_version, self.payload.clone())
    }
}

/// A line of an export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ExportLine {
    Header(ExportHeader),
    Event(ExportedEvent),
    Usage(ExportedUsage),
    EsfDocument(ExportedEsfDocument),
    Digest(ExportDigest),
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("line {line}: {message}")]
    Format { line: u64, message: String },
    #[error("the export does not verify, nothing was imported: {0}")]
    NotVerified(String),
    #[error("the store already holds {0} events: import loads an export into an empty store only")]
    StoreNotEmpty(i64),
    #[error("the store already holds {0} usage records: import loads an export into an empty store only")]
    UsageNotEmpty(i64),
}

/// What to export.
#[derive(Debug, Clone, Default)]
pub struct ExportSelection {
    pub participant: Option<ParticipantId>,
    /// Only events whose business date (the running maximum, as the projections date
    /// them) is on or before this day. Usage records have positions, not business
    /// dates: with a cut, only those up to the highest position the exported usage
    /// invoices counted through (every record they counted; none when they are none).
    pub as_of: Option<Date>,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    pub events: u64,
    pub streams: u64,
    pub root: String,
    /// Usage records written (BILLING.md 3).
    pub usage_records: u64,
    /// ESF documents produced, written (BILLING.md 6).
    pub esf_documents: u64,
}

pub(super) fn rfc3339(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

pub(super) fn write_line(out: &mut impl Write, line: &ExportLine) -> Result<(), ExportError> {
    serde_json::to_writer(&mut *out, line).map_err(std::io::Error::from)?;
    out.write_all(b"\n")?;
    Ok(())
}
