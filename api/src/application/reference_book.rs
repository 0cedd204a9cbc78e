//! The reference stream (BILLING.md 1): the versions of the calendar, MRP, VAT and USD/KZT
//! tables the operator publishes, recorded as events of one stream of their own
//! (`ReferenceData` / `kz-reference`) in the event store, hash-chained, verified and
//! exported like an agreement's.
//!
//! [`ReferenceBook`] is the server's view of that stream. The tables shipped in the binary
//! are recorded at first start for every range the stream does not hold yet; after that
//! only the operator's versions change a range. Every command and query asks the book for
//! the tables in force ([`ReferenceBook::current`]): one indexed look-up of the stream's
//! last sequence, and a reload when another server (or this one) recorded a version, so
//! a published version is seen at once by every server of the same store.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use aggregates::reference::{check_version, ReferenceError};
use aggregates::ReferenceData;
use cqrs_es::persist::SerializedEvent;
use events::{
    ReferenceContent, ReferenceTable, ReferenceVersionPublished, REFERENCE_AGGREGATE_TYPE,
    REFERENCE_EVENT_VERSION, REFERENCE_STREAM_ID, REFERENCE_VERSION_PUBLISHED,
};
use serde::Serialize;
use serde_json::Value;

use crate::event_metadata as metadata;
use crate::store::{AppendError, LedgerEventRepository, StoreError};

/// How often a publication retries after losing a race with another publisher.
const PUBLISH_ATTEMPTS_MAX: u32 = 8;
/// The most versions one publication may record (a rates file is one date; a calendar
/// file a few years).
pub const VERSIONS_PER_PUBLICATION_MAX: usize = 400;

#[derive(Debug, thiserror::Error)]
pub enum ReferenceBookError {
    /// The version breaks its table's rules; nothing was recorded.
    #[error(transparent)]
    Invalid(#[from] ReferenceError),
    #[error("the reference stream lost {0} races with concurrent publications; nothing was recorded, retry")]
    Contended(u32),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One recorded version, as the stream holds it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RecordedVersion {
    /// The version id (`kz-calendar-2027-2`).
    pub id: String,
    pub table: ReferenceTable,
    /// A year (`2027`) or a date (`2026-12-30`).
    pub range: String,
    pub source: String,
    /// True while this version is the one in force for its range.
    pub in_force: bool,
    /// A calendar whose government decree is not yet known.
    pub provisional: bool,
    /// Its place in the reference stream.
    pub sequence: i64,
    /// When it was recorded (RFC 3339, UTC) and by whom.
    pub recorded_at: String,
    pub actor: String,
    /// The table's own figures (`non_working`, `mrp`, `rate`, `usd_kzt`).
    #[schema(value_type = Object)]
    pub content: Value,
}

/// The stream folded: the tables in force, and every version recorded.
#[derive(Debug, Clone, Default)]
pub struct ReferenceState {
    pub data: Arc<ReferenceData>,
    pub versions: Vec<RecordedVersion>,
    /// The version in force per (table, range): index into `versions`.
    in_force: BTreeMap<(ReferenceTable, String), usize>,
    pub last_sequence: i64,
    pub head_hash: String,
}

impl ReferenceState {
    /// Folds the stream's stored events (in sequence order).
    fn fold(stored: &[crate::store::StoredEvent]) -> Result<Self, StoreError> {
        let mut data = ReferenceData::default();
        let mut state = Self {
            head_hash: crate::hash_chain::GENESIS.to_owned(),
            ..Self::default()
        };
        for event in stored {
            let published: ReferenceVersionPublished =
                serde_json::from_value(event.payload.clone()).map_err(|e| {
                    StoreError::Corrupt(format!(
                        "reference event {} cannot be read: {e}",
                        event.sequence
                    ))
                })?;
            // Checked when published; read as recorded (a rule tightened since must not
            // make the history unreadable).
            data.put_recorded(&published);
            let key = (published.content.table(), published.content.range());
            if let Some(&before) = state.in_force.get(&key) {
                state.versions[before].in_force = false;
            }
            state.in_force.insert(key, state.versions.len());
            let text = |key: &str| crate::event_metadata::text(&event.metadata, key);
            let mut content = serde_json::to_value(&published.content).unwrap_or(Value::Null);
            if let Value::Object(map) = &mut content {
                map.remove("table");
            }
            state.versions.push(RecordedVersion {
                id: published.version.clone(),
                table: published.content.table(),
                range: published.content.range(),
                source: published.source.clone(),
                in_force: true,
                provisional: matches!(
                    published.content,
                    ReferenceContent::Calendar {
                        provisional: true,
                        ..
                    }
                ),
                sequence: event.sequence,
                recorded_at: text(metadata::RECORDED_AT),
                actor: text(metadata::ACTOR),
                content,
            });
            state.last_sequence = event.sequence;
            state.head_hash = text(crate::hash_chain::HASH_KEY);
        }
        state.data = Arc::new(data);
        Ok(state)
    }

    /// The shipped versions whose range is recorded with other figures (the recorded
    /// version stays in force; only a publication changes it): said at start.
    pub fn shipped_but_not_in_force<'a>(
        &self,
        shipped: &'a [ReferenceVersionPublished],
    ) -> Vec<(&'a ReferenceVersionPublished, String)> {
        shipped
            .iter()
            .filter_map(|version| {
                let content = normalized(version.content.clone());
                let in_force = self.in_force(content.table(), &content.range())?;
                (self.content_in_force(&content).as_ref() != Some(&content))
                    .then(|| (version, in_force.id.clone()))
            })
            .collect()
    }

    /// The version in force for a range, if any.
    pub fn in_force(&self, table: ReferenceTable, range: &str) -> Option<&RecordedVersion> {
        self.in_force
            .get(&(table, range.to_owned()))
            .map(|&index| &self.versions[index])
    }

    fn content_in_force(&self, content: &ReferenceContent) -> Option<ReferenceContent> {
        let recorded = self.in_force(content.table(), &content.range())?;
        let mut value = recorded.content.clone();
        if let Value::Object(map) = &mut value {
            map.insert(
                "table".to_owned(),
                serde_json::to_value(content.table()).unwrap_or(Value::Null),
            );
        }
        serde_json::from_value(value).ok()
    }

    /// The next id for a range: `kz-{table}-{range}-{n}`, n one more than the versions
    /// the range has had, skipping any id already taken.
    fn next_id(&self, content: &ReferenceContent) -> String {
        let table = content.table();
        let range = content.range();
        let mut n = self
            .versions
            .iter()
            .filter(|v| v.table == table && v.range == range)
            .count()
            + 1;
        loop {
            let id = format!("kz-{}-{range}-{n}", table.code());
            if !self.versions.iter().any(|v| v.id == id) {
                return id;
            }
            n += 1;
        }
    }
}

/// What a publication did with each version it was given.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Publication {
    /// The versions recorded now.
    pub recorded: Vec<PublishedRange>,
    /// The ranges whose version in force already says the same: nothing recorded.
    pub unchanged: Vec<PublishedRange>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PublishedRange {
    pub table: ReferenceTable,
    pub range: String,
    /// The version now in force for the range.
    pub version: String,
}

/// Who publishes: recorded in the events' metadata.
#[derive(Debug, Clone)]
pub struct Publisher {
    pub actor: String,
    pub request_id: String,
    /// `reference.publish`, `reference.import`, `reference.load`, `reference.shipped`.
    pub command: &'static str,
}

/// The server's view of the reference stream.
pub struct ReferenceBook {
    repository: LedgerEventRepository,
    state: RwLock<Arc<ReferenceState>>,
}

impl std::fmt::Debug for ReferenceBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReferenceBook").finish_non_exhaustive()
    }
}

