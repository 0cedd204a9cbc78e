//! Charges: every figure in full, as an auditor checks it by hand (§5.9).

use super::*;

#[test]
fn a_penalty_charge_records_the_whole_accrual_explained() {
    use LateChargeKind::Penalty;
    // 15 days late (2026-02-10 .. 2026-02-24): 11600.00 x 0.001 x 15 = 174.00.
    let on = date!(2026 - 02 - 24);
    framework()
        .given(with_invoice())
        .when(charge(Penalty, on))
        .then_expect_events(vec![penalty_charged(
            on,
            "174.00",
            accrual_on_invoice_one(on, 15, "174.00", false, false),
        )]);
    let charged = &decide(&with_invoice(), charge(Penalty, on), &services()).unwrap()[0];
    assert_eq!(charged.clause(), Clause::LATE_PAYMENT);
}

#[test]
fn the_penalty_is_capped_at_five_percent_from_day_fifty() {
    use LateChargeKind::Penalty;
    let day_49 = date!(2026 - 03 - 30);
    let day_50 = date!(2026 - 03 - 31);
    // Day 49: 11600.00 x 0.001 x 49 = 568.40, under the cap.
    framework()
        .given(with_invoice())
        .when(charge(Penalty, day_49))
        .then_expect_events(vec![penalty_charged(
            day_49,
            "568.40",
            accrual_on_invoice_one(day_49, 49, "568.40", false, false),
        )]);
    // Day 50: 580.00, exactly the cap, in one charge.
    framework()
        .given(with_invoice())
        .when(charge(Penalty, day_50))
        .then_expect_events(vec![penalty_charged(
            day_50,
            "580.00",
            accrual_on_invoice_one(day_50, 50, "580.00", true, false),
        )]);
    // Day 49 charged, then day 50: 580.00 - 568.40 = 11.60 more.
    let given = then(&with_invoice(), charge(Penalty, day_49));
    framework()
        .given(given.clone())
        .when(charge(Penalty, day_50))
        .then_expect_events(vec![penalty_charged(
            day_50,
            "11.60",
            accrual_on_invoice_one(day_50, 50, "580.00", true, false),
        )]);
    // Past the cap nothing more ever accrues.
    let given = then(&given, charge(Penalty, day_50));
    let year_end = date!(2026 - 12 - 31);
    framework()
        .given(given)
        .when(charge(Penalty, year_end))
        .then_expect_error(nothing_to_charge(
            Penalty, year_end, "580.00", "580.00", "0.00",
        ));
}

#[test]
fn a_second_penalty_charge_the_same_day_is_refused_and_a_later_one_takes_the_increment() {
    use LateChargeKind::Penalty;
    let first = date!(2026 - 02 - 19);
    let given = then(&with_invoice(), charge(Penalty, first));
    framework()
        .given(given.clone())
        .when(charge(Penalty, first))
        .then_expect_error(nothing_to_charge(
            Penalty, first, "116.00", "116.00", "0.00",
        ));
    // 2026-03-01: 20 days, 232.00 accrued, of which 116.00 charged already.
    let later = date!(2026 - 03 - 01);
    framework()
        .given(given.clone())
        .when(charge(Penalty, later))
        .then_expect_events(vec![penalty_charged(
            later,
            "116.00",
            accrual_on_invoice_one(later, 20, "232.00", false, false),
        )]);
    let given = then(&given, charge(Penalty, later));
    let invoice = invoice_one(&given);
    assert_eq!(invoice.penalty_charged, kzt("232.00"));
    assert_eq!(invoice.penalty_outstanding(), kzt("232.00"));
    assert_eq!(invoice.principal_outstanding(), kzt("11600.00"));
}

