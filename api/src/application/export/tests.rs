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
