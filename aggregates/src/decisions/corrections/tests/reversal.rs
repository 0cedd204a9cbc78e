//! Reversal (BILLING.md 5.2): the bank returned a payment; its money is undone as if it
//! had never been received.

use super::*;
use crate::AgreementStatus;

/// [`with_invoice`] paid in full, on time, by P-1 (received 2026-02-05).
fn paid_in_full() -> Vec<AgreementEvent> {
    let given = after(
        &with_invoice(),
        pay("P-1", date!(2026 - 02 - 05), "11600.00"),
    );
    assert_eq!(
        invoice_one(&given).paid_in_full_on,
        Some(date!(2026 - 02 - 05))
    );
    given
}

fn reversal(events: &[AgreementEvent]) -> PaymentReversed {
    match events {
        [AgreementEvent::PaymentReversed(reversed)] => reversed.clone(),
        other => panic!("expected one PaymentReversed, got {other:?}"),
    }
}

#[test]
fn a_payment_that_paid_an_invoice_in_full_reversed_reopens_it_from_its_due_date() {
    let given = paid_in_full();
    let recorded = attempt(&given, reverse("P-1", date!(2026 - 03 - 02))).unwrap();
    assert_eq!(
        recorded,
        vec![AgreementEvent::PaymentReversed(PaymentReversed {
            reference: reference_of("P-1"),
            received_on: date!(2026 - 02 - 05),
            amount: kzt("11600.00"),
            taken_back: vec![allocation(1, "11600.00", "0", "0")],
            advance_removed: kzt("0"),
            advance_undone: Vec::new(),
            reason: note(),
            on: date!(2026 - 03 - 02),
        })]
    );
    let all = after(&given, reverse("P-1", date!(2026 - 03 - 02)));
    let invoice = invoice_one(&all);
    assert_eq!(invoice.principal_paid, kzt("0"));
    assert_eq!(invoice.principal_outstanding(), kzt("11600.00"));
    assert_eq!(invoice.paid_in_full_on, None);
    assert_eq!(invoice.principal_settled_on(), None);
    assert!(invoice.settlements.is_empty());
    let state = state_of(&all);
    assert_eq!(state.debt().unwrap(), kzt("11600.00"));
    assert_eq!(state.advance(), Some(kzt("0")));
    assert_eq!(
        state.payment("P-1").unwrap().reversed_on,
        Some(date!(2026 - 03 - 02))
    );

    // The penalty runs from the due date (2026-02-09), as if it had never been paid:
    // 0.1% of 11,600.00 a day, at most 5% (580.00, from day 50).
    assert_eq!(penalty_on(&all, 1, DUE), kzt("0"));
    assert_eq!(penalty_on(&all, 1, date!(2026 - 02 - 10)), kzt("11.60"));
    assert_eq!(penalty_on(&all, 1, date!(2026 - 03 - 11)), kzt("348.00"));
    assert_eq!(penalty_on(&all, 1, date!(2026 - 03 - 30)), kzt("568.40"));
    assert_eq!(penalty_on(&all, 1, date!(2026 - 03 - 31)), kzt("580.00"));
    assert_eq!(penalty_on(&all, 1, date!(2026 - 12 - 31)), kzt("580.00"));

    // The operator may charge what accrued (21 days by 2026-03-02), and the sweep acts
    // on it as on any overdue invoice: the fine, and the suspension (from the 16th day).
    let charged = attempt(&all, charge(LateChargeKind::Penalty, date!(2026 - 03 - 02))).unwrap();
    let [AgreementEvent::PenaltyCharged(penalty)] = charged.as_slice() else {
        panic!("a penalty charged: {charged:?}")
    };
    assert_eq!(penalty.amount, kzt("243.60"));
    let swept = attempt(&all, sweep(date!(2026 - 03 - 02), true)).unwrap();
    assert_eq!(types(&swept), ["FineCharged", "Suspended"]);
    // Exactly what the sweep records for the same invoice never paid.
    let never_paid = attempt(&with_invoice(), sweep(date!(2026 - 03 - 02), true)).unwrap();
    assert_eq!(swept, never_paid);
    let all = after(&all, sweep(date!(2026 - 03 - 02), true));
    assert_eq!(state_of(&all).status(), Some(AgreementStatus::Suspended));
}

