//! `known_at` on every query (issue 15, BILLING.md 5.1): the answer as the ledger gave it
//! at a past moment, from the events recorded up to then, beside `as_of` (the effective
//! date). Answers captured during the test are asked again later with `known_at` = the
//! moment they were given, after more facts arrived: they must be the same.

use serde_json::{json, Value};

use crate::helpers::{invoice, spawn_app, Store, OPERATOR_BIN};

crate::on_both_stores!(
    answers_known_at_a_moment_are_the_answers_given_then,
    known_at_is_checked_and_before_registration_is_not_found,
    reference_versions_as_published_by_a_moment,
);

/// Every query of one agreement, as of 2026-03-31, with `extra` appended.
async fn answers(app: &crate::helpers::TestApp, id: &str, extra: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for path in [
        format!("/v1/agreements/{id}?as_of=2026-03-31{extra}"),
        format!("/v1/agreements/{id}/balance?as_of=2026-03-31{extra}"),
        format!("/v1/agreements/{id}/balance?as_of=2026-03-31&explain=true{extra}"),
        format!("/v1/agreements/{id}/invoices?as_of=2026-03-31{extra}"),
        format!("/v1/agreements/{id}/penalties?as_of=2026-03-31{extra}"),
        format!("/v1/agreements/{id}/statement?as_of=2026-03-31&from=2026-01-01{extra}"),
        format!("/v1/agreements/{id}/journal?as_of=2026-03-31{extra}"),
        format!(
            "/v1/agreements/{id}/events?{}",
            extra.trim_start_matches('&')
        ),
        format!("/v1/agreements?as_of=2026-03-31{extra}"),
        format!("/v1/reports/aging?as_of=2026-03-31{extra}"),
        format!("/v1/reports/dunning?as_of=2026-03-31{extra}"),
    ] {
        let response = app.get(&path).await;
        assert_eq!(response.status(), 200, "{path}");
        out.push(response.json().await.unwrap());
    }
    out
}

async fn answers_known_at_a_moment_are_the_answers_given_then(store: Store) {
    let app = spawn_app(store).await;
    let id = OPERATOR_BIN;
    app.signed_agreement(id).await;
    let response = app
        .post(
            &format!("/v1/agreements/{id}/invoices"),
            &invoice("2026-02-02", "10000.00"),
        )
        .await;
    assert_eq!(response.status(), 201);
    let payment =
        json!({"reference": "KASPI-K1", "received_on": "2026-02-20", "amount": "5000.00"});
    let response = app
        .post(&format!("/v1/agreements/{id}/payments"), &payment)
        .await;
    assert_eq!(response.status(), 201);

    // What the ledger answers now, and the moment it answered.
    let before = answers(&app, id, "").await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let moment = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;

    // Later facts: the rest paid, a second invoice.
    let payment =
        json!({"reference": "KASPI-K2", "received_on": "2026-03-02", "amount": "6600.00"});
    let response = app
        .post(&format!("/v1/agreements/{id}/payments"), &payment)
        .await;
    assert_eq!(response.status(), 201);
    let response = app
        .post(
            &format!("/v1/agreements/{id}/invoices"),
            &invoice("2026-03-02", "2000.00"),
        )
        .await;
    assert_eq!(response.status(), 201);
    let now = answers(&app, id, "").await;
    assert_ne!(now[1], before[1], "the later facts change the balance");

    // Asked with known_at = that moment: exactly the answers given then.
    let known = answers(
        &app,
        id,
        &format!("&known_at={}", moment.replace('+', "%2B")),
    )
    .await;
    for (index, (known, before)) in known.iter().zip(&before).enumerate() {
        assert_eq!(known, before, "query {index} as known at {moment}");
    }
    // Known at now (or later): the answers of now.
    let later = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    let later = later
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let known_later = answers(&app, id, &format!("&known_at={later}")).await;
    for (index, (known, now)) in known_later.iter().zip(&now).enumerate() {
        assert_eq!(known, now, "query {index} as known an hour from now");
    }
    // A date is the end of that day in Kazakhstan: today's answers are the answers of now.
    let today = app.get_json("/v1/agreements?per_page=1").await["as_of"]
        .as_str()
        .unwrap()
        .to_owned();
    let balance = app
        .get_json(&format!(
            "/v1/agreements/{id}/balance?as_of=2026-03-31&known_at={today}"
        ))
        .await;
    assert_eq!(balance, now[1]);
    app.finish().await;
}

async fn known_at_is_checked_and_before_registration_is_not_found(store: Store) {
    let app = spawn_app(store).await;
    let id = OPERATOR_BIN;
    app.signed_agreement(id).await;
    for bad in ["yesterday", "2026-13-01", "2026-11-27T10:00:00"] {
        let response = app
            .get(&format!("/v1/agreements/{id}/balance?known_at={bad}"))
            .await;
        assert_eq!(response.status(), 400, "{bad}");
        let problem: Value = response.json().await.unwrap();
        assert!(
            problem["detail"].as_str().unwrap().contains("known_at"),
            "{problem}"
        );
    }
    // Before anything was recorded: no agreement was registered then.
    for path in [
        format!("/v1/agreements/{id}?known_at=2020-01-01"),
        format!("/v1/agreements/{id}/balance?known_at=2020-01-01T00:00:00Z"),
        format!("/v1/agreements/{id}/events?known_at=2020-01-01"),
    ] {
        let response = app.get(&path).await;
        assert_eq!(response.status(), 404, "{path}");
    }
    let page = app
        .get_json("/v1/agreements?as_of=2026-03-31&known_at=2020-01-01")
        .await;
    assert_eq!(page["total"], 0);
    assert_eq!(page["items"], json!([]));
    app.finish().await;
}

async fn reference_versions_as_published_by_a_moment(store: Store) {
    let app = spawn_app(store).await;
    let before = app.get_json("/v1/reference/mrp").await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let moment = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let published = app
        .client
        .put(app.url("/v1/reference/mrp/2027"))
        .json(&json!({"mrp": "4500", "source": "Law on the republican budget 2027-2029"}))
        .send()
        .await
        .unwrap();
    assert_eq!(published.status(), 200);
    let now = app.get_json("/v1/reference/mrp").await;
    assert_ne!(now, before, "the 2027 MRP is in force now");
    let known = app
        .get_json(&format!("/v1/reference/mrp?known_at={moment}"))
        .await;
    assert_eq!(known, before, "as published by {moment}");
    let response = app.get("/v1/reference/mrp?known_at=soon").await;
    assert_eq!(response.status(), 400);
    app.finish().await;
}
