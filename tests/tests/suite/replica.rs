//! Reads from a streaming replica (issue 20, INTEGRATION.md 4), on a throwaway primary
//! and its replica (pg_basebackup): a write answers `Edoc-Position`; a query with
//! `Edoc-Min-Position` is served by the replica once it has replayed that position (the
//! server waits for it), by the primary when it has not within `--read-wait-ms`; the
//! answer says which (`Edoc-Read-From`); a replica that fails a read is set aside for a
//! while. The replica's replay is paused and resumed
//! (`pg_wal_replay_pause`) so that it is behind when the test needs it to be. And a
//! `DATABASE_URL` listing the standby before the primary: the ledger writes to the
//! primary (`store::multi_host`).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::clusters::{serve_at, serve_with, ThrowawayCluster};
use crate::helpers::{invoice, registration};

const ID: &str = "120340001230";
const READ_WAIT: Duration = Duration::from_millis(2_000);

async fn replay(replica: &sqlx::PgPool, what: &str) {
    sqlx::query(&format!("SELECT pg_wal_replay_{what}()"))
        .execute(replica)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_waits_for_the_replica_to_replay_the_position_the_client_saw() {
    let primary = ThrowawayCluster::start_new();
    let replica = ThrowawayCluster::replica_of(&primary);
    let replica_url = replica.url();
    let served = serve_with(&primary, "replica-test", |serve| {
        serve.read_database_url = Some(replica_url);
        serve.read_wait_ms = READ_WAIT.as_millis() as u64;
    })
    .await;
    let replica_pool = sqlx::PgPool::connect(&replica.url()).await.unwrap();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let (base, token) = (served.base.clone(), served.token.clone());
    let write = |path: String, body: Value| {
        let request = client
            .post(format!("{base}{path}"))
            .bearer_auth(&token)
            .json(&body);
        async move {
            let response = request.send().await.unwrap();
            assert!(response.status().is_success(), "{}", response.status());
            response.headers()["edoc-position"]
                .to_str()
                .unwrap()
                .parse::<i64>()
                .unwrap()
        }
    };
    let read = |path: String, position: Option<i64>| {
        let mut request = client.get(format!("{base}{path}")).bearer_auth(&token);
        if let Some(position) = position {
            request = request.header("Edoc-Min-Position", position.to_string());
        }
        async move {
            let started = Instant::now();
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200);
            let from = response.headers()["edoc-read-from"]
                .to_str()
                .unwrap()
                .to_owned();
            let body: Value = response.json().await.unwrap();
            (from, body, started.elapsed())
        }
    };
    let agreement = format!("/v1/agreements/{ID}");

    // A write and a read of it: the replica has it (it follows within milliseconds).
    let registered = write("/v1/agreements".to_owned(), registration(ID)).await;
    let (from, body, _) = read(agreement.clone(), Some(registered)).await;
    assert_eq!(
        (from.as_str(), &body["status"]),
        ("replica", &json!("registered"))
    );

    // The replica's replay paused: the next write is not on it.
    replay(&replica_pool, "pause").await;
    let signed = write(
        format!("{agreement}/signature"),
        json!({"signed_on": "2026-01-06"}),
    )
    .await;
    assert!(signed > registered);
    // Without a position the replica answers as it is: stale.
    let (from, body, _) = read(agreement.clone(), None).await;
    assert_eq!(
        (from.as_str(), &body["status"]),
        ("replica", &json!("registered"))
    );

    // With the position, the read waits for the replica: resumed 500 ms later, it
    // answers from the replica with the signature.
    let resume = {
        let replica_pool = replica_pool.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            replay(&replica_pool, "resume").await;
        })
    };
    let (from, body, waited) = read(agreement.clone(), Some(signed)).await;
    resume.await.unwrap();
    assert_eq!(from, "replica");
    assert_ne!(body["status"], "registered", "{body}");
    assert!(
        waited >= Duration::from_millis(400),
        "the read waited: {waited:?}"
    );
    println!("a read waited {waited:?} for the replica to replay position {signed}");

    // Paused again and never resumed in time: after the wait, the primary answers.
    replay(&replica_pool, "pause").await;
    let invoiced = write(
        format!("{agreement}/invoices"),
        invoice("2026-02-02", "10000.00"),
    )
    .await;
    let (from, body, waited) = read(format!("{agreement}/balance"), Some(invoiced)).await;
    assert_eq!(from, "primary");
    assert_eq!(body["invoiced"], "11600.00", "{body}");
    assert!(waited >= READ_WAIT, "it waited the bound first: {waited:?}");
    replay(&replica_pool, "resume").await;

    // The replica stops: the read it was given fails (503, the client retries), and
    // reads go to the primary for a while.
    replica_pool.close().await;
    replica.stop();
    let answer = |response: reqwest::Response| {
        let from = response
            .headers()
            .get("edoc-read-from")
            .map(|v| v.to_str().unwrap().to_owned());
        (response.status().as_u16(), from)
    };
    let first = client
        .get(format!("{base}{agreement}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(answer(first), (503, Some("replica".to_owned())));
    let retried = client
        .get(format!("{base}{agreement}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(answer(retried), (200, Some("primary".to_owned())));

    // A position that is not one: 400.
    let response = client
        .get(format!("{base}{agreement}"))
        .bearer_auth(&token)
        .header("Edoc-Min-Position", "soon")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    let _ = served.stop.send(());
    served.server.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_list_with_the_standby_first_writes_to_the_primary() {
    let primary = ThrowawayCluster::start_new();
    let replica = ThrowawayCluster::replica_of(&primary);
    let url = format!(
        "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/postgres?target_session_attrs=read-write",
        replica.port(),
        primary.port()
    );
    let served = serve_at(url, "multi-host-test", |_| {}).await;
    let client = reqwest::Client::new();
    let response = client
        .post(format!("{}/v1/agreements", served.base))
        .bearer_auth(&served.token)
        .json(&registration(ID))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let on_primary: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE aggregate_id = $1")
        .bind(ID)
        .fetch_one(&sqlx::PgPool::connect(&primary.url()).await.unwrap())
        .await
        .unwrap();
    assert_eq!(on_primary, 1, "recorded on the primary");
    let _ = served.stop.send(());
    served.server.await.unwrap().unwrap();
}