#[test]
fn a_reversal_recorded_before_the_sweeps_day_reopens_the_invoice_for_the_sweep_to_suspend() {
    // Reversed before the 16th day: nothing yet; on it the sweep suspends.
    let all = after(&paid_in_full(), reverse("P-1", date!(2026 - 02 - 20)));
    assert!(attempt(&all, sweep(date!(2026 - 02 - 24), false))
        .unwrap()
        .is_empty());
    let all = after(&all, sweep(date!(2026 - 02 - 25), false));
    assert_eq!(state_of(&all).status(), Some(AgreementStatus::Suspended));
    // ...and blocks after 3 months past the due date.
    let all = after(&all, sweep(date!(2026 - 05 - 10), false));
    assert_eq!(state_of(&all).status(), Some(AgreementStatus::Blocked));
}

#[test]
fn a_reversed_payment_partly_kept_as_advance_removes_that_advance() {
    let given = after(
        &with_invoice(),
        pay("P-1", date!(2026 - 02 - 05), "12000.00"),
    );
    assert_eq!(state_of(&given).advance(), Some(kzt("400.00")));
    let reversed = reversal(&attempt(&given, reverse("P-1", date!(2026 - 02 - 06))).unwrap());
    assert_eq!(
        reversed.taken_back,
        vec![allocation(1, "11600.00", "0", "0")]
    );
    assert_eq!(reversed.advance_removed, kzt("400.00"));
    assert!(reversed.advance_undone.is_empty());
    let all = after(&given, reverse("P-1", date!(2026 - 02 - 06)));
    let state = state_of(&all);
    assert_eq!(state.advance(), Some(kzt("0")));
    assert_eq!(state.debt().unwrap(), kzt("11600.00"));
}

#[test]
fn a_payment_that_was_all_advance_reversed_removes_only_advance() {
    let given = after(&paid_in_full(), pay("P-2", date!(2026 - 02 - 06), "500.00"));
    let reversed = reversal(&attempt(&given, reverse("P-2", date!(2026 - 02 - 07))).unwrap());
    assert!(reversed.taken_back.is_empty());
    assert_eq!(reversed.advance_removed, kzt("500.00"));
    let all = after(&given, reverse("P-2", date!(2026 - 02 - 07)));
    assert_eq!(state_of(&all).advance(), Some(kzt("0")));
    // The invoice P-1 paid is untouched.
    assert_eq!(
        invoice_one(&all).paid_in_full_on,
        Some(date!(2026 - 02 - 05))
    );
}

#[test]
fn a_reversed_payment_whose_advance_settled_a_later_invoice_reopens_that_invoice() {
    let given = after(
        &with_invoice(),
        pay("P-1", date!(2026 - 02 - 05), "12000.00"),
    );
    // Invoice 2 (116.00) is settled on issue by the advance: 284.00 left.
    let given = after(&given, issue(date!(2026 - 03 - 02), "100.00"));
    assert_eq!(
        types(&given[given.len() - 2..]),
        ["InvoiceIssued", "AdvanceApplied"]
    );
    assert!(invoice_n(&given, 2).is_paid());
    assert_eq!(state_of(&given).advance(), Some(kzt("284.00")));

    let reversed = reversal(&attempt(&given, reverse("P-1", date!(2026 - 03 - 03))).unwrap());
    assert_eq!(
        reversed.taken_back,
        vec![allocation(1, "11600.00", "0", "0")]
    );
    assert_eq!(reversed.advance_removed, kzt("284.00"));
    assert_eq!(
        reversed.advance_undone,
        vec![AdvanceUndone {
            invoice_number: number(2),
            part: SettledPart::Principal,
            amount: kzt("116.00"),
        }]
    );
    let all = after(&given, reverse("P-1", date!(2026 - 03 - 03)));
    let two = invoice_n(&all, 2);
    assert!(!two.is_paid());
    assert_eq!(two.principal_outstanding(), kzt("116.00"));
    assert_eq!(two.paid_in_full_on, None);
    let state = state_of(&all);
    assert_eq!(state.advance(), Some(kzt("0")));
    assert_eq!(state.debt().unwrap(), kzt("11716.00"));
    // Invoice 2 (due 2026-03-05) now accrues from its own due date.
    assert_eq!(
        penalty_on(&all, 2, date!(2026 - 03 - 15)),
        kzt("1.16"),
        "10 days of 0.1% of 116.00"
    );
}

