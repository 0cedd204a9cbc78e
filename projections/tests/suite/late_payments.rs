//! Payments recorded late (§5.5, BILLING.md 5.1): arrival order never changes an
//! effective-date answer.
//!
//! A history is a run of invoices, each perhaps paid once (naming it, part or all of its
//! total, some days after its issue), penalty and fine charges by the operator and
//! sweeps (with or without the fine policy). It is recorded twice through the
//! aggregate's own `decide`: once with every payment recorded on its `received_on`
//! (date order), once with payments arriving 1-30 days late, in whatever order that
//! makes. The money figures as of every date must be the same: a charge the late order
//! made and its true date removes is withdrawn as of the charge's own date, so as known
//! now it never was. (Restrictions are history as it happened and may differ: a
//! suspension the late order imposed and lifted stays in its history.)
//!
//! Payments name their invoice and pay at most its total: BILLING.md 5.1 allocates a late
//! payment to what is open when it is recorded, which for an unnamed payment arriving
//! after a later-dated one can differ from date order (docs/domain.md, the noted
//! conflict).

use proptest::prelude::*;
use time::macros::date;
use time::{Date, Duration};

use aggregates::{AgreementServices, ParticipantAgreement};
use commands::{
    AgreementCommand, ChargeLatePayment, InvoiceLineRequest, IssueInvoice, ReceivePayment,
    Register, SignAgreement, SweepAgreement,
};
use cqrs_es::Aggregate;
use events::{
    AgreementEvent, Currency, EmailAddress, InvoiceKind, InvoiceNumber, LateChargeKind,
    LineDescription, Money, ParticipantId, ParticipantKind, ParticipantName, PaymentReference,
    Quantity,
};
use projections::AgreementLedger;

use crate::common::{money_text, reference, TODAY};

const START: Date = date!(2026 - 01 - 05);

#[derive(Debug, Clone)]
struct Bill {
    /// Days after the previous invoice.
    gap: u8,
    cents: u64,
    /// Paid `after` days after issue, `share` percent of the total (1..=100), recorded
    /// `lag` days after it was received in the late order.
    payment: Option<(u8, u8, u8)>,
}

#[derive(Debug, Clone)]
enum Act {
    Charge {
        invoice: usize,
        kind: LateChargeKind,
    },
    Sweep {
        charge_fines: bool,
    },
}

#[derive(Debug, Clone)]
struct History {
    bills: Vec<Bill>,
    /// Operator acts, each `days` after the start of the history.
    acts: Vec<(u16, Act)>,
}

fn history() -> impl Strategy<Value = History> {
    let bill = (
        0u8..40,
        10_000u64..5_000_000,
        proptest::option::weighted(0.8, (0u8..60, prop_oneof![Just(100u8), 1u8..100], 0u8..31)),
    )
        .prop_map(|(gap, cents, payment)| Bill {
            gap,
            cents,
            payment,
        });
    let kind = prop_oneof![Just(LateChargeKind::Penalty), Just(LateChargeKind::Fine)];
    let act = prop_oneof![
        (0usize..8, kind).prop_map(|(invoice, kind)| Act::Charge { invoice, kind }),
        any::<bool>().prop_map(|charge_fines| Act::Sweep { charge_fines }),
    ];
    (
        proptest::collection::vec(bill, 1..8),
        proptest::collection::vec((0u16..330, act), 0..14),
    )
        .prop_map(|(bills, acts)| History { bills, acts })
}

/// One thing to record, on a day, with its place among the things of that day.
#[derive(Debug, Clone)]
enum Step {
    Issue { bill: usize },
    Pay { bill: usize, received_on: Date },
    Act(Act),
}

struct Recording {
    events: Vec<(u64, AgreementEvent)>,
    /// With months closed: each month closed while recording, with its totals at the
    /// close (BILLING.md 5.4).
    sealed: Vec<(Date, Date, Option<events::PeriodTotals>)>,
    /// After each step: how many events were recorded, the date, and the balance the
    /// ledger gave then as of that date (what `known_at` must reproduce).
    answers: Vec<(usize, Date, projections::BalanceView)>,
}

/// The last day of the month before `day`'s.
fn end_of_month_before(day: Date) -> Date {
    day.replace_day(1).unwrap().previous_day().unwrap()
}

/// When months are closed while recording: on the 10th of each month the one before is
/// closed (BILLING.md 5.4), so on `day` the months through this date are closed.
fn closed_through_on(day: Date) -> Date {
    let last_closed = end_of_month_before(day);
    if day.day() < 10 {
        end_of_month_before(last_closed)
    } else {
        last_closed
    }
}

fn record(history: &History, late: bool) -> Recording {
    record_closing(history, late, false)
}

