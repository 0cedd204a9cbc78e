//! The query endpoints end to end: balance, invoices, penalties, statement, journal,
//! aging and the list, as of today and as of past dates, and the refusals of bad queries.
//!
//! One history serves every test (all dates in 2026, so VAT is 16% and the MRP 4,325):
//!
//! | participant | history |
//! |---|---|
//! | A = `150240008272` | invoice 1: 10000.00 net = 11600.00, issued 02-02, due 02-09; paid 5000.00 on 02-05 and 6600.00 on 03-11 (30 days late); penalty 348.00 and fine 8650.00 charged on 03-12; 1000.00 of the fine waived on 03-13; invoice 3: 1000.00 net = 1160.00 (credit), issued 04-01, due 04-06, unpaid |
//! | B | registered only |
//! | C | invoice 2: 100.00 net = 116.00, issued 02-02, due 02-09, unpaid; suspended (verification) on 03-01 |
//! | D | invoice 4: 500.00 net = 580.00 (credit), issued 06-01, due 06-04, unpaid |
//! | E | invoice 5: 200.00 net = 232.00 (credit), issued 06-29, due 07-02, unpaid |
//!
//! The server's clock is the system's: every query names its `as_of`, so the answers do
//! not depend on the day the tests run.

use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::helpers::{invoice, participant_ids, registration, spawn_app, Store, TestApp};

crate::on_both_stores!(
    balance_invoices_and_penalties_explain_a_late_payment,
    statement_and_journal_add_up,
    aging_buckets_and_totals,
    list_filters_by_status_and_pages,
    as_of_in_the_past_gives_the_older_state,
    bad_queries_are_refused_with_problem_details,
    unknown_query_parameters_answer_400,
    a_charge_on_an_invoice_not_late_is_refused_and_records_nothing,
    a_total_beyond_the_ledgers_range_is_a_422_not_a_server_error,
);

const A: &str = crate::helpers::OPERATOR_BIN;

/// The other participants of the history: B, C, D, E, in participant-id order (all
/// after A's).
struct Others {
    b: String,
    c: String,
    d: String,
    e: String,
}

fn others() -> Others {
    let mut ids = participant_ids(4).into_iter();
    let mut next = || ids.next().unwrap();
    Others {
        b: next(),
        c: next(),
        d: next(),
        e: next(),
    }
}

async fn post_ok(app: &TestApp, path: &str, body: Value, status: u16) -> Value {
    let response = app.post(path, &body).await;
    let code = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(code, status, "POST {path} {body}: {text}");
    serde_json::from_str(&text).unwrap()
}

fn credit_invoice(issued_on: &str, unit_price: &str) -> Value {
    json!({
        "kind": "credit",
        "issued_on": issued_on,
        "lines": [{"description": "Documents on credit", "quantity": 1, "unit_price": unit_price}]
    })
}

/// Records the history of the module comment, checking each command's answer.
async fn history(app: &TestApp) -> Others {
    let o = others();
    let a = |tail: &str| format!("/v1/agreements/{A}/{tail}");

    app.signed_agreement(A).await;
    post_ok(app, "/v1/agreements", registration(&o.b), 201).await;
    app.signed_agreement(&o.c).await;
    app.signed_agreement(&o.d).await;
    app.signed_agreement(&o.e).await;

    let issued = post_ok(app, &a("invoices"), invoice("2026-02-02", "10000.00"), 201).await;
    assert_eq!(issued["number"], "1");
    assert_eq!(issued["total"], "11600.00");
    assert_eq!(issued["due_on"], "2026-02-09");
    let issued = post_ok(
        app,
        &format!("/v1/agreements/{}/invoices", o.c),
        invoice("2026-02-02", "100.00"),
        201,
    )
    .await;
    assert_eq!(issued["number"], "2");
    assert_eq!(issued["total"], "116.00");

    // A partial payment before the due date, and the rest 30 days late.
    post_ok(
        app,
        &a("payments"),
        json!({"reference": "KASPI-1", "received_on": "2026-02-05", "amount": "5000.00"}),
        201,
    )
    .await;
    let late = post_ok(
        app,
        &a("payments"),
        json!({"reference": "KASPI-2", "received_on": "2026-03-11", "amount": "6600.00"}),
        201,
    )
    .await;
    assert_eq!(late["allocations"][0]["principal"], "6600.00");
    assert_eq!(late["advance"], "0.00");

    // The operator charges what §5.9 allows, then waives part of the fine.
    let penalty = post_ok(
        app,
        &a("charges"),
        json!({"invoice_number": "1", "kind": "penalty", "on": "2026-03-12"}),
        201,
    )
    .await;
    assert_eq!(penalty["amount"], "348.00", "11600.00 x 0.001 x 30 days");
    assert_eq!(penalty["clause"], "5.9");
    assert_eq!(penalty["settled_from_advance"], "0.00");
    let fine = post_ok(
        app,
        &a("charges"),
        json!({"invoice_number": "1", "kind": "fine", "on": "2026-03-12"}),
        201,
    )
    .await;
    assert_eq!(fine["amount"], "8650.00", "2 MRP of 2026 (4,325)");
    assert_eq!(fine["clause"], "5.9");
    let waiver = post_ok(
        app,
        &a("waivers"),
        json!({"invoice_number": "1", "kind": "fine", "amount": "1000.00",
               "reason": "first late payment", "on": "2026-03-13"}),
        201,
    )
    .await;
    assert_eq!(waiver["charged_part"], "1000.00");
    assert_eq!(waiver["uncharged_part"], "0.00");
    assert_eq!(waiver["on"], "2026-03-13");

    post_ok(
        app,
        &format!("/v1/agreements/{}/suspension", o.c),
        json!({"on": "2026-03-01", "reason": "verification"}),
        200,
    )
    .await;

    let issued = post_ok(
        app,
        &a("invoices"),
        credit_invoice("2026-04-01", "1000.00"),
        201,
    )
    .await;
    assert_eq!(issued["number"], "3");
    assert_eq!(issued["total"], "1160.00");
    assert_eq!(issued["due_on"], "2026-04-06", "§5.8: 3 working days");
    let issued = post_ok(
        app,
        &format!("/v1/agreements/{}/invoices", o.d),
        credit_invoice("2026-06-01", "500.00"),
        201,
    )
    .await;
    assert_eq!(issued["number"], "4");
    assert_eq!(issued["due_on"], "2026-06-04");
    let issued = post_ok(
        app,
        &format!("/v1/agreements/{}/invoices", o.e),
        credit_invoice("2026-06-29", "200.00"),
        201,
    )
    .await;
    assert_eq!(issued["number"], "5");
    assert_eq!(issued["total"], "232.00");
    assert_eq!(issued["due_on"], "2026-07-02");
    o
}

