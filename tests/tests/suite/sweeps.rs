//! `POST /v1/sweeps` over HTTP: the dunning rules as of a date, idempotent, with lifting
//! on payment (§4.2, §5.9, §10.3).

use serde_json::json;

use crate::helpers::{invoice, participant_ids, spawn_app, Store, OPERATOR_BIN};
use crate::on_both_stores;

on_both_stores!(
    a_sweep_suspends_on_day_16_once_and_a_payment_lifts_it,
    force_majeure_is_notified_within_five_days_over_http,
    a_termination_waits_for_settlement_then_the_sweep_ends_it,
);

async fn a_sweep_suspends_on_day_16_once_and_a_payment_lifts_it(store: Store) {
    let app = spawn_app(store).await;
    let other = participant_ids(1).remove(0);
    app.signed_agreement(OPERATOR_BIN).await;
    app.signed_agreement(&other).await;
    // Invoice 1 of 11600.00, issued 2026-02-02, due 2026-02-09.
    let response = app
        .post(
            &format!("/v1/agreements/{OPERATOR_BIN}/invoices"),
            &invoice("2026-02-02", "10000.00"),
        )
        .await;
    assert_eq!(response.status(), 201);

    // Day 15 overdue: the fine of 2 MRP (policy on), no suspension.
    let day_15 = app
        .post("/v1/sweeps", &json!({"as_of": "2026-02-24"}))
        .await;
    assert_eq!(day_15.status(), 200);
    let day_15: serde_json::Value = day_15.json().await.unwrap();
    assert_eq!(day_15["suspended"], json!([]));
    assert_eq!(day_15["fines_charged"], json!([OPERATOR_BIN]));
    assert_eq!(day_15["agreements"], 2);

    // Billing staff look first: the dunning report says what day 16 would do, and
    // records nothing.
    let before_count = app.event_count().await;
    let dunning = app.get_json("/v1/reports/dunning?as_of=2026-02-25").await;
    let actions = dunning["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{dunning}");
    assert_eq!(actions[0]["participant_id"], OPERATOR_BIN);
    assert_eq!(actions[0]["action"], "Suspended");
    assert_eq!(actions[0]["clause"], "5.9");
    assert_eq!(app.event_count().await, before_count);

    // Day 16: suspended for overdue; the event carries the sweep's id and date. Sent
    // with an Idempotency-Key: a retry gets the same report, and records nothing.
    let keyed = || {
        app.client
            .post(app.url("/v1/sweeps"))
            .header("idempotency-key", "sweep-2026-02-25")
            .json(&json!({"as_of": "2026-02-25"}))
            .send()
    };
    let first = keyed().await.unwrap();
    assert_eq!(first.status(), 200);
    let day_16: serde_json::Value = first.json().await.unwrap();
    let count_after = app.event_count().await;
    let retry = keyed().await.unwrap();
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(retry.json::<serde_json::Value>().await.unwrap(), day_16);
    assert_eq!(app.event_count().await, count_after);
    assert_eq!(day_16["suspended"], json!([OPERATOR_BIN]));
    let events = app.events(OPERATOR_BIN).await;
    let suspended = events.last().unwrap();
    assert_eq!(suspended["type"], "Suspended");
    assert_eq!(suspended["payload"]["reason"], "overdue");
    assert_eq!(suspended["clause"], "5.9");
    assert_eq!(
        suspended["actor"], "test-operator",
        "the caller who ran the sweep"
    );
    assert_eq!(suspended["request_id"], day_16["sweep_id"]);
    let count = app.event_count().await;

    // The same date again records nothing; an earlier date is refused; a future one too.
    let again: serde_json::Value = app
        .post("/v1/sweeps", &json!({"as_of": "2026-02-25"}))
        .await
        .json()
        .await
        .unwrap();
    for list in [
        "suspended",
        "blocked",
        "reinstated",
        "unblocked",
        "terminated",
        "fines_charged",
        "settlement_charged",
    ] {
        assert_eq!(again[list], json!([]), "{list}: {again}");
    }
    assert_eq!(app.event_count().await, count);
    let earlier = app
        .post("/v1/sweeps", &json!({"as_of": "2026-02-20"}))
        .await;
    assert_eq!(earlier.status(), 409);
    assert_eq!(
        earlier.headers()["content-type"],
        "application/problem+json"
    );
    let future = app
        .post("/v1/sweeps", &json!({"as_of": "2099-01-01"}))
        .await;
    assert_eq!(future.status(), 422);
    assert_eq!(app.event_count().await, count);

    // Paying the invoice lifts the suspension the day the money arrives (§5.5).
    let paid = app
        .post(
            &format!("/v1/agreements/{OPERATOR_BIN}/payments"),
            &json!({"reference": "KASPI-1", "received_on": "2026-02-26", "amount": "11600.00"}),
        )
        .await;
    assert_eq!(paid.status(), 201);
    let types = app.event_types(OPERATOR_BIN).await;
    assert_eq!(types[types.len() - 2..], ["PaymentReceived", "Reinstated"]);
    let agreement = app
        .get_json(&format!("/v1/agreements/{OPERATOR_BIN}?as_of=2026-02-26"))
        .await;
    assert_eq!(agreement["status"], "active");
    let before = app
        .get_json(&format!("/v1/agreements/{OPERATOR_BIN}?as_of=2026-02-25"))
        .await;
    assert_eq!(before["status"], "suspended");
    app.finish().await;
}

