//! Waivers: every figure in full, as an auditor checks it by hand (§5.9).

use super::*;

#[test]
fn a_waiver_beyond_what_is_waivable_or_of_zero_is_refused() {
    use LateChargeKind::{Fine, Penalty};
    let given = then(&with_invoice(), charge(Penalty, date!(2026 - 02 - 19)));
    // As of 2026-02-24: 116.00 charged and owed + 58.00 accrued since = 174.00.
    let on = date!(2026 - 02 - 24);
    framework()
        .given(given.clone())
        .when(waive(Penalty, "174.01", Some(on)))
        .then_expect_error(AgreementError::WaiverTooLarge {
            invoice_number: number(1),
            kind: Penalty,
            on,
            requested: kzt("174.01"),
            waivable: kzt("174.00"),
        });
    framework()
        .given(given.clone())
        .when(waive(Penalty, "174.00", Some(on)))
        .then_expect_events(vec![waived(Penalty, on, "174.00", "116.00", "58.00")]);
    framework()
        .given(given.clone())
        .when(waive(Penalty, "0.00", Some(on)))
        .then_expect_error(AgreementError::ZeroWaiver);
    // What was paid can no longer be waived: principal and 100.00 of the penalty paid on
    // 2026-02-20 leave 16.00 owed, and accrual stopped that day (127.60 - 116.00 = 11.60).
    let paid = then(&given, pay("P-1", date!(2026 - 02 - 20), "11700.00"));
    framework()
        .given(paid)
        .when(waive(Penalty, "27.61", Some(on)))
        .then_expect_error(AgreementError::WaiverTooLarge {
            invoice_number: number(1),
            kind: Penalty,
            on,
            requested: kzt("27.61"),
            waivable: kzt("27.60"),
        });
    // Nothing late, nothing to waive.
    framework()
        .given(with_invoice())
        .when(waive(Fine, "1.00", Some(DUE)))
        .then_expect_error(AgreementError::WaiverTooLarge {
            invoice_number: number(1),
            kind: Fine,
            on: DUE,
            requested: kzt("1.00"),
            waivable: kzt("0.00"),
        });
}

#[test]
fn waiving_a_charged_penalty_lowers_the_debt() {
    use LateChargeKind::Penalty;
    let on = date!(2026 - 02 - 19);
    let given = then(&with_invoice(), charge(Penalty, on));
    framework()
        .given(given.clone())
        .when(waive(Penalty, "16.00", Some(on)))
        .then_expect_events(vec![waived(Penalty, on, "16.00", "16.00", "0.00")]);
    let given = then(&given, waive(Penalty, "16.00", Some(on)));
    let invoice = invoice_one(&given);
    assert_eq!(
        (
            invoice.penalty_waived_charged,
            invoice.penalty_waived_uncharged,
            invoice.penalty_outstanding()
        ),
        (kzt("16.00"), kzt("0.00"), kzt("100.00"))
    );
    // Waiving what was charged does not make it chargeable again.
    framework()
        .given(given.clone())
        .when(charge(Penalty, on))
        .then_expect_error(nothing_to_charge(Penalty, on, "116.00", "116.00", "0.00"));
    // A payment now settles the principal, then only the 100.00 still owed.
    let payment = payment_event(
        decide(
            &given,
            pay("P-1", date!(2026 - 02 - 20), "11750.00"),
            &services(),
        )
        .unwrap(),
    );
    assert_eq!(
        (payment.allocations, payment.advance),
        (
            vec![allocation(1, "11600.00", "100.00", "0.00")],
            kzt("50.00")
        )
    );
}

