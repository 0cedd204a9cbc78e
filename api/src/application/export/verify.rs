//! Reading an export and verifying it with no database.

use super::usage::{SectionHasher, UsageRecount};
use super::*;

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

    pub(super) fn format_error(&self, message: impl Into<String>) -> ExportError {
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
            Some(ExportLine::Header(header))
                if [EXPORT_FORMAT, EXPORT_FORMAT_2, EXPORT_FORMAT_1]
                    .contains(&header.format.as_str()) =>
            {
                Ok(header)
            }
            Some(ExportLine::Header(header)) => Err(self.format_error(format!(
                "format `{}`, this program reads `{EXPORT_FORMAT}`, `{EXPORT_FORMAT_2}` and `{EXPORT_FORMAT_1}`",
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
    /// The digest the export ends with (of its chains).
    pub digest: Option<StoreDigest>,
    pub kept_digest: Option<KeptDigestCheck>,
    /// Usage records read (BILLING.md 3; none in format 1).
    pub usage_records_checked: u64,
    /// ESF documents produced, read (BILLING.md 6; none before format 3).
    pub esf_documents_checked: u64,
    /// Usage invoices recounted from the export's usage records (none in format 1,
    /// which has no usage records).
    pub usage_invoices_checked: u64,
    /// The usage invoices whose records, recounted from the export, differ from what
    /// they recorded (count or digest), with what differs: as `verify` on the store
    /// reports them.
    pub usage_differing: Vec<String>,
}

pub(super) fn broken(participant_id: &str, sequence: i64, what: impl Into<String>) -> BrokenEvent {
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
                verifier.usage_digest = found.usage;
                verifier.esf_digest = found.esf;
                verifier.digest = Some(found.chains);
            }
            ExportLine::Usage(record) => verifier.push_usage(record),
            ExportLine::EsfDocument(document) => verifier.push_esf(document),
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
pub(super) struct ExportVerifier<'k> {
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
    /// What the digest line records of the usage section.
    usage_digest: Option<SectionDigest>,
    /// The usage section as read, and the usage invoices recounted from it.
    usage: SectionHasher,
    recount: UsageRecount,
    last_usage_position: Option<i64>,
    /// What the digest line records of the ESF section, the section as read, and the
    /// key of its last line.
    esf_digest: Option<SectionDigest>,
    esf: SectionHasher,
    last_esf: Option<(String, i64)>,
    /// The invoices and credit notes exported, which the ESF lines must name.
    documents: HashMap<(String, i64), super::esf::DocumentFacts>,
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
            usage_digest: None,
            usage: SectionHasher::default(),
            recount: UsageRecount::default(),
            last_usage_position: None,
            esf_digest: None,
            esf: SectionHasher::default(),
            last_esf: None,
            documents: HashMap::new(),
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
        if self.last_usage_position.is_some() || self.last_esf.is_some() {
            self.note(broken(
                &event.aggregate_id,
                event.sequence,
                "an event after the usage records or the ESF documents: events were moved or appended",
            ));
        }
        self.events += 1;
        if self.header.has_esf() {
            if let Some((key, facts)) = super::esf::document_of(&event) {
                self.documents.insert(key, facts);
            }
        }
        if self.header.has_usage() {
            if let Err(what) = self.recount.push_event(&event) {
                self.note(broken(&event.aggregate_id, event.sequence, what));
            }
        }
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
        // The reference stream is `kz-reference` of type `ReferenceData`, the period
        // stream `periods` of type `LedgerPeriods`, the tariff stream `tariffs` of type
        // `TariffCatalog`, every other stream an agreement: a relabelled type would vanish
        // from the store's checks.
        let expected_type = if event.aggregate_id == events::REFERENCE_STREAM_ID {
            REFERENCE_AGGREGATE_TYPE
        } else if event.aggregate_id == events::PERIOD_STREAM_ID {
            events::PERIOD_AGGREGATE_TYPE
        } else if event.aggregate_id == events::TARIFF_STREAM_ID {
            events::TARIFF_AGGREGATE_TYPE
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
        if !event.is_operator()
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

    /// A usage line: in place, of the selected participant, in position order, readable;
    /// hashed for the digest's check and given to the usage invoices that counted it.
    fn push_usage(&mut self, record: ExportedUsage) {
        let position = record.position;
        let problem = if self.digest.is_some() {
            Some("a usage record after the export's digest: it was appended later".to_owned())
        } else if self.last_esf.is_some() {
            Some(
                "a usage record after the ESF documents: usage records were moved or appended"
                    .to_owned(),
            )
        } else if !self.header.has_usage() {
            Some(format!(
                "a usage record in an export of format `{EXPORT_FORMAT_1}`, which has none"
            ))
        } else if self
            .header
            .participant
            .as_deref()
            .is_some_and(|p| p != record.participant_id)
        {
            Some("a usage record of another participant than the export's header names".to_owned())
        } else if let Some(last) = self.last_usage_position.filter(|last| position <= *last) {
            Some(format!(
                "usage record `{}` at position {position} follows position {last}: usage records were moved, repeated or inserted",
                record.id
            ))
        } else {
            None
        };
        if let Some(what) = problem {
            self.note(broken(&record.participant_id, 0, what));
            return;
        }
        self.last_usage_position = Some(position);
        self.usage.push(&record);
        match record.metered() {
            Ok(metered) => self.recount.push_record(&record.participant_id, &metered),
            Err(what) => self.note(broken(
                &record.participant_id,
                0,
                format!("usage record `{}` cannot be read: {what}", record.id),
            )),
        }
    }

    /// An ESF line (format 3 on): in place, of the selected participant, by participant
    /// and number; hashed for the digest's check.
    fn push_esf(&mut self, document: ExportedEsfDocument) {
        let problem = if self.digest.is_some() {
            Some("an ESF document after the export's digest: it was appended later".to_owned())
        } else if !self.header.has_esf() {
            Some(format!(
                "an ESF document in an export of format `{}`, which has none",
                self.header.format
            ))
        } else if self
            .header
            .participant
            .as_deref()
            .is_some_and(|p| p != document.participant_id)
        {
            Some("an ESF document of another participant than the export's header names".to_owned())
        } else if let Some(last) = self
            .last_esf
            .as_ref()
            .filter(|last| document.key() <= (last.0.as_str(), last.1))
        {
            Some(format!(
                "ESF document {} follows {}/{}: the ESF documents were moved, repeated or inserted",
                document.number, last.0, last.1
            ))
        } else if document.produced_on().is_none() {
            Some(format!(
                "ESF document {}: `{}` is not an RFC 3339 time",
                document.number, document.produced_at
            ))
        } else if let Some(as_of) = self
            .header
            .as_of
            .as_deref()
            .and_then(|d| events::business_date::parse(d).ok())
            .filter(|as_of| document.produced_on().is_some_and(|on| on > *as_of))
        {
            Some(format!(
                "ESF document {} was produced after the export's as_of {as_of}",
                document.number
            ))
        } else if !self
            .documents
            .get(&(document.participant_id.clone(), document.number))
            .is_some_and(|facts| document.matches(facts))
        {
            Some(format!(
                "ESF document {} names no exported invoice or credit note of that type, issue date and turnover date",
                document.number
            ))
        } else {
            None
        };
        if let Some(what) = problem {
            self.note(broken(&document.participant_id, 0, what));
            return;
        }
        self.last_esf = Some((document.participant_id.clone(), document.number));
        self.esf.push(&document);
    }

    /// A section of lines (`section` "usage", of `what` "usage records") against the
    /// count and hash the digest line records of it (`since`: the format that records
    /// them).
    fn check_section(
        &mut self,
        (section, what): (&str, &str),
        since: &str,
        recorded: Option<SectionDigest>,
        found: &SectionDigest,
    ) {
        if self.digest.is_none() {
            return; // reported already: truncated
        }
        match recorded {
            None => self.note(broken(
                "",
                0,
                format!("the export's digest records no {section} section ({since} records its count and hash): the digest was altered"),
            )),
            Some(recorded) if recorded != *found => self.note(broken(
                "",
                0,
                format!(
                    "the export's digest records {} {what} (SHA-256 {}), the file holds {} (SHA-256 {}): {what} were removed, added, altered or truncated",
                    recorded.records, recorded.sha256, found.records, found.sha256
                ),
            )),
            Some(_) => {}
        }
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
        // The usage section (format 2 on): as the digest line records it, and every
        // usage invoice recounted from it.
        let usage_records_checked = self.usage.records();
        let (usage_invoices_checked, usage_differing) = if self.header.has_usage() {
            let found = std::mem::take(&mut self.usage).finish();
            let recorded = self.usage_digest.take();
            self.check_section(("usage", "usage records"), "format 2", recorded, &found);
            let (checked, differing) = std::mem::take(&mut self.recount).finish();
            for (invoice, what) in &differing {
                self.note(broken(
                    &invoice.participant_id,
                    invoice.sequence,
                    what.clone(),
                ));
            }
            (
                checked,
                differing.into_iter().map(|(_, what)| what).collect(),
            )
        } else {
            (0, Vec::new())
        };
        // The ESF section (format 3 on): as the digest line records it.
        let esf_documents_checked = self.esf.records();
        if self.header.has_esf() {
            let found = std::mem::take(&mut self.esf).finish();
            let recorded = self.esf_digest.take();
            self.check_section(("ESF", "ESF documents"), "format 3", recorded, &found);
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
            esf_documents_checked,
            usage_records_checked,
            usage_invoices_checked,
            usage_differing,
        }
    }
}

// ---------------------------------------------------------------------------------------
