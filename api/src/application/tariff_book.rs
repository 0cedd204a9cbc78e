//! The tariff stream (BILLING.md 2): the versions of every tariff the operator publishes,
//! recorded as events of one stream of their own (`TariffCatalog` / `tariffs`) in the
//! event store, hash-chained, verified and exported like the reference stream.
//!
//! [`TariffBook`] is the server's view of it: the catalog folded, reloaded when the
//! stream's last sequence moved (one indexed look-up), so a version one server publishes
//! is seen by every server of the same store. Only the commands that read tariffs (a
//! subscription, the billing run) ask for it fresh.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use aggregates::tariffs::{TariffCatalog, TariffError, TariffVersionRequest};
use cqrs_es::persist::SerializedEvent;
use events::{
    MetricName, Prices, TariffCode, TariffVersionPublished, TARIFF_AGGREGATE_TYPE,
    TARIFF_EVENT_VERSION, TARIFF_STREAM_ID, TARIFF_VERSION_PUBLISHED,
};
use serde::Serialize;
use serde_json::Value;
use time::Date;

use crate::event_metadata as metadata;
use crate::store::{
    AppendError, IdempotencyRecord, LedgerEventRepository, StoreError, StoredEvent,
};

/// How often a publication retries after losing a race with another publisher.
const PUBLISH_ATTEMPTS_MAX: u32 = 8;

#[derive(Debug, thiserror::Error)]
pub enum TariffBookError {
    /// The version breaks the catalog's rules; nothing was recorded.
    #[error(transparent)]
    Invalid(#[from] TariffError),
    #[error("the tariff stream lost {0} races with concurrent publications; nothing was recorded, retry")]
    Contended(u32),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One recorded version, as `GET /v1/tariffs` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RecordedTariffVersion {
    #[schema(value_type = String, example = "standard")]
    pub code: TariffCode,
    pub version: u32,
    /// `standard-v2`: how invoices name it.
    pub id: String,
    #[schema(value_type = String)]
    pub name: String,
    #[serde(with = "events::business_date")]
    #[schema(value_type = String, example = "2027-01-01")]
    pub effective_from: Date,
    /// The last day it prices, when a later version takes over (`null` while it is the
    /// latest).
    #[serde(with = "events::business_date::option")]
    #[schema(value_type = Option<String>)]
    pub effective_to: Option<Date>,
    #[serde(with = "events::business_date")]
    #[schema(value_type = String)]
    pub published_on: Date,
    pub fees: Prices,
    #[schema(value_type = BTreeMap<String, u64>)]
    pub included: BTreeMap<MetricName, u64>,
    #[schema(value_type = BTreeMap<String, Prices>)]
    pub overage: BTreeMap<MetricName, Prices>,
    /// Its place in the tariff stream.
    pub sequence: i64,
    /// When it was recorded (RFC 3339, UTC) and by whom.
    pub recorded_at: String,
    pub actor: String,
    /// The clauses behind it: the operator changes tariffs unilaterally for the future
    /// (§4.2, §5.3).
    pub clause: &'static str,
}

/// The stream folded.
#[derive(Debug, Clone, Default)]
pub struct TariffState {
    pub catalog: Arc<TariffCatalog>,
    /// Every version, in the order recorded.
    pub versions: Vec<RecordedTariffVersion>,
    pub last_sequence: i64,
    pub head_hash: String,
}

impl TariffState {
    fn fold(stored: &[StoredEvent]) -> Result<Self, StoreError> {
        let mut catalog = TariffCatalog::default();
        let mut state = Self {
            head_hash: crate::hash_chain::GENESIS.to_owned(),
            ..Self::default()
        };
        for event in stored {
            let published: TariffVersionPublished = serde_json::from_value(event.payload.clone())
                .map_err(|e| {
                StoreError::Corrupt(format!(
                    "tariff event {} cannot be read: {e}",
                    event.sequence
                ))
            })?;
            let text = |key: &str| crate::event_metadata::text(&event.metadata, key);
            state.versions.push(RecordedTariffVersion {
                id: published.id(),
                code: published.code.clone(),
                version: published.version,
                name: published.name.to_string(),
                effective_from: published.effective_from,
                effective_to: None,
                published_on: published.published_on,
                fees: published.fees,
                included: published.included.clone(),
                overage: published.overage.clone(),
                sequence: event.sequence,
                recorded_at: text(metadata::RECORDED_AT),
                actor: text(metadata::ACTOR),
                clause: TARIFF_CLAUSES,
            });
            catalog.apply(published);
            state.last_sequence = event.sequence;
            state.head_hash = text(crate::hash_chain::HASH_KEY);
        }
        // Each version prices up to the day before the next one in force takes over.
        for recorded in &mut state.versions {
            recorded.effective_to = catalog
                .versions(&recorded.code)
                .iter()
                .filter(|v| {
                    v.effective_from > recorded.effective_from
                        || (v.effective_from == recorded.effective_from
                            && v.version > recorded.version)
                })
                .map(|v| v.effective_from)
                .min()
                .map(|next| next.previous_day().unwrap_or(next));
        }
        state.catalog = Arc::new(catalog);
        Ok(state)
    }

    /// The versions of `code`, oldest first.
    pub fn tariff(&self, code: &TariffCode) -> Vec<&RecordedTariffVersion> {
        self.versions.iter().filter(|v| &v.code == code).collect()
    }
}

/// The clauses recorded with every version.
pub const TARIFF_CLAUSES: &str = "4.2, 5.3";

/// Who publishes: recorded in the event's metadata.
#[derive(Debug, Clone)]
pub struct TariffPublisher {
    pub actor: String,
    pub request_id: String,
}

/// What a publication did.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TariffPublication {
    pub version: RecordedTariffVersion,
    /// False when the tariff's latest version already says the same: nothing recorded.
    pub recorded: bool,
}

/// The server's view of the tariff stream.
pub struct TariffBook {
    repository: LedgerEventRepository,
    state: RwLock<Option<Arc<TariffState>>>,
}

impl std::fmt::Debug for TariffBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TariffBook").finish_non_exhaustive()
    }
}

