//! What billing staff read (API.md "Queries" and "Reports"), from the stored projections:
//! one agreement's stored ledger, pages of agreements, the aging report, and the dunning
//! preview (what the next sweep would record, recording nothing). The HTTP handlers
//! parse and answer; the reading happens here.

use std::collections::HashMap;
use std::sync::Arc;

use cqrs_es::View;
use serde::Serialize;
use time::{Date, OffsetDateTime};

use aggregates::{AgreementServices, AgreementStatus, ReferenceData};
use commands::{AgreementCommand, SweepAgreement};
use events::{business_date, AgreementEvent, ParticipantId};
use projections::{AgingReport, AgreementLedger, AgreementView, ProjectionError};

use super::commands::{Ledger, LedgerError};
use crate::store::{LedgerRow, StoreError, LEDGERS_TABLE};

pub use crate::store::PAGE_SIZE_MAX;

/// Why a query has no answer: the store, or the projection (a date it cannot answer for).
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Projection(#[from] ProjectionError),
}

impl From<StoreError> for QueryError {
    fn from(error: StoreError) -> Self {
        Self::Ledger(LedgerError::Store(error))
    }
}

/// Where the events are kept (safe to print) and whether the store answers now.
pub async fn store_health(ledger: &Ledger) -> (String, Result<(), StoreError>) {
    let repository = ledger.repository();
    (repository.location().describe(), repository.ping().await)
}

/// The agreement's stored ledger; `None` when no agreement is registered for it.
pub async fn stored_ledger(
    ledger: &Ledger,
    id: &ParticipantId,
) -> Result<Option<AgreementLedger>, LedgerError> {
    match ledger.repository().ledger(id.as_str()).await? {
        Some(row) => Ok(Some(row.decode()?)),
        None => Ok(None),
    }
}

/// The agreement's stored ledger and the reference tables in force, in one round trip
/// when the cached tables are current; `None` when no agreement is registered for it.
pub async fn stored_ledger_and_reference(
    ledger: &Ledger,
    id: &ParticipantId,
) -> Result<Option<(AgreementLedger, Arc<ReferenceData>)>, LedgerError> {
    let (row, reference_sequence) = ledger
        .repository()
        .ledger_and_reference_sequence(id.as_str())
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let stored = row.decode()?;
    Ok(Some((
        stored,
        ledger.reference_at(reference_sequence).await?,
    )))
}

/// The hash of each of the agreement's events, by sequence (an explained balance shows
/// them beside its sources).
pub async fn event_hashes(
    ledger: &Ledger,
    id: &ParticipantId,
) -> Result<HashMap<u64, String>, LedgerError> {
    Ok(ledger
        .events(id)
        .await?
        .into_iter()
        .filter_map(|event| {
            let sequence = u64::try_from(event.sequence).ok()?;
            let hash = event.metadata.get(crate::hash_chain::HASH_KEY)?.as_str()?;
            Some((sequence, hash.to_owned()))
        })
        .collect())
}

/// One page of agreements (by participant id) and how many there are in all. With
/// `as_of` today or later the status filter runs in the database on the stored current
/// status; with an earlier date each agreement's status as of that date is computed
/// from its ledger, and one not registered yet then is left out.
pub async fn agreements_page(
    ledger: &Ledger,
    status: Option<AgreementStatus>,
    as_of: Date,
    offset: u64,
    per_page: u32,
) -> Result<(Vec<AgreementView>, u64), QueryError> {
    let repository = ledger.repository();
    if as_of >= ledger.today() {
        let (rows, total) = repository
            .ledgers_page(status.map(|s| s.code()), offset, per_page)
            .await?;
        let items = rows
            .iter()
            .map(|row| Ok(row.decode()?.agreement_as_of(as_of)?))
            .collect::<Result<Vec<_>, QueryError>>()?;
        return Ok((items, total));
    }
    let mut items = Vec::new();
    let mut total = 0u64;
    repository
        .for_each_ledger(LEDGERS_TABLE, |row: LedgerRow| {
            let stored = row.decode()?;
            let Ok(view) = stored.agreement_as_of(as_of) else {
                return Ok(()); // not registered yet on that date
            };
            if status.is_none_or(|s| view.header.status == s) {
                if total >= offset && items.len() < per_page as usize {
                    items.push(view);
                }
                total += 1;
            }
            Ok(())
        })
        .await?;
    Ok((items, total))
}

/// What the back office's agreement list filters on (INTEGRATION.md 3): a part of the
/// name or of the BIN/IIN, the status, and whether anything is owed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgreementSearch {
    /// Matched, case-insensitively, against the participant's name; digits also match
    /// the start of the BIN/IIN.
    pub text: Option<String>,
    pub status: Option<AgreementStatus>,
    pub debt: Option<DebtFilter>,
}

