//! Fuzzing, time-bounded (issue 7): command JSON bodies, valid and mutated, decoded as the
//! API decodes them and run through the aggregate's `decide` in sequences; then the
//! invariants auditors rely on are checked on the history it accepted.
//!
//! cargo-fuzz needs a nightly toolchain, and this project builds with the machine's one
//! stable toolchain, so this is a proptest suite run against a clock instead: batches of
//! random cases until `EDOC_FUZZ_SECONDS` (default 45) have passed. A failure is shrunk
//! to a minimal sequence and printed. By hand: `EDOC_FUZZ_SECONDS=3600 cargo test -p
//! tests --test suite fuzz:: -- --nocapture`.
//!
//! What must hold, whatever the input: decoding never panics; `decide` never panics, in
//! any state; every accepted history keeps the journal balanced and equal to the balance,
//! each penalty within its §5.9 cap, never a negative outstanding amount, a fold of the
//! events equal to the aggregate that decided them, and the stored form of the ledger (its
//! JSON, as the store keeps it) decoding back to the same ledger.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cqrs_es::Aggregate;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use time::macros::date;
use time::Date;

use aggregates::{AgreementServices, ParticipantAgreement, ReferenceData};
use commands::AgreementCommand;
use events::{AgreementEvent, InvoiceNumber, Money, MoneyError};
use projections::{Account, AgreementLedger, ProjectionError};

const TODAY: Date = date!(2026 - 12 - 31);
const PARTICIPANT: &str = "150240008272";

/// A valid body of each command kind, the fuzzer's seeds.
fn seed(kind: u8, day: u16, cents: u64, index: u8) -> (u8, Value) {
    let on = (date!(2025 - 01 - 06) + time::Duration::days(i64::from(day % 700))).to_string();
    let amount = format!("{}.{:02}", cents / 100, cents % 100);
    let body = match kind % 12 {
        0 => json!({"participant_id": PARTICIPANT, "name": "ТОО «MITWORK»", "kind": "legal_entity",
                    "resident": true, "currency": "KZT", "email": "buh@example.kz", "registered_on": on}),
        1 => json!({"signed_on": on}),
        2 => {
            json!({"kind": (["subscription", "credit", "usage"][usize::from(index % 3)]), "issued_on": on,
                    "lines": [{"description": "E-DOC", "quantity": 1 + u64::from(index), "unit_price": amount}]})
        }
        3 => {
            json!({"reference": format!("BANK-{cents}-{index}"), "received_on": on, "amount": amount})
        }
        4 => json!({"reference": format!("BANK-{cents}"), "received_on": on, "amount": amount,
                    "invoice_number": (u64::from(index) % 9 + 1).to_string()}),
        5 => {
            json!({"on": on, "reason": (["overdue", "verification", "violation", "technical_works", "force_majeure"][usize::from(index % 5)])})
        }
        6 => json!({"on": on, "reason": "Оплачено"}),
        7 => {
            json!({"invoice_number": (u64::from(index) % 9 + 1).to_string(), "kind": if index.is_multiple_of(2) { "penalty" } else { "fine" }, "on": on})
        }
        8 => {
            json!({"invoice_number": (u64::from(index) % 9 + 1).to_string(), "kind": if index.is_multiple_of(2) { "penalty" } else { "fine" },
                    "amount": amount, "on": on, "reason": "Решение оператора"})
        }
        9 => {
            json!({"notice_received_on": on, "ground": (["participant_notice", "mutual", "court", "force_majeure"][usize::from(index % 4)])})
        }
        10 => json!({"started_on": on, "notice_received_on": on, "description": "Паводок"}),
        _ => json!({"ended_on": on}),
    };
    (kind % 12, body)
}

/// Values that break parsers and rules: wrong types, edges of numbers and dates.
fn hostile() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop_oneof![
            Just("0.00"),
            Just("-1.00"),
            Just("0.001"),
            Just("1e3"),
            Just("999999999999.99"),
            Just("99999999999999999999999999.99"),
            Just("79228162514264337593543950335"),
            Just("NaN"),
            Just(""),
            Just(" 1.00"),
            Just("2026-02-30"),
            Just("2026-13-01"),
            Just("9999-12-31"),
            Just("0000-01-01"),
            Just("2026-1-1"),
            Just("USD"),
            Just("KZT"),
            Just("EUR"),
            Just("\u{0000}"),
            Just("ТОО «»"),
            Just("000000000000"),
        ]
        .prop_map(Value::from),
        "\\PC{0,40}".prop_map(Value::from),
        Just(json!([])),
        Just(json!({})),
        Just(json!([{"description": "x", "quantity": 0, "unit_price": "1.00"}])),
        Just(json!([{"description": "", "quantity": -1, "unit_price": "-5"}])),
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    None,
    Drop(usize),
    Replace(usize, Value),
    Add(String, Value),
    Whole(Value),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        6 => Just(Mutation::None),
        1 => any::<usize>().prop_map(Mutation::Drop),
        3 => (any::<usize>(), hostile()).prop_map(|(i, v)| Mutation::Replace(i, v)),
        1 => ("[a-z_]{1,12}", hostile()).prop_map(|(k, v)| Mutation::Add(k, v)),
        1 => hostile().prop_map(Mutation::Whole),
    ]
}

