//! Closing a month (BILLING.md 5.4): the seal, the list of closed months, and their
//! verification.
//!
//! A close records one `PeriodClosed` event in the operator's period stream (hash-chained
//! like an agreement's): the Merkle root over every chain's head at that moment and the
//! month's totals per currency, summed from every agreement's documents posted in it.
//! From then on no document dated on or before the month's last day is recorded (the
//! aggregate refuses it, `PeriodClosed`; the store checks it again at the append), and a
//! bank payment received in it is posted on the first open day. `verify_periods`
//! recomputes each sealed month's totals from the events alone.

use serde::Serialize;
use serde_json::Value;
use time::{Date, Month};

use events::{
    Currency, Money, MoneyError, PeriodClosed, PeriodTotals, PERIOD_AGGREGATE_TYPE, PERIOD_CLOSED,
    PERIOD_EVENT_VERSION, PERIOD_STREAM_ID,
};
use projections::{add_period_totals, AgreementLedger};

use crate::event_metadata as metadata;
use crate::store::{AppendError, LedgerEventRepository, StoreError, LEDGERS_TABLE};

use super::Ledger;

/// Why a month cannot be closed, or the list read.
#[derive(Debug, thiserror::Error)]
pub enum PeriodError {
    #[error("`{0}` is not a month: give it as YYYY-MM, such as 2026-11")]
    InvalidPeriod(String),
    #[error("{period} is not over: it ends on {last_day}, and today is {today} in Kazakhstan; a month is closed once its documents are final (BILLING.md 5.4)")]
    NotOver {
        period: String,
        last_day: Date,
        today: Date,
    },
    #[error("{period} is already closed: the months through {closed_through} are closed (BILLING.md 5.4)")]
    AlreadyClosed {
        period: String,
        closed_through: Date,
    },
    #[error("{open} is not closed and has documents (the first dated {first_document}): close it before {period} (BILLING.md 5.4)")]
    EarlierMonthOpen {
        period: String,
        open: String,
        first_document: Date,
    },
    #[error("a total of the month passes the largest amount the ledger holds: {0}")]
    Money(#[from] MoneyError),
    #[error("another close or write took the period stream first; retry")]
    Contended,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<AppendError> for PeriodError {
    fn from(error: AppendError) -> Self {
        match error {
            AppendError::Conflict(_) => Self::Contended,
            AppendError::Store(error) => Self::Store(error),
        }
    }
}

/// A month's totals in one currency, as the API shows them (money as strings).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PeriodTotalsView {
    pub currency: Currency,
    #[serde(with = "projections::money_string")]
    pub invoiced: Money,
    #[serde(with = "projections::money_string")]
    pub vat: Money,
    #[serde(with = "projections::money_string")]
    pub paid: Money,
    #[serde(with = "projections::money_string")]
    pub penalties: Money,
    #[serde(with = "projections::money_string")]
    pub fines: Money,
}

impl From<&PeriodTotals> for PeriodTotalsView {
    fn from(totals: &PeriodTotals) -> Self {
        Self {
            currency: totals.currency,
            invoiced: totals.invoiced,
            vat: totals.vat,
            paid: totals.paid,
            penalties: totals.penalties,
            fines: totals.fines,
        }
    }
}

/// One closed month: `POST /v1/periods/{period}/close` answers it, `GET /v1/periods`
/// lists them.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PeriodSealView {
    /// `YYYY-MM`.
    pub period: String,
    #[serde(with = "events::business_date")]
    pub from: Date,
    #[serde(with = "events::business_date")]
    pub closed_through: Date,
    /// The Merkle root over every chain's head at the close (hex SHA-256).
    pub digest: String,
    /// How many chains the digest covers.
    pub chains: u64,
    pub totals: Vec<PeriodTotalsView>,
    /// When the seal was recorded (RFC 3339, UTC).
    pub closed_at: String,
    pub closed_by: String,
    /// The seal's place in the period stream and its hash (the chain's link).
    pub sequence: i64,
    pub hash: String,
    pub clause: &'static str,
}

/// Whether a month is still open or closed (BILLING.md 5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PeriodStatus {
    Open,
    Closed,
}

/// One month of `GET /v1/periods`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PeriodView {
    /// `YYYY-MM`.
    pub period: String,
    pub status: PeriodStatus,
    /// The seal that closed it: its own, or (for a month without documents closed with a
    /// later one) the later month's.
    pub seal: Option<PeriodSealView>,
}

/// `GET /v1/periods`: every month from the first with a document (or seal) to the
/// current one, oldest first, and the first day still open.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PeriodsView {
    pub months: Vec<PeriodView>,
    /// The day after the last closed month (`null` while none is closed).
    #[serde(with = "events::business_date::option")]
    pub open_from: Option<Date>,
}

