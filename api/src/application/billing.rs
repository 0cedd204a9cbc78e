//! The monthly billing run (BILLING.md 4): for one month, every agreement's subscription
//! invoice, and the usage invoice of the month before (BILLING.md 3), each decided and
//! recorded by the ledger like any command.
//!
//! The usage invoices count the usage store's records up to its latest position when the
//! run began: records reported while it runs wait for the next usage invoice.
//!
//! At most one invoice per (agreement, month, kind): the agreement remembers what the run
//! invoiced, so a second run for the month issues nothing new, two runs racing (two
//! servers) decide on the agreement's latest state and the loser issues nothing, and a
//! run killed midway is simply run again to complete the rest. Numbers stay gapless: an
//! invoice takes its number in the transaction that records it.

use crate::application::commands::{BatchOutcome, Prepared, ReadAhead};
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::Date;

use commands::{AgreementCommand, BillMonth, BillUsage};
use events::{
    business_date, AgreementEvent, CalendarMonth, Currency, InvoiceKind, Money, ParticipantId,
};

use crate::application::commands::{CommandContext, Ledger, LedgerError};
use crate::store::StoreError;

/// An invoice the run issued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IssuedInvoiceLine {
    pub participant_id: String,
    #[schema(value_type = String, example = "42")]
    pub number: String,
    #[schema(value_type = String, example = "subscription")]
    pub kind: InvoiceKind,
    /// With 2 decimals, in `currency`.
    #[schema(example = "5600.00")]
    pub total: String,
    pub currency: Currency,
    /// The tariff version that priced it (§4.1, §5.3).
    pub tariff: String,
}

/// An agreement the run did not invoice, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NotInvoiced {
    pub participant_id: String,
    /// The invoice not issued: `subscription` (the period's) or `usage` (the month
    /// before's).
    #[schema(value_type = String, example = "subscription")]
    pub kind: InvoiceKind,
    pub reason: String,
}

/// An agreement whose invoice of this kind was issued already (by an earlier or
/// concurrent run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AlreadyInvoiced {
    pub participant_id: String,
    #[schema(value_type = String, example = "subscription")]
    pub kind: InvoiceKind,
}

/// The totals of what was issued in one currency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IssuedTotal {
    pub currency: Currency,
    pub invoices: u64,
    /// With 2 decimals.
    pub total: String,
}