fn mutate(mut body: Value, mutation: &Mutation) -> Value {
    match (mutation, body.as_object_mut()) {
        (Mutation::None, _) => {}
        (Mutation::Drop(i), Some(map)) if !map.is_empty() => {
            let key = map.keys().nth(i % map.len()).cloned().unwrap();
            map.remove(&key);
        }
        (Mutation::Replace(i, value), Some(map)) if !map.is_empty() => {
            let key = map.keys().nth(i % map.len()).cloned().unwrap();
            map.insert(key, value.clone());
        }
        (Mutation::Add(key, value), Some(map)) => {
            map.insert(key.clone(), value.clone());
        }
        (Mutation::Whole(value), _) => return value.clone(),
        _ => {}
    }
    body
}

/// Decodes a body as the API does (the command's own serde rules) for its kind.
fn decode(kind: u8, body: Value) -> Option<AgreementCommand> {
    fn de<T: serde::de::DeserializeOwned>(body: Value) -> Option<T> {
        serde_json::from_value(body).ok()
    }
    Some(match kind {
        0 => AgreementCommand::Register(de(body)?),
        1 => AgreementCommand::Sign(de(body)?),
        2 => AgreementCommand::IssueInvoice(de(body)?),
        3 | 4 => AgreementCommand::ReceivePayment(de(body)?),
        5 if cents_odd(&body) => AgreementCommand::Block(de(body)?),
        5 => AgreementCommand::Suspend(de(body)?),
        6 => AgreementCommand::Reinstate(de(body)?),
        7 => AgreementCommand::ChargeLatePayment(de(body)?),
        8 => AgreementCommand::WaiveLatePayment(de(body)?),
        9 => AgreementCommand::RequestTermination(de(body)?),
        10 => AgreementCommand::DeclareForceMajeure(de(body)?),
        _ => AgreementCommand::EndForceMajeure(de(body)?),
    })
}

/// Suspend or block, decided by the body itself so that shrinking keeps the choice.
fn cents_odd(body: &Value) -> bool {
    body.get("on")
        .and_then(Value::as_str)
        .is_some_and(|on| on.ends_with(['1', '3', '5', '7', '9']))
}

type Step = ((u8, u16, u64, u8), Mutation);

fn steps() -> impl Strategy<Value = (bool, Vec<Step>)> {
    (
        any::<bool>(),
        proptest::collection::vec(
            (
                (0u8..12, 0u16..700, 1u64..5_000_000, any::<u8>()),
                mutation(),
            ),
            1..48,
        ),
    )
}

struct Outcome {
    decoded: u64,
    accepted: u64,
}

/// Runs one case: must not panic, and what was accepted must keep every invariant.
fn run_case(
    reference: &Arc<ReferenceData>,
    start_valid: bool,
    steps: &[Step],
) -> Result<Outcome, TestCaseError> {
    let mut agreement = ParticipantAgreement::default();
    let mut events: Vec<(u64, AgreementEvent)> = Vec::new();
    let mut next_invoice = 1u64;
    let mut outcome = Outcome {
        decoded: 0,
        accepted: 0,
    };
    let mut bodies: Vec<(u8, Value)> = Vec::new();
    if start_valid {
        bodies.push(seed(0, 0, 0, 0));
        bodies.push(seed(1, 1, 0, 0));
    }
    for ((kind, day, cents, index), mutation) in steps {
        let (kind, body) = seed(*kind, *day, *cents, *index);
        bodies.push((kind, mutate(body, mutation)));
    }
    for (kind, body) in bodies {
        let Some(command) = decode(kind, body) else {
            continue;
        };
        outcome.decoded += 1;
        let services = AgreementServices {
            reference: reference.clone(),
            today: TODAY,
            next_invoice_number: Some(InvoiceNumber::new(next_invoice).unwrap()),
            closed_through: None,
        };
        let Ok(decided) = agreement.decide(command, &services) else {
            continue;
        };
        outcome.accepted += 1;
        for event in decided {
            if matches!(event, AgreementEvent::InvoiceIssued(_)) {
                next_invoice += 1;
            }
            agreement.apply(event.clone());
            events.push((events.len() as u64 + 1, event));
        }
    }
    check_invariants(reference, &agreement, &events)?;
    Ok(outcome)
}

