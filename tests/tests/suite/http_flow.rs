//! The happy path and the state table over real HTTP.

use serde_json::{json, Value};

use crate::helpers::{invoice, spawn_app, Store, OPERATOR_BIN};

crate::on_both_stores!(
    register_sign_invoice_pay_and_read_back,
    restrictions_and_termination_follow_the_state_table,
    a_usd_invoice_records_its_exchange_rate,
    events_survive_a_restart,
    health_reports_the_store,
);

async fn register_sign_invoice_pay_and_read_back(store: Store) {
    let app = spawn_app(store).await;
    let id = OPERATOR_BIN;
    app.signed_agreement(id).await;

    let agreement = app.get_json(&format!("/v1/agreements/{id}")).await;
    assert_eq!(agreement["status"], "active");
    assert_eq!(
        agreement["concluded_on"], "2026-01-05",
        "§3.2: the earlier date"
    );
    assert_eq!(
        agreement["in_force_from"], "2026-01-06",
        "§10.1: the later date"
    );

    // Invoice: 10000.00 net + 16% VAT, issued Monday 2026-02-02, due Monday 2026-02-09.
    let response = app
        .post(
            &format!("/v1/agreements/{id}/invoices"),
            &invoice("2026-02-02", "10000.00"),
        )
        .await;
    assert_eq!(response.status(), 201);
    let issued: Value = response.json().await.unwrap();
    assert_eq!(issued["number"], "1");
    assert_eq!(issued["net"], "10000.00");
    assert_eq!(issued["vat_rate"], "0.16");
    assert_eq!(issued["vat"], "1600.00");
    assert_eq!(issued["total"], "11600.00");
    assert_eq!(issued["currency"], "KZT");
    assert_eq!(issued["due_on"], "2026-02-09");
    assert_eq!(issued["due_rule"]["clause"], "5.4");
    assert!(issued.get("exchange_rate").is_none());

    // A partial payment.
    let payment =
        json!({"reference": "KASPI-0001", "received_on": "2026-02-05", "amount": "5000.00"});
    let response = app
        .post(&format!("/v1/agreements/{id}/payments"), &payment)
        .await;
    assert_eq!(response.status(), 201);
    let first: Value = response.json().await.unwrap();
    assert_eq!(
        first["allocations"],
        json!([{"invoice_number": "1", "principal": "5000.00", "penalty": "0.00", "fine": "0.00"}])
    );
    assert_eq!(first["advance"], "0.00");

    // A second payment that overpays: the rest is an advance.
    let second = json!({"reference": "KASPI-0002", "received_on": "2026-02-06", "amount": "7000.00", "invoice_number": "1"});
    let response = app
        .post(&format!("/v1/agreements/{id}/payments"), &second)
        .await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["allocations"][0]["principal"], "6600.00");
    assert_eq!(body["advance"], "400.00");

    // The same reference again: 200, the first answer, nothing recorded.
    let before = app.event_count().await;
    let response = app
        .post(&format!("/v1/agreements/{id}/payments"), &payment)
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap(), first);
    assert_eq!(
        app.event_count().await,
        before,
        "a repeated reference records nothing"
    );

    // The advance settles the next invoice on issue.
    let response = app.post(&format!("/v1/agreements/{id}/invoices"), &json!({
        "kind": "credit", "issued_on": "2026-03-02",
        "lines": [{"description": "Extra documents", "quantity": "2", "unit_price": "150.00"}]
    })).await;
    assert_eq!(response.status(), 201);
    let second_invoice: Value = response.json().await.unwrap();
    assert_eq!(second_invoice["number"], "2");
    assert_eq!(second_invoice["total"], "348.00");
    assert_eq!(second_invoice["settled_from_advance"], "348.00");
    assert_eq!(second_invoice["outstanding"], "0.00");
    assert_eq!(
        second_invoice["due_on"], "2026-03-05",
        "§5.8: 3 working days"
    );
    assert_eq!(
        app.get_json(&format!("/v1/agreements/{id}")).await["advance"],
        "52.00"
    );

    let events = app.events(id).await;
    let types: Vec<_> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "Registered",
            "AgreementSigned",
            "InvoiceIssued",
            "PaymentReceived",
            "PaymentReceived",
            "InvoiceIssued",
            "AdvanceApplied"
        ]
    );
    for (index, event) in events.iter().enumerate() {
        assert_eq!(event["sequence"], index as i64 + 1);
        assert_eq!(event["actor"], "test-operator");
        assert!(
            event["request_id"]
                .as_str()
                .is_some_and(|id| !id.is_empty()),
            "{event}"
        );
        assert!(
            event["recorded_at"]
                .as_str()
                .is_some_and(|t| t.ends_with('Z')),
            "{event}"
        );
        assert!(event["clause"].as_str().is_some(), "{event}");
    }
    assert_eq!(events[2]["clause"], "5.4");
    assert_eq!(events[3]["clause"], "5.5");
    assert_eq!(
        events[2]["payload"]["total"],
        json!({"amount": "11600.00", "currency": "KZT"})
    );
    assert_eq!(events[3]["payload"]["reference"], "KASPI-0001");
    app.finish().await;
}

