//! 24 months of 1,000 agreements with random payment behaviour and a daily sweep, run
//! through the aggregate; every agreement's suspensions, blocks and liftings must be
//! exactly what the rules of §4.2/§5.9 give when computed independently here from the
//! same inputs (invoice due dates and payment days), by a model written from DOMAIN.md
//! and not from the aggregate's code.

use std::sync::Arc;

use cqrs_es::Aggregate;
use serde_json::json;
use time::macros::date;
use time::{Date, Duration, Month};

use aggregates::{AgreementServices, ParticipantAgreement, ReferenceData};
use commands::AgreementCommand;
use events::{AgreementEvent, InvoiceNumber, Money, ParticipantId};

const AGREEMENTS: usize = 1_000;
const START: Date = date!(2025 - 01 - 02);
const END: Date = date!(2026 - 12 - 31);

fn command<T: serde::de::DeserializeOwned>(body: serde_json::Value) -> T {
    serde_json::from_value(body).expect("a well-formed command")
}

/// A deterministic generator (an LCG), so a failure can be replayed.
struct Lcg(u64);
impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// DOMAIN.md: "3 months after" = the same day three months later, or that month's last day.
fn three_months_after(date: Date) -> Date {
    let mut year = date.year();
    let mut month = u8::from(date.month()) + 3;
    if month > 12 {
        month -= 12;
        year += 1;
    }
    let month = Month::try_from(month).unwrap();
    let day = date.day().min(month.length(year));
    Date::from_calendar_date(year, month, day).unwrap()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Open,
    Suspended,
    Blocked,
}

#[derive(Debug, Clone, Copy)]
struct ModelInvoice {
    issued_on: Date,
    due_on: Date,
    paid_on: Option<Date>,
}

/// What is owed and what the rules see on day `d`, counting invoices issued by `issued_by`.
fn conditions(invoices: &[ModelInvoice], d: Date, issued_by: Date) -> (bool, bool, bool) {
    let unpaid: Vec<&ModelInvoice> = invoices
        .iter()
        .filter(|i| i.issued_on <= issued_by && i.paid_on.is_none_or(|p| p > d))
        .collect();
    // Overdue for more than 15 calendar days: from the 16th day after the due date.
    let suspend = unpaid.iter().any(|i| (d - i.due_on).whole_days() > 15);
    // Not paid in full for more than 3 months after the due date: from the day after.
    let block = unpaid.iter().any(|i| d > three_months_after(i.due_on));
    // The whole debt (§4.2): also invoices not yet due.
    let debt = !unpaid.is_empty();
    (suspend, block, debt)
}

