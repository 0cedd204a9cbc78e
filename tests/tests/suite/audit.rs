//! Tamper evidence (issue 5): every agreement's events form a hash chain that
//! `GET /v1/audit/verify` recomputes; each kind of tampering by hand in PostgreSQL is
//! found at the right event.

use serde_json::{json, Value};

use crate::helpers::{invoice, participant_ids, spawn_app, Store, TestApp, OPERATOR_BIN};

/// Agreement A (OPERATOR_BIN): registered 1, signed 2, invoice 3, payments 4 and 5.
async fn history(app: &TestApp) {
    app.signed_agreement(OPERATOR_BIN).await;
    app.signed_agreement(&participant_ids(1)[0]).await;
    let path = |tail: &str| format!("/v1/agreements/{OPERATOR_BIN}/{tail}");
    assert_eq!(
        app.post(&path("invoices"), &invoice("2026-02-02", "10000.00"))
            .await
            .status(),
        201
    );
    for (reference, on, amount) in [
        ("R-1", "2026-02-05", "5000.00"),
        ("R-2", "2026-02-20", "6600.00"),
    ] {
        let body = json!({"reference": reference, "received_on": on, "amount": amount});
        assert_eq!(app.post(&path("payments"), &body).await.status(), 201);
    }
}

async fn tamper(app: &TestApp, sql: &str) {
    let api::store::StoreLocation::Postgres(url) = app.ledger.repository().location().clone()
    else {
        unreachable!("a PostgreSQL app")
    };
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let done = sqlx::query(sql)
        .bind(OPERATOR_BIN)
        .execute(&pool)
        .await
        .unwrap();
    assert!(done.rows_affected() >= 1, "{sql}");
    pool.close().await;
}