fn record_closing(history: &History, late: bool, close_months: bool) -> Recording {
    let reference = reference();
    let mut steps: Vec<(Date, u8, usize, Step)> = Vec::new();
    let mut issued_on = START;
    for (index, bill) in history.bills.iter().enumerate() {
        issued_on += Duration::days(i64::from(bill.gap));
        steps.push((issued_on, 0, index, Step::Issue { bill: index }));
        if let Some((after, _, lag)) = bill.payment {
            let received_on = issued_on + Duration::days(i64::from(after));
            let (recorded_on, rank) = if late && lag > 0 {
                (received_on + Duration::days(i64::from(lag)), 3)
            } else {
                (received_on, 1)
            };
            steps.push((
                recorded_on.min(TODAY),
                rank,
                index,
                Step::Pay {
                    bill: index,
                    received_on: received_on.min(TODAY),
                },
            ));
        }
    }
    for (index, (days, act)) in history.acts.iter().enumerate() {
        let on = (START + Duration::days(i64::from(*days))).min(TODAY);
        steps.push((on, 2, index, Step::Act(act.clone())));
    }
    steps.sort_by_key(|(on, rank, index, _)| (*on, *rank, *index));

    let mut agreement = ParticipantAgreement::default();
    let mut ledger = AgreementLedger::default();
    let mut events: Vec<(u64, AgreementEvent)> = Vec::new();
    let mut answers = Vec::new();
    let mut sealed: Vec<(Date, Date, Option<events::PeriodTotals>)> = Vec::new();
    let closed_through = std::cell::Cell::new(None::<Date>);
    let mut numbers: Vec<Option<InvoiceNumber>> = vec![None; history.bills.len()];
    let mut next_invoice = 1u64;
    let run = |command: AgreementCommand,
               agreement: &mut ParticipantAgreement,
               ledger: &mut AgreementLedger,
               events: &mut Vec<(u64, AgreementEvent)>,
               next_invoice: &mut u64|
     -> Option<InvoiceNumber> {
        let services = AgreementServices {
            tariffs: Default::default(),
            reference: reference.clone(),
            today: TODAY,
            next_invoice_number: Some(InvoiceNumber::new(*next_invoice).unwrap()),
            closed_through: closed_through.get(),
        };
        let mut issued = None;
        if let Ok(decided) = agreement.decide(command, &services) {
            for event in decided {
                if let AgreementEvent::InvoiceIssued(e) = &event {
                    issued = Some(e.number);
                    *next_invoice += 1;
                }
                agreement.apply(event.clone());
                let sequence = events.len() as u64 + 1;
                ledger.apply(sequence, &event);
                events.push((sequence, event));
            }
        }
        issued
    };
    run(
        AgreementCommand::Register(Register {
            participant_id: ParticipantId::parse("150240008272").unwrap(),
            name: ParticipantName::parse("ТОО «Ромашка»").unwrap(),
            kind: ParticipantKind::LegalEntity,
            resident: true,
            currency: Currency::KZT,
            email: EmailAddress::parse("buh@romashka.kz").unwrap(),
            registered_on: START,
        }),
        &mut agreement,
        &mut ledger,
        &mut events,
        &mut next_invoice,
    );
    run(
        AgreementCommand::Sign(SignAgreement { signed_on: START }),
        &mut agreement,
        &mut ledger,
        &mut events,
        &mut next_invoice,
    );
    for (on, _, _, step) in steps {
        let step_kind = step.clone();
        if close_months {
            // Months closed by this day: their totals as the ledger has them now.
            let now_closed = match closed_through.get() {
                Some(before) => closed_through_on(on).max(before),
                None => closed_through_on(on),
            };
            let mut month_end = sealed.last().map_or(end_of_month_before(START), |m| m.1);
            loop {
                let next_end = {
                    let first = month_end.next_day().unwrap();
                    let next_month = (first + Duration::days(31)).replace_day(1).unwrap();
                    next_month.previous_day().unwrap()
                };
                if next_end > now_closed {
                    break;
                }
                let from = next_end.replace_day(1).unwrap();
                sealed.push((
                    from,
                    next_end,
                    ledger.period_totals(from, next_end).unwrap(),
                ));
                month_end = next_end;
            }
            closed_through.set(Some(now_closed));
        }
        let command = match step {
            Step::Issue { bill } => AgreementCommand::IssueInvoice(IssueInvoice {
                kind: InvoiceKind::Subscription,
                issued_on: on,
                lines: vec![InvoiceLineRequest {
                    description: LineDescription::parse("E-DOC services").unwrap(),
                    quantity: Quantity::parse("1").unwrap(),
                    unit_price: money_text(history.bills[bill].cents),
                }],
                period: None,
            }),
            Step::Pay { bill, received_on } => {
                let Some(number) = numbers[bill] else {
                    continue;
                };
                let total = agreement.invoice(number).unwrap().total;
                let share = history.bills[bill].payment.unwrap().1;
                let cents = (total.amount() * rust_decimal::Decimal::from(share)).trunc();
                let cents = u64::try_from(cents).unwrap().max(1);
                AgreementCommand::ReceivePayment(ReceivePayment {
                    reference: PaymentReference::parse(&format!("BANK-{bill}")).unwrap(),
                    received_on,
                    amount: money_text(cents),
                    currency: Some(Currency::KZT),
                    invoice_number: Some(number),
                })
            }
            Step::Act(Act::Charge { invoice, kind }) => {
                let issued: Vec<_> = numbers.iter().flatten().copied().collect();
                let Some(number) = issued.get(invoice % issued.len().max(1)).copied() else {
                    continue;
                };
                AgreementCommand::ChargeLatePayment(ChargeLatePayment {
                    invoice_number: number,
                    kind,
                    on,
                })
            }
            Step::Act(Act::Sweep { charge_fines }) => AgreementCommand::Sweep(SweepAgreement {
                as_of: on,
                charge_fines,
            }),
        };
        let issued = run(
            command,
            &mut agreement,
            &mut ledger,
            &mut events,
            &mut next_invoice,
        );
        if let (Step::Issue { bill }, Some(number)) = (&step_kind, issued) {
            numbers[*bill] = Some(number);
        }
        if let Ok(balance) = ledger.balance(on, &reference) {
            answers.push((events.len(), on, balance));
        }
    }
    Recording {
        events,
        sealed,
        answers,
    }
}