async fn restrictions_and_termination_follow_the_state_table(store: Store) {
    let app = spawn_app(store).await;
    let id = OPERATOR_BIN;
    let path = |tail: &str| format!("/v1/agreements/{id}/{tail}");
    // Before signing, access cannot be restricted (§1.5).
    app.post("/v1/agreements", &crate::helpers::registration(id))
        .await;
    let response = app
        .post(
            &path("suspension"),
            &json!({"on": "2026-01-10", "reason": "verification"}),
        )
        .await;
    assert_eq!(response.status(), 409);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["clause"], "1.5");
    app.post(&path("signature"), &json!({"signed_on": "2026-01-06"}))
        .await;

    let response = app
        .post(
            &path("suspension"),
            &json!({"on": "2026-01-10", "reason": "verification"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let view: Value = response.json().await.unwrap();
    assert_eq!(view["status"], "suspended");
    assert_eq!(view["suspended_on"], "2026-01-10");
    assert_eq!(view["restriction"]["reason"], "verification");

    assert_eq!(
        app.post(
            &path("suspension"),
            &json!({"on": "2026-01-11", "reason": "violation"})
        )
        .await
        .status(),
        409
    );
    assert_eq!(
        app.post(
            &path("unblock"),
            &json!({"on": "2026-01-11", "reason": "x"})
        )
        .await
        .status(),
        409
    );
    let response = app
        .post(
            &path("block"),
            &json!({"on": "2026-01-12", "reason": "violation"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["status"], "blocked");
    let response = app
        .post(
            &path("unblock"),
            &json!({"on": "2026-01-13", "reason": "violation remedied"}),
        )
        .await;
    assert_eq!(response.json::<Value>().await.unwrap()["status"], "active");
    let response = app
        .post(
            &path("suspension"),
            &json!({"on": "2026-01-14", "reason": "technical_works"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let response = app
        .post(
            &path("reinstatement"),
            &json!({"on": "2026-01-15", "reason": "works finished"}),
        )
        .await;
    assert_eq!(response.json::<Value>().await.unwrap()["status"], "active");

    let response = app
        .post(
            &path("termination"),
            &json!({"ground": "participant_notice", "notice_received_on": "2026-02-20"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["effective_on"], "2026-03-07",
        "§10.2.2: 15 calendar days after notice"
    );
    assert_eq!(body["status"], "termination_pending");
    assert_eq!(body["termination"]["clause"], "10.2.2");
    let response = app
        .post(
            &path("termination"),
            &json!({"ground": "mutual", "notice_received_on": "2026-02-21"}),
        )
        .await;
    assert_eq!(response.status(), 409);
    assert_eq!(
        app.event_types(id).await,
        [
            "Registered",
            "AgreementSigned",
            "Suspended",
            "Blocked",
            "Unblocked",
            "Suspended",
            "Reinstated",
            "TerminationRequested"
        ]
    );
    app.finish().await;
}

async fn a_usd_invoice_records_its_exchange_rate(store: Store) {
    let app = spawn_app(store).await;
    let id = "150240008272";
    let mut body = crate::helpers::registration(id);
    body["resident"] = json!(false);
    body["currency"] = json!("USD");
    assert_eq!(app.post("/v1/agreements", &body).await.status(), 201);
    app.post(
        &format!("/v1/agreements/{id}/signature"),
        &json!({"signed_on": "2026-01-06"}),
    )
    .await;
    let response = app
        .post(
            &format!("/v1/agreements/{id}/invoices"),
            &invoice("2026-02-02", "100.00"),
        )
        .await;
    assert_eq!(response.status(), 201);
    let issued: Value = response.json().await.unwrap();
    assert_eq!(issued["currency"], "USD");
    assert_eq!(issued["total"], "116.00");
    assert_eq!(
        issued["exchange_rate"], "503.15",
        "the test feed's 50315 per 100 units"
    );
    // No rate for the date: refused with the clause, nothing recorded.
    let before = app.event_count().await;
    let response = app
        .post(
            &format!("/v1/agreements/{id}/invoices"),
            &invoice("2026-02-03", "100.00"),
        )
        .await;
    assert_eq!(response.status(), 422);
    assert_eq!(response.json::<Value>().await.unwrap()["clause"], "5.1");
    assert_eq!(app.event_count().await, before);
    app.finish().await;
}

async fn events_survive_a_restart(store: Store) {
    let app = spawn_app(store).await;
    app.signed_agreement(OPERATOR_BIN).await;
    app.post(
        &format!("/v1/agreements/{OPERATOR_BIN}/invoices"),
        &invoice("2026-02-02", "100.00"),
    )
    .await;
    let app = app.restart().await;
    assert_eq!(
        app.event_types(OPERATOR_BIN).await,
        ["Registered", "AgreementSigned", "InvoiceIssued"]
    );
    // The counter survives too: the next invoice takes number 2.
    let response = app
        .post(
            &format!("/v1/agreements/{OPERATOR_BIN}/invoices"),
            &invoice("2026-02-03", "100.00"),
        )
        .await;
    assert_eq!(response.json::<Value>().await.unwrap()["number"], "2");
    app.finish().await;
}

async fn health_reports_the_store(store: Store) {
    let app = spawn_app(store).await;
    let health = app.get_json("/healthz").await;
    assert_eq!(health["status"], "ok");
    let expected = match store {
        Store::Postgres => "PostgreSQL",
        Store::Sqlite => "SQLite",
    };
    assert!(
        health["store"].as_str().unwrap().starts_with(expected),
        "{health}"
    );
    app.finish().await;
}
