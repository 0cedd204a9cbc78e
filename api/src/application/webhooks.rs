//! Webhooks (INTEGRATION.md 1; API.md "Webhook deliveries"): the operator registers
//! endpoints, and every agreement event of the types an endpoint subscribes to is
//! `POST`ed to it, at least once, in position order (so in order per agreement too),
//! signed with the endpoint's secret.
//!
//! **The deliverer** ([`deliver_forever`], started by `startup` on every server) runs
//! only while its server holds the [`DeliveryLease`] (`leases` row [`DELIVERY_LEASE`]):
//! when several servers share a store exactly one delivers, and when it stops renewing
//! (it died, or lost the database) another takes over once the lease expires. The holder
//! runs one task per endpoint: it reads the global feed (final events only,
//! `store::feed`) after the endpoint's stored cursor (`feed_cursors` row
//! `webhook:<id>`), skips what the endpoint does not subscribe to, and delivers the
//! rest one at a time. The cursor moves past an event only after a 2xx answer, so a
//! restart or crash delivers again from the cursor and skips nothing; every attempt is
//! logged (`webhook_deliveries`, the newest [`DELIVERY_LOG_KEPT`] of each endpoint
//! kept).
//!
//! **A failure** (an answer other than 2xx, no answer within the timeout, no
//! connection) is retried: the same event with the same body and id, after a pause that
//! doubles from `--webhook-first-retry-ms` up to [`RETRY_PAUSE_MAX`], until the retry
//! horizon (24 hours by default) has passed since its first attempt. Then the endpoint
//! is **parked**: its deliveries stop at that event, with the cursor still before it,
//! until the operator resumes it (`POST /v1/webhooks/{id}/resumption`), which starts a
//! new series of attempts at the same event. Nothing is ever skipped.
//!
//! Commands never wait on any of it: the deliverer is a task of its own that reads the
//! store in brief statements, and nothing in the command path reads its state.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::Full;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;
use time::OffsetDateTime;

use crate::application::commands::Ledger;
use crate::settings::WebhookSettings;
use crate::store::{DeliveryRow, FeedEvent, StoreError, WebhookRow};

/// The name of the deliverer's lease in `leases`.
pub const DELIVERY_LEASE: &str = "webhooks";
/// An endpoint's cursor in `feed_cursors` is named this, then its id.
pub const CURSOR_PREFIX: &str = "webhook:";
/// `event_types: ["*"]`: every agreement event, of the types there are now and later.
pub const EVERY_EVENT_TYPE: &str = "*";
/// The header of a delivery's signature: `t=<unix seconds>,v1=<hex HMAC-SHA256>`.
pub const SIGNATURE_HEADER: &str = "Edoc-Signature";
/// The longest endpoint URL accepted.
pub const URL_CHARS_MAX: usize = 2_048;
/// The longest secret accepted.
pub const SECRET_CHARS_MAX: usize = 256;
/// The most event types one endpoint lists.
pub const EVENT_TYPES_MAX: usize = 64;
/// The most endpoints a store keeps registered at once.
pub const WEBHOOKS_MAX: usize = 100;
/// The attempts the log keeps per endpoint (older ones are forgotten).
pub const DELIVERY_LOG_KEPT: i64 = 1_000;
/// The most attempts `GET /v1/webhooks/{id}/deliveries` answers.
pub const DELIVERY_LOG_PAGE_MAX: i64 = 500;
/// Attempts answered when the caller names no limit.
pub const DELIVERY_LOG_PAGE_DEFAULT: i64 = 50;
/// The longest pause between two attempts at one event.
pub const RETRY_PAUSE_MAX: Duration = Duration::from_secs(3_600);
/// Events read from the feed at once by one endpoint's task.
const FEED_PAGE: i64 = 100;
/// How often the deliverer reads the store's last position, which wakes the endpoints'
/// tasks waiting for a new event (one read for every endpoint).
const HEAD_POLL: Duration = Duration::from_millis(250);
/// How often the deliverer looks for endpoints registered or deleted.
const ENDPOINTS_POLL: Duration = Duration::from_millis(500);
/// How long an idle endpoint's task waits for the last position to move before it
/// reads on anyway.
const IDLE_RECHECK: Duration = Duration::from_secs(5);
/// The shortest pause between two reads of an idle endpoint's task.
const IDLE_PAUSE_MIN: Duration = Duration::from_millis(50);
/// How often a parked endpoint's task looks whether it was resumed.
const PARKED_POLL: Duration = Duration::from_secs(1);
/// The longest error text kept in the log.
const ERROR_CHARS_MAX: usize = 500;

