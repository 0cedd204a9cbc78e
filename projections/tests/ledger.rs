//! Hand-computed examples of the agreement ledger (`AgreementLedger`) and its as-of
//! queries: every figure below was worked out on paper from DOMAIN.md (§5.4, §5.5, §5.8,
//! §5.9, §5.11) and is checked to the tiyn.
//!
//! The history (one KZT agreement, VAT 16% in 2026, MRP 2026 = 4,325):
//!
//! | date       | event                                                        |
//! |------------|--------------------------------------------------------------|
//! | 2026-01-05 | registered                                                   |
//! | 2026-01-06 | signed                                                       |
//! | 2026-02-02 | invoice 1, subscription, 10000.00 + 1600.00 VAT = 11600.00,  |
//! |            | due Mon 2026-02-09 (5 banking days, §5.4)                    |
//! | 2026-02-05 | payment PAY-1 5000.00 -> invoice 1 principal                 |
//! | 2026-02-21 | payment PAY-2 6600.00 -> invoice 1 paid in full, 12 days late|
//! | 2026-03-02 | penalty charged on 1: 11600 x 0.001 x 12 = 139.20            |
//! | 2026-03-02 | fine charged on 1: 2 x 4325 = 8650.00                        |
//! | 2026-03-10 | 39.20 of the penalty on 1 waived (charged part)              |
//! | 2026-03-16 | payment PAY-3 10000.00 -> penalty 100.00, fine 8650.00,      |
//! |            | advance 1250.00                                              |
//! | 2026-04-01 | invoice 2, credit, 1000.00 + 160.00 = 1160.00, due 04-06;    |
//! |            | the advance settles it (1160.00), 90.00 left                 |
//! | 2026-05-04 | invoice 3, usage, 5000.00 + 800.00 = 5800.00, due Fri 05-08  |
//! |            | (3 working days, 7 May is a holiday); advance 90.00 applied  |
//! | 2026-05-25 | suspended (overdue)                                          |
//! | 2026-06-01 | 50.00 of the penalty on 3 waived before it was charged       |
//! | 2026-07-31 | penalty charged on 3: 84 days, capped at 290.00, less 50.00  |
//! |            | waived = 240.00                                              |

use std::collections::HashMap;
use std::sync::Arc;

use cqrs_es::{Aggregate, EventEnvelope, View};
use rust_decimal::Decimal;
use time::macros::date;
use time::Date;

use aggregates::{AgreementServices, AgreementStatus, ParticipantAgreement, ReferenceData};
use commands::{
    AgreementCommand, ChargeLatePayment, InvoiceLineRequest, IssueInvoice, ReceivePayment,
    Register, RestrictAccess, SignAgreement, WaiveLatePayment,
};
use events::{
    AgreementEvent, Amount, Currency, EmailAddress, InvoiceKind, InvoiceNumber, LateChargeKind,
    LineDescription, Money, ParticipantId, ParticipantKind, ParticipantName, PaymentReference,
    Quantity, ReasonNote, RestrictionReason,
};
use projections::{
    Account, AgingBuckets, AgingReport, AgreementLedger, InvoiceStatus, InvoiceStatusView,
    LedgerFact, ProjectionError, StoredLedgerError,
};

const TODAY: Date = date!(2026 - 12 - 31);
const PARTICIPANT: &str = "150240008272";

fn kzt(text: &str) -> Money {
    Amount::parse(text).unwrap().in_currency(Currency::KZT)
}

/// A negative amount (a credit balance); `Amount` itself is never negative.
fn minus(text: &str) -> Money {
    zero().checked_sub(kzt(text)).unwrap()
}

fn zero() -> Money {
    Money::zero(Currency::KZT)
}

fn number(n: u64) -> InvoiceNumber {
    InvoiceNumber::new(n).unwrap()
}

fn reference() -> Arc<ReferenceData> {
    Arc::new(ReferenceData::embedded().unwrap())
}

/// Runs commands through the aggregate's own decision function, numbering the events.
struct Recorder {
    reference: Arc<ReferenceData>,
    agreement: ParticipantAgreement,
    events: Vec<(u64, AgreementEvent)>,
    next_invoice: u64,
}

impl Recorder {
    fn new() -> Self {
        Self {
            reference: reference(),
            agreement: ParticipantAgreement::default(),
            events: Vec::new(),
            next_invoice: 1,
        }
    }

    /// Decides and applies `command`; panics if it is refused.
    fn run(&mut self, command: AgreementCommand) -> Vec<AgreementEvent> {
        let services = AgreementServices {
            reference: self.reference.clone(),
            today: TODAY,
            next_invoice_number: Some(number(self.next_invoice)),
        };
        let name = command.name();
        let decided = self
            .agreement
            .decide(command, &services)
            .unwrap_or_else(|error| panic!("{name} refused: {error:?}"));
        for event in &decided {
            if matches!(event, AgreementEvent::InvoiceIssued(_)) {
                self.next_invoice += 1;
            }
            self.agreement.apply(event.clone());
            let sequence = self.events.len() as u64 + 1;
            self.events.push((sequence, event.clone()));
        }
        decided
    }

    fn ledger(&self) -> AgreementLedger {
        AgreementLedger::from_events(self.events.iter().map(|(s, e)| (*s, e)))
    }
}

fn register(on: Date) -> AgreementCommand {
    AgreementCommand::Register(Register {
        participant_id: ParticipantId::parse(PARTICIPANT).unwrap(),
        name: ParticipantName::parse("ТОО «Ромашка»").unwrap(),
        kind: ParticipantKind::LegalEntity,
        resident: true,
        currency: Currency::KZT,
        email: EmailAddress::parse("buh@romashka.kz").unwrap(),
        registered_on: on,
    })
}

fn sign(on: Date) -> AgreementCommand {
    AgreementCommand::Sign(SignAgreement { signed_on: on })
}

fn invoice(kind: InvoiceKind, issued_on: Date, net: &str) -> AgreementCommand {
    AgreementCommand::IssueInvoice(IssueInvoice {
        kind,
        issued_on,
        lines: vec![InvoiceLineRequest {
            description: LineDescription::parse("E-DOC services").unwrap(),
            quantity: Quantity::parse("1").unwrap(),
            unit_price: Amount::parse(net).unwrap(),
        }],
        period: None,
    })
}

