//! The worked example, checked by hand (KZT, VAT 16% and MRP 4,325 in 2026):
//!
//! | seq | date       | event                                                        |
//! |-----|------------|--------------------------------------------------------------|
//! | 1   | 2026-01-05 | registered                                                   |
//! | 2   | 2026-01-06 | signed                                                       |
//! | 3   | 2026-02-02 | invoice 1, subscription: 100000.00 + 16000.00 VAT = 116000.00, due Mon 02-09 (5 banking days, §5.4) |
//! | 4   | 2026-02-05 | PAY-1 58000.00: half the principal, on time                  |
//! | 5   | 2026-03-01 | PAY-2 58000.00: the rest, 20 days late (02-10 to 03-01)      |
//! | 6   | 2026-03-02 | penalty charged: 116000.00 x 0.001 x 20 = 2320.00            |
//! | 7   | 2026-03-03 | 500.00 of the penalty waived (all of it charged)             |
//! | 8   | 2026-03-04 | PAY-3 2000.00: penalty 1820.00, advance 180.00               |
//! | 9   | 2026-03-05 | fine charged: 2 x 4325 = 8650.00                             |
//! | 10  | 2026-03-05 | the advance 180.00 applied to the fine                       |

use std::sync::Arc;

use cqrs_es::Aggregate;
use time::macros::date;

use aggregates::{late_payment, AgreementServices, ParticipantAgreement};
use commands::{
    AgreementCommand, ChargeLatePayment, InvoiceLineRequest, IssueInvoice, ReceivePayment,
    Register, SignAgreement, WaiveLatePayment,
};
use events::{
    Amount, Currency, EmailAddress, InvoiceKind, LateChargeKind, LineDescription, ParticipantId,
    ParticipantKind, ParticipantName, PaymentReference, Quantity, ReasonNote,
};

use super::walk::term;
use super::words::{fine_words, penalty_words};
use super::*;
use crate::AgreementLedger;

fn kzt(text: &str) -> Money {
    Money::rounded(text.parse().unwrap(), Currency::KZT).unwrap()
}

fn number(n: u64) -> InvoiceNumber {
    InvoiceNumber::new(n).unwrap()
}