/// Why a webhook request was refused.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The endpoint as given cannot be registered (400).
    #[error("{0}")]
    Invalid(String),
    /// No endpoint has this id, or it was deleted (404).
    #[error("there is no webhook endpoint {0}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the operator sends to register an endpoint (`POST /v1/webhooks`).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookRegistration {
    /// Where events are `POST`ed: an `http` or `https` URL, at most 2,048 characters.
    #[schema(example = "https://portal.example.kz/hooks/edoc")]
    pub url: String,
    /// Agreement event type names (`InvoiceIssued`, `Suspended`, ...), 1 to 64 of them,
    /// or `["*"]` for every agreement event.
    #[schema(example = json!(["Suspended", "Blocked", "Reinstated", "Unblocked", "Terminated"]))]
    pub event_types: Vec<String>,
    /// The key every delivery is signed with (HMAC-SHA256), 1 to 256 characters. Never
    /// answered back.
    #[schema(example = "whsec_2b7e151628aed2a6abf7158809cf4f3c")]
    pub secret: String,
}

/// An endpoint the operator registered, as the API shows it (never its secret).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct WebhookEndpoint {
    pub id: String,
    pub url: String,
    pub event_types: Vec<String>,
    /// When it was registered (RFC 3339, UTC).
    #[schema(format = DateTime, example = "2026-02-02T09:15:00.000Z")]
    pub created_at: String,
    /// Whether deliveries have stopped at an event that could not be delivered within
    /// the retry horizon (resume with `POST /v1/webhooks/{id}/resumption`).
    pub parked: bool,
    #[schema(format = DateTime)]
    pub parked_at: Option<String>,
    /// The position of the event deliveries stopped at.
    pub parked_position: Option<i64>,
}

/// What became of one delivery attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryOutcome {
    /// The endpoint answered 2xx: the cursor moved past the event.
    Delivered,
    /// It did not; the event is tried again at `next_attempt_at`.
    Failed,
    /// It did not, and the retry horizon had passed: the endpoint is parked.
    Parked,
}

impl DeliveryOutcome {
    fn code(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Parked => "parked",
        }
    }

    fn of_code(code: &str) -> Self {
        match code {
            "delivered" => Self::Delivered,
            "parked" => Self::Parked,
            _ => Self::Failed,
        }
    }
}

/// One attempt to deliver one event to one endpoint (the delivery log).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DeliveryAttempt {
    /// The event's position (its delivery id).
    pub position: i64,
    /// 1 for the first attempt at this position, then 2, 3, ... (a resumption starts
    /// again at 1).
    pub attempt: i32,
    #[schema(format = DateTime)]
    pub attempted_at: String,
    /// The endpoint's HTTP status, when it answered.
    pub status_code: Option<i32>,
    /// What went wrong, when it did not answer (a timeout, a refused connection).
    pub error: Option<String>,
    pub outcome: DeliveryOutcome,
    /// When the event is tried again (`failed` only).
    #[schema(format = DateTime)]
    pub next_attempt_at: Option<String>,
}

/// `GET /v1/webhooks/{id}/deliveries`: an endpoint's log, newest first, and where its
/// deliveries stand.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DeliveryLog {
    pub webhook_id: String,
    /// The last position delivered or skipped: the next delivery is of an event after it.
    pub cursor: i64,
    pub parked: bool,
    pub parked_position: Option<i64>,
    pub attempts: Vec<DeliveryAttempt>,
}