fn pay(reference: &str, on: Date, amount: &str) -> AgreementCommand {
    AgreementCommand::ReceivePayment(ReceivePayment {
        reference: PaymentReference::parse(reference).unwrap(),
        received_on: on,
        amount: Amount::parse(amount).unwrap(),
        currency: None,
        invoice_number: None,
    })
}

fn charge(invoice: u64, kind: LateChargeKind, on: Date) -> AgreementCommand {
    AgreementCommand::ChargeLatePayment(ChargeLatePayment {
        invoice_number: number(invoice),
        kind,
        on,
    })
}

fn waive(invoice: u64, kind: LateChargeKind, amount: &str, on: Date) -> AgreementCommand {
    AgreementCommand::WaiveLatePayment(WaiveLatePayment {
        invoice_number: number(invoice),
        kind,
        amount: Amount::parse(amount).unwrap(),
        reason: ReasonNote::parse("goodwill: first delay").unwrap(),
        on: Some(on),
    })
}

/// The history of the module comment, with a check of what each command recorded.
fn example() -> Recorder {
    let mut r = Recorder::new();
    r.run(register(date!(2026 - 01 - 05)));
    r.run(sign(date!(2026 - 01 - 06)));

    let issued = r.run(invoice(
        InvoiceKind::Subscription,
        date!(2026 - 02 - 02),
        "10000.00",
    ));
    let [AgreementEvent::InvoiceIssued(one)] = issued.as_slice() else {
        panic!("{issued:?}")
    };
    assert_eq!(
        (one.number, one.net, one.vat.amount, one.total, one.due_on),
        (
            number(1),
            kzt("10000.00"),
            kzt("1600.00"),
            kzt("11600.00"),
            date!(2026 - 02 - 09)
        )
    );

    r.run(pay("PAY-1", date!(2026 - 02 - 05), "5000.00"));
    r.run(pay("PAY-2", date!(2026 - 02 - 21), "6600.00"));

    let penalty = r.run(charge(1, LateChargeKind::Penalty, date!(2026 - 03 - 02)));
    let [AgreementEvent::PenaltyCharged(penalty)] = penalty.as_slice() else {
        panic!("{penalty:?}")
    };
    assert_eq!((penalty.amount, penalty.accrual.days), (kzt("139.20"), 12));
    let fine = r.run(charge(1, LateChargeKind::Fine, date!(2026 - 03 - 02)));
    let [AgreementEvent::FineCharged(fine)] = fine.as_slice() else {
        panic!("{fine:?}")
    };
    assert_eq!(fine.amount, kzt("8650.00"));

    let waived = r.run(waive(
        1,
        LateChargeKind::Penalty,
        "39.20",
        date!(2026 - 03 - 10),
    ));
    let [AgreementEvent::LateChargeWaived(waived)] = waived.as_slice() else {
        panic!("{waived:?}")
    };
    assert_eq!(
        (waived.charged_part, waived.uncharged_part),
        (kzt("39.20"), zero())
    );

    let paid = r.run(pay("PAY-3", date!(2026 - 03 - 16), "10000.00"));
    let [AgreementEvent::PaymentReceived(paid)] = paid.as_slice() else {
        panic!("{paid:?}")
    };
    assert_eq!(paid.allocations.len(), 1);
    assert_eq!(
        (
            paid.allocations[0].principal,
            paid.allocations[0].penalty,
            paid.allocations[0].fine,
            paid.advance
        ),
        (zero(), kzt("100.00"), kzt("8650.00"), kzt("1250.00"))
    );

    let two = r.run(invoice(
        InvoiceKind::Credit,
        date!(2026 - 04 - 01),
        "1000.00",
    ));
    let [AgreementEvent::InvoiceIssued(issued_two), AgreementEvent::AdvanceApplied(applied)] =
        two.as_slice()
    else {
        panic!("{two:?}")
    };
    assert_eq!(
        (issued_two.total, issued_two.due_on),
        (kzt("1160.00"), date!(2026 - 04 - 06))
    );
    assert_eq!(
        (applied.amount, applied.advance_remaining),
        (kzt("1160.00"), kzt("90.00"))
    );

    let three = r.run(invoice(
        InvoiceKind::Usage,
        date!(2026 - 05 - 04),
        "5000.00",
    ));
    let [AgreementEvent::InvoiceIssued(issued_three), AgreementEvent::AdvanceApplied(applied)] =
        three.as_slice()
    else {
        panic!("{three:?}")
    };
    assert_eq!(
        (issued_three.total, issued_three.due_on),
        (kzt("5800.00"), date!(2026 - 05 - 08))
    );
    assert_eq!(
        (applied.amount, applied.advance_remaining),
        (kzt("90.00"), zero())
    );

    r.run(AgreementCommand::Suspend(RestrictAccess {
        on: date!(2026 - 05 - 25),
        reason: RestrictionReason::Overdue,
    }));

    let waived = r.run(waive(
        3,
        LateChargeKind::Penalty,
        "50.00",
        date!(2026 - 06 - 01),
    ));
    let [AgreementEvent::LateChargeWaived(waived)] = waived.as_slice() else {
        panic!("{waived:?}")
    };
    assert_eq!(
        (waived.charged_part, waived.uncharged_part),
        (zero(), kzt("50.00"))
    );

    let penalty = r.run(charge(3, LateChargeKind::Penalty, date!(2026 - 07 - 31)));
    let [AgreementEvent::PenaltyCharged(penalty)] = penalty.as_slice() else {
        panic!("{penalty:?}")
    };
    assert_eq!(penalty.amount, kzt("240.00"));
    assert!(penalty.accrual.capped);
    r
}

fn invoice_view(views: &[InvoiceStatusView], n: u64) -> &InvoiceStatusView {
    views
        .iter()
        .find(|v| v.number == number(n))
        .unwrap_or_else(|| panic!("invoice {n} in {views:?}"))
}

// ---------------------------------------------------------------------------------------
// The agreement as of a date

