//! Running commands against the event store: load, decide, append, retry on conflict.
//!
//! This replaces cqrs-es's `CqrsFramework::execute`, which returns nothing (no events, no
//! new version), copies one metadata map onto every event, never retries a conflict and
//! updates queries outside the commit (CQRS-ES-NOTES.md). The aggregate, its `handle`, the
//! `EventSink`, the persisted event store and its upcasters are cqrs-es's own.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::{PersistedEventStore, SerializedEvent};
use cqrs_es::{Aggregate, AggregateError, EventEnvelope, EventStore};
use time::{Date, OffsetDateTime, UtcOffset};

use aggregates::{AgreementError, AgreementServices, ParticipantAgreement, ReferenceData};
use commands::AgreementCommand;
use events::{AgreementEvent, ParticipantId};

use crate::store::{
    AppendError, CommandConnection, LedgerEventRepository, LedgerRow, StoreError, StoredEvent,
};
use cqrs_es::View;
use projections::AgreementLedger;

/// How often a command that lost a race is decided again before the caller gets a 409.
pub const COMMAND_ATTEMPTS_MAX: u32 = 50;

/// Kazakhstan's offset from UTC since 2024-03-01 (DOMAIN.md): business dates are dates there.
pub const KAZAKHSTAN_OFFSET_HOURS: i8 = 5;

/// The source of the current time: the only clock the ledger reads.
pub trait Clock: Send + Sync {
    fn now_utc(&self) -> OffsetDateTime;

    /// Today's business date in Kazakhstan.
    fn today(&self) -> Date {
        let offset = UtcOffset::from_hms(KAZAKHSTAN_OFFSET_HOURS, 0, 0).expect("a valid offset");
        self.now_utc().to_offset(offset).date()
    }
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_utc(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// Who asked for a command and under which request: recorded in every event's metadata.
#[derive(Debug, Clone)]
pub struct CommandContext {
    pub actor: String,
    pub request_id: String,
    /// Set when the command is a dunning sweep's step: its id and date.
    pub sweep: Option<SweepMark>,
    /// Set when the request carried an Idempotency-Key.
    pub idempotency: Option<IdempotencyClaim>,
}

/// A request's Idempotency-Key and the fingerprint of what it asked (API.md "Retries
/// are safe").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyClaim {
    pub key: String,
    /// SHA-256 (hex) of the method, path and body.
    pub fingerprint: String,
}

/// A command's answer as the API sends it: fresh, or the first answer given under the
/// same Idempotency-Key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    /// True when this is a stored first answer and nothing was recorded now.
    pub replayed: bool,
}

/// How a command's answer is written from what it recorded (the HTTP handler's view).
pub type RenderAnswer<'a> = dyn Fn(&Committed) -> Result<(u16, String), String> + Send + Sync + 'a;

/// How long an Idempotency-Key is kept by default (API.md; configurable).
pub const IDEMPOTENCY_TTL_DEFAULT: Duration = Duration::from_secs(24 * 60 * 60);

/// Which sweep recorded an event (in its metadata).
#[derive(Debug, Clone)]
pub struct SweepMark {
    pub id: String,
    pub as_of: Date,
}

/// The keys of an event's metadata (in their own module, shared with the reference
/// stream).
pub use crate::event_metadata as metadata;

