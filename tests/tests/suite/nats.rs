//! The NATS JetStream publisher (INTEGRATION.md 1, `--nats-url`) against the real
//! `nats-server -js`: a server of its own on a free port (so that the test may restart
//! it), started by the test; `.ci/run` installs Debian's `nats-server` when missing.
//! Every agreement event reaches the stream exactly once, with its position as
//! `Nats-Msg-Id` and its subject, through a restart of nats-server while events are
//! being recorded and published, and through a crash between publishing and moving the
//! cursor (simulated: the cursor set back).

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{participant_ids, spawn_app, Store, TestApp};

crate::on_both_stores!(every_event_reaches_the_stream_once_through_a_nats_restart);

/// A `nats-server -js` of the test's own.
struct NatsServer {
    port: u16,
    directory: tempfile::TempDir,
    child: Option<Child>,
}

impl NatsServer {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = Self {
            port,
            directory: tempfile::tempdir().unwrap(),
            child: None,
        };
        server.run();
        server
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn run(&mut self) {
        let child = Command::new("nats-server")
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(self.directory.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server runs (apt-get install nats-server; .ci/run installs it)");
        self.child = Some(child);
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "nats-server listens"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops it (SIGTERM, as a service restart does) and waits for it to exit.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits until the publisher's cursor reaches `last`.
async fn caught_up(app: &TestApp, last: i64) {
    let started = Instant::now();
    while app.ledger.repository().feed_cursor("nats").await.unwrap() < last {
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "the publisher caught up with position {last}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn agreement_positions(app: &TestApp) -> BTreeSet<i64> {
    let mut positions = BTreeSet::new();
    app.ledger
        .repository()
        .for_each_event(None, |row| -> Result<(), api::store::StoreError> {
            if row.aggregate_type == "ParticipantAgreement" {
                positions.insert(row.global_position);
            }
            Ok(())
        })
        .await
        .unwrap();
    positions
}

async fn every_event_reaches_the_stream_once_through_a_nats_restart(store: Store) {
    let mut nats = NatsServer::start();
    let mut app = spawn_app(store).await;
    app.serve_settings.nats_url = Some(nats.url());
    let app = app.restart().await;
    let ids = participant_ids(3);
    for id in &ids {
        app.signed_agreement(id).await;
    }
    let pay = |n: usize| {
        let (app, ids) = (&app, &ids);
        async move {
            let id = &ids[n % ids.len()];
            let body = json!({"reference": format!("N-{n}"), "received_on": "2026-02-05", "amount": "1.00"});
            let response = app
                .post(&format!("/v1/agreements/{id}/payments"), &body)
                .await;
            assert_eq!(response.status(), 201);
        }
    };
    for n in 0..60 {
        pay(n).await;
    }
    // nats-server goes down while the ledger records and publishes, and comes back.
    nats.stop();
    for n in 60..120 {
        pay(n).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    nats.run();
    for n in 120..180 {
        pay(n).await;
    }

    let expected = agreement_positions(&app).await;
    let last = *expected.last().unwrap();
    caught_up(&app, last).await;
    // A crash after publishing and before the cursor moved: the cursor is found 100
    // positions back, the publisher publishes them again, and JetStream drops the
    // repeats by their message id.
    let moved = crate::helpers::run_sql(
        &app,
        "UPDATE feed_cursors SET position = position - 100 WHERE name = 'nats'",
    )
    .await;
    assert_eq!(moved, 1);
    caught_up(&app, last).await;

    let client = async_nats::connect(nats.url()).await.unwrap();
    let jetstream = async_nats::jetstream::new(client);
    let mut stream = jetstream.get_stream("EDOC_EVENTS").await.unwrap();
    let messages = stream.info().await.unwrap().state.messages;
    assert_eq!(
        messages,
        expected.len() as u64,
        "nothing lost, nothing doubled"
    );
    let mut published = BTreeSet::new();
    for sequence in 1..=messages {
        let message = stream.get_raw_message(sequence).await.unwrap();
        let id: i64 = message
            .headers
            .get(async_nats::header::NATS_MESSAGE_ID)
            .unwrap_or_else(|| panic!("{:?}", message.headers))
            .as_str()
            .parse()
            .unwrap();
        let event: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
        assert_eq!(event["position"], id);
        assert_eq!(
            message.subject.as_str(),
            format!(
                "edoc.events.{}.{}",
                event["participant_id"].as_str().unwrap(),
                event["type"].as_str().unwrap()
            )
        );
        assert!(published.insert(id), "position {id} published twice");
    }
    assert_eq!(published, expected);
    app.finish().await;
}
