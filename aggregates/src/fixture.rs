//! Given/when/then tests of the agreement (cqrs-es `TestFramework`): every command in
//! every state, accepted and refused, and the rules behind each figure.
//!
//! The tests live beside the code they test (`decisions/*/tests.rs`, `dunning/tests.rs`,
//! `late_payment/tests.rs`); this module holds what they share: the imports they all
//! need, the reference data and services, and the given/when/then helpers. A test module
//! starts with `use crate::fixture::*;`.

pub(crate) use std::str::FromStr;
pub(crate) use std::sync::Arc;

pub(crate) use cqrs_es::test::TestFramework;
pub(crate) use rust_decimal::Decimal;
pub(crate) use time::macros::date;
pub(crate) use time::Date;

pub(crate) use commands::*;
pub(crate) use events::*;

pub(crate) use crate::reference::{ReferenceData, ReferenceSources};
pub(crate) use crate::{AgreementError, AgreementServices, ErrorKind, ParticipantAgreement};

pub(crate) type Framework = TestFramework<ParticipantAgreement>;

pub(crate) const RATES: &str = r#"
version = "test-rates"
source = "made up for tests"
[[usd_kzt]]
date = "2026-02-02"
rate = "503.15"
quant = 1
"#;

pub(crate) fn reference() -> Arc<ReferenceData> {
    let sources = ReferenceSources {
        exchange_rates: RATES,
        ..ReferenceSources::embedded()
    };
    Arc::new(ReferenceData::parse(&sources).expect("test reference data parses"))
}

pub(crate) fn services_on(today: Date, next: u64) -> AgreementServices {
    AgreementServices {
        tariffs: Default::default(),
        reference: reference(),
        today,
        next_invoice_number: Some(InvoiceNumber::new(next).unwrap()),
        closed_through: None,
    }
}

pub(crate) fn services() -> AgreementServices {
    services_on(date!(2026 - 12 - 31), 1)
}

pub(crate) fn framework() -> Framework {
    Framework::with(services())
}

pub(crate) fn kzt(text: &str) -> Money {
    Amount::parse(text).unwrap().in_currency(Currency::KZT)
}

pub(crate) fn usd(text: &str) -> Money {
    Amount::parse(text).unwrap().in_currency(Currency::USD)
}

pub(crate) fn participant() -> ParticipantId {
    ParticipantId::parse("150240008272").unwrap()
}

pub(crate) fn register_command(currency: Currency, resident: bool) -> Register {
    Register {
        participant_id: participant(),
        name: ParticipantName::parse("ТОО «Ромашка»").unwrap(),
        kind: ParticipantKind::LegalEntity,
        resident,
        currency,
        email: EmailAddress::parse("buh@romashka.kz").unwrap(),
        registered_on: date!(2026 - 01 - 05),
    }
}

pub(crate) fn registered_event(currency: Currency, resident: bool) -> AgreementEvent {
    let c = register_command(currency, resident);
    AgreementEvent::Registered(Registered {
        participant_id: c.participant_id,
        name: c.name,
        kind: c.kind,
        resident: c.resident,
        currency: c.currency,
        email: c.email,
        registered_on: c.registered_on,
    })
}

pub(crate) fn signed_event() -> AgreementEvent {
    AgreementEvent::AgreementSigned(AgreementSigned {
        signed_on: date!(2026 - 01 - 06),
        concluded_on: date!(2026 - 01 - 05),
        in_force_from: date!(2026 - 01 - 06),
    })
}

pub(crate) fn line(description: &str, quantity: &str, unit_price: &str) -> InvoiceLineRequest {
    InvoiceLineRequest {
        description: LineDescription::parse(description).unwrap(),
        quantity: Quantity::parse(quantity).unwrap(),
        unit_price: Amount::parse(unit_price).unwrap(),
    }
}

pub(crate) fn invoice_command(
    kind: InvoiceKind,
    issued_on: Date,
    unit_price: &str,
) -> IssueInvoice {
    IssueInvoice {
        kind,
        issued_on,
        lines: vec![line("Subscription", "1", unit_price)],
        period: None,
    }
}

pub(crate) fn payment_command(reference: &str, received_on: Date, amount: &str) -> ReceivePayment {
    ReceivePayment {
        reference: PaymentReference::parse(reference).unwrap(),
        received_on,
        amount: Amount::parse(amount).unwrap(),
        currency: None,
        invoice_number: None,
    }
}

/// Decides `command` after `given` and returns the events, or panics with the refusal.
pub(crate) fn decide(
    given: &[AgreementEvent],
    command: AgreementCommand,
    services: &AgreementServices,
) -> Result<Vec<AgreementEvent>, AgreementError> {
    let mut agreement = ParticipantAgreement::default();
    for event in given {
        agreement.apply_event(event.clone());
    }
    agreement.decide(command, services)
}

/// Events of a signed KZT agreement with invoice 1 of 10000.00 net (11600.00 with 16%
/// VAT) issued on Monday 2026-02-02, due Monday 2026-02-09.
pub(crate) fn with_invoice() -> Vec<AgreementEvent> {
    let mut given = vec![registered_event(Currency::KZT, true), signed_event()];
    given.extend(
        decide(
            &given,
            AgreementCommand::IssueInvoice(invoice_command(
                InvoiceKind::Subscription,
                date!(2026 - 02 - 02),
                "10000.00",
            )),
            &services(),
        )
        .unwrap(),
    );
    given
}

pub(crate) fn payment_event(events: Vec<AgreementEvent>) -> PaymentReceived {
    match events.as_slice() {
        [AgreementEvent::PaymentReceived(payment)] => payment.clone(),
        other => panic!("expected one payment, got {other:?}"),
    }
}

