//! The explained balance over random histories (proptest): for every agreement and every
//! date, each figure of `GET /v1/agreements/{id}/balance?explain=true` is exactly the sum
//! of its terms, the figures are the plain balance's, and every source names a real event
//! of the history (its sequence, type and business date), dated up to the as-of date.
//!
//! The histories are those of `properties.rs` (KZT and USD agreements, invoices of every
//! kind, named and unnamed payments, repeated bank messages, charges, waivers of charged
//! and uncharged parts, advances, restrictions, terminations, early signatures). Test
//! crates cannot share private items, so its generator is copied below, unchanged from
//! `const TODAY` to `fn sub`; a change to one should be made to both.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, OnceLock};

use cqrs_es::Aggregate;
use proptest::prelude::*;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use time::macros::date;
use time::{Date, Duration};

use aggregates::reference::ReferenceSources;
use aggregates::{AgreementServices, ParticipantAgreement, ReferenceData};
use commands::{
    AgreementCommand, ChargeLatePayment, InvoiceLineRequest, IssueInvoice, LiftRestriction,
    ReceivePayment, Register, RequestTermination, RestrictAccess, SignAgreement, WaiveLatePayment,
};
use events::{
    AgreementEvent, Amount, Clause, Currency, EmailAddress, InvoiceKind, InvoiceNumber,
    LateChargeKind, LineDescription, Money, ParticipantId, ParticipantKind, ParticipantName,
    PaymentReference, Quantity, ReasonNote, RestrictionReason, TerminationGround,
};
use projections::{AgreementLedger, BalanceExplanation};

// ---------------------------------------------------------------------------------------
// The generator of properties.rs

const TODAY: Date = date!(2026 - 12 - 31);
/// Invoices after this are not attempted (their due dates would reach 2027).
const LAST_ISSUE: Date = date!(2026 - 12 - 15);
const FIRST_AS_OF: Date = date!(2025 - 01 - 01);
const LAST_AS_OF: Date = date!(2027 - 03 - 31);
const PARTICIPANT: &str = "150240008272";

// ---------------------------------------------------------------------------------------
// Reference data

/// The embedded tables, with a made-up USD/KZT rate for every weekday of 2025-2026.
fn reference() -> Arc<ReferenceData> {
    static REFERENCE: OnceLock<Arc<ReferenceData>> = OnceLock::new();
    REFERENCE
        .get_or_init(|| {
            let mut rates =
                String::from("version = \"test-rates\"\nsource = \"made up for property tests\"\n");
            let mut day = date!(2025 - 01 - 01);
            let mut index = 0u32;
            while day <= date!(2026 - 12 - 31) {
                if !matches!(
                    day.weekday(),
                    time::Weekday::Saturday | time::Weekday::Sunday
                ) {
                    // 450.00 .. 549.87, changing every day, with a quant of 1 or 10.
                    let rate = 45_000 + (index * 37) % 10_000;
                    let quant = if index.is_multiple_of(5) { 10 } else { 1 };
                    let published = Decimal::new(i64::from(rate), 2) * Decimal::from(quant);
                    rates.push_str(&format!(
                        "[[usd_kzt]]\ndate = {day}\nrate = \"{published}\"\nquant = {quant}\n"
                    ));
                    index += 1;
                }
                day = day.next_day().unwrap();
            }
            let sources = ReferenceSources {
                exchange_rates: &rates,
                ..ReferenceSources::embedded()
            };
            Arc::new(ReferenceData::parse(&sources).expect("test reference data parses"))
        })
        .clone()
}

// ---------------------------------------------------------------------------------------
// Random histories