#[test]
fn the_header_follows_the_history_date_by_date() {
    let ledger = example().ledger();
    assert_eq!(
        ledger.agreement_as_of(date!(2026 - 01 - 04)).unwrap_err(),
        ProjectionError::NotRegisteredAsOf(date!(2026 - 01 - 04))
    );
    let registered = ledger.agreement_as_of(date!(2026 - 01 - 05)).unwrap();
    assert_eq!(registered.header.status, AgreementStatus::Registered);
    assert_eq!(registered.header.participant_id, PARTICIPANT);
    assert_eq!(registered.header.signed_on, None);
    assert_eq!(registered.advance, zero());

    let active = ledger.agreement_as_of(date!(2026 - 01 - 06)).unwrap();
    assert_eq!(active.header.status, AgreementStatus::Active);
    assert_eq!(active.header.signed_on, Some(date!(2026 - 01 - 06)));
    assert_eq!(active.header.concluded_on, Some(date!(2026 - 01 - 05)));
    assert_eq!(active.header.in_force_from, Some(date!(2026 - 01 - 06)));

    // The advance as of a date: 1250.00 after PAY-3, 90.00 after invoice 2, 0 after 3.
    let advance = |on| ledger.agreement_as_of(on).unwrap().advance;
    assert_eq!(advance(date!(2026 - 03 - 15)), zero());
    assert_eq!(advance(date!(2026 - 03 - 16)), kzt("1250.00"));
    assert_eq!(advance(date!(2026 - 04 - 01)), kzt("90.00"));
    assert_eq!(advance(date!(2026 - 05 - 04)), zero());

    let before = ledger.agreement_as_of(date!(2026 - 05 - 24)).unwrap();
    assert_eq!(before.header.status, AgreementStatus::Active);
    assert_eq!(before.header.suspended_on, None);
    let suspended = ledger.agreement_as_of(date!(2026 - 05 - 25)).unwrap();
    assert_eq!(suspended.header.status, AgreementStatus::Suspended);
    assert_eq!(suspended.header.suspended_on, Some(date!(2026 - 05 - 25)));
    let restriction = suspended.header.restriction.unwrap();
    assert_eq!(
        (restriction.reason, restriction.clause.as_str()),
        (RestrictionReason::Overdue, "5.9")
    );
    // After every event: the same as the ledger's current status.
    assert_eq!(ledger.status(), Some(AgreementStatus::Suspended));
    assert_eq!(ledger.participant_id().as_deref(), Some(PARTICIPANT));
    assert_eq!(ledger.currency(), Some(Currency::KZT));
}

// ---------------------------------------------------------------------------------------
// Balance

#[test]
fn the_balance_at_the_end_adds_up_by_hand() {
    let ledger = example().ledger();
    let balance = ledger.balance(date!(2026 - 07 - 31), &reference()).unwrap();
    assert_eq!(balance.as_of, date!(2026 - 07 - 31));
    assert_eq!(balance.currency, Currency::KZT);
    // 11600.00 + 1160.00 + 5800.00
    assert_eq!(balance.invoiced, kzt("18560.00"));
    // 5000.00 + 6600.00 + 10000.00
    assert_eq!(balance.paid, kzt("21600.00"));
    // invoice 3: 5800.00 - 90.00 of advance
    assert_eq!(balance.outstanding, kzt("5710.00"));
    // 139.20 on invoice 1 (12 days) + 290.00 on invoice 3 (capped: 84 days)
    assert_eq!(balance.penalties_accrued, kzt("429.20"));
    assert_eq!(balance.penalties_charged, kzt("379.20"));
    // 39.20 charged and waived + 50.00 waived before charging
    assert_eq!(balance.penalties_waived, kzt("89.20"));
    assert_eq!(balance.penalties_owed, kzt("240.00"));
    // 2 MRP on invoices 1 and 3 (both first late in 2026); invoice 2 was never late
    assert_eq!(balance.fines_accrued, kzt("17300.00"));
    assert_eq!(balance.fines, kzt("8650.00"));
    assert_eq!(balance.fines_waived, zero());
    assert_eq!(balance.fines_owed, zero());
    assert_eq!(balance.advance, zero());
    assert_eq!(balance.total_due, kzt("5950.00"));
    assert_eq!(balance.clause, "5.9");
}

#[test]
fn the_balance_in_the_past_is_the_older_state() {
    let ledger = example().ledger();
    let reference = reference();
    let at = |on| ledger.balance(on, &reference).unwrap();

    // Before the invoice: nothing.
    let nothing = at(date!(2026 - 02 - 01));
    assert_eq!(
        (nothing.invoiced, nothing.total_due, nothing.paid),
        (zero(), zero(), zero())
    );

    // After PAY-1, before the due date: no accrual yet.
    let partial = at(date!(2026 - 02 - 09));
    assert_eq!(partial.outstanding, kzt("6600.00"));
    assert_eq!(partial.paid, kzt("5000.00"));
    assert_eq!(partial.penalties_accrued, zero());
    assert_eq!(partial.fines_accrued, zero());
    assert_eq!(partial.total_due, kzt("6600.00"));

    // 6 days late: 11600 x 0.001 x 6 = 69.60 accrued, the fine accrued, none charged.
    let late = at(date!(2026 - 02 - 15));
    assert_eq!(late.outstanding, kzt("6600.00"));
    assert_eq!(late.penalties_accrued, kzt("69.60"));
    assert_eq!(late.fines_accrued, kzt("8650.00"));
    assert_eq!((late.penalties_charged, late.fines), (zero(), zero()));
    assert_eq!(late.total_due, kzt("6600.00"));

    // After the charges, before the waiver: 139.20 + 8650.00 owed.
    let charged = at(date!(2026 - 03 - 05));
    assert_eq!(charged.outstanding, zero());
    assert_eq!(charged.penalties_owed, kzt("139.20"));
    assert_eq!(charged.fines_owed, kzt("8650.00"));
    assert_eq!(charged.total_due, kzt("8789.20"));

    // After the waiver: 100.00 + 8650.00.
    let waived = at(date!(2026 - 03 - 10));
    assert_eq!(waived.penalties_waived, kzt("39.20"));
    assert_eq!(waived.penalties_owed, kzt("100.00"));
    assert_eq!(waived.total_due, kzt("8750.00"));

    // After PAY-3: nothing owed, 1250.00 held.
    let settled = at(date!(2026 - 03 - 31));
    assert_eq!(settled.total_due, zero());
    assert_eq!(settled.advance, kzt("1250.00"));
    assert_eq!(settled.paid, kzt("21600.00"));
    assert_eq!(settled.penalties_accrued, kzt("139.20"));
    assert_eq!(settled.fines_accrued, kzt("8650.00"));
}

