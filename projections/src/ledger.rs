//! `AgreementLedger`: the stored projection of one agreement, and every as-of query on it.
//!
//! The projection keeps what the queries need, dated: the agreement's header after each
//! event that changed it, and the money-moving facts (invoices, payments, advances,
//! charges, waivers) with their business dates. A query as of a date folds the facts up
//! to that date into an [`AgreementPosition`] and lets time-based accruals (§5.9) run to
//! that date. So the cost of a query is proportional to that agreement's events, and the
//! answer is the same whether the ledger was stored and loaded or rebuilt by replay.
//!
//! "As of a date" means: the events whose business date is on or before the end of that
//! day. An agreement's business dates never go backwards (the aggregate refuses backdated
//! entries), so that is always a prefix of its history; the ledger date of an event is
//! the running maximum of business dates, which keeps it a prefix even for a signing
//! dated before registration (§3.2).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::Date;

use aggregates::late_payment::{
    self, FineFigure, InvoiceDelayFacts, LatePaymentError, PendingFine,
};
use aggregates::{AgreementStatus, ForceMajeurePeriod, ParticipantAgreement, ReferenceData};
use cqrs_es::{Aggregate, EventEnvelope};
use events::{
    AgreementEvent, Clause, Currency, FineAssessment, InvoiceKind, InvoiceNumber, LateChargeKind,
    Money, MoneyError, PaymentAllocation, PenaltyAccrual, SettledPart, UsdRate,
};

use crate::{AgreementHeader, AgreementView};

/// Why a query could not be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProjectionError {
    #[error("no agreement is registered for this participant as of {0}")]
    NotRegisteredAsOf(Date),
    #[error("the period runs backwards: from {from} to {to}")]
    PeriodReversed { from: Date, to: Date },
    #[error(transparent)]
    LatePayment(#[from] LatePaymentError),
    #[error("amounts do not add up: {0}")]
    Money(#[from] MoneyError),
    /// An explained figure whose terms do not add up to it: a bug, never an answer.
    #[error("the terms of `{figure}` add up to {terms}, not to its {amount}")]
    Unexplained {
        figure: &'static str,
        amount: String,
        terms: String,
    },
}

/// Why a stored ledger could not be read back (then it is rebuilt from the events).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoredLedgerError {
    #[error("the stored ledger is empty")]
    Empty,
    #[error("the stored ledger is in format {found}; this program reads format {expected}")]
    Format { found: u8, expected: u8 },
    #[error("the stored ledger cannot be decoded: {0}")]
    Decode(String),
    #[error("the stored ledger cannot be encoded: {0}")]
    Encode(String),
    #[error("the stored ledger has {0} bytes after its end")]
    Trailing(usize),
}

/// A money-moving fact of the agreement, as the projection keeps it. (Externally tagged:
/// the stored form is a binary format that cannot read internally tagged enums.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerFact {
    Invoice {
        number: InvoiceNumber,
        kind: InvoiceKind,
        due_on: Date,
        net: Money,
        vat: Money,
        total: Money,
        exchange_rate: Option<UsdRate>,
    },
    Payment {
        reference: String,
        amount: Money,
        allocations: Vec<PaymentAllocation>,
        advance: Money,
    },
    AdvanceApplied {
        invoice_number: InvoiceNumber,
        part: SettledPart,
        amount: Money,
    },
    Charged {
        invoice_number: InvoiceNumber,
        kind: LateChargeKind,
        amount: Money,
        /// For a fine, how it was priced (MRP and its table version): the fine's figure
        /// from then on, never repriced by a table published later (BILLING.md 1).
        fine: Option<FineAssessment>,
    },
    Waived {
        invoice_number: InvoiceNumber,
        kind: LateChargeKind,
        amount: Money,
        charged_part: Money,
        uncharged_part: Money,
        reason: String,
    },
    /// A force majeure was declared (§8.2) from `started_on`: no penalty accrues on its
    /// days (§8.1). Dated by its notice, so an as-of query before the notice does not
    /// know it yet.
    ForceMajeureDeclared { started_on: Date },
    /// The force majeure in progress ended on `ended_on` (§8.3).
    ForceMajeureEnded { ended_on: Date },
}

/// A fact with the event that recorded it and its business date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatedFact {
    pub sequence: u64,
    pub on: Date,
    pub fact: LedgerFact,
}

/// The agreement's header (status, dates, reasons) from a date on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatedHeader {
    pub since: Date,
    pub sequence: u64,
    pub header: AgreementHeader,
}

/// The stored projection of one agreement (a cqrs-es `View`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AgreementLedger {
    /// The last event sequence applied.
    pub version: u64,
    /// The latest business date seen (the running maximum).
    pub ledger_date: Option<Date>,
    /// The agreement as its events make it now: what the next header is computed from.
    pub agreement: ParticipantAgreement,
    /// Each version of the header, oldest first.
    pub headers: Vec<DatedHeader>,
    /// The money-moving facts, in event order.
    pub facts: Vec<DatedFact>,
}

impl cqrs_es::View<ParticipantAgreement> for AgreementLedger {
    fn update(&mut self, event: &EventEnvelope<ParticipantAgreement>) {
        let sequence = u64::try_from(event.sequence).unwrap_or(u64::MAX);
        self.apply(sequence, &event.payload);
    }
}

impl AgreementLedger {
    /// The version of the stored form, its first byte. A ledger stored in another format
    /// reads as [`StoredLedgerError::Format`]: the command path then folds the events and
    /// `edoc-ledger replay` rewrites every row.
    ///
    /// Format 2 (2026-12-01): the agreement's restriction records who imposed a
    /// suspension (§5.9). Format 3: force majeure periods are facts (§8.1).
    pub const STORED_FORMAT: u8 = 4;

    /// The stored form: [`Self::STORED_FORMAT`], then the ledger in postcard, a compact
    /// binary serde format (a fifth of the JSON, several times faster to write and read,
    /// and opaque to the database, which then neither parses nor compresses it; see
    /// docs/performance.md). Deterministic: equal ledgers have equal bytes, which is what
    /// `replay --check` compares.
    pub fn to_stored(&self) -> Result<Vec<u8>, StoredLedgerError> {
        let mut bytes = Vec::with_capacity(16 * 1024);
        bytes.push(Self::STORED_FORMAT);
        postcard::to_extend(self, bytes).map_err(|e| StoredLedgerError::Encode(e.to_string()))
    }