#[derive(Debug, Clone)]
enum Action {
    Invoice {
        kind: InvoiceKind,
        quantity: u16,
        cents: u64,
    },
    Pay {
        cents: u64,
        named: Option<usize>,
    },
    /// The bank feed sends the last payment message again: it records nothing.
    Repeat,
    Charge {
        invoice: usize,
        kind: LateChargeKind,
    },
    /// Waives `cents`, or with `share` that percentage of what is charged and still
    /// owed (so that charged parts are waived too, not only what was never charged).
    Waive {
        invoice: usize,
        kind: LateChargeKind,
        cents: u64,
        share: Option<u8>,
    },
    Suspend(RestrictionReason),
    Reinstate,
    Block,
    Unblock,
    Terminate,
}

#[derive(Debug, Clone)]
struct Plan {
    usd: bool,
    /// Days after 2025-01-01.
    registered_after: u16,
    /// The signature is dated this many days from the running date (before registration
    /// when negative enough, §3.2).
    sign_offset: i16,
    /// How many actions come before the signature (0 in the ordinary generator).
    sign_at: usize,
    /// Each action with the days that pass before it.
    actions: Vec<(u16, Action)>,
}

fn kind() -> impl Strategy<Value = LateChargeKind> {
    prop_oneof![Just(LateChargeKind::Penalty), Just(LateChargeKind::Fine)]
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        5 => (
            prop_oneof![
                Just(InvoiceKind::Subscription),
                Just(InvoiceKind::Credit),
                Just(InvoiceKind::Usage)
            ],
            1u16..4,
            1_000u64..2_500_000,
        )
            .prop_map(|(kind, quantity, cents)| Action::Invoice { kind, quantity, cents }),
        5 => (100u64..4_000_000, proptest::option::weighted(0.3, 0usize..8))
            .prop_map(|(cents, named)| Action::Pay { cents, named }),
        1 => Just(Action::Repeat),
        3 => (0usize..8, kind()).prop_map(|(invoice, kind)| Action::Charge { invoice, kind }),
        3 => (0usize..8, kind(), 1u64..400_000, proptest::option::of(1u8..=100))
            .prop_map(|(invoice, kind, cents, share)| Action::Waive { invoice, kind, cents, share }),
        1 => prop_oneof![
            Just(RestrictionReason::Overdue),
            Just(RestrictionReason::Verification)
        ]
        .prop_map(Action::Suspend),
        1 => Just(Action::Reinstate),
        1 => Just(Action::Block),
        1 => Just(Action::Unblock),
        1 => Just(Action::Terminate),
    ]
}

fn plan_with(sign_at: impl Strategy<Value = usize>) -> impl Strategy<Value = Plan> {
    (
        proptest::bool::weighted(0.25),
        0u16..200,
        -12i16..15,
        sign_at,
        proptest::collection::vec((0u16..45, action()), 0..40),
    )
        .prop_map(
            |(usd, registered_after, sign_offset, sign_at, actions)| Plan {
                usd,
                registered_after,
                sign_offset,
                sign_at,
                actions,
            },
        )
}

/// The ordinary history: the signature is the first command after registration.
fn plan() -> impl Strategy<Value = Plan> {
    plan_with(Just(0usize))
}

/// A history where the agreement is signed after a few other commands (payments may be
/// received before signing).
fn plan_signing_anywhere() -> impl Strategy<Value = Plan> {
    plan_with(0usize..6)
}

fn as_of_date() -> impl Strategy<Value = Date> {
    let days = (LAST_AS_OF - FIRST_AS_OF).whole_days();
    (0..=days).prop_map(|d| FIRST_AS_OF + Duration::days(d))
}

/// An as-of date: any date of the range, or (half the time) a date near one of the
/// history's business dates, where the answers change.
#[derive(Debug, Clone, Copy)]
struct AsOf {
    any: Date,
    near: Option<(usize, i8)>,
}

fn as_of() -> impl Strategy<Value = AsOf> {
    (
        as_of_date(),
        proptest::option::of((any::<usize>(), -3i8..=3)),
    )
        .prop_map(|(any, near)| AsOf { any, near })
}

