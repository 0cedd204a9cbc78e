//! Credit notes (BILLING.md 5.3): an issued invoice reduced by lines or by a net amount,
//! with VAT at the invoice's own rate, under a number of the same gapless series.

use super::*;
use crate::AgreementStatus;

fn credit_note(events: &[AgreementEvent]) -> CreditNoteIssued {
    match events.first() {
        Some(AgreementEvent::CreditNoteIssued(note)) => note.clone(),
        other => panic!("expected a CreditNoteIssued first, got {other:?}"),
    }
}

fn rate(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

#[test]
fn a_credit_note_takes_the_next_number_of_the_series() {
    let given = with_invoice();
    let recorded = decide(
        &given,
        credit_net(1, date!(2026 - 02 - 03), "1000.00"),
        &services_on(date!(2026 - 12 - 31), 42),
    )
    .unwrap();
    let note = credit_note(&recorded);
    assert_eq!(note.number, number(42));
    assert_eq!(note.related_invoice, number(1));
    assert_eq!(note.issued_on, date!(2026 - 02 - 03));
    assert_eq!(note.currency, Currency::KZT);
    // Without a number reserved the command cannot be decided (a wiring error).
    let mut services = services();
    services.next_invoice_number = None;
    let error = decide(
        &given,
        credit_net(1, date!(2026 - 02 - 03), "1000.00"),
        &services,
    )
    .unwrap_err();
    assert_eq!(error, AgreementError::NoInvoiceNumberReserved);
    // The next invoice takes the number after the credit note's.
    let given = after(&given, credit_net(1, date!(2026 - 02 - 03), "1000.00"));
    assert_eq!(credit_note(&given[given.len() - 1..]).number, number(2));
    let given = after(&given, issue(date!(2026 - 02 - 04), "100.00"));
    assert!(state_of(&given).invoice(number(3)).is_some());
    assert!(state_of(&given).invoice(number(2)).is_none());
}

#[test]
fn a_credit_note_by_net_credits_vat_at_the_invoices_own_rate_not_todays() {
    // An agreement in force from 2025-12-01, invoiced on 2025-12-15 at 12% VAT; the
    // credit note, on 2026-01-20, is under the 16% rate in force since 2026-01-01.
    let mut registered = registered_event(Currency::KZT, true);
    if let AgreementEvent::Registered(e) = &mut registered {
        e.registered_on = date!(2025 - 12 - 01);
    }
    let signed = AgreementEvent::AgreementSigned(AgreementSigned {
        signed_on: date!(2025 - 12 - 01),
        concluded_on: date!(2025 - 12 - 01),
        in_force_from: date!(2025 - 12 - 01),
    });
    let given = after(
        &[registered, signed],
        AgreementCommand::IssueInvoice(invoice_command(
            InvoiceKind::Subscription,
            date!(2025 - 12 - 15),
            "10000.00",
        )),
    );
    let invoice = invoice_one(&given);
    assert_eq!(invoice.vat.rate, rate("0.12"));
    assert_eq!(invoice.total, kzt("11200.00"));
    assert_eq!(
        services()
            .reference
            .vat
            .rate_on(date!(2026 - 01 - 20))
            .unwrap()
            .rate,
        rate("0.16")
    );

    let recorded = attempt(&given, credit_net(1, date!(2026 - 01 - 20), "1000.00")).unwrap();
    let note = credit_note(&recorded);
    assert_eq!(note.net, kzt("1000.00"));
    assert_eq!(note.vat.rate, rate("0.12"));
    assert_eq!(
        note.vat.rate_effective_from,
        invoice.vat.rate_effective_from
    );
    assert_eq!(note.vat.table_version, invoice.vat.table_version);
    assert_eq!(note.vat.amount, kzt("120.00"));
    assert_eq!(note.total, kzt("1120.00"));
    assert!(note.lines.is_empty());
    assert_eq!(note.to_advance, kzt("0"));

    let given = after(&given, credit_net(1, date!(2026 - 01 - 20), "1000.00"));
    let invoice = invoice_one(&given);
    assert_eq!(invoice.owed_total(), kzt("10080.00"));
    assert_eq!(invoice.principal_outstanding(), kzt("10080.00"));
    assert_eq!(invoice.net_creditable(), kzt("9000.00"));
    assert_eq!(invoice.vat_creditable(), kzt("1080.00"));
}

#[test]
fn a_credit_note_by_lines_credits_their_sum() {
    let given = with_invoice();
    let recorded = attempt(
        &given,
        credit_lines(
            1,
            date!(2026 - 02 - 03),
            vec![line("Seat", "2", "1500.00"), line("Setup", "1", "250.50")],
        ),
    )
    .unwrap();
    let note = credit_note(&recorded);
    assert_eq!(note.lines.len(), 2);
    assert_eq!(note.lines[0].amount, kzt("3000.00"));
    assert_eq!(note.lines[1].amount, kzt("250.50"));
    assert_eq!(note.net, kzt("3250.50"));
    assert_eq!(note.vat.rate, rate("0.16"));
    assert_eq!(note.vat.amount, kzt("520.08"));
    assert_eq!(note.total, kzt("3770.58"));
    let given = after(
        &given,
        credit_lines(
            1,
            date!(2026 - 02 - 03),
            vec![line("Seat", "2", "1500.00"), line("Setup", "1", "250.50")],
        ),
    );
    assert_eq!(invoice_one(&given).owed_total(), kzt("7829.42"));
}

#[test]
fn credit_notes_crediting_the_whole_net_credit_exactly_the_whole_vat() {
    // Invoice 2: 333.33 net, VAT 53.33 (53.3328 rounded), 386.66.
    let given = after(&with_invoice(), issue(date!(2026 - 02 - 03), "333.33"));
    let two = invoice_n(&given, 2);
    assert_eq!(two.vat.amount, kzt("53.33"));
    assert_eq!(two.total, kzt("386.66"));

    // 111.11 alone: 17.78 (17.7776 rounded).
    let given = after(&given, credit_net(2, date!(2026 - 02 - 04), "111.11"));
    let first = credit_note(&given[given.len() - 1..]);
    assert_eq!(first.number, number(3));
    assert_eq!(first.vat.amount, kzt("17.78"));
    // What is left, 222.22, credits what is left of the VAT: 35.55, not the 35.56 its
    // own rounding gives, so that the two never drift from the invoice by a tiyn.
    let given = after(&given, credit_net(2, date!(2026 - 02 - 04), "222.22"));
    let second = credit_note(&given[given.len() - 1..]);
    assert_eq!(second.vat.amount, kzt("35.55"));
    assert_eq!(
        first.vat.amount.checked_add(second.vat.amount).unwrap(),
        two.vat.amount
    );
    assert_eq!(first.total.checked_add(second.total).unwrap(), two.total);
    let two = invoice_n(&given, 2);
    let credited = two.credited.clone().unwrap();
    assert_eq!(credited.net, kzt("333.33"));
    assert_eq!(credited.vat, kzt("53.33"));
    assert_eq!(credited.total, kzt("386.66"));
    assert_eq!(two.owed_total(), kzt("0"));
    assert!(two.is_paid());
    // Nothing is left to credit.
    assert_eq!(
        attempt(&given, credit_net(2, date!(2026 - 02 - 04), "0.01")).unwrap_err(),
        AgreementError::CreditBeyondInvoice {
            number: number(2),
            requested: kzt("0.01"),
            creditable: kzt("0"),
        }
    );

    // In three thirds: 17.78, 17.78 and the 17.77 left.
    let mut given = after(&with_invoice(), issue(date!(2026 - 02 - 03), "333.33"));
    let mut vat = Vec::new();
    for _ in 0..3 {
        given = after(&given, credit_net(2, date!(2026 - 02 - 04), "111.11"));
        vat.push(credit_note(&given[given.len() - 1..]).vat.amount);
    }
    assert_eq!(vat, [kzt("17.78"), kzt("17.78"), kzt("17.77")]);
    assert_eq!(invoice_n(&given, 2).credited.unwrap().vat, kzt("53.33"));
}

#[test]
fn a_credit_beyond_the_net_not_yet_credited_is_refused() {
    let error = attempt(
        &with_invoice(),
        credit_net(1, date!(2026 - 02 - 03), "10000.01"),
    )
    .unwrap_err();
    assert_eq!(
        error,
        AgreementError::CreditBeyondInvoice {
            number: number(1),
            requested: kzt("10000.01"),
            creditable: kzt("10000.00"),
        }
    );
    assert_eq!(error.kind(), ErrorKind::RuleViolation);
    assert_eq!(error.clause(), Some(Clause::CORRECTION));
    let given = after(
        &with_invoice(),
        credit_net(1, date!(2026 - 02 - 03), "4000.00"),
    );
    assert_eq!(
        attempt(&given, credit_net(1, date!(2026 - 02 - 03), "6000.01")).unwrap_err(),
        AgreementError::CreditBeyondInvoice {
            number: number(1),
            requested: kzt("6000.01"),
            creditable: kzt("6000.00"),
        }
    );
    // By lines too.
    assert!(matches!(
        attempt(
            &given,
            credit_lines(1, date!(2026 - 02 - 03), vec![line("Seat", "3", "2000.01")]),
        )
        .unwrap_err(),
        AgreementError::CreditBeyondInvoice { .. }
    ));
    // Exactly what is left is accepted.
    after(&given, credit_net(1, date!(2026 - 02 - 03), "6000.00"));
}

#[test]
fn a_credit_note_gives_lines_or_a_net_amount_and_never_zero() {
    let given = with_invoice();
    let both = AgreementCommand::IssueCreditNote(IssueCreditNote {
        invoice_number: number(1),
        on: date!(2026 - 02 - 03),
        reason: note(),
        lines: Some(vec![line("Seat", "1", "100.00")]),
        net: Some(Amount::parse("100.00").unwrap()),
    });
    let neither = AgreementCommand::IssueCreditNote(IssueCreditNote {
        invoice_number: number(1),
        on: date!(2026 - 02 - 03),
        reason: note(),
        lines: None,
        net: None,
    });
    for command in [both, neither] {
        let error = attempt(&given, command).unwrap_err();
        assert_eq!(error, AgreementError::CreditNoteLinesOrNet);
        assert_eq!(error.kind(), ErrorKind::RuleViolation);
    }
    assert_eq!(
        attempt(&given, credit_lines(1, date!(2026 - 02 - 03), Vec::new())).unwrap_err(),
        AgreementError::NoInvoiceLines
    );
    assert_eq!(
        attempt(&given, credit_net(1, date!(2026 - 02 - 03), "0.00")).unwrap_err(),
        AgreementError::ZeroCredit
    );
    assert_eq!(
        attempt(&given, credit_net(9, date!(2026 - 02 - 03), "1.00")).unwrap_err(),
        AgreementError::UnknownInvoice(number(9))
    );
    let given = after(&given, issue(date!(2026 - 02 - 10), "1.00"));
    assert_eq!(
        attempt(&given, credit_net(1, date!(2026 - 02 - 09), "1.00")).unwrap_err(),
        AgreementError::Backdated {
            what: "the credit note's date",
            date: date!(2026 - 02 - 09),
            latest: date!(2026 - 02 - 10),
        }
    );
}

#[test]
fn a_credit_note_on_a_paid_invoice_goes_to_the_advance() {
    let given = after(
        &with_invoice(),
        pay("P-1", date!(2026 - 02 - 05), "11600.00"),
    );
    let recorded = attempt(&given, credit_net(1, date!(2026 - 03 - 02), "1000.00")).unwrap();
    assert_eq!(types(&recorded), ["CreditNoteIssued"]);
    assert_eq!(credit_note(&recorded).to_advance, kzt("1160.00"));
    let given = after(&given, credit_net(1, date!(2026 - 03 - 02), "1000.00"));
    let invoice = invoice_one(&given);
    assert_eq!(invoice.owed_total(), kzt("10440.00"));
    assert_eq!(invoice.principal_paid, kzt("10440.00"));
    assert_eq!(invoice.paid_in_full_on, Some(date!(2026 - 02 - 05)));
    let state = state_of(&given);
    assert_eq!(state.advance(), Some(kzt("1160.00")));
    assert_eq!(state.debt().unwrap(), kzt("0"));
    // That advance settles the next invoice on its issue, like any other.
    let given = after(&given, issue(date!(2026 - 03 - 03), "100.00"));
    assert!(invoice_n(&given, 3).is_paid());
    assert_eq!(state_of(&given).advance(), Some(kzt("1044.00")));
}

#[test]
fn a_credit_note_on_a_partly_paid_invoice_lowers_what_is_outstanding_then_goes_to_the_advance() {
    let given = after(
        &with_invoice(),
        pay("P-1", date!(2026 - 02 - 05), "5000.00"),
    );
    let within = attempt(&given, credit_net(1, date!(2026 - 02 - 06), "1000.00")).unwrap();
    assert_eq!(credit_note(&within).to_advance, kzt("0"));
    let lowered = after(&given, credit_net(1, date!(2026 - 02 - 06), "1000.00"));
    assert_eq!(
        invoice_one(&lowered).principal_outstanding(),
        kzt("5440.00")
    );
    assert_eq!(invoice_one(&lowered).paid_in_full_on, None);

    // 6,960.00 credited on 6,600.00 outstanding: 360.00 to the advance; the invoice,
    // owing 4,640.00 now, was paid in full by the payment of 2026-02-05.
    let beyond = attempt(&given, credit_net(1, date!(2026 - 02 - 06), "6000.00")).unwrap();
    assert_eq!(credit_note(&beyond).to_advance, kzt("360.00"));
    let beyond = after(&given, credit_net(1, date!(2026 - 02 - 06), "6000.00"));
    let invoice = invoice_one(&beyond);
    assert_eq!(invoice.owed_total(), kzt("4640.00"));
    assert_eq!(invoice.principal_paid, kzt("4640.00"));
    assert_eq!(invoice.paid_in_full_on, Some(date!(2026 - 02 - 05)));
    assert_eq!(state_of(&beyond).advance(), Some(kzt("360.00")));
}

#[test]
fn a_credit_note_lowers_the_penalty_base_and_withdraws_the_excess_charged() {
    // Penalty 116.00 (10 days of 11,600.00) and fine charged on 2026-02-19, suspended
    // on 02-25. A credit note of 5,000.00 net (5,800.00) on 02-26: the base is 5,800.00
    // for every day, 17 days accrue 98.60, so 17.40 of the penalty is withdrawn, naming
    // the credit note. The fine stays: the invoice is still late.
    let given = charged_and_suspended();
    let recorded = attempt(&given, credit_net(1, date!(2026 - 02 - 26), "5000.00")).unwrap();
    assert_eq!(
        types(&recorded),
        ["CreditNoteIssued", "LateChargeWithdrawn"]
    );
    let note = credit_note(&recorded);
    assert_eq!(note.number, number(2));
    assert_eq!(note.total, kzt("5800.00"));
    assert_eq!(note.to_advance, kzt("0"));
    assert_eq!(
        withdrawals(&recorded),
        [&LateChargeWithdrawn {
            invoice_number: number(1),
            kind: LateChargeKind::Penalty,
            charged_on: date!(2026 - 02 - 19),
            amount: kzt("17.40"),
            moved_to_advance: kzt("0"),
            payment: None,
            received_on: None,
            credit_note: Some(number(2)),
            posted_on: None,
            on: date!(2026 - 02 - 26),
        }]
    );
    assert_eq!(withdrawals(&recorded)[0].cause(), "credit note 2");
    assert_eq!(
        AgreementEvent::LateChargeWithdrawn(withdrawals(&recorded)[0].clone()).clause(),
        Clause::CORRECTION
    );

    let all = after(&given, credit_net(1, date!(2026 - 02 - 26), "5000.00"));
    let invoice = invoice_one(&all);
    assert_eq!(invoice.owed_total(), kzt("5800.00"));
    assert_eq!(invoice.penalty_charged, kzt("98.60"));
    assert_eq!(invoice.penalty_outstanding(), kzt("98.60"));
    assert_eq!(invoice.fine_outstanding(), kzt("8650.00"));
    // The base is 5,800.00 from now on too: at most 290.00 (5%).
    assert_eq!(penalty_on(&all, 1, date!(2026 - 03 - 31)), kzt("290.00"));
    assert_eq!(penalty_on(&all, 1, date!(2026 - 12 - 31)), kzt("290.00"));
    // Nothing more to charge today; later, what the lower base accrues.
    assert!(matches!(
        attempt(&all, charge(LateChargeKind::Penalty, date!(2026 - 02 - 26))).unwrap_err(),
        AgreementError::NothingToCharge { .. }
    ));
    let charged = attempt(&all, charge(LateChargeKind::Penalty, date!(2026 - 12 - 31))).unwrap();
    let [AgreementEvent::PenaltyCharged(penalty)] = charged.as_slice() else {
        panic!("a penalty: {charged:?}")
    };
    assert_eq!(penalty.amount, kzt("191.40"));
    assert_eq!(penalty.accrual.base, kzt("5800.00"));
}

#[test]
fn a_credit_note_on_a_late_paid_invoice_returns_the_paid_excess_penalty_to_the_advance() {
    // 30 days charged (348.00) on 2026-03-11; all paid on 03-12 (the invoice paid in
    // full on day 31). A credit note of 5,000.00 net on 03-13: 5,800.00 of principal
    // goes to the advance, and so does the penalty paid beyond 31 days of 5,800.00
    // (179.80): 168.20.
    let given = after(
        &with_invoice(),
        charge(LateChargeKind::Penalty, date!(2026 - 03 - 11)),
    );
    let given = after(&given, pay("P-1", date!(2026 - 03 - 12), "11948.00"));
    assert_eq!(state_of(&given).debt().unwrap(), kzt("0"));
    let recorded = attempt(&given, credit_net(1, date!(2026 - 03 - 13), "5000.00")).unwrap();
    assert_eq!(
        types(&recorded),
        ["CreditNoteIssued", "LateChargeWithdrawn"]
    );
    assert_eq!(credit_note(&recorded).to_advance, kzt("5800.00"));
    let withdrawn = withdrawals(&recorded);
    assert_eq!(withdrawn[0].amount, kzt("168.20"));
    assert_eq!(withdrawn[0].moved_to_advance, kzt("168.20"));
    assert_eq!(withdrawn[0].credit_note, Some(number(2)));
    assert_eq!(withdrawn[0].payment, None);

    let all = after(&given, credit_net(1, date!(2026 - 03 - 13), "5000.00"));
    let invoice = invoice_one(&all);
    assert_eq!(invoice.principal_paid, kzt("5800.00"));
    assert_eq!(invoice.penalty_charged, kzt("179.80"));
    assert_eq!(invoice.penalty_paid, kzt("179.80"));
    assert_eq!(invoice.paid_in_full_on, Some(date!(2026 - 03 - 12)));
    let state = state_of(&all);
    assert_eq!(state.advance(), Some(kzt("5968.20")));
    assert_eq!(state.debt().unwrap(), kzt("0"));
}

#[test]
fn an_unpaid_invoice_credited_to_zero_owes_nothing_and_restricts_nothing() {
    let given = charged_and_suspended();
    let recorded = attempt(&given, credit_net(1, date!(2026 - 02 - 26), "10000.00")).unwrap();
    assert_eq!(
        types(&recorded),
        [
            "CreditNoteIssued",
            "LateChargeWithdrawn",
            "LateChargeWithdrawn"
        ]
    );
    let note = credit_note(&recorded);
    assert_eq!(note.total, kzt("11600.00"));
    assert_eq!(note.vat.amount, kzt("1600.00"));
    assert_eq!(note.to_advance, kzt("0"));
    let withdrawn = withdrawals(&recorded);
    assert_eq!(withdrawn[0].kind, LateChargeKind::Penalty);
    assert_eq!(withdrawn[0].amount, kzt("116.00"));
    assert_eq!(withdrawn[1].kind, LateChargeKind::Fine);
    assert_eq!(withdrawn[1].amount, kzt("8650.00"));

    let all = after(&given, credit_net(1, date!(2026 - 02 - 26), "10000.00"));
    let invoice = invoice_one(&all);
    assert_eq!(invoice.owed_total(), kzt("0"));
    assert!(invoice.is_paid());
    // It never owed anything: its delay ends on its issue.
    assert_eq!(invoice.paid_in_full_on, Some(invoice.issued_on));
    assert_eq!(penalty_on(&all, 1, date!(2026 - 12 - 31)), kzt("0"));
    let state = state_of(&all);
    assert_eq!(state.debt().unwrap(), kzt("0"));
    assert_eq!(state.advance(), Some(kzt("0")));
    // The sweep lifts the suspension and never imposes one again for it.
    let swept = attempt(&all, sweep(date!(2026 - 02 - 26), true)).unwrap();
    assert_eq!(types(&swept), ["Reinstated"]);
    let all = after(&all, sweep(date!(2026 - 02 - 26), true));
    assert!(attempt(&all, sweep(date!(2026 - 12 - 31), true))
        .unwrap()
        .is_empty());
    assert_eq!(state_of(&all).status(), Some(AgreementStatus::Active));
}

#[test]
fn a_credit_note_replays_to_the_state_it_was_decided_on() {
    let given = after(
        &charged_and_suspended(),
        pay("P-1", date!(2026 - 02 - 25), "3000.00"),
    );
    let given = after(&given, credit_net(1, date!(2026 - 02 - 26), "2000.00"));
    let given = after(
        &given,
        credit_lines(1, date!(2026 - 02 - 27), vec![line("Seat", "3", "1000.00")]),
    );
    let given = after(&given, pay("P-2", date!(2026 - 02 - 27), "20000.00"));
    let given = after(&given, credit_net(1, date!(2026 - 02 - 28), "5000.00"));
    assert_replays_to(&given, &state_of(&given));
}

#[test]
fn a_credit_note_that_leaves_an_on_time_payment_covering_the_invoice_withdraws_both_charges() {
    // Half paid on time (02-05); penalty and fine charged on 02-19, suspended on 02-25.
    // Crediting the other half leaves an invoice the payment of 02-05 paid in full, on
    // time: it was never late, so nothing of either charge was owed.
    let given = after(
        &with_invoice(),
        pay("P-1", date!(2026 - 02 - 05), "5800.00"),
    );
    let given = after(
        &given,
        charge(LateChargeKind::Penalty, date!(2026 - 02 - 19)),
    );
    let given = after(&given, charge(LateChargeKind::Fine, date!(2026 - 02 - 19)));
    let given = after(&given, sweep(date!(2026 - 02 - 25), false));
    assert_eq!(state_of(&given).status(), Some(AgreementStatus::Suspended));
    let recorded = attempt(&given, credit_net(1, date!(2026 - 02 - 26), "5000.00")).unwrap();
    assert_eq!(
        types(&recorded),
        [
            "CreditNoteIssued",
            "LateChargeWithdrawn",
            "LateChargeWithdrawn"
        ]
    );
    let all = after(&given, credit_net(1, date!(2026 - 02 - 26), "5000.00"));
    let invoice = invoice_one(&all);
    assert_eq!(invoice.paid_in_full_on, Some(date!(2026 - 02 - 05)));
    assert_eq!(invoice.penalty_outstanding(), kzt("0"));
    assert_eq!(invoice.fine_outstanding(), kzt("0"));
    assert_eq!(state_of(&all).debt().unwrap(), kzt("0"));
    assert_eq!(
        types(&attempt(&all, sweep(date!(2026 - 02 - 26), true)).unwrap()),
        ["Reinstated"]
    );
}