    /// Reads [`Self::to_stored`]'s form back; every byte must belong to the ledger.
    pub fn from_stored(bytes: &[u8]) -> Result<Self, StoredLedgerError> {
        let (&format, body) = bytes.split_first().ok_or(StoredLedgerError::Empty)?;
        if format != Self::STORED_FORMAT {
            return Err(StoredLedgerError::Format {
                found: format,
                expected: Self::STORED_FORMAT,
            });
        }
        let (ledger, rest) = postcard::take_from_bytes::<Self>(body)
            .map_err(|e| StoredLedgerError::Decode(e.to_string()))?;
        if !rest.is_empty() {
            return Err(StoredLedgerError::Trailing(rest.len()));
        }
        Ok(ledger)
    }

    /// Folds a whole history.
    pub fn from_events<'a>(events: impl IntoIterator<Item = (u64, &'a AgreementEvent)>) -> Self {
        let mut ledger = Self::default();
        for (sequence, event) in events {
            ledger.apply(sequence, event);
        }
        ledger
    }

    /// Applies the event recorded under `sequence`. Events arrive in order, once each: an
    /// event at or below the version already applied is ignored, so a redelivery never
    /// counts twice.
    pub fn apply(&mut self, sequence: u64, event: &AgreementEvent) {
        if sequence <= self.version {
            return;
        }
        let on = match self.ledger_date {
            Some(latest) if latest > event.business_date() => latest,
            _ => event.business_date(),
        };
        self.ledger_date = Some(on);
        self.version = sequence;
        self.agreement.apply(event.clone());

        if let Some(fact) = fact_of(event) {
            self.facts.push(DatedFact { sequence, on, fact });
        }
        if let Some(header) = AgreementHeader::of(&self.agreement) {
            if self.headers.last().map(|h| &h.header) != Some(&header) {
                self.headers.push(DatedHeader {
                    since: on,
                    sequence,
                    header,
                });
            }
        }
    }

    pub fn participant_id(&self) -> Option<String> {
        self.agreement
            .registration()
            .map(|r| r.participant_id.to_string())
    }

    pub fn currency(&self) -> Option<Currency> {
        self.agreement.currency()
    }

    /// The status after every recorded event (= as of today, as no event is future-dated).
    pub fn status(&self) -> Option<AgreementStatus> {
        self.agreement.status()
    }

    /// The agreement's header as of the end of `as_of`.
    pub fn header_as_of(&self, as_of: Date) -> Result<&AgreementHeader, ProjectionError> {
        self.headers
            .iter()
            .rev()
            .find(|h| h.since <= as_of)
            .map(|h| &h.header)
            .ok_or(ProjectionError::NotRegisteredAsOf(as_of))
    }

    /// `GET /v1/agreements/{id}` as of the end of `as_of`.
    pub fn agreement_as_of(&self, as_of: Date) -> Result<AgreementView, ProjectionError> {
        let header = self.header_as_of(as_of)?.clone();
        let position = self.position(as_of)?;
        Ok(AgreementView {
            header,
            advance: position.advance,
        })
    }

    fn registered_currency(&self, as_of: Date) -> Result<Currency, ProjectionError> {
        Ok(self.header_as_of(as_of)?.currency)
    }

    /// The money position as of the end of `as_of`: the facts up to that day, folded.
    pub fn position(&self, as_of: Date) -> Result<AgreementPosition, ProjectionError> {
        let currency = self.registered_currency(as_of)?;
        AgreementPosition::fold(
            currency,
            self.facts.iter().take_while(|fact| fact.on <= as_of),
        )
    }

    /// `GET /v1/agreements/{id}/balance`.
    pub fn balance(
        &self,
        as_of: Date,
        reference: &ReferenceData,
    ) -> Result<BalanceView, ProjectionError> {
        self.position(as_of)?.balance(as_of, reference)
    }

    /// `GET /v1/agreements/{id}/invoices`.
    pub fn invoices(
        &self,
        as_of: Date,
        reference: &ReferenceData,
    ) -> Result<Vec<InvoiceStatusView>, ProjectionError> {
        self.position(as_of)?.invoices(as_of, reference)
    }

    /// `GET /v1/agreements/{id}/penalties`.
    pub fn penalties(
        &self,
        as_of: Date,
        reference: &ReferenceData,
    ) -> Result<Vec<PenaltyView>, ProjectionError> {
        self.position(as_of)?.penalties(as_of, reference)
    }

    /// `GET /v1/agreements/{id}/journal`: the double-entry postings behind the balance.
    pub fn journal(&self, as_of: Date) -> Result<JournalView, ProjectionError> {
        let currency = self.registered_currency(as_of)?;
        let mut entries = Vec::new();
        for fact in self.facts.iter().take_while(|fact| fact.on <= as_of) {
            entries.extend(postings(fact)?);
        }
        JournalView::new(currency, as_of, entries)
    }

    /// `GET /v1/agreements/{id}/statement`: the reconciliation statement (акт сверки) for
    /// a period. Positive balances are owed by the participant.
    pub fn statement(&self, from: Date, to: Date) -> Result<StatementView, ProjectionError> {
        if to < from {
            return Err(ProjectionError::PeriodReversed { from, to });
        }
        let currency = self.registered_currency(to)?;
        let zero = Money::zero(currency);
        let mut opening = zero;
        let mut lines = Vec::new();
        for fact in self.facts.iter().take_while(|fact| fact.on <= to) {
            let Some(line) = statement_line(fact, currency) else {
                continue;
            };
            if fact.on < from {
                opening = opening.checked_add(line.debit)?.checked_sub(line.credit)?;
            } else {
                lines.push(line);
            }
        }
        let debits = sum(zero, lines.iter().map(|l| l.debit))?;
        let credits = sum(zero, lines.iter().map(|l| l.credit))?;
        let closing = opening.checked_add(debits)?.checked_sub(credits)?;
        Ok(StatementView {
            currency,
            from,
            to,
            opening,
            lines,
            debits,
            credits,
            closing,
        })
    }

    /// This agreement's row of the aging report, as of `as_of`.
    pub fn aging(&self, as_of: Date) -> Result<AgingRow, ProjectionError> {
        let header = self.header_as_of(as_of)?;
        let position = self.position(as_of)?;
        let zero = Money::zero(header.currency);
        let mut row = AgingRow {
            participant_id: header.participant_id.clone(),
            name: header.name.clone(),
            currency: header.currency,
            buckets: AgingBuckets::zero(zero),
        };
        for invoice in position.invoices.values() {
            let outstanding = invoice.principal_outstanding()?;
            if outstanding.is_zero() {
                continue;
            }
            let overdue = (as_of - invoice.due_on).whole_days();
            row.buckets.add(overdue, outstanding)?;
        }
        Ok(row)
    }
}

