//! The batched write path (a bank statement's import, INTEGRATION.md 2): many commands on
//! many agreements, recorded with one transaction per chunk of agreements instead of one
//! per command.
//!
//! Chunks of [`BATCH_AGREEMENTS_MAX`] agreements and [`BATCH_COMMANDS_MAX`] commands (up
//! to twice that, so that no write stripe is split between two chunks: the agreements are
//! grouped by stripe), [`BATCH_CONCURRENCY`] at once. For each chunk: the agreements'
//! write stripes are locked in ascending order (so two batches, or a batch and single
//! commands, never wait on each other in a cycle; chunks running at once hold disjoint
//! stripes and never wait for each other, unless one stripe holds more than twice a
//! chunk's limits), each agreement is loaded as a single command loads it, its commands are decided one after
//! another on the in-memory aggregate (each on the state the previous ones left) and
//! sealed (numbered on, hash-chained, folded into the projection), and every stream is
//! appended with its agreement's last projection row in ONE transaction. The events,
//! their hashes and the projection rows are exactly what the same commands run one by one
//! would record. On a conflict (a concurrent write to one of the agreements, a month
//! closed meanwhile) nothing of the chunk is written and its commands run one by one
//! through the ordinary command loop (each retried there as usual).
//!
//! Commands that take an invoice number (the billing run's, BILLING.md 4) are batched
//! too. A chunk first loads its agreements (and, for the billing run, reads the usage
//! records their usage invoices count) without the operator's numbering lock, so that
//! other chunks decide meanwhile; at its first document it takes the lock (after its
//! stripes, as the command loop takes it after its one stripe) and the next number: the
//! one after a previous chunk's numbers still being written, else the store's. Each
//! document takes the next number in memory; once all are sealed the chunk hands the
//! lock on (`numbering`), waits for the chunk numbered before it to commit, and appends,
//! claiming its numbers in order by compare-and-set in the same transaction. So the series
//! stays gapless, and a number taken meanwhile by another process, or a chunk before it
//! that failed, fails the chunk (then run one by one). A usage invoice whose records were
//! read ahead counts them if its window is unchanged, else reads them on the chunk's
//! connection, as the command loop does.

use futures::StreamExt as _;

use std::sync::Arc;

use aggregates::{AgreementError, ParticipantAgreement};
use commands::AgreementCommand;
use cqrs_es::persist::SerializedEvent;
use events::{AgreementEvent, ParticipantId};

use super::command_loop::{stripe_of, usage_window, with_records};
use super::load::Loaded;
use super::numbering::{self, NumberingTurn, Predecessor};
use super::{CommandContext, Ledger, LedgerError};
use crate::store::{AppendError, LedgerRow, PeriodGuard};

/// How many agreements one batch transaction writes at most.
pub const BATCH_AGREEMENTS_MAX: usize = 100;
/// How many commands one batch transaction decides at most.
pub const BATCH_COMMANDS_MAX: usize = 500;
/// How many chunks are decided and written at once on PostgreSQL (of its 16 connections).
pub const BATCH_CONCURRENCY: usize = 8;

/// What the caller makes of an item, given the agreement as it is just before the item
/// is decided (unregistered: `registration()` is `None`).
#[derive(Debug)]
pub enum Prepared {
    Run(AgreementCommand),
    /// Not run, and why.
    Skip(String),
}

/// What a chunk may do before the numbering lock, besides loading its agreements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadAhead {
    /// Nothing more: `prepare` is called only when an item is decided (it may record
    /// what it saw, as the statement import's notes).
    Nothing,
    /// Also the usage records of each agreement's first usage invoice, found by calling
    /// `prepare` on the agreement as loaded (so `prepare` must be free of side effects);
    /// they are used if the invoice's window is unchanged when it is decided (the
    /// billing run, BILLING.md 4).
    UsageRecords,
}

/// What became of one item of a batch.
#[derive(Debug)]
pub enum BatchOutcome {
    /// Recorded: the command and the events it recorded.
    Recorded {
        command: AgreementCommand,
        events: Vec<AgreementEvent>,
    },
    /// The aggregate recognised a repeat (a payment reference recorded before with the
    /// same content): nothing recorded.
    Repeat { command: AgreementCommand },
    /// The aggregate refused it: nothing recorded.
    Refused {
        command: AgreementCommand,
        refusal: AgreementError,
    },
    /// `prepare` skipped it.
    Skipped(String),
}

