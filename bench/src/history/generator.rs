//! The generator: agreements made one after the other by the pure aggregate from their
//! plans, every event sealed into its agreement's hash chain as `Ledger::execute` seals
//! it, and serialized into COPY rows.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::Write as _;
use std::sync::Arc;

use cqrs_es::persist::SerializedEvent;
use cqrs_es::{Aggregate, EventEnvelope};
use rust_decimal::Decimal;
use serde_json::Value;
use time::Date;

use aggregates::{AgreementServices, ParticipantAgreement, ReferenceData};
use api::application::commands::metadata;
use commands::{
    AgreementCommand, ChargeLatePayment, InvoiceLineRequest, IssueInvoice, LiftRestriction,
    ReceivePayment, Register, RestrictAccess, SignAgreement,
};
use events::{
    AgreementEvent, Amount, Currency, EmailAddress, InvoiceNumber, LineDescription, ParticipantId,
    ParticipantKind, ParticipantName, PaymentReference, Quantity, ReasonNote, RestrictionReason,
};

use super::plan::{self, add_days, previous_month, Action};
use super::{BoxError, Rng, ACTOR, LAST_MONTH, MONTHS_MAX, TODAY};

/// Generates agreements one after the other, their events serialized into COPY rows.
pub(super) struct Generator {
    rng: Rng,
    services: AgreementServices,
    pub(super) last_invoice_number: u64,
    next_prefix: u64,
    pub(super) agreements: u64,
    /// The first month of every agreement's invoices.
    first_month: Date,
    pub(super) refused: BTreeMap<String, u64>,
    pub(super) event_types: BTreeMap<&'static str, u64>,
}

/// One chunk of CSV rows for COPY.
pub(super) struct Chunk {
    pub(super) events_csv: Vec<u8>,
    pub(super) invoices_csv: Vec<u8>,
    pub(super) events: u64,
}

fn push_csv_field(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    for byte in text.bytes() {
        if byte == b'"' {
            out.push(b'"');
        }
        out.push(byte);
    }
    out.push(b'"');
}

fn money_amount(value: Decimal) -> Amount {
    Amount::new(value.round_dp(2)).expect("a generated amount is valid")
}

impl Generator {
    pub(super) fn new(seed: u64, months: u32) -> Result<Self, BoxError> {
        if !(1..=MONTHS_MAX).contains(&months) {
            return Err(format!("months of history: 1 to {MONTHS_MAX}, not {months}").into());
        }
        let mut first_month = LAST_MONTH;
        for _ in 1..months {
            first_month = previous_month(first_month);
        }
        Ok(Self {
            rng: Rng(seed),
            services: AgreementServices {
                tariffs: Default::default(),
                reference: Arc::new(ReferenceData::embedded()?),
                today: TODAY,
                next_invoice_number: None,
                closed_through: None,
            },
            last_invoice_number: 0,
            next_prefix: 25_014_000_000,
            agreements: 0,
            first_month,
            refused: BTreeMap::new(),
            event_types: BTreeMap::new(),
        })
    }

    /// The next valid BIN/IIN: 11-digit prefixes in order, each with its control digit
    /// (prefixes with no valid control digit are skipped).
    fn next_participant(&mut self) -> ParticipantId {
        loop {
            let prefix = self.next_prefix;
            self.next_prefix += 1;
            for digit in 0..10 {
                if let Ok(id) = ParticipantId::parse(&format!("{prefix:011}{digit}")) {
                    return id;
                }
            }
        }
    }