impl ReferenceBook {
    /// Opens the stream, recording the `shipped` versions of every range it does not
    /// hold yet (the first versions, BILLING.md 1), and folds it.
    pub async fn open(
        repository: LedgerEventRepository,
        shipped: &[ReferenceVersionPublished],
        now: time::OffsetDateTime,
    ) -> Result<Self, ReferenceBookError> {
        let book = Self {
            repository,
            state: RwLock::new(Arc::new(ReferenceState::default())),
        };
        let publisher = Publisher {
            actor: "edoc-ledger (shipped tables)".to_owned(),
            request_id: "first-start".to_owned(),
            command: "reference.shipped",
        };
        for attempt in 1..=PUBLISH_ATTEMPTS_MAX {
            let state = book.reload().await?;
            let missing: Vec<&ReferenceVersionPublished> = shipped
                .iter()
                .filter(|v| {
                    state
                        .in_force(v.content.table(), &v.content.range())
                        .is_none()
                })
                .collect();
            if missing.is_empty() {
                return Ok(book);
            }
            match book.append(&state, &missing, &publisher, now, None).await {
                Ok(()) => {}
                Err(ReferenceBookError::Contended(_)) if attempt < PUBLISH_ATTEMPTS_MAX => {}
                Err(other) => return Err(other),
            }
        }
        Err(ReferenceBookError::Contended(PUBLISH_ATTEMPTS_MAX))
    }

    /// Reads the stream as it is, recording nothing (for tools that only read, such as
    /// an export). The stream of a store that was never served since it existed is empty.
    pub async fn read(repository: LedgerEventRepository) -> Result<Self, StoreError> {
        let book = Self {
            repository,
            state: RwLock::new(Arc::new(ReferenceState::default())),
        };
        book.reload().await?;
        Ok(book)
    }

