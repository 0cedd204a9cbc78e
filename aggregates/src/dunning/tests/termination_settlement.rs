//! §10.3 as re-read on 2026-12-01: settlement includes the penalties and fines accrued,
//! not only those charged. On (or after) the termination's effective date the sweep
//! charges what has accrued and is not yet charged (the operator may still waive), and
//! the agreement terminates once everything is paid. No invoice is issued for a day
//! after the effective date.

use super::*;

/// Invoice 1 (11600.00, due 2026-02-09), termination by mutual agreement noticed on
/// 2026-02-10, effective 2026-02-20.
fn pending() -> Vec<AgreementEvent> {
    then(
        &with_invoice(),
        termination(
            TerminationGround::Mutual,
            date!(2026 - 02 - 10),
            Some(date!(2026 - 02 - 20)),
        ),
    )
}

fn issue_on(on: Date) -> AgreementCommand {
    AgreementCommand::IssueInvoice(invoice_command(InvoiceKind::Usage, on, "100.00"))
}

#[test]
fn no_invoice_is_issued_for_a_day_after_the_effective_date() {
    let services = services_on(date!(2026 - 12 - 31), 2);
    let on_the_day = decide(&pending(), issue_on(date!(2026 - 02 - 20)), &services).unwrap();
    assert_eq!(types(&on_the_day), ["InvoiceIssued"]);
    let after = decide(&pending(), issue_on(date!(2026 - 02 - 21)), &services).unwrap_err();
    assert_eq!(after.kind(), ErrorKind::RuleViolation, "{after:?}");
    assert_eq!(after.clause(), Some(Clause::SETTLEMENT), "{after:?}");
    assert!(after.to_string().contains("§10.3"), "{after}");
}

#[test]
fn the_sweep_on_the_effective_date_charges_what_has_accrued_and_keeps_it_pending() {
    // 2026-02-10 to 2026-02-20: 11 days, 11600.00 x 0.001 x 11 = 127.60; the fine is
    // 2 x 4,325 = 8650.00. Charged although the fine policy is off: settlement (§10.3).
    let before = decide(&pending(), sweep(date!(2026 - 02 - 19), false), &services()).unwrap();
    assert!(before.is_empty(), "{before:?}");
    let events = decide(&pending(), sweep(date!(2026 - 02 - 20), false), &services()).unwrap();
    assert_eq!(types(&events), ["PenaltyCharged", "FineCharged"]);
    let AgreementEvent::PenaltyCharged(penalty) = &events[0] else {
        unreachable!()
    };
    assert_eq!(penalty.amount, kzt("127.60"));
    assert_eq!(penalty.accrual.days, 11);
    // Recorded as charged on settlement: the event names §10.3.
    assert!(penalty.settlement);
    assert_eq!(events[0].clause(), Clause::SETTLEMENT);
    assert_eq!(events[1].clause(), Clause::SETTLEMENT);
    let AgreementEvent::FineCharged(fine) = &events[1] else {
        unreachable!()
    };
    assert_eq!(fine.amount, kzt("8650.00"));
    let given = then(&pending(), sweep(date!(2026 - 02 - 20), false));
    assert_eq!(
        state_of(&given).status(),
        Some(crate::AgreementStatus::TerminationPending)
    );
    // Everything paid the same day: the next sweep terminates.
    let given = then(&given, pay("P-1", date!(2026 - 02 - 20), "20377.60"));
    let ended = decide(&given, sweep(date!(2026 - 02 - 20), false), &services()).unwrap();
    assert_eq!(types(&ended), ["Terminated"]);
}

#[test]
fn principal_paid_after_the_effective_date_owes_the_penalty_up_to_that_day() {
    let given = then(&pending(), sweep(date!(2026 - 02 - 20), false));
    // Everything charged on 02-20 paid on 02-22: the principal was late 13 days, so
    // 2 more days of penalty (23.20) are charged and the agreement stays pending.
    let given = then(&given, pay("P-1", date!(2026 - 02 - 22), "20377.60"));
    let events = decide(&given, sweep(date!(2026 - 02 - 23), false), &services()).unwrap();
    assert_eq!(types(&events), ["PenaltyCharged"]);
    let AgreementEvent::PenaltyCharged(penalty) = &events[0] else {
        unreachable!()
    };
    assert_eq!(penalty.amount, kzt("23.20"));
    let given = then(&given, sweep(date!(2026 - 02 - 23), false));
    let given = then(&given, pay("P-2", date!(2026 - 02 - 24), "23.20"));
    let ended = decide(&given, sweep(date!(2026 - 02 - 24), false), &services()).unwrap();
    assert_eq!(types(&ended), ["Terminated"]);
}

