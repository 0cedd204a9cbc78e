//! Tests of the corrections: reversal, refund, void, credit note (BILLING.md 5.2-5.3).
//!
//! Pure unit tests: a history of events and a command in, events or a refusal out. Every
//! history a test builds with [`after`] is also replayed from its stored (JSON) form and
//! checked equal to the state it was decided on, so what a decision saw is what a fresh
//! aggregate folding the same events sees.

use crate::fixture::*;
use crate::InvoiceState;

mod credit_note;
mod property;
mod refund;
mod reversal;
mod void;

pub(crate) fn note() -> ReasonNote {
    ReasonNote::parse("correction under test").unwrap()
}

pub(crate) fn reference_of(text: &str) -> PaymentReference {
    PaymentReference::parse(text).unwrap()
}

pub(crate) fn reverse(reference: &str, on: Date) -> AgreementCommand {
    AgreementCommand::ReversePayment(ReversePayment {
        reference: reference_of(reference),
        on,
        reason: note(),
    })
}

pub(crate) fn refund(reference: &str, on: Date, amount: &str) -> AgreementCommand {
    AgreementCommand::RefundAdvance(RefundAdvance {
        reference: reference_of(reference),
        on,
        amount: Amount::parse(amount).unwrap(),
        reason: note(),
    })
}

pub(crate) fn void(n: u64, on: Date) -> AgreementCommand {
    AgreementCommand::VoidInvoice(VoidInvoice {
        number: number(n),
        on,
        reason: note(),
    })
}

pub(crate) fn credit_net(n: u64, on: Date, net: &str) -> AgreementCommand {
    AgreementCommand::IssueCreditNote(IssueCreditNote {
        invoice_number: number(n),
        on,
        reason: note(),
        lines: None,
        net: Some(Amount::parse(net).unwrap()),
    })
}

pub(crate) fn credit_lines(n: u64, on: Date, lines: Vec<InvoiceLineRequest>) -> AgreementCommand {
    AgreementCommand::IssueCreditNote(IssueCreditNote {
        invoice_number: number(n),
        on,
        reason: note(),
        lines: Some(lines),
        net: None,
    })
}

/// An invoice for services on credit (due 3 working days after `on`) of one line.
pub(crate) fn issue(on: Date, unit_price: &str) -> AgreementCommand {
    AgreementCommand::IssueInvoice(invoice_command(InvoiceKind::Credit, on, unit_price))
}

/// The number the gapless series hands out next after `given` (invoices and credit
/// notes share it).
pub(crate) fn next_number(given: &[AgreementEvent]) -> u64 {
    given
        .iter()
        .filter_map(|event| match event {
            AgreementEvent::InvoiceIssued(e) => Some(e.number.value()),
            AgreementEvent::CreditNoteIssued(e) => Some(e.number.value()),
            _ => None,
        })
        .max()
        .unwrap_or(0)
        + 1
}

/// What `command` decides after `given`, today being 2026-12-31 and the next number of
/// the series reserved.
pub(crate) fn attempt(
    given: &[AgreementEvent],
    command: AgreementCommand,
) -> Result<Vec<AgreementEvent>, AgreementError> {
    decide(
        given,
        command,
        &services_on(date!(2026 - 12 - 31), next_number(given)),
    )
}

/// `given` plus what `command` records (which must be accepted); the whole history is
/// checked to replay to the live state.
pub(crate) fn after(given: &[AgreementEvent], command: AgreementCommand) -> Vec<AgreementEvent> {
    let mut live = state_of(given);
    let recorded = live
        .decide(
            command.clone(),
            &services_on(date!(2026 - 12 - 31), next_number(given)),
        )
        .unwrap_or_else(|error| panic!("{command:?} refused: {error}"));
    let mut all = given.to_vec();
    for event in recorded {
        live.apply_event(event.clone());
        all.push(event);
    }
    assert_replays_to(&all, &live);
    all
}

/// A fresh aggregate folding `events` as they are stored (JSON) equals `live`, and so
/// does the live state's own snapshot read back.
pub(crate) fn assert_replays_to(events: &[AgreementEvent], live: &ParticipantAgreement) {
    let mut replayed = ParticipantAgreement::default();
    for event in events {
        let stored = serde_json::to_string(event).expect("an event serializes");
        let read: AgreementEvent = serde_json::from_str(&stored)
            .unwrap_or_else(|error| panic!("{stored} does not read back: {error}"));
        assert_eq!(&read, event, "an event changed through its stored form");
        replayed.apply_event(read);
    }
    assert_eq!(
        &replayed, live,
        "the replayed state differs from the live one"
    );
    let snapshot = serde_json::to_string(live).expect("the state serializes");
    let restored: ParticipantAgreement = serde_json::from_str(&snapshot).expect("reads back");
    assert_eq!(&restored, live, "the state's snapshot does not read back");
}

pub(crate) fn invoice_n(given: &[AgreementEvent], n: u64) -> InvoiceState {
    state_of(given).invoice(number(n)).unwrap().clone()
}

/// The penalty accrued on invoice `n` as of `as_of`, from the facts as recorded.
pub(crate) fn penalty_on(given: &[AgreementEvent], n: u64, as_of: Date) -> Money {
    let state = state_of(given);
    let invoice = state.invoice(number(n)).unwrap();
    crate::late_payment::penalty(&invoice.delay_facts(state.force_majeure()), as_of)
        .unwrap()
        .amount
}

pub(crate) fn withdrawals(events: &[AgreementEvent]) -> Vec<&LateChargeWithdrawn> {
    events
        .iter()
        .filter_map(|event| match event {
            AgreementEvent::LateChargeWithdrawn(e) => Some(e),
            _ => None,
        })
        .collect()
}

/// The invoice of [`with_invoice`] (issued 2026-02-02, due 2026-02-09, 11,600.00), with
/// a penalty (116.00) and a fine (8,650.00) charged on 2026-02-19 and the sweep's
/// suspension on 2026-02-25.
pub(crate) fn charged_and_suspended() -> Vec<AgreementEvent> {
    let given = after(
        &with_invoice(),
        charge(LateChargeKind::Penalty, date!(2026 - 02 - 19)),
    );
    let given = after(&given, charge(LateChargeKind::Fine, date!(2026 - 02 - 19)));
    let given = after(&given, sweep(date!(2026 - 02 - 25), false));
    assert_eq!(
        state_of(&given).status(),
        Some(crate::AgreementStatus::Suspended)
    );
    given
}