/// A chunk's write failed on a race: run its commands one by one.
enum ChunkFailed {
    Conflict,
    Ledger(LedgerError),
}

impl From<LedgerError> for ChunkFailed {
    fn from(error: LedgerError) -> Self {
        Self::Ledger(error)
    }
}

impl From<crate::store::StoreError> for ChunkFailed {
    fn from(error: crate::store::StoreError) -> Self {
        Self::Ledger(error.into())
    }
}

impl Ledger {
    /// Runs `work` (items per agreement, in order) through the batched write path; each
    /// item becomes a command by `prepare` on the agreement's state just before it.
    /// Returns every item with its outcome, agreements in the order given. `on_chunk`
    /// sees each chunk's items with their outcomes as the chunk is written (agreements
    /// grouped by write stripe, not in the order given), and the number of items done so
    /// far. Fails only on a store error (what earlier
    /// chunks recorded stays recorded: each item is idempotent by its own reference).
    pub async fn execute_batch<T, P>(
        self: &Arc<Self>,
        work: Vec<(ParticipantId, Vec<T>)>,
        context: &CommandContext,
        prepare: Arc<P>,
        read_ahead: ReadAhead,
        mut on_chunk: impl FnMut(&[(ParticipantId, Vec<(T, BatchOutcome)>)], usize),
    ) -> Result<Vec<(ParticipantId, Vec<(T, BatchOutcome)>)>, LedgerError>
    where
        P: Fn(&ParticipantAgreement, &T) -> Prepared + Send + Sync + 'static,
        T: Send + Sync + 'static,
    {
        // Agreements grouped by write stripe, and a chunk closed only where the stripe
        // changes (up to twice the limits): chunks then lock disjoint stripes, so the
        // ones running at once never wait for each other's locks (chunks cut at random
        // would nearly always share one, and run one after another).
        let mut work: Vec<(usize, usize, (ParticipantId, Vec<T>))> = work
            .into_iter()
            .enumerate()
            .map(|(index, entry)| (stripe_of(&entry.0), index, entry))
            .collect();
        work.sort_by_key(|(stripe, index, _)| (*stripe, *index));
        let mut chunks = Vec::new();
        let mut given_order = Vec::new();
        let mut remaining = work.into_iter().peekable();
        while remaining.peek().is_some() {
            let (mut chunk, mut indices) = (Vec::new(), Vec::new());
            let mut commands = 0;
            let mut last_stripe = None;
            while let Some((stripe, _, (_, items))) = remaining.peek() {
                let beyond = |factor: usize| {
                    chunk.len() >= factor * BATCH_AGREEMENTS_MAX
                        || commands + items.len() > factor * BATCH_COMMANDS_MAX
                };
                if !chunk.is_empty() && (beyond(2) || (beyond(1) && last_stripe != Some(*stripe))) {
                    break;
                }
                let (stripe, index, entry) = remaining.next().expect("peeked");
                commands += entry.1.len();
                last_stripe = Some(stripe);
                chunk.push(entry);
                indices.push(index);
            }
            chunks.push(chunk);
            given_order.push(indices);
        }
        // Chunks hold disjoint agreements: a few at once, each a task of its own (so that
        // their deciding and sealing use every core, and one decides while another waits
        // for the store; their stripe locks, each taken in ascending order, never wait on
        // each other in a cycle). Outcomes come back in the given order.
        let mut written = futures::stream::iter(chunks.into_iter().map(|chunk| {
            let (ledger, context, prepare) = (self.clone(), context.clone(), prepare.clone());
            tokio::spawn(async move {
                let outcomes = match ledger
                    .run_chunk(&chunk, &context, &*prepare, read_ahead)
                    .await
                {
                    Ok(outcomes) => outcomes,
                    Err(ChunkFailed::Conflict) => {
                        tracing::debug!(
                            agreements = chunk.len(),
                            "batch write conflict, recording the chunk one by one"
                        );
                        crate::metrics::record_conflict();
                        ledger.run_one_by_one(&chunk, &context, &*prepare).await?
                    }
                    Err(ChunkFailed::Ledger(error)) => return Err(error),
                };
                Ok((chunk, outcomes))
            })
        }))
        .buffered(self.batch_concurrency());
        let mut done = Vec::new();
        let mut items_done = 0;
        let mut given_order = given_order.into_iter();
        let mut indices = Vec::new();
        while let Some(chunk) = written.next().await {
            indices.extend(given_order.next().expect("one list of indices a chunk"));
            let (chunk, outcomes) = match chunk {
                Ok(written) => written?,
                Err(joined) if joined.is_panic() => std::panic::resume_unwind(joined.into_panic()),
                Err(joined) => {
                    return Err(LedgerError::Render(format!(
                        "a batch chunk was cancelled: {joined}"
                    )))
                }
            };
            let first = done.len();
            for ((participant, items), outcomes) in chunk.into_iter().zip(outcomes) {
                items_done += items.len();
                done.push((participant, items.into_iter().zip(outcomes).collect()));
            }
            on_chunk(&done[first..], items_done);
        }
        // Back in the order given.
        let mut done: Vec<_> = indices.into_iter().zip(done).collect();
        done.sort_by_key(|(index, _)| *index);
        Ok(done.into_iter().map(|(_, entry)| entry).collect())
    }

