//! Reference data the operator publishes (issue 13, BILLING.md 1): the 2027 calendar
//! shipped provisional, a fine that waits for the 2027 MRP while the sweep goes on,
//! versions published over HTTP that change new figures and not recorded ones, USD
//! rates by hand and from the National Bank's file, and bad input that records nothing.
//! The servers run on a test clock (`spawn_app_on`), as the binary never does.

use serde_json::{json, Value};
use time::macros::date;

use crate::helpers::{invoice, spawn_app_on, Store, TestApp, OPERATOR_BIN};

async fn issue(app: &TestApp, participant: &str, body: &Value) -> Value {
    let response = app
        .post(&format!("/v1/agreements/{participant}/invoices"), body)
        .await;
    let status = response.status();
    let answer: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{answer}");
    answer
}

fn credit(issued_on: &str, unit_price: &str) -> Value {
    json!({
        "kind": "credit", "issued_on": issued_on,
        "lines": [{"description": "E-DOC services", "quantity": 1, "unit_price": unit_price}]
    })
}

/// The acceptance's first point: with the clock at 2026-12-30 a subscription invoice of
/// 2026-12-28 is due 2027-01-06 and a credit invoice of 2026-12-29 is due 2027-01-05, by
/// the provisional 2027 calendar, whose version the due rule names.
async fn year_end_invoices_fall_due_by_the_provisional_2027_calendar(store: Store) {
    let app = spawn_app_on(store, date!(2026 - 12 - 30)).await;
    app.signed_agreement(OPERATOR_BIN).await;
    let subscription = issue(&app, OPERATOR_BIN, &invoice("2026-12-28", "1000.00")).await;
    assert_eq!(subscription["due_on"], "2027-01-06", "{subscription}");
    assert_eq!(
        subscription["due_rule"]["calendar_version"], "kz-calendar-2026-1+kz-calendar-2027-1",
        "{subscription}"
    );
    let credit = issue(&app, OPERATOR_BIN, &credit("2026-12-29", "1000.00")).await;
    assert_eq!(credit["due_on"], "2027-01-05", "{credit}");

    let calendar = app.get_json("/v1/reference/calendar").await;
    let y2027 = calendar["in_force"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["range"] == "2027")
        .expect("a 2027 calendar is in force");
    assert_eq!(y2027["id"], "kz-calendar-2027-1");
    assert_eq!(y2027["provisional"], true);
    assert_eq!(y2027["actor"], "edoc-ledger (shipped tables)");
    let mrp = app.get_json("/v1/reference/mrp").await;
    assert!(
        mrp["in_force"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["range"] != "2027"),
        "no 2027 MRP is shipped: {mrp}"
    );
    app.finish().await;
}