#[test]
fn waiving_before_charging_lowers_what_a_later_charge_takes() {
    use LateChargeKind::{Fine, Penalty};
    let on = date!(2026 - 02 - 19);
    // Nothing charged yet: 50.00 of the 116.00 accrued is waived.
    framework()
        .given(with_invoice())
        .when(waive(Penalty, "50.00", Some(on)))
        .then_expect_events(vec![waived(Penalty, on, "50.00", "0.00", "50.00")]);
    let given = then(&with_invoice(), waive(Penalty, "50.00", Some(on)));
    let invoice = invoice_one(&given);
    assert_eq!(
        (
            invoice.penalty_waived_uncharged,
            invoice.penalty_outstanding()
        ),
        (kzt("50.00"), kzt("0.00"))
    );
    // The same day: 116.00 - 50.00 = 66.00.
    framework()
        .given(given.clone())
        .when(charge(Penalty, on))
        .then_expect_events(vec![penalty_charged(
            on,
            "66.00",
            accrual_on_invoice_one(on, 10, "116.00", false, false),
        )]);
    // A day later: 127.60 accrued - 66.00 charged - 50.00 waived = 11.60.
    let given = then(&given, charge(Penalty, on));
    let next = date!(2026 - 02 - 20);
    framework()
        .given(given)
        .when(charge(Penalty, next))
        .then_expect_events(vec![penalty_charged(
            next,
            "11.60",
            accrual_on_invoice_one(next, 11, "127.60", false, false),
        )]);
    // The fine waived in part before it is charged: the rest is charged.
    let given = then(&with_invoice(), waive(Fine, "650.00", Some(on)));
    let events = decide(&given, charge(Fine, on), &services()).unwrap();
    let [AgreementEvent::FineCharged(fine)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(
        (fine.amount, fine.assessment.amount),
        (kzt("8000.00"), kzt("8650.00"))
    );
    // Waived in full: nothing is left to charge.
    let given = then(&with_invoice(), waive(Fine, "8650.00", Some(on)));
    framework()
        .given(given)
        .when(charge(Fine, next))
        .then_expect_error(nothing_to_charge(Fine, next, "8650.00", "0.00", "8650.00"));
}

#[test]
fn a_fine_partly_settled_by_an_advance_can_be_waived_only_for_what_is_owed() {
    use LateChargeKind::Fine;
    let on = date!(2026 - 02 - 20);
    // 8650.00 charged, 8400.00 of it settled from the advance: 250.00 owed.
    let given = then(&with_invoice(), pay("P-1", on, "20000.00"));
    let given = then(&given, charge(Fine, on));
    framework()
        .given(given.clone())
        .when(waive(Fine, "250.01", Some(on)))
        .then_expect_error(AgreementError::WaiverTooLarge {
            invoice_number: number(1),
            kind: Fine,
            on,
            requested: kzt("250.01"),
            waivable: kzt("250.00"),
        });
    let given = then(&given, waive(Fine, "250.00", Some(on)));
    let invoice = invoice_one(&given);
    assert_eq!(
        (invoice.fine_waived_charged, invoice.fine_outstanding()),
        (kzt("250.00"), kzt("0.00"))
    );
}

#[test]
fn an_undated_waiver_is_dated_today() {
    use LateChargeKind::Penalty;
    let given = then(&with_invoice(), charge(Penalty, date!(2026 - 02 - 19)));
    let today = date!(2026 - 03 - 01);
    Framework::with(services_on(today, 2))
        .given(given.clone())
        .when(waive(Penalty, "10.00", None))
        .then_expect_events(vec![waived(Penalty, today, "10.00", "10.00", "0.00")]);
    // What may be waived is then counted as of today: 116.00 owed + 116.00 accrued since.
    Framework::with(services_on(today, 2))
        .given(given.clone())
        .when(waive(Penalty, "232.01", None))
        .then_expect_error(AgreementError::WaiverTooLarge {
            invoice_number: number(1),
            kind: Penalty,
            on: today,
            requested: kzt("232.01"),
            waivable: kzt("232.00"),
        });
    // A named date after today is refused.
    Framework::with(services_on(today, 2))
        .given(given)
        .when(waive(Penalty, "10.00", Some(date!(2026 - 03 - 02))))
        .then_expect_error(AgreementError::InTheFuture {
            what: "the waiver date",
            date: date!(2026 - 03 - 02),
            today,
        });
}

#[test]
fn a_waiver_is_refused_on_an_unknown_invoice_before_signing_after_termination_and_out_of_order() {
    use LateChargeKind::Penalty;
    let on = date!(2026 - 03 - 02);
    framework()
        .given(with_invoice())
        .when(waive_invoice(9, Penalty, "1.00", Some(on)))
        .then_expect_error(AgreementError::UnknownInvoice(number(9)));
    framework()
        .given(vec![registered_event(Currency::KZT, true)])
        .when(waive(Penalty, "1.00", Some(on)))
        .then_expect_error(AgreementError::NotSigned { action: "waived" });
    framework()
        .given_no_previous_events()
        .when(waive(Penalty, "1.00", Some(on)))
        .then_expect_error(AgreementError::NotRegistered);
    let mut terminated = with_invoice();
    terminated.push(AgreementEvent::Terminated(Terminated {
        on: date!(2026 - 03 - 01),
    }));
    framework()
        .given(terminated)
        .when(waive(Penalty, "1.00", Some(on)))
        .then_expect_error(AgreementError::AlreadyTerminated {
            terminated_on: date!(2026 - 03 - 01),
            action: "waived",
        });
    framework()
        .given(then(
            &with_invoice(),
            pay("P-1", date!(2026 - 02 - 20), "100.00"),
        ))
        .when(waive(Penalty, "1.00", Some(date!(2026 - 02 - 19))))
        .then_expect_error(AgreementError::Backdated {
            what: "the waiver date",
            date: date!(2026 - 02 - 19),
            latest: date!(2026 - 02 - 20),
        });
}
