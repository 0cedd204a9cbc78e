//! The NATS JetStream publisher (INTEGRATION.md 1, `--nats-url`): every agreement event,
//! in position order, to subject `edoc.events.<participant_id>.<EventType>` of the
//! stream [`NATS_STREAM`], with `Nats-Msg-Id` = its position.
//!
//! At least once, and exactly once in the stream: the publisher reads the global feed
//! (final events only, `store::feed`) from its stored cursor (`feed_cursors`, name
//! [`NATS_CURSOR`]), publishes a page, waits for JetStream's acknowledgements and only
//! then moves the cursor past what was acknowledged. A crash or a NATS restart between a
//! publish and the cursor's move publishes again from the cursor, and JetStream drops the
//! repeats by their message id (within the stream's duplicate window,
//! [`DUPLICATE_WINDOW`]). Two servers publishing at once are harmless the same way; the
//! cursor is moved by compare-and-set.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;

use crate::application::commands::Ledger;
use crate::store::StoreError;

/// The JetStream stream the ledger publishes to.
pub const NATS_STREAM: &str = "EDOC_EVENTS";
/// The subjects of the stream: `edoc.events.<participant_id>.<EventType>`.
pub const NATS_SUBJECTS: &str = "edoc.events.>";
/// The name of the publisher's cursor in `feed_cursors`.
pub const NATS_CURSOR: &str = "nats";
/// How long JetStream remembers a message id to drop a repeat: longer than any outage
/// the publisher retries through before it publishes again.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// Events published per page (each page's acknowledgements awaited together).
const PAGE: i64 = 500;
/// How often an idle publisher looks for new events.
const IDLE_POLL: Duration = Duration::from_millis(100);

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("NATS: {0}")]
    Nats(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The subject of an event.
pub fn subject(participant_id: &str, event_type: &str) -> String {
    format!("edoc.events.{participant_id}.{event_type}")
}

/// Connects to `url` and makes sure the stream exists.
pub async fn connect(url: &str) -> Result<jetstream::Context, PublishError> {
    let client = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connection_timeout(Duration::from_secs(5))
        .connect(url)
        .await
        .map_err(|e| PublishError::Nats(format!("connecting to {url}: {e}")))?;
    let context = jetstream::new(client);
    context
        .get_or_create_stream(jetstream::stream::Config {
            name: NATS_STREAM.to_owned(),
            subjects: vec![NATS_SUBJECTS.to_owned()],
            duplicate_window: DUPLICATE_WINDOW,
            storage: jetstream::stream::StorageType::File,
            ..Default::default()
        })
        .await
        .map_err(|e| PublishError::Nats(format!("the stream {NATS_STREAM}: {e}")))?;
    Ok(context)
}

/// Publishes one page of events after the cursor and moves the cursor past the ones
/// JetStream acknowledged; how many were acknowledged (0: nothing new).
pub async fn publish_page(
    ledger: &Ledger,
    context: &jetstream::Context,
) -> Result<u64, PublishError> {
    let repository = ledger.repository();
    let cursor = repository.feed_cursor(NATS_CURSOR).await?;
    let page = repository.feed(cursor, PAGE).await?;
    let Some(last) = page.last().map(|e| e.position) else {
        return Ok(0);
    };
    let mut acknowledgements = Vec::with_capacity(page.len());
    for event in page {
        if event.aggregate_type != crate::application::export::AGGREGATE_TYPE {
            acknowledgements.push((event.position, None));
            continue;
        }
        let view = crate::application::feed::view(event);
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(
            async_nats::header::NATS_MESSAGE_ID,
            view.position.to_string().as_str(),
        );
        let body = serde_json::to_vec(&view).expect("an event view serializes");
        let sent = context
            .publish_with_headers(
                subject(&view.participant_id, &view.event_type),
                headers,
                body.into(),
            )
            .await;
        match sent {
            Ok(ack) => acknowledgements.push((view.position, Some(ack))),
            Err(e) => {
                tracing::warn!(position = view.position, error = %e, "publishing to NATS failed");
                break;
            }
        }
    }
    // The cursor moves through the longest run of acknowledged events.
    let mut through = cursor;
    let mut published = 0u64;
    for (position, ack) in acknowledgements {
        if let Some(ack) = ack {
            match ack.await {
                Ok(_) => published += 1,
                Err(e) => {
                    tracing::warn!(position, error = %e, "NATS did not acknowledge");
                    break;
                }
            }
        }
        through = position;
    }
    if through > cursor
        && !repository
            .advance_feed_cursor(NATS_CURSOR, cursor, through)
            .await?
    {
        tracing::info!("another publisher moved the NATS cursor; going on from it");
    }
    if through < last {
        return Err(PublishError::Nats(format!(
            "published through position {through} of {last}; retrying from there"
        )));
    }
    Ok(published.max(u64::from(through > cursor)))
}

/// Publishes for as long as the server runs: connects (retrying), then publishes page
/// after page, retrying with a growing pause (up to 30 s) after a failure.
pub async fn publish_forever(ledger: Arc<Ledger>, url: String) {
    tracing::info!(%url, stream = NATS_STREAM, "publishing events to NATS JetStream");
    let mut pause = Duration::from_millis(200);
    let mut context: Option<jetstream::Context> = None;
    loop {
        let outcome = match &context {
            Some(context) => publish_page(&ledger, context).await,
            None => match connect(&url).await {
                Ok(connected) => {
                    context = Some(connected);
                    continue;
                }
                Err(e) => Err(e),
            },
        };
        match outcome {
            Ok(0) => {
                pause = Duration::from_millis(200);
                tokio::time::sleep(IDLE_POLL).await;
            }
            Ok(_) => pause = Duration::from_millis(200),
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?pause, "the NATS publisher will retry");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(30));
            }
        }
    }
}
