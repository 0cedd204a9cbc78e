//! Running commands against the event store, in small steps (command_loop): load the
//! agreement's state (load), let the aggregate decide, seal what it decided (envelopes,
//! hash chain, the projection row), write the answer (answer), append it all in one
//! transaction; on a lost race, again. `batch`: many payments on many agreements in one
//! transaction per chunk (a bank statement's import, the billing run); `numbering`: the
//! in-process lock of the gapless invoice series, which a batch chunk hands on before it
//! has written its documents.
//!
//! This replaces cqrs-es's `CqrsFramework::execute`, which returns nothing (no events, no
//! new version), copies one metadata map onto every event, never retries a conflict and
//! updates queries outside the commit (CQRS-ES-NOTES.md). The aggregate, its `handle`, the
//! `EventSink`, the persisted event store and its upcasters are cqrs-es's own.

use std::sync::Arc;
use std::time::Duration;

use cqrs_es::persist::PersistedEventStore;
use cqrs_es::{Aggregate, EventStore};
use time::{Date, OffsetDateTime};

use aggregates::{ParticipantAgreement, ReferenceData};
use commands::AgreementCommand;
use events::ParticipantId;

use crate::store::{LedgerEventRepository, StoreError, StoredEvent};

mod answer;
mod batch;
mod clock;
mod command_loop;
mod load;
mod numbering;
mod outcome;
mod seal;

pub use batch::{
    BatchOutcome, Prepared, ReadAhead, BATCH_AGREEMENTS_MAX, BATCH_COMMANDS_MAX, BATCH_CONCURRENCY,
};
pub use clock::{business_date_of, Clock, SystemClock, KAZAKHSTAN, KAZAKHSTAN_OFFSET_HOURS};
pub use outcome::{
    Answer, CommandContext, Committed, IdempotencyClaim, LedgerError, RenderAnswer, SweepMark,
    IDEMPOTENCY_TTL_DEFAULT,
};
pub(crate) use seal::claimed_invoice_number;

/// The keys of an event's metadata (in their own module, shared with the reference
/// stream).
pub use crate::event_metadata as metadata;

/// How often a command that lost a race is decided again before the caller gets a 409.
pub const COMMAND_ATTEMPTS_MAX: u32 = 50;

/// The ledger: commands in, events recorded; agreements read back.
pub struct Ledger {
    repository: LedgerEventRepository,
    event_store: PersistedEventStore<LedgerEventRepository, ParticipantAgreement>,
    reference: ReferenceSource,
    clock: Arc<dyn Clock>,
    /// Serializes invoice and credit note issuance within this process, so that
    /// concurrent ones take consecutive numbers without losing races (a batch chunk hands
    /// on its numbers before it has written them, `numbering`); across processes the
    /// counter's compare-and-set keeps numbers unique and gapless on its own.
    invoice_numbering: numbering::InvoiceNumbering,
    /// Serializes commands on one agreement within this process (striped by agreement,
    /// [`AGREEMENT_WRITE_STRIPES`] locks, so memory stays fixed): concurrent commands on a
    /// busy agreement queue instead of each deciding on a state that another then
    /// changes, which made N concurrent payments cost O(N^2) decisions. Across processes
    /// the optimistic check on the event sequence still decides, as before.
    agreement_writes: Box<[tokio::sync::Mutex<()>]>,
    idempotency_ttl: Duration,
    /// The months closed (BILLING.md 5.4) as last read from the store: `None` until
    /// read. Commands decide with it; one whose documents fall in a past month reads it
    /// afresh, and its append checks it again (`store::PeriodGuard`).
    closed_through: std::sync::RwLock<Option<Option<Date>>>,
    /// The tariff stream (BILLING.md 2), read by the commands that need the catalog.
    tariffs: Arc<crate::application::tariff_book::TariffBook>,
    /// Bearer tokens looked up lately (`--token-cache-ms`; off unless set).
    token_cache: crate::application::tokens::TokenCache,
}

