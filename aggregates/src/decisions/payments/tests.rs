//! Payments (§5.5; Civil Code art. 282): allocation, advances, repeated references.

use crate::fixture::*;

#[test]
fn a_partial_payment_settles_principal_and_keeps_no_advance() {
    let payment = payment_event(
        decide(
            &with_invoice(),
            AgreementCommand::ReceivePayment(payment_command(
                "BANK-1",
                date!(2026 - 02 - 05),
                "5000.00",
            )),
            &services(),
        )
        .unwrap(),
    );
    assert_eq!(
        payment.allocations,
        vec![PaymentAllocation {
            invoice_number: InvoiceNumber::new(1).unwrap(),
            principal: kzt("5000.00"),
            penalty: kzt("0"),
            fine: kzt("0")
        }]
    );
    assert_eq!(payment.advance, kzt("0"));
}

#[test]
fn an_overpayment_becomes_an_advance_that_settles_the_next_invoice() {
    let mut given = with_invoice();
    let payment = payment_event(
        decide(
            &given,
            AgreementCommand::ReceivePayment(payment_command(
                "BANK-1",
                date!(2026 - 02 - 05),
                "12000.00",
            )),
            &services(),
        )
        .unwrap(),
    );
    assert_eq!(payment.allocations[0].principal, kzt("11600.00"));
    assert_eq!(payment.advance, kzt("400.00"));
    given.push(AgreementEvent::PaymentReceived(payment));

    let events = decide(
        &given,
        AgreementCommand::IssueInvoice(invoice_command(
            InvoiceKind::Credit,
            date!(2026 - 03 - 02),
            "100.00",
        )),
        &services_on(date!(2026 - 12 - 31), 2),
    )
    .unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[1],
        AgreementEvent::AdvanceApplied(AdvanceApplied {
            part: events::SettledPart::Principal,
            invoice_number: InvoiceNumber::new(2).unwrap(),
            amount: kzt("116.00"),
            on: date!(2026 - 03 - 02),
            advance_remaining: kzt("284.00"),
        })
    );
    given.extend(events);
    let mut agreement = ParticipantAgreement::default();
    given.into_iter().for_each(|e| agreement.apply_event(e));
    assert!(agreement
        .invoice(InvoiceNumber::new(2).unwrap())
        .unwrap()
        .is_paid());
    assert_eq!(agreement.advance(), Some(kzt("284.00")));
}

#[test]
fn a_payment_that_would_take_the_advance_past_the_largest_amount_is_refused() {
    let mut given = with_invoice();
    let first = payment_event(
        decide(
            &given,
            AgreementCommand::ReceivePayment(payment_command(
                "BANK-1",
                date!(2026 - 02 - 05),
                "999999999999.99",
            )),
            &services(),
        )
        .unwrap(),
    );
    assert_eq!(first.advance, kzt("999999988399.99"));
    given.push(AgreementEvent::PaymentReceived(first));
    let refused = decide(
        &given,
        AgreementCommand::ReceivePayment(payment_command(
            "BANK-2",
            date!(2026 - 02 - 06),
            "999999999999.99",
        )),
        &services(),
    )
    .unwrap_err();
    assert_eq!(refused, AgreementError::Money(events::MoneyError::Overflow));
    // A smaller one still fits.
    decide(
        &given,
        AgreementCommand::ReceivePayment(payment_command(
            "BANK-3",
            date!(2026 - 02 - 06),
            "11600.00",
        )),
        &services(),
    )
    .unwrap();
}

#[test]
fn payments_go_to_the_oldest_open_invoice_unless_one_is_named() {
    let mut given = with_invoice();
    given.extend(
        decide(
            &given,
            AgreementCommand::IssueInvoice(invoice_command(
                InvoiceKind::Credit,
                date!(2026 - 02 - 03),
                "100.00",
            )),
            &services_on(date!(2026 - 12 - 31), 2),
        )
        .unwrap(),
    );
    let one = InvoiceNumber::new(1).unwrap();
    let two = InvoiceNumber::new(2).unwrap();

    let oldest = payment_event(
        decide(
            &given,
            AgreementCommand::ReceivePayment(payment_command(
                "P1",
                date!(2026 - 02 - 04),
                "11650.00",
            )),
            &services(),
        )
        .unwrap(),
    );
    assert_eq!(
        oldest
            .allocations
            .iter()
            .map(|a| (a.invoice_number, a.principal))
            .collect::<Vec<_>>(),
        vec![(one, kzt("11600.00")), (two, kzt("50.00"))]
    );

    let mut named = payment_command("P2", date!(2026 - 02 - 04), "200.00");
    named.invoice_number = Some(two);
    let named = payment_event(
        decide(&given, AgreementCommand::ReceivePayment(named), &services()).unwrap(),
    );
    assert_eq!(
        named
            .allocations
            .iter()
            .map(|a| (a.invoice_number, a.principal))
            .collect::<Vec<_>>(),
        vec![(two, kzt("116.00")), (one, kzt("84.00"))]
    );

    let mut unknown = payment_command("P3", date!(2026 - 02 - 04), "1.00");
    unknown.invoice_number = Some(InvoiceNumber::new(99).unwrap());
    assert_eq!(
        decide(
            &given,
            AgreementCommand::ReceivePayment(unknown),
            &services()
        )
        .unwrap_err(),
        AgreementError::UnknownInvoice(InvoiceNumber::new(99).unwrap())
    );
}

