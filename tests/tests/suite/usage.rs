//! Usage ingestion (issue 16, BILLING.md 3): the store's batch write (idempotent by
//! record id, all or nothing, never two contents for one id, even when two batches race),
//! its reads (totals per metric, the records of a window of positions), and
//! `POST /v1/usage` over HTTP: accepted and duplicates counted, a conflicting id refused,
//! every invalid record listed with its index, more than 1,000 records refused, two
//! racing batches with shared ids of different content: one wins, the other gets 422.
//! On both stores.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use time::macros::date;
use time::Date;

use api::store::{UsageInsertError, UsageInsertion, UsageRecord, UsageWindow};
use events::{MetricName, ParticipantId};

use crate::helpers::{participant_ids, spawn_app_on, Store, TestApp, OPERATOR_BIN};

crate::on_both_stores!(
    the_store_records_a_batch_once_and_refuses_another_content,
    the_store_sums_usage_and_lists_a_window_of_positions,
    the_store_s_window_holds_what_window_contains_says,
    racing_batches_in_the_store_never_keep_two_contents_for_an_id,
    a_batch_is_accepted_and_its_repeat_counted_as_duplicates,
    a_conflicting_id_is_refused_and_nothing_recorded,
    every_invalid_record_is_listed_with_its_index,
    more_than_a_thousand_records_are_refused,
    racing_batches_over_http_one_wins_the_other_is_refused,
);

const TODAY: Date = date!(2026 - 12 - 02);

fn metric(name: &str) -> MetricName {
    MetricName::parse(name).unwrap()
}

fn stored(id: &str, participant: &str, name: &str, quantity: i64, on: Date) -> UsageRecord {
    UsageRecord {
        id: id.to_owned(),
        participant_id: ParticipantId::parse(participant).unwrap(),
        metric: metric(name),
        quantity,
        occurred_on: on,
    }
}

/// A record as the portal sends it.
fn record(id: &str, participant: &str, metric: &str, quantity: i64, on: &str) -> Value {
    json!({"id": id, "participant_id": participant, "metric": metric, "quantity": quantity, "occurred_on": on})
}

fn batch(records: Vec<Value>) -> Value {
    json!({ "records": records })
}

async fn status_and_body(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.json().await.unwrap_or(Value::Null);
    if status >= 400 {
        assert_eq!(content_type, "application/problem+json", "{body}");
    }
    (status, body)
}

async fn usage_count(app: &TestApp) -> i64 {
    app.ledger.repository().count_usage_records().await.unwrap()
}

async fn stored_by_id(app: &TestApp, ids: &[&str]) -> Vec<Option<UsageRecord>> {
    let wanted: BTreeSet<&str> = ids.iter().copied().collect();
    let found = app
        .ledger
        .repository()
        .usage_records_by_id(&wanted)
        .await
        .unwrap();
    ids.iter().map(|id| found.get(*id).cloned()).collect()
}

async fn insert(
    app: &TestApp,
    records: &[UsageRecord],
) -> Result<UsageInsertion, UsageInsertError> {
    app.ledger
        .repository()
        .insert_usage(records, "2026-12-02T07:00:00Z", |_| None)
        .await
}

