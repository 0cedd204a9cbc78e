//! The stored projection: its stored form, its facts and header versions, and its
//! answers whether stored, loaded or replayed.

use super::*;

#[test]
fn the_stored_form_reads_back_to_the_same_ledger_and_is_compact() {
    let ledger = example().ledger();
    let stored = ledger.to_stored().unwrap();
    assert_eq!(stored[0], AgreementLedger::STORED_FORMAT);
    assert_eq!(AgreementLedger::from_stored(&stored).unwrap(), ledger);
    // Deterministic: replay --check compares the bytes.
    assert_eq!(ledger.clone().to_stored().unwrap(), stored);
    let json = serde_json::to_vec(&ledger).unwrap();
    assert!(
        stored.len() * 3 < json.len(),
        "stored {} bytes, JSON {} bytes",
        stored.len(),
        json.len()
    );
}

#[test]
fn a_stored_ledger_of_another_format_or_cut_short_is_refused() {
    let stored = example().ledger().to_stored().unwrap();
    assert_eq!(
        AgreementLedger::from_stored(&[]),
        Err(StoredLedgerError::Empty)
    );
    let mut other = stored.clone();
    other[0] = AgreementLedger::STORED_FORMAT + 1;
    assert!(matches!(
        AgreementLedger::from_stored(&other),
        Err(StoredLedgerError::Format { .. })
    ));
    assert!(matches!(
        AgreementLedger::from_stored(&stored[..stored.len() / 2]),
        Err(StoredLedgerError::Decode(_))
    ));
    let mut longer = stored.clone();
    longer.push(0);
    assert_eq!(
        AgreementLedger::from_stored(&longer),
        Err(StoredLedgerError::Trailing(1))
    );
}

#[test]
fn the_ledger_keeps_the_money_facts_and_the_header_versions() {
    let recorder = example();
    let ledger = recorder.ledger();
    assert_eq!(ledger.version, recorder.events.len() as u64);
    assert_eq!(ledger.ledger_date, Some(date!(2026 - 07 - 31)));
    assert_eq!(ledger.agreement, recorder.agreement);
    // registered, signed, suspended
    assert_eq!(ledger.headers.len(), 3);
    assert_eq!(
        ledger.headers.iter().map(|h| h.since).collect::<Vec<_>>(),
        vec![
            date!(2026 - 01 - 05),
            date!(2026 - 01 - 06),
            date!(2026 - 05 - 25)
        ]
    );
    // 3 invoices, 3 payments, 2 advances applied, 3 charges, 2 waivers.
    let count = |f: fn(&LedgerFact) -> bool| ledger.facts.iter().filter(|d| f(&d.fact)).count();
    assert_eq!(count(|f| matches!(f, LedgerFact::Invoice { .. })), 3);
    assert_eq!(count(|f| matches!(f, LedgerFact::Payment { .. })), 3);
    assert_eq!(count(|f| matches!(f, LedgerFact::AdvanceApplied { .. })), 2);
    assert_eq!(count(|f| matches!(f, LedgerFact::Charged { .. })), 3);
    assert_eq!(count(|f| matches!(f, LedgerFact::Waived { .. })), 2);
    assert!(ledger
        .facts
        .windows(2)
        .all(|w| w[0].sequence < w[1].sequence && w[0].on <= w[1].on));
}

#[test]
fn a_redelivered_event_is_not_counted_twice() {
    let recorder = example();
    let ledger = recorder.ledger();
    let mut again = ledger.clone();
    for (sequence, event) in &recorder.events {
        again.apply(*sequence, event);
    }
    assert_eq!(again, ledger);
}

#[test]
fn the_cqrs_view_update_builds_the_same_ledger() {
    let recorder = example();
    let mut view = AgreementLedger::default();
    for (sequence, event) in &recorder.events {
        view.update(&EventEnvelope::<ParticipantAgreement> {
            aggregate_id: PARTICIPANT.to_owned(),
            sequence: *sequence as usize,
            payload: event.clone(),
            metadata: HashMap::new(),
        });
    }
    assert_eq!(view, recorder.ledger());
}

#[test]
fn a_ledger_stored_as_json_and_loaded_answers_the_same() {
    let ledger = example().ledger();
    let json = serde_json::to_string(&ledger).unwrap();
    let loaded: AgreementLedger = serde_json::from_str(&json).unwrap();
    assert_eq!(loaded, ledger);
    // And it serializes to the same text again.
    assert_eq!(serde_json::to_string(&loaded).unwrap(), json);

    let reference = reference();
    for on in [
        date!(2026 - 01 - 04),
        date!(2026 - 02 - 15),
        date!(2026 - 03 - 31),
        date!(2026 - 06 - 27),
        date!(2026 - 07 - 31),
        date!(2027 - 03 - 31),
    ] {
        assert_eq!(loaded.agreement_as_of(on), ledger.agreement_as_of(on));
        assert_eq!(
            loaded.balance(on, &reference),
            ledger.balance(on, &reference)
        );
        assert_eq!(
            loaded.invoices(on, &reference),
            ledger.invoices(on, &reference)
        );
        assert_eq!(
            loaded.penalties(on, &reference),
            ledger.penalties(on, &reference)
        );
        assert_eq!(loaded.journal(on), ledger.journal(on));
        assert_eq!(loaded.aging(on), ledger.aging(on));
        assert_eq!(
            loaded.statement(date!(2026 - 02 - 10), on.max(date!(2026 - 02 - 10))),
            ledger.statement(date!(2026 - 02 - 10), on.max(date!(2026 - 02 - 10)))
        );
    }
}

