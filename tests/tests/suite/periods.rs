//! Closing a month (issue 15, BILLING.md 5.4) over HTTP, on both stores: the seal and
//! its totals; a closed month whose statement never changes while a bank payment received
//! in it is posted in the next one (counting from its true date for penalties, §5.5);
//! documents dated in it refused 409 `period-closed`, recording nothing; the order of
//! closes; `verify` rechecking every seal; and a close racing a document: exactly one
//! order wins and the seal counts what was recorded before it.

use serde_json::{json, Value};

use crate::helpers::{invoice, spawn_app, Store, TestApp, OPERATOR_BIN};

crate::on_both_stores!(
    a_closed_month_never_changes_while_a_late_payment_appears_in_the_next,
    months_close_in_order_once_over_and_verify_rechecks_their_seals,
    a_close_racing_a_document_is_one_order_or_the_other,
);

const ID: &str = OPERATOR_BIN;

async fn close(app: &TestApp, period: &str) -> reqwest::Response {
    app.post(&format!("/v1/periods/{period}/close"), &json!({}))
        .await
}

async fn problem_type(response: reqwest::Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["type"].as_str().unwrap_or_default().to_owned()
}

/// Invoice 1 of 11,600.00 (VAT 1,600.00) issued 2026-02-02, due 2026-02-09.
async fn invoiced_in_february(app: &TestApp) {
    app.signed_agreement(ID).await;
    let response = app
        .post(
            &format!("/v1/agreements/{ID}/invoices"),
            &invoice("2026-02-02", "10000.00"),
        )
        .await;
    assert_eq!(response.status(), 201);
}

fn totals_of(seal: &Value) -> Value {
    seal["totals"][0].clone()
}

async fn a_closed_month_never_changes_while_a_late_payment_appears_in_the_next(store: Store) {
    let app = spawn_app(store).await;
    invoiced_in_february(&app).await;
    let response = close(&app, "2026-02").await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let seal: Value = response.json().await.unwrap();
    assert_eq!(seal["period"], "2026-02");
    assert_eq!(seal["closed_through"], "2026-02-28");
    assert_eq!(seal["clause"], "BILLING-5.4");
    assert_eq!(seal["digest"].as_str().unwrap().len(), 64);
    assert!(seal["closed_at"].is_string());
    let totals = totals_of(&seal);
    assert_eq!(totals["currency"], "KZT");
    assert_eq!(totals["invoiced"], "11600.00");
    assert_eq!(totals["vat"], "1600.00");
    assert_eq!(totals["paid"], "0.00");

    let february = format!("/v1/agreements/{ID}/statement?from=2026-02-01&to=2026-02-28");
    let journal = format!("/v1/agreements/{ID}/journal?as_of=2026-02-28");
    let statement_before = app.get_json(&february).await;
    let journal_before = app.get_json(&journal).await;

    // Documents dated in February are refused, naming the rule; nothing is recorded.
    let events_before = app.event_count().await;
    let response = app
        .post(
            &format!("/v1/agreements/{ID}/invoices"),
            &invoice("2026-02-20", "500.00"),
        )
        .await;
    assert_eq!(response.status(), 409);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["type"], "urn:edoc-ledger:problem:period-closed",
        "{body}"
    );
    assert_eq!(body["clause"], "BILLING-5.4", "{body}");
    let response = app
        .post(
            &format!("/v1/agreements/{ID}/charges"),
            &json!({"invoice_number": "1", "kind": "penalty", "on": "2026-02-25"}),
        )
        .await;
    assert_eq!(response.status(), 409);
    assert_eq!(
        problem_type(response).await,
        "urn:edoc-ledger:problem:period-closed"
    );
    let response = app
        .post("/v1/sweeps", &json!({"as_of": "2026-02-27"}))
        .await;
    assert_eq!(response.status(), 409);
    assert_eq!(
        problem_type(response).await,
        "urn:edoc-ledger:problem:period-closed"
    );
    assert_eq!(app.event_count().await, events_before);

    // The bank statement for 9 February arrives: recorded with its true date, posted on
    // the first open day.
    let response = app
        .post(
            &format!("/v1/agreements/{ID}/payments"),
            &json!({"reference": "HALYK-0209", "received_on": "2026-02-09",
                    "amount": "11600.00", "invoice_number": "1"}),
        )
        .await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let events = app.events(ID).await;
    let payment = events
        .iter()
        .find(|e| e["type"] == "PaymentReceived")
        .unwrap();
    assert_eq!(payment["payload"]["received_on"], "2026-02-09");
    assert_eq!(payment["payload"]["posted_on"], "2026-03-01");

    // The closed month's statement and journal never change.
    assert_eq!(app.get_json(&february).await, statement_before);
    assert_eq!(app.get_json(&journal).await, journal_before);
    // The open month's statement shows the payment with its true date.
    let march = app
        .get_json(&format!(
            "/v1/agreements/{ID}/statement?from=2026-03-01&to=2026-03-31"
        ))
        .await;
    assert_eq!(march["opening"], "11600.00", "{march}");
    let line = &march["lines"][0];
    assert_eq!(line["date"], "2026-03-01", "{march}");
    assert_eq!(
        line["document"], "payment HALYK-0209 received on 2026-02-09",
        "{march}"
    );
    assert_eq!(line["credit"], "11600.00");
    assert_eq!(march["closing"], "0.00");
    // The true date decides penalties (§5.5): paid on its due date, nothing accrued.
    let invoices = app
        .get_json(&format!("/v1/agreements/{ID}/invoices?as_of=2026-12-01"))
        .await;
    assert_eq!(invoices[0]["paid_in_full_on"], "2026-02-09", "{invoices}");
    assert_eq!(invoices[0]["penalty_accrued"], "0.00", "{invoices}");
    assert_eq!(invoices[0]["fine"], "0.00", "{invoices}");

    // The months as billing staff see them.
    let periods = app.get_json("/v1/periods").await;
    let months = periods["months"].as_array().unwrap();
    assert_eq!(months[0]["period"], "2026-02", "{periods}");
    assert_eq!(months[0]["status"], "closed");
    assert_eq!(months[0]["seal"]["digest"], seal["digest"]);
    assert_eq!(months[1]["period"], "2026-03");
    assert_eq!(months[1]["status"], "open");
    assert_eq!(periods["open_from"], "2026-03-01");
    // As known before the close: nothing closed.
    let before_close = app
        .get_json("/v1/periods?known_at=2026-01-31T00:00:00Z")
        .await;
    assert!(before_close["months"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["status"] == "open"));
    app.finish().await;
}