fn check_invariants(
    reference: &ReferenceData,
    agreement: &ParticipantAgreement,
    events: &[(u64, AgreementEvent)],
) -> Result<(), TestCaseError> {
    let ledger = AgreementLedger::from_events(events.iter().map(|(s, e)| (*s, e)));
    // The fold of the events is the aggregate that decided them.
    prop_assert_eq!(
        serde_json::to_value(&ledger.agreement).unwrap(),
        serde_json::to_value(agreement).unwrap()
    );
    // The stored form decodes to the same ledger (the command path starts from it).
    let stored = ledger.to_stored().unwrap();
    let decoded = AgreementLedger::from_stored(&stored).unwrap();
    prop_assert_eq!(&decoded, &ledger);
    prop_assert_eq!(decoded.to_stored().unwrap(), stored);
    if events.is_empty() {
        return Ok(());
    }
    for as_of in [
        date!(2025 - 03 - 01),
        date!(2025 - 09 - 15),
        date!(2026 - 06 - 30),
        TODAY,
    ] {
        let Ok(balance) = ledger.balance(as_of, reference) else {
            continue;
        };
        // Each amount is within the ledger's range, but a total of many need not be: that
        // is the one error a query may answer with (the API's 422 amount-out-of-range).
        let journal = match ledger.journal(as_of) {
            Ok(journal) => journal,
            Err(ProjectionError::Money(MoneyError::Overflow)) => continue,
            Err(error) => panic!("journal as of {as_of}: {error}"),
        };
        prop_assert_eq!(
            journal.debits,
            journal.credits,
            "journal balanced as of {}",
            as_of
        );
        prop_assert_eq!(journal.account(Account::Receivable), balance.total_due);
        prop_assert!(!balance.total_due.is_negative() && !balance.advance.is_negative());
        if let Ok(invoices) = ledger.invoices(as_of, reference) {
            for invoice in invoices {
                let cap = Money::rounded(
                    invoice.total.amount() * Decimal::new(5, 2),
                    invoice.total.currency(),
                )
                .unwrap();
                prop_assert!(!invoice.penalty_accrued.is_negative(), "{:?}", invoice);
                prop_assert!(
                    invoice.penalty_accrued.amount() <= cap.amount(),
                    "§5.9 cap: {:?}",
                    invoice
                );
                prop_assert!(
                    invoice.penalty_charged.amount() <= cap.amount(),
                    "§5.9 cap: {:?}",
                    invoice
                );
            }
        }
    }
    Ok(())
}

#[test]
fn fuzz_command_bodies_and_the_aggregate() {
    let seconds: u64 = std::env::var("EDOC_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(45);
    let reference = Arc::new(ReferenceData::embedded().unwrap());
    let started = Instant::now();
    use std::cell::Cell;
    let (cases, commands, decoded, accepted) = (
        Cell::new(0u64),
        Cell::new(0u64),
        Cell::new(0u64),
        Cell::new(0u64),
    );
    while started.elapsed() < Duration::from_secs(seconds) {
        let mut runner = TestRunner::new(Config {
            cases: 64,
            failure_persistence: None,
            ..Config::default()
        });
        let result = runner.run(&steps(), |(start_valid, steps)| {
            let outcome = run_case(&reference, start_valid, &steps)?;
            cases.set(cases.get() + 1);
            commands.set(commands.get() + steps.len() as u64 + if start_valid { 2 } else { 0 });
            decoded.set(decoded.get() + outcome.decoded);
            accepted.set(accepted.get() + outcome.accepted);
            Ok(())
        });
        if let Err(failure) = result {
            panic!("fuzzing found: {failure}");
        }
    }
    let (cases, commands, decoded, accepted) =
        (cases.get(), commands.get(), decoded.get(), accepted.get());
    println!(
        "fuzzing: {cases} cases, {commands} command bodies ({decoded} decoded, {accepted} accepted by the aggregate) in {:.1} s, no panic, no invariant broken",
        started.elapsed().as_secs_f64()
    );
    assert!(
        accepted > 0 && decoded > accepted,
        "the fuzzer reached the rules"
    );
}