// ---------------------------------------------------------------------------------------
// Invoices

#[test]
fn invoice_status_is_open_then_overdue_then_paid() {
    let ledger = example().ledger();
    let reference = reference();
    let at = |on| ledger.invoices(on, &reference).unwrap();

    assert!(at(date!(2026 - 02 - 01)).is_empty());

    let issued = at(date!(2026 - 02 - 02));
    let one = invoice_view(&issued, 1);
    assert_eq!(one.status, InvoiceStatus::Open);
    assert_eq!(one.kind, InvoiceKind::Subscription);
    assert_eq!(
        (one.issued_on, one.due_on),
        (date!(2026 - 02 - 02), date!(2026 - 02 - 09))
    );
    assert_eq!(
        (one.total, one.paid, one.outstanding),
        (kzt("11600.00"), zero(), kzt("11600.00"))
    );

    // On the due date: still open, nothing accrued.
    let due = at(date!(2026 - 02 - 09));
    let one = invoice_view(&due, 1);
    assert_eq!(one.status, InvoiceStatus::Open);
    assert_eq!(
        (one.paid, one.outstanding),
        (kzt("5000.00"), kzt("6600.00"))
    );
    assert_eq!((one.days_overdue, one.days_late), (0, 0));
    assert_eq!((one.penalty_accrued, one.fine), (zero(), Some(zero())));

    // Before PAY-2 the invoice is overdue and outstanding.
    let overdue = at(date!(2026 - 02 - 15));
    let one = invoice_view(&overdue, 1);
    assert_eq!(one.status, InvoiceStatus::Overdue);
    assert_eq!(one.outstanding, kzt("6600.00"));
    assert_eq!(one.paid_in_full_on, None);
    assert_eq!((one.days_overdue, one.days_late), (6, 6));
    assert_eq!(one.penalty_accrued, kzt("69.60"));
    assert_eq!(one.fine, Some(kzt("8650.00")));

    // Paid in full 12 days late; accrual stopped for good.
    for on in [date!(2026 - 02 - 21), date!(2026 - 07 - 31)] {
        let paid = at(on);
        let one = invoice_view(&paid, 1);
        assert_eq!(one.status, InvoiceStatus::Paid, "{on}");
        assert_eq!(one.outstanding, zero());
        assert_eq!(one.paid, kzt("11600.00"));
        assert_eq!(one.paid_in_full_on, Some(date!(2026 - 02 - 21)));
        assert_eq!((one.days_overdue, one.days_late), (0, 12));
        assert_eq!(one.penalty_accrued, kzt("139.20"));
    }

    let end = at(date!(2026 - 07 - 31));
    assert_eq!(end.len(), 3);
    let one = invoice_view(&end, 1);
    assert_eq!(
        (one.penalty_charged, one.penalty_owed),
        (kzt("139.20"), zero())
    );
    assert_eq!((one.fine_charged, one.fine_owed), (kzt("8650.00"), zero()));

    // Invoice 2 was settled by the advance on its issue date: never late.
    let two = invoice_view(&end, 2);
    assert_eq!(two.status, InvoiceStatus::Paid);
    assert_eq!(two.kind, InvoiceKind::Credit);
    assert_eq!(two.paid_in_full_on, Some(date!(2026 - 04 - 01)));
    assert_eq!(
        (two.days_late, two.penalty_accrued, two.fine),
        (0, zero(), Some(zero()))
    );

    let three = invoice_view(&end, 3);
    assert_eq!(three.status, InvoiceStatus::Overdue);
    assert_eq!(three.due_on, date!(2026 - 05 - 08));
    assert_eq!(
        (three.paid, three.outstanding),
        (kzt("90.00"), kzt("5710.00"))
    );
    // 9 May to 31 July: 23 + 30 + 31 = 84 days; capped at 5% of 5800.00.
    assert_eq!((three.days_overdue, three.days_late), (84, 84));
    assert_eq!(three.penalty_accrued, kzt("290.00"));
    assert_eq!(
        (three.penalty_charged, three.penalty_owed),
        (kzt("240.00"), kzt("240.00"))
    );
    assert_eq!(
        (three.fine, three.fine_charged, three.fine_owed),
        (Some(kzt("8650.00")), zero(), zero())
    );
}

// ---------------------------------------------------------------------------------------
// Penalties and fines, explained

