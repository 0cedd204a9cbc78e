//! Every kind of bad input: the right status, a problem+json body a person understands,
//! and nothing recorded.

use serde_json::{json, Value};

use crate::helpers::{registration, spawn_app, Store, TestApp, OPERATOR_BIN};

crate::on_both_stores!(
    bad_bodies_are_refused_and_record_nothing,
    refused_commands_name_their_clause_and_record_nothing,
);

/// Sends `body` to `path` and checks the refusal: status, problem+json, the detail
/// mentions `needle`, and the store holds as many events as before.
async fn check(
    app: &TestApp,
    path: &str,
    content_type: Option<&str>,
    body: &str,
    status: u16,
    needle: &str,
) -> Value {
    let before = app.event_count().await;
    let response = app.post_raw(path, content_type, body.to_owned()).await;
    assert_eq!(response.status(), status, "{path} {body}");
    let content = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content, "application/problem+json", "{path} {body}");
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["status"], status);
    assert!(
        problem["type"].as_str().is_some() && problem["title"].as_str().is_some(),
        "{problem}"
    );
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains(needle),
        "detail {detail:?} should mention {needle:?}"
    );
    assert_eq!(
        app.event_count().await,
        before,
        "a refused request records nothing: {path} {body}"
    );
    problem
}

fn with(mut body: Value, field: &str, value: Value) -> String {
    body[field] = value;
    body.to_string()
}

