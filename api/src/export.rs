//! Exports for auditors (issue 5): the events as JSON Lines with their hashes and a
//! digest, verified and replayed with no database, and loaded into an empty store.
//!
//! An export is one JSON object per line (docs/audit.md has the full format):
//! 1. `{"kind":"header","format":"edoc-ledger-export/1",...}`: when, what was selected
//!    (one participant, events up to a business date) and the versions of the reference
//!    tables in use;
//! 2. `{"kind":"event",...}` for each event, by participant and sequence, exactly as
//!    stored (payload, metadata with `hash` and `prev_hash`, global position, row time);
//! 3. `{"kind":"digest",...}`: the Merkle root over the heads of the exported chains
//!    (`api::audit::StoreDigest`), so a truncated file fails verification.
//!
//! Verification ([`verify_export`]) and the offline recomputation ([`recompute`]) read
//! the file alone; the figures come from the same projection code the API answers with.

use std::collections::HashMap;
use std::io::{BufRead, Write};

use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row;
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
use crate::store::{Backend, LedgerEventRepository, StoreError, LEDGERS_TABLE};

/// The format written in every export's header; a reader refuses any other.
pub const EXPORT_FORMAT: &str = "edoc-ledger-export/1";
/// The aggregate type of every agreement's events.
pub const AGGREGATE_TYPE: &str = "ParticipantAgreement";
/// Events inserted per statement by [`import`].
const IMPORT_BATCH: usize = 2_000;
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

fn agreement_type() -> String {
    AGGREGATE_TYPE.to_owned()
}