/// The body of a delivery (API.md "Webhook deliveries"): the same bytes on every
/// attempt at one position.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WebhookDelivery {
    /// The event's position as a string: the delivery's stable id.
    pub id: String,
    pub position: i64,
    pub participant_id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub payload: Value,
    pub recorded_at: String,
}

/// The cursor of endpoint `id` in `feed_cursors`.
pub fn cursor_name(id: &str) -> String {
    format!("{CURSOR_PREFIX}{id}")
}

/// The `Edoc-Signature` header's value for `body` sent at `timestamp` (unix seconds):
/// `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>" keyed with the secret>`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

impl WebhookRegistration {
    /// The event types as stored, after checking every part of the registration.
    fn check(&self) -> Result<Vec<String>, WebhookError> {
        let invalid = |detail: String| Err(WebhookError::Invalid(detail));
        if self.url.chars().count() > URL_CHARS_MAX {
            return invalid(format!("url: longer than {URL_CHARS_MAX} characters"));
        }
        let uri: axum::http::Uri = match self.url.parse() {
            Ok(uri) => uri,
            Err(_) => return invalid(format!("url: `{}` is not a URL", self.url)),
        };
        match uri.scheme_str() {
            Some("http" | "https") => {}
            _ => return invalid(format!("url: `{}` is not an http or https URL", self.url)),
        }
        if uri.host().is_none_or(str::is_empty) {
            return invalid(format!("url: `{}` names no host", self.url));
        }
        let secret_chars = self.secret.chars().count();
        if self.secret.trim().is_empty()
            || secret_chars > SECRET_CHARS_MAX
            || self.secret.chars().any(char::is_control)
        {
            return invalid(format!(
                "secret: 1 to {SECRET_CHARS_MAX} characters, not blank, no control characters"
            ));
        }
        if self.event_types.is_empty() || self.event_types.len() > EVENT_TYPES_MAX {
            return invalid(format!(
                "event_types: 1 to {EVENT_TYPES_MAX} event type names, or [\"*\"] for every agreement event"
            ));
        }
        if self.event_types.iter().any(|t| t == EVERY_EVENT_TYPE) {
            if self.event_types.len() > 1 {
                return invalid("event_types: `*` (every agreement event) stands alone".to_owned());
            }
            return Ok(vec![EVERY_EVENT_TYPE.to_owned()]);
        }
        let mut types = Vec::with_capacity(self.event_types.len());
        for name in &self.event_types {
            if !events::AGREEMENT_EVENT_TYPES.contains(&name.as_str()) {
                return invalid(format!(
                    "event_types: `{name}` is not an agreement event type (one of {})",
                    events::AGREEMENT_EVENT_TYPES.join(", ")
                ));
            }
            if !types.contains(name) {
                types.push(name.clone());
            }
        }
        Ok(types)
    }
}

fn endpoint_of(row: WebhookRow) -> WebhookEndpoint {
    WebhookEndpoint {
        event_types: event_types_of(&row.event_types),
        id: row.id,
        url: row.url,
        created_at: row.created_at,
        parked: row.parked_at.is_some(),
        parked_at: row.parked_at,
        parked_position: row.parked_position,
    }
}

fn event_types_of(value: &Value) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str().map(str::to_owned))
        .collect()
}