impl AsOf {
    fn on(self, events: &[(u64, AgreementEvent)]) -> Date {
        match self.near {
            None => self.any,
            Some((index, delta)) => {
                let event = &events[index % events.len()].1;
                (event.business_date() + Duration::days(i64::from(delta)))
                    .clamp(FIRST_AS_OF, LAST_AS_OF)
            }
        }
    }
}

fn money_text(cents: u64) -> Amount {
    Amount::parse(&format!("{}.{:02}", cents / 100, cents % 100)).unwrap()
}

/// The accepted events of a plan, numbered from 1.
struct Recorded {
    events: Vec<(u64, AgreementEvent)>,
    currency: Currency,
}

fn record(plan: &Plan) -> Recorded {
    let reference = reference();
    let currency = if plan.usd {
        Currency::USD
    } else {
        Currency::KZT
    };
    let mut agreement = ParticipantAgreement::default();
    let mut events: Vec<(u64, AgreementEvent)> = Vec::new();
    let mut next_invoice = 1u64;
    let mut run = |command: AgreementCommand, agreement: &mut ParticipantAgreement| {
        let services = AgreementServices {
            reference: reference.clone(),
            today: TODAY,
            next_invoice_number: Some(InvoiceNumber::new(next_invoice).unwrap()),
        };
        if let Ok(decided) = agreement.decide(command, &services) {
            for event in decided {
                if matches!(event, AgreementEvent::InvoiceIssued(_)) {
                    next_invoice += 1;
                }
                agreement.apply(event.clone());
                let sequence = events.len() as u64 + 1;
                events.push((sequence, event));
            }
        }
    };

    let registered_on = FIRST_AS_OF + Duration::days(i64::from(plan.registered_after));
    run(
        AgreementCommand::Register(Register {
            participant_id: ParticipantId::parse(PARTICIPANT).unwrap(),
            name: ParticipantName::parse("ТОО «Ромашка»").unwrap(),
            kind: ParticipantKind::LegalEntity,
            resident: !plan.usd,
            currency,
            email: EmailAddress::parse("buh@romashka.kz").unwrap(),
            registered_on,
        }),
        &mut agreement,
    );

    let mut date = registered_on;
    let mut payments = 0u32;
    let mut last_payment: Option<ReceivePayment> = None;
    let sign = |date: Date| {
        AgreementCommand::Sign(SignAgreement {
            signed_on: date + Duration::days(i64::from(plan.sign_offset)),
        })
    };
    for (index, (days, action)) in plan.actions.iter().enumerate() {
        if index == plan.sign_at {
            run(sign(date), &mut agreement);
        }
        date = (date + Duration::days(i64::from(*days))).min(TODAY);
        let invoices: Vec<InvoiceNumber> = agreement.invoices().map(|i| i.number).collect();
        let pick = |index: usize| invoices.get(index % invoices.len().max(1)).copied();
        let command = match action {
            Action::Invoice {
                kind,
                quantity,
                cents,
            } => {
                if date > LAST_ISSUE {
                    continue;
                }
                AgreementCommand::IssueInvoice(IssueInvoice {
                    kind: *kind,
                    issued_on: date,
                    lines: vec![InvoiceLineRequest {
                        description: LineDescription::parse("E-DOC services").unwrap(),
                        quantity: Quantity::parse(&quantity.to_string()).unwrap(),
                        unit_price: money_text(*cents),
                    }],
                    period: None,
                })
            }
            Action::Pay { cents, named } => {
                payments += 1;
                let payment = ReceivePayment {
                    reference: PaymentReference::parse(&format!("BANK-{payments}")).unwrap(),
                    received_on: date,
                    amount: money_text(*cents),
                    currency: Some(currency),
                    invoice_number: named.and_then(pick),
                };
                last_payment = Some(payment.clone());
                AgreementCommand::ReceivePayment(payment)
            }
            Action::Repeat => match &last_payment {
                Some(payment) => AgreementCommand::ReceivePayment(payment.clone()),
                None => continue,
            },
            Action::Charge { invoice, kind } => {
                let Some(number) = pick(*invoice) else {
                    continue;
                };
                AgreementCommand::ChargeLatePayment(ChargeLatePayment {
                    invoice_number: number,
                    kind: *kind,
                    on: date,
                })
            }
            Action::Waive {
                invoice,
                kind,
                cents,
                share,
            } => {
                let Some(number) = pick(*invoice) else {
                    continue;
                };
                let cents = match share {
                    None => *cents,
                    Some(share) => {
                        let state = agreement.invoice(number).unwrap();
                        let (charged, paid, waived, _) = state.late_charge(*kind);
                        let open = sub(sub(charged, paid), waived).amount();
                        let part = round2(open * Decimal::from(*share) / Decimal::from(100));
                        let part = (part * Decimal::from(100)).to_u64().unwrap_or(0);
                        part.max(1)
                    }
                };
                AgreementCommand::WaiveLatePayment(WaiveLatePayment {
                    invoice_number: number,
                    kind: *kind,
                    amount: money_text(cents),
                    reason: ReasonNote::parse("goodwill").unwrap(),
                    on: Some(date),
                })
            }
            Action::Suspend(reason) => AgreementCommand::Suspend(RestrictAccess {
                on: date,
                reason: *reason,
            }),
            Action::Reinstate => AgreementCommand::Reinstate(LiftRestriction {
                on: date,
                reason: ReasonNote::parse("checked").unwrap(),
            }),
            Action::Block => AgreementCommand::Block(RestrictAccess {
                on: date,
                reason: RestrictionReason::Overdue,
            }),
            Action::Unblock => AgreementCommand::Unblock(LiftRestriction {
                on: date,
                reason: ReasonNote::parse("debt repaid").unwrap(),
            }),
            Action::Terminate => AgreementCommand::RequestTermination(RequestTermination {
                ground: TerminationGround::Mutual,
                notice_received_on: date,
                effective_on: None,
            }),
        };
        run(command, &mut agreement);
    }
    if plan.sign_at >= plan.actions.len() {
        run(sign(date), &mut agreement);
    }
    Recorded { events, currency }
}