    /// How many chunks run at once: [`BATCH_CONCURRENCY`] on PostgreSQL (half its pool, so
    /// commands keep connections of their own); 2 on SQLite, whose appends take its one
    /// write lock in turn anyway and whose pool is smaller.
    fn batch_concurrency(&self) -> usize {
        match self.repository.location() {
            crate::store::StoreLocation::Postgres(_) => BATCH_CONCURRENCY,
            crate::store::StoreLocation::Sqlite(_) => 2,
        }
    }

    /// One chunk: locks, loads, decides, seals, appends in one transaction.
    async fn run_chunk<T, P>(
        &self,
        chunk: &[(ParticipantId, Vec<T>)],
        context: &CommandContext,
        prepare: &P,
        read_ahead: ReadAhead,
    ) -> Result<Vec<Vec<BatchOutcome>>, ChunkFailed>
    where
        P: Fn(&ParticipantAgreement, &T) -> Prepared,
    {
        let mut stripes: Vec<usize> = chunk.iter().map(|(p, _)| stripe_of(p)).collect();
        stripes.sort_unstable();
        stripes.dedup();
        let mut _locks = Vec::with_capacity(stripes.len());
        for stripe in stripes {
            _locks.push(self.agreement_writes[stripe].lock().await);
        }
        let closed_through = self.closed_through().await?;
        // Before any connection is held (`load` holds one).
        let tariffs = self.tariffs().catalog().await?;
        let mut connection: Option<crate::store::CommandConnection> = None;
        // The numbering lock and the next number, from the chunk's first document on; the
        // chunk numbered before this one, when it had not committed yet.
        let mut numbering: Option<(NumberingTurn<'_>, events::InvoiceNumber)> = None;
        let mut predecessor: Option<Predecessor> = None;
        // The numbers the chunk's documents take: (number, stream, event in the stream).
        let mut claims: Vec<(events::InvoiceNumber, usize, usize)> = Vec::new();
        let mut streams: Vec<(Vec<SerializedEvent>, Option<LedgerRow>)> = Vec::new();
        let mut outcomes = Vec::with_capacity(chunk.len());
        let mut earliest_posting: Option<time::Date> = None;
        // First, before the numbering lock (so other chunks decide and write meanwhile):
        // every agreement loaded, one after another (`load` checks out a connection: the
        // previous one is given back first), with (`ReadAhead::UsageRecords`) the records
        // its first usage invoice would count on the agreement as loaded.
        let mut loaded_chunk = Vec::with_capacity(chunk.len());
        for (participant, items) in chunk {
            drop(connection.take());
            let (mut held, loaded): (_, Loaded) = self.load(participant).await?;
            let mut usage = None;
            for item in items
                .iter()
                .filter(|_| read_ahead == ReadAhead::UsageRecords)
            {
                if let Prepared::Run(command) = prepare(&loaded.ledger.agreement, item) {
                    if let Some(window) = usage_window(&loaded, &command)? {
                        let records = self
                            .usage_records_in(&mut held, participant, &window)
                            .await?;
                        usage = Some((window, records));
                        break;
                    }
                }
            }
            connection = Some(held);
            loaded_chunk.push((loaded, usage));
        }
        // Then each agreement's commands decided and sealed in order on the last
        // connection, the numbering lock taken at the chunk's first document.
        for ((participant, items), (mut loaded, mut usage)) in chunk.iter().zip(loaded_chunk) {
            let mut serialized = Vec::new();
            let mut item_outcomes = Vec::with_capacity(items.len());
            // The working copy each command decides on: after a recorded command it is
            // what sealing made of the loaded agreement (the same events applied), so it
            // is cloned again only after a refusal (which may leave it part way).
            let mut working = loaded.ledger.agreement.clone();
            for item in items {
                let command = match prepare(&loaded.ledger.agreement, item) {
                    Prepared::Skip(reason) => {
                        item_outcomes.push(BatchOutcome::Skipped(reason));
                        continue;
                    }
                    Prepared::Run(command) => command,
                };
                let held = connection.as_mut().expect("a connection after load");
                // A usage invoice counts the records read ahead when its window is still
                // theirs (nothing decided before it in the chunk changed what the
                // agreement counted), else reads them now.
                let command = match usage_window(&loaded, &command)? {
                    None => command,
                    Some(window) => {
                        let records = match usage.take() {
                            Some((read_for, records)) if read_for == window => records,
                            _ => self.usage_records_in(held, participant, &window).await?,
                        };
                        with_records(&command, records)
                    }
                };
                let mut decision = self
                    .decide_on(
                        &mut working,
                        &loaded.reference,
                        &command,
                        numbering.as_ref().map(|(_, next)| *next),
                        closed_through,
                        &tariffs,
                    )
                    .await;
                if numbering.is_none()
                    && command.takes_invoice_number()
                    && matches!(
                        decision,
                        Err(LedgerError::Refused(
                            AgreementError::NoInvoiceNumberReserved
                        ))
                    )
                {
                    let (turn, handed_on) = self.invoice_numbering.turn().await;
                    let next = match handed_on {
                        Some((next, writing)) => {
                            predecessor = Some(writing);
                            next
                        }
                        None => self.repository.next_invoice_number_on(held).await?,
                    };
                    numbering = Some((turn, next));
                    working = loaded.ledger.agreement.clone();
                    decision = self
                        .decide_on(
                            &mut working,
                            &loaded.reference,
                            &command,
                            Some(next),
                            closed_through,
                            &tariffs,
                        )
                        .await;
                }
                match decision {
                    Err(LedgerError::Refused(refusal)) => {
                        working = loaded.ledger.agreement.clone();
                        item_outcomes.push(BatchOutcome::Refused { command, refusal });
                    }
                    Err(error) => return Err(error.into()),
                    Ok(decided) if decided.is_empty() => {
                        item_outcomes.push(BatchOutcome::Repeat { command });
                    }
                    Ok(decided) => {
                        let posting = decided.iter().filter_map(AgreementEvent::posted_on).min();
                        earliest_posting = match (earliest_posting, posting) {
                            (Some(a), Some(b)) => Some(a.min(b)),
                            (a, b) => a.or(b),
                        };
                        // Which of the decided events take a number (sealed one for one).
                        let taken: Vec<(usize, events::InvoiceNumber)> = decided
                            .iter()
                            .enumerate()
                            .filter_map(|(at, event)| {
                                super::seal::claimed_invoice_number(event).map(|n| (at, n))
                            })
                            .collect();
                        let first_event = serialized.len();
                        let recorded = decided.clone();
                        let sealed =
                            self.seal_onto(participant, &mut loaded, decided, &command, context)?;
                        if !taken.is_empty() {
                            let Some((_, next)) = numbering.as_mut() else {
                                return Err(ChunkFailed::Ledger(LedgerError::Render(
                                    "a document numbered without the numbering lock".to_owned(),
                                )));
                            };
                            for (at, number) in taken {
                                assert_eq!(
                                    number, *next,
                                    "a batch's documents take consecutive numbers"
                                );
                                claims.push((number, streams.len(), first_event + at));
                                *next = next.next().ok_or_else(|| {
                                    LedgerError::Render(
                                        "the invoice number series is exhausted".to_owned(),
                                    )
                                })?;
                            }
                        }
                        debug_assert!(
                            working == loaded.ledger.agreement,
                            "the working copy decided on is the sealed agreement"
                        );
                        item_outcomes.push(BatchOutcome::Recorded {
                            events: recorded,
                            command,
                        });
                        serialized.extend(sealed);
                    }
                }
            }
            if !serialized.is_empty() {
                let row = LedgerRow::of(&loaded.ledger)?;
                streams.push((serialized, row));
            }
            outcomes.push(item_outcomes);
        }
        let Some(mut connection) = connection else {
            return Ok(outcomes);
        };
        // Every document is numbered and sealed: the lock goes to the next chunk with the
        // number after this chunk's last (`numbering`), and this one appends once the
        // chunk numbered before it has committed.
        let commit_signal = match numbering.take() {
            Some((turn, next)) if !claims.is_empty() => Some(numbering::hand_on(turn, next)),
            _ => None,
        };
        if let Some(predecessor) = predecessor.filter(|_| commit_signal.is_some()) {
            if !predecessor.committed().await {
                return Err(ChunkFailed::Conflict);
            }
        }
        // BILLING.md 5.4, as the command loop does: postings in a month before this one
        // are checked against the months closed, afresh and again in the append.
        let month_start = self.clock.today().replace_day(1).expect("day 1 exists");
        let guard = match earliest_posting.filter(|posting| *posting < month_start) {
            Some(earliest_posting) => {
                if self.closed_through_now_on(&mut connection).await? != closed_through {
                    return Err(ChunkFailed::Conflict);
                }
                Some(PeriodGuard { earliest_posting })
            }
            None => None,
        };
        let claims: Vec<(events::InvoiceNumber, &SerializedEvent)> = claims
            .iter()
            .map(|(number, stream, event)| (*number, &streams[*stream].0[*event]))
            .collect();
        let streams: Vec<(&[SerializedEvent], Option<&LedgerRow>)> = streams
            .iter()
            .map(|(events, row)| (events.as_slice(), row.as_ref()))
            .collect();
        match self
            .repository
            .append_streams(&mut connection, &streams, &claims, guard)
            .await
        {
            Ok(()) => {
                if let Some(signal) = commit_signal {
                    signal.committed();
                }
                for outcome in outcomes.iter().flatten() {
                    if let BatchOutcome::Recorded { command, .. } = outcome {
                        crate::metrics::record_command(command.name());
                    }
                }
                Ok(outcomes)
            }
            Err(AppendError::Conflict(_)) => Err(ChunkFailed::Conflict),
            Err(AppendError::Store(error)) => Err(error.into()),
        }
    }

    /// A chunk whose batched write lost a race: each item through the command loop.
    async fn run_one_by_one<T, P>(
        &self,
        chunk: &[(ParticipantId, Vec<T>)],
        context: &CommandContext,
        prepare: &P,
    ) -> Result<Vec<Vec<BatchOutcome>>, LedgerError>
    where
        P: Fn(&ParticipantAgreement, &T) -> Prepared,
    {
        let mut outcomes = Vec::with_capacity(chunk.len());
        for (participant, items) in chunk {
            let mut item_outcomes = Vec::with_capacity(items.len());
            for item in items {
                let (connection, loaded) = self.load(participant).await?;
                drop(connection);
                let command = match prepare(&loaded.ledger.agreement, item) {
                    Prepared::Skip(reason) => {
                        item_outcomes.push(BatchOutcome::Skipped(reason));
                        continue;
                    }
                    Prepared::Run(command) => command,
                };
                item_outcomes.push(
                    match self.execute(participant, command.clone(), context).await {
                        Ok(committed) if committed.events.is_empty() => {
                            BatchOutcome::Repeat { command }
                        }
                        Ok(committed) => BatchOutcome::Recorded {
                            events: committed.events.into_iter().map(|e| e.payload).collect(),
                            command,
                        },
                        Err(LedgerError::Refused(refusal)) => {
                            BatchOutcome::Refused { command, refusal }
                        }
                        Err(error) => return Err(error),
                    },
                );
            }
            outcomes.push(item_outcomes);
        }
        Ok(outcomes)
    }
}
