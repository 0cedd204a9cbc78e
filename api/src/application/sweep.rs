//! The dunning sweep (§4.2, §5.9, §10.3): as of a date, every agreement's step of the
//! rules time triggers, each recorded by the ledger like any command.
//!
//! Idempotent and restartable: each agreement's step records only what its facts call
//! for that have not been recorded yet, so a second sweep for the same date records
//! nothing, and a sweep killed midway and run again completes the rest. A sweep for a
//! date earlier than the latest one is refused. Every event it records carries the
//! sweep's id and date in its metadata.

use futures::StreamExt;
use serde::Serialize;
use time::Date;

use commands::{AgreementCommand, SweepAgreement};
use events::{business_date, AgreementEvent, ParticipantId};

use crate::application::commands::{CommandContext, Ledger, LedgerError, SweepMark};
use crate::store::StoreError;

/// How many agreements a sweep steps at once (each step is its own transaction).
pub const SWEEP_CONCURRENCY: usize = 8;

/// What a sweep did (API.md: `POST /v1/sweeps`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SweepReport {
    pub sweep_id: String,
    #[serde(with = "business_date")]
    #[schema(value_type = String, format = Date)]
    pub as_of: Date,
    pub agreements: u64,
    pub suspended: Vec<String>,
    pub blocked: Vec<String>,
    pub reinstated: Vec<String>,
    pub unblocked: Vec<String>,
    pub terminated: Vec<String>,
    /// Agreements whose §5.9 fine the sweep charged (operator policy).
    pub fines_charged: Vec<String>,
    /// Agreements whose accrued penalties and fines the sweep charged on or after their
    /// termination's effective date (§10.3 settlement).
    pub settlement_charged: Vec<String>,
    /// Agreements the sweep could not step, with why (e.g. entries dated after the
    /// sweep's date); nothing was recorded for them.
    pub skipped: Vec<SkippedAgreement>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SkippedAgreement {
    pub participant_id: String,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error("the sweep date {as_of} is in the future (today is {today} in Kazakhstan)")]
    InTheFuture { as_of: Date, today: Date },
    #[error("a sweep as of {latest} already ran; a sweep for the earlier date {as_of} is refused")]
    EarlierThanLatest { as_of: Date, latest: String },
    #[error("the sweep date {as_of} falls in a closed period: the months through {closed_through} are closed and their documents final (BILLING.md 5.4)")]
    PeriodClosed { as_of: Date, closed_through: Date },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Runs the sweep as of `as_of` over every agreement; `progress` sees (done, total).
/// [`run`] in a task of its own, so that it finishes even if the caller goes away (an
/// HTTP client that hangs up); no progress is reported.
pub async fn run_detached(
    ledger: std::sync::Arc<Ledger>,
    actor: String,
    as_of: Date,
    charge_fines: bool,
) -> Result<SweepReport, SweepError> {
    tokio::spawn(async move { run(&ledger, &actor, as_of, charge_fines, |_, _| {}).await })
        .await
        .map_err(|e| StoreError::Corrupt(format!("the sweep task failed: {e}")))?
}

