//! The random histories of the property tests (`properties.rs`, `explain.rs`).
//!
//! A history is a random plan (register once, sign, invoices of random kinds and
//! amounts, payments with unique references, some naming an invoice, repeated payment
//! messages, penalty and fine charges, waivers, suspensions, blocks, a termination
//! notice) run through the aggregate's own `decide` with today = 2026-12-31 and an
//! incrementing invoice number. Refused commands are skipped, so every history is one the
//! ledger could really record. Agreements are in KZT (resident) or USD (non-resident);
//! see the header of `properties.rs` for the reference data the dates are chosen for.

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
    AgreementCommand, ChargeLatePayment, InvoiceLineRequest, IssueCreditNote, IssueInvoice,
    LiftRestriction, ReceivePayment, RefundAdvance, Register, RequestTermination, RestrictAccess,
    ReversePayment, SignAgreement, VoidInvoice, WaiveLatePayment,
};
use events::{
    AgreementEvent, Amount, Currency, EmailAddress, InvoiceKind, InvoiceNumber, LateChargeKind,
    LineDescription, Money, ParticipantId, ParticipantKind, ParticipantName, PaymentReference,
    Quantity, ReasonNote, RestrictionReason, TerminationGround,
};
use projections::AgreementLedger;

pub const TODAY: Date = date!(2026 - 12 - 31);
/// Invoices after this are not attempted (their due dates would reach 2027).
pub const LAST_ISSUE: Date = date!(2026 - 12 - 15);
pub const FIRST_AS_OF: Date = date!(2025 - 01 - 01);
pub const LAST_AS_OF: Date = date!(2027 - 03 - 31);
pub const PARTICIPANT: &str = "150240008272";

// ---------------------------------------------------------------------------------------
// Reference data