fn fact_of(event: &AgreementEvent) -> Option<LedgerFact> {
    Some(match event {
        AgreementEvent::InvoiceIssued(e) => LedgerFact::Invoice {
            number: e.number,
            kind: e.kind,
            due_on: e.due_on,
            net: e.net,
            vat: e.vat.amount,
            total: e.total,
            exchange_rate: e.exchange_rate.clone(),
        },
        AgreementEvent::PaymentReceived(e) => LedgerFact::Payment {
            reference: e.reference.as_str().to_owned(),
            amount: e.amount,
            allocations: e.allocations.clone(),
            advance: e.advance,
        },
        AgreementEvent::AdvanceApplied(e) => LedgerFact::AdvanceApplied {
            invoice_number: e.invoice_number,
            part: e.part,
            amount: e.amount,
        },
        AgreementEvent::PenaltyCharged(e) => LedgerFact::Charged {
            invoice_number: e.invoice_number,
            kind: LateChargeKind::Penalty,
            amount: e.amount,
            fine: None,
        },
        AgreementEvent::FineCharged(e) => LedgerFact::Charged {
            invoice_number: e.invoice_number,
            kind: LateChargeKind::Fine,
            amount: e.amount,
            fine: Some(e.assessment.clone()),
        },
        AgreementEvent::ForceMajeureDeclared(e) => LedgerFact::ForceMajeureDeclared {
            started_on: e.started_on,
        },
        AgreementEvent::ForceMajeureEnded(e) => LedgerFact::ForceMajeureEnded {
            ended_on: e.ended_on,
        },
        AgreementEvent::LateChargeWaived(e) => LedgerFact::Waived {
            invoice_number: e.invoice_number,
            kind: e.kind,
            amount: e.amount,
            charged_part: e.charged_part,
            uncharged_part: e.uncharged_part,
            reason: e.reason.to_string(),
        },
        _ => return None,
    })
}

fn sum(zero: Money, amounts: impl Iterator<Item = Money>) -> Result<Money, MoneyError> {
    amounts
        .into_iter()
        .try_fold(zero, |total, amount| total.checked_add(amount))
}

// ---------------------------------------------------------------------------------------
// The position as of a date

/// One kind of late charge on one invoice: what was charged, paid and waived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LateChargePosition {
    pub charged: Money,
    pub paid: Money,
    /// Waived of what had been charged: lowers the debt.
    pub waived_charged: Money,
    /// Waived before it was charged: lowers what may still be charged.
    pub waived_uncharged: Money,
}

impl LateChargePosition {
    fn zero(zero: Money) -> Self {
        Self {
            charged: zero,
            paid: zero,
            waived_charged: zero,
            waived_uncharged: zero,
        }
    }

    /// Charged and still owed.
    pub fn owed(&self) -> Result<Money, MoneyError> {
        self.charged
            .checked_sub(self.paid)?
            .checked_sub(self.waived_charged)
    }

    pub fn waived(&self) -> Result<Money, MoneyError> {
        self.waived_charged.checked_add(self.waived_uncharged)
    }
}

/// One invoice as of a date.
#[derive(Debug, Clone, PartialEq)]
pub struct InvoicePosition {
    pub number: InvoiceNumber,
    pub kind: InvoiceKind,
    pub issued_on: Date,
    pub due_on: Date,
    pub total: Money,
    pub exchange_rate: Option<UsdRate>,
    pub principal_paid: Money,
    pub paid_in_full_on: Option<Date>,
    pub penalty: LateChargePosition,
    pub fine: LateChargePosition,
    /// How the fine was priced when it was charged (the first charge).
    pub fine_charged_as: Option<FineAssessment>,
}

impl InvoicePosition {
    /// The fine as of `as_of` (§5.9): as its charge priced it once charged, else priced
    /// now with the tables in force, or pending while they lack its MRP (BILLING.md 1).
    pub fn fine_figure(
        &self,
        facts: &InvoiceDelayFacts<'_>,
        as_of: Date,
        reference: &ReferenceData,
    ) -> Result<FineFigure, LatePaymentError> {
        match &self.fine_charged_as {
            Some(assessment) => Ok(FineFigure::Assessed(assessment.clone())),
            None => late_payment::fine_or_pending(facts, as_of, reference),
        }
    }

    pub fn principal_outstanding(&self) -> Result<Money, MoneyError> {
        self.total.checked_sub(self.principal_paid)
    }

    /// What §5.9 needs to know about this invoice, with the agreement's force majeure
    /// periods as of the same date (§8.1).
    pub fn delay_facts<'a>(
        &'a self,
        force_majeure: &'a [ForceMajeurePeriod],
    ) -> InvoiceDelayFacts<'a> {
        InvoiceDelayFacts {
            number: self.number,
            total: self.total,
            due_on: self.due_on,
            paid_in_full_on: self.paid_in_full_on,
            exchange_rate: self.exchange_rate.as_ref(),
            force_majeure,
        }
    }

    fn charge_mut(&mut self, kind: LateChargeKind) -> &mut LateChargePosition {
        match kind {
            LateChargeKind::Penalty => &mut self.penalty,
            LateChargeKind::Fine => &mut self.fine,
        }
    }

    fn settle(&mut self, part: SettledPart, amount: Money, on: Date) -> Result<(), MoneyError> {
        let slot = match part {
            SettledPart::Principal => &mut self.principal_paid,
            SettledPart::Penalty => &mut self.penalty.paid,
            SettledPart::Fine => &mut self.fine.paid,
        };
        *slot = slot.checked_add(amount)?;
        if self.paid_in_full_on.is_none() && self.principal_outstanding()?.is_zero() {
            self.paid_in_full_on = Some(on);
        }
        Ok(())
    }
}