#[test]
fn penalties_are_explained_day_by_day_and_capped_on_day_fifty() {
    let ledger = example().ledger();
    let reference = reference();

    // Nothing late yet.
    assert!(ledger
        .penalties(date!(2026 - 02 - 09), &reference)
        .unwrap()
        .is_empty());

    let end = ledger.penalties(date!(2026 - 07 - 31), &reference).unwrap();
    assert_eq!(
        end.iter().map(|p| p.invoice_number).collect::<Vec<_>>(),
        vec![number(1), number(3)],
        "invoice 2 was never late"
    );

    let one = &end[0];
    assert_eq!(one.base, kzt("11600.00"));
    assert_eq!(one.rate, Decimal::new(1, 3));
    assert_eq!(one.cap_rate, Decimal::new(5, 2));
    assert_eq!(one.cap, kzt("580.00"));
    assert_eq!(one.days, 12);
    assert_eq!(one.due_on, date!(2026 - 02 - 09));
    assert_eq!(one.from, Some(date!(2026 - 02 - 10)));
    assert_eq!(one.to, Some(date!(2026 - 02 - 21)));
    assert!(one.paid_in_full);
    assert!(!one.capped);
    assert_eq!(one.amount, kzt("139.20"));
    assert_eq!(
        (one.charged, one.waived, one.owed),
        (kzt("139.20"), kzt("39.20"), zero())
    );
    assert_eq!(one.fine_mrp, 2);
    assert_eq!(one.mrp, Some(Decimal::from(4325)));
    assert!(one.mrp_table_version.is_some());
    assert_eq!(one.fine, Some(kzt("8650.00")));
    assert_eq!(
        (one.fine_charged, one.fine_waived, one.fine_owed),
        (kzt("8650.00"), zero(), zero())
    );
    assert_eq!(one.fine_exchange_rate, None);
    assert_eq!(one.clause, "5.9");
    for part in [
        "5.9",
        "11600.00",
        "0.001",
        "12 day(s)",
        "2026-02-10",
        "2026-02-21",
        "139.20",
        "2 MRP",
        "4325",
        "8650.00",
    ] {
        assert!(
            one.explanation.contains(part),
            "{part:?} in {:?}",
            one.explanation
        );
    }

    let three = &end[1];
    assert_eq!(three.base, kzt("5800.00"));
    assert_eq!(three.cap, kzt("290.00"));
    assert_eq!(three.days, 84);
    assert_eq!(
        (three.from, three.to),
        (Some(date!(2026 - 05 - 09)), Some(date!(2026 - 07 - 31)))
    );
    assert!(!three.paid_in_full);
    assert!(three.capped);
    assert_eq!(three.amount, kzt("290.00"));
    assert_eq!(
        (three.charged, three.waived, three.owed),
        (kzt("240.00"), kzt("50.00"), kzt("240.00"))
    );
    assert_eq!(three.fine, Some(kzt("8650.00")));
    for part in [
        "84 day(s)",
        "2026-05-09",
        "2026-07-31",
        "capped",
        "0.05",
        "290.00",
    ] {
        assert!(
            three.explanation.contains(part),
            "{part:?} in {:?}",
            three.explanation
        );
    }

    // Day 49 and day 50 of invoice 3: 5800 x 0.001 x 49 = 284.20; day 50 = the cap.
    let at = |on| {
        ledger
            .penalties(on, &reference)
            .unwrap()
            .into_iter()
            .find(|p| p.invoice_number == number(3))
            .unwrap()
    };
    let day_49 = at(date!(2026 - 06 - 26));
    assert_eq!(
        (day_49.days, day_49.amount, day_49.capped),
        (49, kzt("284.20"), false)
    );
    let day_50 = at(date!(2026 - 06 - 27));
    assert_eq!(
        (day_50.days, day_50.amount, day_50.capped),
        (50, kzt("290.00"), true)
    );
    // Day 1: one day, 5.80, and the fine at the MRP of that day.
    let day_1 = at(date!(2026 - 05 - 09));
    assert_eq!(
        (day_1.days, day_1.amount, day_1.fine),
        (1, kzt("5.80"), Some(kzt("8650.00")))
    );
    // The uncharged waiver is visible before anything is charged.
    let waived = at(date!(2026 - 06 - 01));
    assert_eq!(
        (waived.charged, waived.waived, waived.owed),
        (zero(), kzt("50.00"), zero())
    );
}

// ---------------------------------------------------------------------------------------
// Reconciliation statement

#[test]
fn the_statement_of_a_middle_period_opens_on_the_debt_before_it() {
    let ledger = example().ledger();
    let statement = ledger
        .statement(date!(2026 - 02 - 10), date!(2026 - 03 - 31))
        .unwrap();
    assert_eq!(statement.currency, Currency::KZT);
    assert_eq!(
        (statement.from, statement.to),
        (date!(2026 - 02 - 10), date!(2026 - 03 - 31))
    );
    // Before the period: invoice 1 (11600.00) less PAY-1 (5000.00).
    assert_eq!(statement.opening, kzt("6600.00"));
    let lines: Vec<(Date, &str, Money, Money)> = statement
        .lines
        .iter()
        .map(|l| (l.date, l.document.as_str(), l.debit, l.credit))
        .collect();
    assert_eq!(
        lines,
        vec![
            (
                date!(2026 - 02 - 21),
                "payment PAY-2",
                zero(),
                kzt("6600.00")
            ),
            (
                date!(2026 - 03 - 02),
                "penalty on invoice 1",
                kzt("139.20"),
                zero()
            ),
            (
                date!(2026 - 03 - 02),
                "fine on invoice 1",
                kzt("8650.00"),
                zero()
            ),
            (
                date!(2026 - 03 - 10),
                "waiver of penalty on invoice 1",
                zero(),
                kzt("39.20")
            ),
            (
                date!(2026 - 03 - 16),
                "payment PAY-3",
                zero(),
                kzt("10000.00")
            ),
        ]
    );
    let clauses: Vec<&str> = statement.lines.iter().map(|l| l.clause).collect();
    assert_eq!(clauses, vec!["5.5", "5.9", "5.9", "5.9", "5.5"]);
    assert!(statement
        .lines
        .windows(2)
        .all(|w| w[0].sequence < w[1].sequence));
    assert_eq!(statement.debits, kzt("8789.20"));
    assert_eq!(statement.credits, kzt("16639.20"));
    // 6600.00 + 8789.20 - 16639.20: the participant is 1250.00 in credit (the advance).
    assert_eq!(statement.closing, minus("1250.00"));
}

#[test]
fn the_statement_of_the_whole_history_closes_on_the_debt_net_of_the_advance() {
    let ledger = example().ledger();
    let reference = reference();
    let whole = ledger
        .statement(date!(2026 - 01 - 01), date!(2026 - 07 - 31))
        .unwrap();
    assert_eq!(whole.opening, zero());
    // Invoices 11600.00 + 1160.00 + 5800.00, penalties 139.20 + 240.00, fine 8650.00.
    assert_eq!(whole.debits, kzt("27589.20"));
    // Payments 21600.00 and the waiver of a charged 39.20; the advance applied and the
    // waiver of an uncharged 50.00 are no documents of the statement.
    assert_eq!(whole.credits, kzt("21639.20"));
    assert_eq!(whole.lines.len(), 10);
    assert!(whole
        .lines
        .iter()
        .all(|l| !l.document.starts_with("advance")
            && l.document != "waiver of penalty on invoice 3"));
    assert_eq!(whole.closing, kzt("5950.00"));
    let balance = ledger.balance(date!(2026 - 07 - 31), &reference).unwrap();
    assert_eq!(
        whole.closing,
        balance.total_due.checked_sub(balance.advance).unwrap()
    );

    // Consecutive periods chain: each one's closing is the next one's opening.
    let first = ledger
        .statement(date!(2026 - 01 - 01), date!(2026 - 03 - 15))
        .unwrap();
    let second = ledger
        .statement(date!(2026 - 03 - 16), date!(2026 - 07 - 31))
        .unwrap();
    assert_eq!(first.closing, second.opening);
    assert_eq!(second.closing, whole.closing);
    assert_eq!(first.lines.len() + second.lines.len(), whole.lines.len());

    // A single day, and a reversed period.
    let day = ledger
        .statement(date!(2026 - 03 - 02), date!(2026 - 03 - 02))
        .unwrap();
    assert_eq!(day.lines.len(), 2);
    assert_eq!(day.closing, kzt("8789.20"));
    assert_eq!(
        ledger
            .statement(date!(2026 - 03 - 02), date!(2026 - 03 - 01))
            .unwrap_err(),
        ProjectionError::PeriodReversed {
            from: date!(2026 - 03 - 02),
            to: date!(2026 - 03 - 01)
        }
    );
    // Before registration there is no agreement to reconcile.
    assert_eq!(
        ledger
            .statement(date!(2025 - 12 - 01), date!(2026 - 01 - 04))
            .unwrap_err(),
        ProjectionError::NotRegisteredAsOf(date!(2026 - 01 - 04))
    );
}

