//! Property tests of the projections over random histories (proptest): the invariants
//! auditors rely on hold for every agreement, at every date.
//!
//! A history is a random sequence of operator and bank actions (invoices, payments,
//! penalty and fine charges, waivers, suspensions) run through the aggregate's own
//! `decide`, keeping what it accepts, so every history is one the ledger could record.

use std::sync::Arc;

use cqrs_es::Aggregate;
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::json;
use time::macros::date;
use time::{Date, Duration};

use aggregates::{AgreementServices, ParticipantAgreement, ReferenceData};
use commands::AgreementCommand;
use events::{AgreementEvent, InvoiceNumber, Money};
use projections::{Account, AgreementLedger};

const START: Date = date!(2025 - 01 - 06);
/// Invoices are issued no later than this, so that their due dates stay inside the
/// calendar's years (2025-2026).
const LAST_ISSUE: Date = date!(2026 - 12 - 15);
const TODAY: Date = date!(2026 - 12 - 31);
const PARTICIPANT: &str = "150240008272";

#[derive(Debug, Clone)]
enum Action {
    Invoice {
        kind: u8,
        cents: u64,
    },
    Pay {
        cents: u64,
        named: Option<usize>,
    },
    Charge {
        invoice: usize,
        fine: bool,
    },
    Waive {
        invoice: usize,
        fine: bool,
        cents: u64,
    },
    Suspend,
    Reinstate,
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        4 => (0u8..3, 1_000u64..3_000_000).prop_map(|(kind, cents)| Action::Invoice { kind, cents }),
        4 => (1_000u64..4_000_000, proptest::option::of(0usize..8))
            .prop_map(|(cents, named)| Action::Pay { cents, named }),
        2 => (0usize..8, any::<bool>()).prop_map(|(invoice, fine)| Action::Charge { invoice, fine }),
        1 => (0usize..8, any::<bool>(), 1u64..200_000)
            .prop_map(|(invoice, fine, cents)| Action::Waive { invoice, fine, cents }),
        1 => Just(Action::Suspend),
        1 => Just(Action::Reinstate),
    ]
}

fn history() -> impl Strategy<Value = Vec<(u16, Action)>> {
    proptest::collection::vec((0u16..40, action()), 1..40)
}