/// The agreement's money as of a date: the facts up to it, folded.
#[derive(Debug, Clone, PartialEq)]
pub struct AgreementPosition {
    pub currency: Currency,
    pub invoices: BTreeMap<InvoiceNumber, InvoicePosition>,
    /// The sum of payments received.
    pub received: Money,
    pub advance: Money,
    /// The force majeure periods declared by the date (§8.1), oldest first.
    pub force_majeure: Vec<ForceMajeurePeriod>,
}

impl AgreementPosition {
    pub fn fold<'a>(
        currency: Currency,
        facts: impl Iterator<Item = &'a DatedFact>,
    ) -> Result<Self, ProjectionError> {
        let zero = Money::zero(currency);
        let mut position = Self {
            currency,
            invoices: BTreeMap::new(),
            received: zero,
            advance: zero,
            force_majeure: Vec::new(),
        };
        for dated in facts {
            let on = dated.on;
            match &dated.fact {
                LedgerFact::Invoice {
                    number,
                    kind,
                    due_on,
                    total,
                    exchange_rate,
                    ..
                } => {
                    position.invoices.insert(
                        *number,
                        InvoicePosition {
                            number: *number,
                            kind: *kind,
                            issued_on: on,
                            due_on: *due_on,
                            total: *total,
                            exchange_rate: exchange_rate.clone(),
                            principal_paid: zero,
                            paid_in_full_on: None,
                            penalty: LateChargePosition::zero(zero),
                            fine: LateChargePosition::zero(zero),
                            fine_charged_as: None,
                        },
                    );
                }
                LedgerFact::Payment {
                    amount,
                    allocations,
                    advance,
                    ..
                } => {
                    position.received = position.received.checked_add(*amount)?;
                    position.advance = position.advance.checked_add(*advance)?;
                    for allocation in allocations {
                        if let Some(invoice) = position.invoices.get_mut(&allocation.invoice_number)
                        {
                            invoice.settle(SettledPart::Principal, allocation.principal, on)?;
                            invoice.settle(SettledPart::Penalty, allocation.penalty, on)?;
                            invoice.settle(SettledPart::Fine, allocation.fine, on)?;
                        }
                    }
                }
                LedgerFact::AdvanceApplied {
                    invoice_number,
                    part,
                    amount,
                } => {
                    position.advance = position.advance.checked_sub(*amount)?;
                    if let Some(invoice) = position.invoices.get_mut(invoice_number) {
                        invoice.settle(*part, *amount, on)?;
                    }
                }
                LedgerFact::Charged {
                    invoice_number,
                    kind,
                    amount,
                    fine,
                } => {
                    if let Some(invoice) = position.invoices.get_mut(invoice_number) {
                        let charge = invoice.charge_mut(*kind);
                        charge.charged = charge.charged.checked_add(*amount)?;
                        if invoice.fine_charged_as.is_none() {
                            invoice.fine_charged_as = fine.clone();
                        }
                    }
                }
                LedgerFact::Waived {
                    invoice_number,
                    kind,
                    charged_part,
                    uncharged_part,
                    ..
                } => {
                    if let Some(invoice) = position.invoices.get_mut(invoice_number) {
                        let charge = invoice.charge_mut(*kind);
                        charge.waived_charged = charge.waived_charged.checked_add(*charged_part)?;
                        charge.waived_uncharged =
                            charge.waived_uncharged.checked_add(*uncharged_part)?;
                    }
                }
                LedgerFact::ForceMajeureDeclared { started_on } => {
                    position.force_majeure.push(ForceMajeurePeriod {
                        started_on: *started_on,
                        ended_on: None,
                    });
                }
                LedgerFact::ForceMajeureEnded { ended_on } => {
                    if let Some(period) = position.force_majeure.last_mut() {
                        period.ended_on = Some(*ended_on);
                    }
                }
            }
        }
        Ok(position)
    }

    /// The balance (API.md) as of `as_of`; accruals run to that date.
    pub fn balance(
        &self,
        as_of: Date,
        reference: &ReferenceData,
    ) -> Result<BalanceView, ProjectionError> {
        let zero = Money::zero(self.currency);
        let mut balance = BalanceView {
            currency: self.currency,
            as_of,
            invoiced: zero,
            paid: self.received,
            outstanding: zero,
            penalties_accrued: zero,
            penalties_charged: zero,
            penalties_waived: zero,
            penalties_owed: zero,
            fines_accrued: zero,
            fines: zero,
            fines_waived: zero,
            fines_owed: zero,
            fines_pending: Vec::new(),
            advance: self.advance,
            total_due: zero,
            clause: Clause::LATE_PAYMENT.as_str(),
        };
        for invoice in self.invoices.values() {
            let facts = invoice.delay_facts(&self.force_majeure);
            let penalty = late_payment::penalty(&facts, as_of)?;
            let fine = invoice.fine_figure(&facts, as_of, reference)?;
            balance.invoiced = balance.invoiced.checked_add(invoice.total)?;
            balance.outstanding = balance
                .outstanding
                .checked_add(invoice.principal_outstanding()?)?;
            balance.penalties_accrued = balance.penalties_accrued.checked_add(penalty.amount)?;
            balance.penalties_charged = balance
                .penalties_charged
                .checked_add(invoice.penalty.charged)?;
            balance.penalties_waived = balance
                .penalties_waived
                .checked_add(invoice.penalty.waived()?)?;
            balance.penalties_owed = balance
                .penalties_owed
                .checked_add(invoice.penalty.owed()?)?;
            match fine {
                FineFigure::Assessed(fine) => {
                    balance.fines_accrued = balance.fines_accrued.checked_add(fine.amount)?;
                }
                FineFigure::Pending(pending) => balance.fines_pending.push(pending),
            }
            balance.fines = balance.fines.checked_add(invoice.fine.charged)?;
            balance.fines_waived = balance.fines_waived.checked_add(invoice.fine.waived()?)?;
            balance.fines_owed = balance.fines_owed.checked_add(invoice.fine.owed()?)?;
        }
        balance.total_due = balance
            .outstanding
            .checked_add(balance.penalties_owed)?
            .checked_add(balance.fines_owed)?;
        Ok(balance)
    }

    /// Each invoice with what is paid, owed and accrued on it as of `as_of`.
    pub fn invoices(
        &self,
        as_of: Date,
        reference: &ReferenceData,
    ) -> Result<Vec<InvoiceStatusView>, ProjectionError> {
        self.invoices
            .values()
            .map(|invoice| {
                let facts = invoice.delay_facts(&self.force_majeure);
                let penalty = late_payment::penalty(&facts, as_of)?;
                let fine = invoice.fine_figure(&facts, as_of, reference)?;
                let outstanding = invoice.principal_outstanding()?;
                let status = if outstanding.is_zero() {
                    InvoiceStatus::Paid
                } else if as_of > invoice.due_on {
                    InvoiceStatus::Overdue
                } else {
                    InvoiceStatus::Open
                };
                Ok(InvoiceStatusView {
                    number: invoice.number,
                    kind: invoice.kind,
                    issued_on: invoice.issued_on,
                    due_on: invoice.due_on,
                    total: invoice.total,
                    paid: invoice.principal_paid,
                    outstanding,
                    paid_in_full_on: invoice.paid_in_full_on,
                    days_overdue: if outstanding.is_zero() {
                        0
                    } else {
                        penalty.days + penalty.force_majeure_days
                    },
                    days_late: penalty.days,
                    penalty_accrued: penalty.amount,
                    penalty_charged: invoice.penalty.charged,
                    penalty_owed: invoice.penalty.owed()?,
                    fine: fine.amount(),
                    fine_pending: fine.pending().cloned(),
                    fine_charged: invoice.fine.charged,
                    fine_owed: invoice.fine.owed()?,
                    status,
                })
            })
            .collect()
    }

    /// Per late invoice, the penalty and fine with their explanation (§5.9).
    pub fn penalties(
        &self,
        as_of: Date,
        reference: &ReferenceData,
    ) -> Result<Vec<PenaltyView>, ProjectionError> {
        let mut views = Vec::new();
        for invoice in self.invoices.values() {
            let facts = invoice.delay_facts(&self.force_majeure);
            let penalty = late_payment::penalty(&facts, as_of)?;
            // Late, even when every day of delay was force majeure (§8.1).
            if penalty.days + penalty.force_majeure_days == 0 {
                continue;
            }
            let fine = invoice.fine_figure(&facts, as_of, reference)?;
            views.push(PenaltyView::new(penalty, fine, invoice)?);
        }
        Ok(views)
    }
}

