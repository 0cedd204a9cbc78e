//! What every decision shares: the business dates it accepts, and every command in
//! every state, accepted or refused.

use crate::fixture::*;

#[test]
fn dates_in_the_future_are_refused() {
    let today = date!(2026 - 11 - 25);
    let mut command = register_command(Currency::KZT, true);
    command.registered_on = date!(2026 - 11 - 26);
    let error = decide(
        &[],
        AgreementCommand::Register(command),
        &services_on(today, 1),
    )
    .unwrap_err();
    assert_eq!(
        error,
        AgreementError::InTheFuture {
            what: "the registration date",
            date: date!(2026 - 11 - 26),
            today
        }
    );
    let error = decide(
        &with_invoice(),
        AgreementCommand::ReceivePayment(payment_command("P", date!(2026 - 11 - 26), "1.00")),
        &services_on(today, 2),
    )
    .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::RuleViolation);
}

// ---------------------------------------------------------------------------------
// Every command in every state
// ---------------------------------------------------------------------------------

fn every_command() -> Vec<(&'static str, AgreementCommand)> {
    let on = date!(2026 - 03 - 02);
    let note = ReasonNote::parse("checked").unwrap();
    vec![
        (
            "register",
            AgreementCommand::Register(register_command(Currency::KZT, true)),
        ),
        (
            "sign",
            AgreementCommand::Sign(SignAgreement { signed_on: on }),
        ),
        (
            "invoice",
            AgreementCommand::IssueInvoice(invoice_command(InvoiceKind::Credit, on, "100.00")),
        ),
        (
            "pay",
            AgreementCommand::ReceivePayment(payment_command("P-1", on, "10.00")),
        ),
        (
            "suspend",
            AgreementCommand::Suspend(RestrictAccess {
                on,
                reason: RestrictionReason::TechnicalWorks,
            }),
        ),
        (
            "reinstate",
            AgreementCommand::Reinstate(LiftRestriction {
                on,
                reason: note.clone(),
            }),
        ),
        (
            "block",
            AgreementCommand::Block(RestrictAccess {
                on,
                reason: RestrictionReason::Violation,
            }),
        ),
        (
            "unblock",
            AgreementCommand::Unblock(LiftRestriction { on, reason: note }),
        ),
        (
            "terminate",
            termination(TerminationGround::ParticipantNotice, on, None),
        ),
        (
            "charge",
            AgreementCommand::ChargeLatePayment(ChargeLatePayment {
                invoice_number: InvoiceNumber::new(1).unwrap(),
                kind: LateChargeKind::Penalty,
                on,
            }),
        ),
        (
            "waive",
            AgreementCommand::WaiveLatePayment(WaiveLatePayment {
                invoice_number: InvoiceNumber::new(1).unwrap(),
                kind: LateChargeKind::Penalty,
                amount: Amount::parse("1.00").unwrap(),
                reason: ReasonNote::parse("goodwill").unwrap(),
                on: Some(on),
            }),
        ),
        (
            "charge fine",
            AgreementCommand::ChargeLatePayment(ChargeLatePayment {
                invoice_number: InvoiceNumber::new(1).unwrap(),
                kind: LateChargeKind::Fine,
                on,
            }),
        ),
        (
            // Undated: the waiver is dated today (services.today, 2026-12-31).
            "waive fine today",
            AgreementCommand::WaiveLatePayment(WaiveLatePayment {
                invoice_number: InvoiceNumber::new(1).unwrap(),
                kind: LateChargeKind::Fine,
                amount: Amount::parse("8650.00").unwrap(),
                reason: ReasonNote::parse("goodwill").unwrap(),
                on: None,
            }),
        ),
    ]
}