fn reference() -> Arc<ReferenceData> {
    Arc::new(ReferenceData::embedded().unwrap())
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

fn charge(kind: LateChargeKind, on: Date) -> AgreementCommand {
    AgreementCommand::ChargeLatePayment(ChargeLatePayment {
        invoice_number: number(1),
        kind,
        on,
    })
}

/// The history of the module comment, run through the aggregate's own `decide`.
fn example() -> AgreementLedger {
    let reference = reference();
    let mut agreement = ParticipantAgreement::default();
    let mut events = Vec::new();
    let commands = [
        AgreementCommand::Register(Register {
            participant_id: ParticipantId::parse("150240008272").unwrap(),
            name: ParticipantName::parse("ТОО «Ромашка»").unwrap(),
            kind: ParticipantKind::LegalEntity,
            resident: true,
            currency: Currency::KZT,
            email: EmailAddress::parse("buh@romashka.kz").unwrap(),
            registered_on: date!(2026 - 01 - 05),
        }),
        AgreementCommand::Sign(SignAgreement {
            signed_on: date!(2026 - 01 - 06),
        }),
        AgreementCommand::IssueInvoice(IssueInvoice {
            kind: InvoiceKind::Subscription,
            issued_on: date!(2026 - 02 - 02),
            lines: vec![InvoiceLineRequest {
                description: LineDescription::parse("E-DOC subscription").unwrap(),
                quantity: Quantity::parse("1").unwrap(),
                unit_price: Amount::parse("100000.00").unwrap(),
            }],
            period: None,
        }),
        pay("PAY-1", date!(2026 - 02 - 05), "58000.00"),
        pay("PAY-2", date!(2026 - 03 - 01), "58000.00"),
        charge(LateChargeKind::Penalty, date!(2026 - 03 - 02)),
        AgreementCommand::WaiveLatePayment(WaiveLatePayment {
            invoice_number: number(1),
            kind: LateChargeKind::Penalty,
            amount: Amount::parse("500.00").unwrap(),
            reason: ReasonNote::parse("goodwill: first delay").unwrap(),
            on: Some(date!(2026 - 03 - 03)),
        }),
        pay("PAY-3", date!(2026 - 03 - 04), "2000.00"),
        charge(LateChargeKind::Fine, date!(2026 - 03 - 05)),
    ];
    for command in commands {
        let services = AgreementServices {
            tariffs: Default::default(),
            reference: reference.clone(),
            today: date!(2026 - 12 - 31),
            next_invoice_number: Some(number(1)),
            closed_through: None,
        };
        let name = command.name();
        let decided = agreement
            .decide(command, &services)
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        for event in decided {
            agreement.apply(event.clone());
            events.push((events.len() as u64 + 1, event));
        }
    }
    let types: Vec<_> = events.iter().map(|(_, e)| e.type_name()).collect();
    assert_eq!(
        types,
        [
            "Registered",
            "AgreementSigned",
            "InvoiceIssued",
            "PaymentReceived",
            "PaymentReceived",
            "PenaltyCharged",
            "LateChargeWaived",
            "PaymentReceived",
            "FineCharged",
            "AdvanceApplied",
        ]
    );
    AgreementLedger::from_events(events.iter().map(|(s, e)| (*s, e)))
}

/// A term as (amount, clause, invoice, source sequences).
type Row = (&'static str, &'static str, Option<u64>, Vec<u64>);

fn rows(figure: &FigureExplanation) -> Vec<(String, &'static str, Option<u64>, Vec<u64>)> {
    figure
        .terms
        .iter()
        .map(|t| {
            (
                t.amount.to_json_string(),
                t.clause,
                t.invoice_number.map(InvoiceNumber::value),
                t.sources.iter().map(|s| s.sequence).collect(),
            )
        })
        .collect()
}

fn check(figure: &FigureExplanation, amount: &str, clause: &str, expected: &[Row]) {
    assert_eq!(figure.amount, kzt(amount), "{}", figure.figure);
    assert_eq!(figure.clause, clause, "{}", figure.figure);
    let expected: Vec<_> = expected
        .iter()
        .map(|(a, c, i, s)| (a.to_string(), *c, *i, s.clone()))
        .collect();
    assert_eq!(rows(figure), expected, "{}", figure.figure);
    assert_eq!(figure.sum_of_terms().unwrap(), figure.amount);
}

#[test]
fn every_figure_of_the_worked_example_is_its_terms() {
    let ledger = example();
    let reference = reference();
    let as_of = date!(2026 - 03 - 05);
    let explained = ledger.explain_balance(as_of, &reference).unwrap();
    assert_eq!(
        explained.balance,
        ledger.balance(as_of, &reference).unwrap()
    );
    let e = &explained.explanation;
    let one = Some(1);

    check(
        &e.invoiced,
        "116000.00",
        "5.11",
        &[("116000.00", "5.4", one, vec![3])],
    );
    assert_eq!(
        e.invoiced.terms[0].what,
        "invoice 1 (subscription) issued on 2026-02-02, due on 2026-02-09 (§5.4): net 100000.00 + VAT 16000.00 (§5.11) = 116000.00"
    );
    check(
        &e.paid,
        "118000.00",
        "5.5",
        &[
            ("58000.00", "5.5", None, vec![4]),
            ("58000.00", "5.5", None, vec![5]),
            ("2000.00", "5.5", None, vec![8]),
        ],
    );
    check(
        &e.outstanding,
        "0.00",
        "CC-282",
        &[
            ("116000.00", "5.4", one, vec![3]),
            ("-58000.00", "CC-282", one, vec![4]),
            ("-58000.00", "CC-282", one, vec![5]),
        ],
    );
    assert_eq!(
        e.outstanding.terms[2].what,
        "payment PAY-2 received on 2026-03-01 settled 58000.00 of the principal of invoice 1"
    );
    // Accrual stopped on the day PAY-2 completed the principal: its sources are the
    // invoice and that payment.
    check(
        &e.penalties_accrued,
        "2320.00",
        "5.9",
        &[("2320.00", "5.9", one, vec![3, 5])],
    );
    assert_eq!(
        e.penalties_accrued.terms[0].what,
        "penalty on invoice 1, due on 2026-02-09, paid in full on 2026-03-01 (§5.5): days of delay 2026-02-10 to 2026-03-01; 116000.00 x 0.001 x 20 day(s) = 2320.00"
    );
    check(
        &e.penalties_charged,
        "2320.00",
        "5.9",
        &[("2320.00", "5.9", one, vec![6])],
    );
    check(
        &e.penalties_waived,
        "500.00",
        "5.9",
        &[("500.00", "5.9", one, vec![7])],
    );
    check(
        &e.penalties_owed,
        "0.00",
        "5.9",
        &[
            ("2320.00", "5.9", one, vec![6]),
            ("-500.00", "5.9", one, vec![7]),
            ("-1820.00", "CC-282", one, vec![8]),
        ],
    );
    check(
        &e.fines_accrued,
        "8650.00",
        "5.9",
        &[("8650.00", "5.9", one, vec![3, 5])],
    );
    assert_eq!(
        e.fines_accrued.terms[0].what,
        format!(
            "fine on invoice 1: 2 MRP x 4325 KZT (the MRP in force on 2026-02-10, the first day of delay; table {}) = 8650.00 KZT",
            reference.mrp.version_for(2026).unwrap()
        )
    );
    check(
        &e.fines,
        "8650.00",
        "5.9",
        &[("8650.00", "5.9", one, vec![9])],
    );
    check(&e.fines_waived, "0.00", "5.9", &[]);
    check(
        &e.fines_owed,
        "8470.00",
        "5.9",
        &[
            ("8650.00", "5.9", one, vec![9]),
            ("-180.00", "CC-282", one, vec![10]),
        ],
    );
    check(
        &e.advance,
        "0.00",
        "CC-282",
        &[
            ("180.00", "CC-282", None, vec![8]),
            ("-180.00", "CC-282", one, vec![10]),
        ],
    );
    check(
        &e.total_due,
        "8470.00",
        "5.9",
        &[
            ("0.00", "CC-282", None, vec![]),
            ("0.00", "5.9", None, vec![]),
            ("8470.00", "5.9", None, vec![]),
        ],
    );
    let figures: Vec<_> = e.total_due.terms.iter().map(|t| t.figure).collect();
    assert_eq!(
        figures,
        [
            Some("outstanding"),
            Some("penalties_owed"),
            Some("fines_owed")
        ]
    );
    // The figure names are the balance's field names.
    let json = serde_json::to_value(&explained).unwrap();
    for figure in e.all() {
        assert_eq!(json[figure.figure], figure.amount.to_json_string());
        assert_eq!(json["explanation"][figure.figure]["figure"], figure.figure);
    }
}

#[test]
fn while_unpaid_the_accrual_runs_to_the_date_from_the_invoice_alone() {
    let ledger = example();
    let reference = reference();
    let explained = ledger
        .explain_balance(date!(2026 - 02 - 20), &reference)
        .unwrap();
    let e = &explained.explanation;
    let one = Some(1);
    check(
        &e.outstanding,
        "58000.00",
        "CC-282",
        &[
            ("116000.00", "5.4", one, vec![3]),
            ("-58000.00", "CC-282", one, vec![4]),
        ],
    );
    // 11 days (02-10 to 02-20): 116000.00 x 0.001 x 11 = 1276.00.
    check(
        &e.penalties_accrued,
        "1276.00",
        "5.9",
        &[("1276.00", "5.9", one, vec![3])],
    );
    assert!(e.penalties_accrued.terms[0]
        .what
        .contains("not paid in full as of that day"));
    check(&e.penalties_owed, "0.00", "5.9", &[]);
    check(
        &e.total_due,
        "58000.00",
        "5.9",
        &[
            ("58000.00", "CC-282", None, vec![]),
            ("0.00", "5.9", None, vec![]),
            ("0.00", "5.9", None, vec![]),
        ],
    );
    // Before the due date nothing is late: no accrual terms.
    let early = ledger
        .explain_balance(date!(2026 - 02 - 09), &reference)
        .unwrap();
    check(&early.explanation.penalties_accrued, "0.00", "5.9", &[]);
    check(&early.explanation.fines_accrued, "0.00", "5.9", &[]);
}

#[test]
fn a_capped_penalty_says_so() {
    let accrual = late_payment::penalty(
        &late_payment::InvoiceDelayFacts {
            number: number(7),
            total: kzt("11600.00"),
            due_on: date!(2026 - 02 - 09),
            paid_in_full_on: None,
            exchange_rate: None,
            force_majeure: &[],
        },
        date!(2026 - 04 - 10),
    )
    .unwrap();
    assert_eq!(
        penalty_words(&accrual),
        "penalty on invoice 7, due on 2026-02-09, not paid in full as of that day: days of delay 2026-02-10 to 2026-04-10; 11600.00 x 0.001 x 60 day(s) = 696.00, above the cap of 11600.00 x 0.05 = 580.00: 580.00"
    );
}

#[test]
fn a_fine_in_usd_names_its_rate() {
    let rate = events::UsdRate {
        kzt_per_usd: "500.00".parse().unwrap(),
        date: date!(2026 - 02 - 02),
        table_version: "test".into(),
    };
    let assessed = late_payment::fine(
        &late_payment::InvoiceDelayFacts {
            number: number(9),
            total: Money::rounded("1000.00".parse().unwrap(), Currency::USD).unwrap(),
            due_on: date!(2026 - 02 - 09),
            paid_in_full_on: None,
            exchange_rate: Some(&rate),
            force_majeure: &[],
        },
        date!(2026 - 02 - 16),
        &reference(),
    )
    .unwrap();
    assert_eq!(
        fine_words(&assessed),
        format!(
            "fine on invoice 9: 2 MRP x 4325 KZT (the MRP in force on 2026-02-10, the first day of delay; table {}) = 8650.00 KZT / 500.00 KZT per USD (National Bank rate of 2026-02-02, from invoice) = 17.30 USD",
            reference().mrp.version_for(2026).unwrap()
        )
    );
}

#[test]
fn hashes_are_filled_by_sequence_and_unknown_ones_stay_null() {
    let explained = example()
        .explain_balance(date!(2026 - 03 - 05), &reference())
        .unwrap();
    assert!(explained
        .explanation
        .all()
        .iter()
        .flat_map(|f| &f.terms)
        .flat_map(|t| &t.sources)
        .all(|s| s.hash.is_none()));
    let hashed =
        explained.with_hashes(|sequence| (sequence != 5).then(|| format!("hash-{sequence}")));
    let sources: Vec<_> = hashed
        .explanation
        .all()
        .iter()
        .flat_map(|f| &f.terms)
        .flat_map(|t| &t.sources)
        .cloned()
        .collect();
    assert!(!sources.is_empty());
    for source in sources {
        let expected = (source.sequence != 5).then(|| format!("hash-{}", source.sequence));
        assert_eq!(source.hash, expected);
    }
}

#[test]
fn a_figure_whose_terms_do_not_add_up_is_an_error() {
    let error = FigureExplanation::new(
        "paid",
        kzt("10.00"),
        "test",
        Clause::PAYMENT_MOMENT,
        vec![term(
            kzt("9.99"),
            "one".into(),
            Clause::PAYMENT_MOMENT,
            None,
            vec![],
        )],
    )
    .unwrap_err();
    assert_eq!(
        error,
        ProjectionError::Unexplained {
            figure: "paid",
            amount: "10.00".into(),
            terms: "9.99".into(),
        }
    );
}
