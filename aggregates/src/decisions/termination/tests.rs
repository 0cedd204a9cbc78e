//! Termination (§10.2; for force majeure, §8.4).

use crate::fixture::*;

#[test]
fn participant_notice_takes_effect_fifteen_calendar_days_later() {
    let given = with_invoice();
    let events = decide(
        &given,
        termination(
            TerminationGround::ParticipantNotice,
            date!(2026 - 02 - 20),
            None,
        ),
        &services(),
    )
    .unwrap();
    assert_eq!(
        events,
        vec![AgreementEvent::TerminationRequested(TerminationRequested {
            ground: TerminationGround::ParticipantNotice,
            notice_received_on: date!(2026 - 02 - 20),
            effective_on: date!(2026 - 03 - 07),
            settlement_due_on: None,
        })]
    );
    assert_eq!(events[0].clause(), Clause::TERMINATION_NOTICE);
    let error = decide(
        &given,
        termination(
            TerminationGround::ParticipantNotice,
            date!(2026 - 02 - 20),
            Some(date!(2026 - 03 - 06)),
        ),
        &services(),
    )
    .unwrap_err();
    assert_eq!(
        error,
        AgreementError::TerminationTooEarly {
            notice_received_on: date!(2026 - 02 - 20),
            earliest: date!(2026 - 03 - 07)
        }
    );
    assert!(decide(
        &given,
        termination(
            TerminationGround::ParticipantNotice,
            date!(2026 - 02 - 20),
            Some(date!(2026 - 04 - 01))
        ),
        &services()
    )
    .is_ok());
}

#[test]
fn mutual_and_court_terminations_take_the_named_date() {
    let given = with_invoice();
    let events = decide(
        &given,
        termination(TerminationGround::Mutual, date!(2026 - 02 - 20), None),
        &services(),
    )
    .unwrap();
    let AgreementEvent::TerminationRequested(t) = &events[0] else {
        panic!()
    };
    assert_eq!(t.effective_on, date!(2026 - 02 - 20));
    let error = decide(
        &given,
        termination(
            TerminationGround::Court,
            date!(2026 - 02 - 20),
            Some(date!(2026 - 02 - 19)),
        ),
        &services(),
    )
    .unwrap_err();
    assert_eq!(
        error,
        AgreementError::EffectiveBeforeNotice {
            effective_on: date!(2026 - 02 - 19),
            notice_received_on: date!(2026 - 02 - 20)
        }
    );
    let error = decide(
        &given,
        termination(
            TerminationGround::ForceMajeure,
            date!(2026 - 02 - 20),
            Some(date!(2026 - 03 - 20)),
        ),
        &services(),
    )
    .unwrap_err();
    assert_eq!(error, AgreementError::NoLongForceMajeure);
    assert_eq!(error.clause(), Some(Clause::FORCE_MAJEURE));
}

#[test]
fn termination_for_force_majeure_needs_more_than_ninety_days_and_a_named_date() {
    let given = then(
        &with_invoice(),
        declare(date!(2026 - 03 - 02), date!(2026 - 03 - 03)),
    );
    // Day 90 (2026-05-30) is not enough; day 91 (2026-05-31) is.
    let day_90 = decide(
        &given,
        termination(
            TerminationGround::ForceMajeure,
            date!(2026 - 05 - 30),
            Some(date!(2026 - 06 - 30)),
        ),
        &services(),
    )
    .unwrap_err();
    assert_eq!(day_90, AgreementError::NoLongForceMajeure);
    let unnamed = decide(
        &given,
        termination(TerminationGround::ForceMajeure, date!(2026 - 05 - 31), None),
        &services(),
    )
    .unwrap_err();
    assert_eq!(unnamed, AgreementError::EffectiveDateRequired);
    let events = decide(
        &given,
        termination(
            TerminationGround::ForceMajeure,
            date!(2026 - 05 - 31),
            Some(date!(2026 - 06 - 30)),
        ),
        &services(),
    )
    .unwrap();
    let AgreementEvent::TerminationRequested(requested) = &events[0] else {
        unreachable!()
    };
    assert_eq!(requested.effective_on, date!(2026 - 06 - 30));
    // 5 working days before Tuesday 2026-06-30: Tuesday 2026-06-23.
    assert_eq!(requested.settlement_due_on, Some(date!(2026 - 06 - 23)));
}