/// Parses `YYYY-MM` into the month's first and last days.
pub fn parse_period(text: &str) -> Result<(Date, Date), PeriodError> {
    let invalid = || PeriodError::InvalidPeriod(text.to_owned());
    let (year, month) = text.split_once('-').ok_or_else(invalid)?;
    if year.len() != 4 || month.len() != 2 {
        return Err(invalid());
    }
    let year: i32 = year.parse().map_err(|_| invalid())?;
    let month: u8 = month.parse().map_err(|_| invalid())?;
    let month = Month::try_from(month).map_err(|_| invalid())?;
    let from = Date::from_calendar_date(year, month, 1).map_err(|_| invalid())?;
    let to = Date::from_calendar_date(year, month, month.length(year)).map_err(|_| invalid())?;
    Ok((from, to))
}

fn month_of(day: Date) -> String {
    format!("{:04}-{:02}", day.year(), u8::from(day.month()))
}

/// A stored seal, read back.
struct RecordedSeal {
    seal: PeriodClosed,
    sequence: i64,
    hash: String,
    closed_at: String,
    closed_by: String,
}

async fn recorded_seals(
    repository: &LedgerEventRepository,
) -> Result<Vec<RecordedSeal>, StoreError> {
    let stored = repository
        .stored_events(PERIOD_AGGREGATE_TYPE, PERIOD_STREAM_ID)
        .await?;
    stored
        .into_iter()
        .map(|event| {
            let text = |key: &str| crate::event_metadata::text(&event.metadata, key);
            Ok(RecordedSeal {
                seal: serde_json::from_value(event.payload.clone()).map_err(|e| {
                    StoreError::Corrupt(format!("a period seal cannot be read: {e}"))
                })?,
                sequence: event.sequence,
                hash: text(crate::hash_chain::HASH_KEY),
                closed_at: text(metadata::RECORDED_AT),
                closed_by: text(metadata::ACTOR),
            })
        })
        .collect()
}

impl RecordedSeal {
    fn view(&self) -> PeriodSealView {
        PeriodSealView {
            period: self.seal.period.clone(),
            from: self.seal.from,
            closed_through: self.seal.closed_through,
            digest: self.seal.digest.clone(),
            chains: self.seal.chains,
            totals: self
                .seal
                .totals
                .iter()
                .map(PeriodTotalsView::from)
                .collect(),
            closed_at: self.closed_at.clone(),
            closed_by: self.closed_by.clone(),
            sequence: self.sequence,
            hash: self.hash.clone(),
            clause: events::Clause::PERIOD_CLOSE.as_str(),
        }
    }
}

/// `GET /v1/periods`: the months as known at `known_at` (the seals recorded by then;
/// now when `None`). Reads every stored ledger once for the first month with a document.
pub async fn periods(
    ledger: &Ledger,
    known_at: Option<time::OffsetDateTime>,
) -> Result<PeriodsView, StoreError> {
    let mut seals = recorded_seals(ledger.repository()).await?;
    if let Some(known_at) = known_at {
        let known = crate::event_metadata::recorded_by(&seals, known_at, |seal| {
            Some(seal.closed_at.as_str())
        });
        seals.truncate(known);
    }
    let mut first: Option<Date> = seals.first().map(|s| s.seal.from);
    ledger
        .repository()
        .for_each_ledger(LEDGERS_TABLE, |row| {
            let stored = row.decode()?;
            if let Some(day) = stored.first_document_on(Date::MIN, Date::MAX) {
                first = Some(first.map_or(day, |d| d.min(day)));
            }
            Ok(())
        })
        .await?;
    let today = match known_at {
        Some(known_at) => crate::application::commands::business_date_of(known_at),
        None => ledger.today(),
    };
    let current = today.replace_day(1).expect("day 1 exists");
    let mut months = Vec::new();
    let mut month = first.map(|d| d.replace_day(1).expect("day 1 exists"));
    while let Some(from) = month.filter(|m| *m <= current) {
        let to = from
            .replace_day(from.month().length(from.year()))
            .expect("the month's last day");
        let seal = seals.iter().find(|s| s.seal.closed_through >= to);
        months.push(PeriodView {
            period: month_of(from),
            status: if seal.is_some() {
                PeriodStatus::Closed
            } else {
                PeriodStatus::Open
            },
            seal: seal.map(RecordedSeal::view),
        });
        month = to.next_day();
    }
    Ok(PeriodsView {
        months,
        open_from: seals.last().and_then(|s| s.seal.closed_through.next_day()),
    })
}

/// The close that sealed a month (BILLING.md 5.4): when, and the seal's global position
/// (what was recorded before it is what the close saw).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthClose {
    pub closed_at: String,
    pub position: i64,
}