/// What a command recorded, and the agreement after it.
#[derive(Debug)]
pub struct Committed {
    /// Empty when the command changed nothing (a repeated payment reference).
    pub events: Vec<EventEnvelope<ParticipantAgreement>>,
    pub agreement: ParticipantAgreement,
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(transparent)]
    Refused(#[from] AgreementError),
    #[error("the command lost {attempts} races with concurrent writes to the same agreement; nothing was recorded, retry later")]
    ConflictRetriesExhausted { attempts: u32 },
    #[error("the Idempotency-Key `{key}` was first used with another request (method, path or body); a key names one request")]
    IdempotencyKeyReused { key: String },
    #[error("the answer could not be written: {0}")]
    Render(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<AggregateError<AgreementError>> for LedgerError {
    fn from(error: AggregateError<AgreementError>) -> Self {
        match error {
            AggregateError::UserError(refusal) => Self::Refused(refusal),
            AggregateError::AggregateConflict => Self::ConflictRetriesExhausted { attempts: 1 },
            // The store adapters box sqlx's errors: unbox them, so an outage (a pool
            // timeout, a dropped connection, PostgreSQL shutting down) is told apart from
            // a fault and answered 503.
            AggregateError::DatabaseConnectionError(e) => match e.downcast::<sqlx::Error>() {
                Ok(error) => Self::Store(StoreError::from(*error)),
                Err(e) => Self::Store(StoreError::Unavailable(sqlx::Error::Protocol(
                    e.to_string(),
                ))),
            },
            AggregateError::DeserializationError(e) => {
                Self::Store(StoreError::Corrupt(format!("an event cannot be read: {e}")))
            }
            AggregateError::UnexpectedError(e) => match e.downcast::<sqlx::Error>() {
                Ok(error) => Self::Store(StoreError::from(*error)),
                Err(e) => Self::Store(StoreError::Corrupt(e.to_string())),
            },
        }
    }
}

/// The write lock stripe of an agreement: FNV-1a over its BIN/IIN (stable, no seed).
fn stripe_of(participant: &ParticipantId) -> usize {
    let hash = participant
        .as_str()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
        });
    (hash % AGREEMENT_WRITE_STRIPES as u64) as usize
}

/// The ledger: commands in, events recorded; agreements read back.
pub struct Ledger {
    repository: LedgerEventRepository,
    event_store: PersistedEventStore<LedgerEventRepository, ParticipantAgreement>,
    reference: ReferenceSource,
    clock: Arc<dyn Clock>,
    /// Serializes invoice issuance within this process, so that concurrent invoices take
    /// consecutive numbers without losing races; across processes the counter's
    /// compare-and-set keeps numbers unique and gapless on its own.
    invoice_numbering: tokio::sync::Mutex<()>,
    /// Serializes commands on one agreement within this process (striped by agreement,
    /// [`AGREEMENT_WRITE_STRIPES`] locks, so memory stays fixed): concurrent commands on a
    /// busy agreement queue instead of each deciding on a state that another then
    /// changes, which made N concurrent payments cost O(N^2) decisions. Across processes
    /// the optimistic check on the event sequence still decides, as before.
    agreement_writes: Box<[tokio::sync::Mutex<()>]>,
    idempotency_ttl: Duration,
}

/// Where a ledger takes its reference tables from.
enum ReferenceSource {
    /// Tables fixed for the ledger's life (tools and tests that record no versions).
    Fixed(Arc<ReferenceData>),
    /// The reference stream of the store, as the server reads it (BILLING.md 1).
    Book(Arc<crate::reference_book::ReferenceBook>),
}

/// How many locks [`Ledger`]'s commands on agreements are striped over. Two agreements
/// on one stripe wait for each other; with at most 16 store connections that is rare.
pub const AGREEMENT_WRITE_STRIPES: usize = 1024;

impl Ledger {
    pub fn new(
        repository: LedgerEventRepository,
        reference: Arc<ReferenceData>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            event_store: PersistedEventStore::new_event_store(repository.clone())
                .with_upcasters(events::upcast::upcasters()),
            repository,
            reference: ReferenceSource::Fixed(reference),
            clock,
            invoice_numbering: tokio::sync::Mutex::new(()),
            agreement_writes: (0..AGREEMENT_WRITE_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            idempotency_ttl: IDEMPOTENCY_TTL_DEFAULT,
        }
    }