/// A money field: a JSON string with exactly 2 decimals (API.md), as a decimal.
fn money(value: &Value) -> Decimal {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("money is a JSON string, not {value}"));
    let (_, decimals) = text
        .split_once('.')
        .unwrap_or_else(|| panic!("{text:?} has no decimals"));
    assert_eq!(decimals.len(), 2, "{text:?} has exactly 2 decimals");
    text.parse().unwrap()
}

fn d(text: &str) -> Decimal {
    text.parse().unwrap()
}

async fn balance_invoices_and_penalties_explain_a_late_payment(store: Store) {
    let app = spawn_app(store).await;
    history(&app).await;

    let balance = app
        .get_json(&format!("/v1/agreements/{A}/balance?as_of=2026-06-30"))
        .await;
    let expected = [
        ("invoiced", "12760.00"),
        ("paid", "11600.00"),
        ("outstanding", "1160.00"),
        // 348.00 on invoice 1 (30 days) + 58.00 on invoice 3 (85 days, capped at 5%).
        ("penalties_accrued", "406.00"),
        ("penalties_charged", "348.00"),
        ("penalties_waived", "0.00"),
        ("penalties_owed", "348.00"),
        ("fines_accrued", "17300.00"),
        ("fines", "8650.00"),
        ("fines_waived", "1000.00"),
        ("fines_owed", "7650.00"),
        ("advance", "0.00"),
        ("total_due", "9158.00"),
    ];
    for (field, value) in expected {
        money(&balance[field]);
        assert_eq!(balance[field], value, "balance.{field}: {balance}");
    }
    assert_eq!(balance["currency"], "KZT");
    assert_eq!(balance["as_of"], "2026-06-30");
    assert_eq!(
        money(&balance["total_due"]),
        money(&balance["outstanding"])
            + money(&balance["penalties_owed"])
            + money(&balance["fines_owed"])
    );

    let invoices = app
        .get_json(&format!("/v1/agreements/{A}/invoices?as_of=2026-06-30"))
        .await;
    let invoices = invoices.as_array().unwrap();
    assert_eq!(invoices.len(), 2, "{invoices:?}");
    let first = &invoices[0];
    assert_eq!(first["number"], "1");
    assert_eq!(first["kind"], "subscription");
    assert_eq!(first["issued_on"], "2026-02-02");
    assert_eq!(first["due_on"], "2026-02-09");
    assert_eq!(first["total"], "11600.00");
    assert_eq!(first["paid"], "11600.00");
    assert_eq!(first["outstanding"], "0.00");
    assert_eq!(first["paid_in_full_on"], "2026-03-11");
    assert_eq!(first["status"], "paid");
    assert_eq!(first["days_overdue"], 0, "paid: no longer overdue");
    assert_eq!(first["days_late"], 30, "§5.5: up to the day paid in full");
    assert_eq!(first["penalty_accrued"], "348.00");
    assert_eq!(first["penalty_charged"], "348.00");
    assert_eq!(first["penalty_owed"], "348.00");
    assert_eq!(first["fine"], "8650.00");
    assert_eq!(first["fine_charged"], "8650.00");
    assert_eq!(first["fine_owed"], "7650.00");
    let third = &invoices[1];
    assert_eq!(third["number"], "3");
    assert_eq!(third["kind"], "credit");
    assert_eq!(third["status"], "overdue");
    assert_eq!(third["days_overdue"], 85);
    assert_eq!(third["outstanding"], "1160.00");
    assert_eq!(third["paid"], "0.00");
    assert_eq!(third["paid_in_full_on"], Value::Null);
    assert_eq!(third["penalty_accrued"], "58.00");
    assert_eq!(third["fine"], "8650.00");
    assert_eq!(third["fine_charged"], "0.00");

    let penalties = app
        .get_json(&format!("/v1/agreements/{A}/penalties?as_of=2026-06-30"))
        .await;
    let penalties = penalties.as_array().unwrap();
    assert_eq!(penalties.len(), 2, "{penalties:?}");
    let first = &penalties[0];
    assert_eq!(first["invoice_number"], "1");
    assert_eq!(first["base"], "11600.00");
    assert_eq!(first["rate"], "0.001");
    assert_eq!(first["days"], 30);
    assert_eq!(first["due_on"], "2026-02-09");
    assert_eq!(first["from"], "2026-02-10");
    assert_eq!(first["to"], "2026-03-11");
    assert_eq!(first["paid_in_full"], true);
    assert_eq!(first["capped"], false);
    assert_eq!(first["cap"], "580.00");
    assert_eq!(first["amount"], "348.00");
    assert_eq!(first["charged"], "348.00");
    assert_eq!(first["waived"], "0.00");
    assert_eq!(first["owed"], "348.00");
    assert_eq!(first["fine_mrp"], 2);
    assert_eq!(first["mrp"], "4325");
    assert_eq!(first["fine"], "8650.00");
    assert_eq!(first["fine_charged"], "8650.00");
    assert_eq!(first["fine_waived"], "1000.00");
    assert_eq!(first["fine_owed"], "7650.00");
    assert_eq!(first["clause"], "5.9");
    let explanation = first["explanation"].as_str().unwrap();
    for part in [
        "§5.9",
        "11600.00",
        "30 day(s)",
        "2026-02-10",
        "2026-03-11",
        "348.00",
    ] {
        assert!(explanation.contains(part), "{explanation:?} names {part:?}");
    }
    let third = &penalties[1];
    assert_eq!(third["invoice_number"], "3");
    assert_eq!(third["days"], 85);
    assert_eq!(third["from"], "2026-04-07");
    assert_eq!(third["to"], "2026-06-30");
    assert_eq!(third["paid_in_full"], false);
    assert_eq!(third["capped"], true, "day 85 is past the cap (day 50)");
    assert_eq!(third["cap"], "58.00");
    assert_eq!(third["amount"], "58.00");
    assert_eq!(third["charged"], "0.00");
    assert_eq!(third["fine"], "8650.00");
    assert_eq!(third["clause"], "5.9");
    assert!(
        third["explanation"].as_str().unwrap().contains("capped"),
        "{third}"
    );

    // Without `as_of` (today): the money already settled does not move.
    let today = app.get_json(&format!("/v1/agreements/{A}/balance")).await;
    assert_eq!(today["outstanding"], "1160.00");
    assert_eq!(today["paid"], "11600.00");
    assert_eq!(today["fines_owed"], "7650.00");
    // An agreement that owes nothing and was never late: no penalty rows, all zero.
    let o = others();
    assert_eq!(
        app.get_json(&format!(
            "/v1/agreements/{}/penalties?as_of=2026-06-30",
            o.b
        ))
        .await,
        json!([])
    );
    let balance = app
        .get_json(&format!("/v1/agreements/{}/balance?as_of=2026-06-30", o.b))
        .await;
    assert_eq!(balance["total_due"], "0.00");
    assert_eq!(balance["invoiced"], "0.00");
    app.finish().await;
}