impl TariffBook {
    /// A book on `repository`, read on first use.
    pub fn new(repository: LedgerEventRepository) -> Self {
        Self {
            repository,
            state: RwLock::new(None),
        }
    }

    fn cached(&self) -> Option<Arc<TariffState>> {
        self.state
            .read()
            .expect("the lock is never poisoned")
            .clone()
    }

    /// The stream as the store holds it now: reloaded when its last sequence moved.
    pub async fn state(&self) -> Result<Arc<TariffState>, StoreError> {
        let last = self
            .repository
            .stream_last_sequence(TARIFF_AGGREGATE_TYPE, TARIFF_STREAM_ID)
            .await?;
        match self.cached() {
            Some(cached) if cached.last_sequence == last => Ok(cached),
            _ => self.reload().await,
        }
    }

    /// The catalog as the store holds it now.
    pub async fn catalog(&self) -> Result<Arc<TariffCatalog>, StoreError> {
        Ok(self.state().await?.catalog.clone())
    }

    /// The stream as known at `known_at` (BILLING.md 5.1): its versions recorded by then.
    pub async fn state_known_at(
        &self,
        known_at: time::OffsetDateTime,
    ) -> Result<TariffState, StoreError> {
        let stored = self
            .repository
            .stored_events(TARIFF_AGGREGATE_TYPE, TARIFF_STREAM_ID)
            .await?;
        let known = metadata::recorded_by(&stored, known_at, |event| {
            event
                .metadata
                .get(metadata::RECORDED_AT)
                .and_then(Value::as_str)
        });
        TariffState::fold(&stored[..known])
    }

