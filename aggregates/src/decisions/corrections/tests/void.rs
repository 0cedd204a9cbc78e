//! Voiding (BILLING.md 5.3): an invoice issued by mistake, with nothing allocated to it,
//! is cancelled; it owes nothing, accrues nothing and restricts nothing.

use super::*;
use crate::AgreementStatus;

#[test]
fn an_invoice_with_nothing_allocated_is_voided_and_owes_nothing() {
    let given = with_invoice();
    let recorded = attempt(&given, void(1, date!(2026 - 02 - 03))).unwrap();
    assert_eq!(
        recorded,
        vec![AgreementEvent::InvoiceVoided(InvoiceVoided {
            number: number(1),
            total: kzt("11600.00"),
            penalty_cancelled: kzt("0"),
            fine_cancelled: kzt("0"),
            reason: note(),
            on: date!(2026 - 02 - 03),
        })]
    );
    let all = after(&given, void(1, date!(2026 - 02 - 03)));
    let invoice = invoice_one(&all);
    assert!(invoice.is_void());
    assert_eq!(invoice.voided_on, Some(date!(2026 - 02 - 03)));
    assert_eq!(invoice.owed_total(), kzt("0"));
    assert_eq!(invoice.principal_outstanding(), kzt("0"));
    assert_eq!(invoice.delay_ends_on(), Some(invoice.issued_on));
    assert!(!invoice.unpaid_on(date!(2026 - 12 - 31)));
    // No penalty accrues on it, on any day.
    assert_eq!(penalty_on(&all, 1, date!(2026 - 03 - 31)), kzt("0"));
    assert_eq!(penalty_on(&all, 1, date!(2026 - 12 - 31)), kzt("0"));
    let state = state_of(&all);
    assert_eq!(state.debt().unwrap(), kzt("0"));
    assert!(!state.anything_overdue(date!(2026 - 12 - 31)));
    // The sweep never suspends, blocks nor fines for it, however late.
    for as_of in [
        date!(2026 - 02 - 25),
        date!(2026 - 05 - 10),
        date!(2026 - 12 - 31),
    ] {
        assert!(attempt(&all, sweep(as_of, true)).unwrap().is_empty());
    }
    let all = after(&all, sweep(date!(2026 - 12 - 31), true));
    assert_eq!(state_of(&all).status(), Some(AgreementStatus::Active));
    // Its number stays used: the next invoice takes the next one.
    let all = after(&all, issue(date!(2026 - 12 - 31), "100.00"));
    assert!(state_of(&all).invoice(number(2)).is_some());
}

#[test]
fn voiding_cancels_the_charges_unpaid_and_the_sweep_lifts_the_suspension() {
    let given = charged_and_suspended();
    let recorded = attempt(&given, void(1, date!(2026 - 02 - 26))).unwrap();
    let [AgreementEvent::InvoiceVoided(voided)] = recorded.as_slice() else {
        panic!("one InvoiceVoided: {recorded:?}")
    };
    assert_eq!(voided.penalty_cancelled, kzt("116.00"));
    assert_eq!(voided.fine_cancelled, kzt("8650.00"));
    let all = after(&given, void(1, date!(2026 - 02 - 26)));
    let invoice = invoice_one(&all);
    assert_eq!(invoice.penalty_outstanding(), kzt("0"));
    assert_eq!(invoice.fine_outstanding(), kzt("0"));
    assert_eq!(state_of(&all).debt().unwrap(), kzt("0"));
    // The void itself lifts nothing (the sweep's to decide); the next sweep does.
    assert_eq!(state_of(&all).status(), Some(AgreementStatus::Suspended));
    let swept = attempt(&all, sweep(date!(2026 - 02 - 26), true)).unwrap();
    assert_eq!(types(&swept), ["Reinstated"]);
    let all = after(&all, sweep(date!(2026 - 02 - 26), true));
    assert_eq!(state_of(&all).status(), Some(AgreementStatus::Active));
    // Nothing more is charged for it.
    assert!(attempt(&all, sweep(date!(2026 - 06 - 01), true))
        .unwrap()
        .is_empty());
}

#[test]
fn the_sweep_acts_on_the_other_invoices_only() {
    let given = after(&with_invoice(), issue(date!(2026 - 02 - 03), "100.00"));
    let given = after(&given, void(1, date!(2026 - 02 - 04)));
    let swept = attempt(&given, sweep(date!(2026 - 06 - 01), true)).unwrap();
    assert_eq!(types(&swept), ["FineCharged", "Suspended", "Blocked"]);
    let AgreementEvent::FineCharged(fine) = &swept[0] else {
        unreachable!()
    };
    assert_eq!(fine.invoice_number, number(2));
}

#[test]
fn an_invoice_with_money_allocated_is_not_voided() {
    let given = after(
        &with_invoice(),
        pay("P-1", date!(2026 - 02 - 05), "5000.00"),
    );
    let error = attempt(&given, void(1, date!(2026 - 02 - 06))).unwrap_err();
    assert_eq!(
        error,
        AgreementError::InvoiceHasMoney {
            number: number(1),
            paid: kzt("5000.00"),
        }
    );
    assert_eq!(error.kind(), ErrorKind::Conflict);
    assert_eq!(error.clause(), Some(Clause::CORRECTION));
    // A penalty paid counts as money allocated too.
    let given = after(
        &with_invoice(),
        charge(LateChargeKind::Penalty, date!(2026 - 02 - 19)),
    );
    let given = after(&given, pay("P-1", date!(2026 - 02 - 20), "11716.00"));
    let given = after(&given, reverse("P-1", date!(2026 - 02 - 21)));
    // Once the money is reversed, it can be voided.
    let all = after(&given, void(1, date!(2026 - 02 - 21)));
    assert_eq!(state_of(&all).debt().unwrap(), kzt("0"));
}