    /// The stream as cached, without asking the store.
    pub fn cached(&self) -> Arc<ReferenceState> {
        self.state
            .read()
            .expect("the lock is never poisoned")
            .clone()
    }

    /// The stream as the store holds it now: reloaded when its last sequence moved.
    pub async fn state(&self) -> Result<Arc<ReferenceState>, StoreError> {
        let cached = self.cached();
        let last = self.repository.reference_last_sequence().await?;
        if last == cached.last_sequence {
            return Ok(cached);
        }
        self.reload().await
    }

    /// The tables in force now (see [`Self::state`]).
    pub async fn current(&self) -> Result<Arc<ReferenceData>, StoreError> {
        Ok(self.state().await?.data.clone())
    }

    /// The tables as known at `known_at` (BILLING.md 5.1); see [`Self::state_known_at`].
    pub async fn known_at(
        &self,
        known_at: time::OffsetDateTime,
    ) -> Result<Arc<ReferenceData>, StoreError> {
        Ok(self.state_known_at(known_at).await?.data.clone())
    }

    /// The stream as known at `known_at` (BILLING.md 5.1): its versions recorded up to
    /// then, folded. The versions of the stream's first append (the shipped tables of its
    /// first start) count as known from the beginning, so an agreement recorded before
    /// the stream existed (a store of an older release) is answered with them.
    pub async fn state_known_at(
        &self,
        known_at: time::OffsetDateTime,
    ) -> Result<ReferenceState, StoreError> {
        let stored = self
            .repository
            .stored_events(REFERENCE_AGGREGATE_TYPE, REFERENCE_STREAM_ID)
            .await?;
        // The first append's events lead the stream; those recorded by `known_at` follow.
        fn request_of(event: &crate::store::StoredEvent) -> Option<&str> {
            event
                .metadata
                .get(crate::event_metadata::REQUEST_ID)
                .and_then(Value::as_str)
        }
        let first_request = stored.first().and_then(request_of);
        let first_append = stored
            .iter()
            .take_while(|event| request_of(event) == first_request)
            .count();
        let known = crate::event_metadata::recorded_by(&stored, known_at, |event| {
            event
                .metadata
                .get(crate::event_metadata::RECORDED_AT)
                .and_then(Value::as_str)
        })
        .max(first_append);
        ReferenceState::fold(&stored[..known])
    }

    async fn reload(&self) -> Result<Arc<ReferenceState>, StoreError> {
        let stored = self
            .repository
            .stored_events(REFERENCE_AGGREGATE_TYPE, REFERENCE_STREAM_ID)
            .await?;
        let state = Arc::new(ReferenceState::fold(&stored)?);
        let mut slot = self.state.write().expect("the lock is never poisoned");
        if state.last_sequence >= slot.last_sequence {
            *slot = state.clone();
        }
        Ok(state)
    }

    /// Publishes versions (ids assigned here): each is checked against its table's
    /// rules, a range whose version in force says the same records nothing, and the
    /// others are recorded in one append, all or nothing.
    pub async fn publish(
        &self,
        contents: Vec<ReferenceContent>,
        source: &str,
        publisher: &Publisher,
        now: time::OffsetDateTime,
        remember: impl Fn(&Publication) -> Option<crate::store::IdempotencyRecord>,
    ) -> Result<Publication, ReferenceBookError> {
        assert!(!contents.is_empty(), "a publication has versions");
        if contents.len() > VERSIONS_PER_PUBLICATION_MAX {
            return Err(ReferenceError::InvalidVersion {
                table: contents[0].table().code(),
                field: "body",
                message: format!(
                    "{} versions in one publication; at most {VERSIONS_PER_PUBLICATION_MAX}",
                    contents.len()
                ),
            }
            .into());
        }
        for attempt in 1..=PUBLISH_ATTEMPTS_MAX {
            let state = self.state().await?;
            let mut publication = Publication {
                recorded: Vec::new(),
                unchanged: Vec::new(),
            };
            let mut versions = Vec::new();
            let mut trial = (*state.data).clone();
            for content in &contents {
                let content = normalized(content.clone());
                let range = PublishedRange {
                    table: content.table(),
                    range: content.range(),
                    version: String::new(),
                };
                if state.content_in_force(&content).as_ref() == Some(&content) {
                    let version = state
                        .in_force(range.table, &range.range)
                        .map(|v| v.id.clone())
                        .unwrap_or_default();
                    publication
                        .unchanged
                        .push(PublishedRange { version, ..range });
                    continue;
                }
                if versions.iter().any(|v: &ReferenceVersionPublished| {
                    v.content.range() == range.range && v.content.table() == range.table
                }) {
                    return Err(ReferenceError::InvalidVersion {
                        table: range.table.code(),
                        field: "range",
                        message: format!("{} is given twice", range.range),
                    }
                    .into());
                }
                let mut id = state.next_id(&content);
                // Two new versions of one table in one publication get distinct ids.
                while versions.iter().any(|v| v.version == id) {
                    id.push('b');
                }
                let version = ReferenceVersionPublished {
                    version: id.clone(),
                    source: source.trim().to_owned(),
                    content,
                };
                check_version(&version)?;
                trial.apply(&version)?;
                publication.recorded.push(PublishedRange {
                    version: id,
                    ..range
                });
                versions.push(version);
            }
            if versions.is_empty() {
                return Ok(publication);
            }
            let refs: Vec<&ReferenceVersionPublished> = versions.iter().collect();
            // The request's Idempotency-Key and answer commit with the versions.
            let idempotency = remember(&publication);
            match self
                .append(&state, &refs, publisher, now, idempotency.as_ref())
                .await
            {
                Ok(()) => {
                    self.reload().await?;
                    return Ok(publication);
                }
                Err(ReferenceBookError::Contended(_)) if attempt < PUBLISH_ATTEMPTS_MAX => {}
                Err(other) => return Err(other),
            }
        }
        Err(ReferenceBookError::Contended(PUBLISH_ATTEMPTS_MAX))
    }

