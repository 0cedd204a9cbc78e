//! What a command is run with (who asked, under which request and key) and what it
//! gives back (what it recorded, its answer, or why not).

use std::time::Duration;

use cqrs_es::{AggregateError, EventEnvelope};
use time::Date;

use aggregates::{AgreementError, ParticipantAgreement};

use crate::store::StoreError;

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