#[test]
fn a_reversal_undoes_an_advance_that_paid_a_penalty_on_its_charge() {
    // Invoice 1 paid late (2026-02-19) with 1,000.00 over; then the penalty charged for
    // those 10 days (116.00) is settled by that advance at once.
    let given = after(
        &with_invoice(),
        pay("P-1", date!(2026 - 02 - 19), "12600.00"),
    );
    let given = after(
        &given,
        charge(LateChargeKind::Penalty, date!(2026 - 02 - 20)),
    );
    assert_eq!(
        types(&given[given.len() - 2..]),
        ["PenaltyCharged", "AdvanceApplied"]
    );
    assert_eq!(state_of(&given).advance(), Some(kzt("884.00")));
    let reversed = reversal(&attempt(&given, reverse("P-1", date!(2026 - 02 - 21))).unwrap());
    assert_eq!(reversed.advance_removed, kzt("884.00"));
    assert_eq!(
        reversed.advance_undone,
        vec![AdvanceUndone {
            invoice_number: number(1),
            part: SettledPart::Penalty,
            amount: kzt("116.00"),
        }]
    );
    let all = after(&given, reverse("P-1", date!(2026 - 02 - 21)));
    let invoice = invoice_one(&all);
    assert_eq!(invoice.penalty_outstanding(), kzt("116.00"));
    assert_eq!(invoice.principal_outstanding(), kzt("11600.00"));
    assert_eq!(state_of(&all).debt().unwrap(), kzt("11716.00"));
}

#[test]
fn a_payment_is_reversed_once() {
    let all = after(&paid_in_full(), reverse("P-1", date!(2026 - 03 - 02)));
    let error = attempt(&all, reverse("P-1", date!(2026 - 03 - 03))).unwrap_err();
    assert_eq!(
        error,
        AgreementError::PaymentAlreadyReversed {
            reference: "P-1".to_owned(),
            reversed_on: date!(2026 - 03 - 02),
        }
    );
    assert_eq!(error.kind(), ErrorKind::Conflict);
    assert_eq!(error.clause(), Some(Clause::REVERSAL));
    // The same bank payment sent again is the payment already recorded: nothing.
    assert!(attempt(&all, pay("P-1", date!(2026 - 02 - 05), "11600.00"))
        .unwrap()
        .is_empty());
}

#[test]
fn an_unknown_payment_cannot_be_reversed() {
    let error = attempt(&paid_in_full(), reverse("P-404", date!(2026 - 03 - 02))).unwrap_err();
    assert_eq!(
        error,
        AgreementError::UnknownPayment {
            reference: "P-404".to_owned()
        }
    );
    assert_eq!(error.kind(), ErrorKind::NotFound);
}

#[test]
fn a_reversal_is_dated_on_the_current_business_date_at_the_earliest_and_never_in_the_future() {
    // A payment of 2026-03-10 (all advance) makes it the latest business date.
    let given = after(&paid_in_full(), pay("P-2", date!(2026 - 03 - 10), "1.00"));
    assert_eq!(
        attempt(&given, reverse("P-1", date!(2026 - 03 - 09))).unwrap_err(),
        AgreementError::Backdated {
            what: "the reversal date",
            date: date!(2026 - 03 - 09),
            latest: date!(2026 - 03 - 10),
        }
    );
    let error = attempt(&given, reverse("P-1", date!(2027 - 01 - 01))).unwrap_err();
    assert_eq!(
        error,
        AgreementError::InTheFuture {
            what: "the reversal date",
            date: date!(2027 - 01 - 01),
            today: date!(2026 - 12 - 31),
        }
    );
    // The latest business date itself, and today, are accepted.
    attempt(&given, reverse("P-1", date!(2026 - 03 - 10))).unwrap();
    attempt(&given, reverse("P-1", date!(2026 - 12 - 31))).unwrap();
}