    /// Appends versions after `state`'s last event, chained to its head hash.
    async fn append(
        &self,
        state: &ReferenceState,
        versions: &[&ReferenceVersionPublished],
        publisher: &Publisher,
        now: time::OffsetDateTime,
        idempotency: Option<&crate::store::IdempotencyRecord>,
    ) -> Result<(), ReferenceBookError> {
        let recorded_at = now
            .to_offset(time::UtcOffset::UTC)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let mut serialized = Vec::with_capacity(versions.len());
        for (version, sequence) in versions.iter().zip(state.last_sequence + 1..) {
            let payload = serde_json::to_value(version)
                .map_err(|e| StoreError::Corrupt(format!("a version cannot be written: {e}")))?;
            let metadata = serde_json::json!({
                metadata::ACTOR: publisher.actor,
                metadata::RECORDED_AT: recorded_at,
                metadata::REQUEST_ID: publisher.request_id,
                metadata::COMMAND: publisher.command,
                metadata::CLAUSE: clause_of(version.content.table()),
            });
            serialized.push(SerializedEvent {
                aggregate_id: REFERENCE_STREAM_ID.to_owned(),
                sequence: usize::try_from(sequence).expect("a positive sequence"),
                aggregate_type: REFERENCE_AGGREGATE_TYPE.to_owned(),
                event_type: REFERENCE_VERSION_PUBLISHED.to_owned(),
                event_version: REFERENCE_EVENT_VERSION.to_owned(),
                payload,
                metadata,
            });
        }
        crate::hash_chain::chain(&mut serialized, state.head_hash.clone());
        match self
            .repository
            .append_with(&serialized, &[], None, idempotency)
            .await
        {
            Ok(()) => Ok(()),
            Err(AppendError::Conflict(_)) => Err(ReferenceBookError::Contended(1)),
            Err(AppendError::Store(error)) => Err(error.into()),
        }
    }
}

/// The clause of the offer a table serves, recorded with each of its versions.
pub fn clause_of(table: ReferenceTable) -> &'static str {
    match table {
        // Due dates in banking and working days (§5.4, §5.8).
        ReferenceTable::Calendar => "5.4",
        // The fine of 2 MRP (§5.9).
        ReferenceTable::Mrp => "5.9",
        // Amounts are net of VAT (§5.11).
        ReferenceTable::Vat => "5.11",
        // Invoices in USD at the National Bank's rate (§5.1).
        ReferenceTable::ExchangeRates => "5.1",
    }
}

/// The same content written one way: dates sorted, decimals without trailing zeros, so
/// that "no change" compares figures, not spelling.
fn normalized(content: ReferenceContent) -> ReferenceContent {
    match content {
        ReferenceContent::Calendar {
            year,
            mut non_working,
            mut working_weekends,
            provisional,
        } => {
            non_working.sort();
            working_weekends.sort();
            ReferenceContent::Calendar {
                year,
                non_working,
                working_weekends,
                provisional,
            }
        }
        ReferenceContent::Mrp { year, mrp } => ReferenceContent::Mrp {
            year,
            mrp: mrp.normalize(),
        },
        ReferenceContent::Vat {
            effective_from,
            rate,
        } => ReferenceContent::Vat {
            effective_from,
            rate: rate.normalize(),
        },
        ReferenceContent::ExchangeRate { date, usd_kzt } => ReferenceContent::ExchangeRate {
            date,
            usd_kzt: usd_kzt.normalize(),
        },
    }
}