async fn force_majeure_is_notified_within_five_days_over_http(store: Store) {
    let app = spawn_app(store).await;
    app.signed_agreement(OPERATOR_BIN).await;
    let path = format!("/v1/agreements/{OPERATOR_BIN}/force-majeure");
    let count = app.event_count().await;
    let late = app
        .post(
            &path,
            &json!({"started_on": "2026-03-02", "notice_received_on": "2026-03-08", "description": "flood"}),
        )
        .await;
    assert_eq!(late.status(), 422);
    let problem: serde_json::Value = late.json().await.unwrap();
    assert_eq!(problem["clause"], "8.2");
    assert_eq!(app.event_count().await, count);
    let in_time = app
        .post(
            &path,
            &json!({"started_on": "2026-03-02", "notice_received_on": "2026-03-07", "description": "flood"}),
        )
        .await;
    assert_eq!(in_time.status(), 201);
    let answer: serde_json::Value = in_time.json().await.unwrap();
    assert_eq!(answer["recorded"][0]["type"], "ForceMajeureDeclared");
    assert_eq!(answer["recorded"][0]["clause"], "8.2");
    let ended = app
        .post(&format!("{path}/end"), &json!({"ended_on": "2026-03-20"}))
        .await;
    assert_eq!(ended.status(), 200);
    let answer: serde_json::Value = ended.json().await.unwrap();
    assert_eq!(answer["recorded"][0]["payload"]["days"], 19);
    // 19 days of force majeure do not allow a termination on that ground (§8.4)...
    let termination = format!("/v1/agreements/{OPERATOR_BIN}/termination");
    let refused = app
        .post(
            &termination,
            &json!({"ground": "force_majeure", "notice_received_on": "2026-03-21", "effective_on": "2026-04-30"}),
        )
        .await;
    assert_eq!(refused.status(), 422);
    let problem: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(problem["clause"], "8.4");
    // ...a court's decision does, on the date it names (§10.2.3); with nothing owed the
    // sweep of that date ends the agreement (§10.3).
    let court = app
        .post(
            &termination,
            &json!({"ground": "court", "notice_received_on": "2026-03-21", "effective_on": "2026-03-25"}),
        )
        .await;
    assert_eq!(court.status(), 200);
    let swept: serde_json::Value = app
        .post("/v1/sweeps", &json!({"as_of": "2026-03-25"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(swept["terminated"], json!([OPERATOR_BIN]), "{swept}");
    app.finish().await;
}

/// The same agreements, one history each: paid on time, late, partly paid, unpaid.
async fn dunning_histories(app: &crate::helpers::TestApp) -> Vec<String> {
    let ids = participant_ids(8);
    for (index, id) in ids.iter().enumerate() {
        app.signed_agreement(id).await;
        let response = app
            .post(
                &format!("/v1/agreements/{id}/invoices"),
                &invoice("2026-02-02", "10000.00"),
            )
            .await;
        assert_eq!(response.status(), 201);
        let paid = match index % 4 {
            0 => Some(("2026-02-09", "11600.00")),
            1 => Some(("2026-03-20", "11600.00")),
            2 => Some(("2026-03-01", "100.00")),
            _ => None,
        };
        if let Some((on, amount)) = paid {
            let response = app
                .post(
                    &format!("/v1/agreements/{id}/payments"),
                    &json!({"reference": format!("R-{index}"), "received_on": on, "amount": amount}),
                )
                .await;
            assert_eq!(response.status(), 201);
        }
    }
    ids
}

async fn event_types_of(app: &crate::helpers::TestApp, ids: &[String]) -> Vec<Vec<String>> {
    let mut all = Vec::new();
    for id in ids {
        all.push(app.event_types(id).await);
    }
    all
}

/// A sweep killed midway (here: its step run for only the first agreements, as a crash
/// would leave it) and run again gives exactly the events of one clean run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_sweep_killed_midway_and_resumed_equals_a_clean_run() {
    let clean = spawn_app(Store::Postgres).await;
    let ids = dunning_histories(&clean).await;
    let response = clean
        .post("/v1/sweeps", &json!({"as_of": "2026-05-20"}))
        .await;
    assert_eq!(response.status(), 200);

    let resumed = spawn_app(Store::Postgres).await;
    assert_eq!(dunning_histories(&resumed).await, ids);
    let context = api::application::commands::CommandContext {
        actor: "sweep".to_owned(),
        request_id: "killed".to_owned(),
        sweep: None,
        idempotency: None,
    };
    for id in &ids[..3] {
        let participant = events::ParticipantId::parse(id).unwrap();
        let command = commands::AgreementCommand::Sweep(commands::SweepAgreement {
            as_of: time::macros::date!(2026 - 05 - 20),
            charge_fines: true,
        });
        resumed
            .ledger
            .execute(&participant, command, &context)
            .await
            .unwrap();
    }
    let response = resumed
        .post("/v1/sweeps", &json!({"as_of": "2026-05-20"}))
        .await;
    assert_eq!(response.status(), 200);
    let report: serde_json::Value = response.json().await.unwrap();
    // The first three were done before the "crash": the rerun leaves them alone.
    for id in &ids[..3] {
        assert!(
            !report["suspended"].as_array().unwrap().contains(&json!(id)),
            "{report}"
        );
        assert!(
            !report["fines_charged"]
                .as_array()
                .unwrap()
                .contains(&json!(id)),
            "{report}"
        );
    }
    assert_eq!(
        event_types_of(&resumed, &ids).await,
        event_types_of(&clean, &ids).await
    );
    // And what the rules give: unpaid -> suspended and blocked; partly paid -> suspended
    // and, not paid in full 3 months after the due date, blocked too (§4.2 as re-read on
    // 2026-12-01); paid late -> fine only; paid on time -> nothing.
    let types = event_types_of(&clean, &ids).await;
    let tail = |t: &Vec<String>| t[3..].to_vec();
    assert_eq!(tail(&types[0]), ["PaymentReceived"]);
    assert_eq!(tail(&types[1]), ["PaymentReceived", "FineCharged"]);
    assert_eq!(
        tail(&types[2]),
        ["PaymentReceived", "FineCharged", "Suspended", "Blocked"]
    );
    assert_eq!(tail(&types[3]), ["FineCharged", "Suspended", "Blocked"]);
    clean.finish().await;
    resumed.finish().await;
}

/// §10.2.2 and §10.3 end to end: a participant's notice takes effect 15 days later, but
/// only once everything is settled; after that nothing more is invoiced.
async fn a_termination_waits_for_settlement_then_the_sweep_ends_it(store: Store) {
    let app = spawn_app(store).await;
    app.signed_agreement(OPERATOR_BIN).await;
    let id = OPERATOR_BIN;
    assert_eq!(
        app.post(
            &format!("/v1/agreements/{id}/invoices"),
            &invoice("2026-02-02", "10000.00")
        )
        .await
        .status(),
        201
    );
    let notice = app
        .post(
            &format!("/v1/agreements/{id}/termination"),
            &json!({"ground": "participant_notice", "notice_received_on": "2026-02-03"}),
        )
        .await;
    assert_eq!(notice.status(), 200);
    let notice: serde_json::Value = notice.json().await.unwrap();
    assert_eq!(notice["effective_on"], "2026-02-18");

    // On the effective date the invoice is unpaid: what has accrued is charged, also
    // with the fine policy off (§10.3, 2026-12-01): 9 days of penalty (104.40) and the
    // fine (8650.00); still pending.
    let swept: serde_json::Value = app
        .post(
            "/v1/sweeps",
            &json!({"as_of": "2026-02-18", "charge_fines": false}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(swept["terminated"], json!([]));
    assert_eq!(swept["settlement_charged"], json!([id]), "{swept}");
    let balance = app
        .get_json(&format!("/v1/agreements/{id}/balance?as_of=2026-02-18"))
        .await;
    assert_eq!(balance["penalties_charged"], "104.40", "{balance}");
    assert_eq!(balance["fines"], "8650.00", "{balance}");
    assert_eq!(balance["total_due"], "20354.40", "{balance}");
    let agreement = app
        .get_json(&format!("/v1/agreements/{id}?as_of=2026-02-18"))
        .await;
    assert_eq!(agreement["status"], "termination_pending");

    // Settled: principal paid on 02-19, so one more day of penalty (11.60) accrued; the
    // payment leaves that much as an advance, which settles the sweep's charge of it,
    // and the sweep ends the agreement; no invoice after that.
    let paid = app
        .post(
            &format!("/v1/agreements/{id}/payments"),
            &json!({"reference": "KASPI-9", "received_on": "2026-02-19", "amount": "20366.00"}),
        )
        .await;
    assert_eq!(paid.status(), 201);
    let swept: serde_json::Value = app
        .post(
            "/v1/sweeps",
            &json!({"as_of": "2026-02-19", "charge_fines": false}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(swept["terminated"], json!([id]), "{swept}");
    let agreement = app.get_json(&format!("/v1/agreements/{id}")).await;
    assert_eq!(agreement["status"], "terminated");
    let late_invoice = app
        .post(
            &format!("/v1/agreements/{id}/invoices"),
            &invoice("2026-03-02", "100.00"),
        )
        .await;
    assert_eq!(late_invoice.status(), 409);
    let problem: serde_json::Value = late_invoice.json().await.unwrap();
    assert_eq!(problem["clause"], "10.3");
    app.finish().await;
}

/// §4.2 block boundary over HTTP on PostgreSQL from a due date of 31 January (2025):
/// "3 months after" is 30 April (the month is shorter), so the block applies from 1 May;
/// the sweep of 30 April only suspends. (30 November is covered by the unit tests of
/// `postgres_a_block_from_a_due_date_of_30_november_applies_from_1_march`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_block_from_a_due_date_of_31_january_applies_from_1_may() {
    let app = spawn_app(Store::Postgres).await;
    let ids = participant_ids(2);
    for id in &ids {
        let mut body = crate::helpers::registration(id);
        body["registered_on"] = json!("2025-01-06");
        assert_eq!(app.post("/v1/agreements", &body).await.status(), 201);
        assert_eq!(
            app.post(
                &format!("/v1/agreements/{id}/signature"),
                &json!({"signed_on": "2025-01-06"})
            )
            .await
            .status(),
            200
        );
        // Friday 2025-01-24 + 5 banking days = Friday 2025-01-31.
        let issued: serde_json::Value = app
            .post(
                &format!("/v1/agreements/{id}/invoices"),
                &invoice("2025-01-24", "1000.00"),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(issued["due_on"], "2025-01-31");
    }
    let april_30: serde_json::Value = app
        .post(
            "/v1/sweeps",
            &json!({"as_of": "2025-04-30", "charge_fines": false}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        april_30["suspended"].as_array().unwrap().len(),
        2,
        "{april_30}"
    );
    assert_eq!(april_30["blocked"], json!([]));
    let may_1: serde_json::Value = app
        .post(
            "/v1/sweeps",
            &json!({"as_of": "2025-05-01", "charge_fines": false}),
        )
        .await
        .json()
        .await
        .unwrap();
    let mut blocked: Vec<String> = serde_json::from_value(may_1["blocked"].clone()).unwrap();
    blocked.sort();
    assert_eq!(blocked, ids);

    // Paying the whole debt (1000.00 + 12% VAT in 2025) unblocks at once (§4.2, §5.5).
    let paid = app
        .post(
            &format!("/v1/agreements/{}/payments", ids[0]),
            &json!({"reference": "BANK-1", "received_on": "2025-05-02", "amount": "1120.00"}),
        )
        .await;
    assert_eq!(paid.status(), 201);
    let types = app.event_types(&ids[0]).await;
    assert_eq!(types[types.len() - 2..], ["PaymentReceived", "Unblocked"]);
    let status = app
        .get_json(&format!("/v1/agreements/{}?as_of=2025-05-02", ids[0]))
        .await;
    assert_eq!(status["status"], "active");
    // A mutual termination of the other, effective at once but with debt: pending (§10.3).
    let mutual = app
        .post(
            &format!("/v1/agreements/{}/termination", ids[1]),
            &json!({"ground": "mutual", "notice_received_on": "2025-05-02"}),
        )
        .await;
    assert_eq!(mutual.status(), 200);
    let swept: serde_json::Value = app
        .post(
            "/v1/sweeps",
            &json!({"as_of": "2025-05-02", "charge_fines": false}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(swept["terminated"], json!([]), "{swept}");
    app.finish().await;
}

/// The same from a due date of 30 November (2026, on a server whose today is in March
/// 2027): "3 months after" is 28 February, so the block applies from 1 March.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_block_from_a_due_date_of_30_november_applies_from_1_march() {
    let app =
        crate::helpers::spawn_app_on(Store::Postgres, time::macros::date!(2027 - 03 - 15)).await;
    app.signed_agreement(OPERATOR_BIN).await;
    // Monday 2026-11-23 + 5 banking days = Monday 2026-11-30.
    let issued: serde_json::Value = app
        .post(
            &format!("/v1/agreements/{OPERATOR_BIN}/invoices"),
            &invoice("2026-11-23", "1000.00"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(issued["due_on"], "2026-11-30");
    let feb_28: serde_json::Value = app
        .post(
            "/v1/sweeps",
            &json!({"as_of": "2027-02-28", "charge_fines": false}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(feb_28["suspended"], json!([OPERATOR_BIN]), "{feb_28}");
    assert_eq!(feb_28["blocked"], json!([]));
    let mar_1: serde_json::Value = app
        .post(
            "/v1/sweeps",
            &json!({"as_of": "2027-03-01", "charge_fines": false}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mar_1["blocked"], json!([OPERATOR_BIN]), "{mar_1}");
    app.finish().await;
}