async fn verify(app: &TestApp) -> Value {
    let response = app.get("/v1/audit/verify").await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_store_verifies_and_every_event_carries_its_chain() {
    for store in [Store::Postgres, Store::Sqlite] {
        let app = spawn_app(store).await;
        history(&app).await;
        let report = verify(&app).await;
        assert_eq!(report["ok"], true, "{report}");
        // The two agreements' 7 events and the reference stream's.
        let reference = app.reference_event_count().await;
        assert!(
            reference > 0,
            "the shipped tables are recorded at first start"
        );
        assert_eq!(report["events_checked"], 7 + reference);
        assert_eq!(report["streams_checked"], 3);
        assert_eq!(report["first_broken"], Value::Null);
        let events = app.events(OPERATOR_BIN).await;
        assert_eq!(events[0]["prev_hash"], api::application::audit::GENESIS);
        for pair in events.windows(2) {
            assert_eq!(pair[1]["prev_hash"], pair[0]["hash"]);
            assert_eq!(pair[1]["hash"].as_str().unwrap().len(), 64);
        }
        app.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_of_tampering_is_found_at_its_first_broken_event() {
    let cases: [(&str, &str, i64, &str); 4] = [
        (
            "an altered payload",
            "UPDATE events SET payload = jsonb_set(payload, '{PaymentReceived,amount,amount}', '\"1.00\"')
             WHERE aggregate_id = $1 AND sequence = 4",
            4,
            "altered",
        ),
        (
            "an altered metadata field",
            "UPDATE events SET metadata = jsonb_set(metadata, '{actor}', '\"mallory\"')
             WHERE aggregate_id = $1 AND sequence = 2",
            2,
            "altered",
        ),
        (
            "a deleted event",
            "DELETE FROM events WHERE aggregate_id = $1 AND sequence = 3",
            4,
            "missing",
        ),
        (
            "two events swapped",
            "UPDATE events e SET payload = o.payload, event_type = o.event_type, metadata = o.metadata
             FROM events o WHERE e.aggregate_id = $1 AND o.aggregate_id = $1
               AND ((e.sequence = 4 AND o.sequence = 5) OR (e.sequence = 5 AND o.sequence = 4))",
            4,
            "does not match",
        ),
    ];
    for (case, sql, sequence, what) in cases {
        let app = spawn_app(Store::Postgres).await;
        history(&app).await;
        assert_eq!(verify(&app).await["ok"], true);
        tamper(&app, sql).await;
        let report = verify(&app).await;
        assert_eq!(report["ok"], false, "{case}: {report}");
        let broken = &report["first_broken"];
        assert_eq!(broken["participant_id"], OPERATOR_BIN, "{case}: {report}");
        assert_eq!(broken["sequence"], sequence, "{case}: {report}");
        assert!(
            broken["what"].as_str().unwrap().contains(what),
            "{case}: {report}"
        );
        app.finish().await;
    }
}

/// A digest taken, then more events recorded, still verifies; then truncating a history
/// or deleting a whole agreement, which a chain alone cannot show, fails against it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_digest_detects_truncation_and_deleted_agreements() {
    for (case, sql) in [
        (
            "a truncated history",
            "DELETE FROM events WHERE aggregate_id = $1 AND sequence >= 5",
        ),
        (
            "a deleted agreement",
            "DELETE FROM events WHERE aggregate_id = $1",
        ),
    ] {
        let app = spawn_app(Store::Postgres).await;
        history(&app).await;
        let digest: Value = app.get_json("/v1/audit/digest").await;
        assert_eq!(
            digest["streams"], 3,
            "two agreements and the reference stream"
        );
        assert_eq!(digest["events"], 7 + app.reference_event_count().await);
        assert_eq!(digest["root"].as_str().unwrap().len(), 64);

        // Later events do not disturb what the digest recorded.
        let more = json!({"reference": "R-3", "received_on": "2026-02-21", "amount": "1.00"});
        let path = format!("/v1/agreements/{OPERATOR_BIN}/payments");
        assert_eq!(app.post(&path, &more).await.status(), 201);
        let checked: Value = app
            .post("/v1/audit/digest/verify", &digest)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(checked["ok"], true, "{case}: {checked}");

        // A digest file whose heads were edited no longer matches its root.
        let mut forged = digest.clone();
        forged["heads"][0]["sequence"] = json!(1);
        let checked: Value = app
            .post("/v1/audit/digest/verify", &forged)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(checked["ok"], false, "{checked}");
        assert!(
            checked["first_broken"]["what"]
                .as_str()
                .unwrap()
                .contains("root"),
            "{checked}"
        );

        tamper(&app, sql).await;
        // The chain that remains is consistent...
        assert_eq!(verify(&app).await["ok"], true, "{case}");
        // ...but the digest knows better.
        let checked: Value = app
            .post("/v1/audit/digest/verify", &digest)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(checked["ok"], false, "{case}: {checked}");
        assert_eq!(
            checked["first_broken"]["participant_id"], OPERATOR_BIN,
            "{case}"
        );
        assert_eq!(checked["first_broken"]["sequence"], 5, "{case}");
        assert!(checked["first_broken"]["what"]
            .as_str()
            .unwrap()
            .contains("gone"));

        app.finish().await;
    }
}

/// Schema evolution (issue 5): an event stored in an older shape (`Registered` 0.9,
/// with `bin_iin` and no `resident`, events::upcast) is read through the upcaster by the
/// ledger, the projections and a replay, while its stored row, and so its hash and the
/// chain that continues from it, never change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_of_an_older_version_is_upcast_on_read_and_keeps_its_hash() {
    for store in [Store::Postgres, Store::Sqlite] {
        let app = spawn_app(store).await;
        let payload = json!({"Registered": {
            "bin_iin": OPERATOR_BIN, "name": "ТОО «MITWORK»", "kind": "legal_entity",
            "currency": "KZT", "email": "buh@example.kz", "registered_on": "2026-01-05"}});
        let mut metadata = json!({"actor": "migrated", "clause": "3.2", "command": "Register",
                                  "recorded_at": "2025-12-31T00:00:00Z", "request_id": "legacy"});
        let hash = api::application::audit::event_hash(
            OPERATOR_BIN,
            1,
            "Registered",
            "0.9",
            &payload,
            &metadata,
            api::application::audit::GENESIS,
        );
        metadata["prev_hash"] = json!(api::application::audit::GENESIS);
        metadata["hash"] = json!(hash);
        let insert = match &app.store_settings.database_url {
            Some(url) => {
                let pool = sqlx::PgPool::connect(url).await.unwrap();
                let done = sqlx::query(
                    "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
                     VALUES ('ParticipantAgreement', $1, 1, 'Registered', '0.9', $2, $3)",
                )
                .bind(OPERATOR_BIN)
                .bind(&payload)
                .bind(&metadata)
                .execute(&pool)
                .await
                .map(|_| ());
                pool.close().await;
                done
            }
            None => {
                let path = crate::helpers::data_dir(&app).join("edoc-ledger.db");
                let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
                    .await
                    .unwrap();
                let done = sqlx::query(
                    "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, global_position)
                     VALUES ('ParticipantAgreement', ?, 1, 'Registered', '0.9', ?, ?,
                             (SELECT COALESCE(MAX(global_position), 0) + 1 FROM events))",
                )
                .bind(OPERATOR_BIN)
                .bind(payload.to_string())
                .bind(metadata.to_string())
                .execute(&pool)
                .await
                .map(|_| ());
                pool.close().await;
                done
            }
        };
        insert.unwrap();

        // The ledger decides on the upcast event: signing works and chains to it.
        let signed = app
            .post(
                &format!("/v1/agreements/{OPERATOR_BIN}/signature"),
                &json!({"signed_on": "2026-01-06"}),
            )
            .await;
        assert_eq!(signed.status(), 200, "{store:?}");
        let view: Value = signed.json().await.unwrap();
        assert_eq!(view["participant_id"], OPERATOR_BIN);
        assert_eq!(view["resident"], true, "0.9 knew only residents");

        let events = app.events(OPERATOR_BIN).await;
        assert_eq!(
            events[0]["hash"],
            hash.as_str(),
            "the stored hash never changes"
        );
        assert_eq!(events[1]["prev_hash"], hash.as_str());
        let report = verify(&app).await;
        assert_eq!(report["ok"], true, "{store:?}: {report}");
        assert_eq!(
            report["events_checked"],
            2 + app.reference_event_count().await
        );

        // A replay reads it through the same upcaster and equals the stored projection.
        let check = api::application::replay::check(app.ledger.repository(), |_| {})
            .await
            .unwrap();
        assert!(check.is_clean(), "{store:?}: {:?}", check.differences);
        app.finish().await;
    }
}
