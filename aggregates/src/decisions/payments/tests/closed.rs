//! Closed periods (BILLING.md 5.4): no document dated in a closed month is recorded; a
//! bank payment received in one is, posted on the first open day with its true date.

use crate::fixture::*;

/// Services with February 2026 closed.
fn february_closed() -> AgreementServices {
    AgreementServices {
        tariffs: Default::default(),
        closed_through: Some(date!(2026 - 02 - 28)),
        ..services()
    }
}

#[test]
fn a_document_dated_in_a_closed_month_is_refused_as_period_closed() {
    let given = with_invoice();
    for command in [
        charge(LateChargeKind::Penalty, date!(2026 - 02 - 20)),
        sweep(date!(2026 - 02 - 27), true),
        AgreementCommand::VoidInvoice(VoidInvoice {
            number: number(1),
            on: date!(2026 - 02 - 28),
            reason: ReasonNote::parse("issued by mistake").unwrap(),
        }),
    ] {
        let error = decide(&given, command, &february_closed()).unwrap_err();
        assert!(
            matches!(error, AgreementError::PeriodClosed { closed_through, .. } if closed_through == date!(2026 - 02 - 28)),
            "{error:?}"
        );
        assert_eq!(error.kind(), ErrorKind::Conflict);
        assert_eq!(error.clause(), Some(Clause::PERIOD_CLOSE));
    }
    // The first open day is open.
    let charged = decide(
        &given,
        charge(LateChargeKind::Penalty, date!(2026 - 03 - 01)),
        &february_closed(),
    )
    .unwrap();
    assert_eq!(types(&charged), ["PenaltyCharged"]);
}

#[test]
fn a_payment_received_in_a_closed_month_is_posted_on_the_first_open_day_and_counts_from_its_true_date(
) {
    // Invoice 1 (issued 2026-02-02, due 2026-02-09) charged on 2026-03-02 for 21 days;
    // the bank statement of 2026-02-09 arrives after February was closed.
    let given = then(
        &with_invoice(),
        charge(LateChargeKind::Penalty, date!(2026 - 03 - 02)),
    );
    let recorded = decide(
        &given,
        pay("BANK-9", date!(2026 - 02 - 09), "11600.00"),
        &february_closed(),
    )
    .unwrap();
    let AgreementEvent::PaymentReceived(payment) = &recorded[0] else {
        panic!("{recorded:?}");
    };
    assert_eq!(payment.received_on, date!(2026 - 02 - 09));
    assert_eq!(payment.posted_on, Some(date!(2026 - 03 - 01)));
    // Received on the due date: no penalty was owed; the withdrawal is posted in March.
    let AgreementEvent::LateChargeWithdrawn(withdrawn) = &recorded[1] else {
        panic!("{recorded:?}");
    };
    assert_eq!(withdrawn.charged_on, date!(2026 - 03 - 02));
    assert_eq!(withdrawn.posted_on, None);
    let mut state = state_of(&given);
    for event in recorded {
        state.apply_event(event);
    }
    assert_eq!(
        state.invoice(number(1)).unwrap().paid_in_full_on,
        Some(date!(2026 - 02 - 09))
    );
    // An open month's payment is posted on its own date.
    let open = decide(
        &with_invoice(),
        pay("BANK-10", date!(2026 - 03 - 03), "100.00"),
        &february_closed(),
    )
    .unwrap();
    let AgreementEvent::PaymentReceived(payment) = &open[0] else {
        panic!("{open:?}");
    };
    assert_eq!(payment.posted_on, None);
}

#[test]
fn a_withdrawal_of_a_charge_made_in_a_closed_month_is_posted_on_the_first_open_day() {
    let given = then(
        &with_invoice(),
        charge(LateChargeKind::Penalty, date!(2026 - 02 - 20)),
    );
    let recorded = decide(
        &given,
        pay("BANK-9", date!(2026 - 02 - 09), "11600.00"),
        &february_closed(),
    )
    .unwrap();
    let AgreementEvent::LateChargeWithdrawn(withdrawn) = &recorded[1] else {
        panic!("{recorded:?}");
    };
    assert_eq!(withdrawn.charged_on, date!(2026 - 02 - 20));
    assert_eq!(withdrawn.posted_on, Some(date!(2026 - 03 - 01)));
    assert_eq!(withdrawn.on, date!(2026 - 03 - 01));
}