/// The close of the month ending `through`: the first seal covering it; `None` while the
/// month is open.
pub async fn month_close(
    repository: &LedgerEventRepository,
    through: Date,
) -> Result<Option<MonthClose>, StoreError> {
    let seals = recorded_seals(repository).await?;
    let Some(seal) = seals.iter().find(|s| s.seal.closed_through >= through) else {
        return Ok(None);
    };
    let position = repository
        .global_position_of(PERIOD_AGGREGATE_TYPE, PERIOD_STREAM_ID, seal.sequence)
        .await?
        .ok_or_else(|| {
            StoreError::Corrupt(format!("the seal of {} has no position", seal.seal.period))
        })?;
    Ok(Some(MonthClose {
        closed_at: seal.closed_at.clone(),
        position,
    }))
}

/// Who closes a month, for the seal's metadata.
#[derive(Debug, Clone)]
pub struct Closer {
    pub actor: String,
    pub request_id: String,
    /// A note kept in the seal's metadata.
    pub note: Option<String>,
}

/// `POST /v1/periods/{period}/close` and `edoc-ledger period close`: seals `period`
/// (BILLING.md 5.4). Refused when the month is not over, is already closed, or an
/// earlier month with documents is still open; otherwise every month up to it is
/// sealed (an earlier month without documents has nothing to seal).
pub async fn close_period(
    ledger: &Ledger,
    period: &str,
    closer: &Closer,
) -> Result<PeriodSealView, PeriodError> {
    let (from, to) = parse_period(period)?;
    let today = ledger.today();
    if today <= to {
        return Err(PeriodError::NotOver {
            period: period.to_owned(),
            last_day: to,
            today,
        });
    }
    let repository = ledger.repository();
    let now = ledger.now_utc();
    let view = repository
        .close_period(async || -> Result<_, PeriodError> {
            // Under the close's lock: nothing is appended until it commits.
            let seals = recorded_seals(repository).await?;
            let closed_through = seals.last().map(|s| s.seal.closed_through);
            if let Some(closed_through) = closed_through.filter(|c| *c >= to) {
                return Err(PeriodError::AlreadyClosed {
                    period: period.to_owned(),
                    closed_through,
                });
            }
            let open_from = closed_through.and_then(|c| c.next_day());
            let before = from.previous_day().expect("a day before");
            let mut totals: Vec<PeriodTotals> = Vec::new();
            let mut first_open_document: Option<Date> = None;
            let mut failure: Option<PeriodError> = None;
            repository
                .for_each_ledger(LEDGERS_TABLE, |row| {
                    if failure.is_some() {
                        return Ok(());
                    }
                    let stored: AgreementLedger = row.decode()?;
                    let earliest = open_from.unwrap_or(Date::MIN);
                    if earliest <= before {
                        if let Some(day) = stored.first_document_on(earliest, before) {
                            first_open_document =
                                Some(first_open_document.map_or(day, |d| d.min(day)));
                        }
                    }
                    match stored.period_totals(from, to) {
                        Ok(Some(agreement)) => {
                            if let Err(e) = add_period_totals(&mut totals, &agreement) {
                                failure = Some(e.into());
                            }
                        }
                        Ok(None) => {}
                        Err(e) => failure = Some(e.into()),
                    }
                    Ok(())
                })
                .await?;
            if let Some(error) = failure {
                return Err(error);
            }
            if let Some(first_document) = first_open_document {
                return Err(PeriodError::EarlierMonthOpen {
                    period: period.to_owned(),
                    open: month_of(first_document),
                    first_document,
                });
            }
            let digest = crate::application::audit::take_digest(repository, now).await?;
            let seal = PeriodClosed {
                period: period.to_owned(),
                from,
                closed_through: to,
                digest: digest.root,
                chains: digest.streams,
                totals,
            };
            let (head_hash, last_sequence) = seals
                .last()
                .map(|s| (s.hash.clone(), s.sequence))
                .unwrap_or((crate::hash_chain::GENESIS.to_owned(), 0));
            let closed_at = now
                .to_offset(time::UtcOffset::UTC)
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
            let mut serialized = vec![cqrs_es::persist::SerializedEvent {
                aggregate_id: PERIOD_STREAM_ID.to_owned(),
                sequence: usize::try_from(last_sequence + 1).expect("a positive sequence"),
                aggregate_type: PERIOD_AGGREGATE_TYPE.to_owned(),
                event_type: PERIOD_CLOSED.to_owned(),
                event_version: PERIOD_EVENT_VERSION.to_owned(),
                payload: serde_json::to_value(&seal)
                    .map_err(|e| StoreError::Corrupt(format!("a seal cannot be written: {e}")))?,
                metadata: {
                    let mut metadata = serde_json::json!({
                        metadata::ACTOR: closer.actor,
                        metadata::RECORDED_AT: closed_at,
                        metadata::REQUEST_ID: closer.request_id,
                        metadata::COMMAND: "ClosePeriod",
                        metadata::CLAUSE: events::Clause::PERIOD_CLOSE.as_str(),
                    });
                    if let Some(note) = &closer.note {
                        metadata["note"] = Value::from(note.as_str());
                    }
                    metadata
                },
            }];
            let hash = crate::hash_chain::chain(&mut serialized, head_hash);
            let view = RecordedSeal {
                seal,
                sequence: last_sequence + 1,
                hash,
                closed_at,
                closed_by: closer.actor.clone(),
            }
            .view();
            Ok((serialized, view))
        })
        .await?;
    ledger.closed_through_now().await?;
    Ok(view)
}

