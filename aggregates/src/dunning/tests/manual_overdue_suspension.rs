//! §5.9 as re-read on 2026-12-01: the operator may suspend for any delay, before day 16,
//! and neither the sweep nor a payment lifts that suspension while anything is overdue:
//! only when nothing is overdue at all, or by hand.

use super::*;

fn suspend_for_overdue(on: Date) -> AgreementCommand {
    AgreementCommand::Suspend(RestrictAccess {
        on,
        reason: RestrictionReason::Overdue,
    })
}

/// Invoice 1 (11600.00, due 2026-02-09) and invoice 2 (credit, 1160.00) issued on
/// 2026-02-16, due 2026-02-19 (3 working days, §5.8).
fn two_invoices() -> Vec<AgreementEvent> {
    let mut given = with_invoice();
    let second = decide(
        &given,
        AgreementCommand::IssueInvoice(invoice_command(
            InvoiceKind::Credit,
            date!(2026 - 02 - 16),
            "1000.00",
        )),
        &services_on(date!(2026 - 12 - 31), 2),
    )
    .unwrap();
    given.extend(second);
    assert_eq!(invoice_two_due(&given), date!(2026 - 02 - 19));
    given
}

fn invoice_two_due(given: &[AgreementEvent]) -> Date {
    state_of(given).invoice(number(2)).unwrap().due_on
}

#[test]
fn the_operator_may_suspend_for_overdue_on_the_first_day_of_delay() {
    let events = decide(
        &with_invoice(),
        suspend_for_overdue(date!(2026 - 02 - 10)),
        &services(),
    )
    .unwrap();
    assert_eq!(
        events,
        vec![AgreementEvent::Suspended(Suspended {
            on: date!(2026 - 02 - 10),
            reason: RestrictionReason::Overdue,
            imposed_by: Some(ImposedBy::Operator),
        })]
    );
    assert_eq!(events[0].clause().as_str(), "5.9");
}

#[test]
fn the_sweep_does_not_lift_a_manual_overdue_suspension_while_the_invoice_is_overdue() {
    let given = then(&with_invoice(), suspend_for_overdue(date!(2026 - 02 - 10)));
    // Day 11 of delay: nothing is overdue beyond 15 days, but invoice 1 is overdue.
    let swept = decide(&given, sweep(date!(2026 - 02 - 20), false), &services()).unwrap();
    assert!(swept.is_empty(), "the cause remains: {swept:?}");
}

#[test]
fn a_partial_payment_does_not_lift_a_manual_overdue_suspension_and_a_full_one_does() {
    let given = then(&with_invoice(), suspend_for_overdue(date!(2026 - 02 - 10)));
    let partial = decide(
        &given,
        pay("P-1", date!(2026 - 02 - 20), "5000.00"),
        &services(),
    )
    .unwrap();
    assert_eq!(types(&partial), ["PaymentReceived"]);
    let full = decide(
        &given,
        pay("P-1", date!(2026 - 02 - 20), "11600.00"),
        &services(),
    )
    .unwrap();
    assert_eq!(types(&full), ["PaymentReceived", "Reinstated"]);
}

