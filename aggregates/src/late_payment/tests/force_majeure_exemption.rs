//! §8.1 as re-read on 2026-12-01: force majeure exempts the parties from liability. No
//! penalty accrues for the days of a declared force majeure, and the sweep does not
//! suspend or block for debt on a date inside one.

use crate::fixture::*;

#[test]
fn no_penalty_accrues_for_the_days_of_an_ended_force_majeure() {
    // Late from 2026-02-10; force majeure 02-15 to 02-20 (6 days, both included).
    let given = then(
        &with_invoice(),
        declare(date!(2026 - 02 - 15), date!(2026 - 02 - 16)),
    );
    let given = then(&given, end(date!(2026 - 02 - 20)));
    let events = decide(
        &given,
        charge(LateChargeKind::Penalty, date!(2026 - 03 - 01)),
        &services(),
    )
    .unwrap();
    let AgreementEvent::PenaltyCharged(penalty) = &events[0] else {
        panic!("{events:?}")
    };
    // 02-10 to 03-01 is 20 days of delay, 6 of them force majeure: 14 x 11.60 = 162.40.
    assert_eq!(penalty.accrual.days, 14);
    assert_eq!(penalty.accrual.force_majeure_days, 6);
    assert_eq!(penalty.amount, kzt("162.40"));
    assert!(serde_json::to_string(&events[0])
        .unwrap()
        .contains(r#""force_majeure_days":6"#));
}

#[test]
fn an_accrual_without_force_majeure_is_written_as_before() {
    // Accruals recorded before 2026-12-01 have no `force_majeure_days`: it reads as 0
    // and a zero is not written, so those events keep their JSON and hashes.
    let events = decide(
        &with_invoice(),
        charge(LateChargeKind::Penalty, date!(2026 - 02 - 19)),
        &services(),
    )
    .unwrap();
    let json = serde_json::to_string(&events[0]).unwrap();
    assert!(!json.contains("force_majeure_days"), "{json}");
    let back: AgreementEvent = serde_json::from_str(&json).unwrap();
    assert_eq!(back, events[0]);
}

#[test]
fn a_penalty_capped_counts_fifty_days_outside_force_majeure() {
    // 10 days of force majeure (02-20 to 03-01): the cap is reached on the 60th day of
    // delay, 2026-04-10, not on the 50th.
    let given = then(
        &with_invoice(),
        declare(date!(2026 - 02 - 20), date!(2026 - 02 - 21)),
    );
    let given = then(&given, end(date!(2026 - 03 - 01)));
    let accrual = |on: Date| {
        crate::late_payment::penalty(
            &invoice_one(&given).delay_facts(state_of(&given).force_majeure()),
            on,
        )
        .unwrap()
    };
    let day_59 = accrual(date!(2026 - 04 - 09));
    assert_eq!((day_59.days, day_59.capped), (49, false));
    let day_60 = accrual(date!(2026 - 04 - 10));
    assert_eq!(
        (day_60.days, day_60.amount, day_60.capped),
        (50, kzt("580.00"), true)
    );
}

#[test]
fn no_penalty_accrues_during_an_ongoing_force_majeure() {
    let given = then(
        &with_invoice(),
        declare(date!(2026 - 02 - 15), date!(2026 - 02 - 16)),
    );
    let events = decide(
        &given,
        charge(LateChargeKind::Penalty, date!(2026 - 02 - 25)),
        &services(),
    )
    .unwrap();
    let AgreementEvent::PenaltyCharged(penalty) = &events[0] else {
        panic!("{events:?}")
    };
    // 02-10 to 02-14: 5 days.
    assert_eq!((penalty.accrual.days, penalty.amount), (5, kzt("58.00")));
}

#[test]
fn the_sweep_does_not_suspend_or_block_during_force_majeure() {
    let given = then(
        &with_invoice(),
        declare(date!(2026 - 02 - 20), date!(2026 - 02 - 21)),
    );
    let during = decide(&given, sweep(date!(2026 - 02 - 25), false), &services()).unwrap();
    assert!(during.is_empty(), "{during:?}");
    let long = decide(&given, sweep(date!(2026 - 05 - 10), false), &services()).unwrap();
    assert!(long.is_empty(), "{long:?}");
    // Not forgiven: the day after it ends, the overdue is acted on.
    let given = then(&given, end(date!(2026 - 03 - 01)));
    let on_the_last_day = decide(&given, sweep(date!(2026 - 03 - 01), false), &services()).unwrap();
    assert!(on_the_last_day.is_empty(), "{on_the_last_day:?}");
    let after = decide(&given, sweep(date!(2026 - 03 - 02), false), &services()).unwrap();
    assert_eq!(types(&after), ["Suspended"]);
}

#[test]
fn force_majeure_neither_lifts_a_restriction_nor_stops_a_payment_lifting_it() {
    // Suspended by the sweep on day 16 (02-25); force majeure from 02-26.
    let given = then(&with_invoice(), sweep(date!(2026 - 02 - 25), false));
    let given = then(
        &given,
        declare(date!(2026 - 02 - 26), date!(2026 - 02 - 26)),
    );
    let during = decide(&given, sweep(date!(2026 - 03 - 10), false), &services()).unwrap();
    assert!(during.is_empty(), "not forgiven: {during:?}");
    assert_eq!(
        state_of(&given).status(),
        Some(crate::AgreementStatus::Suspended)
    );
    // No block during it, although 3 months have passed.
    let long = decide(&given, sweep(date!(2026 - 05 - 10), false), &services()).unwrap();
    assert!(long.is_empty(), "{long:?}");
    // A payment in full lifts the suspension at once, force majeure or not.
    let paid = decide(
        &given,
        pay("P-1", date!(2026 - 03 - 10), "11600.00"),
        &services(),
    )
    .unwrap();
    assert_eq!(types(&paid), ["PaymentReceived", "Reinstated"]);
}

#[test]
fn days_of_force_majeure_in_a_period_count_start_and_end() {
    use crate::late_payment::force_majeure_days;
    use crate::ForceMajeurePeriod;
    let periods = [
        ForceMajeurePeriod {
            started_on: date!(2026 - 02 - 15),
            ended_on: Some(date!(2026 - 02 - 20)),
        },
        ForceMajeurePeriod {
            started_on: date!(2026 - 03 - 01),
            ended_on: None,
        },
    ];
    let count = |from, to| force_majeure_days(&periods, from, to);
    assert_eq!(count(date!(2026 - 02 - 10), date!(2026 - 02 - 14)), 0);
    assert_eq!(count(date!(2026 - 02 - 10), date!(2026 - 02 - 15)), 1);
    assert_eq!(count(date!(2026 - 02 - 17), date!(2026 - 02 - 28)), 4);
    assert_eq!(count(date!(2026 - 02 - 10), date!(2026 - 03 - 05)), 11);
}
