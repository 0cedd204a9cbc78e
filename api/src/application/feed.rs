//! The global event feed (INTEGRATION.md 1, `GET /v1/events`): every agreement's events
//! in store-wide position order, gap-safe (`store::feed`), long-polled.

use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use events::ParticipantId;

use crate::application::commands::Ledger;
use crate::event_metadata as metadata;
pub use crate::store::FEED_PAGE_MAX;
use crate::store::{FeedEvent, StoreError};

/// How long a feed read may wait for an event (the `wait` parameter's ceiling).
pub const FEED_WAIT_MAX: Duration = Duration::from_secs(30);
/// The page size when the caller names none.
pub const FEED_PAGE_DEFAULT: i64 = 100;
/// How often a waiting read looks again.
const FEED_POLL: Duration = Duration::from_millis(100);

/// One event of the feed (API.md).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FeedEventView {
    /// Its place in the store-wide order: the cursor to read after.
    pub position: i64,
    pub participant_id: String,
    /// Its place in the agreement's own stream.
    pub sequence: i64,
    #[serde(rename = "type")]
    #[schema(example = "InvoiceIssued")]
    pub event_type: String,
    pub payload: Value,
    /// When it was recorded (RFC 3339, UTC).
    #[schema(format = DateTime, example = "2026-02-02T09:15:00Z")]
    pub recorded_at: String,
    /// Its hash in the agreement's chain (docs/audit.md).
    pub hash: Option<String>,
}

/// `GET /v1/events`: a page of the feed and the cursor to continue from.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FeedPage {
    pub events: Vec<FeedEventView>,
    /// Pass it as `after` next time: the last position this read went through (past
    /// events the caller may not see too), or `after` itself when nothing was final yet.
    pub next: i64,
}

/// What a feed read asks.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedRequest {
    pub after: i64,
    /// 1 to [`FEED_PAGE_MAX`].
    pub limit: i64,
    /// Up to [`FEED_WAIT_MAX`]: how long to wait when nothing is there yet.
    pub wait: Duration,
    /// A participant's token sees its own agreement's events only.
    pub participant: Option<ParticipantId>,
}

/// Reads the feed: the agreements' final events after the cursor, waiting up to
/// `request.wait` for one to come.
pub async fn read(ledger: &Ledger, request: &FeedRequest) -> Result<FeedPage, StoreError> {
    assert!(
        (1..=FEED_PAGE_MAX).contains(&request.limit) && request.wait <= FEED_WAIT_MAX,
        "the feed request was checked"
    );
    let deadline = Instant::now() + request.wait;
    let mut after = request.after;
    loop {
        let read = ledger.repository().feed(after, request.limit).await?;
        let nothing_final = read.is_empty();
        if let Some(last) = read.last() {
            after = last.position;
        }
        let events: Vec<FeedEventView> = read
            .into_iter()
            .filter(|event| event.aggregate_type == crate::application::export::AGGREGATE_TYPE)
            .filter(|event| {
                request
                    .participant
                    .as_ref()
                    .is_none_or(|own| own.as_str() == event.aggregate_id)
            })
            .map(view)
            .collect();
        if !events.is_empty() || Instant::now() >= deadline {
            return Ok(FeedPage {
                events,
                next: after,
            });
        }
        // Another participant's events only: read on at once; nothing yet: look again soon.
        if nothing_final {
            tokio::time::sleep(FEED_POLL.min(deadline.saturating_duration_since(Instant::now())))
                .await;
        }
    }
}

/// An event as the feed (and the NATS publisher) shows it.
pub fn view(event: FeedEvent) -> FeedEventView {
    let field = |key: &str| {
        event
            .metadata
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    // The payload is stored tagged with its type ({"InvoiceIssued": {...}}).
    let payload = event
        .payload
        .get(&event.event_type)
        .cloned()
        .unwrap_or_else(|| event.payload.clone());
    FeedEventView {
        position: event.position,
        recorded_at: field(metadata::RECORDED_AT).unwrap_or_else(|| event.stored_at.clone()),
        hash: field("hash"),
        participant_id: event.aggregate_id,
        sequence: event.sequence,
        event_type: event.event_type,
        payload,
    }
}