#[test]
fn what_the_operator_waived_or_charged_before_is_not_charged_again() {
    // The whole penalty to date waived and the fine charged before the effective date.
    let given = then(
        &pending(),
        waive_invoice(
            1,
            LateChargeKind::Penalty,
            "116.00",
            Some(date!(2026 - 02 - 19)),
        ),
    );
    let given = then(
        &given,
        charge_invoice(1, LateChargeKind::Fine, date!(2026 - 02 - 19)),
    );
    let events = decide(&given, sweep(date!(2026 - 02 - 20), false), &services()).unwrap();
    // Only the 20th's day of penalty (127.60 accrued - 116.00 waived) is left to charge.
    assert_eq!(types(&events), ["PenaltyCharged"]);
    let AgreementEvent::PenaltyCharged(penalty) = &events[0] else {
        unreachable!()
    };
    assert_eq!(penalty.amount, kzt("11.60"));
    let fine_before = then(
        &pending(),
        charge_invoice(1, LateChargeKind::Fine, date!(2026 - 02 - 19)),
    );
    assert_eq!(fine_before.last().unwrap().clause(), Clause::LATE_PAYMENT);
    // The operator may still waive what was charged; paid principal and fine, it ends.
    let given = then(&given, sweep(date!(2026 - 02 - 20), false));
    let given = then(
        &given,
        waive_invoice(
            1,
            LateChargeKind::Penalty,
            "11.60",
            Some(date!(2026 - 02 - 20)),
        ),
    );
    let given = then(&given, pay("P-1", date!(2026 - 02 - 20), "20250.00"));
    let ended = decide(&given, sweep(date!(2026 - 02 - 20), false), &services()).unwrap();
    assert_eq!(types(&ended), ["Terminated"]);
}

/// Reference data without the MRP of 2026: the fine cannot be priced.
fn services_without_mrp_2026() -> AgreementServices {
    let mrp = "version = \"no-2026\"\nsource = \"test\"\n[[year]]\nyear = 2025\nmrp = \"3932\"\n";
    let sources = ReferenceSources {
        exchange_rates: RATES,
        mrp,
        ..ReferenceSources::embedded()
    };
    AgreementServices {
        tariffs: Default::default(),
        reference: Arc::new(ReferenceData::parse(&sources).unwrap()),
        today: date!(2026 - 12 - 31),
        next_invoice_number: None,
        closed_through: None,
    }
}

#[test]
fn a_fine_that_cannot_be_priced_is_skipped_and_stays_pending() {
    let without = services_without_mrp_2026();
    // The sweep goes on (with the fine policy on, too): the penalty is charged.
    for charge_fines in [false, true] {
        let events = decide(
            &pending(),
            sweep(date!(2026 - 02 - 20), charge_fines),
            &without,
        )
        .unwrap_or_else(|e| panic!("the sweep must not abort: {e}"));
        assert_eq!(
            types(&events),
            ["PenaltyCharged"],
            "charge_fines {charge_fines}"
        );
    }
    // Principal and penalty paid: the fine is still pending, and a missing MRP never
    // stops the termination (BILLING.md 1): the sweep terminates the agreement.
    let mut given = pending();
    given.extend(decide(&given, sweep(date!(2026 - 02 - 20), false), &without).unwrap());
    given.extend(
        decide(
            &given,
            pay("P-1", date!(2026 - 02 - 20), "11727.60"),
            &without,
        )
        .unwrap(),
    );
    let terminated = decide(&given, sweep(date!(2026 - 02 - 21), false), &without).unwrap();
    assert_eq!(types(&terminated), ["Terminated"]);
    // Had the MRP been published by then, the settlement would have charged the fine
    // first, and the agreement would wait for it to be paid.
    let priced = decide(&given, sweep(date!(2026 - 02 - 21), false), &services()).unwrap();
    assert_eq!(types(&priced), ["FineCharged"]);
}