#[test]
fn a_reversal_before_the_payment_was_received_is_refused_by_name() {
    // A payment recorded late (received 2026-02-05, recorded after the sweep of 03-10).
    let given = after(&with_invoice(), sweep(date!(2026 - 03 - 10), false));
    let given = after(&given, pay("P-1", date!(2026 - 02 - 05), "11600.00"));
    let error = attempt(&given, reverse("P-1", date!(2026 - 02 - 04))).unwrap_err();
    assert_eq!(
        error,
        AgreementError::ReversalBeforePayment {
            on: date!(2026 - 02 - 04),
            received_on: date!(2026 - 02 - 05),
        }
    );
    assert_eq!(error.kind(), ErrorKind::RuleViolation);
}

#[test]
fn a_reversal_after_the_advance_it_left_was_refunded_is_refused() {
    let given = after(
        &with_invoice(),
        pay("P-1", date!(2026 - 02 - 05), "12000.00"),
    );
    let given = after(&given, refund("R-1", date!(2026 - 02 - 06), "400.00"));
    let error = attempt(&given, reverse("P-1", date!(2026 - 02 - 07))).unwrap_err();
    assert_eq!(
        error,
        AgreementError::ReversalNotHeld {
            reference: "P-1".to_owned(),
            shortfall: kzt("400.00"),
        }
    );
    assert_eq!(error.kind(), ErrorKind::Conflict);
    assert_eq!(error.clause(), Some(Clause::REVERSAL));

    // Refunded in part: the shortfall is what was paid back.
    let given = after(
        &with_invoice(),
        pay("P-1", date!(2026 - 02 - 05), "12000.00"),
    );
    let given = after(&given, refund("R-1", date!(2026 - 02 - 06), "150.00"));
    assert_eq!(
        attempt(&given, reverse("P-1", date!(2026 - 02 - 07))).unwrap_err(),
        AgreementError::ReversalNotHeld {
            reference: "P-1".to_owned(),
            shortfall: kzt("150.00"),
        }
    );
}

#[test]
fn a_late_payment_that_withdrew_charges_reversed_leaves_the_debt_as_if_it_never_came() {
    let given = charged_and_suspended();
    // BANK-9, received on the due date and recorded on 2026-02-25, withdrew the penalty
    // and the fine and lifted the suspension it would have prevented.
    let with_payment = after(&given, pay("BANK-9", DUE, "11600.00"));
    assert_eq!(
        types(&with_payment[given.len()..]),
        [
            "PaymentReceived",
            "LateChargeWithdrawn",
            "LateChargeWithdrawn",
            "Reinstated"
        ]
    );
    let invoice = invoice_one(&with_payment);
    assert_eq!(invoice.penalty_charged, kzt("0"));
    assert_eq!(invoice.fine_charged, kzt("0"));

    // The bank returns it on 2026-02-26.
    let reversed = after(&with_payment, reverse("BANK-9", date!(2026 - 02 - 26)));
    let invoice = invoice_one(&reversed);
    assert_eq!(invoice.principal_outstanding(), kzt("11600.00"));
    assert_eq!(invoice.paid_in_full_on, None);
    // The charges are not restored by the reversal itself (it records only the money):
    // what accrued is there to charge again.
    assert_eq!(state_of(&reversed).debt().unwrap(), kzt("11600.00"));
    assert_eq!(
        penalty_on(&reversed, 1, date!(2026 - 02 - 26)),
        kzt("197.20"),
        "17 days from the due date"
    );
    let recharged = after(
        &reversed,
        charge(LateChargeKind::Penalty, date!(2026 - 02 - 26)),
    );
    let [AgreementEvent::PenaltyCharged(penalty)] = &recharged[reversed.len()..] else {
        panic!("a penalty charged")
    };
    assert_eq!(penalty.amount, kzt("197.20"));
    let swept = attempt(&recharged, sweep(date!(2026 - 02 - 26), true)).unwrap();
    assert_eq!(types(&swept), ["FineCharged", "Suspended"]);
    let recharged = after(&recharged, sweep(date!(2026 - 02 - 26), true));

    // The payment never received: the same charges as of the same day, the same debt.
    let never = after(
        &given,
        charge(LateChargeKind::Penalty, date!(2026 - 02 - 26)),
    );
    let never = after(&never, sweep(date!(2026 - 02 - 26), true));
    let (now, then) = (state_of(&recharged), state_of(&never));
    assert_eq!(now.debt().unwrap(), kzt("20447.20"));
    assert_eq!(now.debt().unwrap(), then.debt().unwrap());
    assert_eq!(now.status(), then.status());
    let (one_now, one_then) = (invoice_one(&recharged), invoice_one(&never));
    assert_eq!(
        one_now.penalty_outstanding(),
        one_then.penalty_outstanding()
    );
    assert_eq!(one_now.fine_outstanding(), one_then.fine_outstanding());
    assert_eq!(
        one_now.principal_outstanding(),
        one_then.principal_outstanding()
    );
}