    /// Generates one agreement; appends at most `budget` events to `chunk`.
    pub(super) fn agreement(&mut self, budget: u64, chunk: &mut Chunk) -> Result<u64, BoxError> {
        let participant = self.next_participant();
        self.agreements += 1;
        let n = self.agreements;
        // Between the 8th and the 27th of the month before the first invoice.
        let registered_on = add_days(
            previous_month(self.first_month).replace_day(8)?,
            self.rng.below(20),
        );
        let kind = match self.rng.below(10) {
            0..=6 => ParticipantKind::LegalEntity,
            7..=8 => ParticipantKind::SoleProprietor,
            _ => ParticipantKind::Individual,
        };
        let mut commands = VecDeque::from([
            (
                AgreementCommand::Register(Register {
                    participant_id: participant.clone(),
                    name: ParticipantName::parse(&format!("ТОО «Участник ЭДО №{n}»"))?,
                    kind,
                    resident: !self.rng.chance(5),
                    currency: Currency::KZT,
                    email: EmailAddress::parse(&format!("buh{n}@participant{n}.kz"))?,
                    registered_on,
                }),
                None,
            ),
            (
                AgreementCommand::Sign(SignAgreement {
                    signed_on: add_days(registered_on, self.rng.below(4)),
                }),
                None,
            ),
        ]);
        let plan = plan::plan(&mut self.rng, self.first_month);

        let mut agreement = ParticipantAgreement::default();
        let mut numbers: Vec<Option<InvoiceNumber>> = Vec::new();
        let mut sequence: u64 = 0;
        let mut prev_hash = api::application::audit::GENESIS.to_owned();
        let mut payments = 0u64;
        let mut plan = plan.into_iter();
        loop {
            if sequence >= budget {
                break;
            }
            // Register and Sign first, then the plan.
            let (command, slot) = match commands.pop_front() {
                Some(command) => command,
                None => {
                    let Some((date, action)) = plan.next() else {
                        break;
                    };
                    match self.command(&agreement, &numbers, date, action, &mut payments)? {
                        Some(command) => command,
                        None => continue,
                    }
                }
            };
            let services = match &command {
                AgreementCommand::IssueInvoice(_) => AgreementServices {
                    tariffs: Default::default(),
                    next_invoice_number: Some(InvoiceNumber::new(self.last_invoice_number + 1)?),
                    closed_through: None,
                    ..self.services.clone()
                },
                _ => self.services.clone(),
            };
            let decided = match agreement.decide(command.clone(), &services) {
                Ok(decided) => decided,
                Err(error) => {
                    let key = format!("{}: {:?}", command.name(), error.kind());
                    *self.refused.entry(key).or_default() += 1;
                    continue;
                }
            };
            let recorded_at = format!(
                "{}T09:00:00Z",
                events::business_date::format(
                    decided.first().map_or(TODAY, AgreementEvent::business_date),
                )
            );
            for event in decided {
                if sequence >= budget {
                    break;
                }
                sequence += 1;
                if let AgreementEvent::InvoiceIssued(issued) = &event {
                    self.last_invoice_number += 1;
                    let slot = slot.expect("an invoice has a slot");
                    if numbers.len() <= slot {
                        numbers.resize(slot + 1, None);
                    }
                    numbers[slot] = Some(issued.number);
                    writeln!(
                        chunk.invoices_csv,
                        "{},{},{}",
                        issued.number,
                        participant.as_str(),
                        sequence
                    )?;
                }
                *self.event_types.entry(event.type_name()).or_default() += 1;
                // As `Ledger::execute` records it: the envelope's metadata, serialized by
                // cqrs-es, then sealed into the chain.
                let envelope = EventEnvelope::<ParticipantAgreement> {
                    aggregate_id: participant.as_str().to_owned(),
                    sequence: usize::try_from(sequence)?,
                    metadata: HashMap::from([
                        (metadata::ACTOR.to_owned(), ACTOR.to_owned()),
                        (metadata::RECORDED_AT.to_owned(), recorded_at.clone()),
                        (
                            metadata::REQUEST_ID.to_owned(),
                            format!("bench-{n}-{sequence}"),
                        ),
                        (
                            metadata::CLAUSE.to_owned(),
                            event.clause().as_str().to_owned(),
                        ),
                        (metadata::COMMAND.to_owned(), command.name().to_owned()),
                    ]),
                    payload: event,
                };
                let mut serialized = SerializedEvent::try_from(&envelope)?;
                let hash = api::application::audit::event_hash(
                    &serialized.aggregate_id,
                    serialized.sequence as u64,
                    &serialized.event_type,
                    &serialized.event_version,
                    &serialized.payload,
                    &serialized.metadata,
                    &prev_hash,
                );
                if let Value::Object(metadata) = &mut serialized.metadata {
                    metadata.insert(
                        api::application::audit::PREV_HASH_KEY.to_owned(),
                        Value::from(prev_hash.clone()),
                    );
                    metadata.insert(
                        api::application::audit::HASH_KEY.to_owned(),
                        Value::from(hash.clone()),
                    );
                }
                prev_hash = hash;
                let out = &mut chunk.events_csv;
                write!(
                    out,
                    "{},{},{},{},{},",
                    serialized.aggregate_type,
                    serialized.aggregate_id,
                    serialized.sequence,
                    serialized.event_type,
                    serialized.event_version,
                )?;
                push_csv_field(out, &serialized.payload.to_string());
                out.push(b',');
                push_csv_field(out, &serialized.metadata.to_string());
                out.push(b'\n');
                agreement.apply(envelope.payload);
            }
        }
        chunk.events += sequence;
        Ok(sequence)
    }

