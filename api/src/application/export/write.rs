//! Writing an export: the header, the events as stored, the usage records as stored,
//! the ESF documents produced as logged, the closing digest.

use super::usage::{CountedThrough, SectionHasher};
use super::*;

/// Keeps the business date of one stream's events as the projections date them (the
/// running maximum), to cut a stream at `as_of`.
#[derive(Default)]
pub(super) struct StreamCut {
    id: String,
    latest: Option<Date>,
    head: Option<StreamHead>,
    events: u64,
}

/// Writes the selected events, the usage records and their digest to `out`. The events
/// are read in one statement, so they are a consistent snapshot of the store; the usage
/// records are read after them, in another: every record an exported usage invoice
/// counted is committed before that invoice was recorded, so it is there (records
/// committed in between are exported too, unless the export is cut at a date).
///
/// Which usage records: the selected participant's (or all), in position order; with
/// a cut at a business date, those up to the highest position the exported usage
/// invoices counted through (usage records are facts with positions, not business
/// dates: this is every record those invoices counted, as the store held them when the
/// latest of them was recorded).
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
    let mut counted_through = CountedThrough::default();
    // The invoices and credit notes exported: the ESF lines are theirs only (one
    // produced while the export ran, after the events were read, is left out).
    let mut exported_documents: std::collections::HashSet<(String, i64)> =
        std::collections::HashSet::new();
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
        // The operator's streams are exported whole: the tables any figure may need, and
        // the seals of the closed months.
        if let Some(as_of) = selection.as_of.filter(|_| !event.is_operator()) {
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
        counted_through.push(&event);
        if let Some((key, _)) = super::esf::document_of(&event) {
            exported_documents.insert(key);
        }
        write_line(out, &ExportLine::Event(event))?;
        if total.is_multiple_of(1000) {
            progress(total);
        }
        Ok(())
    };
    // The agreements' events (one participant's, or all), and the whole reference stream.
    let participant = selection.participant.as_ref().map(|p| p.to_string());
    repository
        .for_each_event(participant.as_deref(), |row| {
            write_event(ExportedEvent::from(row))
        })
        .await?;
    if let Some(head) = cut.head.take() {
        heads.push(head);
    }
    // The usage records (BILLING.md 3), after the events.
    let mut usage = SectionHasher::default();
    let through = selection.as_of.map(|_| counted_through.bound());
    repository
        .for_each_usage_record(participant.as_deref(), through, |row| {
            let record = ExportedUsage::from(row);
            usage.push(&record);
            write_line(out, &ExportLine::Usage(record))
        })
        .await?;
    // The ESF documents produced (BILLING.md 6), by participant and number: the selected
    // participant's, and with a cut at a business date those produced by its end; each
    // of an exported invoice or credit note.
    let mut esf = SectionHasher::default();
    for row in repository.esf_produced().await? {
        let document = ExportedEsfDocument::from(row);
        if participant
            .as_deref()
            .is_some_and(|p| p != document.participant_id)
        {
            continue;
        }
        if let Some(as_of) = selection.as_of {
            if document.produced_on().is_none_or(|on| on > as_of) {
                continue;
            }
        }
        if !exported_documents.contains(&(document.participant_id.clone(), document.number)) {
            continue;
        }
        esf.push(&document);
        write_line(out, &ExportLine::EsfDocument(document))?;
    }
    let esf_documents = esf.records();
    let digest = ExportDigest {
        chains: StoreDigest {
            root: merkle_root(&heads),
            streams: heads.len() as u64,
            events: total,
            taken_at: exported_at,
            heads,
        },
        usage: Some(usage.finish()),
        esf: Some(esf.finish()),
    };
    write_line(out, &ExportLine::Digest(digest.clone()))?;
    out.flush()?;
    progress(total);
    Ok(ExportSummary {
        events: digest.chains.events,
        streams: digest.chains.streams,
        root: digest.chains.root,
        usage_records: digest.usage.map_or(0, |u| u.records),
        esf_documents,
    })
}
