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
            tariffs: Default::default(),
            reference: self.reference.clone(),
            today: TODAY,
            next_invoice_number: Some(number(self.next_invoice)),
            closed_through: None,
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

mod aging;
mod as_of;
mod journal;
mod statement;
mod stored;