/// Written once; the same content again is a duplicate; the same id with other content
/// refuses the whole batch (the new record beside it is not written either).
async fn the_store_records_a_batch_once_and_refuses_another_content(store: Store) {
    let app = spawn_app_on(store, TODAY).await;
    let p = OPERATOR_BIN;
    let first = [
        stored("a", p, "documents", 3, date!(2026 - 11 - 30)),
        stored("b", p, "signatures", 1, date!(2026 - 12 - 01)),
    ];
    let inserted = insert(&app, &first).await.unwrap();
    assert_eq!(
        inserted,
        UsageInsertion {
            accepted: 2,
            duplicates: 0
        }
    );
    let again = insert(&app, &first).await.unwrap();
    assert_eq!(
        again,
        UsageInsertion {
            accepted: 0,
            duplicates: 2
        }
    );
    // Repeated within one batch, with the same content: counted once as a duplicate.
    let repeated = [
        stored("c", p, "documents", 5, date!(2026 - 12 - 01)),
        stored("c", p, "documents", 5, date!(2026 - 12 - 01)),
    ];
    assert_eq!(
        insert(&app, &repeated).await.unwrap(),
        UsageInsertion {
            accepted: 1,
            duplicates: 1
        }
    );
    assert_eq!(usage_count(&app).await, 3);

    let conflicting = [
        stored("d", p, "documents", 1, date!(2026 - 12 - 01)),
        stored("a", p, "documents", 4, date!(2026 - 11 - 30)),
        stored("b", p, "signatures", 1, date!(2026 - 12 - 01)),
    ];
    match insert(&app, &conflicting).await {
        Err(UsageInsertError::Conflicts(conflicts)) => {
            assert_eq!(conflicts.len(), 1, "{conflicts:?}");
            assert_eq!(conflicts[0].index, 1);
            assert_eq!(conflicts[0].stored, first[0]);
        }
        other => panic!("a conflict, not {other:?}"),
    }
    // Another content within one batch is refused the same way.
    let twice = [
        stored("e", p, "documents", 1, date!(2026 - 12 - 01)),
        stored("e", p, "documents", 2, date!(2026 - 12 - 01)),
    ];
    assert!(matches!(
        insert(&app, &twice).await,
        Err(UsageInsertError::Conflicts(c)) if c.len() == 1 && c[0].index == 1
    ));
    assert_eq!(usage_count(&app).await, 3, "nothing of a refused batch");
    assert_eq!(stored_by_id(&app, &["d", "e"]).await, [None, None]);
    assert_eq!(
        stored_by_id(&app, &["a"]).await,
        [Some(first[0].clone())],
        "a record is never changed"
    );
    app.finish().await;
}

/// Totals per metric over a date range; the records of a window of positions that
/// occurred by a date; the last position; which participants are registered.
async fn the_store_sums_usage_and_lists_a_window_of_positions(store: Store) {
    let app = spawn_app_on(store, TODAY).await;
    let repository = app.ledger.repository();
    let others = participant_ids(2);
    let (p, q) = (OPERATOR_BIN, others[0].as_str());
    app.signed_agreement(p).await;
    assert_eq!(repository.last_usage_position().await.unwrap(), 0);
    let registered = repository
        .registered_participants(&[p, q].into_iter().collect())
        .await
        .unwrap();
    assert_eq!(registered, [p.to_owned()].into_iter().collect());

    insert(
        &app,
        &[
            stored("n1", p, "documents", 3, date!(2026 - 11 - 01)),
            stored("n2", p, "documents", 4, date!(2026 - 11 - 30)),
            stored("n3", p, "signatures", 2, date!(2026 - 11 - 15)),
            stored("o1", p, "documents", 100, date!(2026 - 10 - 31)),
            stored("q1", q, "documents", 50, date!(2026 - 11 - 10)),
        ],
    )
    .await
    .unwrap();
    let through_first = repository.last_usage_position().await.unwrap();
    insert(
        &app,
        &[
            stored("late", p, "documents", 7, date!(2026 - 10 - 20)),
            stored("d1", p, "documents", 9, date!(2026 - 12 - 01)),
        ],
    )
    .await
    .unwrap();
    let through = repository.last_usage_position().await.unwrap();
    assert!(through > through_first);

    let participant = ParticipantId::parse(p).unwrap();
    let november = repository
        .usage_of(&participant, date!(2026 - 11 - 01), date!(2026 - 11 - 30))
        .await
        .unwrap();
    assert_eq!(
        november.into_iter().collect::<Vec<_>>(),
        [(metric("documents"), 7), (metric("signatures"), 2)]
    );

    // What a run after November takes from the first batch on: November and earlier.
    let all = repository
        .usage_records(
            &participant,
            &UsageWindow {
                occurred_through: date!(2026 - 11 - 30),
                through,
                counted: None,
            },
        )
        .await
        .unwrap();
    let ids: Vec<&str> = all.iter().map(|r| r.record.id.as_str()).collect();
    assert_eq!(ids, ["n1", "n2", "n3", "o1", "late"]);
    assert!(all.windows(2).all(|w| w[0].position < w[1].position));
    // A later run for November takes only what was recorded after the first counted
    // November: the late report.
    let counted = Some((through_first, date!(2026 - 11 - 30)));
    let later = repository
        .usage_records(
            &participant,
            &UsageWindow {
                occurred_through: date!(2026 - 11 - 30),
                through,
                counted,
            },
        )
        .await
        .unwrap();
    assert_eq!(later.len(), 1, "{later:?}");
    assert_eq!(
        later[0].record,
        stored("late", p, "documents", 7, date!(2026 - 10 - 20))
    );
    // December's window: the late report and December's record, nothing counted before.
    let december = repository
        .usage_records(
            &participant,
            &UsageWindow {
                occurred_through: date!(2026 - 12 - 31),
                through,
                counted,
            },
        )
        .await
        .unwrap();
    let ids: Vec<&str> = december.iter().map(|r| r.record.id.as_str()).collect();
    assert_eq!(ids, ["late", "d1"]);
    app.finish().await;
}