    async fn reload(&self) -> Result<Arc<TariffState>, StoreError> {
        let stored = self
            .repository
            .stored_events(TARIFF_AGGREGATE_TYPE, TARIFF_STREAM_ID)
            .await?;
        let state = Arc::new(TariffState::fold(&stored)?);
        let mut slot = self.state.write().expect("the lock is never poisoned");
        if slot
            .as_ref()
            .is_none_or(|cached| state.last_sequence >= cached.last_sequence)
        {
            *slot = Some(state.clone());
        }
        Ok(state)
    }

    /// Publishes a new version of `code` (BILLING.md 2): decided by the catalog's rules
    /// on the stream as it is, recorded after its last event; a request equal to the
    /// tariff's latest version records nothing. With `remember`, the request's
    /// Idempotency-Key and answer commit with the version.
    pub async fn publish(
        &self,
        code: TariffCode,
        request: TariffVersionRequest,
        today: Date,
        publisher: &TariffPublisher,
        now: time::OffsetDateTime,
        remember: impl Fn(&TariffPublication) -> Option<IdempotencyRecord>,
    ) -> Result<TariffPublication, TariffBookError> {
        for attempt in 1..=PUBLISH_ATTEMPTS_MAX {
            let state = self.state().await?;
            if let Some(latest) = state.tariff(&code).last() {
                let same = latest.name == request.name.as_str()
                    && latest.effective_from == request.effective_from
                    && latest.fees == request.fees
                    && latest.included == request.included
                    && latest.overage == request.overage;
                if same {
                    return Ok(TariffPublication {
                        version: (*latest).clone(),
                        recorded: false,
                    });
                }
            }
            let version = state
                .catalog
                .publish(code.clone(), request.clone(), today)?;
            let recorded_at = now
                .to_offset(time::UtcOffset::UTC)
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
            let mut serialized = vec![SerializedEvent {
                aggregate_id: TARIFF_STREAM_ID.to_owned(),
                sequence: usize::try_from(state.last_sequence + 1).expect("a positive sequence"),
                aggregate_type: TARIFF_AGGREGATE_TYPE.to_owned(),
                event_type: TARIFF_VERSION_PUBLISHED.to_owned(),
                event_version: TARIFF_EVENT_VERSION.to_owned(),
                payload: serde_json::to_value(&version).map_err(|e| {
                    StoreError::Corrupt(format!("a tariff version cannot be written: {e}"))
                })?,
                metadata: serde_json::json!({
                    metadata::ACTOR: publisher.actor,
                    metadata::RECORDED_AT: recorded_at,
                    metadata::REQUEST_ID: publisher.request_id,
                    metadata::COMMAND: "tariff.publish",
                    metadata::CLAUSE: TARIFF_CLAUSES,
                }),
            }];
            crate::hash_chain::chain(&mut serialized, state.head_hash.clone());
            // The answer, as it will read once recorded.
            let answer = TariffPublication {
                version: RecordedTariffVersion {
                    id: version.id(),
                    code: version.code.clone(),
                    version: version.version,
                    name: version.name.to_string(),
                    effective_from: version.effective_from,
                    effective_to: None,
                    published_on: version.published_on,
                    fees: version.fees,
                    included: version.included.clone(),
                    overage: version.overage.clone(),
                    sequence: state.last_sequence + 1,
                    recorded_at,
                    actor: publisher.actor.clone(),
                    clause: TARIFF_CLAUSES,
                },
                recorded: true,
            };
            let idempotency = remember(&answer);
            match self
                .repository
                .append_with(&serialized, &[], None, idempotency.as_ref())
                .await
            {
                Ok(()) => {
                    self.reload().await?;
                    return Ok(answer);
                }
                Err(AppendError::Conflict(_)) if attempt < PUBLISH_ATTEMPTS_MAX => {}
                Err(AppendError::Conflict(_)) => {
                    return Err(TariffBookError::Contended(PUBLISH_ATTEMPTS_MAX))
                }
                Err(AppendError::Store(error)) => return Err(error.into()),
            }
        }
        Err(TariffBookError::Contended(PUBLISH_ATTEMPTS_MAX))
    }
}