async fn months_close_in_order_once_over_and_verify_rechecks_their_seals(store: Store) {
    let app = spawn_app(store).await;
    invoiced_in_february(&app).await;
    let response = app
        .post(
            &format!("/v1/agreements/{ID}/invoices"),
            &invoice("2026-04-01", "1000.00"),
        )
        .await;
    assert_eq!(response.status(), 201);
    let events_before = app.event_count().await;

    // Not a month; not over; an earlier month with documents still open.
    let response = close(&app, "2026-13").await;
    assert_eq!(response.status(), 400);
    let today = time::OffsetDateTime::now_utc()
        .to_offset(time::UtcOffset::from_hms(5, 0, 0).unwrap())
        .date();
    let this_month = format!("{:04}-{:02}", today.year(), u8::from(today.month()));
    let response = close(&app, &this_month).await;
    assert_eq!(response.status(), 409);
    assert_eq!(
        problem_type(response).await,
        "urn:edoc-ledger:problem:period-not-over"
    );
    let response = close(&app, "2026-04").await;
    assert_eq!(response.status(), 409);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["type"], "urn:edoc-ledger:problem:earlier-period-open",
        "{body}"
    );
    assert!(
        body["detail"].as_str().unwrap().contains("2026-02"),
        "{body}"
    );
    assert_eq!(app.event_count().await, events_before);

    // February, then April (March has no documents: sealed with April).
    assert_eq!(close(&app, "2026-02").await.status(), 200);
    let response = close(&app, "2026-02").await;
    assert_eq!(response.status(), 409);
    assert_eq!(
        problem_type(response).await,
        "urn:edoc-ledger:problem:period-already-closed"
    );
    let response = close(&app, "2026-04").await;
    assert_eq!(response.status(), 200);
    let april: Value = response.json().await.unwrap();
    assert_eq!(totals_of(&april)["invoiced"], "1160.00");
    let periods = app.get_json("/v1/periods").await;
    let status: Vec<(String, String)> = periods["months"]
        .as_array()
        .unwrap()
        .iter()
        .take(4)
        .map(|m| {
            (
                m["period"].as_str().unwrap().to_owned(),
                m["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        status,
        [
            ("2026-02".to_owned(), "closed".to_owned()),
            ("2026-03".to_owned(), "closed".to_owned()),
            ("2026-04".to_owned(), "closed".to_owned()),
            ("2026-05".to_owned(), "open".to_owned()),
        ]
    );
    // A retry with the same Idempotency-Key answers the first seal; nothing more.
    let events = app.event_count().await;
    let keyed = || async {
        app.client
            .post(app.url("/v1/periods/2026-05/close"))
            .header("Idempotency-Key", "close-2026-05")
            .json(&json!({"note": "May reconciled with the bank"}))
            .send()
            .await
            .unwrap()
    };
    let first = keyed().await;
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    let again = keyed().await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    assert_eq!(app.event_count().await, events + 1);

    // verify recomputes every seal from the events.
    let report = app.get_json("/v1/audit/verify").await;
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["periods_checked"], 3, "{report}");
    assert_eq!(report["periods_differing"], json!([]), "{report}");
    // A seal whose totals were altered in the store is found (and breaks its chain).
    tamper_with_the_first_seal(&app).await;
    let report = app.get_json("/v1/audit/verify").await;
    assert_eq!(report["ok"], false, "{report}");
    assert_eq!(
        report["periods_differing"].as_array().unwrap().len(),
        1,
        "{report}"
    );
    app.finish().await;
}

/// Changes the first seal's invoiced total in the events table, as someone with access
/// to the database could.
async fn tamper_with_the_first_seal(app: &TestApp) {
    match app.ledger.repository().location().clone() {
        api::store::StoreLocation::Postgres(url) => {
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            let altered = sqlx::query(
                "UPDATE events SET payload = jsonb_set(payload, '{totals,0,invoiced,amount}', '\"1.00\"')
                 WHERE aggregate_type = 'LedgerPeriods' AND sequence = 1",
            )
            .execute(&pool)
            .await
            .unwrap();
            assert_eq!(altered.rows_affected(), 1);
            pool.close().await;
        }
        api::store::StoreLocation::Sqlite(path) => {
            let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", path.display()))
                .await
                .unwrap();
            let altered = sqlx::query(
                "UPDATE events SET payload = json_set(payload, '$.totals[0].invoiced.amount', '1.00')
                 WHERE aggregate_type = 'LedgerPeriods' AND sequence = 1",
            )
            .execute(&pool)
            .await
            .unwrap();
            assert_eq!(altered.rows_affected(), 1);
            pool.close().await;
        }
    }
}

async fn a_close_racing_a_document_is_one_order_or_the_other(store: Store) {
    let app = spawn_app(store).await;
    invoiced_in_february(&app).await;
    let other = &crate::helpers::participant_ids(2)[1];
    let response = app
        .post("/v1/agreements", &crate::helpers::registration(other))
        .await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let response = app
        .post(
            &format!("/v1/agreements/{other}/signature"),
            &json!({"signed_on": "2026-01-06"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let mut outcomes = Vec::new();
    // The close starts at once or a little after the invoice, so that either may win.
    for (month, last_day, close_after_ms) in [
        ("2026-02", "2026-02-27", 0),
        ("2026-03", "2026-03-30", 3),
        ("2026-04", "2026-04-29", 0),
        ("2026-05", "2026-05-28", 10),
    ] {
        if month != "2026-02" {
            // Every month has a document of its own before the race.
            let response = app
                .post(
                    &format!("/v1/agreements/{ID}/invoices"),
                    &invoice(&format!("{month}-02"), "100.00"),
                )
                .await;
            assert_eq!(response.status(), 201);
        }
        let path = format!("/v1/agreements/{other}/invoices");
        let body = invoice(last_day, "1000.00");
        let delayed_close = async {
            tokio::time::sleep(std::time::Duration::from_millis(close_after_ms)).await;
            close(&app, month).await
        };
        let (closed, invoiced) = tokio::join!(delayed_close, app.post(&path, &body));
        assert_eq!(closed.status(), 200);
        let seal: Value = closed.json().await.unwrap();
        let invoiced_status = invoiced.status().as_u16();
        let base = if month == "2026-02" { 11600 } else { 116 };
        match invoiced_status {
            // Recorded first: the seal counts it.
            201 => assert_eq!(
                totals_of(&seal)["invoiced"],
                format!("{}.00", base + 1160),
                "{seal}"
            ),
            // The close first: refused, not counted, nothing recorded.
            409 => {
                assert_eq!(
                    problem_type(invoiced).await,
                    "urn:edoc-ledger:problem:period-closed"
                );
                assert_eq!(totals_of(&seal)["invoiced"], format!("{base}.00"), "{seal}");
            }
            other => panic!("the invoice answered {other}"),
        }
        outcomes.push(invoiced_status);
    }
    // Whatever the orders, every seal still adds up from the events.
    let report = app.get_json("/v1/audit/verify").await;
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["periods_checked"], 4, "{report}");
    println!("invoice answers racing the closes: {outcomes:?}");
    app.finish().await;
}