/// The usage window as the store selects it in SQL (what the billing run counts and
/// `verify` recounts on the store) holds exactly the records
/// `CountedUsage::window_contains` says (what `verify` recounts an export with), for
/// every month, position and previous invoice tried, and no other participant's.
async fn the_store_s_window_holds_what_window_contains_says(store: Store) {
    use aggregates::usage::CountedUsage;
    use events::CalendarMonth;

    let app = spawn_app_on(store, TODAY).await;
    let repository = app.ledger.repository();
    let p = OPERATOR_BIN;
    let other = participant_ids(1);
    let days = [
        date!(2026 - 10 - 31),
        date!(2026 - 11 - 01),
        date!(2026 - 11 - 30),
        date!(2026 - 12 - 01),
        date!(2026 - 12 - 02),
    ];
    for batch in 0..4 {
        let mut records: Vec<UsageRecord> = days
            .iter()
            .enumerate()
            .map(|(i, day)| {
                stored(
                    &format!("w-{batch}-{i}"),
                    p,
                    "documents",
                    1 + i as i64,
                    *day,
                )
            })
            .collect();
        records.push(stored(
            &format!("w-{batch}-other"),
            &other[0],
            "documents",
            1,
            days[batch],
        ));
        insert(&app, &records).await.unwrap();
    }
    let participant = ParticipantId::parse(p).unwrap();
    let all = repository
        .usage_records(
            &participant,
            &UsageWindow {
                occurred_through: date!(2099 - 12 - 31),
                through: i64::MAX,
                counted: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(all.len(), 20);
    let months: Vec<CalendarMonth> = ["2026-10", "2026-11", "2026-12"]
        .iter()
        .map(|m| CalendarMonth::parse(m).unwrap())
        .collect();
    let mut befores = vec![None];
    for month in &months {
        for through in [2, 9, 16] {
            befores.push(Some(CountedUsage {
                month: *month,
                through,
            }));
        }
    }
    let mut nonempty = 0;
    for month in &months {
        for through in [0, 3, 9, 14, 24] {
            let this = CountedUsage {
                month: *month,
                through,
            };
            for before in &befores {
                let window = UsageWindow::after(month.last_day(), through, *before).unwrap();
                let selected: Vec<i64> = repository
                    .usage_records(&participant, &window)
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| r.position)
                    .collect();
                let expected: Vec<i64> = all
                    .iter()
                    .filter(|r| {
                        this.window_contains(*before, r.position as u64, r.record.occurred_on)
                    })
                    .map(|r| r.position)
                    .collect();
                assert_eq!(selected, expected, "{this:?} after {before:?}");
                nonempty += usize::from(!selected.is_empty());
            }
        }
    }
    assert!(nonempty > 50, "the windows tried hold records: {nonempty}");
    app.finish().await;
}

/// Two batches racing in the store, each with ids the other has with other content:
/// one is recorded whole, the other refused whole; an id never holds two contents.
async fn racing_batches_in_the_store_never_keep_two_contents_for_an_id(store: Store) {
    let app = spawn_app_on(store, TODAY).await;
    let p = OPERATOR_BIN;
    for round in 0..10 {
        let ids: Vec<String> = (0..300).map(|i| format!("race-{round}-{i}")).collect();
        let left: Vec<UsageRecord> = ids
            .iter()
            .map(|id| stored(id, p, "documents", 1, date!(2026 - 12 - 01)))
            .collect();
        // The other batch holds the shared ids in the reverse order, with another
        // quantity, and one id of its own.
        let mut right: Vec<UsageRecord> = ids
            .iter()
            .rev()
            .map(|id| stored(id, p, "documents", 2, date!(2026 - 12 - 01)))
            .collect();
        right.push(stored(
            &format!("race-{round}-own"),
            p,
            "documents",
            2,
            date!(2026 - 12 - 01),
        ));
        // On tasks of their own, so that they run at the same time on both threads.
        let spawn = |records: Vec<UsageRecord>| {
            let repository = app.ledger.repository().clone();
            tokio::spawn(async move {
                repository
                    .insert_usage(&records, "2026-12-02T07:00:00Z", |_| None)
                    .await
            })
        };
        let (a, b) = (spawn(left.clone()), spawn(right.clone()));
        let (a, b) = (a.await.unwrap(), b.await.unwrap());
        let winner = match (&a, &b) {
            (Ok(_), Err(UsageInsertError::Conflicts(lost))) => {
                assert_eq!(lost.len(), ids.len(), "{lost:?}");
                &left
            }
            (Err(UsageInsertError::Conflicts(lost)), Ok(_)) => {
                assert_eq!(lost.len(), ids.len(), "{lost:?}");
                &right
            }
            other => panic!("round {round}: one batch wins, the other is refused: {other:?}"),
        };
        let wanted: Vec<&str> = winner.iter().map(|r| r.id.as_str()).collect();
        let found = stored_by_id(&app, &wanted).await;
        assert_eq!(
            found,
            winner.iter().cloned().map(Some).collect::<Vec<_>>(),
            "round {round}"
        );
        let own = format!("race-{round}-own");
        let own_found = stored_by_id(&app, &[own.as_str()]).await[0].is_some();
        assert_eq!(own_found, std::ptr::eq(winner, &right), "round {round}");
    }
    app.finish().await;
}

/// 200 `{accepted, duplicates}`; the same batch again counts duplicates; with a billing
/// token too; with an Idempotency-Key the first answer comes back; an auditor may not.
async fn a_batch_is_accepted_and_its_repeat_counted_as_duplicates(store: Store) {
    let app = spawn_app_on(store, TODAY).await;
    app.signed_agreement(OPERATOR_BIN).await;
    let first = batch(vec![
        record("doc-1", OPERATOR_BIN, "documents", 3, "2026-12-01"),
        record("doc-2", OPERATOR_BIN, "documents", 2, "2026-12-02"),
        record("sig-1", OPERATOR_BIN, "signatures", 1, "2026-11-30"),
    ]);
    let (status, answer) = status_and_body(app.post("/v1/usage", &first).await).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, json!({"accepted": 3, "duplicates": 0}));
    let (status, answer) = status_and_body(app.post("/v1/usage", &first).await).await;
    assert_eq!(
        (status, answer),
        (200, json!({"accepted": 0, "duplicates": 3}))
    );

    let billing = app
        .token(api::application::tokens::Role::Billing, "portal-feed", None)
        .await;
    let more = batch(vec![
        record("doc-1", OPERATOR_BIN, "documents", 3, "2026-12-01"),
        record("doc-3", OPERATOR_BIN, "documents", 1, "2026-12-02"),
    ]);
    let (status, answer) = status_and_body(
        app.send_as(
            reqwest::Method::POST,
            "/v1/usage",
            Some(&format!("Bearer {billing}")),
            Some(&more),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, answer),
        (200, json!({"accepted": 1, "duplicates": 1}))
    );
    assert_eq!(usage_count(&app).await, 4);

    // An Idempotency-Key: the repeat gets the first answer, not a count of duplicates.
    let keyed = batch(vec![record(
        "doc-4",
        OPERATOR_BIN,
        "documents",
        1,
        "2026-12-02",
    )]);
    let send = || async {
        app.client
            .post(app.url("/v1/usage"))
            .header("idempotency-key", "usage-batch-7")
            .json(&keyed)
            .send()
            .await
            .unwrap()
    };
    let response = send().await;
    assert!(response.headers().get("idempotent-replayed").is_none());
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"accepted": 1, "duplicates": 0})
    );
    let response = send().await;
    assert_eq!(response.headers()["idempotent-replayed"], "true");
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"accepted": 1, "duplicates": 0})
    );

    let auditor = app
        .token(api::application::tokens::Role::Auditor, "auditor", None)
        .await;
    let (status, _) = status_and_body(
        app.send_as(
            reqwest::Method::POST,
            "/v1/usage",
            Some(&format!("Bearer {auditor}")),
            Some(&first),
        )
        .await,
    )
    .await;
    assert_eq!(status, 403);
    // A body that is not a batch at all: 400.
    for body in [json!([]), json!({"records": {}}), json!({"rows": []})] {
        let (status, problem) = status_and_body(app.post("/v1/usage", &body).await).await;
        assert_eq!(status, 400, "{body}: {problem}");
    }
    assert_eq!(usage_count(&app).await, 5);
    app.finish().await;
}