// ---------------------------------------------------------------------------------------
// Journal

#[test]
fn the_journal_balances_and_its_accounts_match_the_balance() {
    let ledger = example().ledger();
    let reference = reference();
    for on in [
        date!(2026 - 01 - 05),
        date!(2026 - 02 - 02),
        date!(2026 - 02 - 15),
        date!(2026 - 03 - 05),
        date!(2026 - 03 - 31),
        date!(2026 - 04 - 01),
        date!(2026 - 06 - 01),
        date!(2026 - 07 - 31),
    ] {
        let journal = ledger.journal(on).unwrap();
        let balance = ledger.balance(on, &reference).unwrap();
        assert_eq!(journal.as_of, on);
        assert_eq!(journal.debits, journal.credits, "{on}");
        assert_eq!(
            journal.account(Account::Receivable),
            balance.total_due,
            "{on}"
        );
        assert_eq!(
            journal.account(Account::Advance),
            zero().checked_sub(balance.advance).unwrap(),
            "{on}"
        );
        let sum = journal
            .accounts
            .iter()
            .try_fold(zero(), |s, a| s.checked_add(a.balance))
            .unwrap();
        assert_eq!(sum, zero(), "{on}");
        for account in &journal.accounts {
            assert_eq!(
                account.balance,
                account.debit.checked_sub(account.credit).unwrap()
            );
        }
    }

    let settled = ledger.journal(date!(2026 - 03 - 31)).unwrap();
    assert_eq!(settled.account(Account::Bank), kzt("21600.00"));
    assert_eq!(settled.account(Account::Receivable), zero());
    assert_eq!(settled.account(Account::Advance), minus("1250.00"));
    assert_eq!(settled.account(Account::Revenue), minus("10000.00"));
    assert_eq!(settled.account(Account::VatPayable), minus("1600.00"));
    // 139.20 charged, 39.20 waived.
    assert_eq!(settled.account(Account::PenaltyIncome), minus("100.00"));
    assert_eq!(settled.account(Account::FineIncome), minus("8650.00"));

    let end = ledger.journal(date!(2026 - 07 - 31)).unwrap();
    assert_eq!(end.account(Account::Receivable), kzt("5950.00"));
    assert_eq!(end.account(Account::Advance), zero());
    assert_eq!(end.account(Account::Revenue), minus("16000.00"));
    assert_eq!(end.account(Account::VatPayable), minus("2560.00"));
    assert_eq!(end.account(Account::PenaltyIncome), minus("340.00"));
    // Invoice 1's postings: receivable 11600.00 = revenue 10000.00 + VAT 1600.00.
    let first: Vec<_> = end
        .entries
        .iter()
        .filter(|p| p.document == "invoice 1")
        .map(|p| (p.account, p.debit, p.credit))
        .collect();
    assert_eq!(
        first,
        vec![
            (Account::Receivable, kzt("11600.00"), zero()),
            (Account::Revenue, zero(), kzt("10000.00")),
            (Account::VatPayable, zero(), kzt("1600.00")),
        ]
    );
    // PAY-3: the bank receives 10000.00, 8750.00 settles charges, 1250.00 is held.
    let pay_3: Vec<_> = end
        .entries
        .iter()
        .filter(|p| p.document == "payment PAY-3")
        .map(|p| (p.account, p.debit, p.credit))
        .collect();
    assert_eq!(
        pay_3,
        vec![
            (Account::Bank, kzt("10000.00"), zero()),
            (Account::Receivable, zero(), kzt("8750.00")),
            (Account::Advance, zero(), kzt("1250.00")),
        ]
    );
    // The uncharged waiver posts nothing.
    assert!(!end
        .entries
        .iter()
        .any(|p| p.document.contains("waiver of penalty on invoice 3")));
    assert_eq!(
        ledger.journal(date!(2026 - 01 - 04)).unwrap_err(),
        ProjectionError::NotRegisteredAsOf(date!(2026 - 01 - 04))
    );
}

// ---------------------------------------------------------------------------------------
// Aging

#[test]
fn aging_moves_the_unpaid_principal_through_the_buckets() {
    let ledger = example().ledger();
    let buckets = |on| ledger.aging(on).unwrap().buckets;
    let only = |field: &str, amount: Money| {
        let mut b = AgingBuckets::zero(zero());
        match field {
            "current" => b.current = amount,
            "1_15" => b.days_1_15 = amount,
            "16_30" => b.days_16_30 = amount,
            "31_90" => b.days_31_90 = amount,
            "over_90" => b.over_90 = amount,
            _ => unreachable!(),
        }
        b.total = amount;
        b
    };

    assert_eq!(
        buckets(date!(2026 - 02 - 05)),
        only("current", kzt("6600.00"))
    );
    assert_eq!(
        buckets(date!(2026 - 02 - 09)),
        only("current", kzt("6600.00"))
    );
    assert_eq!(buckets(date!(2026 - 02 - 10)), only("1_15", kzt("6600.00")));
    assert_eq!(buckets(date!(2026 - 02 - 20)), only("1_15", kzt("6600.00")));
    assert_eq!(buckets(date!(2026 - 02 - 21)), AgingBuckets::zero(zero()));
    // Invoice 3: 5710.00 after the advance, due 2026-05-08.
    assert_eq!(
        buckets(date!(2026 - 05 - 08)),
        only("current", kzt("5710.00"))
    );
    assert_eq!(buckets(date!(2026 - 05 - 23)), only("1_15", kzt("5710.00")));
    assert_eq!(
        buckets(date!(2026 - 05 - 24)),
        only("16_30", kzt("5710.00"))
    );
    assert_eq!(
        buckets(date!(2026 - 06 - 07)),
        only("16_30", kzt("5710.00"))
    );
    assert_eq!(
        buckets(date!(2026 - 06 - 08)),
        only("31_90", kzt("5710.00"))
    );
    assert_eq!(
        buckets(date!(2026 - 08 - 06)),
        only("31_90", kzt("5710.00"))
    );
    assert_eq!(
        buckets(date!(2026 - 08 - 07)),
        only("over_90", kzt("5710.00"))
    );

    let row = ledger.aging(date!(2026 - 07 - 31)).unwrap();
    assert_eq!(row.participant_id, PARTICIPANT);
    assert_eq!(row.name, "ТОО «Ромашка»");
    assert_eq!(row.currency, Currency::KZT);
    assert_eq!(
        ledger.aging(date!(2026 - 01 - 04)).unwrap_err(),
        ProjectionError::NotRegisteredAsOf(date!(2026 - 01 - 04))
    );
}