    /// The command an action stands for, given the agreement as it is; `None` when there
    /// is nothing to do (an invoice already settled by an advance).
    #[allow(clippy::type_complexity)]
    fn command(
        &mut self,
        agreement: &ParticipantAgreement,
        numbers: &[Option<InvoiceNumber>],
        date: Date,
        action: Action,
        payments: &mut u64,
    ) -> Result<Option<(AgreementCommand, Option<usize>)>, BoxError> {
        let number = |slot: usize| numbers.get(slot).copied().flatten();
        Ok(Some(match action {
            Action::Issue {
                kind,
                slot,
                lines,
                period,
            } => (
                AgreementCommand::IssueInvoice(IssueInvoice {
                    kind,
                    issued_on: date,
                    lines: lines
                        .into_iter()
                        .map(|(description, quantity, unit_price)| {
                            Ok::<_, BoxError>(InvoiceLineRequest {
                                description: LineDescription::parse(&description)?,
                                quantity: Quantity::new(quantity)?,
                                unit_price: money_amount(unit_price),
                            })
                        })
                        .collect::<Result<_, _>>()?,
                    period,
                }),
                Some(slot),
            ),
            Action::Pay {
                slot,
                percent,
                named,
            } => {
                let Some(number) = number(slot) else {
                    return Ok(None);
                };
                let Some(invoice) = agreement.invoice(number) else {
                    return Ok(None);
                };
                let owed = invoice.principal_outstanding().amount();
                let amount = (owed * Decimal::from(percent) / Decimal::from(100)).round_dp(2);
                if amount.is_zero() {
                    return Ok(None);
                }
                *payments += 1;
                (
                    AgreementCommand::ReceivePayment(ReceivePayment {
                        reference: PaymentReference::parse(&format!(
                            "KZ{:02}-PP{:06}",
                            date.month() as u8,
                            *payments
                        ))?,
                        received_on: date,
                        amount: money_amount(amount),
                        currency: Some(Currency::KZT),
                        invoice_number: named.then_some(number),
                    }),
                    None,
                )
            }
            Action::Settle => {
                let owed: Decimal = agreement
                    .invoices()
                    .map(|i| i.penalty_outstanding().amount() + i.fine_outstanding().amount())
                    .sum();
                if owed.is_zero() {
                    return Ok(None);
                }
                *payments += 1;
                (
                    AgreementCommand::ReceivePayment(ReceivePayment {
                        reference: PaymentReference::parse(&format!(
                            "KZ{:02}-PN{:06}",
                            date.month() as u8,
                            *payments
                        ))?,
                        received_on: date,
                        amount: money_amount(owed),
                        currency: None,
                        invoice_number: None,
                    }),
                    None,
                )
            }
            Action::Charge { slot, kind } => {
                let Some(invoice_number) = number(slot) else {
                    return Ok(None);
                };
                (
                    AgreementCommand::ChargeLatePayment(ChargeLatePayment {
                        invoice_number,
                        kind,
                        on: date,
                    }),
                    None,
                )
            }
            Action::Suspend => (
                AgreementCommand::Suspend(RestrictAccess {
                    on: date,
                    reason: RestrictionReason::Overdue,
                }),
                None,
            ),
            Action::Reinstate => {
                if agreement.restriction().is_none() {
                    return Ok(None);
                }
                (
                    AgreementCommand::Reinstate(LiftRestriction {
                        on: date,
                        reason: ReasonNote::parse("Задолженность погашена")?,
                    }),
                    None,
                )
            }
        }))
    }
}