impl ExportedEvent {
    /// True for an event of the reference stream (a published table version).
    pub fn is_reference(&self) -> bool {
        self.aggregate_type == REFERENCE_AGGREGATE_TYPE
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
    Digest(StoreDigest),
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
}

/// What to export.
#[derive(Debug, Clone, Default)]
pub struct ExportSelection {
    pub participant: Option<ParticipantId>,
    /// Only events whose business date (the running maximum, as the projections date
    /// them) is on or before this day.
    pub as_of: Option<Date>,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    pub events: u64,
    pub streams: u64,
    pub root: String,
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn write_line(out: &mut impl Write, line: &ExportLine) -> Result<(), ExportError> {
    serde_json::to_writer(&mut *out, line).map_err(std::io::Error::from)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// Keeps the business date of one stream's events as the projections date them (the
/// running maximum), to cut a stream at `as_of`.
#[derive(Default)]
struct StreamCut {
    id: String,
    latest: Option<Date>,
    head: Option<StreamHead>,
    events: u64,
}

/// Writes the selected events and their digest to `out`. The events are read in one
/// statement, so the export is a consistent snapshot of the store.
pub async fn export(
    repository: &LedgerEventRepository,
    selection: &ExportSelection,
    reference: &ReferenceData,
    exported_at: OffsetDateTime,
    out: &mut impl Write,
    mut progress: impl FnMut(u64),
) -> Result<ExportSummary, ExportError> {
    let exported_at = rfc3339(exported_at);
    write_line(
        out,
        &ExportLine::Header(ExportHeader {
            format: EXPORT_FORMAT.to_owned(),
            exported_at: exported_at.clone(),
            participant: selection.participant.as_ref().map(|p| p.to_string()),
            as_of: selection.as_of.map(|d| d.to_string()),
            reference: ReferenceVersions::of(reference),
        }),
    )?;
    let mut heads: Vec<StreamHead> = Vec::new();
    let mut cut = StreamCut::default();
    let mut total = 0u64;
    let mut write_event = |event: ExportedEvent| -> Result<(), ExportError> {
        if event.aggregate_id != cut.id {
            if let Some(head) = cut.head.take() {
                heads.push(head);
            }
            cut = StreamCut {
                id: event.aggregate_id.clone(),
                ..StreamCut::default()
            };
        }
        // The reference stream is exported whole: the tables any figure may need.
        if let Some(as_of) = selection.as_of.filter(|_| !event.is_reference()) {
            let on = event
                .decode()
                .map_err(|e| {
                    StoreError::Corrupt(format!(
                        "event {}/{} cannot be read: {e}",
                        event.aggregate_id, event.sequence
                    ))
                })?
                .business_date();
            let latest = cut.latest.map_or(on, |latest| latest.max(on));
            cut.latest = Some(latest);
            if latest > as_of {
                return Ok(());
            }
        }
        cut.head = Some(StreamHead {
            participant_id: event.aggregate_id.clone(),
            sequence: event.sequence,
            hash: event.hash().unwrap_or_default().to_owned(),
        });
        cut.events += 1;
        total += 1;
        write_line(out, &ExportLine::Event(event))?;
        if total.is_multiple_of(1000) {
            progress(total);
        }
        Ok(())
    };
    let participant = selection.participant.as_ref().map(|p| p.to_string());
    for_each_stored_event(repository, participant.as_deref(), &mut write_event).await?;
    if let Some(head) = cut.head.take() {
        heads.push(head);
    }
    let digest = StoreDigest {
        root: merkle_root(&heads),
        streams: heads.len() as u64,
        events: total,
        taken_at: exported_at,
        heads,
    };
    write_line(out, &ExportLine::Digest(digest.clone()))?;
    out.flush()?;
    progress(total);
    Ok(ExportSummary {
        events: digest.events,
        streams: digest.streams,
        root: digest.root,
    })
}

/// Streams the agreements' events (one participant's, or all) in participant and
/// sequence order, exactly as stored.
async fn for_each_stored_event(
    repository: &LedgerEventRepository,
    participant: Option<&str>,
    visit: &mut impl FnMut(ExportedEvent) -> Result<(), ExportError>,
) -> Result<(), ExportError> {
    const COLUMNS: &str =
        "aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, global_position";
    // The agreements' events (one participant's, or all), and the whole reference stream
    // (last: its id sorts after every BIN/IIN).
    let filter = if participant.is_some() {
        "(aggregate_type = 'ParticipantAgreement' AND aggregate_id = $1) OR aggregate_type = 'ReferenceData'"
    } else {
        "(aggregate_type = 'ParticipantAgreement' AND $1 IS NULL) OR aggregate_type = 'ReferenceData'"
    };
    match repository.backend() {
        Backend::Postgres { pool, .. } => {
            let query = format!(
                "SELECT {COLUMNS}, to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS stored_at
                 FROM events WHERE {filter}
                 ORDER BY aggregate_id, sequence"
            );
            let mut rows = sqlx::query(&query).bind(participant).fetch(pool);
            while let Some(row) = rows.try_next().await.map_err(StoreError::from)? {
                visit(ExportedEvent {
                    aggregate_type: row.get("aggregate_type"),
                    aggregate_id: row.get("aggregate_id"),
                    sequence: row.get("sequence"),
                    event_type: row.get("event_type"),
                    event_version: row.get("event_version"),
                    payload: row.get("payload"),
                    metadata: row.get("metadata"),
                    global_position: row.get("global_position"),
                    stored_at: row.get("stored_at"),
                })?;
            }
        }
        Backend::Sqlite { pool, .. } => {
            let query = format!(
                "SELECT {COLUMNS}, recorded_at AS stored_at
                 FROM events WHERE {}
                 ORDER BY aggregate_id, sequence",
                filter.replace("$1", "?1")
            );
            let mut rows = sqlx::query(&query).bind(participant).fetch(pool);
            while let Some(row) = rows.try_next().await.map_err(StoreError::from)? {
                visit(ExportedEvent {
                    aggregate_type: row.get("aggregate_type"),
                    aggregate_id: row.get("aggregate_id"),
                    sequence: row.get("sequence"),
                    event_type: row.get("event_type"),
                    event_version: row.get("event_version"),
                    payload: row.get::<sqlx::types::Json<Value>, _>("payload").0,
                    metadata: row.get::<sqlx::types::Json<Value>, _>("metadata").0,
                    global_position: row.get("global_position"),
                    stored_at: row.get("stored_at"),
                })?;
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Reading an export

/// Reads an export line by line.
pub struct ExportReader<R> {
    input: R,
    line: u64,
    buffer: String,
}

impl<R: BufRead> ExportReader<R> {
    pub fn new(input: R) -> Self {
        Self {
            input,
            line: 0,
            buffer: String::new(),
        }
    }

    /// The number of the line last read (from 1).
    pub fn line(&self) -> u64 {
        self.line
    }

    fn format_error(&self, message: impl Into<String>) -> ExportError {
        ExportError::Format {
            line: self.line,
            message: message.into(),
        }
    }

    /// The next line, or `None` at the end of the file. Blank lines are skipped.
    pub fn next_line(&mut self) -> Result<Option<ExportLine>, ExportError> {
        loop {
            self.buffer.clear();
            let mut limited =
                std::io::Read::take(&mut self.input as &mut R, LINE_BYTES_MAX as u64 + 1);
            let read = limited.read_line(&mut self.buffer)?;
            if read == 0 {
                return Ok(None);
            }
            self.line += 1;
            if read > LINE_BYTES_MAX {
                return Err(
                    self.format_error(format!("longer than {LINE_BYTES_MAX} bytes: not an export"))
                );
            }
            let text = self.buffer.trim();
            if text.is_empty() {
                continue;
            }
            return serde_json::from_str(text)
                .map(Some)
                .map_err(|e| self.format_error(format!("not an export line: {e}")));
        }
    }

    /// The header, which must be the first line.
    pub fn header(&mut self) -> Result<ExportHeader, ExportError> {
        match self.next_line()? {
            Some(ExportLine::Header(header)) if header.format == EXPORT_FORMAT => Ok(header),
            Some(ExportLine::Header(header)) => Err(self.format_error(format!(
                "format `{}`, this program reads `{EXPORT_FORMAT}`",
                header.format
            ))),
            _ => Err(self.format_error("the first line of an export is its header")),
        }
    }
}

/// What checking a kept digest against an export found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KeptDigestCheck {
    /// Heads of the kept digest found in the export with the same hash.
    pub heads_matched: u64,
    /// Heads a partial export does not cover (another participant, or after its
    /// `as_of`). A complete export must cover every head.
    pub heads_not_covered: u64,
}

/// The result of verifying an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportVerification {
    pub header: ExportHeader,
    pub events_checked: u64,
    pub streams_checked: u64,
    pub ok: bool,
    pub first_broken: Option<BrokenEvent>,
    /// The digest the export ends with.
    pub digest: Option<StoreDigest>,
    pub kept_digest: Option<KeptDigestCheck>,
}

fn broken(participant_id: &str, sequence: i64, what: impl Into<String>) -> BrokenEvent {
    BrokenEvent {
        participant_id: participant_id.to_owned(),
        sequence,
        what: what.into(),
    }
}

type ChainLink = (i64, String, String, Value, Value);
/// A kept digest's heads by participant, each with whether the export held it.
type KeptHeads<'k> = HashMap<&'k str, (&'k StreamHead, bool)>;

/// Verifies an export with no database: every chain recomputed, each agreement's events
/// together and agreements in order, the closing digest matching the chains' heads and
/// its own root, nothing after it; and, given a digest kept earlier, every head it
/// recorded present in the export with the same hash (a partial export is checked on the
/// heads it covers). `progress` sees the events checked.
pub fn verify_export(
    input: impl BufRead,
    kept: Option<&StoreDigest>,
    mut progress: impl FnMut(u64),
) -> Result<ExportVerification, ExportError> {
    let mut reader = ExportReader::new(input);
    let header = reader.header()?;
    let mut verifier = ExportVerifier::new(header, kept);
    while let Some(line) = reader.next_line()? {
        match line {
            ExportLine::Header(_) => return Err(reader.format_error("a second header")),
            ExportLine::Digest(found) => {
                if verifier.digest.is_some() {
                    return Err(reader.format_error("a second digest"));
                }
                verifier.digest = Some(found);
            }
            ExportLine::Event(event) => {
                verifier.push(event);
                if verifier.events.is_multiple_of(1000) {
                    progress(verifier.events);
                }
            }
        }
    }
    progress(verifier.events);
    Ok(verifier.finish())
}

/// The state of [`verify_export`] between lines.
struct ExportVerifier<'k> {
    header: ExportHeader,
    events: u64,
    streams: u64,
    stream_id: Option<String>,
    stream: Vec<ChainLink>,
    heads: Vec<StreamHead>,
    digest: Option<StoreDigest>,
    first_broken: Option<BrokenEvent>,
    /// The kept digest's heads by participant, and whether each was seen.
    kept: Option<(&'k StoreDigest, KeptHeads<'k>)>,
    kept_matched: u64,
}

impl<'k> ExportVerifier<'k> {
    fn new(header: ExportHeader, kept: Option<&'k StoreDigest>) -> Self {
        Self {
            header,
            events: 0,
            streams: 0,
            stream_id: None,
            stream: Vec::new(),
            heads: Vec::new(),
            digest: None,
            first_broken: None,
            kept: kept.map(|digest| {
                let heads = digest
                    .heads
                    .iter()
                    .map(|head| (head.participant_id.as_str(), (head, false)))
                    .collect();
                (digest, heads)
            }),
            kept_matched: 0,
        }
    }

    fn note(&mut self, found: BrokenEvent) {
        if self.first_broken.is_none() {
            self.first_broken = Some(found);
        }
    }

    fn push(&mut self, event: ExportedEvent) {
        if self.digest.is_some() {
            self.note(broken(
                &event.aggregate_id,
                event.sequence,
                "an event after the export's digest: it was appended later",
            ));
            return;
        }
        self.events += 1;
        if self.stream_id.as_deref() != Some(event.aggregate_id.as_str()) {
            if let Some(previous) = self.stream_id.take() {
                self.close_stream(&previous);
                if event.aggregate_id <= previous {
                    self.note(broken(
                        &event.aggregate_id,
                        event.sequence,
                        format!("the agreement's events are out of order or split (it follows {previous}): events were moved or inserted"),
                    ));
                }
            }
            self.streams += 1;
            self.stream_id = Some(event.aggregate_id.clone());
        }
        // The reference stream is `kz-reference` of type `ReferenceData`, every other
        // stream an agreement: a relabelled type would vanish from the store's checks.
        let expected_type = if event.aggregate_id == events::REFERENCE_STREAM_ID {
            REFERENCE_AGGREGATE_TYPE
        } else {
            AGGREGATE_TYPE
        };
        if event.aggregate_type != expected_type {
            self.note(broken(
                &event.aggregate_id,
                event.sequence,
                format!(
                    "aggregate type {} where {expected_type} was expected",
                    event.aggregate_type
                ),
            ));
        }
        // A partial export carries one participant's events and the whole reference
        // stream.
        if !event.is_reference()
            && self
                .header
                .participant
                .as_deref()
                .is_some_and(|p| p != event.aggregate_id)
        {
            self.note(broken(
                &event.aggregate_id,
                event.sequence,
                "an event of another participant than the export's header names",
            ));
        }
        let mut mismatch = None;
        if let Some((_, heads)) = &mut self.kept {
            if let Some((head, seen)) = heads.get_mut(event.aggregate_id.as_str()) {
                if head.sequence == event.sequence {
                    *seen = true;
                    if event.hash() == Some(head.hash.as_str()) {
                        self.kept_matched += 1;
                    } else {
                        mismatch = Some(broken(
                            &event.aggregate_id,
                            event.sequence,
                            format!(
                                "the kept digest recorded hash {} here, the export has {}",
                                head.hash,
                                event.hash().unwrap_or("none")
                            ),
                        ));
                    }
                }
            }
        }
        if let Some(found) = mismatch {
            self.note(found);
        }
        self.stream.push((
            event.sequence,
            event.event_type,
            event.event_version,
            event.payload,
            event.metadata,
        ));
    }

    fn close_stream(&mut self, id: &str) {
        if let Err(found) = verify_stream(id, &self.stream) {
            self.note(found);
        }
        if let Some((sequence, _, _, _, metadata)) = self.stream.last() {
            self.heads.push(StreamHead {
                participant_id: id.to_owned(),
                sequence: *sequence,
                hash: metadata
                    .get(HASH_KEY)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            });
        }
        self.stream.clear();
    }

    fn finish(mut self) -> ExportVerification {
        if let Some(previous) = self.stream_id.take() {
            self.close_stream(&previous);
        }
        match self.digest.clone() {
            None => self.note(broken(
                "",
                0,
                "the export ends without its digest: the file was truncated",
            )),
            Some(digest) => {
                if merkle_root(&digest.heads) != digest.root {
                    self.note(broken(
                        "",
                        0,
                        "the export's digest: its heads do not hash to its root (the digest was altered)",
                    ));
                } else if digest.heads != self.heads || digest.events != self.events {
                    let differing = digest
                        .heads
                        .iter()
                        .zip(self.heads.iter())
                        .find(|(recorded, found)| recorded != found)
                        .map(|(recorded, _)| recorded.clone())
                        .or_else(|| digest.heads.get(self.heads.len()).cloned())
                        .or_else(|| self.heads.get(digest.heads.len()).cloned());
                    let (id, sequence) = differing
                        .map(|h| (h.participant_id, h.sequence))
                        .unwrap_or_default();
                    let what = format!(
                        "the export's digest records {} events of {} agreements, the file holds {} events of {}: events were removed, added or truncated",
                        digest.events,
                        digest.heads.len(),
                        self.events,
                        self.heads.len()
                    );
                    self.note(broken(&id, sequence, what));
                }
            }
        }
        let kept_digest = self.kept.take().map(|(digest, heads)| {
            let mut check = KeptDigestCheck {
                heads_matched: self.kept_matched,
                heads_not_covered: 0,
            };
            if merkle_root(&digest.heads) != digest.root {
                self.note(broken(
                    "",
                    0,
                    "the kept digest's heads do not hash to its root: the digest file was altered",
                ));
            }
            let mut missing: Vec<&StreamHead> = heads
                .values()
                .filter(|(_, seen)| !seen)
                .map(|(head, _)| *head)
                .collect();
            missing.sort_by(|a, b| a.participant_id.cmp(&b.participant_id));
            for head in missing {
                let exported = self
                    .heads
                    .binary_search_by(|h| h.participant_id.as_str().cmp(&head.participant_id))
                    .ok()
                    .map(|index| self.heads[index].sequence);
                let covered = match (&self.header.participant, &self.header.as_of) {
                    (None, None) => true,
                    (Some(p), _) if *p != head.participant_id => false,
                    (_, Some(_)) => exported.is_some_and(|s| s >= head.sequence),
                    (Some(_), None) => true,
                };
                if covered {
                    self.note(broken(
                        &head.participant_id,
                        head.sequence,
                        "the event the kept digest recorded is not in the export: the history was deleted or truncated",
                    ));
                } else {
                    check.heads_not_covered += 1;
                }
            }
            check
        });
        ExportVerification {
            ok: self.first_broken.is_none(),
            first_broken: self.first_broken,
            header: self.header,
            events_checked: self.events,
            streams_checked: self.streams,
            digest: self.digest,
            kept_digest,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Recomputing the figures offline

/// One agreement's figures as of a date, as the API answers them: the agreement, its
/// balance, invoices, penalties and its statement from registration to that date.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgreementFigures {
    pub participant_id: String,
    #[serde(with = "events::business_date")]
    pub as_of: Date,
    pub agreement: AgreementView,
    pub balance: BalanceView,
    pub invoices: Vec<InvoiceStatusView>,
    pub penalties: Vec<PenaltyView>,
    pub statement: StatementView,
}

/// What [`recompute`] went through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecomputeSummary {
    pub agreements: u64,
    /// Agreements in the export not yet registered on the date.
    pub not_registered: u64,
    pub events: u64,
}

/// The figures of one agreement's folded events, as of `as_of`; `None` when it was not
/// registered yet on that date.
pub fn figures(
    ledger: &AgreementLedger,
    as_of: Date,
    reference: &ReferenceData,
) -> Result<Option<AgreementFigures>, projections::ProjectionError> {
    let agreement = match ledger.agreement_as_of(as_of) {
        Ok(view) => view,
        Err(projections::ProjectionError::NotRegisteredAsOf(_)) => return Ok(None),
        Err(other) => return Err(other),
    };
    let registered_on = agreement.header.registered_on;
    Ok(Some(AgreementFigures {
        participant_id: agreement.header.participant_id.clone(),
        as_of,
        balance: ledger.balance(as_of, reference)?,
        invoices: ledger.invoices(as_of, reference)?,
        penalties: ledger.penalties(as_of, reference)?,
        statement: ledger.statement(registered_on, as_of)?,
        agreement,
    }))
}

/// The reference tables an export carries: the fold of its reference stream (the
/// versions in force when it was taken), or `None` for an export written before the
/// reference stream existed. Reads the whole file; checks nothing else.
pub fn reference_of_export(input: impl BufRead) -> Result<Option<ReferenceData>, ExportError> {
    let mut reader = ExportReader::new(input);
    reader.header()?;
    let mut versions = Vec::new();
    while let Some(line) = reader.next_line()? {
        let ExportLine::Event(event) = line else {
            continue;
        };
        if event.is_reference() {
            versions.push(event.reference_version().map_err(|e| {
                reader.format_error(format!("a reference event cannot be read: {e}"))
            })?);
        }
    }
    if versions.is_empty() {
        return Ok(None);
    }
    Ok(Some(ReferenceData::from_recorded(&versions)))
}

/// Folds each agreement's events from a (verified) export and hands its figures as of
/// `as_of` to `visit`, one agreement at a time: memory holds one agreement. With
/// `participant`, only that agreement's.
pub fn recompute(
    input: impl BufRead,
    as_of: Date,
    participant: Option<&str>,
    reference: &ReferenceData,
    mut visit: impl FnMut(AgreementFigures) -> Result<(), ExportError>,
) -> Result<RecomputeSummary, ExportError> {
    let mut reader = ExportReader::new(input);
    reader.header()?;
    let mut summary = RecomputeSummary::default();
    let mut current: Option<(String, AgreementLedger)> = None;
    let mut finish = |current: Option<(String, AgreementLedger)>,
                      summary: &mut RecomputeSummary|
     -> Result<(), ExportError> {
        let Some((id, ledger)) = current else {
            return Ok(());
        };
        match figures(&ledger, as_of, reference).map_err(|e| ExportError::Format {
            line: 0,
            message: format!("{id}: {e}"),
        })? {
            Some(found) => {
                summary.agreements += 1;
                visit(found)
            }
            None => {
                summary.not_registered += 1;
                Ok(())
            }
        }
    };
    while let Some(line) = reader.next_line()? {
        let ExportLine::Event(event) = line else {
            continue;
        };
        if event.is_reference() || participant.is_some_and(|p| p != event.aggregate_id) {
            continue;
        }
        let decoded = event
            .decode()
            .map_err(|e| reader.format_error(format!("the event cannot be read: {e}")))?;
        if current.as_ref().map(|(id, _)| id) != Some(&event.aggregate_id) {
            finish(current.take(), &mut summary)?;
            current = Some((event.aggregate_id.clone(), AgreementLedger::default()));
        }
        let sequence = u64::try_from(event.sequence)
            .map_err(|_| reader.format_error("a negative sequence"))?;
        if let Some((_, ledger)) = current.as_mut() {
            ledger.apply(sequence, &decoded);
        }
        summary.events += 1;
    }
    finish(current.take(), &mut summary)?;
    Ok(summary)
}

// ---------------------------------------------------------------------------------------
// Importing

/// What [`import`] loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    pub events: u64,
    pub agreements: u64,
    pub invoice_numbers: u64,
    /// The root of the export's own digest.
    pub export_root: String,
    /// The root of the store's digest after the import: equal to `export_root`.
    pub store_root: String,
}

/// Loads an export into an empty store: verifies the file first (nothing is written
/// when it does not verify), then inserts its events exactly as exported (payload,
/// metadata and hashes, global positions, row times) and the invoice numbers they took in
/// one transaction, builds the stored projections and takes the store's digest, whose
/// root equals the export's. `open` opens the file afresh for each pass.
pub async fn import<R: BufRead>(
    repository: &LedgerEventRepository,
    mut open: impl FnMut() -> std::io::Result<R>,
    mut progress: impl FnMut(&str, u64),
) -> Result<ImportSummary, ExportError> {
    let verification = verify_export(open()?, None, |done| progress("verifying", done))?;
    if let Some(found) = &verification.first_broken {
        return Err(ExportError::NotVerified(format!(
            "{} sequence {}: {}",
            found.participant_id, found.sequence, found.what
        )));
    }
    let export_root = verification
        .digest
        .as_ref()
        .map(|d| d.root.clone())
        .unwrap_or_default();
    let existing = repository.count_events().await?;
    if existing > 0 {
        return Err(ExportError::StoreNotEmpty(existing));
    }
    let mut reader = ExportReader::new(open()?);
    reader.header()?;
    let mut loader = Loader::begin(repository).await?;
    let mut batch: Vec<ExportedEvent> = Vec::with_capacity(IMPORT_BATCH);
    let mut numbers: Vec<(i64, String, i64)> = Vec::new();
    let mut events = 0u64;
    while let Some(line) = reader.next_line()? {
        let ExportLine::Event(event) = line else {
            continue;
        };
        if event.is_reference() {
            event.reference_version().map_err(|e| {
                reader.format_error(format!("a reference event cannot be read: {e}"))
            })?;
        } else if let AgreementEvent::InvoiceIssued(issued) = event
            .decode()
            .map_err(|e| reader.format_error(format!("the event cannot be read: {e}")))?
        {
            let number = i64::try_from(issued.number.value())
                .map_err(|_| reader.format_error("an invoice number beyond i64"))?;
            numbers.push((number, event.aggregate_id.clone(), event.sequence));
        }
        batch.push(event);
        events += 1;
        if batch.len() >= IMPORT_BATCH {
            loader.insert(std::mem::take(&mut batch)).await?;
            progress("importing", events);
        }
    }
    loader.insert(batch).await?;
    let invoice_numbers = numbers.len() as u64;
    loader.finish(numbers).await?;
    progress("importing", events);
    let rebuilt = repository
        .rebuild_ledgers(LEDGERS_TABLE, |done| progress("projecting", done))
        .await?;
    let digest = crate::audit::take_digest(repository, OffsetDateTime::now_utc()).await?;
    assert_eq!(digest.events, events, "every exported event was imported");
    Ok(ImportSummary {
        events,
        agreements: rebuilt.agreements,
        invoice_numbers,
        export_root,
        store_root: digest.root,
    })
}

/// One transaction that loads exported events.
enum Loader<'r> {
    Postgres(sqlx::Transaction<'r, sqlx::Postgres>),
    Sqlite(sqlx::Transaction<'r, sqlx::Sqlite>),
}

impl<'r> Loader<'r> {
    async fn begin(repository: &'r LedgerEventRepository) -> Result<Self, StoreError> {
        Ok(match repository.backend() {
            Backend::Postgres { pool, .. } => Self::Postgres(pool.begin().await?),
            Backend::Sqlite { pool, .. } => Self::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
        })
    }

    async fn insert(&mut self, events: Vec<ExportedEvent>) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        match self {
            Self::Postgres(tx) => {
                let mut aggregate_types = Vec::with_capacity(events.len());
                let mut ids = Vec::with_capacity(events.len());
                let mut sequences = Vec::with_capacity(events.len());
                let mut types = Vec::with_capacity(events.len());
                let mut versions = Vec::with_capacity(events.len());
                let mut payloads = Vec::with_capacity(events.len());
                let mut metadata = Vec::with_capacity(events.len());
                let mut positions = Vec::with_capacity(events.len());
                let mut stored = Vec::with_capacity(events.len());
                for event in events {
                    aggregate_types.push(event.aggregate_type);
                    ids.push(event.aggregate_id);
                    sequences.push(event.sequence);
                    types.push(event.event_type);
                    versions.push(event.event_version);
                    payloads.push(event.payload);
                    metadata.push(event.metadata);
                    positions.push(event.global_position);
                    stored.push(event.stored_at);
                }
                sqlx::query(
                    "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, global_position, recorded_at)
                     OVERRIDING SYSTEM VALUE
                     SELECT a, i, s, t, v, p, m, g, r::timestamptz
                     FROM UNNEST($9::text[], $1::text[], $2::bigint[], $3::text[], $4::text[], $5::jsonb[], $6::jsonb[], $7::bigint[], $8::text[])
                       AS u(a, i, s, t, v, p, m, g, r)",
                )
                .bind(ids)
                .bind(sequences)
                .bind(types)
                .bind(versions)
                .bind(payloads)
                .bind(metadata)
                .bind(positions)
                .bind(stored)
                .bind(aggregate_types)
                .execute(&mut **tx)
                .await?;
            }
            Self::Sqlite(tx) => {
                for event in events {
                    sqlx::query(
                        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, global_position, recorded_at)
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    )
                    .bind(event.aggregate_type)
                    .bind(event.aggregate_id)
                    .bind(event.sequence)
                    .bind(event.event_type)
                    .bind(event.event_version)
                    .bind(sqlx::types::Json(event.payload))
                    .bind(sqlx::types::Json(event.metadata))
                    .bind(event.global_position)
                    .bind(event.stored_at)
                    .execute(&mut **tx)
                    .await?;
                }
            }
        }
        Ok(())
    }

    /// Records the invoice numbers taken, sets the counter to the highest, moves the
    /// global position past the highest imported, and commits.
    async fn finish(self, numbers: Vec<(i64, String, i64)>) -> Result<(), StoreError> {
        let last = numbers.iter().map(|(n, _, _)| *n).max().unwrap_or(0);
        match self {
            Self::Postgres(mut tx) => {
                let (n, ids, sequences): (Vec<i64>, Vec<String>, Vec<i64>) = numbers
                    .into_iter()
                    .fold((vec![], vec![], vec![]), |(mut n, mut i, mut s), row| {
                        n.push(row.0);
                        i.push(row.1);
                        s.push(row.2);
                        (n, i, s)
                    });
                sqlx::query(
                    "INSERT INTO invoice_numbers (number, aggregate_id, sequence)
                     SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::bigint[])",
                )
                .bind(n)
                .bind(ids)
                .bind(sequences)
                .execute(&mut *tx)
                .await?;
                sqlx::query("UPDATE invoice_counter SET last_number = $1 WHERE id = 1")
                    .bind(last)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "SELECT setval(pg_get_serial_sequence('events', 'global_position'),
                                   (SELECT COALESCE(MAX(global_position), 0) + 1 FROM events), false)",
                )
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
            }
            Self::Sqlite(mut tx) => {
                for (number, id, sequence) in numbers {
                    sqlx::query(
                        "INSERT INTO invoice_numbers (number, aggregate_id, sequence) VALUES (?, ?, ?)",
                    )
                    .bind(number)
                    .bind(id)
                    .bind(sequence)
                    .execute(&mut *tx)
                    .await?;
                }
                sqlx::query("UPDATE invoice_counter SET last_number = ? WHERE id = 1")
                    .bind(last)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash_chain::{event_hash, GENESIS, PREV_HASH_KEY};
    use serde_json::json;

    const A: &str = "150240008272";
    const B: &str = "990140000384";

    fn header() -> ExportLine {
        ExportLine::Header(ExportHeader {
            format: EXPORT_FORMAT.to_owned(),
            exported_at: "2026-11-25T00:00:00Z".to_owned(),
            participant: None,
            as_of: None,
            reference: ReferenceVersions::of(&ReferenceData::embedded().unwrap()),
        })
    }

    /// A's registration as version 0.9 wrote it (events::upcast), then today's events.
    fn payloads(id: &str) -> Vec<(&'static str, &'static str, Value)> {
        vec![
            (
                "Registered",
                "0.9",
                json!({"Registered": {"bin_iin": id, "name": "ТОО «Ромашка»",
                    "kind": "legal_entity", "currency": "KZT", "email": "buh@example.kz",
                    "registered_on": "2026-01-05"}}),
            ),
            (
                "AgreementSigned",
                "1.0",
                json!({"AgreementSigned": {"signed_on": "2026-01-06",
                    "concluded_on": "2026-01-05", "in_force_from": "2026-01-06"}}),
            ),
            (
                "Suspended",
                "1.0",
                json!({"Suspended": {"on": "2026-03-01", "reason": "violation"}}),
            ),
        ]
    }

    /// Sealed events of each agreement, as the ledger chains them.
    fn sealed(ids: &[&str]) -> Vec<ExportedEvent> {
        let mut events = Vec::new();
        let mut position = 0;
        for id in ids {
            let mut prev = GENESIS.to_owned();
            for (index, (event_type, version, payload)) in payloads(id).into_iter().enumerate() {
                let sequence = index as i64 + 1;
                let mut metadata = json!({"actor": "test", "recorded_at": "2026-01-05T10:00:00Z"});
                let hash = event_hash(
                    id,
                    sequence as u64,
                    event_type,
                    version,
                    &payload,
                    &metadata,
                    &prev,
                );
                metadata[PREV_HASH_KEY] = json!(prev);
                metadata[HASH_KEY] = json!(hash);
                prev = hash;
                position += 1;
                events.push(ExportedEvent {
                    aggregate_type: AGGREGATE_TYPE.to_owned(),
                    aggregate_id: (*id).to_owned(),
                    sequence,
                    event_type: event_type.to_owned(),
                    event_version: version.to_owned(),
                    payload,
                    metadata,
                    global_position: position,
                    stored_at: "2026-01-05T10:00:00Z".to_owned(),
                });
            }
        }
        events
    }

    fn digest_of(events: &[ExportedEvent]) -> StoreDigest {
        let mut heads: Vec<StreamHead> = Vec::new();
        for event in events {
            let head = StreamHead {
                participant_id: event.aggregate_id.clone(),
                sequence: event.sequence,
                hash: event.hash().unwrap().to_owned(),
            };
            match heads.last_mut() {
                Some(last) if last.participant_id == head.participant_id => *last = head,
                _ => heads.push(head),
            }
        }
        StoreDigest {
            root: merkle_root(&heads),
            streams: heads.len() as u64,
            events: events.len() as u64,
            taken_at: "2026-11-25T00:00:00Z".to_owned(),
            heads,
        }
    }

    fn text(lines: &[ExportLine]) -> String {
        lines
            .iter()
            .map(|line| serde_json::to_string(line).unwrap() + "\n")
            .collect()
    }

    fn export_text(events: &[ExportedEvent], digest: &StoreDigest) -> Vec<ExportLine> {
        let mut lines = vec![header()];
        lines.extend(events.iter().cloned().map(ExportLine::Event));
        lines.push(ExportLine::Digest(digest.clone()));
        lines
    }

    fn verify(lines: &[ExportLine], kept: Option<&StoreDigest>) -> ExportVerification {
        verify_export(text(lines).as_bytes(), kept, |_| {}).unwrap()
    }

    fn first_broken(lines: &[ExportLine]) -> BrokenEvent {
        let report = verify(lines, None);
        assert!(!report.ok);
        report.first_broken.unwrap()
    }

    #[test]
    fn a_clean_export_verifies() {
        let events = sealed(&[A, B]);
        let report = verify(&export_text(&events, &digest_of(&events)), None);
        assert!(report.ok, "{report:?}");
        assert_eq!((report.events_checked, report.streams_checked), (6, 2));
    }

    #[test]
    fn each_alteration_of_the_file_is_found_at_its_first_broken_event() {
        let events = sealed(&[A, B]);
        let digest = digest_of(&events);

        let mut altered = events.clone();
        altered[1].payload["AgreementSigned"]["signed_on"] = json!("2026-01-07");
        let found = first_broken(&export_text(&altered, &digest));
        assert_eq!((found.participant_id.as_str(), found.sequence), (A, 2));
        assert!(found.what.contains("altered"), "{}", found.what);

        let mut altered = events.clone();
        altered[4].metadata["actor"] = json!("someone else");
        let found = first_broken(&export_text(&altered, &digest));
        assert_eq!((found.participant_id.as_str(), found.sequence), (B, 2));

        let mut removed = events.clone();
        removed.remove(1);
        let found = first_broken(&export_text(&removed, &digest));
        assert_eq!((found.participant_id.as_str(), found.sequence), (A, 3));
        assert!(found.what.contains("missing"), "{}", found.what);

        let mut swapped = events.clone();
        swapped.swap(3, 4);
        let found = first_broken(&export_text(&swapped, &digest));
        assert_eq!(found.participant_id, B);

        let mut truncated = events.clone();
        truncated.pop();
        let found = first_broken(&export_text(&truncated, &digest));
        assert_eq!((found.participant_id.as_str(), found.sequence), (B, 3));
        assert!(found.what.contains("truncated"), "{}", found.what);

        let mut moved = events.clone();
        moved.rotate_left(3); // B's events, then A's
        let found = first_broken(&export_text(&moved, &digest));
        assert!(found.what.contains("out of order"), "{}", found.what);

        let mut no_digest = export_text(&events, &digest);
        no_digest.pop();
        assert!(first_broken(&no_digest).what.contains("without its digest"));

        let mut appended = export_text(&events, &digest);
        appended.push(ExportLine::Event(events[0].clone()));
        assert!(first_broken(&appended)
            .what
            .contains("after the export's digest"));

        let mut forged = digest.clone();
        forged.heads[0].sequence = 2;
        assert!(first_broken(&export_text(&events, &forged))
            .what
            .contains("root"));
    }

    #[test]
    fn a_kept_digest_still_verifies_a_later_export_and_catches_an_altered_past() {
        let earlier = sealed(&[A]);
        let kept = digest_of(&earlier[..2]);
        let later = sealed(&[A, B]);
        let report = verify(&export_text(&later, &digest_of(&later)), Some(&kept));
        assert!(report.ok, "{report:?}");
        assert_eq!(report.kept_digest.unwrap().heads_matched, 1);

        // The past rewritten and re-chained consistently: only the kept digest knows.
        let mut rewritten = later.clone();
        let mut prev = GENESIS.to_owned();
        rewritten[1].payload["AgreementSigned"]["signed_on"] = json!("2026-01-07");
        for event in rewritten.iter_mut().take(3) {
            let hash = event_hash(
                &event.aggregate_id,
                event.sequence as u64,
                &event.event_type,
                &event.event_version,
                &event.payload,
                &event.metadata,
                &prev,
            );
            event.metadata[PREV_HASH_KEY] = json!(prev);
            event.metadata[HASH_KEY] = json!(hash);
            prev = hash;
        }
        let report = verify(
            &export_text(&rewritten, &digest_of(&rewritten)),
            Some(&kept),
        );
        assert!(!report.ok);
        let found = report.first_broken.unwrap();
        assert_eq!((found.participant_id.as_str(), found.sequence), (A, 2));
        assert!(found.what.contains("kept digest"), "{}", found.what);

        // A complete export without an agreement the kept digest knows.
        let only_b = sealed(&[B]);
        let report = verify(&export_text(&only_b, &digest_of(&only_b)), Some(&kept));
        assert!(!report.ok);
        assert_eq!(report.first_broken.unwrap().participant_id, A);
    }

    #[test]
    fn figures_are_recomputed_from_the_file_through_the_upcaster() {
        let events = sealed(&[A, B]);
        let input = text(&export_text(&events, &digest_of(&events)));
        let reference = ReferenceData::embedded().unwrap();
        let mut seen = Vec::new();
        let summary = recompute(
            input.as_bytes(),
            time::macros::date!(2026 - 03 - 31),
            Some(B),
            &reference,
            |figures| {
                seen.push(figures);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(summary.agreements, 1);
        assert_eq!(seen[0].participant_id, B);
        assert!(seen[0].agreement.header.resident, "0.9 knew only residents");
        assert_eq!(
            seen[0].agreement.header.status,
            aggregates::AgreementStatus::Suspended
        );
        let before = recompute(
            input.as_bytes(),
            time::macros::date!(2026 - 01 - 04),
            None,
            &reference,
            |_| Ok(()),
        )
        .unwrap();
        assert_eq!((before.agreements, before.not_registered), (0, 2));
    }
}