#[test]
fn a_repeated_reference_records_nothing_and_a_reused_one_is_refused() {
    let mut given = with_invoice();
    let command = payment_command("BANK-1", date!(2026 - 02 - 05), "100.00");
    given.extend(
        decide(
            &given,
            AgreementCommand::ReceivePayment(command.clone()),
            &services(),
        )
        .unwrap(),
    );
    Framework::with(services())
        .given(given.clone())
        .when(AgreementCommand::ReceivePayment(command.clone()))
        .then_expect_events(vec![]);
    let mut other = command;
    other.amount = Amount::parse("200.00").unwrap();
    Framework::with(services())
        .given(given)
        .when(AgreementCommand::ReceivePayment(other))
        .then_expect_error(AgreementError::PaymentReferenceReused {
            reference: "BANK-1".into(),
        });
}

#[test]
fn payment_rules_are_enforced() {
    let given = with_invoice();
    let mut foreign = payment_command("P", date!(2026 - 02 - 05), "1.00");
    foreign.currency = Some(Currency::USD);
    let error = decide(
        &given,
        AgreementCommand::ReceivePayment(foreign),
        &services(),
    )
    .unwrap_err();
    assert_eq!(
        error,
        AgreementError::PaymentCurrency {
            given: Currency::USD,
            agreement: Currency::KZT
        }
    );
    assert_eq!(error.clause(), Some(Clause::CURRENCY));
    assert_eq!(
        decide(
            &given,
            AgreementCommand::ReceivePayment(payment_command("P", date!(2026 - 02 - 05), "0.00")),
            &services()
        )
        .unwrap_err(),
        AgreementError::ZeroPayment
    );
    // BILLING.md 5.1: money received before the invoice was issued (recorded after it)
    // is accepted and settles the invoice as of its issue date.
    let early = then(
        &given,
        AgreementCommand::ReceivePayment(payment_command("P", date!(2026 - 02 - 01), "11600.00")),
    );
    assert_eq!(
        invoice_one(&early).paid_in_full_on,
        Some(date!(2026 - 02 - 02))
    );
    assert_eq!(
        decide(
            &given,
            AgreementCommand::ReceivePayment(payment_command("P", date!(2027 - 01 - 01), "1.00")),
            &services()
        )
        .unwrap_err(),
        AgreementError::InTheFuture {
            what: "the payment date",
            date: date!(2027 - 01 - 01),
            today: date!(2026 - 12 - 31)
        }
    );
    assert_eq!(
        decide(
            &given,
            AgreementCommand::ReceivePayment(payment_command("P", date!(2025 - 02 - 01), "1.00")),
            &services()
        )
        .unwrap_err(),
        AgreementError::BeforeRegistration {
            what: "the payment date",
            date: date!(2025 - 02 - 01),
            registered_on: date!(2026 - 01 - 05)
        }
    );
}

#[test]
fn payments_settle_principal_then_penalty_then_fine_and_advances_settle_charges() {
    let given = then(
        &with_invoice(),
        charge(LateChargeKind::Penalty, date!(2026 - 02 - 19)),
    );
    let given = then(&given, charge(LateChargeKind::Fine, date!(2026 - 02 - 19)));
    // 11600.00 principal + 116.00 penalty + 8650.00 fine = 20366.00; pay 20000.00.
    let given = then(
        &given,
        AgreementCommand::ReceivePayment(payment_command("P-1", date!(2026 - 02 - 20), "20000.00")),
    );
    let invoice = state_of(&given)
        .invoice(InvoiceNumber::new(1).unwrap())
        .unwrap()
        .clone();
    assert_eq!(invoice.principal_outstanding(), kzt("0.00"));
    assert_eq!(invoice.paid_in_full_on, Some(date!(2026 - 02 - 20)));
    assert_eq!(invoice.penalty_outstanding(), kzt("0.00"));
    assert_eq!(invoice.fine_outstanding(), kzt("366.00"));
    // Accrual stopped on the day of full payment: 11 days, 127.60; 11.60 more to charge.
    let events = decide(
        &given,
        charge(LateChargeKind::Penalty, date!(2026 - 06 - 01)),
        &services(),
    )
    .unwrap();
    let AgreementEvent::PenaltyCharged(more) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!((more.accrual.days, more.amount), (11, kzt("11.60")));
    // An overpayment is an advance; the next charge is settled from it at once.
    let given = then(
        &given,
        AgreementCommand::ReceivePayment(payment_command("P-2", date!(2026 - 02 - 21), "1000.00")),
    );
    assert_eq!(state_of(&given).advance(), Some(kzt("634.00")));
    let events = decide(
        &given,
        charge(LateChargeKind::Penalty, date!(2026 - 06 - 01)),
        &services(),
    )
    .unwrap();
    assert_eq!(
        events[1],
        AgreementEvent::AdvanceApplied(AdvanceApplied {
            invoice_number: InvoiceNumber::new(1).unwrap(),
            amount: kzt("11.60"),
            part: SettledPart::Penalty,
            on: date!(2026 - 06 - 01),
            advance_remaining: kzt("622.40"),
        })
    );
}