/// A fine for a delay starting in 2027 is pending until the 2027 MRP is published (the
/// balance, invoices and penalties answer 200 and show it as pending, not as 0 nor at
/// the 2026 MRP); the sweep suspends meanwhile; once published the fine is priced with
/// it and the sweep charges it.
async fn a_2027_fine_waits_for_the_2027_mrp_and_the_sweep_goes_on(store: Store) {
    let app = spawn_app_on(store, date!(2027 - 01 - 25)).await;
    app.signed_agreement(OPERATOR_BIN).await;
    let issued = issue(&app, OPERATOR_BIN, &invoice("2026-12-28", "1000.00")).await;
    assert_eq!(issued["due_on"], "2027-01-06");
    let number = issued["number"].clone();
    let path = |tail: &str| format!("/v1/agreements/{OPERATOR_BIN}/{tail}");

    // 2027-01-23 is the 17th day after the due date: suspended, the fine pending.
    let swept: Value = app
        .post("/v1/sweeps", &json!({"as_of": "2027-01-23"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(swept["suspended"], json!([OPERATOR_BIN]), "{swept}");
    let types = app.event_types(OPERATOR_BIN).await;
    assert!(!types.contains(&"FineCharged".to_owned()), "{types:?}");

    let balance = app.get_json(&path("balance?as_of=2027-01-23")).await;
    assert_eq!(balance["fines_accrued"], "0.00", "{balance}");
    let pending = &balance["fines_pending"][0];
    assert_eq!(pending["invoice_number"], number, "{balance}");
    assert_eq!(pending["table"], "mrp");
    assert_eq!(pending["range"], "2027");
    assert_eq!(pending["first_day_of_delay"], "2027-01-07");
    assert!(
        pending["reason"].as_str().unwrap().contains("2027"),
        "{pending}"
    );
    // The penalty does not wait: 1160.00 x 0.001 x 17 days = 19.72.
    assert_eq!(balance["penalties_accrued"], "19.72", "{balance}");
    let invoices = app.get_json(&path("invoices?as_of=2027-01-23")).await;
    assert_eq!(invoices[0]["fine"], Value::Null, "{invoices}");
    assert_eq!(invoices[0]["fine_pending"]["range"], "2027");
    let penalties = app.get_json(&path("penalties?as_of=2027-01-23")).await;
    assert_eq!(penalties[0]["fine"], Value::Null, "{penalties}");
    assert!(
        penalties[0]["explanation"]
            .as_str()
            .unwrap()
            .contains("pending"),
        "{penalties}"
    );
    // The operator charging it by hand is told what is missing (422, nothing recorded).
    let before = app.event_count().await;
    let charge = app
        .post(
            &path("charges"),
            &json!({"invoice_number": number, "kind": "fine", "on": "2027-01-23"}),
        )
        .await;
    assert_eq!(charge.status(), 422);
    let problem: Value = charge.json().await.unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("MRP"),
        "{problem}"
    );
    assert_eq!(app.event_count().await, before);

    // The budget law is published: the fine is priced with the 2027 MRP.
    let published = app
        .put(
            "/v1/reference/mrp/2027",
            &json!({"mrp": "4500", "source": "Law on the republican budget 2027-2029"}),
        )
        .await;
    assert_eq!(published.status(), 200);
    let published: Value = published.json().await.unwrap();
    assert_eq!(published["version"], "kz-mrp-2027-1", "{published}");
    assert_eq!(published["recorded"], true);
    let again: Value = app
        .put(
            "/v1/reference/mrp/2027",
            &json!({"mrp": "4500.00", "source": "the same again"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["recorded"], false, "{again}");
    assert!(
        again["detail"].as_str().unwrap().contains("no change"),
        "{again}"
    );

    let penalties = app.get_json(&path("penalties?as_of=2027-01-23")).await;
    assert_eq!(penalties[0]["fine"], "9000.00", "{penalties}");
    assert_eq!(penalties[0]["mrp"], "4500");
    assert_eq!(penalties[0]["mrp_table_version"], "kz-mrp-2027-1");
    let swept: Value = app
        .post("/v1/sweeps", &json!({"as_of": "2027-01-24"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(swept["suspended"], json!([]), "{swept}");
    let balance = app.get_json(&path("balance?as_of=2027-01-24")).await;
    assert_eq!(
        balance["fines"], "9000.00",
        "the sweep charged it: {balance}"
    );
    assert_eq!(balance["fines_pending"], json!([]));

    // Recorded in the reference stream, which verifies.
    let verified = app.get_json("/v1/audit/verify").await;
    assert_eq!(verified["ok"], true, "{verified}");
    app.finish().await;
}

/// A published calendar version changes the due dates computed after it, never those
/// already recorded; the earlier version stays listed.
async fn a_published_calendar_changes_new_due_dates_not_old_ones(store: Store) {
    let app = spawn_app_on(store, date!(2026 - 12 - 30)).await;
    app.signed_agreement(OPERATOR_BIN).await;
    let first = issue(&app, OPERATOR_BIN, &invoice("2026-12-28", "1000.00")).await;
    assert_eq!(first["due_on"], "2027-01-06");

    // The decree on moved days off: 5 January 2027 becomes a day off too.
    let body = json!({
        "non_working": ["2027-01-01", "2027-01-04", "2027-01-05", "2027-01-07",
            "2027-03-08", "2027-03-15", "2027-03-22", "2027-03-23", "2027-03-24",
            "2027-05-03", "2027-05-07", "2027-05-10", "2027-07-06", "2027-10-25", "2027-12-16"],
        "working_weekends": ["2027-01-09"],
        "provisional": false,
        "source": "Government decree on moving days off in 2027"
    });
    let response = app.put("/v1/reference/calendar/2027", &body).await;
    let status = response.status();
    let published: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{published}");
    assert_eq!(published["version"], "kz-calendar-2027-2");

    // §5.4 from Tuesday 2026-12-29: Dec 30, 31, (Jan 1-5 off) Jan 6, (7 off) 8, 9 (a
    // working Saturday now).
    let second = issue(&app, OPERATOR_BIN, &invoice("2026-12-29", "1000.00")).await;
    assert_eq!(second["due_on"], "2027-01-09", "{second}");
    assert_eq!(
        second["due_rule"]["calendar_version"],
        "kz-calendar-2026-1+kz-calendar-2027-2"
    );
    let invoices = app
        .get_json(&format!("/v1/agreements/{OPERATOR_BIN}/invoices"))
        .await;
    assert_eq!(
        invoices[0]["due_on"], "2027-01-06",
        "recorded dates never move"
    );
    assert_eq!(invoices[1]["due_on"], "2027-01-09");

    let calendar = app.get_json("/v1/reference/calendar").await;
    let in_force: Vec<&Value> = calendar["in_force"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["range"] == "2027")
        .collect();
    assert_eq!(in_force.len(), 1);
    assert_eq!(in_force[0]["id"], "kz-calendar-2027-2");
    assert_eq!(in_force[0]["provisional"], false);
    assert_eq!(in_force[0]["actor"], "test-operator");
    assert_eq!(calendar["earlier"][0]["id"], "kz-calendar-2027-1");
    app.finish().await;
}

fn usd_registration(participant: &str) -> Value {
    json!({
        "participant_id": participant, "name": "Foreign Ltd", "kind": "legal_entity",
        "resident": false, "currency": "USD", "email": "ap@foreign.example",
        "registered_on": "2026-01-05"
    })
}

/// A published USD rate and an imported National Bank file price a USD invoice (§5.1).
async fn published_and_imported_rates_price_usd_invoices(store: Store) {
    let app = spawn_app_on(store, date!(2026 - 12 - 30)).await;
    let id = &crate::helpers::participant_ids(1)[0];
    assert_eq!(
        app.post("/v1/agreements", &usd_registration(id))
            .await
            .status(),
        201
    );
    assert_eq!(
        app.post(
            &format!("/v1/agreements/{id}/signature"),
            &json!({"signed_on": "2026-01-06"})
        )
        .await
        .status(),
        200
    );
    let refused = app
        .post(
            &format!("/v1/agreements/{id}/invoices"),
            &invoice("2026-12-28", "100.00"),
        )
        .await;
    assert_eq!(refused.status(), 422, "no rate for 2026-12-28 yet");

    let published = app
        .put(
            "/v1/reference/exchange-rates/2026-12-28",
            &json!({"USD": "512.34", "source": "National Bank, rate of 28.12.2026"}),
        )
        .await;
    assert_eq!(published.status(), 200);
    let priced = issue(&app, id, &invoice("2026-12-28", "100.00")).await;
    assert_eq!(priced["exchange_rate"], "512.34", "{priced}");

    let xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rates><generator>NBK</generator><title>Official exchange rates</title><date>30.12.2026</date><item><fullname>EURO</fullname><title>EUR</title><description>590.10</description><quant>1</quant></item><item><fullname>US DOLLAR</fullname><title>USD</title><description>51500</description><quant>100</quant><index>UP</index></item></rates>";
    let imported = app
        .post_raw(
            "/v1/reference/exchange-rates/import",
            Some("application/xml"),
            xml,
        )
        .await;
    let status = imported.status();
    let imported: Value = imported.json().await.unwrap();
    assert_eq!(status, 200, "{imported}");
    assert_eq!(imported["date"], "2026-12-30");
    assert_eq!(imported["loaded"][0]["kzt_per_unit"], "515");
    assert_eq!(imported["loaded"][0]["recorded"], true);
    let priced = issue(&app, id, &invoice("2026-12-30", "100.00")).await;
    assert_eq!(priced["exchange_rate"], "515", "{priced}");
    let again: Value = app
        .post_raw("/v1/reference/exchange-rates/import", Some("text/xml"), xml)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["loaded"][0]["recorded"], false, "{again}");
    let rates = app.get_json("/v1/reference/exchange-rates").await;
    let dates: Vec<&str> = rates["in_force"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["range"].as_str().unwrap())
        .collect();
    assert!(
        dates.contains(&"2026-12-28") && dates.contains(&"2026-12-30"),
        "{rates}"
    );
    app.finish().await;
}

/// Bad input gets problem+json naming the field, and records nothing.
async fn bad_reference_input_is_refused_and_records_nothing(store: Store) {
    let app = spawn_app_on(store, date!(2026 - 12 - 30)).await;
    let before = app.event_count().await;
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            "/v1/reference/tariffs/2027",
            json!({"source": "x"}),
            400,
            "table",
        ),
        (
            "/v1/reference/mrp/27",
            json!({"mrp": "4500", "source": "x"}),
            400,
            "range",
        ),
        (
            "/v1/reference/vat/2027-02-30",
            json!({"rate": "0.16", "source": "x"}),
            400,
            "range",
        ),
        (
            "/v1/reference/mrp/2027",
            json!({"mrp": "-1", "source": "x"}),
            422,
            "mrp",
        ),
        (
            "/v1/reference/mrp/2027",
            json!({"mrp": "abc", "source": "x"}),
            400,
            "mrp",
        ),
        (
            "/v1/reference/mrp/2027",
            json!({"mrp": "4500"}),
            400,
            "source",
        ),
        (
            "/v1/reference/mrp/2027",
            json!({"mrp": "4500", "source": "x", "year": 1}),
            400,
            "year",
        ),
        (
            "/v1/reference/calendar/2027",
            json!({"non_working": ["2026-12-31"], "source": "x"}),
            422,
            "non_working",
        ),
        (
            "/v1/reference/calendar/2027",
            json!({"non_working": ["2027-01-02"], "source": "x"}),
            422,
            "Saturday",
        ),
        (
            "/v1/reference/exchange-rates/2026-12-30",
            json!({"USD": "-5", "source": "x"}),
            422,
            "USD",
        ),
        (
            "/v1/reference/vat/2027-01-01",
            json!({"rate": "16", "source": "x"}),
            422,
            "rate",
        ),
    ];
    for (path, body, status, names) in cases {
        let response = app.put(path, &body).await;
        assert_eq!(response.status(), status, "PUT {path} {body}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "PUT {path}"
        );
        let problem: Value = response.json().await.unwrap();
        assert!(
            problem["detail"].as_str().unwrap().contains(names),
            "PUT {path} {body}: {problem}"
        );
    }
    for (content_type, body, status) in [
        (
            "application/xml",
            "<html><body>not rates</body></html>",
            422,
        ),
        (
            "application/xml",
            "<rates><date>30.12.2026</date></rates>",
            422,
        ),
        ("application/json", "{}", 415),
    ] {
        let response = app
            .post_raw(
                "/v1/reference/exchange-rates/import",
                Some(content_type),
                body,
            )
            .await;
        assert_eq!(response.status(), status, "{content_type} {body}");
    }
    // A billing token may import rates but not publish a table; an auditor neither.
    let billing = app
        .token(api::application::tokens::Role::Billing, "billing", None)
        .await;
    let response = app
        .send_as(
            reqwest::Method::PUT,
            "/v1/reference/mrp/2027",
            Some(&format!("Bearer {billing}")),
            Some(&json!({"mrp": "4500", "source": "x"})),
        )
        .await;
    assert_eq!(response.status(), 403);
    let auditor = app
        .token(api::application::tokens::Role::Auditor, "auditor", None)
        .await;
    let response = app
        .send_as(
            reqwest::Method::GET,
            "/v1/reference/mrp",
            Some(&format!("Bearer {auditor}")),
            None,
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(app.event_count().await, before, "nothing was recorded");
    app.finish().await;
}

/// A second server on the same store sees a version the first published at once, with
/// no restart; a restart records no shipped table over it.
async fn a_published_version_is_seen_at_once_by_every_server(store: Store) {
    let app = spawn_app_on(store, date!(2027 - 01 - 25)).await;
    let second = app.second_server().await;
    app.signed_agreement(OPERATOR_BIN).await;
    issue(&app, OPERATOR_BIN, &invoice("2026-12-28", "1000.00")).await;
    let path = format!("/v1/agreements/{OPERATOR_BIN}/penalties?as_of=2027-01-23");
    let before = second.get_json(&path).await;
    assert_eq!(before[0]["fine"], Value::Null, "{before}");
    let response = app
        .put(
            "/v1/reference/mrp/2027",
            &json!({"mrp": "4500", "source": "budget law"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    // A command on the second server prices the fine with it at once.
    let charged = second
        .post(
            &format!("/v1/agreements/{OPERATOR_BIN}/charges"),
            &json!({"invoice_number": 1, "kind": "fine", "on": "2027-01-23"}),
        )
        .await;
    let status = charged.status();
    let charged: Value = charged.json().await.unwrap();
    assert_eq!(status, 201, "{charged}");
    assert_eq!(charged["amount"], "9000.00", "{charged}");
    let after = second.get_json(&path).await;
    assert_eq!(after[0]["fine"], "9000.00", "{after}");
    second.finish().await;
    let events = app.event_count().await;
    let app = app.restart().await;
    assert_eq!(app.event_count().await, events, "a restart records nothing");
    let after = app.get_json(&path).await;
    assert_eq!(after[0]["fine"], "9000.00", "{after}");
    app.finish().await;
}

/// An export carries the reference stream, and the offline audit recomputes with it the
/// same figures as the API: the fine pending before the 2027 MRP, priced after.
async fn an_export_carries_the_reference_stream_and_audits_to_the_same_figures(store: Store) {
    let app = spawn_app_on(store, date!(2027 - 01 - 25)).await;
    app.signed_agreement(OPERATOR_BIN).await;
    issue(&app, OPERATOR_BIN, &invoice("2026-12-28", "1000.00")).await;
    let as_of = date!(2027 - 01 - 23);
    let penalties_path = format!("/v1/agreements/{OPERATOR_BIN}/penalties?as_of=2027-01-23");
    let balance_path = format!("/v1/agreements/{OPERATOR_BIN}/balance?as_of=2027-01-23");

    let audited = |export: &[u8]| {
        let reference = api::application::export::reference_of_export(export)
            .unwrap()
            .expect("the export carries the reference stream");
        let mut figures = Vec::new();
        api::application::export::recompute(export, as_of, None, &reference, |f| {
            figures.push(serde_json::to_value(&f).unwrap());
            Ok(())
        })
        .unwrap();
        assert_eq!(figures.len(), 1);
        figures.remove(0)
    };
    let before = export_of(&app, None).await;
    let verified =
        api::application::export::verify_export(before.as_slice(), None, |_| {}).unwrap();
    assert!(verified.first_broken.is_none());
    assert_eq!(
        verified.streams_checked, 2,
        "the agreement and the reference stream"
    );
    let figures = audited(&before);
    assert_eq!(figures["penalties"], app.get_json(&penalties_path).await);
    assert_eq!(figures["balance"], app.get_json(&balance_path).await);
    assert_eq!(figures["penalties"][0]["fine"], Value::Null);

    app.put(
        "/v1/reference/mrp/2027",
        &json!({"mrp": "4500", "source": "budget law"}),
    )
    .await;
    let after = export_of(&app, None).await;
    let figures = audited(&after);
    assert_eq!(figures["penalties"][0]["fine"], "9000.00", "{figures}");
    assert_eq!(figures["penalties"], app.get_json(&penalties_path).await);
    assert_eq!(figures["balance"], app.get_json(&balance_path).await);
    // The earlier export still audits to the figures of its time.
    assert_eq!(audited(&before)["penalties"][0]["fine"], Value::Null);
    // A partial export (one participant, up to a date) carries the whole reference
    // stream too, verifies, and audits to the same figures.
    let partial = export_of(&app, Some(as_of)).await;
    let verified =
        api::application::export::verify_export(partial.as_slice(), None, |_| {}).unwrap();
    assert!(
        verified.first_broken.is_none(),
        "{:?}",
        verified.first_broken
    );
    assert_eq!(verified.streams_checked, 2);
    assert_eq!(audited(&partial)["penalties"], figures["penalties"]);
    app.finish().await;
}

/// An export of the store (all agreements), or of OPERATOR_BIN up to `as_of`.
async fn export_of(app: &TestApp, as_of: Option<time::Date>) -> Vec<u8> {
    let mut out = Vec::new();
    api::application::export::export(
        app.ledger.repository(),
        &api::application::export::ExportSelection {
            participant: as_of.map(|_| events::ParticipantId::parse(OPERATOR_BIN).unwrap()),
            as_of,
        },
        &aggregates::ReferenceData::default(),
        time::OffsetDateTime::now_utc(),
        &mut out,
        |_| {},
    )
    .await
    .unwrap();
    out
}

crate::on_both_stores!(
    an_export_carries_the_reference_stream_and_audits_to_the_same_figures,
    year_end_invoices_fall_due_by_the_provisional_2027_calendar,
    a_2027_fine_waits_for_the_2027_mrp_and_the_sweep_goes_on,
    a_published_calendar_changes_new_due_dates_not_old_ones,
    published_and_imported_rates_price_usd_invoices,
    bad_reference_input_is_refused_and_records_nothing,
    a_published_version_is_seen_at_once_by_every_server,
);

/// `verify` finds a reference event altered by hand in PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_verify_finds_an_altered_reference_event() {
    let app = spawn_app_on(Store::Postgres, date!(2026 - 12 - 30)).await;
    let ok = app.get_json("/v1/audit/verify").await;
    assert_eq!(ok["ok"], true, "{ok}");
    let api::store::StoreLocation::Postgres(url) = app.ledger.repository().location().clone()
    else {
        unreachable!("a PostgreSQL app")
    };
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    // Lower the 2026 MRP behind the ledger's back.
    let altered = sqlx::query(
        "UPDATE events SET payload = jsonb_set(payload, '{content,mrp}', '\"1000\"')
         WHERE aggregate_type = 'ReferenceData' AND payload->'content'->>'table' = 'mrp'
           AND payload->'content'->>'year' = '2026'",
    )
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(altered.rows_affected(), 1);
    pool.close().await;
    let broken = app.get_json("/v1/audit/verify").await;
    assert_eq!(broken["ok"], false, "{broken}");
    assert_eq!(broken["first_broken"]["participant_id"], "kz-reference");
    assert!(
        broken["first_broken"]["what"]
            .as_str()
            .unwrap()
            .contains("altered"),
        "{broken}"
    );
    app.finish().await;
}