#[test]
fn a_manual_overdue_suspension_stays_while_a_younger_invoice_is_overdue() {
    // Invoice 1 paid in full on 2026-02-25; invoice 2 (due 02-19) is then 6 days overdue.
    let manual = then(&two_invoices(), suspend_for_overdue(date!(2026 - 02 - 20)));
    let paid = decide(
        &manual,
        pay("P-1", date!(2026 - 02 - 25), "11600.00"),
        &services(),
    )
    .unwrap();
    assert_eq!(
        types(&paid),
        ["PaymentReceived"],
        "invoice 2 is still overdue: the operator's suspension stays"
    );
    let manual = then(&manual, pay("P-1", date!(2026 - 02 - 25), "11600.00"));
    let swept = decide(&manual, sweep(date!(2026 - 02 - 26), false), &services()).unwrap();
    assert!(swept.is_empty(), "{swept:?}");
    // Invoice 2 paid: nothing is overdue at all, the payment lifts it.
    let cleared = decide(
        &manual,
        pay("P-2", date!(2026 - 02 - 27), "1160.00"),
        &services(),
    )
    .unwrap();
    assert_eq!(types(&cleared), ["PaymentReceived", "Reinstated"]);

    // The same history with the sweep's suspension (day 16 of invoice 1): lifted as
    // before, once nothing is overdue beyond 15 days.
    let swept = then(&two_invoices(), sweep(date!(2026 - 02 - 25), false));
    assert_eq!(
        state_of(&swept).status(),
        Some(crate::AgreementStatus::Suspended)
    );
    let paid = decide(
        &swept,
        pay("P-1", date!(2026 - 02 - 25), "11600.00"),
        &services(),
    )
    .unwrap();
    assert_eq!(types(&paid), ["PaymentReceived", "Reinstated"]);
}

#[test]
fn the_operator_may_reinstate_a_manual_overdue_suspension_by_hand() {
    let given = then(&with_invoice(), suspend_for_overdue(date!(2026 - 02 - 10)));
    let events = decide(
        &given,
        AgreementCommand::Reinstate(LiftRestriction {
            on: date!(2026 - 02 - 11),
            reason: ReasonNote::parse("payment promised").unwrap(),
        }),
        &services(),
    )
    .unwrap();
    assert_eq!(types(&events), ["Reinstated"]);
}

#[test]
fn the_sweep_lifts_a_manual_overdue_suspension_once_nothing_is_overdue_at_all() {
    let given = then(&with_invoice(), suspend_for_overdue(date!(2026 - 02 - 10)));
    // The payment alone (as if its lifting had not been recorded): the sweep lifts.
    let mut paid = given.clone();
    paid.push(
        decide(
            &given,
            pay("P-1", date!(2026 - 02 - 20), "11600.00"),
            &services(),
        )
        .unwrap()[0]
            .clone(),
    );
    let swept = decide(&paid, sweep(date!(2026 - 02 - 21), false), &services()).unwrap();
    let [AgreementEvent::Reinstated(reinstated)] = swept.as_slice() else {
        panic!("{swept:?}")
    };
    assert_eq!(reinstated.lifted, RestrictionReason::Overdue);
    assert!(
        reinstated.reason.as_str().contains("§5.9"),
        "{reinstated:?}"
    );
}

#[test]
fn a_suspension_recorded_before_2026_12_01_is_read_as_the_sweeps() {
    // Stored before the field existed: no `imposed_by`. It reads as `None` and writes
    // back byte for byte, so its hash is unchanged (docs/audit.md).
    let stored = r#"{"Suspended":{"on":"2026-02-25","reason":"overdue"}}"#;
    let event: AgreementEvent = serde_json::from_str(stored).unwrap();
    let AgreementEvent::Suspended(suspended) = &event else {
        unreachable!()
    };
    assert_eq!(suspended.imposed_by, None);
    assert_eq!(serde_json::to_string(&event).unwrap(), stored);
    // Read as the sweep's: lifted once nothing is overdue beyond 15 days, as before.
    let mut given = two_invoices();
    given.push(event);
    let paid = decide(
        &given,
        pay("P-1", date!(2026 - 02 - 25), "11600.00"),
        &services(),
    )
    .unwrap();
    assert_eq!(types(&paid), ["PaymentReceived", "Reinstated"]);
    // New events always say who imposed them.
    let manual = decide(
        &given[..given.len() - 1],
        suspend_for_overdue(date!(2026 - 02 - 25)),
        &services(),
    )
    .unwrap();
    assert!(serde_json::to_string(&manual[0])
        .unwrap()
        .contains(r#""imposed_by":"operator""#));
}