    /// Takes the reference tables from the store's reference stream: every command and
    /// query uses the versions in force when it runs.
    pub fn with_reference_book(mut self, book: Arc<crate::reference_book::ReferenceBook>) -> Self {
        self.reference = ReferenceSource::Book(book);
        self
    }

    /// The reference stream, when the ledger reads one.
    pub fn reference_book(&self) -> Option<&Arc<crate::reference_book::ReferenceBook>> {
        match &self.reference {
            ReferenceSource::Fixed(_) => None,
            ReferenceSource::Book(book) => Some(book),
        }
    }

    /// The reference tables in force now.
    pub async fn reference(&self) -> Result<Arc<ReferenceData>, StoreError> {
        match &self.reference {
            ReferenceSource::Fixed(data) => Ok(data.clone()),
            ReferenceSource::Book(book) => book.current().await,
        }
    }

    /// The cached tables, when they are at `sequence` (the reference stream's last
    /// sequence as just read with other data); `None` when a reload is needed.
    pub fn reference_cached_at(&self, sequence: Option<i64>) -> Option<Arc<ReferenceData>> {
        match &self.reference {
            ReferenceSource::Fixed(data) => Some(data.clone()),
            ReferenceSource::Book(book) => {
                let cached = book.cached();
                (Some(cached.last_sequence) == sequence).then(|| cached.data.clone())
            }
        }
    }

    /// The tables in force at `sequence` of the reference stream (read with other data):
    /// the cached ones, or the stream reloaded.
    pub async fn reference_at(&self, sequence: i64) -> Result<Arc<ReferenceData>, StoreError> {
        match self.reference_cached_at(Some(sequence)) {
            Some(data) => Ok(data),
            None => self.reference().await,
        }
    }

    /// Keeps Idempotency-Keys for `ttl` instead of [`IDEMPOTENCY_TTL_DEFAULT`].
    pub fn with_idempotency_ttl(mut self, ttl: Duration) -> Self {
        self.idempotency_ttl = ttl;
        self
    }

    /// Runs a command like [`Self::execute`] and writes its answer with `render`. With an
    /// Idempotency-Key in `context`, the answer is stored in the transaction that records
    /// the events; a repeat of the key with the same request gets that answer back and
    /// records nothing, with another request [`LedgerError::IdempotencyKeyReused`]. A
    /// refused command stores nothing, so its retry is decided again.
    pub async fn execute_answered(
        &self,
        participant: &ParticipantId,
        command: AgreementCommand,
        context: &CommandContext,
        render: &RenderAnswer<'_>,
    ) -> Result<Answer, LedgerError> {
        let (_, answer) = self
            .run(participant, command, context, Some(render))
            .await?;
        answer.ok_or_else(|| LedgerError::Render("no answer was written".to_owned()))
    }

    /// Stores `answer` under the context's Idempotency-Key (if any) for a command that
    /// is not one agreement's (a sweep); if a concurrent request stored one first, that
    /// one is the answer.
    pub async fn remember_answer(
        &self,
        context: &CommandContext,
        answer: Answer,
    ) -> Result<Answer, LedgerError> {
        let Some(record) = self.idempotency_record(context, &answer) else {
            return Ok(answer);
        };
        match self
            .repository
            .append_with(&[], &[], None, Some(&record))
            .await
        {
            Ok(()) => Ok(answer),
            Err(AppendError::Conflict(_)) => {
                Ok(self.stored_answer(context).await?.unwrap_or(answer))
            }
            Err(AppendError::Store(error)) => Err(error.into()),
        }
    }

    /// The first answer stored under the context's key, if there is one.
    pub async fn stored_answer(
        &self,
        context: &CommandContext,
    ) -> Result<Option<Answer>, LedgerError> {
        let Some(claim) = &context.idempotency else {
            return Ok(None);
        };
        let now = self.clock.now_utc().unix_timestamp();
        match self.repository.idempotent_answer(&claim.key, now).await? {
            Some((fingerprint, _, _)) if fingerprint != claim.fingerprint => {
                Err(LedgerError::IdempotencyKeyReused {
                    key: claim.key.clone(),
                })
            }
            Some((_, status, body)) => Ok(Some(Answer {
                status,
                body,
                replayed: true,
            })),
            None => Ok(None),
        }
    }