#[test]
fn every_command_in_every_state() {
    use State::*;
    // What each command gives in each state: the event type it records, or the refusal.
    let expected: &[(State, [&str; 13])] = &[
        // register, sign, invoice, pay, suspend, reinstate, block, unblock, terminate, charge,
        // waive, charge fine, waive fine today
        (
            New,
            [
                "Registered",
                "NotRegistered",
                "NotRegistered",
                "NotRegistered",
                "NotRegistered",
                "NotRegistered",
                "NotRegistered",
                "NotRegistered",
                "NotRegistered",
                "NotRegistered",
                "NotRegistered",
                "NotRegistered",
                "NotRegistered",
            ],
        ),
        (
            Registered,
            [
                "AlreadyRegistered",
                "AgreementSigned",
                "NotSigned",
                "PaymentReceived",
                "NotSigned",
                "NotSuspended",
                "NotSigned",
                "NotBlocked",
                "NotSigned",
                "NotSigned",
                "NotSigned",
                "NotSigned",
                "NotSigned",
            ],
        ),
        (
            Active,
            [
                "AlreadyRegistered",
                "AlreadySigned",
                "InvoiceIssued",
                "PaymentReceived",
                "Suspended",
                "NotSuspended",
                "Blocked",
                "NotBlocked",
                "TerminationRequested",
                "PenaltyCharged",
                "LateChargeWaived",
                "FineCharged",
                "LateChargeWaived",
            ],
        ),
        (
            Suspended,
            [
                "AlreadyRegistered",
                "AlreadySigned",
                "InvoiceIssued",
                "PaymentReceived",
                "AlreadySuspended",
                "Reinstated",
                "Blocked",
                "NotBlocked",
                "TerminationRequested",
                "PenaltyCharged",
                "LateChargeWaived",
                "FineCharged",
                "LateChargeWaived",
            ],
        ),
        (
            Blocked,
            [
                "AlreadyRegistered",
                "AlreadySigned",
                "InvoiceIssued",
                "PaymentReceived",
                "AlreadyBlocked",
                "NotSuspended",
                "AlreadyBlocked",
                "Unblocked",
                "TerminationRequested",
                "PenaltyCharged",
                "LateChargeWaived",
                "FineCharged",
                "LateChargeWaived",
            ],
        ),
        (
            TerminationPending,
            [
                "AlreadyRegistered",
                "AlreadySigned",
                // Effective on 2026-02-10: no invoice for a later day (§10.3, 2026-12-01).
                "InvoiceAfterTermination",
                "PaymentReceived",
                "Suspended",
                "NotSuspended",
                "Blocked",
                "NotBlocked",
                "TerminationPending",
                "PenaltyCharged",
                "LateChargeWaived",
                "FineCharged",
                "LateChargeWaived",
            ],
        ),
        (
            Terminated,
            [
                "AlreadyRegistered",
                "AlreadySigned",
                "AlreadyTerminated",
                "PaymentReceived",
                "AlreadyTerminated",
                "NotSuspended",
                "AlreadyTerminated",
                "NotBlocked",
                "AlreadyTerminated",
                "AlreadyTerminated",
                "AlreadyTerminated",
                "AlreadyTerminated",
                "AlreadyTerminated",
            ],
        ),
    ];
    let mut mismatches = Vec::new();
    // `zip` would silently drop a command with no expected outcome.
    assert!(expected
        .iter()
        .all(|(_, outcomes)| outcomes.len() == every_command().len()));
    for (state, outcomes) in expected {
        for ((name, command), want) in every_command().into_iter().zip(outcomes) {
            let got = match decide(&history(*state), command, &services()) {
                Ok(events) => events
                    .first()
                    .map(|e| e.type_name().to_owned())
                    .unwrap_or_else(|| "nothing".into()),
                Err(error) => format!("{error:?}")
                    .split([' ', '{', '('])
                    .next()
                    .unwrap()
                    .to_owned(),
            };
            if got != *want {
                mismatches.push(format!("{state:?} + {name}: expected {want}, got {got}"));
            }
        }
    }
    assert!(mismatches.is_empty(), "\n{}", mismatches.join("\n"));
}