fn ledger_of<'a>(events: impl IntoIterator<Item = &'a (u64, AgreementEvent)>) -> AgreementLedger {
    AgreementLedger::from_events(
        events
            .into_iter()
            .map(|(sequence, event)| (*sequence, event)),
    )
}

/// The registration date (a signature may be dated before it, §3.2).
fn registered_on(events: &[(u64, AgreementEvent)]) -> Date {
    match &events[0].1 {
        AgreementEvent::Registered(e) => e.registered_on,
        other => panic!("the first event is the registration: {other:?}"),
    }
}

fn round2(value: Decimal) -> Decimal {
    value.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

fn sub(a: Money, b: Money) -> Money {
    a.checked_sub(b).unwrap()
}

fn add(a: Money, b: Money) -> Money {
    a.checked_add(b).unwrap()
}

// ---------------------------------------------------------------------------------------
// Properties

/// The clauses an explanation may name: the constants of `events::Clause` that apply to
/// money, nothing made up.
fn known_clauses() -> BTreeSet<&'static str> {
    [
        Clause::SUBSCRIPTION_DUE,
        Clause::CREDIT_DUE,
        Clause::PAYMENT_MOMENT,
        Clause::LATE_PAYMENT,
        Clause::VAT,
        Clause::ALLOCATION,
    ]
    .map(Clause::as_str)
    .into()
}