#[test]
fn a_penalty_and_fine_paid_by_a_late_payment_and_withdrawn_leave_with_the_reversal() {
    // BANK-9 pays the principal and both charges, received on the due date: both are
    // withdrawn and what paid them (8,766.00) is advance; the reversal removes it all.
    let given = charged_and_suspended();
    let with_payment = after(&given, pay("BANK-9", DUE, "20366.00"));
    assert_eq!(state_of(&with_payment).advance(), Some(kzt("8766.00")));
    let reversed =
        reversal(&attempt(&with_payment, reverse("BANK-9", date!(2026 - 02 - 26))).unwrap());
    assert_eq!(
        reversed.taken_back,
        vec![allocation(1, "11600.00", "0", "0")]
    );
    assert_eq!(reversed.advance_removed, kzt("8766.00"));
    let all = after(&with_payment, reverse("BANK-9", date!(2026 - 02 - 26)));
    let state = state_of(&all);
    assert_eq!(state.advance(), Some(kzt("0")));
    assert_eq!(state.debt().unwrap(), kzt("11600.00"));
}

#[test]
fn a_reversal_of_one_of_two_payments_reopens_the_invoice_from_the_other_ones_date() {
    // Two halves: on time (02-05) and late (02-20). Reversing the late one leaves the
    // invoice half paid (accruing from the due date); reversing the early one leaves
    // it unpaid too, never paid in full on the 20th.
    let given = after(
        &with_invoice(),
        pay("P-1", date!(2026 - 02 - 05), "5800.00"),
    );
    let given = after(&given, pay("P-2", date!(2026 - 02 - 20), "5800.00"));
    assert_eq!(
        invoice_one(&given).paid_in_full_on,
        Some(date!(2026 - 02 - 20))
    );
    let without_late = after(&given, reverse("P-2", date!(2026 - 02 - 21)));
    let invoice = invoice_one(&without_late);
    assert_eq!(invoice.principal_outstanding(), kzt("5800.00"));
    assert_eq!(invoice.principal_settled_on(), Some(date!(2026 - 02 - 05)));
    assert_eq!(invoice.paid_in_full_on, None);
    // The base stays the total after a partial payment (DOMAIN.md).
    assert_eq!(
        penalty_on(&without_late, 1, date!(2026 - 02 - 21)),
        kzt("139.20")
    );

    let without_early = after(&given, reverse("P-1", date!(2026 - 02 - 21)));
    let invoice = invoice_one(&without_early);
    assert_eq!(invoice.principal_outstanding(), kzt("5800.00"));
    assert_eq!(invoice.principal_settled_on(), Some(date!(2026 - 02 - 20)));
    assert_eq!(invoice.paid_in_full_on, None);
}

