//! Payments recorded late (§5.5, BILLING.md 5.1): counted from `received_on` for every
//! rule, whatever the sweep or the operator did in between.

use crate::dunning::PREVENTED_BY_PAYMENT;
use crate::fixture::*;

/// The invoice of [`with_invoice`] (issued 2026-02-02, due 2026-02-09, 11,600.00), with
/// a penalty and fine charged on 2026-02-19 and the sweep's suspension on 2026-02-25.
fn charged_and_suspended() -> Vec<AgreementEvent> {
    let given = then(
        &with_invoice(),
        charge(LateChargeKind::Penalty, date!(2026 - 02 - 19)),
    );
    let given = then(&given, charge(LateChargeKind::Fine, date!(2026 - 02 - 19)));
    let given = then(&given, sweep(date!(2026 - 02 - 25), false));
    assert_eq!(
        state_of(&given).status(),
        Some(crate::AgreementStatus::Suspended)
    );
    given
}

fn withdrawals(events: &[AgreementEvent]) -> Vec<&events::LateChargeWithdrawn> {
    events
        .iter()
        .filter_map(|event| match event {
            AgreementEvent::LateChargeWithdrawn(e) => Some(e),
            _ => None,
        })
        .collect()
}

#[test]
fn a_payment_received_on_the_due_date_and_recorded_late_withdraws_every_charge_and_lifts_the_suspension(
) {
    let given = charged_and_suspended();
    let recorded = decide(
        &given,
        pay("BANK-9", date!(2026 - 02 - 09), "11600.00"),
        &services(),
    )
    .unwrap();
    assert_eq!(
        types(&recorded),
        [
            "PaymentReceived",
            "LateChargeWithdrawn",
            "LateChargeWithdrawn",
            "Reinstated"
        ]
    );
    let withdrawn = withdrawals(&recorded);
    assert_eq!(withdrawn[0].kind, LateChargeKind::Penalty);
    assert_eq!(withdrawn[0].amount, kzt("116.00"));
    assert_eq!(withdrawn[0].charged_on, date!(2026 - 02 - 19));
    assert_eq!(withdrawn[1].kind, LateChargeKind::Fine);
    assert_eq!(withdrawn[1].amount, kzt("8650.00"));
    for withdrawal in &withdrawn {
        assert_eq!(withdrawal.payment.as_ref().unwrap().as_str(), "BANK-9");
        assert_eq!(withdrawal.received_on, Some(date!(2026 - 02 - 09)));
        assert_eq!(withdrawal.on, date!(2026 - 02 - 25));
        assert_eq!(withdrawal.moved_to_advance, kzt("0"));
        // Effective as of the charge withdrawn (as known now, it was never owed).
        assert_eq!(
            AgreementEvent::LateChargeWithdrawn((*withdrawal).clone()).business_date(),
            date!(2026 - 02 - 19)
        );
    }
    let AgreementEvent::Reinstated(lift) = &recorded[3] else {
        panic!("a reinstatement")
    };
    assert_eq!(lift.on, date!(2026 - 02 - 25));
    assert_eq!(lift.reason.as_str(), PREVENTED_BY_PAYMENT);
    assert_eq!(lift.payment.as_ref().map(|p| p.as_str()), Some("BANK-9"));

    let mut all = given.clone();
    all.extend(recorded);
    let after = state_of(&all);
    assert_eq!(after.status(), Some(crate::AgreementStatus::Active));
    assert_eq!(after.debt().unwrap(), kzt("0"));
    let invoice = invoice_one(&all);
    assert_eq!(invoice.paid_in_full_on, Some(date!(2026 - 02 - 09)));
    assert_eq!(invoice.penalty_outstanding(), kzt("0"));
    assert_eq!(invoice.fine_outstanding(), kzt("0"));
    // The same sweep again records nothing: the facts no longer call for anything.
    assert!(
        decide(&all, sweep(date!(2026 - 02 - 25), true), &services())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_late_payment_after_the_due_date_withdraws_only_the_days_it_removes() {
    let given = charged_and_suspended();
    // Received 2026-02-12: 3 days of delay, 34.80 of penalty; the fine stays (late).
    let recorded = decide(
        &given,
        pay("BANK-9", date!(2026 - 02 - 12), "11600.00"),
        &services(),
    )
    .unwrap();
    let withdrawn = withdrawals(&recorded);
    assert_eq!(withdrawn.len(), 1);
    assert_eq!(withdrawn[0].kind, LateChargeKind::Penalty);
    assert_eq!(withdrawn[0].amount, kzt("81.20"));
    let mut all = given.clone();
    all.extend(recorded);
    let invoice = invoice_one(&all);
    assert_eq!(invoice.penalty_outstanding(), kzt("34.80"));
    assert_eq!(invoice.fine_outstanding(), kzt("8650.00"));
    // Nothing is overdue beyond 15 days on 2026-02-25 any more: the suspension goes.
    assert_eq!(
        state_of(&all).status(),
        Some(crate::AgreementStatus::Active)
    );
}

#[test]
fn a_withdrawn_charge_already_paid_becomes_advance() {
    let given = then(
        &with_invoice(),
        charge(LateChargeKind::Fine, date!(2026 - 02 - 19)),
    );
    // 8,650.00 pays the principal only in part: nothing goes to the fine yet.
    let given = then(&given, pay("P-1", date!(2026 - 02 - 20), "20250.00"));
    assert_eq!(invoice_one(&given).fine_outstanding(), kzt("0"));
    assert_eq!(
        invoice_one(&given).paid_in_full_on,
        Some(date!(2026 - 02 - 20))
    );
    // Nothing more to allocate: an advance of 1,000.00 from a payment received on the
    // due date changes nothing (the invoice was completed on the 20th by P-1).
    let recorded = decide(
        &given,
        pay("P-0", date!(2026 - 02 - 09), "1000.00"),
        &services(),
    )
    .unwrap();
    assert_eq!(types(&recorded), ["PaymentReceived"]);
}

#[test]
fn a_late_payment_completing_an_invoice_on_time_returns_its_paid_fine_to_the_advance() {
    let given = then(
        &with_invoice(),
        charge(LateChargeKind::Fine, date!(2026 - 02 - 19)),
    );
    // Part of the principal, recorded in order.
    let given = then(&given, pay("P-1", date!(2026 - 02 - 20), "600.00"));
    // The rest, received on the due date, recorded late, with the fine on top.
    let recorded = decide(
        &given,
        pay("P-0", date!(2026 - 02 - 09), "19650.00"),
        &services(),
    )
    .unwrap();
    // P-1 (the 20th) completed nothing alone: the invoice was paid in full on the 20th,
    // the later of the two days; the fine stands.
    assert_eq!(types(&recorded), ["PaymentReceived"]);
    let mut all = given.clone();
    all.extend(recorded);
    assert_eq!(
        invoice_one(&all).paid_in_full_on,
        Some(date!(2026 - 02 - 20))
    );

    // Received on the due date for the whole principal and the fine: the fine is
    // withdrawn and what paid it is advance again.
    let given = then(
        &with_invoice(),
        charge(LateChargeKind::Fine, date!(2026 - 02 - 19)),
    );
    let recorded = decide(
        &given,
        pay("P-0", date!(2026 - 02 - 09), "20250.00"),
        &services(),
    )
    .unwrap();
    let withdrawn = withdrawals(&recorded);
    assert_eq!(withdrawn.len(), 1);
    assert_eq!(withdrawn[0].amount, kzt("8650.00"));
    assert_eq!(withdrawn[0].moved_to_advance, kzt("8650.00"));
    let mut all = given.clone();
    all.extend(recorded);
    let state = state_of(&all);
    assert_eq!(state.advance(), Some(kzt("8650.00")));
    assert_eq!(state.debt().unwrap(), kzt("0"));
}

#[test]
fn a_late_payment_that_would_not_have_prevented_the_suspension_keeps_it() {
    let given = charged_and_suspended();
    // Received on 2026-02-25 itself (after the sweep's 16th day): the suspension was
    // called for, and is lifted because nothing is overdue now (§4.2), not as prevented.
    let recorded = decide(
        &given,
        pay("BANK-9", date!(2026 - 02 - 24), "5000.00"),
        &services(),
    )
    .unwrap();
    assert_eq!(types(&recorded), ["PaymentReceived"]);
    assert_eq!(
        state_of(&[given, recorded].concat()).status(),
        Some(crate::AgreementStatus::Suspended)
    );
}
