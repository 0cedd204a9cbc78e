//! The command loop: load, decide, seal, answer, append; on a lost race, again.

use std::borrow::Cow;
use std::time::Duration;

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;

use aggregates::{AgreementError, AgreementServices, ParticipantAgreement};
use commands::{AgreementCommand, BillUsage, MeteredUsage};
use events::{AgreementEvent, InvoiceNumber, ParticipantId};

use super::load::Loaded;
use super::{
    Answer, CommandContext, Committed, Ledger, LedgerError, RenderAnswer, AGREEMENT_WRITE_STRIPES,
    COMMAND_ATTEMPTS_MAX,
};
use crate::store::{
    AppendError, CommandConnection, PeriodGuard, StoreError, StoredUsageRecord, UsageWindow,
};

impl Ledger {
    /// The command loop; with `render`, also the answer (stored under the context's
    /// Idempotency-Key with the events). Returns the committed events unless the answer
    /// is a stored one.
    pub(super) async fn run(
        &self,
        participant: &ParticipantId,
        command: AgreementCommand,
        context: &CommandContext,
        render: Option<&RenderAnswer<'_>>,
    ) -> Result<(Option<Committed>, Option<Answer>), LedgerError> {
        // An invoice or a credit note takes the next number of the operator's one gapless
        // series (BILLING.md 5.3).
        let takes_invoice_number = command.takes_invoice_number();
        let answer_of = |committed: &Committed| -> Result<Option<Answer>, LedgerError> {
            render
                .map(|render| {
                    render(committed)
                        .map(|(status, body)| Answer {
                            status,
                            body,
                            replayed: false,
                        })
                        .map_err(LedgerError::Render)
                })
                .transpose()
        };
        // The agreement's stripe first, then (for an invoice or a credit note) the
        // numbering lock: always in this order, so the two never wait on each other in a
        // cycle.
        let _agreement_write = self.agreement_writes[stripe_of(participant)].lock().await;
        for attempt in 1..=COMMAND_ATTEMPTS_MAX {
            if render.is_some() {
                if let Some(stored) = self.stored_answer(context).await? {
                    return Ok((None, Some(stored)));
                }
            }
            // Before the connection is held: never two connections at once (`load`).
            let closed_through = self.closed_through().await?;
            // Only the commands that read tariffs ask the store for the catalog (BILLING.md 2).
            let tariffs = if command.reads_tariffs() {
                self.tariffs().catalog().await?
            } else {
                Default::default()
            };
            let (mut connection, loaded) = self.load(participant).await?;
            let command_now = self
                .with_usage(&mut connection, participant, &loaded, &command)
                .await?;
            // The numbering lock is held only from reading the next number to the commit,
            // and only when the decision issues a document: decided first without a
            // number, a command that issues none (a month billed already, an agreement
            // skipped) never waits for it. Whoever holds it needs no other connection.
            let mut decision = self
                .decide(&loaded, &command_now, None, closed_through, &tariffs)
                .await;
            let _numbering = if takes_invoice_number
                && matches!(
                    decision,
                    Err(LedgerError::Refused(
                        AgreementError::NoInvoiceNumberReserved
                    ))
                ) {
                let numbering = self.invoice_numbering.settled().await;
                let next_invoice_number = self
                    .repository
                    .next_invoice_number_on(&mut connection)
                    .await?;
                decision = self
                    .decide(
                        &loaded,
                        &command_now,
                        Some(next_invoice_number),
                        closed_through,
                        &tariffs,
                    )
                    .await;
                Some(numbering)
            } else {
                None
            };
            let (agreement, decided) = decision?;
            // BILLING.md 5.4: documents posted in a month before this one may fall in a
            // month closed since the cache was read (by this process or another): read it
            // afresh, decide again if it moved, and have the append check it once more.
            let month_start = self.clock.today().replace_day(1).expect("day 1 exists");
            let earliest_posting = decided.iter().filter_map(AgreementEvent::posted_on).min();
            let guard = match earliest_posting.filter(|posting| *posting < month_start) {
                Some(earliest_posting) => {
                    if self.closed_through_now_on(&mut connection).await? != closed_through {
                        continue;
                    }
                    Some(PeriodGuard { earliest_posting })
                }
                None => None,
            };
            let sealed = self.seal(participant, loaded, decided, &command, context)?;
            let committed = Committed {
                events: sealed.envelopes,
                agreement,
            };
            // The answer is written by the caller's pure `render` (no I/O) and stored
            // with the events, so a retry under the same key gets exactly it.
            let answer = answer_of(&committed)?;
            let record = answer
                .as_ref()
                .and_then(|answer| self.idempotency_record(context, answer));
            let appended = self
                .repository
                .append_guarded(
                    &mut connection,
                    &sealed.serialized,
                    &sealed.invoice_numbers,
                    sealed.ledger_row.as_ref(),
                    record.as_ref(),
                    guard,
                )
                .await;
            match appended {
                Ok(()) => {
                    if !committed.events.is_empty() {
                        crate::metrics::record_command(command.name());
                    }
                    return Ok((Some(committed), answer));
                }
                // Nothing was decided, only a key stored: a concurrent request took it;
                // the next attempt finds its answer.
                Err(AppendError::Conflict(_)) if committed.events.is_empty() => continue,
                Err(AppendError::Conflict(what)) => {
                    tracing::debug!(participant = %participant, attempt, what, "write conflict, deciding again");
                    crate::metrics::record_conflict();
                    // Give the connection back first: it carries the failed transaction's
                    // rollback, which must not wait out the backoff holding its locks.
                    drop(connection);
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(AppendError::Store(error)) => return Err(error.into()),
            }
        }
        Err(LedgerError::ConflictRetriesExhausted {
            attempts: COMMAND_ATTEMPTS_MAX,
        })
    }

    /// A usage invoice's command with the records it counts (BILLING.md 3), read on the
    /// command's connection from what the loaded agreement's usage invoices counted; any
    /// other command as it is.
    pub(super) async fn with_usage<'c>(
        &self,
        connection: &mut CommandConnection,
        participant: &ParticipantId,
        loaded: &Loaded,
        command: &'c AgreementCommand,
    ) -> Result<Cow<'c, AgreementCommand>, LedgerError> {
        let Some(window) = usage_window(loaded, command)? else {
            return Ok(Cow::Borrowed(command));
        };
        let records = self
            .usage_records_in(connection, participant, &window)
            .await?;
        Ok(Cow::Owned(with_records(command, records)))
    }

    /// The usage records of `window`, as a usage invoice counts them (BILLING.md 3).
    pub(super) async fn usage_records_in(
        &self,
        connection: &mut CommandConnection,
        participant: &ParticipantId,
        window: &UsageWindow,
    ) -> Result<Vec<MeteredUsage>, LedgerError> {
        Ok(self
            .repository
            .usage_records_on(connection, participant, window)
            .await?
            .into_iter()
            .map(StoredUsageRecord::metered)
            .collect::<Result<Vec<_>, StoreError>>()?)
    }

    /// The decide step: the aggregate decides the command on the loaded state; the
    /// agreement after it and the events it decided (none for a repeat it recognises).
    /// No I/O.
    pub(super) async fn decide(
        &self,
        loaded: &Loaded,
        command: &AgreementCommand,
        next_invoice_number: Option<InvoiceNumber>,
        closed_through: Option<time::Date>,
        tariffs: &std::sync::Arc<aggregates::tariffs::TariffCatalog>,
    ) -> Result<(ParticipantAgreement, Vec<AgreementEvent>), LedgerError> {
        let mut agreement = loaded.ledger.agreement.clone();
        let decided = self
            .decide_on(
                &mut agreement,
                &loaded.reference,
                command,
                next_invoice_number,
                closed_through,
                tariffs,
            )
            .await?;
        Ok((agreement, decided))
    }

    /// [`Self::decide`] on an agreement the caller owns: it is left as the decided events
    /// make it (on a refusal, possibly part way: the caller discards it). The batch keeps
    /// one such working copy per agreement instead of cloning the agreement per command.
    pub(super) async fn decide_on(
        &self,
        agreement: &mut ParticipantAgreement,
        reference: &std::sync::Arc<aggregates::ReferenceData>,
        command: &AgreementCommand,
        next_invoice_number: Option<InvoiceNumber>,
        closed_through: Option<time::Date>,
        tariffs: &std::sync::Arc<aggregates::tariffs::TariffCatalog>,
    ) -> Result<Vec<AgreementEvent>, LedgerError> {
        let services = AgreementServices {
            tariffs: tariffs.clone(),
            reference: reference.clone(),
            today: self.clock.today(),
            next_invoice_number,
            closed_through,
        };
        let sink = EventSink::default();
        agreement.handle(command.clone(), &services, &sink).await?;
        Ok(sink.collect().await)
    }
}