#[test]
fn the_aging_report_totals_per_currency_and_leaves_out_who_owes_nothing() {
    let ledger = example().ledger();
    // The example's rows at three dates stand in for three agreements.
    let mut report = AgingReport::new(date!(2026 - 05 - 20));
    report
        .add(ledger.aging(date!(2026 - 05 - 20)).unwrap())
        .unwrap();
    // As of 2026-03-31 the example owes nothing: its row is left out.
    report
        .add(ledger.aging(date!(2026 - 03 - 31)).unwrap())
        .unwrap();
    report
        .add(ledger.aging(date!(2026 - 02 - 15)).unwrap())
        .unwrap();
    let report = report.finish();
    assert_eq!(report.buckets, AgingReport::BUCKETS);
    assert_eq!(report.agreements.len(), 2);
    assert_eq!(report.totals.len(), 1);
    let totals = &report.totals[0];
    assert_eq!(totals.currency, Currency::KZT);
    assert_eq!(totals.agreements, 2);
    // 5710.00 (12 days) + 6600.00 (6 days), both 1-15 days overdue.
    assert_eq!(totals.buckets.days_1_15, kzt("12310.00"));
    assert_eq!(totals.buckets.total, kzt("12310.00"));
    assert_eq!(totals.buckets.current, zero());

    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["as_of"], "2026-05-20");
    assert_eq!(json["totals"][0]["1_15"], "12310.00");
    assert_eq!(json["agreements"][0]["total"], "5710.00");
}

// ---------------------------------------------------------------------------------------
// The stored projection

#[test]
fn the_stored_form_reads_back_to_the_same_ledger_and_is_compact() {
    let ledger = example().ledger();
    let stored = ledger.to_stored().unwrap();
    assert_eq!(stored[0], AgreementLedger::STORED_FORMAT);
    assert_eq!(AgreementLedger::from_stored(&stored).unwrap(), ledger);
    // Deterministic: replay --check compares the bytes.
    assert_eq!(ledger.clone().to_stored().unwrap(), stored);
    let json = serde_json::to_vec(&ledger).unwrap();
    assert!(
        stored.len() * 3 < json.len(),
        "stored {} bytes, JSON {} bytes",
        stored.len(),
        json.len()
    );
}

#[test]
fn a_stored_ledger_of_another_format_or_cut_short_is_refused() {
    let stored = example().ledger().to_stored().unwrap();
    assert_eq!(
        AgreementLedger::from_stored(&[]),
        Err(StoredLedgerError::Empty)
    );
    let mut other = stored.clone();
    other[0] = AgreementLedger::STORED_FORMAT + 1;
    assert!(matches!(
        AgreementLedger::from_stored(&other),
        Err(StoredLedgerError::Format { .. })
    ));
    assert!(matches!(
        AgreementLedger::from_stored(&stored[..stored.len() / 2]),
        Err(StoredLedgerError::Decode(_))
    ));
    let mut longer = stored.clone();
    longer.push(0);
    assert_eq!(
        AgreementLedger::from_stored(&longer),
        Err(StoredLedgerError::Trailing(1))
    );
}

#[test]
fn the_ledger_keeps_the_money_facts_and_the_header_versions() {
    let recorder = example();
    let ledger = recorder.ledger();
    assert_eq!(ledger.version, recorder.events.len() as u64);
    assert_eq!(ledger.ledger_date, Some(date!(2026 - 07 - 31)));
    assert_eq!(ledger.agreement, recorder.agreement);
    // registered, signed, suspended
    assert_eq!(ledger.headers.len(), 3);
    assert_eq!(
        ledger.headers.iter().map(|h| h.since).collect::<Vec<_>>(),
        vec![
            date!(2026 - 01 - 05),
            date!(2026 - 01 - 06),
            date!(2026 - 05 - 25)
        ]
    );
    // 3 invoices, 3 payments, 2 advances applied, 3 charges, 2 waivers.
    let count = |f: fn(&LedgerFact) -> bool| ledger.facts.iter().filter(|d| f(&d.fact)).count();
    assert_eq!(count(|f| matches!(f, LedgerFact::Invoice { .. })), 3);
    assert_eq!(count(|f| matches!(f, LedgerFact::Payment { .. })), 3);
    assert_eq!(count(|f| matches!(f, LedgerFact::AdvanceApplied { .. })), 2);
    assert_eq!(count(|f| matches!(f, LedgerFact::Charged { .. })), 3);
    assert_eq!(count(|f| matches!(f, LedgerFact::Waived { .. })), 2);
    assert!(ledger
        .facts
        .windows(2)
        .all(|w| w[0].sequence < w[1].sequence && w[0].on <= w[1].on));
}

#[test]
fn a_redelivered_event_is_not_counted_twice() {
    let recorder = example();
    let ledger = recorder.ledger();
    let mut again = ledger.clone();
    for (sequence, event) in &recorder.events {
        again.apply(*sequence, event);
    }
    assert_eq!(again, ledger);
}

#[test]
fn the_cqrs_view_update_builds_the_same_ledger() {
    let recorder = example();
    let mut view = AgreementLedger::default();
    for (sequence, event) in &recorder.events {
        view.update(&EventEnvelope::<ParticipantAgreement> {
            aggregate_id: PARTICIPANT.to_owned(),
            sequence: *sequence as usize,
            payload: event.clone(),
            metadata: HashMap::new(),
        });
    }
    assert_eq!(view, recorder.ledger());
}

