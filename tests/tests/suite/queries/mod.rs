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

mod as_of;
mod figures;
mod refusals;
mod reports;

use as_of::*;
use figures::*;
use refusals::*;
use reports::*;

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