/// Day `d`: a payment lifts at once (before that day's invoice is issued, as in the
/// simulation); the sweep at the end of the day applies every rule.
fn model_day(
    invoices: &[ModelInvoice],
    d: Date,
    paid_today: bool,
    access: &mut Access,
    out: &mut Vec<(Date, &'static str)>,
) {
    if paid_today {
        let before_invoice = d.previous_day().unwrap();
        let (suspend, _, debt) = conditions(invoices, d, before_invoice);
        match *access {
            Access::Blocked if !debt => {
                out.push((d, "Unblocked"));
                *access = Access::Open;
            }
            Access::Suspended if !suspend => {
                out.push((d, "Reinstated"));
                *access = Access::Open;
            }
            _ => {}
        }
    }
    let (suspend, block, debt) = conditions(invoices, d, d);
    match *access {
        Access::Open if block => {
            out.push((d, "Suspended"));
            out.push((d, "Blocked"));
            *access = Access::Blocked;
        }
        Access::Open if suspend => {
            out.push((d, "Suspended"));
            *access = Access::Suspended;
        }
        Access::Suspended if block => {
            out.push((d, "Blocked"));
            *access = Access::Blocked;
        }
        Access::Suspended if !suspend => {
            out.push((d, "Reinstated"));
            *access = Access::Open;
        }
        Access::Blocked if !debt => {
            out.push((d, "Unblocked"));
            *access = Access::Open;
        }
        _ => {}
    }
}

struct Simulated {
    agreement: ParticipantAgreement,
    recorded: Vec<(Date, &'static str)>,
}

impl Simulated {
    fn run(
        &mut self,
        command: AgreementCommand,
        next: &mut u64,
        reference: &Arc<ReferenceData>,
    ) -> Option<(InvoiceNumber, Date, Money)> {
        let services = AgreementServices {
            reference: reference.clone(),
            today: END,
            next_invoice_number: Some(InvoiceNumber::new(*next).unwrap()),
            closed_through: None,
        };
        let events = self.agreement.decide(command, &services).expect("accepted");
        let mut issued = None;
        for event in events {
            match &event {
                AgreementEvent::InvoiceIssued(invoice) => {
                    *next += 1;
                    issued = Some((invoice.number, invoice.due_on, invoice.total));
                }
                AgreementEvent::Suspended(e) => self.recorded.push((e.on, "Suspended")),
                AgreementEvent::Blocked(e) => self.recorded.push((e.on, "Blocked")),
                AgreementEvent::Reinstated(e) => self.recorded.push((e.on, "Reinstated")),
                AgreementEvent::Unblocked(e) => self.recorded.push((e.on, "Unblocked")),
                _ => {}
            }
            self.agreement.apply(event);
        }
        issued
    }
}

#[test]
fn two_years_of_daily_sweeps_match_the_rules_computed_independently() {
    let reference = Arc::new(ReferenceData::embedded().unwrap());
    let mut random = Lcg(2026);
    let mut next = 1u64;
    let ids: Vec<String> = (10_000_000_000u64..)
        .map(|base| base.to_string())
        .filter_map(|base| {
            (0..10)
                .map(|c| format!("{base}{c}"))
                .find(|id| ParticipantId::parse(id).is_ok())
        })
        .take(AGREEMENTS)
        .collect();
    let mut mismatches = Vec::new();
    let mut restrictions_seen = 0usize;
    for (index, id) in ids.iter().enumerate() {
        let behaviour = index % 5;
        let mut sim = Simulated {
            agreement: ParticipantAgreement::default(),
            recorded: Vec::new(),
        };
        sim.run(
            AgreementCommand::Register(command(json!({
                "participant_id": id, "name": "ТОО «Участник»", "kind": "legal_entity",
                "resident": true, "currency": "KZT", "email": "buh@example.kz",
                "registered_on": START.to_string()}))),
            &mut next,
            &reference,
        );
        sim.run(
            AgreementCommand::Sign(command(json!({"signed_on": START.to_string()}))),
            &mut next,
            &reference,
        );

        // An invoice on the 1st of each month (to November 2026), its payment day drawn
        // by the agreement's behaviour; each day: payments, the invoice, then the sweep.
        let mut invoices: Vec<(InvoiceNumber, ModelInvoice, Money)> = Vec::new();
        let mut day = START;
        while day <= END {
            let due_today: Vec<(InvoiceNumber, Money)> = invoices
                .iter()
                .filter(|(_, m, _)| m.paid_on == Some(day))
                .map(|(n, _, t)| (*n, *t))
                .collect();
            for (number, total) in due_today {
                sim.run(
                    AgreementCommand::ReceivePayment(command(json!({
                        "reference": format!("PAY-{number}"), "received_on": day.to_string(),
                        "amount": total.amount().to_string(), "invoice_number": number.to_string()}))),
                    &mut next,
                    &reference,
                );
            }
            if day.day() == 1 && day < date!(2026 - 12 - 01) {
                let (number, due_on, total) = sim
                    .run(
                        AgreementCommand::IssueInvoice(command(json!({
                            "kind": "subscription", "issued_on": day.to_string(),
                            "lines": [{"description": "E-DOC", "quantity": 1, "unit_price": "10000.00"}]}))),
                        &mut next,
                        &reference,
                    )
                    .expect("an invoice");
                let months = invoices.len() as i64;
                let delay: Option<i64> = match behaviour {
                    0 => Some(0),
                    1 => Some(random.below(30) as i64 + 1),
                    2 => Some(random.below(130) as i64 + 20),
                    3 => (months < 12).then(|| random.below(10) as i64),
                    _ => (random.below(2) == 0).then_some(0),
                };
                let paid_on = delay
                    .map(|d| due_on + Duration::days(d))
                    .filter(|p| *p <= END);
                invoices.push((
                    number,
                    ModelInvoice {
                        issued_on: day,
                        due_on,
                        paid_on,
                    },
                    total,
                ));
            }
            sim.run(
                AgreementCommand::Sweep(commands::SweepAgreement {
                    as_of: day,
                    charge_fines: false,
                }),
                &mut next,
                &reference,
            );
            day = day.next_day().unwrap();
        }

        let model: Vec<ModelInvoice> = invoices.iter().map(|(_, m, _)| *m).collect();
        let mut expected = Vec::new();
        let mut access = Access::Open;
        let mut d = START;
        while d <= END {
            let paid_today = model.iter().any(|i| i.paid_on == Some(d));
            model_day(&model, d, paid_today, &mut access, &mut expected);
            d = d.next_day().unwrap();
        }
        restrictions_seen += expected.len();
        if sim.recorded != expected {
            mismatches.push(format!(
                "{id} (behaviour {behaviour}):\n  recorded {:?}\n  expected {expected:?}",
                sim.recorded
            ));
        }
    }
    println!(
        "{AGREEMENTS} agreements over 24 months: {restrictions_seen} restrictions and liftings"
    );
    assert!(
        restrictions_seen > 1_000,
        "the simulation exercises the rules ({restrictions_seen})"
    );
    assert!(
        mismatches.is_empty(),
        "{} of {AGREEMENTS} differ; first:\n{}",
        mismatches.len(),
        mismatches
            .iter()
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