/// The debt filter of [`AgreementSearch`], on the balance's `total_due` today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DebtFilter {
    /// Something is due: principal, penalties charged or fines.
    Owing,
    /// Nothing is due.
    Clear,
}

impl DebtFilter {
    pub const ALL: [Self; 2] = [Self::Owing, Self::Clear];

    pub fn code(self) -> &'static str {
        match self {
            Self::Owing => "owing",
            Self::Clear => "clear",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.code() == code)
    }

    fn admits(self, balance: &projections::BalanceView) -> bool {
        let owing = balance.total_due.amount() > rust_decimal::Decimal::ZERO;
        match self {
            Self::Owing => owing,
            Self::Clear => !owing,
        }
    }
}

/// One agreement of the back office's list: its view and its balance as of today.
#[derive(Debug, Clone)]
pub struct ListedAgreement {
    pub view: AgreementView,
    pub balance: projections::BalanceView,
}

/// One page of the agreements that [`AgreementSearch`] admits, with their balances
/// today, and how many it admits in all. With no text and no debt filter, the page is
/// read from the database as [`agreements_page`] reads it; otherwise every stored ledger
/// is read once, one at a time (the name and the balance are matched here, the same on
/// both stores: SQLite's `LIKE` folds only ASCII case, and Cyrillic names need Unicode).
pub async fn agreements_found(
    ledger: &Ledger,
    search: &AgreementSearch,
    today: Date,
    offset: u64,
    per_page: u32,
) -> Result<(Vec<ListedAgreement>, u64), QueryError> {
    let reference = ledger.reference().await?;
    let list = |row: &LedgerRow| -> Result<Option<ListedAgreement>, QueryError> {
        let stored = row.decode()?;
        let Ok(view) = stored.agreement_as_of(today) else {
            return Ok(None);
        };
        let balance = stored.balance(today, &reference)?;
        Ok(Some(ListedAgreement { view, balance }))
    };
    let text = search
        .text
        .as_deref()
        .map(|t| t.trim().to_lowercase())
        .filter(|t| !t.is_empty());
    if text.is_none() && search.debt.is_none() {
        let (rows, total) = ledger
            .repository()
            .ledgers_page(search.status.map(|s| s.code()), offset, per_page)
            .await?;
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            items.extend(list(row)?);
        }
        return Ok((items, total));
    }
    let digits = text
        .as_deref()
        .filter(|t| t.chars().all(|c| c.is_ascii_digit()));
    let mut items = Vec::new();
    let mut total = 0u64;
    let mut failure = None;
    ledger
        .repository()
        .for_each_ledger(LEDGERS_TABLE, |row: LedgerRow| {
            if failure.is_some() {
                return Ok(());
            }
            if let Some(text) = &text {
                let by_name = row.name.to_lowercase().contains(text.as_str());
                let by_id = digits.is_some_and(|d| row.participant_id.starts_with(d));
                if !(by_name || by_id) {
                    return Ok(());
                }
            }
            if search.status.is_some_and(|s| s.code() != row.status) {
                return Ok(());
            }
            match list(&row) {
                Ok(Some(listed)) => {
                    if search.debt.is_none_or(|d| d.admits(&listed.balance)) {
                        if total >= offset && items.len() < per_page as usize {
                            items.push(listed);
                        }
                        total += 1;
                    }
                }
                Ok(None) => {}
                Err(e) => failure = Some(e),
            }
            Ok(())
        })
        .await?;
    match failure {
        Some(e) => Err(e),
        None => Ok((items, total)),
    }
}

/// The aging report as of a date: outstanding principal by days overdue, per agreement
/// and per currency. Reads every stored ledger once, one at a time.
pub async fn aging_report(ledger: &Ledger, as_of: Date) -> Result<AgingReport, QueryError> {
    let mut report = AgingReport::new(as_of);
    let mut failure: Option<QueryError> = None;
    ledger
        .repository()
        .for_each_ledger(LEDGERS_TABLE, |row| {
            if failure.is_some() {
                return Ok(());
            }
            let stored = row.decode()?;
            match stored.aging(as_of) {
                Ok(row) => {
                    if let Err(e) = report.add(row) {
                        failure = Some(ProjectionError::from(e).into());
                    }
                }
                Err(ProjectionError::NotRegisteredAsOf(_)) => {}
                Err(other) => failure = Some(other.into()),
            }
            Ok(())
        })
        .await?;
    if let Some(error) = failure {
        return Err(error);
    }
    Ok(report.finish())
}