#[test]
fn a_charge_is_refused_while_the_invoice_is_not_late() {
    use LateChargeKind::{Fine, Penalty};
    // On the due date itself: no day of delay yet.
    for kind in [Penalty, Fine] {
        framework()
            .given(with_invoice())
            .when(charge(kind, DUE))
            .then_expect_error(AgreementError::NotLate {
                invoice_number: number(1),
                kind,
                on: DUE,
                due_on: DUE,
            });
    }
    // Paid in full on its due date: never late, however long after.
    let paid = then(&with_invoice(), pay("P-1", DUE, "11600.00"));
    assert_eq!(invoice_one(&paid).paid_in_full_on, Some(DUE));
    let later = date!(2026 - 06 - 01);
    for kind in [Penalty, Fine] {
        framework()
            .given(paid.clone())
            .when(charge(kind, later))
            .then_expect_error(AgreementError::NotLate {
                invoice_number: number(1),
                kind,
                on: later,
                due_on: DUE,
            });
    }
    // Settled on issue by an advance: never late either.
    let given = then(
        &[registered_event(Currency::KZT, true), signed_event()],
        pay("ADV-1", date!(2026 - 01 - 20), "20000.00"),
    );
    let given = then(
        &given,
        AgreementCommand::IssueInvoice(invoice_command(
            InvoiceKind::Subscription,
            date!(2026 - 02 - 02),
            "10000.00",
        )),
    );
    assert_eq!(
        invoice_one(&given).paid_in_full_on,
        Some(date!(2026 - 02 - 02))
    );
    let error = decide(&given, charge(Penalty, later), &services()).unwrap_err();
    assert!(matches!(error, AgreementError::NotLate { .. }), "{error:?}");
    assert_eq!(error.kind(), ErrorKind::RuleViolation);
    assert_eq!(error.clause(), Some(Clause::LATE_PAYMENT));
}

#[test]
fn a_charge_is_refused_on_an_unknown_invoice_before_signing_after_termination_and_out_of_order() {
    use LateChargeKind::Penalty;
    let on = date!(2026 - 03 - 02);
    framework()
        .given(with_invoice())
        .when(charge_invoice(9, Penalty, on))
        .then_expect_error(AgreementError::UnknownInvoice(number(9)));
    // Nothing can be charged before signing (§1.5), whatever the invoice.
    framework()
        .given(vec![registered_event(Currency::KZT, true)])
        .when(charge(Penalty, on))
        .then_expect_error(AgreementError::NotSigned { action: "charged" });
    // Nor after termination (§10.3).
    let mut terminated = with_invoice();
    terminated.push(AgreementEvent::TerminationRequested(TerminationRequested {
        ground: TerminationGround::Mutual,
        notice_received_on: date!(2026 - 03 - 01),
        effective_on: date!(2026 - 03 - 01),
        settlement_due_on: None,
    }));
    terminated.push(AgreementEvent::Terminated(Terminated {
        on: date!(2026 - 03 - 01),
    }));
    framework()
        .given(terminated)
        .when(charge(Penalty, on))
        .then_expect_error(AgreementError::AlreadyTerminated {
            terminated_on: date!(2026 - 03 - 01),
            action: "charged",
        });
    // Backdated: a payment was recorded on 2026-02-20.
    framework()
        .given(then(
            &with_invoice(),
            pay("P-1", date!(2026 - 02 - 20), "100.00"),
        ))
        .when(charge(Penalty, date!(2026 - 02 - 19)))
        .then_expect_error(AgreementError::Backdated {
            what: "the charge date",
            date: date!(2026 - 02 - 19),
            latest: date!(2026 - 02 - 20),
        });
    // In the future.
    Framework::with(services_on(date!(2026 - 03 - 01), 2))
        .given(with_invoice())
        .when(charge(Penalty, on))
        .then_expect_error(AgreementError::InTheFuture {
            what: "the charge date",
            date: on,
            today: date!(2026 - 03 - 01),
        });
    // Before the registration.
    framework()
        .given(with_invoice())
        .when(charge(Penalty, date!(2025 - 12 - 31)))
        .then_expect_error(AgreementError::BeforeRegistration {
            what: "the charge date",
            date: date!(2025 - 12 - 31),
            registered_on: date!(2026 - 01 - 05),
        });
}

#[test]
fn the_fine_is_two_mrp_of_2026_charged_once() {
    use LateChargeKind::Fine;
    let on = date!(2026 - 03 - 02);
    framework()
        .given(with_invoice())
        .when(charge(Fine, on))
        .then_expect_events(vec![fine_charged(on, "8650.00", fine_on_invoice_one())]);
    let given = then(&with_invoice(), charge(Fine, on));
    assert_eq!(invoice_one(&given).fine_outstanding(), kzt("8650.00"));
    // Once per late invoice: it does not grow with time.
    let year_end = date!(2026 - 12 - 31);
    framework()
        .given(given.clone())
        .when(charge(Fine, year_end))
        .then_expect_error(nothing_to_charge(
            Fine, year_end, "8650.00", "8650.00", "0.00",
        ));
    // Nor does paying it (11600.00 + 8650.00) make room for another.
    let given = then(&given, pay("P-1", date!(2026 - 03 - 03), "20250.00"));
    let invoice = invoice_one(&given);
    assert_eq!(
        (invoice.fine_paid, invoice.fine_outstanding()),
        (kzt("8650.00"), kzt("0.00"))
    );
    framework()
        .given(given)
        .when(charge(Fine, year_end))
        .then_expect_error(nothing_to_charge(
            Fine, year_end, "8650.00", "8650.00", "0.00",
        ));
}

