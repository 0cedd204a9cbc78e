//! The global feed (INTEGRATION.md 1, `GET /v1/events`): gap-safe under concurrent
//! writers, long-polled, filtered for a participant, bad cursors refused.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{participant_ids, spawn_app, Store, TestApp};
use sqlx::Connection as _;

crate::on_both_stores!(
    eight_concurrent_writers_and_the_feed_never_skips_an_event,
    a_waiting_read_hears_of_an_event_at_once_and_participants_see_their_own,
);

const WRITERS: usize = 8;
const PAYMENTS_EACH: usize = 40;

/// The positions of every agreement event in the store, in order.
async fn stored_positions(app: &TestApp) -> Vec<i64> {
    let mut positions = Vec::new();
    app.ledger
        .repository()
        .for_each_event(None, |row| -> Result<(), api::store::StoreError> {
            if row.aggregate_type == "ParticipantAgreement" {
                positions.push(row.global_position);
            }
            Ok(())
        })
        .await
        .unwrap();
    positions.sort_unstable();
    positions
}

async fn page(app: &TestApp, query: &str) -> Value {
    let response = app.get(&format!("/v1/events?{query}")).await;
    assert_eq!(response.status(), 200, "{query}");
    response.json().await.unwrap()
}

/// 8 writers (4 on each of two servers sharing the store, so appends to one agreement
/// also conflict and abort, leaving holes in PostgreSQL's positions) record payments on
/// 4 agreements while a consumer follows the feed: it sees every event exactly once, in
/// position order.
async fn eight_concurrent_writers_and_the_feed_never_skips_an_event(store: Store) {
    let app = spawn_app(store).await;
    let other = app.second_server().await;
    let ids = participant_ids(4);
    for id in &ids {
        app.signed_agreement(id).await;
    }
    let writing = std::sync::atomic::AtomicBool::new(true);
    let writers = futures::future::join_all((0..WRITERS).map(|writer| {
        let (server, ids) = (if writer % 2 == 0 { &app } else { &other }, &ids);
        async move {
            for n in 0..PAYMENTS_EACH {
                let id = &ids[(writer + n) % ids.len()];
                let body = json!({"reference": format!("W{writer}-{n}"),
                                  "received_on": "2026-02-05", "amount": "10.00"});
                let response = server
                    .post(&format!("/v1/agreements/{id}/payments"), &body)
                    .await;
                assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
            }
        }
    }));
    let consumer = async {
        let mut seen: Vec<i64> = Vec::new();
        let mut after = 0i64;
        let mut quiet_reads = 0;
        loop {
            let page = page(&app, &format!("after={after}&limit=7&wait=1")).await;
            let events = page["events"].as_array().unwrap();
            seen.extend(events.iter().map(|e| e["position"].as_i64().unwrap()));
            let next = page["next"].as_i64().unwrap();
            assert!(next >= after, "the cursor never goes back");
            after = next;
            if events.is_empty() && !writing.load(std::sync::atomic::Ordering::SeqCst) {
                quiet_reads += 1;
                if quiet_reads == 2 {
                    return seen;
                }
            }
        }
    };
    let (_, seen) = tokio::join!(
        async {
            writers.await;
            writing.store(false, std::sync::atomic::Ordering::SeqCst);
        },
        consumer
    );
    assert!(
        seen.windows(2).all(|pair| pair[0] < pair[1]),
        "in position order, none twice"
    );
    let stored = stored_positions(&app).await;
    assert_eq!(
        stored.len(),
        4 * 2 + WRITERS * PAYMENTS_EACH,
        "registered and signed, and every payment"
    );
    assert_eq!(seen, stored, "the consumer saw every event exactly once");
    other.finish().await;
    app.finish().await;
}

