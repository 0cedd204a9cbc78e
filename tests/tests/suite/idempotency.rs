//! `Idempotency-Key` (API.md "Retries are safe", issue 6): the same key and request give
//! the first answer and record nothing; the same key with another request is 409; keys
//! survive a restart; concurrent repeats record once; a refused command stores no key;
//! an expired key is taken anew. On both stores.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{invoice, participant_ids, spawn_app, Store, TestApp, OPERATOR_BIN};

async fn post_with_key(
    app: &TestApp,
    path: &str,
    key: &str,
    body: &Value,
) -> (StatusCode, bool, String) {
    let response = app
        .client
        .post(app.url(path))
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .expect("the server answers");
    let status = response.status();
    let replayed = response.headers().get("idempotent-replayed").is_some();
    (status, replayed, response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_key_gets_the_first_answer_and_records_nothing() {
    for store in [Store::Postgres, Store::Sqlite] {
        let app = spawn_app(store).await;
        app.signed_agreement(OPERATOR_BIN).await;
        let path = format!("/v1/agreements/{OPERATOR_BIN}/invoices");
        let body = invoice("2026-02-02", "10000.00");

        let first = post_with_key(&app, &path, "inv-2026-02", &body).await;
        assert_eq!(first.0, StatusCode::CREATED, "{store:?}: {}", first.2);
        assert!(!first.1);
        let events = app.event_count().await;

        let again = post_with_key(&app, &path, "inv-2026-02", &body).await;
        assert_eq!(
            (again.0, again.2.as_str()),
            (first.0, first.2.as_str()),
            "{store:?}"
        );
        assert!(again.1, "a stored answer is marked Idempotent-Replayed");
        assert_eq!(
            app.event_count().await,
            events,
            "{store:?}: nothing recorded"
        );

        // Another body under the same key: 409, nothing recorded.
        let other = post_with_key(&app, &path, "inv-2026-02", &invoice("2026-02-02", "1.00")).await;
        assert_eq!(other.0, StatusCode::CONFLICT, "{store:?}: {}", other.2);
        let problem: Value = serde_json::from_str(&other.2).unwrap();
        assert_eq!(
            problem["type"],
            "urn:edoc-ledger:problem:idempotency-key-reused"
        );

        // The same key and body for another agreement is another request: 409.
        let b = &participant_ids(1)[0];
        app.signed_agreement(b).await;
        let events = app.event_count().await;
        let elsewhere = post_with_key(
            &app,
            &format!("/v1/agreements/{b}/invoices"),
            "inv-2026-02",
            &body,
        )
        .await;
        assert_eq!(elsewhere.0, StatusCode::CONFLICT, "{store:?}");
        assert_eq!(app.event_count().await, events);

        // Keys are durable: after a restart the first answer still comes back.
        let app = app.restart().await;
        let after = post_with_key(&app, &path, "inv-2026-02", &body).await;
        assert_eq!(
            (after.0, after.2.as_str(), after.1),
            (first.0, first.2.as_str(), true),
            "{store:?}"
        );
        assert_eq!(app.event_count().await, events);

        // A malformed key is a 400 and records nothing.
        let bad = post_with_key(&app, &path, "a key with spaces", &body).await;
        assert_eq!(bad.0, StatusCode::BAD_REQUEST);
        app.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_repeats_of_one_key_record_once_and_refusals_store_no_key() {
    for store in [Store::Postgres, Store::Sqlite] {
        let app = std::sync::Arc::new(spawn_app(store).await);
        app.signed_agreement(OPERATOR_BIN).await;
        let path = format!("/v1/agreements/{OPERATOR_BIN}/invoices");
        let body = invoice("2026-02-02", "10000.00");
        let events = app.event_count().await;
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (app, path, body) = (app.clone(), path.clone(), body.clone());
            tasks.push(tokio::spawn(async move {
                post_with_key(&app, &path, "same-invoice", &body).await
            }));
        }
        let mut answers = Vec::new();
        for task in tasks {
            answers.push(task.await.unwrap());
        }
        assert_eq!(
            app.event_count().await,
            events + 1,
            "{store:?}: one invoice, once"
        );
        let fresh: Vec<_> = answers.iter().filter(|a| !a.1).collect();
        assert_eq!(
            fresh.len(),
            1,
            "{store:?}: one request did it, the others got its answer"
        );
        for answer in &answers {
            assert_eq!(
                (answer.0, &answer.2),
                (fresh[0].0, &fresh[0].2),
                "{store:?}"
            );
        }

        // A refused command stores no key: the retry is decided again (and refused again).
        let late = json!({"signed_on": "2026-01-07"});
        let refused = post_with_key(
            &app,
            &format!("/v1/agreements/{OPERATOR_BIN}/signature"),
            "sign-again",
            &late,
        )
        .await;
        assert!(refused.0.is_client_error(), "{store:?}: {}", refused.2);
        let again = post_with_key(
            &app,
            &format!("/v1/agreements/{OPERATOR_BIN}/signature"),
            "sign-again",
            &late,
        )
        .await;
        assert_eq!((again.0, again.1), (refused.0, false), "{store:?}");
        let app = std::sync::Arc::into_inner(app).expect("no task holds the app");
        app.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_key_is_forgotten_and_taken_anew() {
    for store in [Store::Postgres, Store::Sqlite] {
        let app = spawn_app(store).await;
        let repository = app.ledger.repository();
        let record = |fingerprint: &str, now: i64| api::store::IdempotencyRecord {
            key: "k-1".to_owned(),
            fingerprint: fingerprint.to_owned(),
            status: 201,
            body: "{}".to_owned(),
            now,
            expires_at: now + 60,
        };
        repository
            .append_with(&[], &[], None, Some(&record("first", 1_000)))
            .await
            .unwrap();
        assert!(repository
            .idempotent_answer("k-1", 1_059)
            .await
            .unwrap()
            .is_some());
        assert_eq!(
            repository.idempotent_answer("k-1", 1_060).await.unwrap(),
            None,
            "expired"
        );
        // Taken again while alive: a conflict; after expiry: stored anew.
        assert!(repository
            .append_with(&[], &[], None, Some(&record("second", 1_030)))
            .await
            .is_err());
        repository
            .append_with(&[], &[], None, Some(&record("second", 1_061)))
            .await
            .unwrap();
        let (fingerprint, _, _) = repository
            .idempotent_answer("k-1", 1_062)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(fingerprint, "second");
        assert_eq!(repository.purge_idempotency_keys(1_121).await.unwrap(), 1);
        app.finish().await;
    }
}