/// Registers an endpoint: it hears of the events recorded from now on.
pub async fn register(
    ledger: &Ledger,
    registration: &WebhookRegistration,
) -> Result<WebhookEndpoint, WebhookError> {
    let event_types = registration.check()?;
    let repository = ledger.repository();
    if repository.webhooks().await?.len() >= WEBHOOKS_MAX {
        return Err(WebhookError::Invalid(format!(
            "at most {WEBHOOKS_MAX} webhook endpoints are registered at once; delete one first"
        )));
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    // The cursor first, so that the deliverer never sees the endpoint without it.
    // The gap-safe head: an event committing below the last position as the endpoint
    // is registered is still delivered to it.
    let head = repository.feed_final_head().await?;
    if head > 0 {
        repository
            .advance_feed_cursor(&cursor_name(&id), 0, head)
            .await?;
    }
    repository
        .insert_webhook(
            &id,
            &registration.url,
            &Value::from(event_types),
            &registration.secret,
        )
        .await?;
    let row = repository
        .webhook(&id)
        .await?
        .expect("the endpoint was just recorded");
    Ok(endpoint_of(row))
}

/// Every endpoint registered (not deleted), oldest first.
pub async fn list(ledger: &Ledger) -> Result<Vec<WebhookEndpoint>, WebhookError> {
    Ok(ledger
        .repository()
        .webhooks()
        .await?
        .into_iter()
        .map(endpoint_of)
        .collect())
}

/// Deletes an endpoint: nothing more is delivered to it (an attempt in flight may
/// still arrive). Its log is kept.
pub async fn delete(ledger: &Ledger, id: &str) -> Result<(), WebhookError> {
    if ledger.repository().delete_webhook(id).await? {
        Ok(())
    } else {
        Err(WebhookError::NotFound(id.to_owned()))
    }
}

/// Resumes a parked endpoint: the event it stopped at is tried again, as a new series
/// of attempts. An endpoint that is not parked is answered as it is.
pub async fn resume(ledger: &Ledger, id: &str) -> Result<WebhookEndpoint, WebhookError> {
    let repository = ledger.repository();
    if !repository.resume_webhook(id).await? {
        return Err(WebhookError::NotFound(id.to_owned()));
    }
    let row = repository
        .webhook(id)
        .await?
        .ok_or_else(|| WebhookError::NotFound(id.to_owned()))?;
    Ok(endpoint_of(row))
}

/// An endpoint's newest `limit` attempts (1 to [`DELIVERY_LOG_PAGE_MAX`]), its cursor
/// and whether it is parked.
pub async fn deliveries(
    ledger: &Ledger,
    id: &str,
    limit: i64,
) -> Result<DeliveryLog, WebhookError> {
    assert!(
        (1..=DELIVERY_LOG_PAGE_MAX).contains(&limit),
        "the limit was checked"
    );
    let repository = ledger.repository();
    let endpoint = repository
        .webhook(id)
        .await?
        .ok_or_else(|| WebhookError::NotFound(id.to_owned()))?;
    let cursor = repository.feed_cursor(&cursor_name(id)).await?;
    let attempts = repository
        .deliveries(id, limit)
        .await?
        .into_iter()
        .map(|row| DeliveryAttempt {
            position: row.position,
            attempt: row.attempt,
            attempted_at: row.attempted_at,
            status_code: row.status_code,
            error: row.error,
            outcome: DeliveryOutcome::of_code(&row.outcome),
            next_attempt_at: row.next_attempt_at,
        })
        .collect();
    Ok(DeliveryLog {
        webhook_id: endpoint.id,
        cursor,
        parked: endpoint.parked_at.is_some(),
        parked_position: endpoint.parked_position,
        attempts,
    })
}

/// How the deliverer runs: the settings, as durations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliverySchedule {
    /// How long an endpoint has to answer.
    pub timeout: Duration,
    /// How long one event is retried, from its first attempt, before parking.
    pub retry_horizon: Duration,
    /// The pause after the first failure (doubling after each, up to
    /// [`RETRY_PAUSE_MAX`]).
    pub first_retry: Duration,
    /// How long the lease lasts unrenewed; renewed every third of it.
    pub lease: Duration,
}

impl From<&WebhookSettings> for DeliverySchedule {
    fn from(settings: &WebhookSettings) -> Self {
        Self {
            timeout: Duration::from_millis(settings.webhook_timeout_ms),
            retry_horizon: Duration::from_secs(settings.webhook_retry_horizon_seconds),
            first_retry: Duration::from_millis(settings.webhook_first_retry_ms),
            lease: Duration::from_millis(settings.webhook_lease_ms),
        }
    }
}

impl DeliverySchedule {
    /// The pause after the `attempt`-th failure at one event.
    pub fn pause_after(&self, attempt: i32) -> Duration {
        let doublings = u32::try_from(attempt.saturating_sub(1))
            .unwrap_or(0)
            .min(30);
        self.first_retry
            .saturating_mul(1u32 << doublings)
            .min(RETRY_PAUSE_MAX)
    }
}

