//! Refunds (BILLING.md 5.2, §5.10): money is paid back only from the advance.

use super::*;
use crate::AgreementStatus;

/// [`with_invoice`] paid with 400.00 over: the advance.
fn with_advance() -> Vec<AgreementEvent> {
    let given = after(
        &with_invoice(),
        pay("P-1", date!(2026 - 02 - 05), "12000.00"),
    );
    assert_eq!(state_of(&given).advance(), Some(kzt("400.00")));
    given
}

#[test]
fn a_refund_pays_back_part_or_all_of_the_advance() {
    let given = with_advance();
    let recorded = attempt(&given, refund("R-1", date!(2026 - 02 - 06), "150.00")).unwrap();
    assert_eq!(
        recorded,
        vec![AgreementEvent::AdvanceRefunded(AdvanceRefunded {
            reference: reference_of("R-1"),
            amount: kzt("150.00"),
            reason: note(),
            on: date!(2026 - 02 - 06),
            advance_remaining: kzt("250.00"),
        })]
    );
    let given = after(&given, refund("R-1", date!(2026 - 02 - 06), "150.00"));
    assert_eq!(state_of(&given).advance(), Some(kzt("250.00")));
    let given = after(&given, refund("R-2", date!(2026 - 02 - 06), "250.00"));
    let state = state_of(&given);
    assert_eq!(state.advance(), Some(kzt("0")));
    // The invoice the payment settled keeps its money: a fee allocated is not refunded.
    assert_eq!(
        invoice_one(&given).paid_in_full_on,
        Some(date!(2026 - 02 - 05))
    );
    assert_eq!(state.debt().unwrap(), kzt("0"));
}

#[test]
fn a_refund_beyond_the_advance_is_refused_naming_the_clause() {
    let error = attempt(
        &with_advance(),
        refund("R-1", date!(2026 - 02 - 06), "400.01"),
    )
    .unwrap_err();
    assert_eq!(
        error,
        AgreementError::RefundBeyondAdvance {
            requested: kzt("400.01"),
            advance: kzt("400.00"),
        }
    );
    assert_eq!(error.kind(), ErrorKind::RuleViolation);
    assert_eq!(error.clause(), Some(Clause::REFUND));
    assert_eq!(Clause::REFUND.as_str(), "5.10");
    // With no advance at all, nothing can be refunded.
    let error = attempt(
        &with_invoice(),
        refund("R-1", date!(2026 - 02 - 06), "0.01"),
    )
    .unwrap_err();
    assert_eq!(
        error,
        AgreementError::RefundBeyondAdvance {
            requested: kzt("0.01"),
            advance: kzt("0"),
        }
    );
}

#[test]
fn a_zero_refund_is_refused() {
    let error = attempt(
        &with_advance(),
        refund("R-1", date!(2026 - 02 - 06), "0.00"),
    )
    .unwrap_err();
    assert_eq!(error, AgreementError::ZeroRefund);
    assert_eq!(error.kind(), ErrorKind::RuleViolation);
    assert_eq!(error.clause(), Some(Clause::REFUND));
}

#[test]
fn a_repeated_refund_reference_records_nothing_or_is_refused_when_it_differs() {
    let given = after(
        &with_advance(),
        refund("R-1", date!(2026 - 02 - 06), "150.00"),
    );
    // The same refund again (even after later entries): nothing more is paid back.
    let given = after(&given, issue(date!(2026 - 02 - 10), "1.00"));
    assert!(
        attempt(&given, refund("R-1", date!(2026 - 02 - 06), "150.00"))
            .unwrap()
            .is_empty()
    );
    for different in [
        refund("R-1", date!(2026 - 02 - 06), "100.00"),
        refund("R-1", date!(2026 - 02 - 10), "150.00"),
    ] {
        let error = attempt(&given, different).unwrap_err();
        assert_eq!(
            error,
            AgreementError::RefundReferenceReused {
                reference: "R-1".to_owned()
            }
        );
        assert_eq!(error.kind(), ErrorKind::Conflict);
    }
    // (Invoice 2, 1.16, took that much of the advance on its issue.)
    assert_eq!(state_of(&given).advance(), Some(kzt("248.84")));
}

#[test]
fn a_refund_is_dated_like_any_new_entry() {
    let given = after(&with_advance(), pay("P-2", date!(2026 - 02 - 10), "1.00"));
    assert_eq!(
        attempt(&given, refund("R-1", date!(2026 - 02 - 09), "1.00")).unwrap_err(),
        AgreementError::Backdated {
            what: "the refund date",
            date: date!(2026 - 02 - 09),
            latest: date!(2026 - 02 - 10),
        }
    );
    assert!(matches!(
        attempt(&given, refund("R-1", date!(2027 - 01 - 01), "1.00")).unwrap_err(),
        AgreementError::InTheFuture { .. }
    ));
}

#[test]
fn the_advance_is_refunded_after_termination_so_no_money_is_stuck() {
    // Paid with 400.00 over, then terminated by mutual agreement once settled.
    let given = after(
        &with_advance(),
        termination(
            TerminationGround::Mutual,
            date!(2026 - 02 - 10),
            Some(date!(2026 - 02 - 10)),
        ),
    );
    let given = after(&given, sweep(date!(2026 - 02 - 10), false));
    let state = state_of(&given);
    assert_eq!(state.status(), Some(AgreementStatus::Terminated));
    assert_eq!(state.advance(), Some(kzt("400.00")));

    assert_eq!(
        attempt(&given, refund("R-1", date!(2026 - 02 - 11), "400.01")).unwrap_err(),
        AgreementError::RefundBeyondAdvance {
            requested: kzt("400.01"),
            advance: kzt("400.00"),
        }
    );
    let given = after(&given, refund("R-1", date!(2026 - 02 - 11), "400.00"));
    let state = state_of(&given);
    assert_eq!(state.advance(), Some(kzt("0")));
    assert_eq!(state.status(), Some(AgreementStatus::Terminated));
}

#[test]
fn the_advance_is_refunded_while_a_termination_is_pending() {
    let given = after(
        &with_advance(),
        termination(
            TerminationGround::ParticipantNotice,
            date!(2026 - 02 - 10),
            None,
        ),
    );
    assert_eq!(
        state_of(&given).status(),
        Some(AgreementStatus::TerminationPending)
    );
    let given = after(&given, refund("R-1", date!(2026 - 02 - 11), "400.00"));
    assert_eq!(state_of(&given).advance(), Some(kzt("0")));
}
