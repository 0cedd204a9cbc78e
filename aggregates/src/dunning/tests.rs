//! The dunning rules (§4.2, §5.9, §10.3): the days they count from, and the sweep and
//! the lifting a payment causes, given/when/then.

use super::{block_day, months_after, suspension_day};
use crate::fixture::*;

#[test]
fn three_months_after_keeps_the_day_or_takes_the_month_end() {
    assert_eq!(
        months_after(date!(2026 - 01 - 31), 3),
        date!(2026 - 04 - 30)
    );
    assert_eq!(
        months_after(date!(2025 - 11 - 30), 3),
        date!(2026 - 02 - 28)
    );
    assert_eq!(
        months_after(date!(2026 - 02 - 09), 3),
        date!(2026 - 05 - 09)
    );
    assert_eq!(block_day(date!(2026 - 01 - 31)), date!(2026 - 05 - 01));
    assert_eq!(block_day(date!(2025 - 11 - 30)), date!(2026 - 03 - 01));
}

#[test]
fn suspension_applies_from_the_sixteenth_day() {
    assert_eq!(suspension_day(date!(2026 - 02 - 09)), date!(2026 - 02 - 25));
}

// ---------------------------------------------------------------------------------
// The dunning sweep (§4.2, §5.9, §10.3)
// ---------------------------------------------------------------------------------

#[test]
fn the_sweep_suspends_from_the_sixteenth_day_overdue() {
    // Invoice 1 is due 2026-02-09: day 15 overdue is 02-24, day 16 is 02-25.
    let given = with_invoice();
    let day_15 = decide(&given, sweep(date!(2026 - 02 - 24), false), &services()).unwrap();
    assert!(day_15.is_empty(), "{day_15:?}");
    let day_16 = decide(&given, sweep(date!(2026 - 02 - 25), false), &services()).unwrap();
    assert_eq!(
        day_16,
        vec![AgreementEvent::Suspended(Suspended {
            on: date!(2026 - 02 - 25),
            reason: RestrictionReason::Overdue,
            imposed_by: Some(ImposedBy::Sweep),
        })]
    );
    // With the policy on, the fine of 2 MRP is charged once, on the first sweep that
    // finds the invoice late.
    let with_fines = decide(&given, sweep(date!(2026 - 02 - 24), true), &services()).unwrap();
    assert_eq!(types(&with_fines), ["FineCharged"]);
    let given = then(&given, sweep(date!(2026 - 02 - 24), true));
    let again = decide(&given, sweep(date!(2026 - 02 - 24), true), &services()).unwrap();
    assert!(
        again.is_empty(),
        "a second sweep for the same date records nothing"
    );
}

#[test]
fn the_sweep_blocks_the_day_after_three_months_not_paid_in_full() {
    // Due 2026-02-09: three months after is 05-09, the block applies from 05-10.
    let given = with_invoice();
    let before = decide(&given, sweep(date!(2026 - 05 - 09), false), &services()).unwrap();
    assert_eq!(types(&before), ["Suspended"]);
    let on_the_day = decide(&given, sweep(date!(2026 - 05 - 10), false), &services()).unwrap();
    assert_eq!(
        types(&on_the_day),
        ["Suspended", "Blocked"],
        "never skips a step"
    );
    // Since 2026-12-01 a partial payment no longer keeps it from the block (§4.2: not
    // paid in full), see `block_not_paid_in_full`.
    let paid_some = then(
        &given,
        AgreementCommand::ReceivePayment(payment_command("P-1", date!(2026 - 03 - 01), "100.00")),
    );
    let partial = decide(&paid_some, sweep(date!(2026 - 05 - 10), false), &services()).unwrap();
    assert_eq!(types(&partial), ["Suspended", "Blocked"]);
}

#[test]
fn a_payment_lifts_at_once_and_the_sweep_lifts_what_the_facts_allow() {
    let given = then(&with_invoice(), sweep(date!(2026 - 05 - 10), true));
    assert_eq!(
        state_of(&given).status(),
        Some(crate::AgreementStatus::Blocked)
    );
    // Paying the principal leaves the fine: still blocked (the debt is not repaid).
    let principal = decide(
        &given,
        AgreementCommand::ReceivePayment(payment_command("P-1", date!(2026 - 05 - 11), "11600.00")),
        &services(),
    )
    .unwrap();
    assert_eq!(types(&principal), ["PaymentReceived"]);
    // Paying everything (11600.00 + 8650.00 fine) unblocks the same day.
    let everything = decide(
        &given,
        AgreementCommand::ReceivePayment(payment_command("P-1", date!(2026 - 05 - 11), "20250.00")),
        &services(),
    )
    .unwrap();
    assert_eq!(types(&everything), ["PaymentReceived", "Unblocked"]);
    // A suspension for overdue is lifted when nothing is overdue beyond 15 days.
    let suspended = then(&with_invoice(), sweep(date!(2026 - 02 - 25), false));
    let paid = decide(
        &suspended,
        AgreementCommand::ReceivePayment(payment_command("P-2", date!(2026 - 02 - 26), "11600.00")),
        &services(),
    )
    .unwrap();
    assert_eq!(types(&paid), ["PaymentReceived", "Reinstated"]);
}

#[test]
fn the_sweep_never_lifts_a_manual_restriction_and_terminates_only_when_settled() {
    let manual = then(
        &with_invoice(),
        AgreementCommand::Suspend(RestrictAccess {
            on: date!(2026 - 02 - 03),
            reason: RestrictionReason::Verification,
        }),
    );
    let swept = decide(&manual, sweep(date!(2026 - 06 - 01), false), &services()).unwrap();
    assert!(swept.is_empty(), "{swept:?}");

    let pending = then(
        &with_invoice(),
        termination(
            TerminationGround::Mutual,
            date!(2026 - 02 - 03),
            Some(date!(2026 - 02 - 05)),
        ),
    );
    let with_debt = decide(&pending, sweep(date!(2026 - 02 - 06), false), &services()).unwrap();
    assert!(
        with_debt.is_empty(),
        "debt keeps it pending (§10.3): {with_debt:?}"
    );
    let settled = then(
        &pending,
        AgreementCommand::ReceivePayment(payment_command("P-1", date!(2026 - 02 - 06), "11600.00")),
    );
    let ended = decide(&settled, sweep(date!(2026 - 02 - 06), false), &services()).unwrap();
    assert_eq!(types(&ended), ["Terminated"]);
}

// The rules changed on 2026-12-01 (DOMAIN.md, "Changed on 2026-12-01", items 1-4); the
// change to penalties in force majeure (item 4) is beside `late_payment`.
mod block_not_paid_in_full;
mod manual_overdue_suspension;
mod termination_settlement;
