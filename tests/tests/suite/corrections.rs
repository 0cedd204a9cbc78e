//! The corrections over HTTP (issue 15, BILLING.md 5.2-5.3), on both stores: a payment
//! the bank returned (`.../payments/{reference}/reversal`), a refund of the advance
//! (`.../refunds`, §5.10), a void invoice (`.../invoices/{number}/void`) and a credit note
//! (`.../invoices/{number}/credit-notes`). Each endpoint's answer and events, and its
//! refusals, which record nothing.
//!
//! The tests named `..._in_the_views` read what the corrections do to the projections
//! (the invoice list, the agreement's advance): the figures are the spec's (BILLING.md
//! 5.2-5.3 with §5.9's penalty: total x 0.1% x days from the day after the due date).
//!
//! The stories also read the reconciliation statement (`.../statement?from=&to=`: the
//! corrected document and its correction on lines of their own) and the journal
//! (`.../journal?as_of=`: balanced, its receivable what the balance says is due and its
//! advance account the advance held).
//!
//! The server's today is fixed at 2026-04-30 (`spawn_app_on`), so that a date after it
//! is refused whatever day the tests run on. Invoice 1 is 10,000.00 net, VAT 16%:
//! 11,600.00, issued 2026-02-02, due 2026-02-09.

use reqwest::StatusCode;
use serde_json::{json, Value};
use time::macros::date;

use crate::helpers::{invoice, participant_ids, spawn_app_on, Store, TestApp, OPERATOR_BIN};

crate::on_both_stores!(
    a_returned_payment_reopens_its_invoice,
    a_returned_payment_reopens_its_invoice_in_the_views,
    a_payment_is_reversed_once_and_only_a_recorded_one,
    a_refund_pays_back_the_advance_and_no_more,
    a_refund_emptying_the_advance_in_the_views,
    a_void_invoices_number_is_never_reused,
    a_void_invoices_number_is_never_reused_in_the_views,
    an_invoice_with_money_is_voided_only_once_the_money_is_reversed,
    a_credit_note_lowers_the_outstanding_and_takes_the_next_number,
    a_credit_note_lowers_the_outstanding_and_the_penalty_base_in_the_views,
    a_credit_note_withdraws_the_penalty_its_lower_base_no_longer_accrues,
    a_credit_note_beyond_what_is_owed_becomes_advance,
    a_credit_note_is_refused_beyond_the_net_and_with_lines_and_net,
    corrections_dated_after_today_or_before_registration_are_refused,
    an_import_takes_the_credit_notes_numbers_too,
);

const ID: &str = OPERATOR_BIN;
/// The server's today: dates after it are refused.
const TODAY: time::Date = date!(2026 - 04 - 30);

fn path(tail: &str) -> String {
    format!("/v1/agreements/{ID}{tail}")
}

/// A server whose today is [`TODAY`], with the agreement signed and invoice 1 issued;
/// the invoice's answer.
async fn with_invoice(store: Store) -> (TestApp, Value) {
    let app = spawn_app_on(store, TODAY).await;
    app.signed_agreement(ID).await;
    let issued = issue_invoice(&app, "2026-02-02").await;
    assert_eq!(issued["number"], "1", "{issued}");
    assert_eq!(issued["total"], "11600.00", "{issued}");
    assert_eq!(issued["due_on"], "2026-02-09", "{issued}");
    (app, issued)
}

