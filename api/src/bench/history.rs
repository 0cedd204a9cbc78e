//! What the benchmarks share (`edoc-ledger bench` and the `replay`, `verify` and `sweep`
//! cargo benches): the generator of realistic agreements, the COPY loader, the benchmark
//! database and the measuring helpers.
//!
//! The generator runs the pure aggregate: register, sign, monthly subscription and usage
//! invoices, payments on time, late, partial and over the total, suspensions for overdue
//! invoices, penalties and fines charged and settled (about 100 events an agreement). Each
//! agreement's events are sealed into a hash chain exactly as `Ledger::execute` does it:
//! the envelope's metadata (`actor`, `recorded_at`, `request_id`, `clause`, `command`) is
//! serialized with cqrs-es's `SerializedEvent`, hashed with `crate::audit::event_hash`
//! chained to the previous event's hash ([`crate::audit::GENESIS`] for sequence 1), and
//! `prev_hash` and `hash` are added to it. So the loaded store verifies intact.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::Write as _;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cqrs_es::persist::SerializedEvent;
use cqrs_es::{Aggregate, EventEnvelope};
use rust_decimal::Decimal;
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, Executor, PgConnection};
use time::macros::date;
use time::{Date, Month};

use crate::application::commands::metadata;
use aggregates::{AgreementServices, ParticipantAgreement, ReferenceData};
use commands::{
    AgreementCommand, ChargeLatePayment, InvoiceLineRequest, IssueInvoice, LiftRestriction,
    ReceivePayment, Register, RestrictAccess, SignAgreement,
};
use events::{
    AgreementEvent, Amount, Currency, EmailAddress, InvoiceKind, InvoiceNumber, LateChargeKind,
    LineDescription, ParticipantId, ParticipantKind, ParticipantName, PaymentReference, Quantity,
    ReasonNote, RestrictionReason, ServicePeriod,
};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const DEFAULT_EVENTS: u64 = 1_000_000;
/// Events per generated chunk handed from the generator thread to the loader.
const CHUNK_EVENTS: u64 = 20_000;
/// Events per COPY statement (each COPY is one transaction).
const COPY_EVENTS: u64 = 250_000;
/// The "today" of the generated history: the calendar shipped covers 2025 and 2026, and
/// the history lies before the first run of `edoc-ledger bench` (2026-11-30), whose
/// commands are dated on the real today.
const TODAY: Date = date!(2026 - 11 - 20);
/// The range of `as_of` dates the benchmark's reads ask for: inside the history.
pub const READS_FROM: Date = date!(2025 - 03 - 01);
pub const READS_TO: Date = TODAY;
/// The month of the last generated invoices (their due dates and payments follow).
const LAST_MONTH: Date = date!(2026 - 10 - 01);
/// The most months of history the shipped calendar allows (February 2025 to October
/// 2026: registration in January 2025 needs the 2025 calendar).
pub const MONTHS_MAX: u32 = 21;
const ACTOR: &str = "bench";

// ---------------------------------------------------------------------------------------
// A small deterministic random number generator (splitmix64): no floats, no dependency.

pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low + 1)
    }

    /// True with probability `percent`%.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

// ---------------------------------------------------------------------------------------
// Generating agreements with the aggregate.

/// What an agreement's history plans to do on a date; turned into a command when its
/// turn comes, from the state the earlier commands left.
#[derive(Debug, Clone)]
enum Action {
    Issue {
        kind: InvoiceKind,
        slot: usize,
        lines: Vec<(String, Decimal, Decimal)>,
        period: Option<ServicePeriod>,
    },
    /// Pays `percent`% of what is left of the principal of invoice `slot`.
    Pay {
        slot: usize,
        percent: u64,
        named: bool,
    },
    /// Pays every penalty and fine charged and still open.
    Settle,
    Charge {
        slot: usize,
        kind: LateChargeKind,
    },
    Suspend,
    Reinstate,
}

impl Action {
    /// Tie-break between actions of one date.
    fn rank(&self) -> u8 {
        match self {
            Action::Issue { .. } => 0,
            Action::Suspend => 1,
            Action::Pay { .. } => 2,
            Action::Reinstate => 3,
            Action::Charge { .. } => 4,
            Action::Settle => 5,
        }
    }
}