/// Every date from the start to a week after the last step.
fn dates() -> impl Iterator<Item = Date> {
    let mut day = START;
    std::iter::from_fn(move || {
        let today = day;
        day = day.next_day()?;
        (today <= TODAY).then_some(today)
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Arrival order never changes an effective-date answer; what the ledger answered at
    /// each moment is what the events recorded by then answer (`known_at`); the journal
    /// balances and no penalty exceeds its cap, whatever the order.
    #[test]
    fn arrival_order_never_changes_an_effective_date_answer(history in history()) {
        let reference = reference();
        let in_date_order = record(&history, false);
        let arriving_late = record(&history, true);
        let ordered = AgreementLedger::from_events(in_date_order.events.iter().map(|(s, e)| (*s, e)));
        let late = AgreementLedger::from_events(arriving_late.events.iter().map(|(s, e)| (*s, e)));
        for as_of in dates().step_by(3) {
            let expected = ordered.balance(as_of, &reference).unwrap();
            let found = late.balance(as_of, &reference).unwrap();
            prop_assert_eq!(&found, &expected, "the balance as of {}", as_of);
            prop_assert_eq!(
                late.penalties(as_of, &reference).unwrap(),
                ordered.penalties(as_of, &reference).unwrap(),
                "the penalties as of {}", as_of
            );
            let journal = late.journal(as_of).unwrap();
            prop_assert_eq!(journal.debits, journal.credits, "the journal as of {}", as_of);
            // §5.9: the penalty charged on an invoice never exceeds 5% of its total.
            for invoice in late.position(as_of).unwrap().invoices.values() {
                let cap = Money::rounded(
                    invoice.total.amount() * rust_decimal::Decimal::new(5, 2),
                    invoice.total.currency(),
                )
                .unwrap();
                prop_assert!(invoice.penalty.charged.amount() <= cap.amount());
                prop_assert!(!invoice.penalty.charged.is_negative());
                prop_assert!(!invoice.fine.charged.is_negative());
            }
        }
        // What the ledger answered after each step is what the events recorded by then
        // answer: the `known_at` cut reproduces it.
        for (recorded, on, answered) in &arriving_late.answers {
            let known_then = AgreementLedger::from_events(
                arriving_late.events[..*recorded].iter().map(|(s, e)| (*s, e)),
            );
            prop_assert_eq!(&known_then.balance(*on, &reference).unwrap(), answered);
        }
        // The aggregate agrees with the projection on what is owed now.
        let mut state = ParticipantAgreement::default();
        for (_, event) in &arriving_late.events {
            state.apply(event.clone());
        }
        let now = late.balance(TODAY, &reference).unwrap();
        prop_assert_eq!(
            state.debt().unwrap(),
            now.total_due
        );
    }

    /// BILLING.md 5.4: months closed while payments arrive up to 30 days late. A closed
    /// month's totals never change (a payment received in it is posted on the first open
    /// day); every figure as of today is what the same facts recorded in date order give
    /// (the true dates decide penalties, §5.5); the journal balances.
    #[test]
    fn a_closed_month_never_changes_and_late_payments_still_count_from_their_true_dates(
        history in history()
    ) {
        let reference = reference();
        let in_date_order = record(&history, false);
        let closing = record_closing(&history, true, true);
        let ordered = AgreementLedger::from_events(in_date_order.events.iter().map(|(s, e)| (*s, e)));
        let late = AgreementLedger::from_events(closing.events.iter().map(|(s, e)| (*s, e)));
        for (from, to, at_close) in &closing.sealed {
            prop_assert_eq!(&late.period_totals(*from, *to).unwrap(), at_close, "{} to {}", from, to);
        }
        prop_assert_eq!(
            late.balance(TODAY, &reference).unwrap(),
            ordered.balance(TODAY, &reference).unwrap()
        );
        prop_assert_eq!(
            late.penalties(TODAY, &reference).unwrap(),
            ordered.penalties(TODAY, &reference).unwrap()
        );
        for as_of in dates().step_by(7) {
            let journal = late.journal(as_of).unwrap();
            prop_assert_eq!(journal.debits, journal.credits, "the journal as of {}", as_of);
        }
    }
}