async fn statement_and_journal_add_up(store: Store) {
    let app = spawn_app(store).await;
    history(&app).await;

    let statement = app
        .get_json(&format!(
            "/v1/agreements/{A}/statement?from=2026-02-01&to=2026-03-31"
        ))
        .await;
    assert_eq!(statement["from"], "2026-02-01");
    assert_eq!(statement["to"], "2026-03-31");
    assert_eq!(statement["opening"], "0.00");
    let lines: Vec<(String, String, String, String)> = statement["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["date"].as_str().unwrap().to_owned(),
                l["document"].as_str().unwrap().to_owned(),
                l["debit"].as_str().unwrap().to_owned(),
                l["credit"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let line = |date: &str, document: &str, debit: &str, credit: &str| {
        (
            date.to_owned(),
            document.to_owned(),
            debit.to_owned(),
            credit.to_owned(),
        )
    };
    assert_eq!(
        lines,
        vec![
            line("2026-02-02", "invoice 1", "11600.00", "0.00"),
            line("2026-02-05", "payment KASPI-1", "0.00", "5000.00"),
            line("2026-03-11", "payment KASPI-2", "0.00", "6600.00"),
            line("2026-03-12", "penalty on invoice 1", "348.00", "0.00"),
            line("2026-03-12", "fine on invoice 1", "8650.00", "0.00"),
            line(
                "2026-03-13",
                "waiver of fine on invoice 1",
                "0.00",
                "1000.00"
            ),
        ]
    );
    assert_eq!(statement["debits"], "20598.00");
    assert_eq!(statement["credits"], "12600.00");
    assert_eq!(statement["closing"], "7998.00");
    assert_adds_up(&statement);

    // A period that starts after the first documents: they make the opening balance.
    let statement = app
        .get_json(&format!(
            "/v1/agreements/{A}/statement?from=2026-03-01&to=2026-04-30"
        ))
        .await;
    assert_eq!(statement["opening"], "6600.00", "11600.00 - 5000.00");
    assert_eq!(statement["lines"].as_array().unwrap().len(), 5);
    assert_eq!(statement["closing"], "9158.00");
    assert_adds_up(&statement);
    let balance = app
        .get_json(&format!("/v1/agreements/{A}/balance?as_of=2026-04-30"))
        .await;
    assert_eq!(
        statement["closing"], balance["total_due"],
        "the statement closes on what is due"
    );
    // Without `from`: from the registration date.
    let statement = app
        .get_json(&format!("/v1/agreements/{A}/statement?to=2026-02-28"))
        .await;
    assert_eq!(statement["from"], "2026-01-05");
    assert_eq!(statement["opening"], "0.00");
    assert_eq!(statement["closing"], "6600.00");
    assert_adds_up(&statement);

    for as_of in ["2026-02-05", "2026-03-12", "2026-03-13", "2026-06-30"] {
        let journal = app
            .get_json(&format!("/v1/agreements/{A}/journal?as_of={as_of}"))
            .await;
        let balance = app
            .get_json(&format!("/v1/agreements/{A}/balance?as_of={as_of}"))
            .await;
        assert_eq!(journal["as_of"], as_of);
        assert_eq!(journal["debits"], journal["credits"], "{as_of}: {journal}");
        let entries = journal["entries"].as_array().unwrap();
        let debits: Decimal = entries.iter().map(|e| money(&e["debit"])).sum();
        let credits: Decimal = entries.iter().map(|e| money(&e["credit"])).sum();
        assert_eq!(debits, credits, "{as_of}");
        assert_eq!(debits, money(&journal["debits"]));
        let account = |name: &str| {
            journal["accounts"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["account"] == name)
                .map(|a| money(&a["balance"]))
                .unwrap_or_default()
        };
        assert_eq!(
            account("receivable"),
            money(&balance["total_due"]),
            "{as_of}: the receivable is what is due"
        );
        assert_eq!(account("advance"), -money(&balance["advance"]));
        assert_eq!(account("bank"), money(&balance["paid"]));
    }
    let journal = app
        .get_json(&format!("/v1/agreements/{A}/journal?as_of=2026-06-30"))
        .await;
    assert_eq!(journal["debits"], "34358.00");
    let accounts: Vec<(String, String)> = journal["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["account"].as_str().unwrap().to_owned(),
                a["balance"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("bank", "11600.00"),
        ("receivable", "9158.00"),
        ("revenue", "-11000.00"),
        ("vat_payable", "-1760.00"),
        ("penalty_income", "-348.00"),
        ("fine_income", "-7650.00"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(accounts, expected);
    app.finish().await;
}

fn assert_adds_up(statement: &Value) {
    let lines = statement["lines"].as_array().unwrap();
    let debits: Decimal = lines.iter().map(|l| money(&l["debit"])).sum();
    let credits: Decimal = lines.iter().map(|l| money(&l["credit"])).sum();
    assert_eq!(debits, money(&statement["debits"]));
    assert_eq!(credits, money(&statement["credits"]));
    assert_eq!(
        money(&statement["opening"]) + debits - credits,
        money(&statement["closing"]),
        "opening + debits - credits = closing: {statement}"
    );
}

async fn aging_buckets_and_totals(store: Store) {
    let app = spawn_app(store).await;
    let o = history(&app).await;

    let report = app.get_json("/v1/reports/aging?as_of=2026-06-30").await;
    assert_eq!(report["as_of"], "2026-06-30");
    assert_eq!(
        report["buckets"],
        json!(["current", "1_15", "16_30", "31_90", "over_90"])
    );
    let row = |id: &str, current: &str, b1: &str, b16: &str, b31: &str, b90: &str, total: &str| {
        (
            id.to_owned(),
            [current, b1, b16, b31, b90, total].map(|s| s.to_owned()),
        )
    };
    let rows: Vec<(String, [String; 6])> = report["agreements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["participant_id"].as_str().unwrap().to_owned(),
                ["current", "1_15", "16_30", "31_90", "over_90", "total"]
                    .map(|b| r[b].as_str().unwrap().to_owned()),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            // Invoice 3: 85 days past due.
            row(A, "0.00", "0.00", "0.00", "1160.00", "0.00", "1160.00"),
            // B owes nothing: left out. C: invoice 2, 141 days past due.
            row(&o.c, "0.00", "0.00", "0.00", "0.00", "116.00", "116.00"),
            // D: invoice 4, 26 days. E: invoice 5, not yet due.
            row(&o.d, "0.00", "0.00", "580.00", "0.00", "0.00", "580.00"),
            row(&o.e, "232.00", "0.00", "0.00", "0.00", "0.00", "232.00"),
        ]
    );
    let totals = report["totals"].as_array().unwrap();
    assert_eq!(totals.len(), 1, "{totals:?}");
    let kzt = &totals[0];
    assert_eq!(kzt["currency"], "KZT");
    assert_eq!(kzt["agreements"], 4);
    for (bucket, value) in [
        ("current", "232.00"),
        ("1_15", "0.00"),
        ("16_30", "580.00"),
        ("31_90", "1160.00"),
        ("over_90", "116.00"),
        ("total", "2088.00"),
    ] {
        assert_eq!(kzt[bucket], value, "totals.{bucket}: {kzt}");
    }
    let sum: Decimal = ["current", "1_15", "16_30", "31_90", "over_90"]
        .iter()
        .map(|b| money(&kzt[*b]))
        .sum();
    assert_eq!(sum, money(&kzt["total"]));

    // A non-resident invoiced in USD: its own totals, never added to KZT.
    let f = participant_ids(5).pop().unwrap();
    let mut body = registration(&f);
    body["resident"] = json!(false);
    body["currency"] = json!("USD");
    post_ok(&app, "/v1/agreements", body, 201).await;
    post_ok(
        &app,
        &format!("/v1/agreements/{f}/signature"),
        json!({"signed_on": "2026-01-06"}),
        200,
    )
    .await;
    let issued = post_ok(
        &app,
        &format!("/v1/agreements/{f}/invoices"),
        invoice("2026-02-02", "100.00"),
        201,
    )
    .await;
    assert_eq!(issued["total"], "116.00");
    let report = app.get_json("/v1/reports/aging?as_of=2026-06-30").await;
    let totals = report["totals"].as_array().unwrap();
    assert_eq!(totals.len(), 2, "{totals:?}");
    assert_eq!(totals[0]["currency"], "KZT");
    assert_eq!(totals[0]["total"], "2088.00", "KZT unchanged");
    assert_eq!(totals[1]["currency"], "USD");
    assert_eq!(totals[1]["agreements"], 1);
    assert_eq!(totals[1]["over_90"], "116.00");
    assert_eq!(totals[1]["total"], "116.00");
    let last = report["agreements"].as_array().unwrap().last().unwrap();
    assert_eq!(last["participant_id"], f.as_str());
    assert_eq!(last["currency"], "USD");

    // Earlier: A's invoice 1 was still partly unpaid, 11 days late, as was C's.
    let report = app.get_json("/v1/reports/aging?as_of=2026-02-20").await;
    let kzt = &report["totals"][0];
    assert_eq!(kzt["agreements"], 2, "{report}");
    assert_eq!(kzt["1_15"], "6716.00", "6600.00 + 116.00");
    assert_eq!(kzt["total"], "6716.00");
    assert_eq!(report["agreements"][0]["1_15"], "6600.00");
    // The due date itself is still current.
    let report = app.get_json("/v1/reports/aging?as_of=2026-02-09").await;
    assert_eq!(report["totals"][0]["current"], "6716.00", "{report}");
    // Before anything was invoiced: nobody owes anything.
    let report = app.get_json("/v1/reports/aging?as_of=2026-01-31").await;
    assert_eq!(report["agreements"], json!([]));
    assert_eq!(report["totals"], json!([]));
    app.finish().await;
}

fn ids_of(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["participant_id"].as_str().unwrap().to_owned())
        .collect()
}

async fn list_filters_by_status_and_pages(store: Store) {
    let app = spawn_app(store).await;
    let o = history(&app).await;

    // As of today (the stored current status).
    let page = app.get_json("/v1/agreements").await;
    assert_eq!(page["total"], 5);
    assert_eq!(page["page"], 1);
    assert_eq!(ids_of(&page), [A, &o.b, &o.c, &o.d, &o.e]);
    let page = app.get_json("/v1/agreements?status=active").await;
    assert_eq!(page["total"], 3);
    assert_eq!(ids_of(&page), [A, &o.d, &o.e]);
    for item in page["items"].as_array().unwrap() {
        assert_eq!(item["status"], "active");
    }
    let page = app
        .get_json("/v1/agreements?status=active&page=2&per_page=2")
        .await;
    assert_eq!(page["total"], 3);
    assert_eq!(page["page"], 2);
    assert_eq!(page["per_page"], 2);
    assert_eq!(ids_of(&page), [o.e.as_str()]);
    let page = app
        .get_json("/v1/agreements?status=active&page=3&per_page=2")
        .await;
    assert_eq!(page["total"], 3);
    assert_eq!(ids_of(&page), Vec::<String>::new());
    let page = app.get_json("/v1/agreements?status=suspended").await;
    assert_eq!(ids_of(&page), [o.c.as_str()]);
    assert_eq!(page["items"][0]["suspended_on"], "2026-03-01");
    assert_eq!(page["items"][0]["restriction"]["reason"], "verification");
    let page = app.get_json("/v1/agreements?status=registered").await;
    assert_eq!(ids_of(&page), [o.b.as_str()]);
    assert_eq!(page["items"][0]["signed_on"], Value::Null);
    let page = app.get_json("/v1/agreements?status=blocked").await;
    assert_eq!(page["total"], 0);

    // As of past dates (each agreement's status then).
    let page = app.get_json("/v1/agreements?as_of=2026-01-05").await;
    assert_eq!(page["as_of"], "2026-01-05");
    assert_eq!(page["total"], 5);
    for item in page["items"].as_array().unwrap() {
        assert_eq!(item["status"], "registered", "not signed until 01-06");
    }
    let page = app
        .get_json("/v1/agreements?status=suspended&as_of=2026-02-28")
        .await;
    assert_eq!(page["total"], 0);
    let page = app
        .get_json("/v1/agreements?status=active&as_of=2026-02-28&per_page=2")
        .await;
    assert_eq!(page["total"], 4);
    assert_eq!(ids_of(&page), [A, &o.c]);
    let page = app
        .get_json("/v1/agreements?status=active&as_of=2026-02-28&per_page=2&page=2")
        .await;
    assert_eq!(ids_of(&page), [o.d.as_str(), &o.e]);
    let page = app
        .get_json("/v1/agreements?status=suspended&as_of=2026-03-01")
        .await;
    assert_eq!(ids_of(&page), [o.c.as_str()]);
    // Before anyone registered: an empty page.
    let page = app.get_json("/v1/agreements?as_of=2025-12-31").await;
    assert_eq!(page["total"], 0);
    app.finish().await;
}

async fn as_of_in_the_past_gives_the_older_state(store: Store) {
    let app = spawn_app(store).await;
    let o = history(&app).await;

    let agreement = app
        .get_json(&format!("/v1/agreements/{A}?as_of=2026-01-05"))
        .await;
    assert_eq!(agreement["status"], "registered");
    assert_eq!(agreement["signed_on"], Value::Null);
    let agreement = app
        .get_json(&format!("/v1/agreements/{A}?as_of=2026-01-06"))
        .await;
    assert_eq!(agreement["status"], "active");
    assert_eq!(agreement["signed_on"], "2026-01-06");
    let c = |tail: &str| format!("/v1/agreements/{}{tail}", o.c);
    assert_eq!(
        app.get_json(&c("?as_of=2026-02-28")).await["status"],
        "active"
    );
    let suspended = app.get_json(&c("?as_of=2026-03-01")).await;
    assert_eq!(suspended["status"], "suspended");
    assert_eq!(suspended["suspended_on"], "2026-03-01");

    // The balance before and after each payment.
    let balance = |as_of: &'static str| {
        let app = &app;
        async move {
            app.get_json(&format!("/v1/agreements/{A}/balance?as_of={as_of}"))
                .await
        }
    };
    let before = balance("2026-02-01").await;
    assert_eq!(before["invoiced"], "0.00");
    assert_eq!(before["total_due"], "0.00");
    let issued = balance("2026-02-04").await;
    assert_eq!(issued["invoiced"], "11600.00");
    assert_eq!(issued["paid"], "0.00");
    assert_eq!(issued["outstanding"], "11600.00");
    let partly = balance("2026-02-05").await;
    assert_eq!(partly["paid"], "5000.00");
    assert_eq!(partly["outstanding"], "6600.00");
    assert_eq!(partly["penalties_accrued"], "0.00");
    let late = balance("2026-03-10").await;
    assert_eq!(late["outstanding"], "6600.00");
    assert_eq!(late["penalties_accrued"], "336.40", "11600.00 x 0.001 x 29");
    assert_eq!(late["fines_accrued"], "8650.00");
    assert_eq!(late["penalties_charged"], "0.00");
    assert_eq!(late["total_due"], "6600.00", "nothing charged yet");
    let paid = balance("2026-03-11").await;
    assert_eq!(paid["outstanding"], "0.00");
    assert_eq!(paid["paid"], "11600.00");
    assert_eq!(paid["penalties_accrued"], "348.00");
    let charged = balance("2026-03-12").await;
    assert_eq!(charged["fines_owed"], "8650.00");
    assert_eq!(charged["total_due"], "8998.00");
    let waived = balance("2026-03-13").await;
    assert_eq!(waived["fines_owed"], "7650.00");
    assert_eq!(waived["total_due"], "7998.00");
    // Penalties stop accruing once paid in full: the same later.
    assert_eq!(balance("2026-03-31").await["penalties_accrued"], "348.00");

    let invoices = app
        .get_json(&format!("/v1/agreements/{A}/invoices?as_of=2026-02-09"))
        .await;
    assert_eq!(
        invoices.as_array().unwrap().len(),
        1,
        "invoice 3 not issued yet"
    );
    assert_eq!(invoices[0]["status"], "open", "due today: not yet overdue");
    assert_eq!(invoices[0]["days_overdue"], 0);
    assert_eq!(invoices[0]["outstanding"], "6600.00");
    let invoices = app
        .get_json(&format!("/v1/agreements/{A}/invoices?as_of=2026-02-10"))
        .await;
    assert_eq!(invoices[0]["status"], "overdue");
    assert_eq!(invoices[0]["days_overdue"], 1, "the day after the due date");
    assert_eq!(invoices[0]["penalty_accrued"], "11.60");
    let invoices = app
        .get_json(&format!("/v1/agreements/{A}/invoices?as_of=2026-03-10"))
        .await;
    assert_eq!(invoices[0]["days_overdue"], 29);
    assert_eq!(invoices[0]["paid"], "5000.00");

    let penalties = app
        .get_json(&format!("/v1/agreements/{A}/penalties?as_of=2026-02-09"))
        .await;
    assert_eq!(penalties, json!([]), "not late on the due date");
    let penalties = app
        .get_json(&format!("/v1/agreements/{A}/penalties?as_of=2026-03-10"))
        .await;
    assert_eq!(penalties[0]["days"], 29);
    assert_eq!(penalties[0]["to"], "2026-03-10");
    assert_eq!(penalties[0]["paid_in_full"], false);
    assert_eq!(penalties[0]["charged"], "0.00");
    app.finish().await;
}

/// A refused query: the status, a problem+json body, and (for 400) the detail naming
/// `needle`.
async fn refused(app: &TestApp, path: &str, status: u16, needle: &str) -> Value {
    let response = app.get(path).await;
    assert_eq!(response.status(), status, "GET {path}");
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.text().await.unwrap();
    assert_eq!(
        content_type.as_deref(),
        Some("application/problem+json"),
        "GET {path}: {body}"
    );
    let problem: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["status"], status);
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains(needle),
        "GET {path}: detail {detail:?} should mention {needle:?}"
    );
    problem
}

