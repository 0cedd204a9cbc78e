//! Webhooks through a crash (INTEGRATION.md 1: "a restart or crash loses and skips
//! nothing"), on PostgreSQL: a real `edoc-ledger serve` delivering to a receiver inside
//! the test is killed with SIGKILL in the middle of its deliveries; a new server on the
//! same store takes the lease over once the dead holder's expires and delivers on from
//! the stored cursor: every event arrives, at most the one in flight twice, none from
//! the start again.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{self, cli, drop_database, fresh_database, participant_ids};

const BINARY: &str = env!("CARGO_BIN_EXE_edoc-ledger");
const AGREEMENTS: usize = 12;
/// How long the receiver takes to answer each delivery, so that the kill lands among
/// them.
const ANSWER_AFTER: Duration = Duration::from_millis(50);

/// A running server, killed (SIGKILL) when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start(database_url: &str, client: &reqwest::Client) -> (Server, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(BINARY)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", database_url)
        .env("EDOC_LOG", "error")
        // A lease of a second: the next server takes over soon after the kill.
        .env("EDOC_WEBHOOK_LEASE_MS", "1000")
        .env("EDOC_WEBHOOK_TIMEOUT_MS", "2000")
        .env("EDOC_WEBHOOK_FIRST_RETRY_MS", "100")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("edoc-ledger serves");
    let server = Server(child);
    let base = format!("http://127.0.0.1:{port}");
    common::wait_until_serving(
        client,
        &base,
        Duration::from_secs(30),
        "the server did not start",
    )
    .await;
    (server, base)
}

/// Starts a receiver that records each delivery's position and answers 200 after
/// [`ANSWER_AFTER`].
async fn receiver() -> (SocketAddr, Arc<Mutex<Vec<i64>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let state = received.clone();
    let router = axum::Router::new().fallback(move |body: axum::body::Bytes| {
        let state = state.clone();
        async move {
            let delivery: Value = serde_json::from_slice(&body).unwrap();
            state
                .lock()
                .unwrap()
                .push(delivery["position"].as_i64().unwrap());
            tokio::time::sleep(ANSWER_AFTER).await;
            axum::http::StatusCode::OK
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (address, received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_deliveries_survive_sigkill_and_skip_nothing() {
    let (url, name) = fresh_database().await;
    assert_eq!(cli(&url, &["migrate"]).0, 0);
    let (code, token) = cli(
        &url,
        &[
            "token",
            "create",
            "--role",
            "operator",
            "--name",
            "webhook-crash-test",
        ],
    );
    assert_eq!(code, 0, "{token}");
    let token = token.lines().next().unwrap().trim().to_owned();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let (address, received) = receiver().await;

    let (server, base) = start(&url, &client).await;
    let response = client
        .post(format!("{base}/v1/webhooks"))
        .bearer_auth(&token)
        .json(&json!({"url": format!("http://{address}/hook"), "event_types": ["*"], "secret": "crash-secret"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let webhook: Value = response.json().await.unwrap();
    let webhook_id = webhook["id"].as_str().unwrap().to_owned();
    for id in participant_ids(60_000_000_000, AGREEMENTS) {
        for (path, body) in [
            (
                "/v1/agreements".to_owned(),
                json!({"participant_id": id, "name": "ТОО «Участник»", "kind": "legal_entity", "resident": true, "currency": "KZT", "email": "buh@example.kz", "registered_on": "2026-01-05"}),
            ),
            (
                format!("/v1/agreements/{id}/signature"),
                json!({"signed_on": "2026-01-06"}),
            ),
        ] {
            let response = client
                .post(format!("{base}{path}"))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success(), "{path}");
        }
    }
    let mut positions = Vec::new();
    let mut after = 0;
    loop {
        let page = common::get_json(
            &client,
            &format!("{base}/v1/events?after={after}&limit=1000"),
            &token,
        )
        .await;
        positions.extend(
            page["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["position"].as_i64().unwrap()),
        );
        let next = page["next"].as_i64().unwrap();
        if next == after {
            break;
        }
        after = next;
    }
    assert_eq!(positions.len(), 2 * AGREEMENTS);

    // SIGKILL in the middle of the deliveries.
    let started = Instant::now();
    while received.lock().unwrap().len() < 5 {
        assert!(started.elapsed() < Duration::from_secs(30), "no delivery");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(server);
    let before_kill = received.lock().unwrap().clone();
    assert!(
        before_kill.len() < positions.len(),
        "the kill came after every delivery: {before_kill:?}"
    );

    // A new server on the store delivers the rest once the dead holder's lease expired.
    let (restarted, base) = start(&url, &client).await;
    let started = Instant::now();
    loop {
        let mut seen = received.lock().unwrap().clone();
        seen.sort_unstable();
        seen.dedup();
        if seen == positions {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "missing after the restart: {:?}",
            positions
                .iter()
                .filter(|p| !seen.contains(p))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // From the stored cursor: at most the delivery in flight at the kill came twice,
    // and every endpoint's deliveries are in position order.
    let all = received.lock().unwrap().clone();
    assert!(all.len() <= positions.len() + 1, "{all:?}");
    let mut repeats = all.windows(2).filter(|w| w[1] <= w[0]);
    assert!(repeats.clone().count() <= 1, "{all:?}");
    if let Some(repeat) = repeats.next() {
        assert_eq!(repeat[0], repeat[1], "only a repeat goes back: {all:?}");
    }
    let started = Instant::now();
    loop {
        let log = common::get_json(
            &client,
            &format!("{base}/v1/webhooks/{webhook_id}/deliveries"),
            &token,
        )
        .await;
        if log["cursor"] == *positions.last().unwrap() {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{log}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(restarted);
    drop_database(&name).await;
}