fn amount(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

fn command<T: serde::de::DeserializeOwned>(body: serde_json::Value) -> T {
    serde_json::from_value(body).expect("a well-formed command")
}

/// Runs the actions through the aggregate; returns the accepted events, numbered.
fn record(actions: &[(u16, Action)]) -> Vec<(u64, AgreementEvent)> {
    let reference = Arc::new(ReferenceData::embedded().unwrap());
    let mut agreement = ParticipantAgreement::default();
    let mut events = Vec::new();
    let mut next_invoice = 1u64;
    let mut date = START;
    let mut payments = 0u32;
    let mut run =
        |command: AgreementCommand, agreement: &mut ParticipantAgreement, next: &mut u64| {
            let services = AgreementServices {
                tariffs: Default::default(),
                reference: reference.clone(),
                today: TODAY,
                next_invoice_number: Some(InvoiceNumber::new(*next).unwrap()),
                closed_through: None,
            };
            if let Ok(decided) = agreement.decide(command, &services) {
                for event in decided {
                    if matches!(event, AgreementEvent::InvoiceIssued(_)) {
                        *next += 1;
                    }
                    agreement.apply(event.clone());
                    events.push((events.len() as u64 + 1, event));
                }
            }
        };
    run(
        AgreementCommand::Register(command(json!({
            "participant_id": PARTICIPANT, "name": "ТОО «MITWORK»", "kind": "legal_entity",
            "resident": true, "currency": "KZT", "email": "buh@example.kz",
            "registered_on": START.to_string()}))),
        &mut agreement,
        &mut next_invoice,
    );
    run(
        AgreementCommand::Sign(command(json!({"signed_on": START.to_string()}))),
        &mut agreement,
        &mut next_invoice,
    );
    for (days, action) in actions {
        date = (date + Duration::days(i64::from(*days))).min(TODAY);
        let on = date.to_string();
        let invoices: Vec<InvoiceNumber> = agreement.invoices().map(|i| i.number).collect();
        let pick = |index: usize| invoices.get(index % invoices.len().max(1)).copied();
        let command = match action {
            Action::Invoice { kind, cents } => {
                if date > LAST_ISSUE {
                    continue;
                }
                let kind = ["subscription", "credit", "usage"][usize::from(*kind)];
                AgreementCommand::IssueInvoice(command(json!({
                    "kind": kind,
                    "issued_on": on,
                    "lines": [{"description": "service", "quantity": 1, "unit_price": amount(*cents)}]})))
            }
            Action::Pay { cents, named } => {
                payments += 1;
                let mut body = json!({"reference": format!("R-{payments}"), "received_on": on, "amount": amount(*cents)});
                if let Some(number) = named.and_then(pick) {
                    body["invoice_number"] = json!(number.to_string());
                }
                AgreementCommand::ReceivePayment(command(body))
            }
            Action::Charge { invoice, fine } => {
                let Some(number) = pick(*invoice) else {
                    continue;
                };
                AgreementCommand::ChargeLatePayment(command(json!({
                    "invoice_number": number.to_string(),
                    "kind": if *fine { "fine" } else { "penalty" }, "on": on})))
            }
            Action::Waive {
                invoice,
                fine,
                cents,
            } => {
                let Some(number) = pick(*invoice) else {
                    continue;
                };
                AgreementCommand::WaiveLatePayment(command(json!({
                    "invoice_number": number.to_string(),
                    "kind": if *fine { "fine" } else { "penalty" },
                    "amount": amount(*cents), "reason": "goodwill", "on": on})))
            }
            Action::Suspend => {
                AgreementCommand::Suspend(command(json!({"on": on, "reason": "verification"})))
            }
            Action::Reinstate => {
                AgreementCommand::Reinstate(command(json!({"on": on, "reason": "checked"})))
            }
        };
        run(command, &mut agreement, &mut next_invoice);
    }
    events
}

fn ledger_of(events: &[(u64, AgreementEvent)]) -> AgreementLedger {
    AgreementLedger::from_events(events.iter().map(|(sequence, event)| (*sequence, event)))
}

fn as_of_date() -> impl Strategy<Value = Date> {
    (0i64..730).prop_map(|days| date!(2025 - 01 - 01) + Duration::days(days))
}

fn reference() -> ReferenceData {
    ReferenceData::embedded().unwrap()
}

proptest! {
    // No regression files in the source tree: a failure prints its minimal case.
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        .. ProptestConfig::default()
    })]

    /// §5.9: the penalty on an invoice is never negative and never above 5% of its total.
    #[test]
    fn penalties_never_exceed_the_cap(actions in history(), as_of in as_of_date()) {
        let ledger = ledger_of(&record(&actions));
        let Ok(invoices) = ledger.invoices(as_of, &reference()) else { return Ok(()) };
        for invoice in invoices {
            let cap = Money::rounded(invoice.total.amount() * Decimal::new(5, 2), invoice.total.currency()).unwrap();
            prop_assert!(!invoice.penalty_accrued.is_negative());
            prop_assert!(invoice.penalty_accrued.amount() <= cap.amount(), "{invoice:?}");
            prop_assert!(invoice.penalty_charged.amount() <= cap.amount(), "{invoice:?}");
        }
    }

    /// The journal balances, its receivable is the balance's total due and its advance
    /// account (a credit) is the advance; the balance adds up.
    #[test]
    fn journal_and_balance_agree(actions in history(), as_of in as_of_date()) {
        let ledger = ledger_of(&record(&actions));
        let Ok(balance) = ledger.balance(as_of, &reference()) else { return Ok(()) };
        let journal = ledger.journal(as_of).unwrap();
        prop_assert_eq!(journal.debits, journal.credits);
        prop_assert_eq!(journal.account(Account::Receivable), balance.total_due);
        prop_assert_eq!(
            journal.account(Account::Advance).checked_add(balance.advance).unwrap(),
            Money::zero(balance.currency)
        );
        // invoiced + charged - waived(charged) - paid = total due - advance
        let positions = ledger.position(as_of).unwrap();
        let waived_charged = positions.invoices.values().try_fold(Money::zero(balance.currency), |sum, i| {
            sum.checked_add(i.penalty.waived_charged)?.checked_add(i.fine.waived_charged)
        }).unwrap();
        let left = balance.invoiced
            .checked_add(balance.penalties_charged).unwrap()
            .checked_add(balance.fines).unwrap()
            .checked_sub(waived_charged).unwrap()
            .checked_sub(balance.paid).unwrap();
        prop_assert_eq!(left, balance.total_due.checked_sub(balance.advance).unwrap());
    }

    /// The reconciliation statement adds up for any period, and over the whole history
    /// it closes on what is owed net of the advance.
    #[test]
    fn statements_add_up(actions in history(), from in as_of_date(), to in as_of_date()) {
        let ledger = ledger_of(&record(&actions));
        let (from, to) = (from.min(to), from.max(to));
        if let Ok(statement) = ledger.statement(from, to) {
            let closing = statement.opening
                .checked_add(statement.debits).unwrap()
                .checked_sub(statement.credits).unwrap();
            prop_assert_eq!(statement.closing, closing);
            let whole = ledger.statement(START, to).unwrap();
            let balance = ledger.balance(to, &reference()).unwrap();
            prop_assert_eq!(whole.opening, Money::zero(balance.currency));
            prop_assert_eq!(whole.closing, balance.total_due.checked_sub(balance.advance).unwrap());
            prop_assert_eq!(statement.closing, whole.closing);
        }
    }

    /// The stored projection answers as of a date exactly what a replay of the events
    /// up to that date answers; and both agree with the aggregate's own fold.
    #[test]
    fn projection_equals_replay(actions in history(), as_of in as_of_date()) {
        let events = record(&actions);
        let stored: AgreementLedger = serde_json::from_value(
            serde_json::to_value(ledger_of(&events)).unwrap()
        ).unwrap();
        let mut latest = START;
        let up_to: Vec<(u64, AgreementEvent)> = events.iter().filter(|(_, event)| {
            latest = latest.max(event.business_date());
            latest <= as_of
        }).cloned().collect();
        let replayed = ledger_of(&up_to);
        let reference = reference();
        prop_assert_eq!(stored.balance(as_of, &reference), replayed.balance(as_of, &reference));
        prop_assert_eq!(stored.invoices(as_of, &reference), replayed.invoices(as_of, &reference));
        prop_assert_eq!(stored.penalties(as_of, &reference), replayed.penalties(as_of, &reference));
        prop_assert_eq!(stored.agreement_as_of(as_of), replayed.agreement_as_of(as_of));
        prop_assert_eq!(stored.journal(as_of), replayed.journal(as_of));

        // The aggregate, folded independently over the same events, owes the same.
        let mut aggregate = ParticipantAgreement::default();
        for (_, event) in &up_to {
            aggregate.apply(event.clone());
        }
        if let Ok(position) = stored.position(as_of) {
            for invoice in aggregate.invoices() {
                let projected = &position.invoices[&invoice.number];
                prop_assert_eq!(projected.principal_outstanding().unwrap(), invoice.principal_outstanding());
                prop_assert_eq!(projected.penalty.owed().unwrap(), invoice.penalty_outstanding());
                prop_assert_eq!(projected.fine.owed().unwrap(), invoice.fine_outstanding());
                prop_assert_eq!(projected.paid_in_full_on, invoice.paid_in_full_on);
            }
            prop_assert_eq!(position.invoices.len(), aggregate.invoices().count());
            prop_assert_eq!(Some(position.advance), aggregate.advance());
        }
    }

    /// Replaying twice gives identical projections.
    #[test]
    fn replay_is_deterministic(actions in history()) {
        let events = record(&actions);
        let first = ledger_of(&events);
        let second = ledger_of(&events);
        prop_assert_eq!(serde_json::to_value(&first).unwrap(), serde_json::to_value(&second).unwrap());
        prop_assert_eq!(&first, &second);
        // A redelivered event is not counted twice.
        let mut redelivered = first.clone();
        if let Some((sequence, event)) = events.last() {
            redelivered.apply(*sequence, event);
        }
        prop_assert_eq!(redelivered, first);
    }
}

/// The generator makes histories worth testing: late invoices, charges, waivers,
/// advances (a property test over trivial histories proves nothing).
#[test]
fn histories_are_rich() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut charges, mut waivers, mut advances, mut invoices) = (0, 0, 0, 0);
    for _ in 0..64 {
        let actions = history().new_tree(&mut runner).unwrap().current();
        for (_, event) in record(&actions) {
            match event {
                AgreementEvent::PenaltyCharged(_) | AgreementEvent::FineCharged(_) => charges += 1,
                AgreementEvent::LateChargeWaived(_) => waivers += 1,
                AgreementEvent::AdvanceApplied(_) => advances += 1,
                AgreementEvent::InvoiceIssued(_) => invoices += 1,
                _ => {}
            }
        }
    }
    println!("64 histories: {invoices} invoices, {charges} charges, {waivers} waivers, {advances} advances applied");
    assert!(invoices > 100 && charges > 20 && waivers > 5 && advances > 5);
}