/// The run's report (API.md: `POST /v1/billing-runs`, `GET /v1/billing-runs/{period}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BillingRunReport {
    #[schema(value_type = String, example = "2027-01")]
    pub period: CalendarMonth,
    #[serde(with = "business_date")]
    #[schema(value_type = String, format = Date)]
    pub issued_on: Date,
    /// How many agreements the run looked at.
    pub agreements: u64,
    /// What was issued: by this run in its answer; in the stored report, by every run
    /// for the month.
    pub issued: Vec<IssuedInvoiceLine>,
    /// Agreements already invoiced for the month (by an earlier or concurrent run).
    pub already_invoiced: Vec<AlreadyInvoiced>,
    /// The month whose usage the run invoices (BILLING.md 3): the one before `period`,
    /// or, for a run issued before that month is over, the last month over on
    /// `issued_on`.
    #[schema(value_type = String, example = "2026-12")]
    pub usage_month: CalendarMonth,
    /// The usage store's position the usage invoices counted through: its latest record
    /// when the run began.
    pub usage_through: u64,
    /// Agreements with usage of `usage_month` (or uncounted before it), none of it beyond
    /// the included volume: no usage invoice; their records count towards the next one.
    pub usage_within_included: u64,
    /// Not billed, with the reason: no subscription, blocked, terminated (BILLING.md 4).
    pub skipped: Vec<NotInvoiced>,
    /// Billing was refused, with the error (a missing table, a closed month...); nothing
    /// was recorded for them.
    pub refused: Vec<NotInvoiced>,
    pub totals: Vec<IssuedTotal>,
    /// `BILLING-4`.
    pub clause: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BillingError {
    #[error("period: {0}")]
    InvalidPeriod(#[from] events::CalendarMonthError),
    #[error("issued_on: {issued_on} is in the future (today is {today} in Kazakhstan)")]
    IssuedInTheFuture { issued_on: Date, today: Date },
    #[error("period: {period} is more than a month after issued_on {issued_on}: a subscription is billed in advance for the next month at most (§5.4)")]
    TooFarAhead {
        period: CalendarMonth,
        issued_on: Date,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Runs the billing of `period` over every agreement; `progress` sees (done, total).
pub async fn run(
    ledger: &std::sync::Arc<Ledger>,
    actor: &str,
    period: CalendarMonth,
    issued_on: Date,
    mut progress: impl FnMut(u64, u64),
) -> Result<BillingRunReport, BillingError> {
    let today = ledger.today();
    if issued_on > today {
        return Err(BillingError::IssuedInTheFuture { issued_on, today });
    }
    if period > CalendarMonth::of(issued_on).next() {
        return Err(BillingError::TooFarAhead { period, issued_on });
    }
    let repository = ledger.repository();
    let key = period.to_string();
    repository
        .start_billing_run(&key, &business_date::format(issued_on))
        .await?;
    let usage_through = u64::try_from(repository.last_usage_position().await?)
        .map_err(|_| StoreError::Corrupt("a negative usage position".to_owned()))?;
    // BILLING.md 3, 4: the usage of the month before the period, once it is over; a run
    // issued before then (a prepaid run ahead of its month) bills the last month over on
    // its issue date instead, so only whole months are billed and none is passed over
    // (what a usage invoice counts includes every month before it not yet counted).
    let usage_month = period
        .previous()
        .min(CalendarMonth::of(issued_on).previous());
    let ids = repository.participant_ids().await?;
    let total = ids.len() as u64;
    let run_id = uuid::Uuid::new_v4().to_string();
    let context = CommandContext {
        actor: actor.to_owned(),
        request_id: format!("billing-run-{key}-{run_id}"),
        sweep: None,
        idempotency: None,
    };
    let mut report = BillingRunReport {
        period,
        issued_on,
        agreements: 0,
        issued: Vec::new(),
        already_invoiced: Vec::new(),
        usage_month,
        usage_through,
        usage_within_included: 0,
        skipped: Vec::new(),
        refused: Vec::new(),
        totals: Vec::new(),
        clause: events::Clause::BILLING_RUN.as_str().to_owned(),
    };
    // Every agreement's two invoices through the batched write path: chunks of
    // agreements decided in memory and written in one transaction each, their invoice
    // numbers claimed together (`commands::batch`); a chunk that loses a race is run one
    // command at a time.
    let work: Vec<(ParticipantId, Vec<InvoiceKind>)> = ids
        .iter()
        .filter_map(|id| ParticipantId::parse(id).ok())
        .map(|id| (id, vec![InvoiceKind::Subscription, InvoiceKind::Usage]))
        .collect();
    let prepare = std::sync::Arc::new(
        move |_: &aggregates::ParticipantAgreement, kind: &InvoiceKind| {
            Prepared::Run(match kind {
                InvoiceKind::Usage => AgreementCommand::BillUsage(BillUsage {
                    month: usage_month,
                    issued_on,
                    through: usage_through,
                    records: Vec::new(),
                }),
                _ => AgreementCommand::BillMonth(BillMonth {
                    month: period,
                    issued_on,
                }),
            })
        },
    );
    let mut done = 0u64;
    let outcomes = ledger
        .execute_batch(
            work,
            &context,
            prepare,
            ReadAhead::UsageRecords,
            |chunk, _| {
                done += chunk.len() as u64;
                progress(done, total);
            },
        )
        .await
        .map_err(|error| match error {
            LedgerError::Store(error) => BillingError::Store(error),
            other => BillingError::Store(StoreError::Corrupt(other.to_string())),
        })?;
    for (participant, items) in outcomes {
        report.agreements += 1;
        for (kind, outcome) in items {
            report.record(participant.as_str(), kind, outcome)?;
        }
    }
    report
        .issued
        .sort_by(|a, b| a.participant_id.cmp(&b.participant_id));
    report.already_invoiced.sort_by(|a, b| {
        (&a.participant_id, a.kind == InvoiceKind::Usage)
            .cmp(&(&b.participant_id, b.kind == InvoiceKind::Usage))
    });
    report
        .skipped
        .sort_by(|a, b| a.participant_id.cmp(&b.participant_id));
    report
        .refused
        .sort_by(|a, b| a.participant_id.cmp(&b.participant_id));
    report.totals = totals(&report.issued);
    progress(total, total);

    // The stored report: what every run issued for the month, this run's skips.
    repository
        .finish_billing_run(&key, |earlier| {
            let stored = report.merged_with(
                earlier.and_then(|e| serde_json::from_value::<BillingRunReport>(e).ok()),
            );
            serde_json::to_value(&stored).unwrap_or_default()
        })
        .await?;
    tracing::info!(
        period = %key,
        agreements = report.agreements,
        issued = report.issued.len(),
        already_invoiced = report.already_invoiced.len(),
        skipped = report.skipped.len(),
        refused = report.refused.len(),
        "billing run finished"
    );
    Ok(report)
}

impl BillingRunReport {
    /// This run's report with what earlier runs of the month issued (each invoice once).
    fn merged_with(&self, earlier: Option<BillingRunReport>) -> BillingRunReport {
        let mut stored = self.clone();
        let Some(earlier) = earlier else {
            return stored;
        };
        let mut issued: BTreeMap<String, IssuedInvoiceLine> = earlier
            .issued
            .into_iter()
            .map(|line| (line.number.clone(), line))
            .collect();
        for line in &self.issued {
            issued.insert(line.number.clone(), line.clone());
        }
        stored.issued = issued.into_values().collect();
        stored
            .issued
            .sort_by(|a, b| a.participant_id.cmp(&b.participant_id));
        stored.already_invoiced.retain(|already| {
            !stored.issued.iter().any(|line| {
                line.participant_id == already.participant_id && line.kind == already.kind
            })
        });
        stored.totals = totals(&stored.issued);
        stored
    }

    /// What one command of the run did for agreement `id`.
    fn record(
        &mut self,
        id: &str,
        kind: InvoiceKind,
        outcome: BatchOutcome,
    ) -> Result<(), BillingError> {
        let participant_id = id.to_owned();
        match outcome {
            BatchOutcome::Repeat { .. } => self.already_invoiced.push(AlreadyInvoiced {
                participant_id,
                kind,
            }),
            BatchOutcome::Skipped(reason) => self.skipped.push(NotInvoiced {
                participant_id,
                kind,
                reason,
            }),
            BatchOutcome::Recorded { events, .. } => {
                let issued: Vec<_> = events
                    .iter()
                    .filter_map(|event| match event {
                        AgreementEvent::InvoiceIssued(invoice) => Some(IssuedInvoiceLine {
                            participant_id: participant_id.clone(),
                            number: invoice.number.to_string(),
                            kind: invoice.kind,
                            total: invoice.total.to_json_string(),
                            currency: invoice.currency,
                            tariff: invoice
                                .billing
                                .as_ref()
                                .map(|b| format!("{}-v{}", b.tariff.code, b.tariff.version))
                                .unwrap_or_default(),
                        }),
                        _ => None,
                    })
                    .collect();
                if issued.is_empty() {
                    self.already_invoiced.push(AlreadyInvoiced {
                        participant_id,
                        kind,
                    });
                } else {
                    self.issued.extend(issued);
                }
            }
            BatchOutcome::Refused {
                refusal: aggregates::AgreementError::NotBillable { reason, .. },
                ..
            } => self.skipped.push(NotInvoiced {
                participant_id,
                kind,
                reason,
            }),
            BatchOutcome::Refused {
                refusal: aggregates::AgreementError::NoUsageBeyondIncluded { records, .. },
                ..
            } => {
                if records > 0 {
                    self.usage_within_included += 1;
                }
            }
            BatchOutcome::Refused { refusal, .. } => self.refused.push(NotInvoiced {
                participant_id,
                kind,
                reason: LedgerError::Refused(refusal).to_string(),
            }),
        }
        Ok(())
    }
}

/// [`run`] in a task of its own, so that it finishes even if the caller goes away.
pub async fn run_detached(
    ledger: std::sync::Arc<Ledger>,
    actor: String,
    period: CalendarMonth,
    issued_on: Date,
) -> Result<BillingRunReport, BillingError> {
    tokio::spawn(async move { run(&ledger, &actor, period, issued_on, |_, _| {}).await })
        .await
        .map_err(|e| StoreError::Corrupt(format!("the billing run failed: {e}")))?
}

/// The stored report of the month's runs.
pub async fn report(
    ledger: &Ledger,
    period: CalendarMonth,
) -> Result<Option<BillingRunReport>, StoreError> {
    let Some(stored) = ledger
        .repository()
        .billing_run_report(&period.to_string())
        .await?
    else {
        return Ok(None);
    };
    serde_json::from_value(stored)
        .map(Some)
        .map_err(|e| StoreError::Corrupt(format!("a billing run report cannot be read: {e}")))
}

fn totals(issued: &[IssuedInvoiceLine]) -> Vec<IssuedTotal> {
    let mut totals: BTreeMap<Currency, (u64, Money)> = BTreeMap::new();
    for line in issued {
        let (count, sum) = totals
            .entry(line.currency)
            .or_insert((0, Money::zero(line.currency)));
        *count += 1;
        let amount = events::Amount::parse(&line.total)
            .map(|a| a.in_currency(line.currency))
            .unwrap_or(Money::zero(line.currency));
        *sum = sum.checked_add(amount).unwrap_or(*sum);
    }
    totals
        .into_iter()
        .map(|(currency, (invoices, total))| IssuedTotal {
            currency,
            invoices,
            total: total.to_json_string(),
        })
        .collect()
}
