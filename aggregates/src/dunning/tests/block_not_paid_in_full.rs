//! §4.2 as re-read on 2026-12-01: an overdue invoice **not paid in full** for more than
//! 3 months after its due date blocks the participant; a partial payment no longer
//! postpones the block.

use super::*;

#[test]
fn a_partial_payment_does_not_postpone_the_block() {
    // Invoice 1: 11600.00 due 2026-02-09; the block applies from 2026-05-10.
    let given = then(&with_invoice(), pay("P-1", date!(2026 - 03 - 01), "100.00"));
    let before = decide(&given, sweep(date!(2026 - 05 - 09), false), &services()).unwrap();
    assert_eq!(types(&before), ["Suspended"]);
    let on_the_day = decide(&given, sweep(date!(2026 - 05 - 10), false), &services()).unwrap();
    assert_eq!(
        types(&on_the_day),
        ["Suspended", "Blocked"],
        "100.00 of 11600.00 paid is not paid in full (§4.2)"
    );
}

#[test]
fn a_suspended_agreement_with_all_but_a_tiyn_paid_is_blocked_after_three_months() {
    let given = then(&with_invoice(), sweep(date!(2026 - 02 - 25), false));
    let given = then(&given, pay("P-1", date!(2026 - 03 - 01), "11599.99"));
    assert_eq!(
        state_of(&given).status(),
        Some(crate::AgreementStatus::Suspended)
    );
    let swept = decide(&given, sweep(date!(2026 - 05 - 10), false), &services()).unwrap();
    assert_eq!(
        swept,
        vec![AgreementEvent::Blocked(Blocked {
            on: date!(2026 - 05 - 10),
            reason: RestrictionReason::Overdue,
        })]
    );
    // Paid in full the next day: the block is lifted at once (§4.2, §5.5).
    let blocked = then(&given, sweep(date!(2026 - 05 - 10), false));
    let paid = decide(
        &blocked,
        pay("P-2", date!(2026 - 05 - 11), "0.01"),
        &services(),
    )
    .unwrap();
    assert_eq!(types(&paid), ["PaymentReceived", "Unblocked"]);
}

#[test]
fn an_invoice_paid_in_full_before_the_block_day_does_not_block() {
    let given = then(
        &with_invoice(),
        pay("P-1", date!(2026 - 05 - 09), "11600.00"),
    );
    let swept = decide(&given, sweep(date!(2026 - 05 - 10), false), &services()).unwrap();
    assert!(swept.is_empty(), "{swept:?}");
}