/// The agreement's ledger as known at `known_at` (BILLING.md 5.1): the events recorded up
/// to then (in their order, stopping at the first recorded later), folded as the stored
/// projection is folded. `None` when no agreement was registered by then.
pub async fn known_ledger(
    ledger: &Ledger,
    id: &ParticipantId,
    known_at: OffsetDateTime,
) -> Result<Option<AgreementLedger>, LedgerError> {
    let history = ledger.history(id).await?;
    fn recorded_at_of(
        envelope: &cqrs_es::EventEnvelope<aggregates::ParticipantAgreement>,
    ) -> Option<&str> {
        envelope
            .metadata
            .get(crate::event_metadata::RECORDED_AT)
            .map(String::as_str)
    }
    let known = crate::event_metadata::recorded_by(&history, known_at, recorded_at_of);
    if let Some(next) = history.get(known) {
        if crate::event_metadata::recorded_at(recorded_at_of(next)).is_none() {
            return Err(StoreError::Corrupt(format!(
                "event {} of {id} has no readable recorded_at",
                next.sequence
            ))
            .into());
        }
    }
    if known == 0 {
        return Ok(None);
    }
    let mut folded = AgreementLedger::default();
    for envelope in &history[..known] {
        folded.update(envelope);
    }
    Ok(Some(folded))
}

/// [`known_ledger`] with the reference tables as published by `known_at`.
pub async fn ledger_known_at(
    ledger: &Ledger,
    id: &ParticipantId,
    known_at: OffsetDateTime,
) -> Result<Option<(AgreementLedger, Arc<ReferenceData>)>, LedgerError> {
    let Some(known) = known_ledger(ledger, id, known_at).await? else {
        return Ok(None);
    };
    Ok(Some((known, ledger.reference_known_at(known_at).await?)))
}

/// The agreement's stored events, in order; with `known_at`, those recorded up to then
/// (up to the first recorded later).
pub async fn events_known_at(
    ledger: &Ledger,
    id: &ParticipantId,
    known_at: Option<OffsetDateTime>,
) -> Result<Vec<crate::store::StoredEvent>, LedgerError> {
    let mut stored = ledger.events(id).await?;
    if let Some(known_at) = known_at {
        let known = crate::event_metadata::recorded_by(&stored, known_at, |event| {
            event
                .metadata
                .get(crate::event_metadata::RECORDED_AT)
                .and_then(serde_json::Value::as_str)
                .or(Some(event.stored_at.as_str()))
        });
        stored.truncate(known);
    }
    Ok(stored)
}

/// The refund of advance recorded under `reference` on the agreement, if any (BILLING.md
/// 5.2): a repeated refund records nothing and is answered with what the first one
/// recorded, including the advance it left, which only its event keeps.
pub async fn recorded_refund(
    ledger: &Ledger,
    id: &ParticipantId,
    reference: &events::PaymentReference,
) -> Result<Option<events::AdvanceRefunded>, LedgerError> {
    Ok(ledger
        .history(id)
        .await?
        .into_iter()
        .find_map(|envelope| match envelope.payload {
            AgreementEvent::AdvanceRefunded(refund) if refund.reference == *reference => {
                Some(refund)
            }
            _ => None,
        }))
}

/// Every agreement's id, in order (what a report as known at a past moment walks).
async fn participant_ids(ledger: &Ledger) -> Result<Vec<ParticipantId>, LedgerError> {
    let mut ids = Vec::new();
    ledger
        .repository()
        .for_each_ledger(LEDGERS_TABLE, |row| {
            if let Ok(id) = ParticipantId::parse(&row.participant_id) {
                ids.push(id);
            }
            Ok(())
        })
        .await?;
    Ok(ids)
}

/// [`agreements_page`] as known at `known_at`: each agreement folded from its events
/// recorded by then, one at a time (an auditor's question: slower than the stored rows).
pub async fn agreements_page_known_at(
    ledger: &Ledger,
    status: Option<AgreementStatus>,
    as_of: Date,
    known_at: OffsetDateTime,
    offset: u64,
    per_page: u32,
) -> Result<(Vec<AgreementView>, u64), QueryError> {
    let mut items = Vec::new();
    let mut total = 0u64;
    for id in participant_ids(ledger).await? {
        let Some(known) = known_ledger(ledger, &id, known_at).await? else {
            continue; // not registered yet then
        };
        let Ok(view) = known.agreement_as_of(as_of) else {
            continue; // not registered yet on that date
        };
        if status.is_none_or(|s| view.header.status == s) {
            if total >= offset && items.len() < per_page as usize {
                items.push(view);
            }
            total += 1;
        }
    }
    Ok((items, total))
}

/// [`aging_report`] as known at `known_at`.
pub async fn aging_report_known_at(
    ledger: &Ledger,
    as_of: Date,
    known_at: OffsetDateTime,
) -> Result<AgingReport, QueryError> {
    let mut report = AgingReport::new(as_of);
    for id in participant_ids(ledger).await? {
        let Some(known) = known_ledger(ledger, &id, known_at).await? else {
            continue;
        };
        match known.aging(as_of) {
            Ok(row) => report.add(row).map_err(ProjectionError::from)?,
            Err(ProjectionError::NotRegisteredAsOf(_)) => {}
            Err(other) => return Err(other.into()),
        }
    }
    Ok(report.finish())
}

