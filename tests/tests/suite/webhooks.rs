//! Webhooks (INTEGRATION.md 1; API.md "Webhook deliveries") end to end: the real server
//! delivers over real HTTP to a receiver inside the test (axum on 127.0.0.1:0) that
//! answers as the test scripts it: 500s, answers too late, then 200s. Every event is
//! delivered, signed with the endpoint's secret, with the same id and body on every
//! retry, in position order; an endpoint that never answers is parked, visibly, and
//! resumed; two servers on one PostgreSQL store deliver through one lease holder and
//! the other takes over; bad registrations are refused and record nothing.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use api::settings::WebhookSettings;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::{participant_ids, spawn_app_with_webhooks, Store, TestApp};

crate::on_both_stores!(
    every_event_is_delivered_signed_and_in_order_through_failures_and_timeouts,
    an_endpoint_that_never_answers_is_parked_visibly_and_resumed,
    bad_registrations_are_refused_and_record_nothing,
    an_endpoint_that_hangs_never_slows_commands,
    a_lease_has_one_holder_until_it_expires,
);

const SECRET: &str = "whsec_test_2b7e151628aed2a6";

/// Short enough for a test: an answer within 400 ms, a first retry after 100 ms, a
/// lease of 1.5 s.
fn quick(retry_horizon_seconds: u64) -> WebhookSettings {
    WebhookSettings {
        webhook_timeout_ms: 400,
        webhook_retry_horizon_seconds: retry_horizon_seconds,
        webhook_first_retry_ms: 100,
        webhook_lease_ms: 1_500,
    }
}

/// How the receiver answers one request.
#[derive(Debug, Clone, Copy)]
enum Reply {
    Status(u16),
    /// Answers 200, but only after this long (past the deliverer's timeout).
    Late(Duration),
}

/// A request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    signature: String,
    body: Vec<u8>,
    /// Whether it was answered 2xx in time (the deliverer saw it acknowledged).
    acknowledged: bool,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    fn position(&self) -> i64 {
        self.json()["position"].as_i64().unwrap()
    }
}

#[derive(Default)]
struct ReceiverState {
    received: Vec<Received>,
    /// The replies to the next requests at `scripted_path`, in order; then `otherwise`.
    scripted_path: String,
    script: VecDeque<Reply>,
    otherwise: Option<Reply>,
}

/// An HTTP endpoint inside the test.
struct Receiver {
    address: SocketAddr,
    state: Arc<Mutex<ReceiverState>>,
    server: tokio::task::JoinHandle<()>,
}

async fn receive(
    State(state): State<Arc<Mutex<ReceiverState>>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let reply = {
        let mut state = state.lock().unwrap();
        let scripted = if uri.path() == state.scripted_path {
            state.script.pop_front()
        } else {
            None
        };
        let reply = scripted.or(state.otherwise).unwrap_or(Reply::Status(200));
        state.received.push(Received {
            path: uri.path().to_owned(),
            signature: headers
                .get("edoc-signature")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned(),
            body: body.to_vec(),
            acknowledged: matches!(reply, Reply::Status(s) if (200..300).contains(&s)),
        });
        reply
    };
    match reply {
        Reply::Status(status) => StatusCode::from_u16(status).unwrap(),
        Reply::Late(after) => {
            tokio::time::sleep(after).await;
            StatusCode::OK
        }
    }
}