#[test]
fn a_ledger_stored_as_json_and_loaded_answers_the_same() {
    let ledger = example().ledger();
    let json = serde_json::to_string(&ledger).unwrap();
    let loaded: AgreementLedger = serde_json::from_str(&json).unwrap();
    assert_eq!(loaded, ledger);
    // And it serializes to the same text again.
    assert_eq!(serde_json::to_string(&loaded).unwrap(), json);

    let reference = reference();
    for on in [
        date!(2026 - 01 - 04),
        date!(2026 - 02 - 15),
        date!(2026 - 03 - 31),
        date!(2026 - 06 - 27),
        date!(2026 - 07 - 31),
        date!(2027 - 03 - 31),
    ] {
        assert_eq!(loaded.agreement_as_of(on), ledger.agreement_as_of(on));
        assert_eq!(
            loaded.balance(on, &reference),
            ledger.balance(on, &reference)
        );
        assert_eq!(
            loaded.invoices(on, &reference),
            ledger.invoices(on, &reference)
        );
        assert_eq!(
            loaded.penalties(on, &reference),
            ledger.penalties(on, &reference)
        );
        assert_eq!(loaded.journal(on), ledger.journal(on));
        assert_eq!(loaded.aging(on), ledger.aging(on));
        assert_eq!(
            loaded.statement(date!(2026 - 02 - 10), on.max(date!(2026 - 02 - 10))),
            ledger.statement(date!(2026 - 02 - 10), on.max(date!(2026 - 02 - 10)))
        );
    }
}

#[test]
fn the_ledger_replayed_up_to_a_date_answers_as_the_whole_ledger_as_of_that_date() {
    let recorder = example();
    let ledger = recorder.ledger();
    let reference = reference();
    for on in [
        date!(2026 - 01 - 05),
        date!(2026 - 02 - 09),
        date!(2026 - 02 - 15),
        date!(2026 - 03 - 02),
        date!(2026 - 04 - 01),
        date!(2026 - 05 - 25),
        date!(2026 - 07 - 30),
    ] {
        let prefix = AgreementLedger::from_events(
            recorder
                .events
                .iter()
                .filter(|(_, e)| e.business_date() <= on)
                .map(|(s, e)| (*s, e)),
        );
        assert_eq!(
            prefix.agreement_as_of(on),
            ledger.agreement_as_of(on),
            "{on}"
        );
        assert_eq!(
            prefix.balance(on, &reference),
            ledger.balance(on, &reference),
            "{on}"
        );
        assert_eq!(
            prefix.invoices(on, &reference),
            ledger.invoices(on, &reference),
            "{on}"
        );
        assert_eq!(
            prefix.penalties(on, &reference),
            ledger.penalties(on, &reference),
            "{on}"
        );
        assert_eq!(prefix.journal(on), ledger.journal(on), "{on}");
    }
}

/// §3.2: a signature dated before registration. The agreement is concluded on the
/// signature and in force from registration; as of a day before registration there is
/// no agreement yet, and from registration it is active.
#[test]
fn a_signature_before_registration_shows_from_registration() {
    let mut r = Recorder::new();
    r.run(register(date!(2026 - 01 - 05)));
    r.run(sign(date!(2025 - 12 - 20)));
    let ledger = r.ledger();
    assert_eq!(ledger.ledger_date, Some(date!(2026 - 01 - 05)));
    assert_eq!(
        ledger.agreement_as_of(date!(2025 - 12 - 25)).unwrap_err(),
        ProjectionError::NotRegisteredAsOf(date!(2025 - 12 - 25))
    );
    let header = ledger
        .agreement_as_of(date!(2026 - 01 - 05))
        .unwrap()
        .header;
    assert_eq!(header.status, AgreementStatus::Active);
    assert_eq!(header.concluded_on, Some(date!(2025 - 12 - 20)));
    assert_eq!(header.in_force_from, Some(date!(2026 - 01 - 05)));
}

/// A signature recorded after a payment. The ledger dates each event at the running
/// maximum of business dates, which is exact only because the aggregate refuses a
/// signature dated before a recorded payment (handle.rs, commit 2ee7270; before it such a
/// signature was accepted and `agreement_as_of` between the two dates said `registered`
/// while the events dated up to then said `active`).
#[test]
fn a_signature_recorded_after_a_payment_shows_from_its_own_date() {
    let mut r = Recorder::new();
    r.run(register(date!(2026 - 01 - 05)));
    r.run(pay("ADV-1", date!(2026 - 01 - 20), "100.00"));
    let services = AgreementServices {
        reference: r.reference.clone(),
        today: TODAY,
        next_invoice_number: Some(number(1)),
    };
    // Dated before the payment: refused, so the history stays in date order.
    assert!(matches!(
        r.agreement.decide(sign(date!(2026 - 01 - 10)), &services),
        Err(aggregates::AgreementError::Backdated { .. })
    ));
    // The minimal case proptest found: a signature before registration (§3.2) after a
    // payment dated later than the registration.
    let mut early = Recorder::new();
    early.run(register(date!(2025 - 01 - 01)));
    early.run(pay("ADV-1", date!(2025 - 01 - 02), "1.00"));
    assert!(matches!(
        early
            .agreement
            .decide(sign(date!(2024 - 12 - 30)), &services),
        Err(aggregates::AgreementError::Backdated { .. })
    ));

    // Dated on the payment's day: accepted, shown from that day, as a replay shows it.
    r.run(sign(date!(2026 - 01 - 20)));
    let ledger = r.ledger();
    for as_of in [date!(2026 - 01 - 19), date!(2026 - 01 - 20)] {
        let replayed = AgreementLedger::from_events(
            r.events
                .iter()
                .filter(|(_, e)| e.business_date() <= as_of)
                .map(|(s, e)| (*s, e)),
        );
        assert_eq!(
            ledger.agreement_as_of(as_of),
            replayed.agreement_as_of(as_of)
        );
    }
    let header = ledger.agreement_as_of(date!(2026 - 01 - 20)).unwrap();
    assert_eq!(header.header.status, AgreementStatus::Active);
    assert_eq!(header.advance, kzt("100.00"));
    assert_eq!(
        ledger
            .agreement_as_of(date!(2026 - 01 - 19))
            .unwrap()
            .header
            .status,
        AgreementStatus::Registered
    );
}