/// One action the next sweep would record.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DunningAction {
    pub participant_id: String,
    pub name: String,
    /// The event the sweep would record: `FineCharged`, `Suspended`, `Blocked`,
    /// `Reinstated`, `Unblocked` or `Terminated`.
    pub action: String,
    /// The clause of the offer behind it.
    pub clause: String,
    /// The rule in words.
    pub rule: String,
}

/// `GET /v1/reports/dunning`: what a sweep as of the date would record, agreement by
/// agreement, recording nothing (billing staff look before they act).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DunningReport {
    #[serde(with = "business_date")]
    #[schema(value_type = String, format = Date)]
    pub as_of: Date,
    pub actions: Vec<DunningAction>,
    /// Agreements the sweep would skip, with why.
    pub skipped: Vec<crate::application::sweep::SkippedAgreement>,
}

/// What a sweep as of `as_of` would record, agreement by agreement, recording nothing:
/// each agreement's stored state decides the sweep's step as the sweep would.
pub async fn dunning_preview(
    ledger: &Ledger,
    as_of: Date,
    charge_fines: bool,
    known_at: Option<OffsetDateTime>,
) -> Result<DunningReport, LedgerError> {
    let reference = match known_at {
        None => ledger.reference().await?,
        Some(known_at) => ledger.reference_known_at(known_at).await?,
    };
    let services = AgreementServices {
        tariffs: Default::default(),
        reference,
        today: as_of.max(ledger.today()),
        next_invoice_number: None,
        // A sweep as of a day in a closed month would be refused (BILLING.md 5.4): so is
        // its preview (the agreement is listed as skipped, with why).
        closed_through: ledger.closed_through().await?,
    };
    let command = SweepAgreement {
        as_of,
        charge_fines,
    };
    let mut report = DunningReport {
        as_of,
        actions: Vec::new(),
        skipped: Vec::new(),
    };
    let mut step = |participant_id: &str, name: &str, stored: &AgreementLedger| {
        let decided = stored
            .agreement
            .decide(AgreementCommand::Sweep(command.clone()), &services);
        match decided {
            Ok(events) => {
                for event in events {
                    report.actions.push(DunningAction {
                        participant_id: participant_id.to_owned(),
                        name: name.to_owned(),
                        action: event.type_name().to_owned(),
                        clause: event.clause().as_str().to_owned(),
                        rule: rule_of(&event).to_owned(),
                    });
                }
            }
            Err(refusal) => report
                .skipped
                .push(crate::application::sweep::SkippedAgreement {
                    participant_id: participant_id.to_owned(),
                    reason: refusal.to_string(),
                }),
        }
    };
    match known_at {
        None => {
            ledger
                .repository()
                .for_each_ledger(LEDGERS_TABLE, |row| {
                    step(&row.participant_id, &row.name, &row.decode()?);
                    Ok(())
                })
                .await?
        }
        // Each agreement as known then (the sweep as it would have been previewed then).
        Some(known_at) => {
            for id in participant_ids(ledger).await? {
                let Some(known) = known_ledger(ledger, &id, known_at).await? else {
                    continue;
                };
                if let Some(registration) = known.agreement.registration() {
                    step(id.as_str(), &registration.name.to_string(), &known);
                }
            }
        }
    }
    Ok(report)
}

/// The rule behind an action of the sweep, in words, with its clause.
fn rule_of(event: &AgreementEvent) -> &'static str {
    match event {
        AgreementEvent::PenaltyCharged(e) if e.settlement => {
            "the termination's effective date: the penalty accrued is charged (§10.3)"
        }
        AgreementEvent::FineCharged(e) if e.settlement => {
            "the termination's effective date: the fine accrued is charged (§10.3)"
        }
        AgreementEvent::FineCharged(_) => "a late invoice: the fine of 2 MRP (§5.9)",
        AgreementEvent::Suspended(_) => "an invoice overdue for more than 15 days (§4.2, §5.9)",
        AgreementEvent::Blocked(_) => {
            "an invoice not paid in full more than 3 months past its due date (§4.2)"
        }
        AgreementEvent::Reinstated(e)
            if e.reason.as_str() == aggregates::dunning::MANUAL_OVERDUE_LIFTED =>
        {
            aggregates::dunning::MANUAL_OVERDUE_LIFTED
        }
        AgreementEvent::Reinstated(_) => "nothing is overdue beyond 15 days any more (§4.2)",
        AgreementEvent::Unblocked(_) => "the debt is repaid (§4.2)",
        AgreementEvent::Terminated(_) => "the termination is due and everything is settled (§10.3)",
        _ => "",
    }
}