// ---------------------------------------------------------------------------------------
// Query answers

mod money_string {
    pub use crate::money_string::*;
}

/// `GET /v1/agreements/{id}/balance` (API.md), with the parts behind each total.
/// `total_due = outstanding + penalties_owed + fines_owed`; the advance is held for the
/// participant beside it (it is applied to each new invoice or charge at once).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct BalanceView {
    pub currency: Currency,
    #[serde(with = "events::business_date")]
    pub as_of: Date,
    /// The sum of invoice totals.
    #[serde(with = "money_string")]
    pub invoiced: Money,
    /// The sum of payments received.
    #[serde(with = "money_string")]
    pub paid: Money,
    /// Invoice principal not yet paid.
    #[serde(with = "money_string")]
    pub outstanding: Money,
    /// Penalties §5.9 allows as of the date, charged or not (before waivers).
    #[serde(with = "money_string")]
    pub penalties_accrued: Money,
    #[serde(with = "money_string")]
    pub penalties_charged: Money,
    #[serde(with = "money_string")]
    pub penalties_waived: Money,
    /// Penalties charged and still owed.
    #[serde(with = "money_string")]
    pub penalties_owed: Money,
    /// Fines §5.9 allows as of the date, charged or not.
    #[serde(with = "money_string")]
    pub fines_accrued: Money,
    /// Fines charged.
    #[serde(with = "money_string")]
    pub fines: Money,
    #[serde(with = "money_string")]
    pub fines_waived: Money,
    #[serde(with = "money_string")]
    pub fines_owed: Money,
    /// Fines that wait for reference data not yet published (the MRP of their year,
    /// BILLING.md 1): not in `fines_accrued`, never counted as zero.
    pub fines_pending: Vec<PendingFine>,
    #[serde(with = "money_string")]
    pub advance: Money,
    #[serde(with = "money_string")]
    pub total_due: Money,
    pub clause: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    Open,
    Paid,
    Overdue,
}

/// One row of `GET /v1/agreements/{id}/invoices`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct InvoiceStatusView {
    pub number: InvoiceNumber,
    pub kind: InvoiceKind,
    #[serde(with = "events::business_date")]
    pub issued_on: Date,
    #[serde(with = "events::business_date")]
    pub due_on: Date,
    #[serde(with = "money_string")]
    pub total: Money,
    /// Principal paid.
    #[serde(with = "money_string")]
    pub paid: Money,
    #[serde(with = "money_string")]
    pub outstanding: Money,
    #[serde(with = "events::business_date::option")]
    pub paid_in_full_on: Option<Date>,
    /// Days past the due date while unpaid (0 once paid).
    pub days_overdue: u32,
    /// Days of delay counted for the penalty (§5.5): up to full payment or the date.
    pub days_late: u32,
    #[serde(with = "money_string")]
    pub penalty_accrued: Money,
    #[serde(with = "money_string")]
    pub penalty_charged: Money,
    #[serde(with = "money_string")]
    pub penalty_owed: Money,
    /// The fine §5.9 allows (accrued), charged or not; `null` while it is pending.
    #[serde(with = "money_string::option")]
    #[schema(value_type = Option<events::Money>)]
    pub fine: Option<Money>,
    /// Set while the fine waits for reference data (the MRP of its year).
    pub fine_pending: Option<PendingFine>,
    #[serde(with = "money_string")]
    pub fine_charged: Money,
    #[serde(with = "money_string")]
    pub fine_owed: Money,
    pub status: InvoiceStatus,
}