/// The embedded tables, with a made-up USD/KZT rate for every weekday of 2025-2026.
pub fn reference() -> Arc<ReferenceData> {
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
pub enum Action {
    Invoice {
        kind: InvoiceKind,
        quantity: u16,
        cents: u64,
    },
    Pay {
        cents: u64,
        named: Option<usize>,
        /// Received this many days before it is recorded (a bank statement arriving
        /// late, BILLING.md 5.1); 0 in the ordinary generator.
        early: u8,
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
    /// The bank returns the `payment`-th payment recorded (BILLING.md 5.2).
    Reverse {
        payment: usize,
    },
    /// Refund `share` percent of the advance held (BILLING.md 5.2).
    Refund {
        share: u8,
    },
    /// Void an invoice (refused unless nothing is allocated to it).
    Void {
        invoice: usize,
    },
    /// Credit `share` percent of an invoice's remaining net (BILLING.md 5.3).
    Credit {
        invoice: usize,
        share: u8,
    },
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub usd: bool,
    /// Days after 2025-01-01.
    pub registered_after: u16,
    /// The signature is dated this many days from the running date (before registration
    /// when negative enough, §3.2).
    pub sign_offset: i16,
    /// How many actions come before the signature (0 in the ordinary generator).
    pub sign_at: usize,
    /// Each action with the days that pass before it.
    pub actions: Vec<(u16, Action)>,
}

pub fn kind() -> impl Strategy<Value = LateChargeKind> {
    prop_oneof![Just(LateChargeKind::Penalty), Just(LateChargeKind::Fine)]
}

pub fn action() -> impl Strategy<Value = Action> {
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
            .prop_map(|(cents, named)| Action::Pay { cents, named, early: 0 }),
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
        2 => (0usize..8).prop_map(|payment| Action::Reverse { payment }),
        1 => (1u8..=100).prop_map(|share| Action::Refund { share }),
        1 => (0usize..8).prop_map(|invoice| Action::Void { invoice }),
        2 => (0usize..8, 1u8..=100).prop_map(|(invoice, share)| Action::Credit { invoice, share }),
    ]
}

pub fn plan_with(sign_at: impl Strategy<Value = usize>) -> impl Strategy<Value = Plan> {
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
pub fn plan() -> impl Strategy<Value = Plan> {
    plan_with(Just(0usize))
}

/// The ordinary history with payments recorded up to 60 days after they were received
/// (BILLING.md 5.1), so after invoices, charges and reversals dated later.
pub fn plan_with_late_payments() -> impl Strategy<Value = Plan> {
    (plan(), proptest::collection::vec(0u8..60, 40)).prop_map(|(mut plan, lags)| {
        for ((_, action), lag) in plan.actions.iter_mut().zip(lags) {
            if let Action::Pay { early, .. } = action {
                *early = lag;
            }
        }
        plan
    })
}

/// A history where the agreement is signed after a few other commands (payments may be
/// received before signing).
pub fn plan_signing_anywhere() -> impl Strategy<Value = Plan> {
    plan_with(0usize..6)
}

pub fn as_of_date() -> impl Strategy<Value = Date> {
    let days = (LAST_AS_OF - FIRST_AS_OF).whole_days();
    (0..=days).prop_map(|d| FIRST_AS_OF + Duration::days(d))
}

/// An as-of date: any date of the range, or (half the time) a date near one of the
/// history's business dates, where the answers change.
#[derive(Debug, Clone, Copy)]
pub struct AsOf {
    pub any: Date,
    pub near: Option<(usize, i8)>,
}

pub fn as_of() -> impl Strategy<Value = AsOf> {
    (
        as_of_date(),
        proptest::option::of((any::<usize>(), -3i8..=3)),
    )
        .prop_map(|(any, near)| AsOf { any, near })
}

impl AsOf {
    pub fn on(self, events: &[(u64, AgreementEvent)]) -> Date {
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

pub fn money_text(cents: u64) -> Amount {
    Amount::parse(&format!("{}.{:02}", cents / 100, cents % 100)).unwrap()
}

/// The accepted events of a plan, numbered from 1.
pub struct Recorded {
    pub events: Vec<(u64, AgreementEvent)>,
    pub currency: Currency,
}

pub fn record(plan: &Plan) -> Recorded {
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
            tariffs: Default::default(),
            reference: reference.clone(),
            today: TODAY,
            next_invoice_number: Some(InvoiceNumber::new(next_invoice).unwrap()),
            closed_through: None,
        };
        if let Ok(decided) = agreement.decide(command, &services) {
            for event in decided {
                if matches!(
                    event,
                    AgreementEvent::InvoiceIssued(_) | AgreementEvent::CreditNoteIssued(_)
                ) {
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
    let mut refunds = 0u32;
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
            Action::Pay {
                cents,
                named,
                early,
            } => {
                payments += 1;
                let payment = ReceivePayment {
                    reference: PaymentReference::parse(&format!("BANK-{payments}")).unwrap(),
                    received_on: date - Duration::days(i64::from(*early)),
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
            Action::Reverse { payment } => {
                if payments == 0 {
                    continue;
                }
                let n = (*payment as u32 % payments) + 1;
                AgreementCommand::ReversePayment(ReversePayment {
                    reference: PaymentReference::parse(&format!("BANK-{n}")).unwrap(),
                    on: date,
                    reason: ReasonNote::parse("returned by the bank").unwrap(),
                })
            }
            Action::Refund { share } => {
                let advance = agreement.advance().map(|a| a.amount()).unwrap_or_default();
                let part = round2(advance * Decimal::from(*share) / Decimal::from(100));
                let cents = (part * Decimal::from(100)).to_u64().unwrap_or(0).max(1);
                refunds += 1;
                AgreementCommand::RefundAdvance(RefundAdvance {
                    reference: PaymentReference::parse(&format!("REFUND-{refunds}")).unwrap(),
                    on: date,
                    amount: money_text(cents),
                    reason: ReasonNote::parse("overpayment").unwrap(),
                })
            }
            Action::Void { invoice } => {
                let Some(number) = pick(*invoice) else {
                    continue;
                };
                AgreementCommand::VoidInvoice(VoidInvoice {
                    number,
                    on: date,
                    reason: ReasonNote::parse("issued by mistake").unwrap(),
                })
            }
            Action::Credit { invoice, share } => {
                let Some(number) = pick(*invoice) else {
                    continue;
                };
                let creditable = agreement.invoice(number).unwrap().net_creditable().amount();
                let part = round2(creditable * Decimal::from(*share) / Decimal::from(100));
                let cents = (part * Decimal::from(100)).to_u64().unwrap_or(0).max(1);
                AgreementCommand::IssueCreditNote(IssueCreditNote {
                    invoice_number: number,
                    on: date,
                    reason: ReasonNote::parse("price corrected").unwrap(),
                    lines: None,
                    net: Some(money_text(cents)),
                })
            }
        };
        run(command, &mut agreement);
    }
    if plan.sign_at >= plan.actions.len() {
        run(sign(date), &mut agreement);
    }
    Recorded { events, currency }
}

/// The figures of a balance that are never below zero, as of any date, whatever order
/// the events were recorded in.
pub fn never_below_zero(balance: &projections::BalanceView) -> [(&'static str, Money); 5] {
    [
        ("outstanding", balance.outstanding),
        ("penalties_owed", balance.penalties_owed),
        ("fines_owed", balance.fines_owed),
        ("advance", balance.advance),
        ("total_due", balance.total_due),
    ]
}

pub fn ledger_of<'a>(
    events: impl IntoIterator<Item = &'a (u64, AgreementEvent)>,
) -> AgreementLedger {
    AgreementLedger::from_events(
        events
            .into_iter()
            .map(|(sequence, event)| (*sequence, event)),
    )
}

/// The registration date (a signature may be dated before it, §3.2).
pub fn registered_on(events: &[(u64, AgreementEvent)]) -> Date {
    match &events[0].1 {
        AgreementEvent::Registered(e) => e.registered_on,
        other => panic!("the first event is the registration: {other:?}"),
    }
}

pub fn round2(value: Decimal) -> Decimal {
    value.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

pub fn add(a: Money, b: Money) -> Money {
    a.checked_add(b).unwrap()
}

pub fn sub(a: Money, b: Money) -> Money {
    a.checked_sub(b).unwrap()
}