async fn a_waiting_read_hears_of_an_event_at_once_and_participants_see_their_own(store: Store) {
    let app = spawn_app(store).await;
    let ids = participant_ids(2);
    for id in &ids {
        app.signed_agreement(id).await;
    }
    let first = page(&app, "after=0&limit=1000").await;
    let next = first["next"].as_i64().unwrap();
    assert_eq!(first["events"].as_array().unwrap().len(), 4, "{first}");
    let event = &first["events"][0];
    for field in [
        "position",
        "participant_id",
        "sequence",
        "type",
        "payload",
        "recorded_at",
        "hash",
    ] {
        assert!(!event[field].is_null(), "{field}: {event}");
    }
    assert_eq!(event["type"], "Registered");

    // A read waiting at the head answers as soon as an event is recorded.
    let started = Instant::now();
    let waiting = format!("after={next}&wait=10s");
    let (waited, _) = tokio::join!(page(&app, &waiting), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let body = json!({"reference": "P-1", "received_on": "2026-02-05", "amount": "1.00"});
        let response = app
            .post(&format!("/v1/agreements/{}/payments", ids[1]), &body)
            .await;
        assert_eq!(response.status(), 201);
    });
    assert_eq!(waited["events"][0]["type"], "PaymentReceived", "{waited}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "heard within a second of the write, not at the end of the wait: {:?}",
        started.elapsed()
    );
    // Nothing new: a read with no wait answers at once with the same cursor.
    let after = waited["next"].as_i64().unwrap();
    let empty = page(&app, &format!("after={after}")).await;
    assert_eq!(empty["events"], json!([]));
    assert_eq!(empty["next"], after);

    // A participant's token sees its own events only; its cursor still moves past the
    // others'.
    let token = app
        .token(
            api::application::tokens::Role::Participant,
            "portal",
            Some(&ids[0]),
        )
        .await;
    let response = app
        .send_as(
            reqwest::Method::GET,
            "/v1/events?after=0&limit=1000",
            Some(&format!("Bearer {token}")),
            None,
        )
        .await;
    assert_eq!(response.status(), 200);
    let own: Value = response.json().await.unwrap();
    let participants: BTreeSet<&str> = own["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["participant_id"].as_str().unwrap())
        .collect();
    assert_eq!(participants, BTreeSet::from([ids[0].as_str()]), "{own}");
    assert_eq!(own["next"], after, "{own}");

    // Bad cursors and parameters: 400 problem+json naming the parameter.
    for (query, named) in [
        ("after=abc", "after"),
        ("after=-1", "after"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("wait=31", "wait"),
        ("wait=soon", "wait"),
        ("cursor=3", "cursor"),
    ] {
        let response = app.get(&format!("/v1/events?{query}")).await;
        assert_eq!(response.status(), 400, "{query}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{query}"
        );
        let problem: Value = response.json().await.unwrap();
        assert!(
            problem["detail"].as_str().unwrap().contains(named),
            "{query}: {problem}"
        );
    }
    app.finish().await;
}

/// The race behind migration 0012: a transaction that has drawn a position but not yet
/// written its row. PostgreSQL gives a transaction its id only when it writes, so unless
/// drawing a position takes the id first, such a transaction is not listed as running at
/// a reader's snapshot and the feed passes its hole for good. Here one holds a position
/// (drawn as an INSERT's default draws it) while a payment is recorded above it: the feed
/// must not deliver the payment until that transaction has ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_drawn_position_holds_the_feed_back_until_its_transaction_ends() {
    let app = spawn_app(Store::Postgres).await;
    let [id] = <[String; 1]>::try_from(participant_ids(1)).unwrap();
    app.signed_agreement(&id).await;
    let head = stored_positions(&app).await.last().copied().unwrap();
    let page_after_head = page(&app, &format!("after={head}&limit=10")).await;
    assert_eq!(
        page_after_head["events"],
        json!([]),
        "nothing after the head yet"
    );

    let api::store::StoreLocation::Postgres(url) = app.ledger.repository().location().clone()
    else {
        unreachable!("a PostgreSQL app")
    };
    let mut holder = sqlx::PgConnection::connect(&url).await.unwrap();

    sqlx::query("BEGIN").execute(&mut holder).await.unwrap();
    let drawn: i64 = sqlx::query_scalar(
        "SELECT nextval_default FROM (SELECT events_next_position() AS nextval_default) d",
    )
    .fetch_one(&mut holder)
    .await
    .unwrap();
    assert!(drawn > head);

    let body =
        json!({"reference": "ABOVE-THE-HOLE", "received_on": "2026-02-05", "amount": "10.00"});
    let response = app
        .post(&format!("/v1/agreements/{id}/payments"), &body)
        .await;
    assert_eq!(response.status(), 201);
    let payment = *stored_positions(&app).await.last().unwrap();
    assert!(
        payment > drawn,
        "the payment's position is above the held one"
    );

    // The hole at `drawn` may still be filled: nothing past it is delivered (the read
    // waits for the holder a while, then answers nothing).
    let blocked = page(&app, &format!("after={head}&limit=10")).await;
    assert_eq!(
        blocked["events"],
        json!([]),
        "the feed passed a hole whose transaction still runs"
    );
    assert_eq!(blocked["next"], json!(head));

    // Once it ends (here: aborts), the hole is final and the payment is delivered.
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    let delivered = page(&app, &format!("after={head}&limit=10")).await;
    let positions: Vec<i64> = delivered["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["position"].as_i64().unwrap())
        .collect();
    assert_eq!(positions, vec![payment]);
    holder.close().await.unwrap();
    app.finish().await;
}