/// One row of `GET /v1/agreements/{id}/penalties`: a late invoice's penalty and fine,
/// explained down to the clause (§5.9).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PenaltyView {
    pub invoice_number: InvoiceNumber,
    #[serde(with = "money_string")]
    pub base: Money,
    /// Per day, as a fraction: `"0.001"`.
    #[serde(with = "rust_decimal::serde::str")]
    pub rate: rust_decimal::Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub cap_rate: rust_decimal::Decimal,
    #[serde(with = "money_string")]
    pub cap: Money,
    /// Days of delay counted: those from `from` to `to` less `force_majeure_days`.
    pub days: u32,
    /// Days of delay under a declared force majeure, not counted (§8.1).
    pub force_majeure_days: u32,
    #[serde(with = "events::business_date")]
    pub due_on: Date,
    #[serde(with = "events::business_date::option")]
    pub from: Option<Date>,
    #[serde(with = "events::business_date::option")]
    pub to: Option<Date>,
    pub paid_in_full: bool,
    pub capped: bool,
    #[serde(with = "money_string")]
    pub amount: Money,
    #[serde(with = "money_string")]
    pub charged: Money,
    #[serde(with = "money_string")]
    pub waived: Money,
    #[serde(with = "money_string")]
    pub owed: Money,
    pub fine_mrp: u32,
    /// The MRP in KZT in force on the first day of delay.
    #[serde(with = "rust_decimal::serde::str_option")]
    pub mrp: Option<rust_decimal::Decimal>,
    pub mrp_table_version: Option<String>,
    /// The fine; `null` while it is pending (see `fine_pending`).
    #[serde(with = "money_string::option")]
    #[schema(value_type = Option<events::Money>)]
    pub fine: Option<Money>,
    /// Set while the fine waits for reference data (the MRP of its year).
    pub fine_pending: Option<PendingFine>,
    #[serde(with = "money_string")]
    pub fine_charged: Money,
    #[serde(with = "money_string")]
    pub fine_waived: Money,
    #[serde(with = "money_string")]
    pub fine_owed: Money,
    pub fine_exchange_rate: Option<events::FineExchangeRate>,
    pub clause: String,
    /// The arithmetic in words, for a person checking it by hand.
    pub explanation: String,
}

impl PenaltyView {
    fn new(
        penalty: PenaltyAccrual,
        fine: FineFigure,
        invoice: &InvoicePosition,
    ) -> Result<Self, MoneyError> {
        let (fine, fine_pending) = match fine {
            FineFigure::Assessed(fine) => (fine, None),
            FineFigure::Pending(pending) => (
                FineAssessment {
                    clause: pending.clause.clone(),
                    invoice_number: pending.invoice_number,
                    first_day_of_delay: Some(pending.first_day_of_delay),
                    mrp_count: late_payment::FINE_MRP_COUNT,
                    mrp: None,
                    mrp_table_version: None,
                    exchange_rate: None,
                    amount: Money::zero(penalty.base.currency()),
                },
                Some(pending),
            ),
        };
        let fine_words = match &fine_pending {
            Some(pending) => format!(
                "fine {count} MRP: pending ({reason})",
                count = fine.mrp_count,
                reason = pending.reason
            ),
            None => format!(
                "fine {count} MRP x {mrp} = {fine}",
                count = fine.mrp_count,
                mrp = fine.mrp.map(|m| m.to_string()).unwrap_or_default(),
                fine = fine.amount.to_json_string(),
            ),
        };
        let explanation = format!(
            "§5.9: {base} x {rate} x {days} day(s) of delay ({from} to {to}) = {raw}{cap}; {fine_words}",
            base = penalty.base.to_json_string(),
            rate = penalty.rate_per_day,
            days = penalty.days,
            from = penalty.from.map(|d| d.to_string()).unwrap_or_default(),
            to = penalty.to.map(|d| d.to_string()).unwrap_or_default(),
            raw = if penalty.capped {
                "more than the cap".to_owned()
            } else {
                penalty.amount.to_json_string()
            },
            cap = if penalty.capped {
                format!(", capped at {} x {} = {}", penalty.base.to_json_string(), penalty.cap_rate, penalty.cap.to_json_string())
            } else {
                String::new()
            },
        );
        let explanation = if penalty.force_majeure_days > 0 {
            format!(
                "{explanation}; §8.1: {} day(s) of force majeure in that period are not counted",
                penalty.force_majeure_days
            )
        } else {
            explanation
        };
        Ok(Self {
            invoice_number: penalty.invoice_number,
            base: penalty.base,
            rate: penalty.rate_per_day,
            cap_rate: penalty.cap_rate,
            cap: penalty.cap,
            days: penalty.days,
            force_majeure_days: penalty.force_majeure_days,
            due_on: penalty.due_on,
            from: penalty.from,
            to: penalty.to,
            paid_in_full: penalty.paid_in_full,
            capped: penalty.capped,
            amount: penalty.amount,
            charged: invoice.penalty.charged,
            waived: invoice.penalty.waived()?,
            owed: invoice.penalty.owed()?,
            fine_mrp: fine.mrp_count,
            mrp: fine.mrp,
            mrp_table_version: fine.mrp_table_version,
            fine: fine_pending.is_none().then_some(fine.amount),
            fine_pending,
            fine_charged: invoice.fine.charged,
            fine_waived: invoice.fine.waived()?,
            fine_owed: invoice.fine.owed()?,
            fine_exchange_rate: fine.exchange_rate,
            clause: penalty.clause,
            explanation,
        })
    }
}

// ---------------------------------------------------------------------------------------
// Reconciliation statement

/// One document on the statement: a debit raises what the participant owes.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StatementLine {
    #[serde(with = "events::business_date")]
    pub date: Date,
    pub document: String,
    pub sequence: u64,
    #[serde(with = "money_string")]
    pub debit: Money,
    #[serde(with = "money_string")]
    pub credit: Money,
    pub clause: &'static str,
}