/// One sealed month whose totals, recomputed from the events, differ from the seal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeriodMismatch {
    pub period: String,
    pub sealed: Vec<PeriodTotals>,
    pub recomputed: Vec<PeriodTotals>,
}

/// What `verify` found of the seals (BILLING.md 5.4).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PeriodsReport {
    pub periods_checked: u64,
    pub mismatches: Vec<PeriodMismatch>,
}

/// Recomputes every sealed month's totals from the events alone (each agreement's
/// history folded afresh, nothing stored read) and compares them with its seal.
pub async fn verify_periods(
    repository: &LedgerEventRepository,
) -> Result<PeriodsReport, PeriodError> {
    let seals = recorded_seals(repository).await?;
    let mut report = PeriodsReport::default();
    if seals.is_empty() {
        return Ok(report);
    }
    let mut recomputed: Vec<Vec<PeriodTotals>> = vec![Vec::new(); seals.len()];
    let mut current: Option<(String, AgreementLedger)> = None;
    let mut failure: Option<PeriodError> = None;
    let finish = |ledger: AgreementLedger,
                  recomputed: &mut Vec<Vec<PeriodTotals>>,
                  failure: &mut Option<PeriodError>| {
        for (index, sealed) in seals.iter().enumerate() {
            match ledger.period_totals(sealed.seal.from, sealed.seal.closed_through) {
                Ok(Some(totals)) => {
                    if let Err(e) = add_period_totals(&mut recomputed[index], &totals) {
                        *failure = Some(e.into());
                    }
                }
                Ok(None) => {}
                Err(e) => *failure = Some(e.into()),
            }
        }
    };
    repository
        .for_each_event(None, |row| -> Result<(), StoreError> {
            if row.aggregate_type != "ParticipantAgreement" {
                return Ok(());
            }
            if current.as_ref().map(|(id, _)| id) != Some(&row.aggregate_id) {
                if let Some((_, ledger)) = current.take() {
                    finish(ledger, &mut recomputed, &mut failure);
                }
                current = Some((row.aggregate_id.clone(), AgreementLedger::default()));
            }
            let event: events::AgreementEvent = serde_json::from_value(row.payload.clone())
                .map_err(|e| {
                    StoreError::Corrupt(format!(
                        "event {}/{} cannot be read: {e}",
                        row.aggregate_id, row.sequence
                    ))
                })?;
            if let Some((_, ledger)) = current.as_mut() {
                ledger.apply(u64::try_from(row.sequence).unwrap_or(0), &event);
            }
            Ok(())
        })
        .await?;
    if let Some((_, ledger)) = current.take() {
        finish(ledger, &mut recomputed, &mut failure);
    }
    if let Some(error) = failure {
        return Err(error);
    }
    for (sealed, recomputed) in seals.iter().zip(recomputed) {
        report.periods_checked += 1;
        // A currency sealed with all zeros and one absent from the recomputation agree.
        let nonzero = |totals: &[PeriodTotals]| -> Vec<PeriodTotals> {
            totals
                .iter()
                .filter(|t| *t != &PeriodTotals::zero(t.currency))
                .cloned()
                .collect()
        };
        if nonzero(&sealed.seal.totals) != nonzero(&recomputed) {
            report.mismatches.push(PeriodMismatch {
                period: sealed.seal.period.clone(),
                sealed: sealed.seal.totals.clone(),
                recomputed,
            });
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn a_period_is_a_month_written_yyyy_mm() {
        assert_eq!(
            parse_period("2026-11").unwrap(),
            (date!(2026 - 11 - 01), date!(2026 - 11 - 30))
        );
        assert_eq!(
            parse_period("2028-02").unwrap(),
            (date!(2028 - 02 - 01), date!(2028 - 02 - 29))
        );
        for bad in ["2026-13", "2026-1", "26-11", "2026/11", "2026-11-01", ""] {
            assert!(parse_period(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_month_of_a_day() {
        assert_eq!(month_of(date!(2026 - 03 - 09)), "2026-03");
    }
}