/// Whether `event` is about invoice `number`.
fn concerns(event: &AgreementEvent, number: InvoiceNumber) -> bool {
    match event {
        AgreementEvent::InvoiceIssued(e) => e.number == number,
        AgreementEvent::PaymentReceived(e) => {
            e.allocations.iter().any(|a| a.invoice_number == number)
        }
        AgreementEvent::AdvanceApplied(e) => e.invoice_number == number,
        AgreementEvent::PenaltyCharged(e) => e.invoice_number == number,
        AgreementEvent::FineCharged(e) => e.invoice_number == number,
        AgreementEvent::LateChargeWaived(e) => e.invoice_number == number,
        _ => false,
    }
}

/// Everything the explained balance promises, for one history and one date.
fn explained_balance_holds(recorded: &Recorded, as_of: Date) -> Result<(), TestCaseError> {
    let ledger = ledger_of(&recorded.events);
    let reference = reference();
    let (plain, explained) = match (
        ledger.balance(as_of, &reference),
        ledger.explain_balance(as_of, &reference),
    ) {
        (Ok(plain), Ok(explained)) => (plain, explained),
        (Err(plain), Err(explained)) => {
            prop_assert_eq!(plain, explained);
            prop_assert!(as_of < registered_on(&recorded.events));
            return Ok(());
        }
        (plain, explained) => {
            return Err(TestCaseError::fail(format!(
                "plain {plain:?} but explained {explained:?}"
            )))
        }
    };
    prop_assert_eq!(&explained.balance, &plain);

    // On the wire: the plain answer's fields, in its order, then `explanation`.
    let plain_text = serde_json::to_string(&plain).unwrap();
    let explained_text = serde_json::to_string(&explained).unwrap();
    let open = &plain_text[..plain_text.len() - 1];
    prop_assert!(explained_text.starts_with(open), "{}", explained_text);
    let rest = &explained_text[open.len()..];
    prop_assert!(rest.starts_with(",\"explanation\":{"), "{}", rest);
    let plain_json = serde_json::to_value(&plain).unwrap();

    let events: HashMap<u64, &AgreementEvent> =
        recorded.events.iter().map(|(s, e)| (*s, e)).collect();
    let known = known_clauses();
    let zero = Money::zero(recorded.currency);
    let figures = explained.explanation.all();
    for figure in figures {
        // The invariant: the terms add up exactly to the figure, which is the balance's.
        let sum = figure.terms.iter().fold(zero, |sum, t| add(sum, t.amount));
        prop_assert_eq!(sum, figure.amount, "{}", figure.figure);
        prop_assert_eq!(
            &plain_json[figure.figure],
            &serde_json::Value::from(figure.amount.to_json_string())
        );
        prop_assert!(known.contains(figure.clause), "{}", figure.clause);
        for term in &figure.terms {
            prop_assert!(known.contains(term.clause), "{:?}", term);
            prop_assert_eq!(term.amount.currency(), recorded.currency);
            prop_assert!(!term.what.is_empty());
            if figure.figure == "total_due" {
                prop_assert!(term.figure.is_some() && term.sources.is_empty());
                continue;
            }
            prop_assert!(term.figure.is_none());
            prop_assert!(!term.sources.is_empty(), "{:?}", term);
            let sequences: Vec<u64> = term.sources.iter().map(|s| s.sequence).collect();
            prop_assert!(sequences.windows(2).all(|w| w[0] < w[1]), "{:?}", term);
            for source in &term.sources {
                let Some(event) = events.get(&source.sequence) else {
                    return Err(TestCaseError::fail(format!("no event {}", source.sequence)));
                };
                prop_assert_eq!(source.event_type, event.type_name());
                prop_assert_eq!(source.on, event.business_date());
                prop_assert!(source.on <= as_of);
                prop_assert!(source.hash.is_none());
            }
            if let Some(number) = term.invoice_number {
                prop_assert!(
                    concerns(events[&term.sources[0].sequence], number),
                    "{:?}",
                    term
                );
            }
        }
    }

    // total_due is the three figures it sums.
    let named: Vec<_> = explained
        .explanation
        .total_due
        .terms
        .iter()
        .map(|t| (t.figure, t.amount))
        .collect();
    prop_assert_eq!(
        named,
        vec![
            (Some("outstanding"), plain.outstanding),
            (Some("penalties_owed"), plain.penalties_owed),
            (Some("fines_owed"), plain.fines_owed),
        ]
    );

    // One accrual term per late invoice, from its issue and, once paid in full, the
    // event that completed its principal (dated the day it was paid in full).
    let invoices = ledger.invoices(as_of, &reference).unwrap();
    let late: Vec<_> = invoices.iter().filter(|v| v.days_late > 0).collect();
    for accrued in [
        &explained.explanation.penalties_accrued,
        &explained.explanation.fines_accrued,
    ] {
        prop_assert_eq!(accrued.terms.len(), late.len());
        for (term, view) in accrued.terms.iter().zip(&late) {
            prop_assert_eq!(term.invoice_number, Some(view.number));
            prop_assert_eq!(term.sources[0].event_type, "InvoiceIssued");
            let paid = view.paid_in_full_on.filter(|paid| *paid <= as_of);
            prop_assert_eq!(term.sources.len(), 1 + usize::from(paid.is_some()));
            if let Some(paid) = paid {
                prop_assert_eq!(term.sources[1].on, paid);
            }
        }
    }

    // Hashes are filled by sequence.
    let hashed: BalanceExplanation = explained
        .clone()
        .with_hashes(|sequence| Some(format!("h{sequence}")));
    for figure in hashed.explanation.all() {
        for source in figure.terms.iter().flat_map(|t| &t.sources) {
            prop_assert_eq!(source.hash.clone(), Some(format!("h{}", source.sequence)));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        .. ProptestConfig::default()
    })]

    /// Every figure is exactly the sum of its terms, for random histories and dates.
    #[test]
    fn every_figure_is_the_sum_of_its_terms(plan in plan(), pick in as_of()) {
        let recorded = record(&plan);
        let as_of = pick.on(&recorded.events);
        explained_balance_holds(&recorded, as_of)?;
    }

    /// The same with the signature recorded after other commands.
    #[test]
    fn every_figure_is_the_sum_of_its_terms_with_signing_anywhere(
        plan in plan_signing_anywhere(),
        pick in as_of(),
    ) {
        let recorded = record(&plan);
        let as_of = pick.on(&recorded.events);
        explained_balance_holds(&recorded, as_of)?;
    }
}