pub async fn run(
    ledger: &Ledger,
    actor: &str,
    as_of: Date,
    charge_fines: bool,
    mut progress: impl FnMut(u64, u64),
) -> Result<SweepReport, SweepError> {
    let today = ledger.today();
    if as_of > today {
        return Err(SweepError::InTheFuture { as_of, today });
    }
    if let Some(closed_through) = ledger.closed_through_now().await? {
        if as_of <= closed_through {
            return Err(SweepError::PeriodClosed {
                as_of,
                closed_through,
            });
        }
    }
    let repository = ledger.repository();
    let date = business_date::format(as_of);
    if let Some(latest) = repository.latest_sweep_date().await? {
        if date < latest {
            return Err(SweepError::EarlierThanLatest { as_of, latest });
        }
    }
    let sweep_id = uuid::Uuid::new_v4().to_string();
    repository.start_sweep(&sweep_id, &date).await?;
    let ids = repository.participant_ids().await?;
    let total = ids.len() as u64;
    let context = CommandContext {
        actor: actor.to_owned(),
        request_id: sweep_id.clone(),
        sweep: Some(SweepMark {
            id: sweep_id.clone(),
            as_of,
        }),
        idempotency: None,
    };
    let mut report = SweepReport {
        sweep_id: sweep_id.clone(),
        as_of,
        agreements: 0,
        suspended: Vec::new(),
        blocked: Vec::new(),
        reinstated: Vec::new(),
        unblocked: Vec::new(),
        terminated: Vec::new(),
        fines_charged: Vec::new(),
        settlement_charged: Vec::new(),
        skipped: Vec::new(),
    };
    // Agreements are independent: their steps run a few at a time (each is its own
    // transaction), and the report is put in participant order at the end.
    let mut steps = futures::stream::iter(ids.into_iter().map(|id| {
        let context = &context;
        async move {
            let outcome = match ParticipantId::parse(&id) {
                Ok(participant) => Some(
                    ledger
                        .execute(
                            &participant,
                            AgreementCommand::Sweep(SweepAgreement {
                                as_of,
                                charge_fines,
                            }),
                            context,
                        )
                        .await,
                ),
                Err(_) => None,
            };
            (id, outcome)
        }
    }))
    .buffer_unordered(SWEEP_CONCURRENCY);
    let mut done = 0u64;
    while let Some((id, outcome)) = steps.next().await {
        done += 1;
        progress(done, total);
        report.agreements += 1;
        match outcome {
            None => {}
            Some(Ok(committed)) => {
                for envelope in &committed.events {
                    let list = match &envelope.payload {
                        AgreementEvent::Suspended(_) => &mut report.suspended,
                        AgreementEvent::Blocked(_) => &mut report.blocked,
                        AgreementEvent::Reinstated(_) => &mut report.reinstated,
                        AgreementEvent::Unblocked(_) => &mut report.unblocked,
                        AgreementEvent::Terminated(_) => &mut report.terminated,
                        AgreementEvent::PenaltyCharged(e) if e.settlement => {
                            &mut report.settlement_charged
                        }
                        AgreementEvent::FineCharged(e) if e.settlement => {
                            &mut report.settlement_charged
                        }
                        AgreementEvent::FineCharged(_) => &mut report.fines_charged,
                        _ => continue,
                    };
                    if list.last() != Some(&id) {
                        list.push(id.clone());
                    }
                }
            }
            Some(Err(LedgerError::Refused(refusal))) => report.skipped.push(SkippedAgreement {
                participant_id: id,
                reason: refusal.to_string(),
            }),
            Some(Err(LedgerError::Store(error))) => return Err(error.into()),
            Some(Err(
                other @ (LedgerError::ConflictRetriesExhausted { .. }
                | LedgerError::IdempotencyKeyReused { .. }
                | LedgerError::Render(_)),
            )) => report.skipped.push(SkippedAgreement {
                participant_id: id,
                reason: other.to_string(),
            }),
        }
    }
    drop(steps);
    for list in [
        &mut report.suspended,
        &mut report.blocked,
        &mut report.reinstated,
        &mut report.unblocked,
        &mut report.terminated,
        &mut report.fines_charged,
    ] {
        list.sort();
    }
    report
        .skipped
        .sort_by(|a, b| a.participant_id.cmp(&b.participant_id));
    progress(total, total);
    let summary = serde_json::to_value(&report).unwrap_or_default();
    repository.finish_sweep(&sweep_id, &summary).await?;
    tracing::info!(
        sweep_id,
        as_of = %date,
        agreements = report.agreements,
        suspended = report.suspended.len(),
        blocked = report.blocked.len(),
        reinstated = report.reinstated.len(),
        unblocked = report.unblocked.len(),
        terminated = report.terminated.len(),
        skipped = report.skipped.len(),
        "sweep finished"
    );
    Ok(report)
}
