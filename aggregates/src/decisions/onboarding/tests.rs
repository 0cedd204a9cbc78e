//! Registration and signing (§3.2, §10.1).

use crate::fixture::*;

#[test]
fn registration_records_the_participant() {
    framework()
        .given_no_previous_events()
        .when(AgreementCommand::Register(register_command(
            Currency::KZT,
            true,
        )))
        .then_expect_events(vec![registered_event(Currency::KZT, true)]);
}

#[test]
fn a_resident_cannot_settle_in_usd() {
    framework()
        .given_no_previous_events()
        .when(AgreementCommand::Register(register_command(
            Currency::USD,
            true,
        )))
        .then_expect_error(AgreementError::ForeignCurrencyForResident {
            currency: Currency::USD,
        });
    framework()
        .given_no_previous_events()
        .when(AgreementCommand::Register(register_command(
            Currency::USD,
            false,
        )))
        .then_expect_events(vec![registered_event(Currency::USD, false)]);
}

#[test]
fn signing_concludes_on_the_earlier_date_and_enters_into_force_on_the_later() {
    // Signed after registration.
    framework()
        .given(vec![registered_event(Currency::KZT, true)])
        .when(AgreementCommand::Sign(SignAgreement {
            signed_on: date!(2026 - 01 - 06),
        }))
        .then_expect_events(vec![signed_event()]);
    // Signed before registration (§3.2): concluded on the signature, in force from registration.
    framework()
        .given(vec![registered_event(Currency::KZT, true)])
        .when(AgreementCommand::Sign(SignAgreement {
            signed_on: date!(2025 - 12 - 20),
        }))
        .then_expect_events(vec![AgreementEvent::AgreementSigned(AgreementSigned {
            signed_on: date!(2025 - 12 - 20),
            concluded_on: date!(2025 - 12 - 20),
            in_force_from: date!(2026 - 01 - 05),
        })]);
}

#[test]
fn a_signature_may_precede_registration_but_not_a_recorded_payment() {
    let given = then(
        &[registered_event(Currency::KZT, true)],
        AgreementCommand::ReceivePayment(payment_command("ADV-1", date!(2026 - 01 - 20), "100.00")),
    );
    let refused = decide(
        &given,
        AgreementCommand::Sign(SignAgreement {
            signed_on: date!(2026 - 01 - 10),
        }),
        &services(),
    )
    .unwrap_err();
    assert!(
        matches!(refused, AgreementError::Backdated { .. }),
        "{refused:?}"
    );
    let accepted = decide(
        &given,
        AgreementCommand::Sign(SignAgreement {
            signed_on: date!(2026 - 01 - 20),
        }),
        &services(),
    )
    .unwrap();
    assert_eq!(accepted.len(), 1);
}

#[test]
fn a_signature_may_not_precede_a_reversal_recorded_before_it() {
    let paid = then(
        &[registered_event(Currency::KZT, true)],
        AgreementCommand::ReceivePayment(payment_command("ADV-1", date!(2026 - 01 - 20), "100.00")),
    );
    let reversed = then(
        &paid,
        AgreementCommand::ReversePayment(commands::ReversePayment {
            reference: events::PaymentReference::parse("ADV-1").unwrap(),
            on: date!(2026 - 01 - 25),
            reason: events::ReasonNote::parse("returned by the bank").unwrap(),
        }),
    );
    let refused = decide(
        &reversed,
        AgreementCommand::Sign(SignAgreement {
            signed_on: date!(2026 - 01 - 22),
        }),
        &services(),
    )
    .unwrap_err();
    assert!(
        matches!(refused, AgreementError::Backdated { latest, .. } if latest == date!(2026 - 01 - 25)),
        "{refused:?}"
    );
}