#[test]
fn a_payment_after_charges_settles_principal_then_penalty_then_fine() {
    use LateChargeKind::{Fine, Penalty};
    let given = then(&with_invoice(), charge(Penalty, date!(2026 - 02 - 19)));
    let given = then(&given, charge(Fine, date!(2026 - 02 - 19)));
    // Owed: 11600.00 principal, 116.00 penalty, 8650.00 fine.
    // 5000.00: all principal while principal is owed.
    let first = pay("P-1", date!(2026 - 02 - 20), "5000.00");
    let payment = payment_event(decide(&given, first.clone(), &services()).unwrap());
    assert_eq!(
        payment.allocations,
        vec![allocation(1, "5000.00", "0.00", "0.00")]
    );
    let given = then(&given, first);
    // 6700.00: the last 6600.00 of principal, then 100.00 of the penalty.
    let second = pay("P-2", date!(2026 - 02 - 21), "6700.00");
    let payment = payment_event(decide(&given, second.clone(), &services()).unwrap());
    assert_eq!(
        (payment.allocations, payment.advance),
        (
            vec![allocation(1, "6600.00", "100.00", "0.00")],
            kzt("0.00")
        )
    );
    let given = then(&given, second);
    let invoice = invoice_one(&given);
    assert_eq!(invoice.paid_in_full_on, Some(date!(2026 - 02 - 21)));
    assert_eq!(
        (invoice.penalty_outstanding(), invoice.fine_outstanding()),
        (kzt("16.00"), kzt("8650.00"))
    );
    // 9000.00: the last 16.00 of penalty, the 8650.00 fine, 334.00 left as an advance.
    let third = pay("P-3", date!(2026 - 02 - 22), "9000.00");
    let payment = payment_event(decide(&given, third.clone(), &services()).unwrap());
    assert_eq!(
        (payment.allocations, payment.advance),
        (
            vec![allocation(1, "0.00", "16.00", "8650.00")],
            kzt("334.00")
        )
    );
    let given = then(&given, third);
    let invoice = invoice_one(&given);
    assert_eq!(
        (invoice.penalty_outstanding(), invoice.fine_outstanding()),
        (kzt("0.00"), kzt("0.00"))
    );
    assert_eq!(state_of(&given).advance(), Some(kzt("334.00")));
}

#[test]
fn all_principal_is_settled_before_any_penalty_across_invoices() {
    use LateChargeKind::Penalty;
    // Invoice 2: 100.00 + 16% = 116.00 on credit, issued Tuesday 2026-02-03, due Friday
    // 2026-02-06 (3 working days, §5.8).
    let mut given = with_invoice();
    given.extend(
        decide(
            &given,
            AgreementCommand::IssueInvoice(invoice_command(
                InvoiceKind::Credit,
                date!(2026 - 02 - 03),
                "100.00",
            )),
            &services_on(date!(2026 - 12 - 31), 2),
        )
        .unwrap(),
    );
    let on = date!(2026 - 02 - 19);
    // Invoice 2, 13 days late: 116.00 x 0.013 = 1.508 -> 1.51.
    let events = decide(&given, charge_invoice(2, Penalty, on), &services()).unwrap();
    let [AgreementEvent::PenaltyCharged(charged)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!((charged.accrual.days, charged.amount), (13, kzt("1.51")));
    let given = then(&given, charge_invoice(2, Penalty, on));
    let given = then(&given, charge(Penalty, on));
    // 11800.00: principal of 1 (the oldest), principal of 2, then 84.00 of 1's penalty.
    let payment = payment_event(
        decide(
            &given,
            pay("P-1", date!(2026 - 02 - 20), "11800.00"),
            &services(),
        )
        .unwrap(),
    );
    assert_eq!(
        payment.allocations,
        vec![
            allocation(1, "11600.00", "84.00", "0.00"),
            allocation(2, "116.00", "0.00", "0.00"),
        ]
    );
}

mod closed;
mod late;
