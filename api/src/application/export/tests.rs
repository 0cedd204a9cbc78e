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
    sealed_of(ids, payloads)
}

/// [`payloads`] and an invoice: number 1 for A, 2 for B (February 2026's subscription).
fn invoiced(id: &str) -> Vec<(&'static str, &'static str, Value)> {
    let number = if id == A { 1 } else { 2 };
    let money = |amount: &str| json!({"amount": amount, "currency": "KZT"});
    let mut events = payloads(id);
    events.insert(
        2,
        (
            "InvoiceIssued",
            events::EVENT_VERSION,
            json!({"InvoiceIssued": {
                "number": number,
                "kind": "subscription",
                "issued_on": "2026-02-02",
                "due_on": "2026-02-09",
                "due_rule": {"days": 5, "day_kind": "banking", "clause": "5.4", "calendar_version": "kz-calendar-2026-1"},
                "period": {"from": "2026-02-01", "to": "2026-02-28"},
                "turnover_on": "2026-02-28",
                "lines": [{"description": "E-DOC", "quantity": "1", "unit_price": money("10000.00"), "amount": money("10000.00")}],
                "net": money("10000.00"),
                "vat": {"rate": "0.16", "rate_effective_from": "2026-01-01", "amount": money("1600.00"), "table_version": "kz-vat-1"},
                "total": money("11600.00"),
                "currency": "KZT",
                "exchange_rate": null,
            }}),
        ),
    );
    events
}

