//! §8.1 as re-read on 2026-12-01 in the projection: no penalty accrues for the days of a
//! declared force majeure, as of any date, and the stored ledger knows the periods as
//! facts (an as-of query before the notice does not know the force majeure yet).

use std::sync::Arc;

use cqrs_es::Aggregate;
use time::macros::date;
use time::Date;

use aggregates::{AgreementServices, ParticipantAgreement, ReferenceData};
use commands::{
    AgreementCommand, DeclareForceMajeure, EndForceMajeure, InvoiceLineRequest, IssueInvoice,
    Register, SignAgreement,
};
use events::{
    AgreementEvent, Amount, Currency, EmailAddress, InvoiceKind, InvoiceNumber, LineDescription,
    Money, ParticipantId, ParticipantKind, ParticipantName, Quantity, ReasonNote,
};
use projections::AgreementLedger;

fn kzt(text: &str) -> Money {
    Amount::parse(text).unwrap().in_currency(Currency::KZT)
}

/// Registered 2026-01-05, signed 01-06, invoice 1 of 11600.00 issued 02-02 due 02-09;
/// force majeure from 02-15, notified 02-16, ended 02-20 (6 days).
fn history() -> Vec<(u64, AgreementEvent)> {
    let reference = Arc::new(ReferenceData::embedded().unwrap());
    let services = AgreementServices {
        tariffs: Default::default(),
        reference,
        today: date!(2026 - 12 - 31),
        next_invoice_number: Some(InvoiceNumber::new(1).unwrap()),
        closed_through: None,
    };
    let commands = vec![
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
                description: LineDescription::parse("Subscription").unwrap(),
                quantity: Quantity::parse("1").unwrap(),
                unit_price: Amount::parse("10000.00").unwrap(),
            }],
            period: None,
        }),
        AgreementCommand::DeclareForceMajeure(DeclareForceMajeure {
            started_on: date!(2026 - 02 - 15),
            notice_received_on: date!(2026 - 02 - 16),
            description: ReasonNote::parse("flood at the data centre").unwrap(),
        }),
        AgreementCommand::EndForceMajeure(EndForceMajeure {
            ended_on: date!(2026 - 02 - 20),
        }),
    ];
    let mut agreement = ParticipantAgreement::default();
    let mut events = Vec::new();
    for command in commands {
        for event in agreement.decide(command, &services).unwrap() {
            agreement.apply(event.clone());
            events.push((events.len() as u64 + 1, event));
        }
    }
    events
}

fn penalty_as_of(ledger: &AgreementLedger, as_of: Date) -> (u32, Money) {
    let reference = ReferenceData::embedded().unwrap();
    let views = ledger.penalties(as_of, &reference).unwrap();
    assert_eq!(views.len(), 1, "{views:?}");
    (views[0].days, views[0].amount)
}

#[test]
fn as_of_queries_exclude_the_days_of_force_majeure_once_it_is_declared() {
    let events = history();
    let ledger = AgreementLedger::from_events(events.iter().map(|(s, e)| (*s, e)));
    // Before the notice (02-16) the force majeure is not known: 02-10 to 02-15, 6 days.
    assert_eq!(
        penalty_as_of(&ledger, date!(2026 - 02 - 15)),
        (6, kzt("69.60"))
    );
    // Declared, ongoing: 02-10 to 02-14 counted (5 days), 02-15 and 02-16 not.
    assert_eq!(
        penalty_as_of(&ledger, date!(2026 - 02 - 16)),
        (5, kzt("58.00"))
    );
    // Ended on 02-20: as of 03-01, 20 days of delay less 6 of force majeure.
    assert_eq!(
        penalty_as_of(&ledger, date!(2026 - 03 - 01)),
        (14, kzt("162.40"))
    );
    let reference = ReferenceData::embedded().unwrap();
    let balance = ledger.balance(date!(2026 - 03 - 01), &reference).unwrap();
    assert_eq!(balance.penalties_accrued, kzt("162.40"));
    let invoices = ledger.invoices(date!(2026 - 03 - 01), &reference).unwrap();
    assert_eq!(invoices[0].penalty_accrued, kzt("162.40"));
    // The stored form round-trips with the periods in it.
    let stored = AgreementLedger::from_stored(&ledger.to_stored().unwrap()).unwrap();
    assert_eq!(stored, ledger);
}