/// Where a ledger takes its reference tables from.
enum ReferenceSource {
    /// Tables fixed for the ledger's life (tools and tests that record no versions).
    Fixed(Arc<ReferenceData>),
    /// The reference stream of the store, as the server reads it (BILLING.md 1).
    Book(Arc<crate::application::reference_book::ReferenceBook>),
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
            reference: ReferenceSource::Fixed(reference),
            clock,
            invoice_numbering: numbering::InvoiceNumbering::default(),
            agreement_writes: (0..AGREEMENT_WRITE_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            idempotency_ttl: IDEMPOTENCY_TTL_DEFAULT,
            closed_through: std::sync::RwLock::new(None),
            tariffs: Arc::new(crate::application::tariff_book::TariffBook::new(
                repository.clone(),
            )),
            token_cache: crate::application::tokens::TokenCache::new(Duration::ZERO),
            repository,
        }
    }

    /// Keeps a bearer token's caller for `ttl` after its lookup (zero: never): a revoked
    /// token is refused at most `ttl` late (docs/operations.md, "Tokens").
    pub fn with_token_cache(mut self, ttl: Duration) -> Self {
        self.token_cache = crate::application::tokens::TokenCache::new(ttl);
        self
    }

    /// The bearer tokens looked up lately.
    pub fn token_cache(&self) -> &crate::application::tokens::TokenCache {
        &self.token_cache
    }

    /// The tariff stream (BILLING.md 2).
    pub fn tariffs(&self) -> &Arc<crate::application::tariff_book::TariffBook> {
        &self.tariffs
    }

    /// The last day of the latest closed month (BILLING.md 5.4), as cached; read from
    /// the store the first time.
    pub async fn closed_through(&self) -> Result<Option<Date>, StoreError> {
        let cached = *self
            .closed_through
            .read()
            .expect("the lock is never poisoned");
        match cached {
            Some(closed_through) => Ok(closed_through),
            None => self.closed_through_now().await,
        }
    }

    /// [`Self::closed_through`] read afresh from the store (and cached).
    pub async fn closed_through_now(&self) -> Result<Option<Date>, StoreError> {
        let closed_through = self.repository.closed_through().await?;
        self.cache_closed_through(closed_through);
        Ok(closed_through)
    }

    /// [`Self::closed_through_now`] on the connection a command holds.
    pub(crate) async fn closed_through_now_on(
        &self,
        connection: &mut crate::store::CommandConnection,
    ) -> Result<Option<Date>, StoreError> {
        let closed_through = self.repository.closed_through_on(connection).await?;
        self.cache_closed_through(closed_through);
        Ok(closed_through)
    }

    fn cache_closed_through(&self, closed_through: Option<Date>) {
        *self
            .closed_through
            .write()
            .expect("the lock is never poisoned") = Some(closed_through);
    }

    /// A ledger on `repository` reading its reference stream, as a server's does: the
    /// stream opened (recording the `shipped` versions it lacks), the system clock. What
    /// the command line and the benchmark run commands with.
    pub async fn on_store(
        repository: LedgerEventRepository,
        shipped: &[events::ReferenceVersionPublished],
    ) -> Result<Self, crate::application::reference_book::ReferenceBookError> {
        let book = Arc::new(
            crate::application::reference_book::ReferenceBook::open(
                repository.clone(),
                shipped,
                OffsetDateTime::now_utc(),
            )
            .await?,
        );
        Ok(Self::new(
            repository,
            book.cached().data.clone(),
            Arc::new(SystemClock),
        )
        .with_reference_book(book))
    }

    /// A ledger reading another copy of the same store (a streaming replica,
    /// `--read-database-url`) with this one's clock and reference tables: for queries
    /// only (a replica refuses writes).
    pub fn reading_from(&self, repository: LedgerEventRepository) -> Self {
        let clock = self.clock.clone();
        match &self.reference {
            ReferenceSource::Fixed(data) => Self::new(repository, data.clone(), clock),
            ReferenceSource::Book(book) => Self::new(repository, book.cached().data.clone(), clock)
                .with_reference_book(book.clone()),
        }
    }

    /// Takes the reference tables from the store's reference stream: every command and
    /// query uses the versions in force when it runs.
    pub fn with_reference_book(
        mut self,
        book: Arc<crate::application::reference_book::ReferenceBook>,
    ) -> Self {
        self.reference = ReferenceSource::Book(book);
        self
    }

    /// The reference stream, when the ledger reads one.
    pub fn reference_book(
        &self,
    ) -> Option<&Arc<crate::application::reference_book::ReferenceBook>> {
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
        self.clock.now_utc().to_offset(KAZAKHSTAN)
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

    /// The agreement's events as cqrs-es loads them (upcast), with their metadata, in
    /// order: what a fold as known at a past moment starts from.
    pub async fn history(
        &self,
        participant: &ParticipantId,
    ) -> Result<Vec<cqrs_es::EventEnvelope<ParticipantAgreement>>, LedgerError> {
        Ok(self.event_store.load_events(participant.as_str()).await?)
    }

    /// The reference tables as known at `known_at` (BILLING.md 5.1): the versions the
    /// reference stream had recorded by then.
    pub async fn reference_known_at(
        &self,
        known_at: OffsetDateTime,
    ) -> Result<Arc<ReferenceData>, StoreError> {
        match &self.reference {
            ReferenceSource::Fixed(data) => Ok(data.clone()),
            ReferenceSource::Book(book) => book.known_at(known_at).await,
        }
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