async fn bad_queries_are_refused_with_problem_details(store: Store) {
    let app = spawn_app(store).await;
    app.signed_agreement(A).await;
    let before = app.event_count().await;
    for tail in [
        "",
        "/balance",
        "/invoices",
        "/penalties",
        "/statement",
        "/journal",
    ] {
        let path = format!("/v1/agreements/{A}{tail}");
        refused(&app, &format!("{path}?as_of=2026-02-30"), 400, "`as_of`").await;
        refused(&app, &format!("{path}?as_of=30.01.2026"), 400, "YYYY-MM-DD").await;
        // Unknown agreement, and a known one before its registration.
        refused(
            &app,
            &format!("/v1/agreements/990101300122{tail}"),
            404,
            "990101300122",
        )
        .await;
        refused(&app, &format!("{path}?as_of=2025-12-31"), 404, "2025-12-31").await;
        refused(
            &app,
            &format!("/v1/agreements/15024000827{tail}"),
            400,
            "12 digits",
        )
        .await;
    }
    refused(&app, "/v1/reports/aging?as_of=2026-13-01", 400, "`as_of`").await;
    refused(&app, "/v1/agreements?as_of=tomorrow", 400, "`as_of`").await;
    refused(&app, "/v1/agreements?status=sleeping", 400, "`status`").await;
    refused(&app, "/v1/agreements?per_page=0", 400, "per_page").await;
    refused(&app, "/v1/agreements?per_page=501", 400, "per_page").await;
    refused(&app, "/v1/agreements?page=0", 400, "page").await;
    let statement = format!("/v1/agreements/{A}/statement");
    refused(
        &app,
        &format!("{statement}?from=2026-03-01&to=2026-02-01"),
        400,
        "backwards",
    )
    .await;
    refused(&app, &format!("{statement}?from=2026-02-29"), 400, "`from`").await;
    refused(&app, &format!("{statement}?to=x"), 400, "`to`").await;
    assert_eq!(app.event_count().await, before, "a query records nothing");
    app.finish().await;
}