pub(crate) fn termination(
    ground: TerminationGround,
    notice: Date,
    effective: Option<Date>,
) -> AgreementCommand {
    AgreementCommand::RequestTermination(RequestTermination {
        ground,
        notice_received_on: notice,
        effective_on: effective,
    })
}
/// The states an agreement can be in, and `New` before it exists: `history` gives the
/// events that bring it there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    New,
    Registered,
    Active,
    Suspended,
    Blocked,
    TerminationPending,
    Terminated,
}

pub(crate) fn history(state: State) -> Vec<AgreementEvent> {
    let mut events = Vec::new();
    if state == State::New {
        return events;
    }
    events.push(registered_event(Currency::KZT, true));
    if state == State::Registered {
        return events;
    }
    // Signed states carry invoice 1 (due 2026-02-09), late by the commands' date.
    events = with_invoice();
    let on = date!(2026 - 02 - 10);
    match state {
        State::Suspended => events.push(AgreementEvent::Suspended(Suspended {
            on,
            reason: RestrictionReason::Verification,
            imposed_by: Some(ImposedBy::Operator),
        })),
        State::Blocked => events.push(AgreementEvent::Blocked(Blocked {
            on,
            reason: RestrictionReason::Violation,
        })),
        State::TerminationPending | State::Terminated => {
            events.push(AgreementEvent::TerminationRequested(TerminationRequested {
                ground: TerminationGround::Mutual,
                notice_received_on: on,
                effective_on: on,
                settlement_due_on: None,
            }));
            if state == State::Terminated {
                events.push(AgreementEvent::Terminated(Terminated { on }));
            }
        }
        _ => {}
    }
    events
}

pub(crate) fn charge(kind: LateChargeKind, on: Date) -> AgreementCommand {
    AgreementCommand::ChargeLatePayment(ChargeLatePayment {
        invoice_number: InvoiceNumber::new(1).unwrap(),
        kind,
        on,
    })
}

pub(crate) fn waive(kind: LateChargeKind, amount: &str, on: Option<Date>) -> AgreementCommand {
    AgreementCommand::WaiveLatePayment(WaiveLatePayment {
        invoice_number: InvoiceNumber::new(1).unwrap(),
        kind,
        amount: Amount::parse(amount).unwrap(),
        reason: ReasonNote::parse("goodwill").unwrap(),
        on,
    })
}

/// `given` plus what `command` records (which must be accepted).
pub(crate) fn then(given: &[AgreementEvent], command: AgreementCommand) -> Vec<AgreementEvent> {
    let mut all = given.to_vec();
    all.extend(decide(given, command, &services()).expect("accepted"));
    all
}

pub(crate) fn state_of(given: &[AgreementEvent]) -> ParticipantAgreement {
    let mut agreement = ParticipantAgreement::default();
    for event in given {
        agreement.apply_event(event.clone());
    }
    agreement
}

pub(crate) fn sweep(as_of: Date, charge_fines: bool) -> AgreementCommand {
    AgreementCommand::Sweep(SweepAgreement {
        as_of,
        charge_fines,
    })
}

pub(crate) fn types(events: &[AgreementEvent]) -> Vec<&'static str> {
    events.iter().map(AgreementEvent::type_name).collect()
}

/// Invoice 1 of [`with_invoice`]: 11600.00, due Monday 2026-02-09.
pub(crate) const DUE: Date = date!(2026 - 02 - 09);

pub(crate) fn number(n: u64) -> InvoiceNumber {
    InvoiceNumber::new(n).unwrap()
}

pub(crate) fn charge_invoice(n: u64, kind: LateChargeKind, on: Date) -> AgreementCommand {
    AgreementCommand::ChargeLatePayment(ChargeLatePayment {
        invoice_number: number(n),
        kind,
        on,
    })
}

pub(crate) fn waive_invoice(
    n: u64,
    kind: LateChargeKind,
    amount: &str,
    on: Option<Date>,
) -> AgreementCommand {
    AgreementCommand::WaiveLatePayment(WaiveLatePayment {
        invoice_number: number(n),
        kind,
        amount: Amount::parse(amount).unwrap(),
        reason: ReasonNote::parse("goodwill").unwrap(),
        on,
    })
}

pub(crate) fn pay(reference: &str, on: Date, amount: &str) -> AgreementCommand {
    AgreementCommand::ReceivePayment(payment_command(reference, on, amount))
}

pub(crate) fn invoice_one(given: &[AgreementEvent]) -> crate::InvoiceState {
    state_of(given).invoice(number(1)).unwrap().clone()
}

pub(crate) fn allocation(n: u64, principal: &str, penalty: &str, fine: &str) -> PaymentAllocation {
    PaymentAllocation {
        invoice_number: number(n),
        principal: kzt(principal),
        penalty: kzt(penalty),
        fine: kzt(fine),
    }
}

pub(crate) fn declare(started_on: Date, notice: Date) -> AgreementCommand {
    AgreementCommand::DeclareForceMajeure(DeclareForceMajeure {
        started_on,
        notice_received_on: notice,
        description: ReasonNote::parse("flood at the data centre").unwrap(),
    })
}

pub(crate) fn end(ended_on: Date) -> AgreementCommand {
    AgreementCommand::EndForceMajeure(EndForceMajeure { ended_on })
}

/// The invoice among `events` (a test expects one).
pub(crate) fn issued(events: &[AgreementEvent]) -> &InvoiceIssued {
    events
        .iter()
        .find_map(|e| match e {
            AgreementEvent::InvoiceIssued(issued) => Some(issued),
            _ => None,
        })
        .expect("an invoice was issued")
}