#[test]
fn an_invoice_paid_one_day_late_owes_the_whole_fine_and_one_day_of_penalty() {
    use LateChargeKind::{Fine, Penalty};
    let given = then(
        &with_invoice(),
        pay("P-1", date!(2026 - 02 - 10), "11600.00"),
    );
    let on = date!(2026 - 06 - 01);
    framework()
        .given(given.clone())
        .when(charge(Fine, on))
        .then_expect_events(vec![fine_charged(on, "8650.00", fine_on_invoice_one())]);
    framework()
        .given(given)
        .when(charge(Penalty, on))
        .then_expect_events(vec![penalty_charged(
            on,
            "11.60",
            accrual_on_invoice_one(date!(2026 - 02 - 10), 1, "11.60", false, true),
        )]);
}

#[test]
fn a_delay_from_new_years_eve_takes_the_mrp_of_2025() {
    use LateChargeKind::{Fine, Penalty};
    let mut given = vec![registered_event(Currency::KZT, true), signed_event()];
    if let AgreementEvent::Registered(r) = &mut given[0] {
        r.registered_on = date!(2025 - 12 - 01);
    }
    given[1] = AgreementEvent::AgreementSigned(AgreementSigned {
        signed_on: date!(2025 - 12 - 01),
        concluded_on: date!(2025 - 12 - 01),
        in_force_from: date!(2025 - 12 - 01),
    });
    // Tuesday 2025-12-23, 1000.00 + 12% = 1120.00; 5 banking days: Dec 24, 25, 26, 29, 30.
    let given = then(
        &given,
        AgreementCommand::IssueInvoice(invoice_command(
            InvoiceKind::Subscription,
            date!(2025 - 12 - 23),
            "1000.00",
        )),
    );
    let invoice = invoice_one(&given);
    assert_eq!(
        (invoice.total, invoice.due_on),
        (kzt("1120.00"), date!(2025 - 12 - 30))
    );
    let on = date!(2026 - 01 - 10);
    // First day of delay 2025-12-31: 2 x 3,932 = 7864.00.
    framework()
        .given(given.clone())
        .when(charge(Fine, on))
        .then_expect_events(vec![fine_charged(
            on,
            "7864.00",
            FineAssessment {
                clause: "5.9".into(),
                invoice_number: number(1),
                first_day_of_delay: Some(date!(2025 - 12 - 31)),
                mrp_count: 2,
                mrp: Some(Decimal::from(3932)),
                mrp_table_version: Some("kz-mrp-2026-1".to_owned()),
                exchange_rate: None,
                amount: kzt("7864.00"),
            },
        )]);
    // 11 days (2025-12-31 .. 2026-01-10): 1120.00 x 0.011 = 12.32.
    let events = decide(&given, charge(Penalty, on), &services()).unwrap();
    let [AgreementEvent::PenaltyCharged(charged)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(
        (charged.accrual.days, charged.amount, charged.accrual.cap),
        (11, kzt("12.32"), kzt("56.00"))
    );
}

#[test]
fn a_usd_agreement_is_charged_in_usd_and_its_fine_converted_at_the_national_bank_rate() {
    use LateChargeKind::{Fine, Penalty};
    let given = then(
        &[registered_event(Currency::USD, false), signed_event()],
        AgreementCommand::IssueInvoice(invoice_command(
            InvoiceKind::Subscription,
            date!(2026 - 02 - 02),
            "250.00",
        )),
    );
    assert_eq!(invoice_one(&given).total, usd("290.00"));
    let on = date!(2026 - 02 - 19);
    // 290.00 x 0.001 x 10 = 2.90 USD.
    let events = decide(&given, charge(Penalty, on), &services()).unwrap();
    let [AgreementEvent::PenaltyCharged(penalty)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(
        (penalty.amount, penalty.accrual.cap),
        (usd("2.90"), usd("14.50"))
    );
    // 8650 KZT at 503.15 (the rate of 2026-02-02, the latest on or before the first day
    // of delay 2026-02-10) = 17.1917... -> 17.19 USD.
    let events = decide(&given, charge(Fine, on), &services()).unwrap();
    let [AgreementEvent::FineCharged(fine)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(fine.amount, usd("17.19"));
    assert_eq!(fine.assessment.amount, usd("17.19"));
    assert_eq!(
        fine.assessment.exchange_rate,
        Some(FineExchangeRate {
            kzt_per_usd: Decimal::from_str("503.15").unwrap(),
            date: date!(2026 - 02 - 02),
            source: "exchange_rates".into(),
        })
    );
}

#[test]
fn an_advance_held_settles_a_charge_at_once() {
    use LateChargeKind::{Fine, Penalty};
    // 20000.00 on 2026-02-20: 11600.00 principal (paid in full that day), 8400.00 advance.
    let paid = date!(2026 - 02 - 20);
    let given = then(&with_invoice(), pay("P-1", paid, "20000.00"));
    assert_eq!(state_of(&given).advance(), Some(kzt("8400.00")));
    // The fine (8650.00) takes the whole advance and leaves 250.00 owed.
    framework()
        .given(given.clone())
        .when(charge(Fine, paid))
        .then_expect_events(vec![
            fine_charged(paid, "8650.00", fine_on_invoice_one()),
            AgreementEvent::AdvanceApplied(AdvanceApplied {
                invoice_number: number(1),
                amount: kzt("8400.00"),
                part: SettledPart::Fine,
                on: paid,
                advance_remaining: kzt("0.00"),
            }),
        ]);
    let given = then(&given, charge(Fine, paid));
    let invoice = invoice_one(&given);
    assert_eq!(
        (
            invoice.fine_charged,
            invoice.fine_paid,
            invoice.fine_outstanding()
        ),
        (kzt("8650.00"), kzt("8400.00"), kzt("250.00"))
    );
    assert_eq!(
        invoice.principal_paid,
        kzt("11600.00"),
        "principal untouched"
    );
    assert_eq!(state_of(&given).advance(), Some(kzt("0.00")));
    // No advance left: the penalty (11 days up to the payment, 127.60) stays owed.
    let on = date!(2026 - 02 - 25);
    let accrual = accrual_on_invoice_one(paid, 11, "127.60", false, true);
    framework()
        .given(given)
        .when(charge(Penalty, on))
        .then_expect_events(vec![penalty_charged(on, "127.60", accrual.clone())]);
    // An advance larger than the charge settles it in full and keeps the rest.
    let given = then(&with_invoice(), pay("P-1", paid, "12000.00"));
    framework()
        .given(given.clone())
        .when(charge(Penalty, on))
        .then_expect_events(vec![
            penalty_charged(on, "127.60", accrual),
            AgreementEvent::AdvanceApplied(AdvanceApplied {
                invoice_number: number(1),
                amount: kzt("127.60"),
                part: SettledPart::Penalty,
                on,
                advance_remaining: kzt("272.40"),
            }),
        ]);
    let given = then(&given, charge(Penalty, on));
    let invoice = invoice_one(&given);
    assert_eq!(
        (invoice.penalty_paid, invoice.penalty_outstanding()),
        (kzt("127.60"), kzt("0.00"))
    );
    assert_eq!(state_of(&given).advance(), Some(kzt("272.40")));
}

#[test]
fn penalty_accrual_stops_the_day_the_invoice_is_paid_in_full() {
    use LateChargeKind::Penalty;
    // 5000.00 three days late, the remaining 6600.00 twelve days late (2026-02-21).
    let given = then(
        &with_invoice(),
        pay("P-1", date!(2026 - 02 - 12), "5000.00"),
    );
    assert_eq!(invoice_one(&given).paid_in_full_on, None);
    let given = then(&given, pay("P-2", date!(2026 - 02 - 21), "6600.00"));
    assert_eq!(
        invoice_one(&given).paid_in_full_on,
        Some(date!(2026 - 02 - 21))
    );
    // Charged months later: 12 days on the whole total (the base stays the total).
    let on = date!(2026 - 06 - 01);
    framework()
        .given(given.clone())
        .when(charge(Penalty, on))
        .then_expect_events(vec![penalty_charged(
            on,
            "139.20",
            accrual_on_invoice_one(date!(2026 - 02 - 21), 12, "139.20", false, true),
        )]);
    let given = then(&given, charge(Penalty, on));
    assert_eq!(invoice_one(&given).penalty_outstanding(), kzt("139.20"));
    // Paid, it is cleared, and nothing more accrues however late the next charge.
    let given = then(&given, pay("P-3", date!(2026 - 06 - 02), "139.20"));
    let invoice = invoice_one(&given);
    assert_eq!(
        (invoice.penalty_paid, invoice.penalty_outstanding()),
        (kzt("139.20"), kzt("0.00"))
    );
    let year_end = date!(2026 - 12 - 31);
    framework()
        .given(given)
        .when(charge(Penalty, year_end))
        .then_expect_error(nothing_to_charge(
            Penalty, year_end, "139.20", "139.20", "0.00",
        ));
}