async fn issue_invoice(app: &TestApp, issued_on: &str) -> Value {
    let response = app
        .post(&path("/invoices"), &invoice(issued_on, "10000.00"))
        .await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

async fn pay(app: &TestApp, reference: &str, received_on: &str, amount: &str) -> Value {
    let response = app
        .post(
            &path("/payments"),
            &json!({"reference": reference, "received_on": received_on, "amount": amount}),
        )
        .await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

/// Posts `body` to `tail` and expects `status` with this answer.
async fn answered(app: &TestApp, tail: &str, body: &Value, status: u16) -> Value {
    let response = app.post(&path(tail), body).await;
    let got = response.status();
    let answer: Value = response.json().await.unwrap();
    assert_eq!(got, status, "POST {tail} {body}: {answer}");
    answer
}

/// Posts `body` to `tail` and expects a refusal: `status` as problem+json with `clause`
/// (when one is given), and nothing recorded; the problem.
async fn refused(
    app: &TestApp,
    tail: &str,
    body: &Value,
    status: u16,
    clause: Option<&str>,
) -> Value {
    let events_before = app.event_count().await;
    let response = app.post(&path(tail), body).await;
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json",
        "POST {tail} {body}"
    );
    let got = response.status();
    let problem: Value = response.json().await.unwrap();
    assert_eq!(got, status, "POST {tail} {body}: {problem}");
    assert_eq!(problem["status"], status, "{problem}");
    if let Some(clause) = clause {
        assert_eq!(problem["clause"], clause, "POST {tail} {body}: {problem}");
    }
    assert_eq!(
        app.event_count().await,
        events_before,
        "a refused POST {tail} records nothing"
    );
    problem
}

/// The last event of the agreement, as `GET .../events` lists it.
async fn last_event(app: &TestApp) -> Value {
    app.events(ID).await.pop().expect("an event")
}

async fn invoice_row(app: &TestApp, as_of: &str, number: &str) -> Value {
    let rows = app
        .get_json(&path(&format!("/invoices?as_of={as_of}")))
        .await;
    rows.as_array()
        .unwrap()
        .iter()
        .find(|row| row["number"] == number)
        .unwrap_or_else(|| panic!("invoice {number} as of {as_of}: {rows}"))
        .clone()
}

/// The statement from `from` to `to`, checked to add up (closing = opening + debits -
/// credits), and its lines as `[date, document, debit, credit, clause]`.
async fn statement(app: &TestApp, from: &str, to: &str) -> (Value, Value) {
    let statement = app
        .get_json(&path(&format!("/statement?from={from}&to={to}")))
        .await;
    let amount = |field: &str| -> rust_decimal::Decimal {
        statement[field].as_str().unwrap().parse().unwrap()
    };
    assert_eq!(
        amount("closing"),
        amount("opening") + amount("debits") - amount("credits"),
        "{statement}"
    );
    let lines = statement["lines"]
        .as_array()
        .unwrap_or_else(|| panic!("{statement}"))
        .iter()
        .map(|l| {
            json!([
                l["date"],
                l["document"],
                l["debit"],
                l["credit"],
                l["clause"]
            ])
        })
        .collect();
    (statement, lines)
}

/// The journal as of `as_of`, checked: debits equal credits, the receivable is the
/// balance's `total_due` and the advance account (a credit) the balance's `advance`.
async fn journal(app: &TestApp, as_of: &str) -> Value {
    let journal = app
        .get_json(&path(&format!("/journal?as_of={as_of}")))
        .await;
    assert_eq!(journal["debits"], journal["credits"], "{journal}");
    let balance = app
        .get_json(&path(&format!("/balance?as_of={as_of}")))
        .await;
    let account = |name: &str| -> rust_decimal::Decimal {
        journal["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["account"] == name)
            .map_or(rust_decimal::Decimal::ZERO, |a| {
                a["balance"].as_str().unwrap().parse().unwrap()
            })
    };
    let figure = |field: &str| -> rust_decimal::Decimal {
        balance[field].as_str().unwrap().parse().unwrap()
    };
    assert_eq!(
        account("receivable"),
        figure("total_due"),
        "{journal}\n{balance}"
    );
    assert_eq!(
        -account("advance"),
        figure("advance"),
        "{journal}\n{balance}"
    );
    journal
}

/// The journal's postings of one document, as `[date, account, debit, credit]`.
fn postings(journal: &Value, document: &str) -> Value {
    journal["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["document"] == document)
        .map(|e| json!([e["date"], e["account"], e["debit"], e["credit"]]))
        .collect()
}

/// Invoice 1 paid in full on 2026-02-05 (before its due date) by BANK-1, and the bank's
/// return of that payment recorded on 2026-03-02; the reversal's answer.
async fn returned_payment(app: &TestApp) -> Value {
    let payment = pay(app, "BANK-1", "2026-02-05", "11600.00").await;
    assert_eq!(payment["allocations"][0]["principal"], "11600.00");
    let reversal = answered(
        app,
        "/payments/BANK-1/reversal",
        &json!({"on": "2026-03-02", "reason": "returned by the bank: account closed"}),
        200,
    )
    .await;
    assert_eq!(
        reversal,
        json!({
            "reference": "BANK-1",
            "received_on": "2026-02-05",
            "amount": "11600.00",
            "currency": "KZT",
            "reversed_on": "2026-03-02",
            "reopened": [{
                "number": "1",
                "issued_on": "2026-02-02",
                "due_on": "2026-02-09",
                "total": "11600.00",
                "taken_back": "11600.00",
                "paid": "0.00",
                "outstanding": "11600.00",
                "penalty_owed": "0.00",
                "fine_owed": "0.00"
            }],
            "advance_removed": "0.00",
            "advance": "0.00",
            "reason": "returned by the bank: account closed",
            "clause": "BILLING-5.2"
        })
    );
    reversal
}

async fn a_returned_payment_reopens_its_invoice(store: Store) {
    let (app, _) = with_invoice(store).await;
    returned_payment(&app).await;
    let reversed = last_event(&app).await;
    assert_eq!(reversed["type"], "PaymentReversed", "{reversed}");
    assert_eq!(reversed["clause"], "BILLING-5.2");
    assert_eq!(reversed["command"], "ReversePayment");
    let payload = &reversed["payload"];
    assert_eq!(payload["reference"], "BANK-1");
    assert_eq!(payload["on"], "2026-03-02");
    assert_eq!(payload["taken_back"][0]["invoice_number"], "1");
    assert_eq!(payload["taken_back"][0]["principal"]["amount"], "11600.00");
    assert_eq!(payload["advance_removed"]["amount"], "0.00");
    // The statement keeps the payment and shows the bank's return of it, a debit: the
    // invoice is owed again.
    let (shown, lines) = statement(&app, "2026-02-01", "2026-03-31").await;
    assert_eq!(
        lines,
        json!([
            ["2026-02-02", "invoice 1", "11600.00", "0.00", "5.4"],
            ["2026-02-05", "payment BANK-1", "0.00", "11600.00", "5.5"],
            [
                "2026-03-02",
                "reversal of payment BANK-1: returned by the bank: account closed",
                "11600.00",
                "0.00",
                "BILLING-5.2"
            ],
        ]),
        "{shown}"
    );
    assert_eq!(shown["closing"], "11600.00", "{shown}");
    // The journal takes the money out of the bank and puts it back on the receivable.
    let entries = journal(&app, "2026-03-31").await;
    assert_eq!(
        postings(&entries, "reversal of payment BANK-1"),
        json!([
            ["2026-03-02", "bank", "0.00", "11600.00"],
            ["2026-03-02", "receivable", "11600.00", "0.00"],
        ]),
        "{entries}"
    );
    app.finish().await;
}

/// Story (a): after the reversal the invoice is unpaid and its penalty accrues from the
/// day after its due date (§5.9): 11,600.00 x 0.1% x 30 days (2026-02-10 to 2026-03-11)
/// = 348.00. Depends on the projections of the corrections.
async fn a_returned_payment_reopens_its_invoice_in_the_views(store: Store) {
    let (app, _) = with_invoice(store).await;
    returned_payment(&app).await;
    let row = invoice_row(&app, "2026-03-11", "1").await;
    assert_eq!(row["paid"], "0.00", "{row}");
    assert_eq!(row["outstanding"], "11600.00", "{row}");
    assert_eq!(row["status"], "overdue", "{row}");
    assert_eq!(row["days_late"], 30, "{row}");
    assert_eq!(row["penalty_accrued"], "348.00", "{row}");
    let balance = app.get_json(&path("/balance?as_of=2026-03-11")).await;
    assert_eq!(balance["outstanding"], "11600.00", "{balance}");
    assert_eq!(balance["paid"], "0.00", "{balance}");
    app.finish().await;
}

async fn a_payment_is_reversed_once_and_only_a_recorded_one(store: Store) {
    let (app, _) = with_invoice(store).await;
    let reversal = json!({"on": "2026-03-02", "reason": "chargeback"});
    refused(&app, "/payments/UNKNOWN-7/reversal", &reversal, 404, None).await;
    pay(&app, "BANK-1", "2026-02-05", "11600.00").await;
    // Not before the payment was received.
    refused(
        &app,
        "/payments/BANK-1/reversal",
        &json!({"on": "2026-02-04", "reason": "chargeback"}),
        422,
        Some("BILLING-5.2"),
    )
    .await;
    answered(&app, "/payments/BANK-1/reversal", &reversal, 200).await;
    refused(
        &app,
        "/payments/BANK-1/reversal",
        &reversal,
        409,
        Some("BILLING-5.2"),
    )
    .await;
    // A malformed body names its field; an unknown agreement is 404.
    refused(
        &app,
        "/payments/BANK-1/reversal",
        &json!({"on": "2026-03-02"}),
        400,
        None,
    )
    .await;
    let unregistered = participant_ids(1).remove(0);
    let response = app
        .post(
            &format!("/v1/agreements/{unregistered}/payments/BANK-1/reversal"),
            &reversal,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    app.finish().await;
}

/// Overpays invoice 1 by 1,000.00 (kept as advance); the payment's answer.
async fn overpaid(app: &TestApp) -> Value {
    let payment = pay(app, "OVER-1", "2026-02-05", "12600.00").await;
    assert_eq!(payment["advance"], "1000.00", "{payment}");
    payment
}

fn refund(reference: &str, on: &str, amount: &str) -> Value {
    json!({"reference": reference, "on": on, "amount": amount,
           "reason": "the participant asked for the overpayment back"})
}

async fn a_refund_pays_back_the_advance_and_no_more(store: Store) {
    let (app, _) = with_invoice(store).await;
    overpaid(&app).await;
    // §5.10: only the advance is paid back, never more.
    refused(
        &app,
        "/refunds",
        &refund("REFUND-0", "2026-02-10", "1000.01"),
        422,
        Some("5.10"),
    )
    .await;
    let body = refund("REFUND-1", "2026-02-10", "1000.00");
    let first = answered(&app, "/refunds", &body, 201).await;
    assert_eq!(
        first,
        json!({
            "reference": "REFUND-1",
            "on": "2026-02-10",
            "amount": "1000.00",
            "currency": "KZT",
            "advance_remaining": "0.00",
            "reason": "the participant asked for the overpayment back",
            "clause": "5.10"
        })
    );
    let refunded = last_event(&app).await;
    assert_eq!(refunded["type"], "AdvanceRefunded", "{refunded}");
    assert_eq!(refunded["clause"], "5.10");
    assert_eq!(refunded["payload"]["advance_remaining"]["amount"], "0.00");

    // The same refund again (the same reference, amount and date) records nothing and
    // is answered with the first.
    let events = app.event_count().await;
    let repeat = answered(&app, "/refunds", &body, 200).await;
    assert_eq!(repeat, first);
    assert_eq!(app.event_count().await, events);
    // The reference with another amount is another refund under a used reference.
    refused(
        &app,
        "/refunds",
        &refund("REFUND-1", "2026-02-10", "500.00"),
        409,
        Some("5.10"),
    )
    .await;
    // Story (d): the advance is empty; not a tiyn more.
    refused(
        &app,
        "/refunds",
        &refund("REFUND-2", "2026-02-11", "0.01"),
        422,
        Some("5.10"),
    )
    .await;
    // The statement shows the refund once, a debit (the money went back): nothing is
    // owed either way.
    let (shown, lines) = statement(&app, "2026-02-01", "2026-02-28").await;
    assert_eq!(
        lines,
        json!([
            ["2026-02-02", "invoice 1", "11600.00", "0.00", "5.4"],
            ["2026-02-05", "payment OVER-1", "0.00", "12600.00", "5.5"],
            [
                "2026-02-10",
                "refund REFUND-1 of advance",
                "1000.00",
                "0.00",
                "5.10"
            ],
        ]),
        "{shown}"
    );
    assert_eq!(shown["closing"], "0.00", "{shown}");
    // The journal pays the advance out of the bank.
    let entries = journal(&app, "2026-02-28").await;
    assert_eq!(
        postings(&entries, "payment OVER-1"),
        json!([
            ["2026-02-05", "bank", "12600.00", "0.00"],
            ["2026-02-05", "receivable", "0.00", "11600.00"],
            ["2026-02-05", "advance", "0.00", "1000.00"],
        ]),
        "{entries}"
    );
    assert_eq!(
        postings(&entries, "refund REFUND-1 of advance"),
        json!([
            ["2026-02-10", "advance", "1000.00", "0.00"],
            ["2026-02-10", "bank", "0.00", "1000.00"],
        ]),
        "{entries}"
    );
    app.finish().await;
}

/// Story (d) in the views: the agreement's advance, 1,000.00 after the overpayment, is
/// 0.00 after the refund. Depends on the projections of the corrections.
async fn a_refund_emptying_the_advance_in_the_views(store: Store) {
    let (app, _) = with_invoice(store).await;
    overpaid(&app).await;
    let agreement = app.get_json(&path("")).await;
    assert_eq!(agreement["advance"], "1000.00", "{agreement}");
    answered(
        &app,
        "/refunds",
        &refund("REFUND-1", "2026-02-10", "1000.00"),
        201,
    )
    .await;
    let agreement = app.get_json(&path("")).await;
    assert_eq!(agreement["advance"], "0.00", "{agreement}");
    let balance = app.get_json(&path("/balance?as_of=2026-02-28")).await;
    assert_eq!(balance["advance"], "0.00", "{balance}");
    assert_eq!(balance["total_due"], "0.00", "{balance}");
    // The journal agrees: the advance account and the receivable are both at zero.
    let entries = journal(&app, "2026-02-28").await;
    assert!(
        entries["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["account"] == "advance" || a["account"] == "receivable")
            .all(|a| a["balance"] == "0.00"),
        "{entries}"
    );
    app.finish().await;
}

fn void(on: &str) -> Value {
    json!({"on": on, "reason": "issued to the wrong participant"})
}

/// Story (b): invoice 1 voided, then another invoice issued: it takes number 2; the
/// void one is never reissued. Voiding it twice is 409; the void's answer.
async fn voided_then_reissued(app: &TestApp) -> Value {
    let voided = answered(app, "/invoices/1/void", &void("2026-02-03"), 200).await;
    assert_eq!(
        voided,
        json!({
            "number": "1",
            "status": "void",
            "voided_on": "2026-02-03",
            "total_cancelled": "11600.00",
            "penalty_cancelled": "0.00",
            "fine_cancelled": "0.00",
            "reason": "issued to the wrong participant",
            "clause": "BILLING-5.3"
        })
    );
    refused(
        app,
        "/invoices/1/void",
        &void("2026-02-03"),
        409,
        Some("BILLING-5.3"),
    )
    .await;
    // The statement shows the invoice and its cancellation, a credit of its total: the
    // invoice alone closes at zero.
    let (shown, lines) = statement(app, "2026-02-01", "2026-02-03").await;
    assert_eq!(
        lines,
        json!([
            ["2026-02-02", "invoice 1", "11600.00", "0.00", "5.4"],
            [
                "2026-02-03",
                "cancellation of invoice 1: issued to the wrong participant",
                "0.00",
                "11600.00",
                "BILLING-5.3"
            ],
        ]),
        "{shown}"
    );
    assert_eq!(shown["closing"], "0.00", "{shown}");
    // The journal reverses the invoice's entries.
    let entries = journal(app, "2026-02-03").await;
    assert_eq!(
        postings(&entries, "cancellation of invoice 1"),
        json!([
            ["2026-02-03", "revenue", "10000.00", "0.00"],
            ["2026-02-03", "vat_payable", "1600.00", "0.00"],
            ["2026-02-03", "receivable", "0.00", "11600.00"],
        ]),
        "{entries}"
    );
    let next = issue_invoice(app, "2026-02-03").await;
    assert_eq!(next["number"], "2", "{next}");
    voided
}

async fn a_void_invoices_number_is_never_reused(store: Store) {
    let (app, _) = with_invoice(store).await;
    voided_then_reissued(&app).await;
    let types = app.event_types(ID).await;
    assert_eq!(
        types[types.len() - 2..],
        ["InvoiceVoided", "InvoiceIssued"],
        "{types:?}"
    );
    let voided = app
        .events(ID)
        .await
        .into_iter()
        .find(|e| e["type"] == "InvoiceVoided")
        .unwrap();
    assert_eq!(voided["clause"], "BILLING-5.3");
    assert_eq!(voided["payload"]["number"], "1");
    // An unknown invoice is 404; a malformed number in the path 400.
    refused(&app, "/invoices/99/void", &void("2026-02-03"), 404, None).await;
    refused(&app, "/invoices/x1/void", &void("2026-02-03"), 400, None).await;
    // The statement keeps the void invoice and its cancellation; invoice 2 is what is
    // owed.
    let (shown, lines) = statement(&app, "2026-02-01", "2026-02-28").await;
    assert_eq!(lines.as_array().unwrap().len(), 3, "{shown}");
    assert_eq!(
        lines[2],
        json!(["2026-02-03", "invoice 2", "11600.00", "0.00", "5.4"]),
        "{shown}"
    );
    assert_eq!(shown["closing"], "11600.00", "{shown}");
    journal(&app, "2026-02-28").await;
    app.finish().await;
}

/// Story (b) in the views: the void invoice lists with status `void`, nothing
/// outstanding and no penalty, long after its due date. Depends on the projections of
/// the corrections.
async fn a_void_invoices_number_is_never_reused_in_the_views(store: Store) {
    let (app, _) = with_invoice(store).await;
    voided_then_reissued(&app).await;
    let row = invoice_row(&app, "2026-03-31", "1").await;
    assert_eq!(row["status"], "void", "{row}");
    assert_eq!(row["outstanding"], "0.00", "{row}");
    assert_eq!(row["penalty_accrued"], "0.00", "{row}");
    let other = invoice_row(&app, "2026-03-31", "2").await;
    assert_eq!(other["outstanding"], "11600.00", "{other}");
    app.finish().await;
}

/// BILLING.md 5.3: an invoice with money allocated must first have that money reversed
/// (409, saying so); then it can be voided. A void with an Idempotency-Key answers a
/// retry with the first answer.
async fn an_invoice_with_money_is_voided_only_once_the_money_is_reversed(store: Store) {
    let (app, _) = with_invoice(store).await;
    pay(&app, "PART-1", "2026-02-05", "100.00").await;
    refused(
        &app,
        "/invoices/1/void",
        &void("2026-02-06"),
        409,
        Some("BILLING-5.3"),
    )
    .await;
    answered(
        &app,
        "/payments/PART-1/reversal",
        &json!({"on": "2026-02-06", "reason": "misdirected"}),
        200,
    )
    .await;
    let post_with_key = || {
        app.client
            .post(app.url(&path("/invoices/1/void")))
            .header("idempotency-key", "void-invoice-1")
            .json(&void("2026-02-06"))
            .send()
    };
    let first = post_with_key().await.unwrap();
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["status"], "void");
    let events = app.event_count().await;
    let retry = post_with_key().await.unwrap();
    assert_eq!(retry.status(), 200);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(retry.json::<Value>().await.unwrap(), first);
    assert_eq!(app.event_count().await, events);
    // The statement: the invoice, the payment and its reversal, the cancellation; the
    // invoice alone closes at zero.
    let (shown, lines) = statement(&app, "2026-02-01", "2026-02-28").await;
    assert_eq!(
        lines,
        json!([
            ["2026-02-02", "invoice 1", "11600.00", "0.00", "5.4"],
            ["2026-02-05", "payment PART-1", "0.00", "100.00", "5.5"],
            [
                "2026-02-06",
                "reversal of payment PART-1: misdirected",
                "100.00",
                "0.00",
                "BILLING-5.2"
            ],
            [
                "2026-02-06",
                "cancellation of invoice 1: issued to the wrong participant",
                "0.00",
                "11600.00",
                "BILLING-5.3"
            ],
        ]),
        "{shown}"
    );
    assert_eq!(shown["closing"], "0.00", "{shown}");
    let entries = journal(&app, "2026-02-28").await;
    assert_eq!(
        postings(&entries, "reversal of payment PART-1"),
        json!([
            ["2026-02-06", "bank", "0.00", "100.00"],
            ["2026-02-06", "receivable", "100.00", "0.00"],
        ]),
        "{entries}"
    );
    assert_eq!(
        postings(&entries, "cancellation of invoice 1"),
        json!([
            ["2026-02-06", "revenue", "10000.00", "0.00"],
            ["2026-02-06", "vat_payable", "1600.00", "0.00"],
            ["2026-02-06", "receivable", "0.00", "11600.00"],
        ]),
        "{entries}"
    );
    app.finish().await;
}

fn credit_net(on: &str, net: &str) -> Value {
    json!({"on": on, "reason": "the service was down for a week", "net": net})
}

/// Story (c): a credit note of 2,500.00 net on invoice 1 (VAT at the invoice's rate:
/// 400.00; total 2,900.00) takes number 2; the invoice owes 11,600.00 - 2,900.00 =
/// 8,700.00; the next invoice takes number 3. The credit note's answer.
async fn credited(app: &TestApp, issued: &Value) -> Value {
    let credit = answered(
        app,
        "/invoices/1/credit-notes",
        &credit_net("2026-02-20", "2500.00"),
        201,
    )
    .await;
    assert_eq!(
        credit,
        json!({
            "number": "2",
            "related_invoice": "1",
            "issued_on": "2026-02-20",
            "lines": [],
            "net": "2500.00",
            "vat_rate": issued["vat_rate"],
            "vat": "400.00",
            "total": "2900.00",
            "currency": "KZT",
            "to_advance": "0.00",
            "related_invoice_outstanding": "8700.00",
            "withdrawn": [],
            "reason": "the service was down for a week",
            "clause": "BILLING-5.3"
        })
    );
    let next = issue_invoice(app, "2026-02-20").await;
    assert_eq!(next["number"], "3", "{next}");
    // The statement shows the credit note against its invoice, a credit of its total.
    let (shown, lines) = statement(app, "2026-02-01", "2026-02-28").await;
    assert_eq!(
        lines,
        json!([
            ["2026-02-02", "invoice 1", "11600.00", "0.00", "5.4"],
            [
                "2026-02-20",
                "credit note 2 to invoice 1",
                "0.00",
                "2900.00",
                "BILLING-5.3"
            ],
            ["2026-02-20", "invoice 3", "11600.00", "0.00", "5.4"],
        ]),
        "{shown}"
    );
    assert_eq!(
        shown["closing"], "20300.00",
        "11,600.00 - 2,900.00 + 11,600.00: {shown}"
    );
    // The journal takes revenue and VAT back off the receivable.
    let entries = journal(app, "2026-02-28").await;
    assert_eq!(
        postings(&entries, "credit note 2 to invoice 1"),
        json!([
            ["2026-02-20", "revenue", "2500.00", "0.00"],
            ["2026-02-20", "vat_payable", "400.00", "0.00"],
            ["2026-02-20", "receivable", "0.00", "2900.00"],
        ]),
        "{entries}"
    );
    credit
}

async fn a_credit_note_lowers_the_outstanding_and_takes_the_next_number(store: Store) {
    let (app, issued) = with_invoice(store).await;
    assert_eq!(issued["vat_rate"], "0.16", "{issued}");
    credited(&app, &issued).await;
    let events = app.events(ID).await;
    let credit = events
        .iter()
        .find(|e| e["type"] == "CreditNoteIssued")
        .unwrap();
    assert_eq!(credit["clause"], "BILLING-5.3");
    assert_eq!(credit["command"], "IssueCreditNote");
    assert_eq!(credit["payload"]["number"], "2");
    assert_eq!(credit["payload"]["related_invoice"], "1");
    assert_eq!(credit["payload"]["vat"]["rate"], "0.16");
    // By lines: credited at their prices, VAT added at the invoice's rate.
    let by_lines = answered(
        &app,
        "/invoices/1/credit-notes",
        &json!({"on": "2026-02-20", "reason": "one seat fewer",
                "lines": [{"description": "E-DOC seat", "quantity": 2, "unit_price": "500.00"}]}),
        201,
    )
    .await;
    assert_eq!(by_lines["number"], "4", "{by_lines}");
    assert_eq!(by_lines["lines"][0]["amount"], "1000.00", "{by_lines}");
    assert_eq!(by_lines["net"], "1000.00");
    assert_eq!(by_lines["vat"], "160.00");
    assert_eq!(by_lines["total"], "1160.00");
    assert_eq!(by_lines["related_invoice_outstanding"], "7540.00");
    let (shown, lines) = statement(&app, "2026-02-01", "2026-02-28").await;
    assert_eq!(
        lines[3],
        json!([
            "2026-02-20",
            "credit note 4 to invoice 1",
            "0.00",
            "1160.00",
            "BILLING-5.3"
        ]),
        "{shown}"
    );
    assert_eq!(
        shown["closing"], "19140.00",
        "20,300.00 - 1,160.00: {shown}"
    );
    let entries = journal(&app, "2026-02-28").await;
    assert_eq!(
        postings(&entries, "credit note 4 to invoice 1"),
        json!([
            ["2026-02-20", "revenue", "1000.00", "0.00"],
            ["2026-02-20", "vat_payable", "160.00", "0.00"],
            ["2026-02-20", "receivable", "0.00", "1160.00"],
        ]),
        "{entries}"
    );
    app.finish().await;
}

/// Story (c) in the views: the invoice's outstanding drops by the credit note's total,
/// and its penalty base is its total less its credit notes for every day (BILLING.md
/// 5.3): 8,700.00 x 0.1% x 30 days (2026-02-10 to 2026-03-11) = 261.00. Depends on the
/// projections of the corrections.
async fn a_credit_note_lowers_the_outstanding_and_the_penalty_base_in_the_views(store: Store) {
    let (app, issued) = with_invoice(store).await;
    credited(&app, &issued).await;
    let row = invoice_row(&app, "2026-03-11", "1").await;
    assert_eq!(row["outstanding"], "8700.00", "{row}");
    assert_eq!(row["days_late"], 30, "{row}");
    assert_eq!(row["penalty_accrued"], "261.00", "{row}");
    app.finish().await;
}

/// A penalty charged on the full total, then a credit note: the part its lower base no
/// longer accrues is withdrawn, naming the credit note. Charged on 2026-03-01 (20 days):
/// 11,600.00 x 0.1% x 20 = 232.00; the credit note of 5,000.00 net (5,800.00) leaves a
/// base of 5,800.00, which accrues 116.00 by then: 116.00 withdrawn.
async fn a_credit_note_withdraws_the_penalty_its_lower_base_no_longer_accrues(store: Store) {
    let (app, _) = with_invoice(store).await;
    let charge = answered(
        &app,
        "/charges",
        &json!({"invoice_number": "1", "kind": "penalty", "on": "2026-03-01"}),
        201,
    )
    .await;
    assert_eq!(charge["amount"], "232.00", "{charge}");
    let credit = answered(
        &app,
        "/invoices/1/credit-notes",
        &credit_net("2026-03-01", "5000.00"),
        201,
    )
    .await;
    assert_eq!(credit["total"], "5800.00", "{credit}");
    assert_eq!(
        credit["withdrawn"],
        json!([{
            "invoice_number": "1",
            "kind": "penalty",
            "charged_on": "2026-03-01",
            "amount": "116.00",
            "moved_to_advance": "0.00"
        }]),
        "{credit}"
    );
    let withdrawn = last_event(&app).await;
    assert_eq!(withdrawn["type"], "LateChargeWithdrawn", "{withdrawn}");
    assert_eq!(withdrawn["payload"]["credit_note"], credit["number"]);
    assert_eq!(withdrawn["clause"], "BILLING-5.3");
    // The statement: the penalty, the credit note and the part of the penalty withdrawn.
    let (shown, lines) = statement(&app, "2026-02-01", "2026-03-31").await;
    let lines = lines.as_array().unwrap();
    assert_eq!(lines.len(), 4, "{shown}");
    assert_eq!(
        lines[..3],
        [
            json!(["2026-02-02", "invoice 1", "11600.00", "0.00", "5.4"]),
            json!([
                "2026-03-01",
                "penalty on invoice 1",
                "232.00",
                "0.00",
                "5.9"
            ]),
            json!([
                "2026-03-01",
                "credit note 2 to invoice 1",
                "0.00",
                "5800.00",
                "BILLING-5.3"
            ]),
        ],
        "{shown}"
    );
    assert_eq!(lines[3][0], "2026-03-01", "{shown}");
    assert!(
        lines[3][1]
            .as_str()
            .unwrap()
            .starts_with("withdrawal of penalty on invoice 1"),
        "{shown}"
    );
    assert_eq!(
        (&lines[3][2], &lines[3][3], &lines[3][4]),
        (&json!("0.00"), &json!("116.00"), &json!("BILLING-5.3")),
        "{shown}"
    );
    assert_eq!(
        shown["closing"], "5916.00",
        "11,600.00 + 232.00 - 5,800.00 - 116.00: {shown}"
    );
    journal(&app, "2026-03-31").await;
    app.finish().await;
}

/// Invoice 1 paid in full, then credited 1,000.00 net (1,160.00): nothing was owed of
/// it any more, so all of it becomes advance.
async fn a_credit_note_beyond_what_is_owed_becomes_advance(store: Store) {
    let (app, _) = with_invoice(store).await;
    pay(&app, "BANK-1", "2026-02-05", "11600.00").await;
    let credit = answered(
        &app,
        "/invoices/1/credit-notes",
        &credit_net("2026-02-10", "1000.00"),
        201,
    )
    .await;
    assert_eq!(credit["total"], "1160.00", "{credit}");
    assert_eq!(credit["to_advance"], "1160.00", "{credit}");
    assert_eq!(credit["related_invoice_outstanding"], "0.00", "{credit}");
    // The advance it made can be paid back, and no more.
    refused(
        &app,
        "/refunds",
        &refund("REFUND-1", "2026-02-10", "1160.01"),
        422,
        Some("5.10"),
    )
    .await;
    let refunded = answered(
        &app,
        "/refunds",
        &refund("REFUND-1", "2026-02-10", "1160.00"),
        201,
    )
    .await;
    assert_eq!(refunded["advance_remaining"], "0.00", "{refunded}");
    // The statement: the credit note's whole total a credit, the refund a debit.
    let (shown, lines) = statement(&app, "2026-02-01", "2026-02-28").await;
    assert_eq!(
        lines,
        json!([
            ["2026-02-02", "invoice 1", "11600.00", "0.00", "5.4"],
            ["2026-02-05", "payment BANK-1", "0.00", "11600.00", "5.5"],
            [
                "2026-02-10",
                "credit note 2 to invoice 1",
                "0.00",
                "1160.00",
                "BILLING-5.3"
            ],
            [
                "2026-02-10",
                "refund REFUND-1 of advance",
                "1160.00",
                "0.00",
                "5.10"
            ],
        ]),
        "{shown}"
    );
    assert_eq!(shown["closing"], "0.00", "{shown}");
    // In the journal the credit note's total goes to the advance, not the receivable.
    let entries = journal(&app, "2026-02-28").await;
    assert_eq!(
        postings(&entries, "credit note 2 to invoice 1"),
        json!([
            ["2026-02-10", "revenue", "1000.00", "0.00"],
            ["2026-02-10", "vat_payable", "160.00", "0.00"],
            ["2026-02-10", "advance", "0.00", "1160.00"],
        ]),
        "{entries}"
    );
    assert_eq!(
        postings(&entries, "refund REFUND-1 of advance"),
        json!([
            ["2026-02-10", "advance", "1160.00", "0.00"],
            ["2026-02-10", "bank", "0.00", "1160.00"],
        ]),
        "{entries}"
    );
    app.finish().await;
}

async fn a_credit_note_is_refused_beyond_the_net_and_with_lines_and_net(store: Store) {
    let (app, _) = with_invoice(store).await;
    let credit_notes = "/invoices/1/credit-notes";
    // Beyond the invoice's net (10,000.00), and then beyond what is not yet credited.
    refused(
        &app,
        credit_notes,
        &credit_net("2026-02-20", "10000.01"),
        422,
        Some("BILLING-5.3"),
    )
    .await;
    answered(
        &app,
        credit_notes,
        &credit_net("2026-02-20", "6000.00"),
        201,
    )
    .await;
    refused(
        &app,
        credit_notes,
        &credit_net("2026-02-20", "4000.01"),
        422,
        Some("BILLING-5.3"),
    )
    .await;
    // Either lines or net, exactly one of them.
    let line = json!([{"description": "E-DOC seat", "quantity": 1, "unit_price": "100.00"}]);
    for body in [
        json!({"on": "2026-02-20", "reason": "both", "net": "100.00", "lines": line}),
        json!({"on": "2026-02-20", "reason": "neither"}),
    ] {
        refused(&app, credit_notes, &body, 422, Some("BILLING-5.3")).await;
    }
    refused(
        &app,
        credit_notes,
        &credit_net("2026-02-20", "0.00"),
        422,
        Some("BILLING-5.3"),
    )
    .await;
    // What is left can be credited exactly: VAT to the tiyn of what is left.
    let rest = answered(
        &app,
        credit_notes,
        &credit_net("2026-02-20", "4000.00"),
        201,
    )
    .await;
    assert_eq!(rest["vat"], "640.00", "{rest}");
    assert_eq!(rest["related_invoice_outstanding"], "0.00", "{rest}");
    // An unknown invoice is 404; a void one has nothing to credit (409).
    refused(
        &app,
        "/invoices/77/credit-notes",
        &credit_net("2026-02-20", "1.00"),
        404,
        None,
    )
    .await;
    let fourth = issue_invoice(&app, "2026-02-20").await;
    assert_eq!(
        fourth["number"], "4",
        "after invoice 1 and credit notes 2 and 3"
    );
    answered(&app, "/invoices/4/void", &void("2026-02-20"), 200).await;
    refused(
        &app,
        "/invoices/4/credit-notes",
        &credit_net("2026-02-20", "1.00"),
        409,
        Some("BILLING-5.3"),
    )
    .await;
    app.finish().await;
}

/// Every correction is dated on a business date: not after today (2026-04-30), not before
/// the registration (2026-01-05). Each refused with 422, nothing recorded. Invoice 2 is
/// paid in part by PART-2 (named), so that invoice 1 has nothing allocated and can be
/// voided, and no advance is held.
async fn corrections_dated_after_today_or_before_registration_are_refused(store: Store) {
    let (app, _) = with_invoice(store).await;
    issue_invoice(&app, "2026-02-02").await;
    let response = app
        .post(
            &path("/payments"),
            &json!({"reference": "PART-2", "received_on": "2026-02-05", "amount": "100.00",
                    "invoice_number": "2"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let reason = "a date out of range";
    for (on, says) in [
        ("2026-05-01", "is in the future"),
        ("2026-01-02", "is before the participant's registration"),
    ] {
        for (tail, body, what) in [
            (
                "/payments/PART-2/reversal",
                json!({"on": on, "reason": reason}),
                "the reversal date",
            ),
            (
                "/refunds",
                refund("REFUND-1", on, "1.00"),
                "the refund date",
            ),
            (
                "/invoices/1/void",
                json!({"on": on, "reason": reason}),
                "the void date",
            ),
            (
                "/invoices/1/credit-notes",
                credit_net(on, "1.00"),
                "the credit note's date",
            ),
        ] {
            let problem = refused(&app, tail, &body, 422, None).await;
            let detail = problem["detail"].as_str().unwrap();
            // A reversal is refused first for preceding its payment (2026-02-05).
            let expected = if tail.contains("reversal") && on < "2026-02-05" {
                "before the payment was received".to_owned()
            } else {
                format!("{what} {on} {says}")
            };
            assert!(detail.contains(&expected), "{tail} on {on}: {detail}");
        }
    }
    app.finish().await;
}

/// An export loaded into an empty store rebuilds the numbers taken from the one series,
/// a credit note's as much as an invoice's (BILLING.md 5.3): the copy's next number is
/// the original's, so it never hands out a credit note's number again.
async fn an_import_takes_the_credit_notes_numbers_too(store: Store) {
    use api::application::export::{export, import, ExportSelection};
    use api::store::{LedgerEventRepository, StoreLocation};

    let (app, issued) = with_invoice(store).await;
    credited(&app, &issued).await;
    let repository = app.ledger.repository();
    let reference = app.ledger.reference().await.unwrap();
    let mut exported = Vec::new();
    export(
        repository,
        &ExportSelection::default(),
        &reference,
        time::OffsetDateTime::now_utc(),
        &mut exported,
        |_| {},
    )
    .await
    .expect("the export is written");

    let directory = tempfile::tempdir().unwrap();
    let (location, database) = match store {
        Store::Postgres => {
            let (url, name) = crate::helpers::fresh_postgres_database().await;
            (StoreLocation::Postgres(url), Some(name))
        }
        Store::Sqlite => (
            StoreLocation::Sqlite(directory.path().join("copy.sqlite")),
            None,
        ),
    };
    let copy = LedgerEventRepository::connect(&location).await.unwrap();
    let summary = import(
        &copy,
        || Ok(std::io::Cursor::new(exported.clone())),
        |_, _| {},
    )
    .await
    .expect("the export imports");
    // Invoice 1, credit note 2, invoice 3.
    assert_eq!(summary.invoice_numbers, 3);
    assert_eq!(summary.store_root, summary.export_root);
    let next = repository.next_invoice_number().await.unwrap();
    assert_eq!(next.value(), 4);
    assert_eq!(copy.next_invoice_number().await.unwrap(), next);
    copy.close().await;
    if let Some(name) = database {
        crate::helpers::drop_postgres_database(&name).await;
    }
    app.finish().await;
}