#[test]
fn an_invoice_settled_by_the_advance_is_not_voided() {
    let given = after(
        &with_invoice(),
        pay("P-1", date!(2026 - 02 - 05), "12000.00"),
    );
    let given = after(&given, issue(date!(2026 - 02 - 06), "100.00"));
    assert_eq!(
        attempt(&given, void(2, date!(2026 - 02 - 07))).unwrap_err(),
        AgreementError::InvoiceHasMoney {
            number: number(2),
            paid: kzt("116.00"),
        }
    );
}

#[test]
fn an_invoice_is_voided_once() {
    let all = after(&with_invoice(), void(1, date!(2026 - 02 - 03)));
    let error = attempt(&all, void(1, date!(2026 - 02 - 04))).unwrap_err();
    assert_eq!(
        error,
        AgreementError::InvoiceAlreadyVoided {
            number: number(1),
            voided_on: date!(2026 - 02 - 03),
        }
    );
    assert_eq!(error.kind(), ErrorKind::Conflict);
    assert_eq!(
        attempt(&all, void(7, date!(2026 - 02 - 04))).unwrap_err(),
        AgreementError::UnknownInvoice(number(7))
    );
}

#[test]
fn nothing_is_charged_waived_or_credited_on_a_void_invoice() {
    let all = after(&with_invoice(), void(1, date!(2026 - 02 - 03)));
    for command in [
        charge(LateChargeKind::Penalty, date!(2026 - 03 - 01)),
        charge(LateChargeKind::Fine, date!(2026 - 03 - 01)),
        waive(LateChargeKind::Penalty, "1.00", Some(date!(2026 - 03 - 01))),
        waive(LateChargeKind::Fine, "1.00", Some(date!(2026 - 03 - 01))),
        credit_net(1, date!(2026 - 03 - 01), "1.00"),
    ] {
        let error = attempt(&all, command).unwrap_err();
        assert_eq!(error, AgreementError::InvoiceVoid { number: number(1) });
        assert_eq!(error.kind(), ErrorKind::Conflict);
    }
}

#[test]
fn a_credited_invoice_is_corrected_by_credit_notes_not_voided() {
    let given = after(
        &with_invoice(),
        credit_net(1, date!(2026 - 02 - 03), "1000.00"),
    );
    let error = attempt(&given, void(1, date!(2026 - 02 - 04))).unwrap_err();
    assert_eq!(error, AgreementError::InvoiceCredited { number: number(1) });
    assert_eq!(error.kind(), ErrorKind::Conflict);
}

#[test]
fn a_void_is_dated_like_any_new_entry() {
    let given = after(&with_invoice(), issue(date!(2026 - 02 - 10), "1.00"));
    assert_eq!(
        attempt(&given, void(1, date!(2026 - 02 - 09))).unwrap_err(),
        AgreementError::Backdated {
            what: "the void date",
            date: date!(2026 - 02 - 09),
            latest: date!(2026 - 02 - 10),
        }
    );
    assert!(matches!(
        attempt(&given, void(1, date!(2027 - 01 - 01))).unwrap_err(),
        AgreementError::InTheFuture { .. }
    ));
}

#[test]
fn a_payment_naming_a_void_invoice_goes_to_what_is_owed_or_the_advance() {
    let given = after(&with_invoice(), void(1, date!(2026 - 02 - 03)));
    let mut command = payment_command("P-1", date!(2026 - 02 - 04), "100.00");
    command.invoice_number = Some(number(1));
    let given = after(&given, AgreementCommand::ReceivePayment(command));
    assert_eq!(state_of(&given).advance(), Some(kzt("100.00")));
    assert_eq!(invoice_one(&given).principal_paid, kzt("0"));
}

#[test]
fn a_termination_settles_and_takes_effect_with_a_void_invoice_on_the_agreement() {
    // The invoice voided, nothing else owed: a termination due takes effect on the
    // sweep of its effective date (§10.3), the void invoice charging nothing.
    let given = after(&with_invoice(), void(1, date!(2026 - 02 - 03)));
    let given = after(
        &given,
        termination(
            TerminationGround::Mutual,
            date!(2026 - 02 - 04),
            Some(date!(2026 - 02 - 04)),
        ),
    );
    let swept = attempt(&given, sweep(date!(2026 - 02 - 04), false)).unwrap();
    assert_eq!(types(&swept), ["Terminated"]);
    // Also when the void invoice was late and charged before it was voided.
    let given = after(&charged_and_suspended(), void(1, date!(2026 - 02 - 26)));
    let given = after(
        &given,
        termination(
            TerminationGround::Mutual,
            date!(2026 - 02 - 26),
            Some(date!(2026 - 02 - 26)),
        ),
    );
    let swept = attempt(&given, sweep(date!(2026 - 02 - 26), false)).unwrap();
    assert_eq!(types(&swept), ["Reinstated", "Terminated"]);
}