fn sealed_of(
    ids: &[&str],
    payloads_of: impl Fn(&str) -> Vec<(&'static str, &'static str, Value)>,
) -> Vec<ExportedEvent> {
    let mut events = Vec::new();
    let mut position = 0;
    for id in ids {
        let mut prev = GENESIS.to_owned();
        for (index, (event_type, version, payload)) in payloads_of(id).into_iter().enumerate() {
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
    with_usage(events, digest, &[])
}

/// An export: the events, the usage records, no ESF document, the digest with the
/// sections' counts and hashes.
fn with_usage(
    events: &[ExportedEvent],
    digest: &StoreDigest,
    records: &[ExportedUsage],
) -> Vec<ExportLine> {
    with_sections(events, digest, records, &[])
}

/// An export of format 3: the events, the usage records, the ESF documents produced, the
/// digest with the sections' counts and hashes.
fn with_sections(
    events: &[ExportedEvent],
    digest: &StoreDigest,
    records: &[ExportedUsage],
    documents: &[ExportedEsfDocument],
) -> Vec<ExportLine> {
    let mut lines = vec![header()];
    lines.extend(events.iter().cloned().map(ExportLine::Event));
    lines.extend(records.iter().cloned().map(ExportLine::Usage));
    lines.extend(documents.iter().cloned().map(ExportLine::EsfDocument));
    lines.push(ExportLine::Digest(ExportDigest {
        chains: digest.clone(),
        usage: Some(SectionDigest::of(records)),
        esf: Some(SectionDigest::of(documents)),
    }));
    lines
}

fn esf_document(participant: &str, number: i64, produced_at: &str) -> ExportedEsfDocument {
    ExportedEsfDocument {
        participant_id: participant.to_owned(),
        number,
        document_type: "ORDINARY_INVOICE".to_owned(),
        issued_on: "2026-02-02".to_owned(),
        turnover_date: "2026-02-28".to_owned(),
        digest: "ab".repeat(32),
        produced_at: produced_at.to_owned(),
        produced_by: "edoc-ledger esf export".to_owned(),
    }
}

/// The ESF documents of [`invoiced`]'s invoices.
fn esf_documents() -> Vec<ExportedEsfDocument> {
    vec![
        esf_document(A, 1, "2026-03-01T09:00:00.000000Z"),
        esf_document(B, 2, "2026-03-02T10:30:00.000000Z"),
    ]
}

#[test]
fn the_esf_documents_produced_are_exported_last_and_verify() {
    let events = sealed_of(&[A, B], invoiced);
    let lines = with_sections(&events, &digest_of(&events), &records(), &esf_documents());
    let text = text(&lines);
    let esf_line = text.lines().nth(1 + events.len() + 3).unwrap();
    assert_eq!(
        esf_line,
        format!(
            r#"{{"kind":"esf_document","participant_id":"150240008272","number":1,"document_type":"ORDINARY_INVOICE","issued_on":"2026-02-02","turnover_date":"2026-02-28","digest":"{}","produced_at":"2026-03-01T09:00:00.000000Z","produced_by":"edoc-ledger esf export"}}"#,
            "ab".repeat(32)
        )
    );
    let digest_line: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(digest_line["esf"]["records"], 2);
    let report = verify(&lines, None);
    assert!(report.ok, "{report:?}");
    assert_eq!(report.esf_documents_checked, 2);
}

#[test]
fn each_alteration_of_the_esf_section_is_found() {
    let events = sealed_of(&[A, B], invoiced);
    let digest = digest_of(&events);
    let clean = with_sections(&events, &digest, &records(), &esf_documents());
    let esf_at = 1 + events.len() + records().len();

    // When a document was produced, altered in the file.
    let mut altered = clean.clone();
    if let ExportLine::EsfDocument(document) = &mut altered[esf_at] {
        document.produced_at = "2026-02-27T09:00:00.000000Z".to_owned();
    }
    let found = first_broken(&altered);
    assert!(
        found
            .what
            .contains("ESF documents were removed, added, altered"),
        "{}",
        found.what
    );
    // One removed; two swapped; one after the digest; an event after them.
    let mut removed = clean.clone();
    removed.remove(esf_at + 1);
    assert!(first_broken(&removed).what.contains("holds 1"));
    let mut swapped = clean.clone();
    swapped.swap(esf_at, esf_at + 1);
    assert!(first_broken(&swapped).what.contains("follows"));
    let mut appended = clean.clone();
    appended.push(ExportLine::EsfDocument(esf_document(
        B,
        9,
        "2026-03-03T00:00:00Z",
    )));
    assert!(first_broken(&appended)
        .what
        .contains("after the export's digest"));
    let mut moved = clean.clone();
    let event = moved.remove(events.len());
    moved.insert(esf_at + 1, event);
    assert!(first_broken(&moved)
        .what
        .contains("an event after the usage records or the ESF documents"));
    // The digest's ESF count and hash removed.
    let mut stripped = clean.clone();
    if let Some(ExportLine::Digest(digest)) = stripped.last_mut() {
        digest.esf = None;
    }
    assert!(first_broken(&stripped)
        .what
        .contains("records no ESF section"));
    // A line naming no exported document, or naming one otherwise than it is.
    let mut unknown = clean.clone();
    if let ExportLine::EsfDocument(document) = &mut unknown[esf_at] {
        document.number = 3;
    }
    assert!(first_broken(&unknown)
        .what
        .contains("names no exported invoice"));
    let mut misdated = clean.clone();
    if let ExportLine::EsfDocument(document) = &mut misdated[esf_at + 1] {
        document.turnover_date = "2026-02-02".to_owned();
    }
    assert!(first_broken(&misdated)
        .what
        .contains("names no exported invoice"));
    // A line produced after the export's as_of; a usage line after the ESF lines.
    let mut cut = clean.clone();
    if let ExportLine::Header(header) = &mut cut[0] {
        header.as_of = Some("2026-03-01".to_owned());
    }
    assert!(first_broken(&cut).what.contains("after the export's as_of"));
    let mut late_usage = clean.clone();
    let usage = late_usage.remove(esf_at - 1);
    late_usage.insert(esf_at + 1, usage);
    assert!(first_broken(&late_usage)
        .what
        .contains("a usage record after the ESF documents"));
    // An ESF line in an export of format 2, which has none; format 2 without one reads.
    let mut format_2 = clean.clone();
    if let ExportLine::Header(header) = &mut format_2[0] {
        header.format = EXPORT_FORMAT_2.to_owned();
    }
    assert!(first_broken(&format_2)
        .what
        .contains("`edoc-ledger-export/2`, which has none"));
    let mut format_2 = with_usage(&events, &digest, &records());
    if let ExportLine::Header(header) = &mut format_2[0] {
        header.format = EXPORT_FORMAT_2.to_owned();
    }
    if let Some(ExportLine::Digest(digest)) = format_2.last_mut() {
        digest.esf = None;
    }
    let report = verify(&format_2, None);
    assert!(report.ok, "{report:?}");
    assert_eq!(report.esf_documents_checked, 0);
}

fn usage_record(position: i64, id: &str, participant: &str, quantity: i64) -> ExportedUsage {
    ExportedUsage {
        position,
        id: id.to_owned(),
        participant_id: participant.to_owned(),
        metric: "documents".to_owned(),
        quantity,
        occurred_on: "2026-02-10".to_owned(),
        recorded_at: "2026-02-10T10:00:00Z".to_owned(),
    }
}

fn records() -> Vec<ExportedUsage> {
    vec![
        usage_record(1, "r-1", A, 5),
        usage_record(2, "r-2", B, 7),
        usage_record(4, "r-4", A, 1),
    ]
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
fn usage_records_are_exported_after_the_events_and_verify() {
    let events = sealed(&[A, B]);
    let lines = with_usage(&events, &digest_of(&events), &records());
    let text = text(&lines);
    let usage_line = text.lines().nth(7).unwrap();
    assert_eq!(
        usage_line,
        r#"{"kind":"usage","position":1,"id":"r-1","participant_id":"150240008272","metric":"documents","quantity":5,"occurred_on":"2026-02-10","recorded_at":"2026-02-10T10:00:00Z"}"#
    );
    let digest_line: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(digest_line["kind"], "digest");
    assert_eq!(digest_line["usage"]["records"], 3);
    assert_eq!(digest_line["heads"].as_array().unwrap().len(), 2);
    let report = verify(&lines, None);
    assert!(report.ok, "{report:?}");
    assert_eq!(report.usage_records_checked, 3);
    assert_eq!(report.usage_invoices_checked, 0);
    // The usage hash is SHA-256 over each record's canonical JSON and a line feed.
    let mut expected = String::new();
    for record in records() {
        crate::hash_chain::canonical_json(&serde_json::to_value(&record).unwrap(), &mut expected);
        expected.push('\n');
    }
    assert_eq!(
        digest_line["usage"]["sha256"],
        format!(
            "{:x}",
            <sha2::Sha256 as sha2::Digest>::digest(expected.as_bytes())
        )
    );
}

#[test]
fn each_alteration_of_the_usage_section_is_found() {
    let events = sealed(&[A, B]);
    let digest = digest_of(&events);
    let clean = with_usage(&events, &digest, &records());
    let usage_at = 1 + events.len();
    let is_usage = |found: &BrokenEvent| found.what.contains("usage records");

    // A quantity altered in the file, the digest line left as written.
    let mut altered = clean.clone();
    if let ExportLine::Usage(record) = &mut altered[usage_at] {
        record.quantity = 6;
    }
    let found = first_broken(&altered);
    assert!(is_usage(&found), "{}", found.what);
    assert!(found.what.contains("altered"), "{}", found.what);

    // The last usage line removed (a truncated usage section).
    let mut truncated = clean.clone();
    truncated.remove(usage_at + 2);
    let found = first_broken(&truncated);
    assert!(
        found.what.contains("records 3 usage records") && found.what.contains("holds 2"),
        "{}",
        found.what
    );

    // Two lines swapped: out of position order.
    let mut swapped = clean.clone();
    swapped.swap(usage_at, usage_at + 1);
    assert!(first_broken(&swapped).what.contains("follows position"));

    // A usage line after the digest, an event after the usage lines.
    let mut appended = clean.clone();
    appended.push(ExportLine::Usage(usage_record(9, "r-9", A, 1)));
    assert!(first_broken(&appended)
        .what
        .contains("after the export's digest"));
    let mut moved = clean.clone();
    let event = moved.remove(usage_at - 1);
    moved.insert(usage_at + 2, event);
    assert!(first_broken(&moved)
        .what
        .contains("an event after the usage records"));

    // The digest's usage count and hash removed.
    let mut stripped = clean.clone();
    if let Some(ExportLine::Digest(digest)) = stripped.last_mut() {
        digest.usage = None;
    }
    assert!(first_broken(&stripped)
        .what
        .contains("records no usage section"));

    // A record that cannot be read, hashed consistently: named.
    let mut unreadable = records();
    unreadable[1].metric = "Documents!".to_owned();
    let found = first_broken(&with_usage(&events, &digest, &unreadable));
    assert_eq!(found.participant_id, B);
    assert!(
        found.what.contains("`r-2` cannot be read"),
        "{}",
        found.what
    );

    // One participant's export holding another's record.
    let mut partial = with_usage(&events, &digest, &records());
    if let ExportLine::Header(header) = &mut partial[0] {
        header.participant = Some(A.to_owned());
    }
    let found = first_broken(&partial);
    assert!(found.what.contains("another participant"), "{}", found.what);
}

#[test]
fn an_export_of_format_1_is_still_read_and_has_no_usage() {
    let events = sealed(&[A, B]);
    let digest = digest_of(&events);
    let mut lines = vec![ExportLine::Header(ExportHeader {
        format: EXPORT_FORMAT_1.to_owned(),
        ..match header() {
            ExportLine::Header(header) => header,
            _ => unreachable!(),
        }
    })];
    lines.extend(events.iter().cloned().map(ExportLine::Event));
    lines.push(ExportLine::Digest(ExportDigest {
        chains: digest.clone(),
        usage: None,
        esf: None,
    }));
    // As format 1 wrote it: no `usage` in the digest line.
    assert!(!text(&lines).contains("usage"));
    let report = verify(&lines, None);
    assert!(report.ok, "{report:?}");
    assert_eq!(report.usage_records_checked, 0);

    let mut with_a_record = lines.clone();
    with_a_record.insert(
        lines.len() - 1,
        ExportLine::Usage(usage_record(1, "r-1", A, 1)),
    );
    assert!(first_broken(&with_a_record).what.contains("which has none"));

    let mut unknown = lines.clone();
    if let ExportLine::Header(header) = &mut unknown[0] {
        header.format = "edoc-ledger-export/4".to_owned();
    }
    let refused = verify_export(text(&unknown).as_bytes(), None, |_| {}).unwrap_err();
    assert!(
        refused.to_string().contains("edoc-ledger-export/4"),
        "{refused}"
    );
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
