//! A payment recorded late is allocated to what is open when it is recorded (BILLING.md
//! 5.1), which may have opened only after the day it is posted: a principal reopened by
//! a later reversal, a charge dated later. Until then that part of it is advance; no
//! as-of view shows anything paid beyond what it owes. These are the minimal cases the
//! property `late_payments_never_make_a_figure_below_zero` (properties.rs) found.

use cqrs_es::Aggregate;
use time::{Date, Duration};

use aggregates::ParticipantAgreement;
use events::{AgreementEvent, InvoiceKind, InvoiceNumber, LateChargeKind, Money};
use projections::{AgreementLedger, BalanceView};

use crate::common::*;

fn invoice(cents: u64) -> Action {
    Action::Invoice {
        kind: InvoiceKind::Subscription,
        quantity: 1,
        cents,
    }
}

fn pay(cents: u64, early: u8) -> Action {
    Action::Pay {
        cents,
        named: None,
        early,
    }
}

fn plan(actions: Vec<(u16, Action)>) -> Plan {
    Plan {
        usd: false,
        registered_after: 0,
        sign_offset: 0,
        sign_at: 0,
        actions,
    }
}

/// Every as-of balance from the registration to today.
fn balances(ledger: &AgreementLedger) -> impl Iterator<Item = BalanceView> + '_ {
    let reference = reference();
    let mut day = FIRST_AS_OF;
    std::iter::from_fn(move || {
        let today = day;
        day = day.next_day()?;
        (today <= TODAY).then_some(today)
    })
    .filter_map(move |as_of| ledger.balance(as_of, &reference).ok())
}

fn assert_never_below_zero(ledger: &AgreementLedger) {
    for balance in balances(ledger) {
        for (name, figure) in never_below_zero(&balance) {
            assert!(
                !figure.is_negative(),
                "{name} as of {}: {figure}",
                balance.as_of
            );
        }
    }
}

fn payment(events: &[(u64, AgreementEvent)], reference: &str) -> events::PaymentReceived {
    events
        .iter()
        .find_map(|(_, e)| match e {
            AgreementEvent::PaymentReceived(p) if p.reference.as_str() == reference => {
                Some(p.clone())
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("payment {reference} was recorded"))
}

fn fold(events: &[(u64, AgreementEvent)]) -> ParticipantAgreement {
    let mut agreement = ParticipantAgreement::default();
    for (_, event) in events {
        agreement.apply(event.clone());
    }
    agreement
}

fn day(days: i64) -> Date {
    FIRST_AS_OF + Duration::days(days)
}

#[test]
fn a_payment_recorded_after_a_later_reversal_keeps_every_balance_non_negative() {
    // Invoice 1 (11.20) paid on day 10 by BANK-1, which the bank returns on day 30; BANK-2,
    // received on day 20, is recorded after the return and settles the reopened invoice.
    let recorded = record(&plan(vec![
        (5, invoice(1_000)),
        (5, pay(1_120, 0)),
        (20, Action::Reverse { payment: 0 }),
        (0, pay(1_120, 10)),
    ]));
    let late = payment(&recorded.events, "BANK-2");
    assert_eq!(late.received_on, day(20));
    assert_eq!(late.allocations.len(), 1, "{late:?}");
    let ledger = ledger_of(&recorded.events);
    assert_never_below_zero(&ledger);
    let reference = reference();
    // Days 20-29: invoice 1 is paid by BANK-1, BANK-2's money is advance.
    let between = ledger.balance(day(25), &reference).unwrap();
    assert_eq!(between.outstanding, Money::zero(recorded.currency));
    assert_eq!(between.advance.to_string(), "11.20 KZT");
    // From the return on: BANK-2 settles it, paid in full as of the day it arrived (§5.5).
    let after = ledger.balance(day(30), &reference).unwrap();
    assert_eq!(after.total_due, Money::zero(recorded.currency));
    assert_eq!(after.advance, Money::zero(recorded.currency));
    let number = InvoiceNumber::new(1).unwrap();
    let position = ledger.position(day(30)).unwrap();
    assert_eq!(position.invoices[&number].paid_in_full_on, Some(day(20)));
    assert_eq!(
        fold(&recorded.events)
            .invoice(number)
            .unwrap()
            .paid_in_full_on,
        Some(day(20))
    );
}

#[test]
fn a_payment_recorded_after_a_later_charge_keeps_every_balance_non_negative() {
    // Invoice 1 issued on day 2, due about a week later; a penalty charged on day 30;
    // BANK-1, received on day 12 (late) and recorded on day 32, pays the principal and
    // the penalty charged after it arrived.
    let recorded = record(&plan(vec![
        (2, invoice(1_000)),
        (
            28,
            Action::Charge {
                invoice: 0,
                kind: LateChargeKind::Penalty,
            },
        ),
        (2, pay(1_200, 20)),
    ]));
    let late = payment(&recorded.events, "BANK-1");
    assert_eq!(late.received_on, day(12));
    assert!(late.allocations[0].penalty.is_positive(), "{late:?}");
    let ledger = ledger_of(&recorded.events);
    assert_never_below_zero(&ledger);
    let reference = reference();
    // Before the charge the money for it is advance; on the charge's day it pays it.
    let before = ledger.balance(day(20), &reference).unwrap();
    assert_eq!(before.penalties_owed, Money::zero(recorded.currency));
    assert_eq!(before.outstanding, Money::zero(recorded.currency));
    let now = ledger.balance(TODAY, &reference).unwrap();
    assert_eq!(Some(now.total_due), fold(&recorded.events).debt().ok());
}

#[test]
fn a_credit_note_returns_the_money_it_saw_not_a_payment_recorded_after_it() {
    // Invoice 1 (112.00), BANK-1 pays 50.00; a credit note of 99% of the net leaves 1.12
    // owed and returns 48.88 of BANK-1 to the advance; the bank returns BANK-1; BANK-2,
    // received five days before the credit note and recorded after the return, settles
    // the 1.12. The credit note took its 48.88 from BANK-1 (all it saw), so invoice 1 is
    // paid in full as of BANK-2's day, in the projection as in the aggregate.
    let recorded = record(&plan(vec![
        (5, invoice(10_000)),
        (5, pay(5_000, 0)),
        (
            10,
            Action::Credit {
                invoice: 0,
                share: 99,
            },
        ),
        (0, Action::Reverse { payment: 0 }),
        (0, pay(112, 5)),
    ]));
    let late = payment(&recorded.events, "BANK-2");
    assert_eq!(late.allocations.len(), 1, "{late:?}");
    let ledger = ledger_of(&recorded.events);
    assert_never_below_zero(&ledger);
    let number = InvoiceNumber::new(1).unwrap();
    let aggregate = fold(&recorded.events);
    let position = ledger.position(TODAY).unwrap();
    assert_eq!(
        position.invoices[&number].paid_in_full_on,
        aggregate.invoice(number).unwrap().paid_in_full_on
    );
    assert_eq!(
        position.invoices[&number].paid_in_full_on,
        Some(late.received_on)
    );
}