/// `GET /v1/agreements/{id}/statement` (акт сверки): `closing = opening + debits - credits`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StatementView {
    pub currency: Currency,
    #[serde(with = "events::business_date")]
    pub from: Date,
    #[serde(with = "events::business_date")]
    pub to: Date,
    #[serde(with = "money_string")]
    pub opening: Money,
    pub lines: Vec<StatementLine>,
    #[serde(with = "money_string")]
    pub debits: Money,
    #[serde(with = "money_string")]
    pub credits: Money,
    #[serde(with = "money_string")]
    pub closing: Money,
}

fn statement_line(fact: &DatedFact, currency: Currency) -> Option<StatementLine> {
    let zero = Money::zero(currency);
    let (document, debit, credit, clause) = match &fact.fact {
        LedgerFact::Invoice {
            number,
            total,
            kind,
            ..
        } => (
            format!("invoice {number}"),
            *total,
            zero,
            kind.due_clause().as_str(),
        ),
        LedgerFact::Payment {
            reference, amount, ..
        } => (
            format!("payment {reference}"),
            zero,
            *amount,
            Clause::PAYMENT_MOMENT.as_str(),
        ),
        LedgerFact::Charged {
            invoice_number,
            kind,
            amount,
            ..
        } => (
            format!("{} on invoice {invoice_number}", kind.code()),
            *amount,
            zero,
            Clause::LATE_PAYMENT.as_str(),
        ),
        LedgerFact::Waived {
            invoice_number,
            kind,
            charged_part,
            ..
        } if charged_part.is_positive() => (
            format!("waiver of {} on invoice {invoice_number}", kind.code()),
            zero,
            *charged_part,
            Clause::LATE_PAYMENT.as_str(),
        ),
        // An advance applied moves money between the participant's own accounts, and a
        // waiver of what was never charged was never owed: neither is a document here.
        LedgerFact::AdvanceApplied { .. }
        | LedgerFact::Waived { .. }
        | LedgerFact::ForceMajeureDeclared { .. }
        | LedgerFact::ForceMajeureEnded { .. } => return None,
    };
    Some(StatementLine {
        date: fact.on,
        document,
        sequence: fact.sequence,
        debit,
        credit,
        clause,
    })
}

// ---------------------------------------------------------------------------------------
// Double-entry journal

/// The ledger's accounts, seen from the operator's books.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Account {
    /// Money in the operator's bank account.
    Bank,
    /// What the participant owes (invoices, penalties and fines charged).
    Receivable,
    /// Services sold, net of VAT (§5.11).
    Revenue,
    /// VAT charged, owed to the state (§5.11).
    VatPayable,
    /// Penalties charged (§5.9).
    PenaltyIncome,
    /// Fines charged (§5.9).
    FineIncome,
    /// Money held for the participant (an advance).
    Advance,
}

/// One posting: a debit or a credit to one account.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Posting {
    pub sequence: u64,
    #[serde(with = "events::business_date")]
    pub date: Date,
    pub document: String,
    pub account: Account,
    #[serde(with = "money_string")]
    pub debit: Money,
    #[serde(with = "money_string")]
    pub credit: Money,
}

/// An account's totals.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AccountBalance {
    pub account: Account,
    #[serde(with = "money_string")]
    pub debit: Money,
    #[serde(with = "money_string")]
    pub credit: Money,
    /// `debit - credit`.
    #[serde(with = "money_string")]
    pub balance: Money,
}

/// `GET /v1/agreements/{id}/journal`: every posting up to a date and the trial balance.
/// Debits always equal credits; the receivable equals the balance's `total_due` and the
/// advance account (a credit) the balance's `advance`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct JournalView {
    pub currency: Currency,
    #[serde(with = "events::business_date")]
    pub as_of: Date,
    pub entries: Vec<Posting>,
    pub accounts: Vec<AccountBalance>,
    #[serde(with = "money_string")]
    pub debits: Money,
    #[serde(with = "money_string")]
    pub credits: Money,
}

impl JournalView {
    fn new(
        currency: Currency,
        as_of: Date,
        entries: Vec<Posting>,
    ) -> Result<Self, ProjectionError> {
        let zero = Money::zero(currency);
        let mut accounts: BTreeMap<Account, (Money, Money)> = BTreeMap::new();
        for posting in &entries {
            let (debit, credit) = accounts.entry(posting.account).or_insert((zero, zero));
            *debit = debit.checked_add(posting.debit)?;
            *credit = credit.checked_add(posting.credit)?;
        }
        let debits = sum(zero, entries.iter().map(|p| p.debit))?;
        let credits = sum(zero, entries.iter().map(|p| p.credit))?;
        debug_assert_eq!(debits, credits, "a journal always balances");
        let accounts = accounts
            .into_iter()
            .map(|(account, (debit, credit))| {
                Ok(AccountBalance {
                    account,
                    debit,
                    credit,
                    balance: debit.checked_sub(credit)?,
                })
            })
            .collect::<Result<_, MoneyError>>()?;
        Ok(Self {
            currency,
            as_of,
            entries,
            accounts,
            debits,
            credits,
        })
    }

    /// The balance (`debit - credit`) of one account; zero when never posted to.
    pub fn account(&self, account: Account) -> Money {
        self.accounts
            .iter()
            .find(|a| a.account == account)
            .map(|a| a.balance)
            .unwrap_or(Money::zero(self.currency))
    }
}