#[test]
fn a_reversal_replays_to_the_state_it_was_decided_on() {
    // Every `after` checks it; here a longer history with every kind of correction.
    let given = after(
        &with_invoice(),
        pay("P-1", date!(2026 - 02 - 05), "12600.00"),
    );
    let given = after(&given, issue(date!(2026 - 02 - 10), "500.00"));
    let given = after(&given, refund("R-1", date!(2026 - 02 - 11), "200.00"));
    let given = after(&given, pay("P-2", date!(2026 - 02 - 12), "300.00"));
    let given = after(&given, credit_net(1, date!(2026 - 02 - 13), "1000.00"));
    let given = after(&given, reverse("P-1", date!(2026 - 02 - 14)));
    let given = after(&given, sweep(date!(2026 - 03 - 20), true));
    let given = after(
        &given,
        charge_invoice(1, LateChargeKind::Penalty, date!(2026 - 03 - 20)),
    );
    let given = after(&given, pay("P-3", date!(2026 - 02 - 14), "30000.00"));
    let given = after(&given, reverse("P-2", date!(2026 - 03 - 21)));
    let live = state_of(&given);
    assert_replays_to(&given, &live);
}

#[test]
fn a_reversal_never_reopens_what_the_advance_settled_before_the_payment_was_received() {
    // P-0 (20,000.00 on 02-05) pays invoice 1 and leaves 8,400.00 of advance, which
    // settles invoice 2 (11,600.00) on its issue on 03-02: 3,200.00 left to pay.
    let given = after(
        &with_invoice(),
        pay("P-0", date!(2026 - 02 - 05), "20000.00"),
    );
    let given = after(&given, issue(date!(2026 - 03 - 02), "10000.00"));
    assert_eq!(invoice_n(&given, 2).principal_outstanding(), kzt("3200.00"));
    // P-1 (03-03) pays it and leaves 1,000.00 of advance, refunded on 03-04.
    let given = after(&given, pay("P-1", date!(2026 - 03 - 03), "4200.00"));
    let given = after(&given, refund("R-1", date!(2026 - 03 - 04), "1000.00"));
    // The bank returns P-1: the 1,000.00 it left was paid back, and no advance of it
    // settled anything. The settlement of 03-02 by P-0's advance, made before P-1 was
    // received, is not P-1's money to take back: the reversal is refused.
    let error = attempt(&given, reverse("P-1", date!(2026 - 03 - 05))).unwrap_err();
    assert_eq!(
        error,
        AgreementError::ReversalNotHeld {
            reference: "P-1".to_owned(),
            shortfall: kzt("1000.00"),
        }
    );
    // Without the refund it is reversed: P-1's 3,200.00 and its advance, nothing else.
    let given = after(
        &with_invoice(),
        pay("P-0", date!(2026 - 02 - 05), "20000.00"),
    );
    let given = after(&given, issue(date!(2026 - 03 - 02), "10000.00"));
    let given = after(&given, pay("P-1", date!(2026 - 03 - 03), "4200.00"));
    let reversed = reversal(&attempt(&given, reverse("P-1", date!(2026 - 03 - 05))).unwrap());
    assert_eq!(
        reversed.taken_back,
        vec![allocation(2, "3200.00", "0", "0")]
    );
    assert_eq!(reversed.advance_removed, kzt("1000.00"));
    assert!(reversed.advance_undone.is_empty());
}

#[test]
fn a_reversal_while_a_termination_is_pending_leaves_the_settlement_sweep_to_charge_the_penalty() {
    // Notice on 02-20 (effective 03-07, §10.2.2); the payment is returned on 03-02.
    let given = after(
        &paid_in_full(),
        termination(
            TerminationGround::ParticipantNotice,
            date!(2026 - 02 - 20),
            None,
        ),
    );
    let given = after(&given, reverse("P-1", date!(2026 - 03 - 02)));
    // On the effective date the sweep charges what accrued (26 days: 301.60) and the
    // fine as settlement, suspends for the overdue, and does not terminate: debt is owed.
    let swept = attempt(&given, sweep(date!(2026 - 03 - 07), false)).unwrap();
    assert_eq!(
        types(&swept),
        ["PenaltyCharged", "FineCharged", "Suspended"]
    );
    let AgreementEvent::PenaltyCharged(penalty) = &swept[0] else {
        unreachable!()
    };
    assert_eq!(penalty.amount, kzt("301.60"));
    assert!(penalty.settlement);
    let given = after(&given, sweep(date!(2026 - 03 - 07), false));
    assert_eq!(state_of(&given).status(), Some(AgreementStatus::Suspended));
    assert_eq!(state_of(&given).debt().unwrap(), kzt("20551.60"));
}
