//! The rules changed on 2026-12-01 (docs/domain.md), end to end over HTTP: the
//! operator's suspension for overdue (§5.9), settlement on termination (§10.3) and
//! force majeure (§8.1).

use serde_json::json;

use api::store::StoreLocation;

use crate::helpers::{invoice, registration, spawn_app, Store, TestApp, OPERATOR_BIN};
use crate::on_both_stores;

on_both_stores!(
    the_operators_suspension_for_overdue_stays_while_anything_is_overdue,
    termination_settlement_and_force_majeure_over_http,
    stored_projections_of_an_older_format_are_rebuilt_at_start,
    vat_is_the_rate_of_the_turnover_date,
);

async fn sweep(app: &crate::helpers::TestApp, as_of: &str) -> serde_json::Value {
    let response = app
        .post(
            "/v1/sweeps",
            &json!({"as_of": as_of, "charge_fines": false}),
        )
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn the_operators_suspension_for_overdue_stays_while_anything_is_overdue(store: Store) {
    let app = spawn_app(store).await;
    let id = OPERATOR_BIN;
    app.signed_agreement(id).await;
    // Invoice 1 of 11600.00, due 2026-02-09; suspended by hand on the first day late.
    let issued = app
        .post(
            &format!("/v1/agreements/{id}/invoices"),
            &invoice("2026-02-02", "10000.00"),
        )
        .await;
    assert_eq!(issued.status(), 201);
    let suspended = app
        .post(
            &format!("/v1/agreements/{id}/suspension"),
            &json!({"on": "2026-02-10", "reason": "overdue"}),
        )
        .await;
    assert_eq!(suspended.status(), 200);
    let events = app.events(id).await;
    let last = events.last().unwrap();
    assert_eq!(last["type"], "Suspended");
    assert_eq!(last["payload"]["imposed_by"], "operator", "{last}");
    // Day 11: nothing beyond 15 days, but the invoice is overdue: the sweep leaves it.
    let swept = sweep(&app, "2026-02-20").await;
    assert_eq!(swept["reinstated"], json!([]), "{swept}");
    // A partial payment does not lift it; paying the rest does (nothing overdue).
    for (reference, amount, lifted) in [("P-1", "5000.00", false), ("P-2", "6600.00", true)] {
        let paid = app
            .post(
                &format!("/v1/agreements/{id}/payments"),
                &json!({"reference": reference, "received_on": "2026-02-21", "amount": amount}),
            )
            .await;
        assert_eq!(paid.status(), 201);
        let types = app.event_types(id).await;
        assert_eq!(types.last().unwrap() == "Reinstated", lifted, "{types:?}");
    }
    let agreement = app.get_json(&format!("/v1/agreements/{id}")).await;
    assert_eq!(agreement["status"], "active");
    app.finish().await;
}

async fn termination_settlement_and_force_majeure_over_http(store: Store) {
    let app = spawn_app(store).await;
    let id = OPERATOR_BIN;
    app.signed_agreement(id).await;
    let issued = app
        .post(
            &format!("/v1/agreements/{id}/invoices"),
            &invoice("2026-02-02", "10000.00"),
        )
        .await;
    assert_eq!(issued.status(), 201);
    let notice = app
        .post(
            &format!("/v1/agreements/{id}/termination"),
            &json!({"ground": "mutual", "notice_received_on": "2026-02-10", "effective_on": "2026-02-20"}),
        )
        .await;
    assert_eq!(notice.status(), 200);
    // Force majeure 2026-02-11 to 02-15 (5 days): no penalty accrues on those days.
    let path = format!("/v1/agreements/{id}/force-majeure");
    let declared = app
        .post(
            &path,
            &json!({"started_on": "2026-02-11", "notice_received_on": "2026-02-12", "description": "flood"}),
        )
        .await;
    assert_eq!(declared.status(), 201);
    let ended = app
        .post(&format!("{path}/end"), &json!({"ended_on": "2026-02-15"}))
        .await;
    assert_eq!(ended.status(), 200);
    // No invoice for a day after the effective date (§10.3).
    let count = app.event_count().await;
    let late = app
        .post(
            &format!("/v1/agreements/{id}/invoices"),
            &invoice("2026-02-21", "100.00"),
        )
        .await;
    assert_eq!(late.status(), 422);
    let problem: serde_json::Value = late.json().await.unwrap();
    assert_eq!(problem["clause"], "10.3", "{problem}");
    assert_eq!(app.event_count().await, count);
    // 02-10 to 02-20 is 11 days of delay, 5 of them force majeure: 6 x 11.60 = 69.60.
    let penalties = app
        .get_json(&format!("/v1/agreements/{id}/penalties?as_of=2026-02-20"))
        .await;
    assert_eq!(penalties[0]["days"], 6, "{penalties}");
    assert_eq!(penalties[0]["force_majeure_days"], 5, "{penalties}");
    assert_eq!(penalties[0]["amount"], "69.60", "{penalties}");
    assert!(
        penalties[0]["explanation"]
            .as_str()
            .unwrap()
            .contains("§8.1"),
        "{penalties}"
    );
    // The effective date's sweep charges what accrued (§10.3), and does not terminate.
    let swept = sweep(&app, "2026-02-20").await;
    assert_eq!(swept["settlement_charged"], json!([id]), "{swept}");
    assert_eq!(swept["terminated"], json!([]), "{swept}");
    let events = app.events(id).await;
    let charges: Vec<_> = events
        .iter()
        .filter(|e| e["type"] == "PenaltyCharged" || e["type"] == "FineCharged")
        .collect();
    assert_eq!(charges.len(), 2, "{events:?}");
    for charge in &charges {
        assert_eq!(charge["clause"], "10.3", "{charge}");
        assert_eq!(charge["payload"]["settlement"], true, "{charge}");
    }
    // Everything paid the same day: the next sweep terminates.
    let paid = app
        .post(
            &format!("/v1/agreements/{id}/payments"),
            &json!({"reference": "P-1", "received_on": "2026-02-20", "amount": "20319.60"}),
        )
        .await;
    assert_eq!(paid.status(), 201);
    let swept = sweep(&app, "2026-02-20").await;
    assert_eq!(swept["terminated"], json!([id]), "{swept}");
    app.finish().await;
}

/// Runs one SQL statement on the app's database from a connection of its own.
async fn execute_sql(app: &TestApp, postgres: &str, sqlite: &str) -> u64 {
    match app.ledger.repository().location().clone() {
        StoreLocation::Postgres(url) => {
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            let done = sqlx::query(postgres).execute(&pool).await.unwrap();
            pool.close().await;
            done.rows_affected()
        }
        StoreLocation::Sqlite(path) => {
            let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", path.display()))
                .await
                .unwrap();
            let done = sqlx::query(sqlite).execute(&pool).await.unwrap();
            pool.close().await;
            done.rows_affected()
        }
    }
}

/// The rules of 2026-12-01 changed the stored projection's format (3): a row written by
/// an older release is never misread, and the next start rebuilds it from the events.
async fn stored_projections_of_an_older_format_are_rebuilt_at_start(store: Store) {
    let app = spawn_app(store).await;
    app.signed_agreement(OPERATOR_BIN).await;
    let balance = format!("/v1/agreements/{OPERATOR_BIN}/balance?as_of=2026-02-01");
    assert_eq!(app.get(&balance).await.status(), 200);
    // The same row as an older release would have written it: another format byte.
    let mut stored = app
        .ledger
        .repository()
        .ledger(OPERATOR_BIN)
        .await
        .unwrap()
        .expect("a stored ledger")
        .ledger;
    stored[0] = projections::AgreementLedger::STORED_FORMAT - 1;
    let hex: String = stored.iter().map(|b| format!("{b:02x}")).collect();
    let altered = execute_sql(
        &app,
        &format!("UPDATE agreement_ledgers SET ledger = decode('{hex}', 'hex')"),
        &format!("UPDATE agreement_ledgers SET ledger = X'{hex}'"),
    )
    .await;
    assert_eq!(altered, 1);
    assert_eq!(app.get(&balance).await.status(), 500, "never misread");
    let app = app.restart().await;
    let response = app.get(&balance).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    app.finish().await;
}

/// BILLING.md 6 (changed on 2026-12-01, item 6): VAT is the rate in force on the turnover
/// date, the service's, not the issue date's: a December 2025 invoice for January 2026
/// carries 16%, one for December 12%; the answer says which date it was.
async fn vat_is_the_rate_of_the_turnover_date(store: Store) {
    let app = spawn_app(store).await;
    let id = OPERATOR_BIN;
    let mut registered = registration(id);
    registered["registered_on"] = json!("2025-11-03");
    let response = app.post("/v1/agreements", &registered).await;
    assert_eq!(response.status(), 201);
    let response = app
        .post(
            &format!("/v1/agreements/{id}/signature"),
            &json!({"signed_on": "2025-11-03"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let issue = |period: Option<(&str, &str)>| {
        let mut body = invoice("2025-12-25", "1000.00");
        if let Some((from, to)) = period {
            body["period"] = json!({"from": from, "to": to});
        }
        body
    };

    let january = app
        .post(
            &format!("/v1/agreements/{id}/invoices"),
            &issue(Some(("2026-01-01", "2026-01-31"))),
        )
        .await;
    assert_eq!(january.status(), 201);
    let january: serde_json::Value = january.json().await.unwrap();
    assert_eq!(january["turnover_date"], "2026-01-31", "{january}");
    assert_eq!(january["vat_rate"], "0.16");
    assert_eq!(january["vat"], "160.00");
    assert_eq!(january["total"], "1160.00");

    let december = app
        .post(
            &format!("/v1/agreements/{id}/invoices"),
            &issue(Some(("2025-12-01", "2025-12-31"))),
        )
        .await;
    assert_eq!(december.status(), 201);
    let december: serde_json::Value = december.json().await.unwrap();
    assert_eq!(december["turnover_date"], "2025-12-31");
    assert_eq!(december["vat_rate"], "0.12");
    assert_eq!(december["total"], "1120.00");

    let without_period = app
        .post(&format!("/v1/agreements/{id}/invoices"), &issue(None))
        .await;
    let without_period: serde_json::Value = without_period.json().await.unwrap();
    assert_eq!(without_period["turnover_date"], "2025-12-25");
    assert_eq!(without_period["vat_rate"], "0.12");
    app.finish().await;
}