impl Receiver {
    /// A receiver that answers the first requests at `scripted_path` by `script`, and
    /// every other request 200.
    async fn start(scripted_path: &str, script: Vec<Reply>) -> Self {
        let state = Arc::new(Mutex::new(ReceiverState {
            scripted_path: scripted_path.to_owned(),
            script: script.into(),
            ..ReceiverState::default()
        }));
        let router = axum::Router::new()
            .fallback(receive)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Self {
            address,
            state,
            server,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    fn answer_from_now_on(&self, reply: Reply) {
        let mut state = self.state.lock().unwrap();
        state.script.clear();
        state.otherwise = Some(reply);
    }

    /// The positions acknowledged at `path`.
    fn acknowledged(&self, path: &str) -> Vec<i64> {
        self.received()
            .iter()
            .filter(|r| r.path == path && r.acknowledged)
            .map(Received::position)
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Whether `header` (`t=...,v1=...`) signs `body` with `secret`.
fn signature_verifies(secret: &str, header: &str, body: &[u8]) -> bool {
    let Some((t, v1)) = header
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
    else {
        return false;
    };
    let Ok(expected) = hex::decode(v1) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

async fn register(app: &TestApp, url: &str, event_types: Value) -> Value {
    let response = app
        .post(
            "/v1/webhooks",
            &json!({"url": url, "event_types": event_types, "secret": SECRET}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let endpoint: Value = response.json().await.unwrap();
    assert!(endpoint.get("secret").is_none(), "{endpoint}");
    endpoint
}

/// The store's agreement events as the feed shows them, in position order.
async fn agreement_events(app: &TestApp) -> Vec<Value> {
    let mut events = Vec::new();
    let mut after = 0;
    loop {
        let page = app
            .get_json(&format!("/v1/events?after={after}&limit=1000"))
            .await;
        let next = page["next"].as_i64().unwrap();
        events.extend(page["events"].as_array().unwrap().iter().cloned());
        if next == after {
            return events;
        }
        after = next;
    }
}

/// Waits until `done` holds, failing with `what` after `limit`.
async fn wait_for(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "waited {limit:?} for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The endpoint's delivery log once its cursor has reached `position` (the receiver
/// acknowledges a delivery a moment before the deliverer moves the cursor).
async fn log_at(app: &TestApp, id: &str, position: i64) -> Value {
    let started = Instant::now();
    loop {
        let log = app
            .get_json(&format!("/v1/webhooks/{id}/deliveries?limit=500"))
            .await;
        if log["cursor"] == position {
            return log;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the cursor stays at {}, not {position}",
            log["cursor"]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn every_event_is_delivered_signed_and_in_order_through_failures_and_timeouts(store: Store) {
    let app = spawn_app_with_webhooks(store, quick(3_600)).await;
    // The endpoint at /all answers 500 twice, then too late twice, then recovers.
    let receiver = Receiver::start(
        "/all",
        vec![
            Reply::Status(500),
            Reply::Status(500),
            Reply::Late(Duration::from_millis(1_500)),
            Reply::Late(Duration::from_millis(1_500)),
        ],
    )
    .await;
    let all = register(&app, &receiver.url("/all"), json!(["*"])).await;
    let signed = register(&app, &receiver.url("/signed"), json!(["AgreementSigned"])).await;
    assert_eq!(all["event_types"], json!(["*"]));
    assert_eq!(signed["event_types"], json!(["AgreementSigned"]));
    assert_eq!(all["parked"], false);

    for participant in participant_ids(3) {
        app.signed_agreement(&participant).await;
        let response = app
            .post(
                &format!("/v1/agreements/{participant}/invoices"),
                &crate::helpers::invoice("2026-02-02", "1000.00"),
            )
            .await;
        assert_eq!(response.status(), 201);
    }
    let events = agreement_events(&app).await;
    let positions: Vec<i64> = events
        .iter()
        .map(|e| e["position"].as_i64().unwrap())
        .collect();
    assert_eq!(positions.len(), 9, "{events:?}");

    // /all hears of every event; /signed of the signings only.
    wait_for(Duration::from_secs(30), "every event at /all", || {
        receiver.acknowledged("/all") == positions
    })
    .await;
    let signings: Vec<i64> = events
        .iter()
        .filter(|e| e["type"] == "AgreementSigned")
        .map(|e| e["position"].as_i64().unwrap())
        .collect();
    wait_for(Duration::from_secs(30), "the signings at /signed", || {
        receiver.acknowledged("/signed") == signings
    })
    .await;

    let received = receiver.received();
    let mut bodies: BTreeMap<i64, Vec<u8>> = BTreeMap::new();
    for request in &received {
        assert!(
            signature_verifies(SECRET, &request.signature, &request.body),
            "{request:?}"
        );
        let body = request.json();
        let position = request.position();
        assert_eq!(body["id"], position.to_string());
        let event = events
            .iter()
            .find(|e| e["position"] == position)
            .expect("a stored event");
        for field in ["participant_id", "type", "payload", "recorded_at"] {
            assert_eq!(body[field], event[field], "{field}");
        }
        // A retry sends the same bytes.
        let first = bodies
            .entry(position)
            .or_insert_with(|| request.body.clone());
        assert_eq!(*first, request.body, "the body of a retry at {position}");
    }
    // In position order: an endpoint never hears of an event before an earlier one is
    // acknowledged (so each agreement's events come in their order).
    let at_all: Vec<i64> = received
        .iter()
        .filter(|r| r.path == "/all")
        .map(Received::position)
        .collect();
    assert!(at_all.windows(2).all(|w| w[0] <= w[1]), "{at_all:?}");
    // The first event was tried five times: two 500s, two timeouts, then acknowledged.
    assert_eq!(at_all.iter().filter(|p| **p == positions[0]).count(), 5);

    let id = all["id"].as_str().unwrap();
    let log = log_at(&app, id, *positions.last().unwrap()).await;
    assert_eq!(log["parked"], false);
    let attempts = log["attempts"].as_array().unwrap();
    let first_event: Vec<&Value> = attempts
        .iter()
        .filter(|a| a["position"] == positions[0])
        .collect();
    // Newest first: attempt 5 delivered, then two timeouts and two 500s.
    let numbers: Vec<i64> = first_event
        .iter()
        .map(|a| a["attempt"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [5, 4, 3, 2, 1]);
    assert_eq!(first_event[0]["outcome"], "delivered");
    assert_eq!(first_event[0]["status_code"], 200);
    for timed_out in &first_event[1..3] {
        assert_eq!(timed_out["outcome"], "failed");
        assert!(
            timed_out["error"].as_str().unwrap().contains("no answer"),
            "{timed_out}"
        );
        assert!(timed_out["next_attempt_at"].is_string());
    }
    for refused in &first_event[3..] {
        assert_eq!(refused["outcome"], "failed");
        assert_eq!(refused["status_code"], 500);
    }
    assert_eq!(
        attempts
            .iter()
            .filter(|a| a["outcome"] == "delivered")
            .count(),
        positions.len()
    );

    let metrics = app.get("/metrics").await.text().await.unwrap();
    for outcome in ["delivered", "failed"] {
        assert!(
            metrics.contains(&format!(
                "edoc_ledger_webhook_delivery_attempts_total{{outcome=\"{outcome}\"}}"
            )),
            "{metrics}"
        );
    }

    // The cursor is stored: a restarted server delivers nothing again, and what is
    // recorded after it is delivered.
    let app = app.restart().await;
    let participant = &participant_ids(4)[3];
    app.signed_agreement(participant).await;
    let positions: Vec<i64> = agreement_events(&app)
        .await
        .iter()
        .map(|e| e["position"].as_i64().unwrap())
        .collect();
    wait_for(Duration::from_secs(30), "the new events at /all", || {
        receiver.acknowledged("/all") == positions
    })
    .await;
    app.finish().await;
}

async fn an_endpoint_that_never_answers_is_parked_visibly_and_resumed(store: Store) {
    let app = spawn_app_with_webhooks(store, quick(2)).await;
    let receiver = Receiver::start("/", Vec::new()).await;
    receiver.answer_from_now_on(Reply::Status(503));
    let endpoint = register(&app, &receiver.url("/hook"), json!(["*"])).await;
    let id = endpoint["id"].as_str().unwrap().to_owned();
    let participant = &participant_ids(1)[0];
    app.signed_agreement(participant).await;
    let positions: Vec<i64> = agreement_events(&app)
        .await
        .iter()
        .map(|e| e["position"].as_i64().unwrap())
        .collect();

    // Retried for the horizon (2 s), then parked at the first event.
    let started = Instant::now();
    let parked = loop {
        let listed = app.get_json("/v1/webhooks").await;
        let endpoint = listed
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id.as_str())
            .unwrap()
            .clone();
        if endpoint["parked"] == true {
            break endpoint;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "never parked");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "parked too soon"
    );
    assert_eq!(parked["parked_position"], positions[0]);
    assert!(parked["parked_at"].is_string());
    assert!(parked.get("secret").is_none());
    let log = app.get_json(&format!("/v1/webhooks/{id}/deliveries")).await;
    assert_eq!(log["parked"], true);
    assert_eq!(log["parked_position"], positions[0]);
    assert!(log["cursor"].as_i64().unwrap() < positions[0]);
    let attempts = log["attempts"].as_array().unwrap();
    assert_eq!(attempts[0]["outcome"], "parked");
    assert!(attempts.len() >= 3, "{attempts:?}");
    assert!(attempts.iter().all(|a| a["position"] == positions[0]));
    assert!(attempts.iter().all(|a| a["status_code"] == 503));
    // Parked: nothing more is tried, and nothing after it was sent.
    let tried = receiver.received().len();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(receiver.received().len(), tried);
    assert!(receiver
        .received()
        .iter()
        .all(|r| r.position() == positions[0]));

    // Resumed once the endpoint works again: everything arrives, the first event too.
    receiver.answer_from_now_on(Reply::Status(204));
    let response = app
        .send_as(
            reqwest::Method::POST,
            &format!("/v1/webhooks/{id}/resumption"),
            Some(&format!("Bearer {}", app.operator_token)),
            None,
        )
        .await;
    assert_eq!(response.status(), 200);
    let resumed: Value = response.json().await.unwrap();
    assert_eq!(resumed["parked"], false);
    wait_for(
        Duration::from_secs(20),
        "delivery after the resumption",
        || receiver.acknowledged("/hook") == positions,
    )
    .await;
    let log = log_at(&app, &id, *positions.last().unwrap()).await;
    assert_eq!(log["parked"], false);

    // Deleted: gone from the list, its log answers 404, and nothing more is delivered.
    let response = app
        .send_as(
            reqwest::Method::DELETE,
            &format!("/v1/webhooks/{id}"),
            Some(&format!("Bearer {}", app.operator_token)),
            None,
        )
        .await;
    assert_eq!(response.status(), 204);
    assert_eq!(app.get_json("/v1/webhooks").await, json!([]));
    let response = app.get(&format!("/v1/webhooks/{id}/deliveries")).await;
    assert_eq!(response.status(), 404);
    let before = receiver.received().len();
    app.signed_agreement(&participant_ids(2)[1]).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(receiver.received().len(), before);
    app.finish().await;
}

async fn bad_registrations_are_refused_and_record_nothing(store: Store) {
    let app = spawn_app_with_webhooks(store, quick(3_600)).await;
    for (body, names) in [
        (
            json!({"url": "ftp://example.kz/hook", "event_types": ["*"], "secret": "s"}),
            "http or https",
        ),
        (
            json!({"url": "not a url", "event_types": ["*"], "secret": "s"}),
            "url",
        ),
        (
            json!({"url": "https://example.kz/hook", "event_types": ["*"]}),
            "secret",
        ),
        (
            json!({"url": "https://example.kz/hook", "event_types": ["*"], "secret": ""}),
            "secret",
        ),
        (
            json!({"url": "https://example.kz/hook", "event_types": ["InvoiceIsued"], "secret": "s"}),
            "InvoiceIsued",
        ),
        (
            json!({"url": "https://example.kz/hook", "event_types": [], "secret": "s"}),
            "event_types",
        ),
        (
            json!({"url": "https://example.kz/hook", "event_types": ["*"], "secret": "s", "extra": 1}),
            "extra",
        ),
    ] {
        let response = app.post("/v1/webhooks", &body).await;
        assert_eq!(response.status(), 400, "{body}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{body}"
        );
        let problem: Value = response.json().await.unwrap();
        assert!(
            problem["detail"].as_str().unwrap().contains(names),
            "{body}: {problem}"
        );
    }
    assert_eq!(app.get_json("/v1/webhooks").await, json!([]));

    // The operator's alone: billing staff may neither register nor read endpoints.
    let billing = app
        .token(api::application::tokens::Role::Billing, "billing", None)
        .await;
    let body = json!({"url": "https://example.kz/hook", "event_types": ["*"], "secret": "s"});
    for (method, path, body) in [
        (reqwest::Method::POST, "/v1/webhooks", Some(&body)),
        (reqwest::Method::GET, "/v1/webhooks", None),
    ] {
        let response = app
            .send_as(method, path, Some(&format!("Bearer {billing}")), body)
            .await;
        assert_eq!(response.status(), 403, "{path}");
    }
    assert_eq!(app.get_json("/v1/webhooks").await, json!([]));

    for (method, path) in [
        (reqwest::Method::DELETE, "/v1/webhooks/nope"),
        (reqwest::Method::GET, "/v1/webhooks/nope/deliveries"),
        (reqwest::Method::POST, "/v1/webhooks/nope/resumption"),
    ] {
        let response = app
            .send_as(
                method,
                path,
                Some(&format!("Bearer {}", app.operator_token)),
                None,
            )
            .await;
        assert_eq!(response.status(), 404, "{path}");
    }
    app.finish().await;
}

async fn an_endpoint_that_hangs_never_slows_commands(store: Store) {
    let mut settings = quick(3_600);
    settings.webhook_timeout_ms = 3_000;
    let app = spawn_app_with_webhooks(store, settings).await;
    let receiver = Receiver::start("/", Vec::new()).await;
    receiver.answer_from_now_on(Reply::Late(Duration::from_secs(10)));
    for path in ["/a", "/b", "/c"] {
        register(&app, &receiver.url(path), json!(["*"])).await;
    }
    let started = Instant::now();
    for participant in participant_ids(8) {
        let command = Instant::now();
        app.signed_agreement(&participant).await;
        assert!(
            command.elapsed() < Duration::from_secs(1),
            "two commands took {:?} while the endpoints hang",
            command.elapsed()
        );
    }
    // The endpoints were being tried all along (and hung).
    assert!(started.elapsed() < Duration::from_secs(8));
    wait_for(Duration::from_secs(5), "the endpoints tried", || {
        receiver.received().len() >= 3
    })
    .await;
    assert!(receiver.received().iter().all(|r| !r.acknowledged));
    app.finish().await;
}

/// The store's lease (`leases`), the same on both databases: one holder at a time,
/// renewed by it, taken over once it expires or is given up.
async fn a_lease_has_one_holder_until_it_expires(store: Store) {
    let app = spawn_app_with_webhooks(store, quick(3_600)).await;
    let repository = app.ledger.repository();
    let lease = "test-lease";
    assert!(repository.acquire_lease(lease, "a", 1_000).await.unwrap());
    assert!(!repository.acquire_lease(lease, "b", 1_000).await.unwrap());
    assert_eq!(
        repository.lease_holder(lease).await.unwrap().as_deref(),
        Some("a")
    );
    // Renewed by its holder before it expires: still a's.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(repository.acquire_lease(lease, "a", 1_000).await.unwrap());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!repository.acquire_lease(lease, "b", 1_000).await.unwrap());
    // Not renewed: b takes it over once it expired.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(repository.lease_holder(lease).await.unwrap(), None);
    assert!(repository.acquire_lease(lease, "b", 1_000).await.unwrap());
    assert!(!repository.acquire_lease(lease, "a", 1_000).await.unwrap());
    // Given up: taken at once.
    repository.release_lease(lease, "a").await.unwrap();
    assert!(!repository.acquire_lease(lease, "a", 1_000).await.unwrap());
    repository.release_lease(lease, "b").await.unwrap();
    assert!(repository.acquire_lease(lease, "a", 1_000).await.unwrap());
    app.finish().await;
}

/// Two servers on one PostgreSQL store: only the lease's holder delivers, so each
/// event arrives once; when a server stops, the other delivers what comes next.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_servers_deliver_through_one_lease_holder() {
    let mut first = spawn_app_with_webhooks(Store::Postgres, quick(3_600)).await;
    let mut second = first.second_server().await;
    let receiver = Receiver::start("/", Vec::new()).await;
    register(&first, &receiver.url("/hook"), json!(["*"])).await;
    let ids = participant_ids(6);
    for (n, participant) in ids[..4].iter().enumerate() {
        let server = if n % 2 == 0 { &first } else { &second };
        server.signed_agreement(participant).await;
    }
    let positions: Vec<i64> = agreement_events(&first)
        .await
        .iter()
        .map(|e| e["position"].as_i64().unwrap())
        .collect();
    wait_for(Duration::from_secs(30), "every event delivered", || {
        receiver.acknowledged("/hook") == positions
    })
    .await;
    // Once each: nobody else delivered beside the holder.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), positions.len());

    // The holder stops (whichever it is); the other takes over.
    let holder = first
        .ledger
        .repository()
        .lease_holder(api::application::webhooks::DELIVERY_LEASE)
        .await
        .unwrap();
    assert!(holder.is_some());
    first.stop().await;
    for participant in &ids[4..] {
        second.signed_agreement(participant).await;
    }
    let positions: Vec<i64> = agreement_events(&second)
        .await
        .iter()
        .map(|e| e["position"].as_i64().unwrap())
        .collect();
    wait_for(Duration::from_secs(30), "the events after the stop", || {
        receiver.acknowledged("/hook") == positions
    })
    .await;
    second.stop().await;
    first.finish().await;
}