#[test]
fn the_ledger_replayed_up_to_a_date_answers_as_the_whole_ledger_as_of_that_date() {
    let recorder = example();
    let ledger = recorder.ledger();
    let reference = reference();
    for on in [
        date!(2026 - 01 - 05),
        date!(2026 - 02 - 09),
        date!(2026 - 02 - 15),
        date!(2026 - 03 - 02),
        date!(2026 - 04 - 01),
        date!(2026 - 05 - 25),
        date!(2026 - 07 - 30),
    ] {
        let prefix = AgreementLedger::from_events(
            recorder
                .events
                .iter()
                .filter(|(_, e)| e.business_date() <= on)
                .map(|(s, e)| (*s, e)),
        );
        assert_eq!(
            prefix.agreement_as_of(on),
            ledger.agreement_as_of(on),
            "{on}"
        );
        assert_eq!(
            prefix.balance(on, &reference),
            ledger.balance(on, &reference),
            "{on}"
        );
        assert_eq!(
            prefix.invoices(on, &reference),
            ledger.invoices(on, &reference),
            "{on}"
        );
        assert_eq!(
            prefix.penalties(on, &reference),
            ledger.penalties(on, &reference),
            "{on}"
        );
        assert_eq!(prefix.journal(on), ledger.journal(on), "{on}");
    }
}

/// §3.2: a signature dated before registration. The agreement is concluded on the
/// signature and in force from registration; as of a day before registration there is
/// no agreement yet, and from registration it is active.
#[test]
fn a_signature_before_registration_shows_from_registration() {
    let mut r = Recorder::new();
    r.run(register(date!(2026 - 01 - 05)));
    r.run(sign(date!(2025 - 12 - 20)));
    let ledger = r.ledger();
    assert_eq!(ledger.ledger_date, Some(date!(2026 - 01 - 05)));
    assert_eq!(
        ledger.agreement_as_of(date!(2025 - 12 - 25)).unwrap_err(),
        ProjectionError::NotRegisteredAsOf(date!(2025 - 12 - 25))
    );
    let header = ledger
        .agreement_as_of(date!(2026 - 01 - 05))
        .unwrap()
        .header;
    assert_eq!(header.status, AgreementStatus::Active);
    assert_eq!(header.concluded_on, Some(date!(2025 - 12 - 20)));
    assert_eq!(header.in_force_from, Some(date!(2026 - 01 - 05)));
}

/// A signature recorded after a payment. The ledger dates each event at the running
/// maximum of business dates, which is exact only because the aggregate refuses a
/// signature dated before a recorded payment (handle.rs, commit 2ee7270; before it such a
/// signature was accepted and `agreement_as_of` between the two dates said `registered`
/// while the events dated up to then said `active`).
#[test]
fn a_signature_recorded_after_a_payment_shows_from_its_own_date() {
    let mut r = Recorder::new();
    r.run(register(date!(2026 - 01 - 05)));
    r.run(pay("ADV-1", date!(2026 - 01 - 20), "100.00"));
    let services = AgreementServices {
        tariffs: Default::default(),
        reference: r.reference.clone(),
        today: TODAY,
        next_invoice_number: Some(number(1)),
        closed_through: None,
    };
    // Dated before the payment: refused, so the history stays in date order.
    assert!(matches!(
        r.agreement.decide(sign(date!(2026 - 01 - 10)), &services),
        Err(aggregates::AgreementError::Backdated { .. })
    ));
    // The minimal case proptest found: a signature before registration (§3.2) after a
    // payment dated later than the registration.
    let mut early = Recorder::new();
    early.run(register(date!(2025 - 01 - 01)));
    early.run(pay("ADV-1", date!(2025 - 01 - 02), "1.00"));
    assert!(matches!(
        early
            .agreement
            .decide(sign(date!(2024 - 12 - 30)), &services),
        Err(aggregates::AgreementError::Backdated { .. })
    ));

    // Dated on the payment's day: accepted, shown from that day, as a replay shows it.
    r.run(sign(date!(2026 - 01 - 20)));
    let ledger = r.ledger();
    for as_of in [date!(2026 - 01 - 19), date!(2026 - 01 - 20)] {
        let replayed = AgreementLedger::from_events(
            r.events
                .iter()
                .filter(|(_, e)| e.business_date() <= as_of)
                .map(|(s, e)| (*s, e)),
        );
        assert_eq!(
            ledger.agreement_as_of(as_of),
            replayed.agreement_as_of(as_of)
        );
    }
    let header = ledger.agreement_as_of(date!(2026 - 01 - 20)).unwrap();
    assert_eq!(header.header.status, AgreementStatus::Active);
    assert_eq!(header.advance, kzt("100.00"));
    assert_eq!(
        ledger
            .agreement_as_of(date!(2026 - 01 - 19))
            .unwrap()
            .header
            .status,
        AgreementStatus::Registered
    );
}