/// The deliverer's claim on its lease ([`DELIVERY_LEASE`]): a job lease like the others
/// (`application::jobs`).
pub type DeliveryLease = super::jobs::JobLease;

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// What every endpoint's task shares.
struct Deliverer {
    ledger: Arc<Ledger>,
    schedule: DeliverySchedule,
    lease: Arc<DeliveryLease>,
    client: HttpsClient,
    /// The store's last position, as the deliverer last read it.
    head: tokio::sync::watch::Sender<i64>,
}

/// The deliverer's HTTP client: `http` and `https` (rustls, trusting the Mozilla roots
/// compiled in), HTTP/1.1, a few idle connections kept per endpoint host.
fn https_client() -> HttpsClient {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .build();
    Client::builder(hyper_util::rt::TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(2)
        .build(https)
}

/// Delivers webhooks for as long as the server runs, while it holds the lease: renews
/// the lease every third of its duration, runs one task per endpoint while it holds it,
/// and stops them all when it does not. Aborted, it leaves the lease to expire;
/// `startup` releases it on a graceful stop.
pub async fn deliver_forever(
    ledger: Arc<Ledger>,
    schedule: DeliverySchedule,
    lease: Arc<DeliveryLease>,
) {
    let client = https_client();
    let deliverer = Arc::new(Deliverer {
        ledger,
        schedule,
        lease,
        client,
        head: tokio::sync::watch::Sender::new(0),
    });
    let renew_every = schedule.lease / 3;
    let mut next_renewal = Instant::now();
    let mut next_listing = Instant::now();
    let mut holding = false;
    let mut tasks: HashMap<String, EndpointTask> = HashMap::new();
    loop {
        let repository = deliverer.ledger.repository();
        if Instant::now() >= next_renewal {
            next_renewal = Instant::now() + renew_every;
            match deliverer.lease.renew(repository).await {
                Ok(held) => {
                    if held != holding {
                        tracing::info!(held, "the webhook deliverer's lease changed hands");
                        crate::metrics::lease_held(DELIVERY_LEASE, held);
                    }
                    holding = held;
                }
                Err(error) => {
                    tracing::warn!(%error, "could not renew the webhook lease; delivering only until it expires");
                }
            }
        }
        if holding && deliverer.lease.holds() {
            match repository.feed_head().await {
                Ok(head) => {
                    deliverer.head.send_if_modified(|known| {
                        let moved = *known != head;
                        *known = head;
                        moved
                    });
                }
                Err(error) => tracing::warn!(%error, "could not read the store's last position"),
            }
        }
        if holding && deliverer.lease.holds() && Instant::now() >= next_listing {
            next_listing = Instant::now() + ENDPOINTS_POLL;
            match repository.webhooks().await {
                Ok(endpoints) => {
                    // A deleted endpoint's task is dropped, so aborted; a finished one
                    // (it saw the lease lapse) is started again.
                    tasks.retain(|id, task| {
                        endpoints.iter().any(|e| &e.id == id) && !task.0.is_finished()
                    });
                    for endpoint in endpoints {
                        tasks.entry(endpoint.id.clone()).or_insert_with(|| {
                            EndpointTask(tokio::spawn(deliver_to_endpoint(
                                deliverer.clone(),
                                endpoint.id,
                            )))
                        });
                    }
                }
                Err(error) => tracing::warn!(%error, "could not read the webhook endpoints"),
            }
        } else if !(holding && deliverer.lease.holds()) {
            holding = false;
            tasks.clear();
        }
        tokio::time::sleep(HEAD_POLL.min(renew_every)).await;
    }
}

/// One endpoint's task, aborted when dropped: with the deliverer (a server stopping),
/// when the endpoint is deleted, or when the lease is lost.
struct EndpointTask(tokio::task::JoinHandle<()>);

impl Drop for EndpointTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The next attempt at an event that failed.
#[derive(Debug, Clone, Copy)]
struct PendingRetry {
    position: i64,
    attempt: i32,
    first_attempted_at: OffsetDateTime,
    next_attempt_at: OffsetDateTime,
}

/// What one pass of an endpoint's task did.
enum Pass {
    /// Nothing to deliver now: the cursor is at the last final event.
    Idle { cursor: i64 },
    /// The endpoint is parked.
    Parked,
    /// Delivered or skipped some; read on.
    Moved,
    /// The endpoint was deleted.
    Gone,
}

/// One endpoint's deliveries, in position order, for as long as the task runs.
async fn deliver_to_endpoint(deliverer: Arc<Deliverer>, id: String) {
    // A retry under way when the previous holder (or this server, before a restart)
    // stopped goes on where it was.
    let mut pending = match deliverer.ledger.repository().deliveries(&id, 1).await {
        Ok(rows) => rows.first().and_then(pending_of),
        Err(error) => {
            tracing::warn!(%error, webhook = %id, "could not read the delivery log");
            None
        }
    };
    let mut head = deliverer.head.subscribe();
    loop {
        if !deliverer.lease.holds() {
            return;
        }
        match deliver_pass(&deliverer, &id, &mut pending).await {
            Ok(Pass::Moved) => {}
            Ok(Pass::Idle { cursor }) => {
                tokio::time::sleep(IDLE_PAUSE_MIN).await;
                let _ =
                    tokio::time::timeout(IDLE_RECHECK, head.wait_for(|head| *head > cursor)).await;
            }
            Ok(Pass::Parked) => tokio::time::sleep(PARKED_POLL).await,
            Ok(Pass::Gone) => return,
            Err(error) => {
                tracing::warn!(%error, webhook = %id, "webhook delivery paused by a store error");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// The retry a logged failed attempt asks for.
fn pending_of(row: &DeliveryRow) -> Option<PendingRetry> {
    if DeliveryOutcome::of_code(&row.outcome) != DeliveryOutcome::Failed {
        return None;
    }
    let parse = |text: &str| {
        OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
    };
    Some(PendingRetry {
        position: row.position,
        attempt: row.attempt,
        first_attempted_at: parse(&row.first_attempted_at)?,
        next_attempt_at: parse(row.next_attempt_at.as_deref()?)?,
    })
}

/// Whether an endpoint subscribing to `event_types` hears of `event`.
fn subscribed(event_types: &Value, event: &FeedEvent) -> bool {
    event.aggregate_type == crate::application::export::AGGREGATE_TYPE
        && event_types.as_array().is_some_and(|types| {
            types
                .iter()
                .filter_map(Value::as_str)
                .any(|t| t == EVERY_EVENT_TYPE || t == event.event_type)
        })
}

/// RFC 3339 in UTC to the millisecond, as the log stores times.
fn timestamp(at: OffsetDateTime) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    at.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .expect("a time formats")
}

/// Reads a page of the feed after the endpoint's cursor and delivers what it subscribes
/// to, moving the cursor past each event delivered (and past the ones skipped).
async fn deliver_pass(
    deliverer: &Deliverer,
    id: &str,
    pending: &mut Option<PendingRetry>,
) -> Result<Pass, StoreError> {
    let repository = deliverer.ledger.repository();
    let Some(endpoint) = repository.webhook(id).await? else {
        return Ok(Pass::Gone);
    };
    if endpoint.parked_at.is_some() {
        *pending = None;
        return Ok(Pass::Parked);
    }
    let cursor_name = cursor_name(id);
    let mut cursor = repository.feed_cursor(&cursor_name).await?;
    let page = repository.feed(cursor, FEED_PAGE).await?;
    if page.is_empty() {
        return Ok(Pass::Idle { cursor });
    }
    let mut through = cursor;
    for event in page {
        if !subscribed(&endpoint.event_types, &event) {
            through = event.position;
            continue;
        }
        if through > cursor {
            if !repository
                .advance_feed_cursor(&cursor_name, cursor, through)
                .await?
            {
                return Ok(Pass::Moved);
            }
            cursor = through;
        }
        let view = crate::application::feed::view(event);
        let position = view.position;
        let body = Bytes::from(
            serde_json::to_vec(&WebhookDelivery {
                id: position.to_string(),
                position,
                participant_id: view.participant_id,
                event_type: view.event_type,
                payload: view.payload,
                recorded_at: view.recorded_at,
            })
            .expect("a delivery serializes"),
        );
        if !deliver_event(deliverer, &endpoint, position, body, pending).await? {
            return Ok(Pass::Moved);
        }
        if !repository
            .advance_feed_cursor(&cursor_name, cursor, position)
            .await?
        {
            return Ok(Pass::Moved);
        }
        cursor = position;
        through = position;
    }
    if through > cursor {
        repository
            .advance_feed_cursor(&cursor_name, cursor, through)
            .await?;
    }
    Ok(Pass::Moved)
}

/// Delivers one event, retrying it until the endpoint answers 2xx (`true`) or the retry
/// horizon passes and the endpoint is parked, or the lease is lost (`false`).
async fn deliver_event(
    deliverer: &Deliverer,
    endpoint: &WebhookRow,
    position: i64,
    body: Bytes,
    pending: &mut Option<PendingRetry>,
) -> Result<bool, StoreError> {
    let repository = deliverer.ledger.repository();
    let schedule = deliverer.schedule;
    loop {
        let retry = pending.filter(|retry| retry.position == position);
        if let Some(retry) = retry {
            let wait = retry.next_attempt_at - OffsetDateTime::now_utc();
            if let Ok(wait) = Duration::try_from(wait) {
                tokio::time::sleep(wait).await;
            }
        }
        if !deliverer.lease.holds() {
            return Ok(false);
        }
        let attempted_at = OffsetDateTime::now_utc();
        let (attempt, first_attempted_at) = match retry {
            Some(retry) => (retry.attempt.saturating_add(1), retry.first_attempted_at),
            None => (1, attempted_at),
        };
        let answer = send(deliverer, endpoint, body.clone()).await;
        let finished = OffsetDateTime::now_utc();
        let (status_code, error) = match &answer {
            Ok(status) => (Some(i32::from(*status)), None),
            Err(error) => (None, Some(error.clone())),
        };
        let delivered = matches!(answer, Ok(status) if (200..300).contains(&status));
        let exhausted = Duration::try_from(finished - first_attempted_at).unwrap_or_default()
            >= schedule.retry_horizon;
        let (outcome, next_attempt_at) = if delivered {
            (DeliveryOutcome::Delivered, None)
        } else if exhausted {
            (DeliveryOutcome::Parked, None)
        } else {
            let next = finished + schedule.pause_after(attempt);
            (DeliveryOutcome::Failed, Some(next))
        };
        repository
            .record_delivery(
                &DeliveryRow {
                    webhook_id: endpoint.id.clone(),
                    position,
                    attempt,
                    attempted_at: timestamp(attempted_at),
                    first_attempted_at: timestamp(first_attempted_at),
                    status_code,
                    error,
                    outcome: outcome.code().to_owned(),
                    next_attempt_at: next_attempt_at.map(timestamp),
                },
                DELIVERY_LOG_KEPT,
            )
            .await?;
        crate::metrics::record_webhook_attempt(outcome.code());
        match (outcome, next_attempt_at) {
            (DeliveryOutcome::Delivered, _) => {
                *pending = None;
                return Ok(true);
            }
            (DeliveryOutcome::Failed, Some(next_attempt_at)) => {
                tracing::info!(webhook = %endpoint.id, position, attempt, status = ?status_code, "webhook delivery failed; retrying");
                *pending = Some(PendingRetry {
                    position,
                    attempt,
                    first_attempted_at,
                    next_attempt_at,
                });
            }
            _ => {
                tracing::warn!(webhook = %endpoint.id, position, attempt, "webhook endpoint parked: the event was not delivered within the retry horizon");
                repository
                    .park_webhook(&endpoint.id, position, &timestamp(finished))
                    .await?;
                *pending = None;
                return Ok(false);
            }
        }
    }
}

/// One attempt: the signed `POST`; the endpoint's status, or what went wrong.
async fn send(deliverer: &Deliverer, endpoint: &WebhookRow, body: Bytes) -> Result<u16, String> {
    let signed_at = OffsetDateTime::now_utc().unix_timestamp();
    let request = axum::http::Request::post(endpoint.url.as_str())
        .header(axum::http::header::CONTENT_TYPE, "application/json")
        .header(axum::http::header::USER_AGENT, "edoc-ledger-webhooks")
        .header(
            SIGNATURE_HEADER,
            signature(&endpoint.secret, signed_at, &body),
        )
        .body(Full::new(body))
        .map_err(|error| format!("the request cannot be made: {error}"))?;
    let timeout = deliverer.schedule.timeout;
    match tokio::time::timeout(timeout, deliverer.client.request(request)).await {
        Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
        Ok(Err(error)) => {
            let mut text = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            Err(text.chars().take(ERROR_CHARS_MAX).collect())
        }
        Ok(Ok(response)) => Ok(response.status().as_u16()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registration(url: &str, event_types: &[&str], secret: &str) -> WebhookRegistration {
        WebhookRegistration {
            url: url.to_owned(),
            event_types: event_types.iter().map(|t| (*t).to_owned()).collect(),
            secret: secret.to_owned(),
        }
    }

    #[test]
    fn a_registration_is_checked_part_by_part() {
        let ok = |r: WebhookRegistration| r.check().unwrap();
        let refused = |r: WebhookRegistration| r.check().unwrap_err().to_string();
        assert_eq!(
            ok(registration(
                "https://a.kz/h",
                &["Suspended", "Suspended"],
                "s"
            )),
            ["Suspended"]
        );
        assert_eq!(ok(registration("http://127.0.0.1:9/h", &["*"], "s")), ["*"]);
        assert!(refused(registration("ftp://a.kz/h", &["*"], "s")).contains("http or https"));
        assert!(refused(registration("not a url", &["*"], "s")).contains("url"));
        assert!(refused(registration("/relative", &["*"], "s")).contains("url"));
        assert!(refused(registration("https://a.kz", &["*"], "")).contains("secret"));
        assert!(refused(registration("https://a.kz", &["*"], "   ")).contains("secret"));
        assert!(refused(registration("https://a.kz", &["*"], "a\u{0}b")).contains("secret"));
        assert!(refused(registration("https://a.kz/\u{0}", &["*"], "s")).contains("url"));
        let long = "s".repeat(SECRET_CHARS_MAX + 1);
        assert!(refused(registration("https://a.kz", &["*"], &long)).contains("secret"));
        assert!(refused(registration("https://a.kz", &[], "s")).contains("event_types"));
        assert!(refused(registration("https://a.kz", &["Nope"], "s")).contains("`Nope`"));
        assert!(refused(registration("https://a.kz", &["*", "Blocked"], "s")).contains("alone"));
    }

    #[test]
    fn the_signature_is_the_hmac_of_the_time_and_the_body() {
        // Computed independently: printf '1700000000.{}' | openssl dgst -sha256 -hmac key
        assert_eq!(
            signature("key", 1_700_000_000, b"{}"),
            "t=1700000000,v1=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
        );
        assert_ne!(
            signature("key", 1_700_000_000, b"{}"),
            signature("other", 1_700_000_000, b"{}")
        );
    }

    /// The TLS set-up (a crypto provider, the roots) is made at start, not at the first
    /// https delivery: it must not fail there.
    #[tokio::test]
    async fn the_https_client_builds() {
        let _client = https_client();
    }

    #[test]
    fn the_pause_doubles_up_to_an_hour() {
        let schedule = DeliverySchedule {
            timeout: Duration::from_secs(10),
            retry_horizon: Duration::from_secs(86_400),
            first_retry: Duration::from_secs(1),
            lease: Duration::from_secs(10),
        };
        assert_eq!(schedule.pause_after(1), Duration::from_secs(1));
        assert_eq!(schedule.pause_after(2), Duration::from_secs(2));
        assert_eq!(schedule.pause_after(5), Duration::from_secs(16));
        assert_eq!(schedule.pause_after(13), RETRY_PAUSE_MAX);
        assert_eq!(schedule.pause_after(1_000), RETRY_PAUSE_MAX);
    }
}