/// The window of usage records a usage invoice's command counts on the loaded agreement
/// (after what its usage invoices counted, BILLING.md 3); `None` for any other command.
pub(super) fn usage_window(
    loaded: &Loaded,
    command: &AgreementCommand,
) -> Result<Option<UsageWindow>, LedgerError> {
    let AgreementCommand::BillUsage(bill) = command else {
        return Ok(None);
    };
    let counted = loaded.ledger.agreement.subscription().counted_usage();
    Ok(Some(UsageWindow::after(
        bill.month.last_day(),
        bill.through,
        counted,
    )?))
}

/// A usage invoice's command with the records it counts; any other command as it is.
pub(super) fn with_records(
    command: &AgreementCommand,
    records: Vec<MeteredUsage>,
) -> AgreementCommand {
    match command {
        AgreementCommand::BillUsage(bill) => AgreementCommand::BillUsage(BillUsage {
            records,
            ..bill.clone()
        }),
        other => other.clone(),
    }
}

/// The write lock stripe of an agreement: FNV-1a over its BIN/IIN (stable, no seed).
pub(super) fn stripe_of(participant: &ParticipantId) -> usize {
    let hash = participant
        .as_str()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
        });
    (hash % AGREEMENT_WRITE_STRIPES as u64) as usize
}

/// A short, jittered pause before deciding again, growing with each lost race.
fn backoff(attempt: u32) -> Duration {
    let jitter = u64::from(uuid::Uuid::new_v4().as_u128() as u16 % 1000);
    let base = u64::from(attempt.min(10)) * 1000;
    Duration::from_micros(base + jitter * u64::from(attempt.min(10)))
}