/// Generates agreements one after the other, their events serialized into COPY rows.
struct Generator {
    rng: Rng,
    services: AgreementServices,
    last_invoice_number: u64,
    next_prefix: u64,
    agreements: u64,
    /// The first month of every agreement's invoices.
    first_month: Date,
    refused: BTreeMap<String, u64>,
    event_types: BTreeMap<&'static str, u64>,
}

/// One chunk of CSV rows for COPY.
struct Chunk {
    events_csv: Vec<u8>,
    invoices_csv: Vec<u8>,
    events: u64,
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

const MONTH_NAMES: [&str; 12] = [
    "январь",
    "февраль",
    "март",
    "апрель",
    "май",
    "июнь",
    "июль",
    "август",
    "сентябрь",
    "октябрь",
    "ноябрь",
    "декабрь",
];

/// The first day of the month before `date`'s.
fn previous_month(date: Date) -> Date {
    let (year, month) = if date.month() == Month::January {
        (date.year() - 1, Month::December)
    } else {
        (date.year(), date.month().previous())
    };
    Date::from_calendar_date(year, month, 1).expect("the first of a month")
}

fn add_days(date: Date, days: u64) -> Date {
    date + time::Duration::days(i64::try_from(days).unwrap_or(0))
}

fn money_amount(value: Decimal) -> Amount {
    Amount::new(value.round_dp(2)).expect("a generated amount is valid")
}

impl Generator {
    fn new(seed: u64, months: u32) -> Result<Self, BoxError> {
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
                reference: Arc::new(ReferenceData::embedded()?),
                today: TODAY,
                next_invoice_number: None,
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

    /// The plan of one agreement's life after signing, in date order.
    fn plan(&mut self) -> Vec<(Date, Action)> {
        let rng = &mut self.rng;
        let mut plan: Vec<(Date, Action)> = Vec::new();
        let subscription = Decimal::new(
            i64::try_from(rng.between(50, 600)).unwrap_or(50) * 10_000,
            2,
        );
        let mut slot = 0;
        let mut month_start = self.first_month;
        // The last invoices must fall due inside the calendar's years.
        while month_start <= LAST_MONTH {
            let month_end = month_start
                .replace_day(month_start.month().length(month_start.year()))
                .expect("last day of the month");
            let month_name = MONTH_NAMES[usize::from(u8::from(month_start.month())) - 1];
            let mut invoices = vec![(
                add_days(month_start, rng.below(2)),
                Action::Issue {
                    kind: InvoiceKind::Subscription,
                    slot,
                    lines: vec![(
                        format!(
                            "Абонентская плата за ЭДО, {month_name} {}",
                            month_start.year()
                        ),
                        Decimal::ONE,
                        subscription,
                    )],
                    period: Some(ServicePeriod {
                        from: month_start,
                        to: month_end,
                    }),
                },
            )];
            slot += 1;
            if rng.chance(80) {
                let lines = (0..rng.between(1, 3))
                    .map(|line| {
                        (
                            format!("Документы сверх тарифа, пакет {}", line + 1),
                            Decimal::from(rng.between(1, 400)),
                            Decimal::new(i64::try_from(rng.between(500, 20_000)).unwrap_or(500), 2),
                        )
                    })
                    .collect();
                invoices.push((
                    add_days(month_start, 14 + rng.below(3)),
                    Action::Issue {
                        kind: InvoiceKind::Usage,
                        slot,
                        lines,
                        period: None,
                    },
                ));
                slot += 1;
            }
            for (issued_on, issue) in invoices {
                let Action::Issue { slot: this, .. } = issue else {
                    unreachable!()
                };
                plan.push((issued_on, issue));
                let behaviour = rng.below(100);
                let pay = |percent: u64, named: bool| Action::Pay {
                    slot: this,
                    percent,
                    named,
                };
                if behaviour < 62 {
                    // On time, in full.
                    plan.push((add_days(issued_on, rng.below(5)), pay(100, rng.chance(70))));
                } else if behaviour < 78 {
                    // Late, in full; a penalty (and sometimes the fine) charged, then paid.
                    let paid_on = add_days(issued_on, rng.between(12, 45));
                    plan.push((paid_on, pay(100, true)));
                    if rng.chance(50) {
                        let charged_on = add_days(paid_on, rng.between(1, 5));
                        plan.push((
                            charged_on,
                            Action::Charge {
                                slot: this,
                                kind: LateChargeKind::Penalty,
                            },
                        ));
                        if rng.chance(30) {
                            plan.push((
                                charged_on,
                                Action::Charge {
                                    slot: this,
                                    kind: LateChargeKind::Fine,
                                },
                            ));
                        }
                        plan.push((add_days(charged_on, rng.between(3, 12)), Action::Settle));
                    }
                } else if behaviour < 90 {
                    // Partial on time, the rest late.
                    plan.push((
                        add_days(issued_on, rng.below(4)),
                        pay(rng.between(30, 70), true),
                    ));
                    let rest_on = add_days(issued_on, rng.between(15, 30));
                    plan.push((rest_on, pay(100, true)));
                    if rng.chance(30) {
                        plan.push((
                            add_days(rest_on, 1),
                            Action::Charge {
                                slot: this,
                                kind: LateChargeKind::Penalty,
                            },
                        ));
                    }
                } else if behaviour < 96 {
                    // Over the total: the rest is kept as an advance for the next invoice.
                    plan.push((
                        add_days(issued_on, rng.below(4)),
                        pay(rng.between(110, 200), false),
                    ));
                } else {
                    // Overdue long enough to be suspended; reinstated when paid.
                    plan.push((add_days(issued_on, 12), Action::Suspend));
                    let paid_on = add_days(issued_on, rng.between(20, 40));
                    plan.push((paid_on, pay(100, true)));
                    plan.push((paid_on, Action::Reinstate));
                    plan.push((
                        add_days(paid_on, 2),
                        Action::Charge {
                            slot: this,
                            kind: LateChargeKind::Penalty,
                        },
                    ));
                    plan.push((add_days(paid_on, 9), Action::Settle));
                }
            }
            month_start = month_start
                .replace_day(1)
                .and_then(|d| {
                    let (year, month) = if d.month() == Month::December {
                        (d.year() + 1, Month::January)
                    } else {
                        (d.year(), d.month().next())
                    };
                    Date::from_calendar_date(year, month, 1)
                })
                .expect("next month");
        }
        plan.retain(|(date, _)| *date <= TODAY);
        // Stable: actions of one date keep their planned order within a rank.
        plan.sort_by_key(|(date, action)| (*date, action.rank()));
        plan
    }

    /// Generates one agreement; appends at most `budget` events to `chunk`.
    fn agreement(&mut self, budget: u64, chunk: &mut Chunk) -> Result<u64, BoxError> {
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
        let plan = self.plan();

        let mut agreement = ParticipantAgreement::default();
        let mut numbers: Vec<Option<InvoiceNumber>> = Vec::new();
        let mut sequence: u64 = 0;
        let mut prev_hash = crate::audit::GENESIS.to_owned();
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
                    next_invoice_number: Some(InvoiceNumber::new(self.last_invoice_number + 1)?),
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
                let hash = crate::audit::event_hash(
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
                        crate::audit::PREV_HASH_KEY.to_owned(),
                        Value::from(prev_hash.clone()),
                    );
                    metadata.insert(crate::audit::HASH_KEY.to_owned(), Value::from(hash.clone()));
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

/// How much history to generate: until `events` events, or `agreements` whole
/// agreements, whichever comes first; each with `months` of invoices.
#[derive(Debug, Clone, Copy)]
pub struct HistoryShape {
    pub events: u64,
    pub agreements: Option<u64>,
    pub months: u32,
}

impl HistoryShape {
    /// `events` events over as many agreements as it takes, [`MONTHS_MAX`] months each.
    pub fn events(events: u64) -> Self {
        Self {
            events,
            agreements: None,
            months: MONTHS_MAX,
        }
    }
}

/// Runs on its own thread: generates the history in chunks for the loader.
fn generate(
    shape: HistoryShape,
    sender: tokio::sync::mpsc::Sender<Chunk>,
) -> Result<(Generator, Duration), BoxError> {
    let started = Instant::now();
    let mut generator = Generator::new(0x5EED_ED0C, shape.months)?;
    let total = shape.events;
    let more_agreements = |generator: &Generator| {
        shape
            .agreements
            .is_none_or(|wanted| generator.agreements < wanted)
    };
    let mut produced = 0;
    while produced < total && more_agreements(&generator) {
        let mut chunk = Chunk {
            events_csv: Vec::with_capacity(16 << 20),
            invoices_csv: Vec::new(),
            events: 0,
        };
        while chunk.events < CHUNK_EVENTS && produced < total && more_agreements(&generator) {
            produced += generator.agreement(total - produced, &mut chunk)?;
        }
        if sender.blocking_send(chunk).is_err() {
            return Err("the loader stopped".into());
        }
    }
    Ok((generator, started.elapsed()))
}

// ---------------------------------------------------------------------------------------
// Measuring.

pub fn seconds(duration: Duration) -> String {
    format!("{}.{:03} s", duration.as_secs(), duration.subsec_millis())
}

pub fn per_second(count: u64, duration: Duration) -> u64 {
    let micros = duration.as_micros().max(1);
    u64::try_from(u128::from(count) * 1_000_000 / micros).unwrap_or(u64::MAX)
}

/// A `VmHWM` / `VmRSS` line of /proc/self/status, in kB.
pub fn proc_status_kb(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

pub fn mib(kb: Option<u64>) -> String {
    match kb {
        Some(kb) => format!("{} MiB ({kb} kB)", kb / 1024),
        None => "unknown".to_owned(),
    }
}

/// Resets the peak RSS to the current RSS (Linux >= 4.0); false when not allowed.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// `url` with its database name replaced by `database`.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

fn events_wanted() -> Result<u64, BoxError> {
    // `cargo bench` passes `--bench`; the first bare number is the event count.
    if let Some(arg) = std::env::args()
        .skip(1)
        .find(|arg| !arg.starts_with('-') && !arg.is_empty())
    {
        return Ok(arg.replace('_', "").parse()?);
    }
    match std::env::var("EDOC_BENCH_EVENTS") {
        Ok(text) if !text.trim().is_empty() => Ok(text.trim().replace('_', "").parse()?),
        _ => Ok(DEFAULT_EVENTS),
    }
}

async fn admin_connection(admin_url: &str) -> Result<PgConnection, BoxError> {
    let options = PgConnectOptions::from_str(admin_url)?.disable_statement_logging();
    Ok(PgConnection::connect_with(&options).await?)
}

// ---------------------------------------------------------------------------------------
// The benchmark's database.

/// A fresh database on the server of `EDOC_BENCH_DATABASE_URL`, dropped by
/// [`BenchDatabase::finish`] unless `EDOC_BENCH_KEEP=1`.
pub struct BenchDatabase {
    /// The events wanted: the first bare number argument, else `EDOC_BENCH_EVENTS`.
    pub total: u64,
    /// The URL of the benchmark's database.
    pub url: String,
    name: &'static str,
    keep: bool,
    admin: PgConnection,
}

impl BenchDatabase {
    /// Drops and creates `name`, then prints the benchmark's header.
    pub async fn create(title: &str, name: &'static str) -> Result<Self, BoxError> {
        let total = events_wanted()?;
        let admin_url = std::env::var("EDOC_BENCH_DATABASE_URL")
            .unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned());
        let keep = std::env::var("EDOC_BENCH_KEEP").is_ok_and(|v| v == "1");
        let url = with_database(&admin_url, name);

        let mut admin = admin_connection(&admin_url).await?;
        let server: String = sqlx::query_scalar("SHOW server_version")
            .fetch_one(&mut admin)
            .await?;
        admin
            .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
            .await?;
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await?;

        println!("edoc-ledger {title} benchmark");
        println!(
            "database:                  {name} on PostgreSQL {server} ({})",
            crate::store::redact(&admin_url)
        );
        println!(
            "cpus:                      {}",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        println!("events requested:          {total}");
        Ok(Self {
            total,
            url,
            name,
            keep,
            admin,
        })
    }

    /// Drops the database unless `EDOC_BENCH_KEEP=1`.
    pub async fn finish(mut self) -> Result<(), BoxError> {
        if self.keep {
            println!(
                "database kept:             {}",
                crate::store::redact(&self.url)
            );
        } else {
            let name = self.name;
            self.admin
                .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                .await?;
            println!("database dropped:          {name}");
        }
        self.admin.close().await?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Loading.

/// What [`load`] stored.
pub struct Loaded {
    pub events: u64,
    pub agreements: u64,
    /// Peak RSS of the process after loading, in kB.
    pub peak_kb: Option<u64>,
}

/// Generates the history `shape` asks for (on a thread of its own) and COPYs them into the migrated
/// database at `url` (on this one; the two overlap), with the invoice numbers they took
/// and the invoice counter; then VACUUM ANALYZE, and prints what was stored.
pub async fn load(url: &str, shape: HistoryShape) -> Result<Loaded, BoxError> {
    let loader_options = PgConnectOptions::from_str(url)?.disable_statement_logging();
    let loader = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(loader_options)
        .await?;

    let load_started = Instant::now();
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Chunk>(4);
    let generator = std::thread::spawn(move || generate(shape, sender));
    let mut invoices_csv = Vec::new();
    let mut loaded = 0u64;
    let mut copies = 0u64;
    let mut finished = false;
    let mut conn = loader.acquire().await?;
    while !finished {
        let mut copy = conn
            .copy_in_raw(
                "COPY events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) FROM STDIN WITH (FORMAT csv)",
            )
            .await?;
        let mut in_copy = 0u64;
        while in_copy < COPY_EVENTS {
            match receiver.recv().await {
                Some(chunk) => {
                    copy.send(chunk.events_csv).await?;
                    invoices_csv.extend_from_slice(&chunk.invoices_csv);
                    in_copy += chunk.events;
                }
                None => {
                    finished = true;
                    break;
                }
            }
        }
        loaded += copy.finish().await?;
        copies += 1;
        if loaded > 0 && !finished {
            eprintln!("  loaded {loaded} events");
        }
    }
    let (generator, generation_time) = generator.join().map_err(|_| "the generator panicked")??;
    let mut copy = conn
        .copy_in_raw(
            "COPY invoice_numbers (number, aggregate_id, sequence) FROM STDIN WITH (FORMAT csv)",
        )
        .await?;
    copy.send(invoices_csv).await?;
    let invoices = copy.finish().await?;
    sqlx::query("UPDATE invoice_counter SET last_number = $1 WHERE id = 1")
        .bind(i64::try_from(generator.last_invoice_number)?)
        .execute(&mut *conn)
        .await?;
    let load_time = load_started.elapsed();
    // As autovacuum would have done on a store that grew over months: statistics for the
    // planner, and hint bits set so that the timed reads do not write.
    let vacuum_started = Instant::now();
    conn.execute("VACUUM (ANALYZE) events").await?;
    conn.execute("VACUUM (ANALYZE) invoice_numbers").await?;
    let vacuum_time = vacuum_started.elapsed();
    let events_size: String =
        sqlx::query_scalar("SELECT pg_size_pretty(pg_total_relation_size('events'))")
            .fetch_one(&mut *conn)
            .await?;
    drop(conn);
    loader.close().await;

    let load_peak = proc_status_kb("VmHWM:");
    println!("events stored:             {loaded} (in {copies} COPY transactions)");
    println!(
        "agreements:                {} (avg {} events each)",
        generator.agreements,
        loaded / generator.agreements.max(1)
    );
    println!(
        "invoices:                  {invoices} (last number {})",
        generator.last_invoice_number
    );
    let types: Vec<String> = generator
        .event_types
        .iter()
        .map(|(name, count)| format!("{name} {count}"))
        .collect();
    println!("event types:               {}", types.join(", "));
    let refused: u64 = generator.refused.values().sum();
    println!("commands refused (skipped): {refused}");
    for (what, count) in &generator.refused {
        println!("  {what}: {count}");
    }
    println!("events table size:         {events_size}");
    println!(
        "generation (aggregate):    {} on its thread ({} events/s)",
        seconds(generation_time),
        per_second(loaded, generation_time)
    );
    println!(
        "generation+insert:         {} wall, overlapped ({} events/s)",
        seconds(load_time),
        per_second(loaded, load_time)
    );
    println!("vacuum analyze:            {}", seconds(vacuum_time));
    println!("peak RSS after loading:    {}", mib(load_peak));
    Ok(Loaded {
        events: loaded,
        agreements: generator.agreements,
        peak_kb: load_peak,
    })
}