async fn bad_bodies_are_refused_and_record_nothing(store: Store) {
    let app = spawn_app(store).await;
    app.signed_agreement(OPERATOR_BIN).await;
    let json = Some("application/json");
    let register = registration("990101300122");
    let payments = format!("/v1/agreements/{OPERATOR_BIN}/payments");
    let invoices = format!("/v1/agreements/{OPERATOR_BIN}/invoices");
    let payment = json!({"reference": "R-1", "received_on": "2026-02-05", "amount": "10.00"});

    check(
        &app,
        "/v1/agreements",
        json,
        "{\"participant_id\": ",
        400,
        "not valid JSON",
    )
    .await;
    check(&app, "/v1/agreements", json, "[]", 400, "").await;
    check(
        &app,
        "/v1/agreements",
        None,
        &register.to_string(),
        415,
        "Content-Type: application/json",
    )
    .await;
    check(
        &app,
        "/v1/agreements",
        Some("text/plain"),
        &register.to_string(),
        415,
        "JSON",
    )
    .await;
    check(
        &app,
        "/v1/agreements",
        json,
        &with(register.clone(), "nickname", json!("x")),
        400,
        "unknown field `nickname`",
    )
    .await;
    check(
        &app,
        "/v1/agreements",
        json,
        &with(register.clone(), "registered_on", json!("2026-02-30")),
        400,
        "`registered_on`",
    )
    .await;
    check(
        &app,
        "/v1/agreements",
        json,
        &with(register.clone(), "registered_on", json!("05.01.2026")),
        400,
        "YYYY-MM-DD",
    )
    .await;
    check(
        &app,
        "/v1/agreements",
        json,
        &with(register.clone(), "participant_id", json!("150240008273")),
        400,
        "control digit",
    )
    .await;
    check(
        &app,
        "/v1/agreements",
        json,
        &with(register.clone(), "participant_id", json!("15024000827")),
        400,
        "12 digits",
    )
    .await;
    check(
        &app,
        "/v1/agreements",
        json,
        &with(register.clone(), "participant_id", json!(150240008272u64)),
        400,
        "`participant_id`",
    )
    .await;
    check(
        &app,
        "/v1/agreements",
        json,
        &with(register.clone(), "kind", json!("company")),
        400,
        "`kind`",
    )
    .await;
    check(
        &app,
        "/v1/agreements",
        json,
        &with(register.clone(), "email", json!("nobody")),
        400,
        "e-mail",
    )
    .await;
    let mut missing = register.clone();
    missing.as_object_mut().unwrap().remove("currency");
    check(
        &app,
        "/v1/agreements",
        json,
        &missing.to_string(),
        400,
        "missing field `currency`",
    )
    .await;

    check(
        &app,
        &payments,
        json,
        &with(payment.clone(), "amount", json!("-5.00")),
        400,
        "negative",
    )
    .await;
    check(
        &app,
        &payments,
        json,
        &with(payment.clone(), "amount", json!("1.001")),
        400,
        "more than 2 decimals",
    )
    .await;
    check(
        &app,
        &payments,
        json,
        &with(payment.clone(), "amount", json!(100)),
        400,
        "not numbers",
    )
    .await;
    check(
        &app,
        &payments,
        json,
        &with(payment.clone(), "amount", json!(12.5)),
        400,
        "not numbers",
    )
    .await;
    check(
        &app,
        &payments,
        json,
        &with(payment.clone(), "amount", json!("12,50")),
        400,
        "not a decimal",
    )
    .await;
    check(
        &app,
        &payments,
        json,
        &with(payment.clone(), "received_on", json!("yesterday")),
        400,
        "YYYY-MM-DD",
    )
    .await;
    let bad_line = json!({"kind": "credit", "issued_on": "2026-02-02", "lines": [{"description": "x", "quantity": 1, "unit_price": "1.005"}]});
    check(
        &app,
        &invoices,
        json,
        &bad_line.to_string(),
        400,
        "`lines[0].unit_price`",
    )
    .await;

    check(
        &app,
        "/v1/agreements/15024000827/payments",
        json,
        &payment.to_string(),
        400,
        "12 digits",
    )
    .await;
    check(
        &app,
        "/v1/agreements/990101300122/payments",
        json,
        &payment.to_string(),
        404,
        "no agreement",
    )
    .await;
    let huge = format!("{{\"reference\": \"{}\"}}", "x".repeat(300 * 1024));
    check(&app, &payments, json, &huge, 413, "larger than").await;

    let response = app.get("/v1/nowhere").await;
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let response = app
        .client
        .delete(app.url("/v1/agreements"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    app.finish().await;
}

async fn refused_commands_name_their_clause_and_record_nothing(store: Store) {
    let app = spawn_app(store).await;
    let json = Some("application/json");
    let id = OPERATOR_BIN;
    let usd_resident = with(registration(id), "currency", json!("USD"));
    let problem = check(&app, "/v1/agreements", json, &usd_resident, 422, "resident").await;
    assert_eq!(problem["clause"], "5.1");

    app.post("/v1/agreements", &registration(id)).await;
    let problem = check(
        &app,
        "/v1/agreements",
        json,
        &registration(id).to_string(),
        409,
        "already registered",
    )
    .await;
    assert_eq!(problem["clause"], "3.2");
    let invoice = crate::helpers::invoice("2026-02-02", "100.00").to_string();
    let problem = check(
        &app,
        &format!("/v1/agreements/{id}/invoices"),
        json,
        &invoice,
        409,
        "not signed",
    )
    .await;
    assert_eq!(problem["clause"], "1.5");

    app.post(
        &format!("/v1/agreements/{id}/signature"),
        &json!({"signed_on": "2026-01-06"}),
    )
    .await;
    let foreign = json!({"reference": "R", "received_on": "2026-02-05", "amount": "10.00", "currency": "USD"}).to_string();
    let problem = check(
        &app,
        &format!("/v1/agreements/{id}/payments"),
        json,
        &foreign,
        422,
        "KZT",
    )
    .await;
    assert_eq!(problem["clause"], "5.1");
    let early =
        json!({"reference": "R", "received_on": "2025-12-31", "amount": "10.00"}).to_string();
    check(
        &app,
        &format!("/v1/agreements/{id}/payments"),
        json,
        &early,
        422,
        "before the participant's registration",
    )
    .await;
    let future =
        json!({"reference": "R", "received_on": "2099-01-01", "amount": "10.00"}).to_string();
    check(
        &app,
        &format!("/v1/agreements/{id}/payments"),
        json,
        &future,
        422,
        "in the future",
    )
    .await;
    let unknown = json!({"reference": "R", "received_on": "2026-02-05", "amount": "10.00", "invoice_number": "77"}).to_string();
    check(
        &app,
        &format!("/v1/agreements/{id}/payments"),
        json,
        &unknown,
        404,
        "invoice 77",
    )
    .await;
    let early_end = json!({"ground": "participant_notice", "notice_received_on": "2026-02-20", "effective_on": "2026-03-01"}).to_string();
    let problem = check(
        &app,
        &format!("/v1/agreements/{id}/termination"),
        json,
        &early_end,
        422,
        "15 calendar days",
    )
    .await;
    assert_eq!(problem["clause"], "10.2.2");
    let force_majeure = json!({"ground": "force_majeure", "notice_received_on": "2026-02-20", "effective_on": "2026-04-01"}).to_string();
    let problem = check(
        &app,
        &format!("/v1/agreements/{id}/termination"),
        json,
        &force_majeure,
        422,
        "90",
    )
    .await;
    assert_eq!(problem["clause"], "8.4");
    app.finish().await;
}
