//! Restrictions imposed and lifted by hand (§4.2). The operator's suspension for
//! overdue (§5.9, since 2026-12-01) is tested with the lifting it waits for, in
//! `dunning/tests/manual_overdue_suspension.rs`.

use crate::fixture::*;

#[test]
fn restrictions_are_lifted_with_the_reason_they_lift() {
    framework()
        .given(history(State::Blocked))
        .when(AgreementCommand::Unblock(LiftRestriction {
            on: date!(2026 - 03 - 01),
            reason: ReasonNote::parse("violation remedied").unwrap(),
        }))
        .then_expect_events(vec![AgreementEvent::Unblocked(Unblocked {
            on: date!(2026 - 03 - 01),
            reason: ReasonNote::parse("violation remedied").unwrap(),
            lifted: RestrictionReason::Violation,
            payment: None,
        })]);
    let mut agreement = ParticipantAgreement::default();
    history(State::Suspended)
        .into_iter()
        .for_each(|e| agreement.apply_event(e));
    assert_eq!(agreement.status(), Some(crate::AgreementStatus::Suspended));
    agreement.apply_event(AgreementEvent::Blocked(Blocked {
        on: date!(2026 - 02 - 11),
        reason: RestrictionReason::Overdue,
    }));
    assert_eq!(agreement.status(), Some(crate::AgreementStatus::Blocked));
}