    pub(crate) fn idempotency_record(
        &self,
        context: &CommandContext,
        answer: &Answer,
    ) -> Option<crate::store::IdempotencyRecord> {
        let claim = context.idempotency.as_ref()?;
        let now = self.clock.now_utc().unix_timestamp();
        let ttl = i64::try_from(self.idempotency_ttl.as_secs()).unwrap_or(i64::MAX / 2);
        Some(crate::store::IdempotencyRecord {
            key: claim.key.clone(),
            fingerprint: claim.fingerprint.clone(),
            status: answer.status,
            body: answer.body.clone(),
            now,
            expires_at: now.saturating_add(ttl),
        })
    }

    pub fn repository(&self) -> &LedgerEventRepository {
        &self.repository
    }

    /// The time now, by the ledger's clock.
    pub fn now_utc(&self) -> OffsetDateTime {
        self.clock.now_utc()
    }

    pub fn today(&self) -> Date {
        self.clock.today()
    }

    /// The current time in Kazakhstan (UTC+5).
    pub fn now_in_kazakhstan(&self) -> OffsetDateTime {
        let offset = UtcOffset::from_hms(KAZAKHSTAN_OFFSET_HOURS, 0, 0).expect("a valid offset");
        self.clock.now_utc().to_offset(offset)
    }

    /// Runs a command to completion: decides it on the latest state and appends what it
    /// records in one transaction; on a conflicting concurrent write, decides again on
    /// the new state, at most [`COMMAND_ATTEMPTS_MAX`] times. A refusal records nothing.
    pub async fn execute(
        &self,
        participant: &ParticipantId,
        command: AgreementCommand,
        context: &CommandContext,
    ) -> Result<Committed, LedgerError> {
        let (committed, _) = self.run(participant, command, context, None).await?;
        committed.ok_or_else(|| {
            LedgerError::Render("a stored answer was found without rendering".to_owned())
        })
    }