/// The balanced postings of one fact.
fn postings(fact: &DatedFact) -> Result<Vec<Posting>, MoneyError> {
    let posting = |document: &str, account, debit: Money, credit: Money| Posting {
        sequence: fact.sequence,
        date: fact.on,
        document: document.to_owned(),
        account,
        debit,
        credit,
    };
    let postings = match &fact.fact {
        LedgerFact::Invoice {
            number,
            net,
            vat,
            total,
            ..
        } => {
            let zero = Money::zero(total.currency());
            let document = format!("invoice {number}");
            vec![
                posting(&document, Account::Receivable, *total, zero),
                posting(&document, Account::Revenue, zero, *net),
                posting(&document, Account::VatPayable, zero, *vat),
            ]
        }
        LedgerFact::Payment {
            reference,
            amount,
            allocations,
            advance,
        } => {
            let zero = Money::zero(amount.currency());
            let document = format!("payment {reference}");
            let settled = allocations.iter().try_fold(zero, |total, a| {
                total
                    .checked_add(a.principal)?
                    .checked_add(a.penalty)?
                    .checked_add(a.fine)
            })?;
            let mut postings = vec![posting(&document, Account::Bank, *amount, zero)];
            if settled.is_positive() {
                postings.push(posting(&document, Account::Receivable, zero, settled));
            }
            if advance.is_positive() {
                postings.push(posting(&document, Account::Advance, zero, *advance));
            }
            postings
        }
        LedgerFact::AdvanceApplied {
            invoice_number,
            amount,
            ..
        } => {
            let zero = Money::zero(amount.currency());
            let document = format!("advance applied to invoice {invoice_number}");
            vec![
                posting(&document, Account::Advance, *amount, zero),
                posting(&document, Account::Receivable, zero, *amount),
            ]
        }
        LedgerFact::Charged {
            invoice_number,
            kind,
            amount,
            ..
        } => {
            let zero = Money::zero(amount.currency());
            let document = format!("{} on invoice {invoice_number}", kind.code());
            vec![
                posting(&document, Account::Receivable, *amount, zero),
                posting(&document, income_account(*kind), zero, *amount),
            ]
        }
        LedgerFact::Waived {
            invoice_number,
            kind,
            charged_part,
            ..
        } => {
            if !charged_part.is_positive() {
                Vec::new()
            } else {
                let zero = Money::zero(charged_part.currency());
                let document = format!("waiver of {} on invoice {invoice_number}", kind.code());
                vec![
                    posting(&document, income_account(*kind), *charged_part, zero),
                    posting(&document, Account::Receivable, zero, *charged_part),
                ]
            }
        }
        // Force majeure moves no money: it only stops penalties accruing (§8.1).
        LedgerFact::ForceMajeureDeclared { .. } | LedgerFact::ForceMajeureEnded { .. } => {
            Vec::new()
        }
    };
    Ok(postings)
}

fn income_account(kind: LateChargeKind) -> Account {
    match kind {
        LateChargeKind::Penalty => Account::PenaltyIncome,
        LateChargeKind::Fine => Account::FineIncome,
    }
}

// ---------------------------------------------------------------------------------------
// Aging

/// Outstanding principal by how many days past its due date.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AgingBuckets {
    #[serde(with = "money_string")]
    pub current: Money,
    #[serde(rename = "1_15", with = "money_string")]
    pub days_1_15: Money,
    #[serde(rename = "16_30", with = "money_string")]
    pub days_16_30: Money,
    #[serde(rename = "31_90", with = "money_string")]
    pub days_31_90: Money,
    #[serde(with = "money_string")]
    pub over_90: Money,
    #[serde(with = "money_string")]
    pub total: Money,
}

impl AgingBuckets {
    pub fn zero(zero: Money) -> Self {
        Self {
            current: zero,
            days_1_15: zero,
            days_16_30: zero,
            days_31_90: zero,
            over_90: zero,
            total: zero,
        }
    }

    /// Adds an amount `days_overdue` past its due date (0 or less: not yet due).
    pub fn add(&mut self, days_overdue: i64, amount: Money) -> Result<(), MoneyError> {
        let bucket = match days_overdue {
            i64::MIN..=0 => &mut self.current,
            1..=15 => &mut self.days_1_15,
            16..=30 => &mut self.days_16_30,
            31..=90 => &mut self.days_31_90,
            _ => &mut self.over_90,
        };
        *bucket = bucket.checked_add(amount)?;
        self.total = self.total.checked_add(amount)?;
        Ok(())
    }

    pub fn add_all(&mut self, other: &AgingBuckets) -> Result<(), MoneyError> {
        self.current = self.current.checked_add(other.current)?;
        self.days_1_15 = self.days_1_15.checked_add(other.days_1_15)?;
        self.days_16_30 = self.days_16_30.checked_add(other.days_16_30)?;
        self.days_31_90 = self.days_31_90.checked_add(other.days_31_90)?;
        self.over_90 = self.over_90.checked_add(other.over_90)?;
        self.total = self.total.checked_add(other.total)?;
        Ok(())
    }
}

/// One agreement's line of the aging report.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AgingRow {
    pub participant_id: String,
    pub name: String,
    pub currency: Currency,
    #[serde(flatten)]
    pub buckets: AgingBuckets,
}

/// The totals of one currency (KZT and USD are never added together).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AgingTotals {
    pub currency: Currency,
    pub agreements: u64,
    #[serde(flatten)]
    pub buckets: AgingBuckets,
}

/// `GET /v1/reports/aging`: outstanding principal by bucket, per agreement that owes
/// anything, and totals per currency.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AgingReport {
    #[serde(with = "events::business_date")]
    pub as_of: Date,
    pub buckets: [&'static str; 5],
    pub totals: Vec<AgingTotals>,
    pub agreements: Vec<AgingRow>,
}

impl AgingReport {
    pub const BUCKETS: [&'static str; 5] = ["current", "1_15", "16_30", "31_90", "over_90"];

    pub fn new(as_of: Date) -> Self {
        Self {
            as_of,
            buckets: Self::BUCKETS,
            totals: Vec::new(),
            agreements: Vec::new(),
        }
    }

    /// Adds an agreement's row (rows with nothing outstanding are left out).
    pub fn add(&mut self, row: AgingRow) -> Result<(), MoneyError> {
        if row.buckets.total.is_zero() {
            return Ok(());
        }
        let totals = match self.totals.iter_mut().find(|t| t.currency == row.currency) {
            Some(totals) => totals,
            None => {
                self.totals.push(AgingTotals {
                    currency: row.currency,
                    agreements: 0,
                    buckets: AgingBuckets::zero(Money::zero(row.currency)),
                });
                self.totals.last_mut().expect("just pushed")
            }
        };
        totals.agreements += 1;
        totals.buckets.add_all(&row.buckets)?;
        self.agreements.push(row);
        Ok(())
    }

    /// Orders rows by participant id and totals by currency, so the answer is stable.
    pub fn finish(mut self) -> Self {
        self.agreements
            .sort_by(|a, b| a.participant_id.cmp(&b.participant_id));
        self.totals.sort_by_key(|t| t.currency.code());
        self
    }
}