/// Unknown or malformed query parameters: 400, as problem+json like every other error
/// (API.md, "Errors").
async fn unknown_query_parameters_are_refused(store: Store) {
    let app = spawn_app(store).await;
    app.signed_agreement(A).await;
    for path in [
        format!("/v1/agreements/{A}?asof=2026-02-01"),
        format!("/v1/agreements/{A}/balance?date=2026-02-01"),
        format!("/v1/agreements/{A}/invoices?x=1"),
        format!("/v1/agreements/{A}/penalties?x=1"),
        format!("/v1/agreements/{A}/statement?until=2026-02-01"),
        format!("/v1/agreements/{A}/journal?x=1"),
        "/v1/reports/aging?x=1".to_owned(),
        "/v1/agreements?state=active".to_owned(),
        "/v1/agreements?page=two".to_owned(),
    ] {
        refused(&app, &path, 400, "").await;
    }
    app.finish().await;
}

mod unknown_parameters {
    use crate::helpers::Store;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::unknown_query_parameters_are_refused(Store::Postgres).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::unknown_query_parameters_are_refused(Store::Sqlite).await
    }
}

/// Unknown query parameters are refused with 400 whatever the body looks like.
async fn unknown_query_parameters_answer_400(store: Store) {
    let app = spawn_app(store).await;
    app.signed_agreement(A).await;
    for path in [
        format!("/v1/agreements/{A}/balance?date=2026-02-01"),
        format!("/v1/agreements/{A}/statement?until=2026-02-01"),
        "/v1/agreements?state=active".to_owned(),
    ] {
        assert_eq!(app.get(&path).await.status(), 400, "GET {path}");
    }
    app.finish().await;
}