    /// The command loop; with `render`, also the answer (stored under the context's
    /// Idempotency-Key with the events). Returns the committed events unless the answer
    /// is a stored one.
    async fn run(
        &self,
        participant: &ParticipantId,
        command: AgreementCommand,
        context: &CommandContext,
        render: Option<&RenderAnswer<'_>>,
    ) -> Result<(Option<Committed>, Option<Answer>), LedgerError> {
        let issues_invoice = matches!(command, AgreementCommand::IssueInvoice(_));
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
        // The agreement's stripe first, then (for an invoice) the numbering lock: always
        // in this order, so the two never wait on each other in a cycle.
        let _agreement_write = self.agreement_writes[stripe_of(participant)].lock().await;
        for attempt in 1..=COMMAND_ATTEMPTS_MAX {
            if render.is_some() {
                if let Some(stored) = self.stored_answer(context).await? {
                    return Ok((None, Some(stored)));
                }
            }
            let _numbering = if issues_invoice {
                Some(self.invoice_numbering.lock().await)
            } else {
                None
            };
            // The agreement's state: its stored projection (written in the transaction of
            // its last events, so exactly at their sequence) when it is intact and
            // current, else a fold of every event. The aggregate decides on it, and the
            // projection written with the new events continues from it.
            // One connection serves the attempt's reads and its write. Never two at once:
            // a fold reads through the pool, so the held one is given back first.
            // The reference tables in force come with the state: its read also returns
            // the reference stream's last sequence, so the cached tables are used when
            // they are current, and a version published meanwhile is loaded first.
            let mut connection = self.repository.command_connection().await?;
            let (stored, reference_sequence) =
                self.stored_state(&mut connection, participant).await?;
            let ((mut ledger, head_hash), reference) =
                match (stored, self.reference_cached_at(reference_sequence)) {
                    (Some(state), Some(reference)) => (state, reference),
                    (stored, _) => {
                        drop(connection);
                        let reference = self.reference().await?;
                        let state = match stored {
                            Some(state) => state,
                            None => self.folded_state(participant).await?,
                        };
                        connection = self.repository.command_connection().await?;
                        (state, reference)
                    }
                };
            let mut agreement = ledger.agreement.clone();
            let current_sequence = usize::try_from(ledger.version).unwrap_or(usize::MAX);
            let next_invoice_number = if issues_invoice {
                Some(
                    self.repository
                        .next_invoice_number_on(&mut connection)
                        .await?,
                )
            } else {
                None
            };
            let services = AgreementServices {
                reference,
                today: self.clock.today(),
                next_invoice_number,
            };
            let sink = EventSink::default();
            agreement.handle(command.clone(), &services, &sink).await?;
            let decided = sink.collect().await;
            if decided.is_empty() {
                let committed = Committed {
                    events: Vec::new(),
                    agreement,
                };
                let answer = answer_of(&committed)?;
                let record = answer
                    .as_ref()
                    .and_then(|answer| self.idempotency_record(context, answer));
                match self
                    .repository
                    .append_on(&mut connection, &[], &[], None, record.as_ref())
                    .await
                {
                    Ok(()) => return Ok((Some(committed), answer)),
                    Err(AppendError::Conflict(_)) => continue,
                    Err(AppendError::Store(error)) => return Err(error.into()),
                }
            }

            let envelopes =
                self.envelopes(participant, current_sequence, decided, &command, context);
            for envelope in &envelopes {
                ledger.update(envelope);
            }
            let ledger_row = LedgerRow::of(&ledger)?;
            let mut serialized = envelopes
                .iter()
                .map(SerializedEvent::try_from)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| StoreError::Corrupt(format!("an event cannot be written: {e}")))?;
            // The hash chain (tamper evidence): each event's hash covers its content and
            // the previous event's hash, computed here as the events are recorded.
            crate::hash_chain::chain(&mut serialized, head_hash);
            let claimed: Vec<_> = envelopes
                .iter()
                .filter_map(|e| match &e.payload {
                    AgreementEvent::InvoiceIssued(invoice) => Some(invoice.number),
                    _ => None,
                })
                .collect();
            let committed = Committed {
                events: envelopes,
                agreement,
            };
            let answer = answer_of(&committed)?;
            let record = answer
                .as_ref()
                .and_then(|answer| self.idempotency_record(context, answer));
            match self
                .repository
                .append_on(
                    &mut connection,
                    &serialized,
                    &claimed,
                    ledger_row.as_ref(),
                    record.as_ref(),
                )
                .await
            {
                Ok(()) => {
                    crate::metrics::record_command(command.name());
                    return Ok((Some(committed), answer));
                }
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

    /// The agreement's state from its stored projection, with the hash of its last
    /// event: `None` (fold the events instead) when there is no stored projection, it
    /// cannot be read, or it is not at the sequence of the agreement's last event.
    /// The agreement's stored state when it is intact and current, and the reference
    /// stream's last sequence read with it (`None` when there is no stored row).
    async fn stored_state(
        &self,
        connection: &mut CommandConnection,
        participant: &ParticipantId,
    ) -> Result<(Option<(AgreementLedger, String)>, Option<i64>), LedgerError> {
        let Some(state) = self
            .repository
            .agreement_state(connection, participant.as_str())
            .await?
        else {
            return Ok((None, None));
        };
        let reference_sequence = Some(state.reference_sequence);
        Ok((self.current_stored(state, participant), reference_sequence))
    }

    fn current_stored(
        &self,
        state: crate::store::StoredAgreementState,
        participant: &ParticipantId,
    ) -> Option<(AgreementLedger, String)> {
        let Ok(ledger) = state.row.decode() else {
            tracing::warn!(participant = %participant, "stored projection unreadable; folding the events (run `edoc-ledger replay`)");
            return None;
        };
        if ledger.version == 0 {
            return None;
        }
        // The projection must be at the agreement's last event, whose hash the next event
        // chains to.
        let at_last_event = state
            .last_sequence
            .and_then(|last| u64::try_from(last).ok())
            == Some(ledger.version);
        match state.head_hash {
            Some(hash) if at_last_event => Some((ledger, hash)),
            _ => {
                tracing::warn!(participant = %participant, "stored projection behind its events; folding the events (run `edoc-ledger replay --check`)");
                None
            }
        }
    }

    /// The agreement's state folded from every event, with the hash of its last event
    /// (the genesis value before the first).
    async fn folded_state(
        &self,
        participant: &ParticipantId,
    ) -> Result<(AgreementLedger, String), LedgerError> {
        let history = self.event_store.load_events(participant.as_str()).await?;
        let mut ledger = AgreementLedger::default();
        for envelope in &history {
            ledger.update(envelope);
        }
        let head_hash = history
            .last()
            .and_then(|e| e.metadata.get(crate::hash_chain::HASH_KEY).cloned())
            .unwrap_or_else(|| crate::hash_chain::GENESIS.to_owned());
        Ok((ledger, head_hash))
    }

    fn envelopes(
        &self,
        participant: &ParticipantId,
        last_sequence: usize,
        decided: Vec<AgreementEvent>,
        command: &AgreementCommand,
        context: &CommandContext,
    ) -> Vec<EventEnvelope<ParticipantAgreement>> {
        let recorded_at = self
            .clock
            .now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        decided
            .into_iter()
            .zip(last_sequence + 1..)
            .map(|(payload, sequence)| {
                let mut metadata = HashMap::from([
                    (metadata::ACTOR.to_owned(), context.actor.clone()),
                    (metadata::RECORDED_AT.to_owned(), recorded_at.clone()),
                    (metadata::REQUEST_ID.to_owned(), context.request_id.clone()),
                    (
                        metadata::CLAUSE.to_owned(),
                        payload.clause().as_str().to_owned(),
                    ),
                    (metadata::COMMAND.to_owned(), command.name().to_owned()),
                ]);
                if let Some(sweep) = &context.sweep {
                    metadata.insert(metadata::SWEEP_ID.to_owned(), sweep.id.clone());
                    metadata.insert(
                        metadata::SWEEP_AS_OF.to_owned(),
                        events::business_date::format(sweep.as_of),
                    );
                }
                EventEnvelope {
                    aggregate_id: participant.as_str().to_owned(),
                    sequence,
                    payload,
                    metadata,
                }
            })
            .collect()
    }

    /// The agreement as its events make it now; `None` when it was never registered.
    pub async fn agreement(
        &self,
        participant: &ParticipantId,
    ) -> Result<Option<ParticipantAgreement>, LedgerError> {
        let loaded = self
            .event_store
            .load_aggregate(participant.as_str())
            .await?;
        Ok(loaded
            .aggregate
            .registration()
            .is_some()
            .then_some(loaded.aggregate))
    }

    /// The agreement's stored events, in order.
    pub async fn events(
        &self,
        participant: &ParticipantId,
    ) -> Result<Vec<StoredEvent>, LedgerError> {
        Ok(self
            .repository
            .stored_events(ParticipantAgreement::TYPE, participant.as_str())
            .await?)
    }
}

/// A short, jittered pause before deciding again, growing with each lost race.
fn backoff(attempt: u32) -> Duration {
    let jitter = u64::from(uuid::Uuid::new_v4().as_u128() as u16 % 1000);
    let base = u64::from(attempt.min(10)) * 1000;
    Duration::from_micros(base + jitter * u64::from(attempt.min(10)))
}