/// The histories explained are worth it: late invoices paid in full and not, charges,
/// waivers and advances appear in the explanations of the generated cases.
#[test]
fn explanations_cover_every_kind_of_term() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut seen: BTreeSet<&'static str> = BTreeSet::new();
    for _ in 0..64 {
        let plan = plan().new_tree(&mut runner).unwrap().current();
        let pick = as_of().new_tree(&mut runner).unwrap().current();
        let recorded = record(&plan);
        let Ok(explained) =
            ledger_of(&recorded.events).explain_balance(pick.on(&recorded.events), &reference())
        else {
            continue;
        };
        for figure in explained.explanation.all() {
            for term in &figure.terms {
                for source in &term.sources {
                    seen.insert(source.event_type);
                }
                if term.amount.is_negative() {
                    seen.insert("a negative term");
                }
                if term.sources.len() == 2 {
                    seen.insert("an accrual stopped by full payment");
                }
                if figure.figure == "penalties_accrued" && term.sources.len() == 1 {
                    seen.insert("an accrual still running");
                }
            }
        }
    }
    for kind in [
        "InvoiceIssued",
        "PaymentReceived",
        "AdvanceApplied",
        "PenaltyCharged",
        "FineCharged",
        "LateChargeWaived",
        "a negative term",
        "an accrual stopped by full payment",
        "an accrual still running",
    ] {
        assert!(seen.contains(kind), "{kind} never seen: {seen:?}");
    }
}