async fn a_charge_on_an_invoice_not_late_is_refused_and_records_nothing(store: Store) {
    let app = spawn_app(store).await;
    let o = history(&app).await;
    let before = app.event_count().await;
    let charges = format!("/v1/agreements/{}/charges", o.e);
    for kind in ["penalty", "fine"] {
        // Invoice 5 is due 07-02: on 06-30 and on the due date itself it is not late.
        for on in ["2026-06-30", "2026-07-02"] {
            let response = app
                .post(
                    &charges,
                    &json!({"invoice_number": "5", "kind": kind, "on": on}),
                )
                .await;
            assert_eq!(response.status(), 422, "{kind} on {on}");
            assert_eq!(
                response.headers()["content-type"],
                "application/problem+json"
            );
            let problem: Value = response.json().await.unwrap();
            assert_eq!(problem["clause"], "5.9", "{problem}");
            assert_eq!(problem["status"], 422);
        }
    }
    // A's invoice 1 was paid late; its penalty was charged in full: nothing more to charge.
    let response = app
        .post(
            &format!("/v1/agreements/{A}/charges"),
            &json!({"invoice_number": "1", "kind": "penalty", "on": "2026-06-30"}),
        )
        .await;
    assert_eq!(response.status(), 422);
    assert_eq!(response.json::<Value>().await.unwrap()["clause"], "5.9");
    // An invoice of another agreement: unknown here.
    let response = app
        .post(
            &charges,
            &json!({"invoice_number": "1", "kind": "penalty", "on": "2026-07-03"}),
        )
        .await;
    assert_eq!(response.status(), 404);
    // A waiver larger than what may be waived.
    let response = app
        .post(
            &format!("/v1/agreements/{A}/waivers"),
            &json!({"invoice_number": "1", "kind": "penalty", "amount": "348.01",
                    "reason": "too much", "on": "2026-06-30"}),
        )
        .await;
    assert_eq!(response.status(), 422);
    assert_eq!(response.json::<Value>().await.unwrap()["clause"], "5.9");
    assert_eq!(
        app.event_count().await,
        before,
        "refused charges record nothing"
    );
    let balance = app
        .get_json(&format!("/v1/agreements/{}/balance?as_of=2026-07-02", o.e))
        .await;
    assert_eq!(balance["penalties_charged"], "0.00");
    assert_eq!(balance["fines"], "0.00");

    // The day after the due date it is late: one day of penalty, and the fine.
    let charged = post_ok(
        &app,
        &charges,
        json!({"invoice_number": "5", "kind": "penalty", "on": "2026-07-03"}),
        201,
    )
    .await;
    assert_eq!(charged["amount"], "0.23", "232.00 x 0.001 x 1 = 0.232");
    assert_eq!(app.event_count().await, before + 1);
    assert_eq!(d("0.23"), money(&charged["amount"]));
    app.finish().await;
}

/// Each invoice is within the largest amount the ledger holds; their sum is not. The
/// queries that add them answer 422 amount-out-of-range, never 500 (found by the fuzzer).
async fn a_total_beyond_the_ledgers_range_is_a_422_not_a_server_error(store: Store) {
    let app = spawn_app(store).await;
    app.signed_agreement(A).await;
    for issued_on in ["2026-02-02", "2026-03-02"] {
        let response = app
            .post(
                &format!("/v1/agreements/{A}/invoices"),
                &invoice(issued_on, "800000000000.00"),
            )
            .await;
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    }
    for query in ["balance", "journal"] {
        let response = app
            .get(&format!("/v1/agreements/{A}/{query}?as_of=2026-06-30"))
            .await;
        assert_eq!(response.status(), 422, "{query}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(
            problem["type"], "urn:edoc-ledger:problem:amount-out-of-range",
            "{query}: {problem}"
        );
    }
    // Before the second invoice the figures are within range.
    let balance = app
        .get_json(&format!("/v1/agreements/{A}/balance?as_of=2026-02-28"))
        .await;
    assert_eq!(balance["invoiced"], "928000000000.00");
}