/// The same id with other content: 422 naming the record and what is stored; nothing
/// of the batch is recorded, the valid new record beside it neither.
async fn a_conflicting_id_is_refused_and_nothing_recorded(store: Store) {
    let app = spawn_app_on(store, TODAY).await;
    app.signed_agreement(OPERATOR_BIN).await;
    let (status, _) = status_and_body(
        app.post(
            "/v1/usage",
            &batch(vec![record(
                "doc-1",
                OPERATOR_BIN,
                "documents",
                3,
                "2026-12-01",
            )]),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    let (status, problem) = status_and_body(
        app.post(
            "/v1/usage",
            &batch(vec![
                record("doc-2", OPERATOR_BIN, "documents", 1, "2026-12-01"),
                record("doc-1", OPERATOR_BIN, "documents", 30, "2026-12-01"),
            ]),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["type"], "urn:edoc-ledger:problem:usage-id-conflict");
    assert_eq!(problem["status"], 422);
    assert_eq!(problem["title"], "Unprocessable Entity");
    let errors = problem["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{problem}");
    assert_eq!(errors[0]["index"], 1);
    assert_eq!(errors[0]["id"], "doc-1");
    let detail = errors[0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("already recorded") && detail.contains("quantity 3"),
        "{detail}"
    );
    assert_eq!(usage_count(&app).await, 1);
    assert_eq!(stored_by_id(&app, &["doc-2"]).await, [None]);
    app.finish().await;
}

/// A batch with many invalid records: each listed with its index (the valid ones not),
/// everything wrong with it named; nothing recorded.
async fn every_invalid_record_is_listed_with_its_index(store: Store) {
    let app = spawn_app_on(store, TODAY).await;
    app.signed_agreement(OPERATOR_BIN).await;
    let unregistered = participant_ids(1)[0].clone();
    let p = OPERATOR_BIN;
    let mut no_id = record("x", p, "documents", 1, "2026-12-01");
    no_id.as_object_mut().unwrap().remove("id");
    let mut fractional = record("frac", p, "documents", 1, "2026-12-01");
    fractional["quantity"] = json!(1.5);
    let mut text_quantity = record("text", p, "documents", 1, "2026-12-01");
    text_quantity["quantity"] = json!("5");
    let mut extra = record("extra", p, "documents", 1, "2026-12-01");
    extra["unit"] = json!("pcs");
    let records = vec![
        record("ok-1", p, "documents", 1, "2026-12-01"), // 0
        record("who", &unregistered, "documents", 1, "2026-12-01"), // 1
        record("bad-metric", p, "Documents", 1, "2026-12-01"), // 2
        record("zero", p, "documents", 0, "2026-12-01"), // 3
        record("negative", p, "documents", -4, "2026-12-01"), // 4
        fractional,                                      // 5
        text_quantity,                                   // 6
        record("not-a-date", p, "documents", 1, "2026-13-01"), // 7
        record("tomorrow", p, "documents", 1, "2026-12-03"), // 8
        no_id,                                           // 9
        record("", p, "documents", 1, "2026-12-01"),     // 10
        record(&"x".repeat(101), p, "documents", 1, "2026-12-01"), // 11
        record("twice", p, "documents", 1, "2026-12-01"), // 12
        record("ok-2", p, "signatures", 2, "2026-12-02"), // 13
        record("twice", p, "documents", 2, "2026-12-01"), // 14
        record("ok-1", p, "documents", 1, "2026-12-01"), // 15: the same again, fine
        json!("not a record"),                           // 16
        extra,                                           // 17
        record("bad-bin", "12345678901", "documents", 1, "2026-12-01"), // 18
        record("many", &unregistered, "Documents", 0, "2027-01-01"), // 19
    ];
    let expected: [(usize, &[&str]); 16] = [
        (1, &["no agreement is registered", &unregistered]),
        (2, &["`metric`"]),
        (3, &["`quantity`", "not 0"]),
        (4, &["`quantity`", "not -4"]),
        (5, &["`quantity`", "not 1.5"]),
        (6, &["`quantity`", "not \"5\""]),
        (7, &["`occurred_on`", "2026-13-01"]),
        (8, &["`occurred_on`", "after today"]),
        (9, &["`id` is missing"]),
        (10, &["`id` must not be empty"]),
        (11, &["`id` is longer than 100"]),
        (14, &["`id` twice is also record 12's", "other content"]),
        (16, &["must be an object"]),
        (17, &["unknown field `unit`"]),
        (18, &["`participant_id`", "12 digits"]),
        (
            19,
            &["`metric`", "`quantity`", "`occurred_on`", "no agreement"],
        ),
    ];
    let (status, problem) = status_and_body(app.post("/v1/usage", &batch(records)).await).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(
        problem["type"], "urn:edoc-ledger:problem:invalid-usage-records",
        "{problem}"
    );
    assert_eq!(problem["clause"], "BILLING-3");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("nothing was recorded"),
        "{problem}"
    );
    let errors = problem["errors"].as_array().unwrap();
    let indexes: Vec<u64> = errors
        .iter()
        .map(|e| e["index"].as_u64().unwrap())
        .collect();
    let wanted: Vec<u64> = expected.iter().map(|(i, _)| *i as u64).collect();
    assert_eq!(indexes, wanted, "{problem}");
    for (error, (index, parts)) in errors.iter().zip(&expected) {
        let detail = error["detail"].as_str().unwrap();
        for part in *parts {
            assert!(
                detail.contains(part),
                "record {index}: `{part}` in {detail}"
            );
        }
    }
    assert_eq!(errors[0]["id"], "who");
    assert_eq!(errors[8]["id"], Value::Null, "no id: {}", errors[8]);
    assert_eq!(usage_count(&app).await, 0, "nothing recorded");
    app.finish().await;
}

/// 1,001 records: 422 naming the limit, the record beyond it listed, nothing recorded;
/// 1,000 are taken.
async fn more_than_a_thousand_records_are_refused(store: Store) {
    let app = spawn_app_on(store, TODAY).await;
    app.signed_agreement(OPERATOR_BIN).await;
    let records = |n: usize| {
        batch(
            (0..n)
                .map(|i| {
                    record(
                        &format!("r-{i}"),
                        OPERATOR_BIN,
                        "documents",
                        1,
                        "2026-12-01",
                    )
                })
                .collect(),
        )
    };
    let (status, problem) = status_and_body(app.post("/v1/usage", &records(1_001)).await).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(
        problem["type"],
        "urn:edoc-ledger:problem:usage-batch-too-large"
    );
    assert!(
        problem["detail"].as_str().unwrap().contains("at most 1000"),
        "{problem}"
    );
    assert_eq!(
        problem["errors"],
        json!([{"index": 1000, "id": "r-1000", "detail": "beyond the 1000 records a batch may hold: send it in another batch"}])
    );
    assert_eq!(usage_count(&app).await, 0);
    let (status, answer) = status_and_body(app.post("/v1/usage", &records(1_000)).await).await;
    assert_eq!(
        (status, answer),
        (200, json!({"accepted": 1000, "duplicates": 0}))
    );
    assert_eq!(usage_count(&app).await, 1_000);
    app.finish().await;
}

/// Two batches sent at once, sharing ids with different content: one is recorded
/// (200), the other refused (422, listing the shared ids); never both contents.
async fn racing_batches_over_http_one_wins_the_other_is_refused(store: Store) {
    let app = spawn_app_on(store, TODAY).await;
    app.signed_agreement(OPERATOR_BIN).await;
    for round in 0..5 {
        let ids: Vec<String> = (0..50).map(|i| format!("h-{round}-{i}")).collect();
        let left = batch(
            ids.iter()
                .map(|id| record(id, OPERATOR_BIN, "documents", 1, "2026-12-01"))
                .collect(),
        );
        let right = batch(
            ids.iter()
                .rev()
                .map(|id| record(id, OPERATOR_BIN, "signatures", 1, "2026-12-01"))
                .collect(),
        );
        let (a, b) = tokio::join!(app.post("/v1/usage", &left), app.post("/v1/usage", &right));
        let (a, b) = (status_and_body(a).await, status_and_body(b).await);
        let (winner, loser) = match (a.0, b.0) {
            (200, 422) => ("documents", &b.1),
            (422, 200) => ("signatures", &a.1),
            _ => panic!("round {round}: one 200 and one 422, not {a:?} {b:?}"),
        };
        assert_eq!(
            loser["errors"].as_array().unwrap().len(),
            ids.len(),
            "{loser}"
        );
        let wanted: Vec<&str> = ids.iter().map(String::as_str).collect();
        for found in stored_by_id(&app, &wanted).await {
            assert_eq!(found.unwrap().metric.as_str(), winner, "round {round}");
        }
    }
    assert_eq!(usage_count(&app).await, 250);
    app.finish().await;
}
