//! `GET /v1/agreements/{id}/balance?explain=true` end to end: every figure with the terms
//! it adds up to, each source the very event (sequence, type, hash) that
//! `GET /v1/agreements/{id}/events` lists; `explain=false` (or no `explain`) answers the
//! plain balance byte for byte; `explain` takes only `true` or `false`.
//!
//! The history (KZT, 2026: VAT 16%, MRP 4,325), with each event's sequence:
//!
//! | seq | date       | event                                                        |
//! |-----|------------|--------------------------------------------------------------|
//! | 1-2 | 01-05/06   | registered, signed                                           |
//! | 3   | 2026-02-02 | invoice 1: 100000.00 + 16000.00 VAT = 116000.00, due 02-09   |
//! | 4   | 2026-02-05 | PAY-1 58000.00 (on time)                                     |
//! | 5   | 2026-03-01 | PAY-2 58000.00: paid in full, 20 days late                   |
//! | 6   | 2026-03-02 | penalty charged: 116000.00 x 0.001 x 20 = 2320.00            |
//! | 7   | 2026-03-03 | 500.00 of it waived                                          |
//! | 8   | 2026-03-04 | PAY-3 2000.00: penalty 1820.00, advance 180.00               |
//! | 9   | 2026-03-05 | fine charged: 2 MRP = 8650.00                                |
//! | 10  | 2026-03-05 | the advance 180.00 applied to the fine                       |

use std::collections::{BTreeSet, HashMap};

use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::helpers::{invoice, spawn_app, Store, TestApp};

crate::on_both_stores!(
    an_explained_balance_walks_down_to_the_hashed_events,
    explain_takes_only_true_or_false,
);

const A: &str = crate::helpers::OPERATOR_BIN;
const AS_OF: &str = "2026-03-05";

async fn post_ok(app: &TestApp, tail: &str, body: Value) -> Value {
    let path = format!("/v1/agreements/{A}/{tail}");
    let response = app.post(&path, &body).await;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert!(
        status == 200 || status == 201,
        "POST {path} {body}: {status} {text}"
    );
    serde_json::from_str(&text).unwrap()
}

/// Records the history of the module comment.
async fn history(app: &TestApp) {
    app.signed_agreement(A).await;
    let issued = post_ok(app, "invoices", invoice("2026-02-02", "100000.00")).await;
    assert_eq!(
        (issued["total"].as_str(), issued["due_on"].as_str()),
        (Some("116000.00"), Some("2026-02-09"))
    );
    for (reference, on, amount) in [
        ("PAY-1", "2026-02-05", "58000.00"),
        ("PAY-2", "2026-03-01", "58000.00"),
    ] {
        post_ok(
            app,
            "payments",
            json!({"reference": reference, "received_on": on, "amount": amount}),
        )
        .await;
    }
    let penalty = post_ok(
        app,
        "charges",
        json!({"invoice_number": "1", "kind": "penalty", "on": "2026-03-02"}),
    )
    .await;
    assert_eq!(penalty["amount"], "2320.00");
    post_ok(app, "waivers", json!({"invoice_number": "1", "kind": "penalty", "amount": "500.00", "reason": "first delay", "on": "2026-03-03"})).await;
    let paid = post_ok(
        app,
        "payments",
        json!({"reference": "PAY-3", "received_on": "2026-03-04", "amount": "2000.00"}),
    )
    .await;
    assert_eq!(paid["advance"], "180.00");
    let fine = post_ok(
        app,
        "charges",
        json!({"invoice_number": "1", "kind": "fine", "on": "2026-03-05"}),
    )
    .await;
    assert_eq!(
        (
            fine["amount"].as_str(),
            fine["settled_from_advance"].as_str()
        ),
        (Some("8650.00"), Some("180.00"))
    );
}

async fn text(app: &TestApp, path: &str) -> (String, String) {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "GET {path}");
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    (content_type, response.text().await.unwrap())
}

fn money(value: &Value) -> Decimal {
    value
        .as_str()
        .unwrap_or_else(|| panic!("money is a string: {value}"))
        .parse()
        .unwrap()
}

async fn an_explained_balance_walks_down_to_the_hashed_events(store: Store) {
    let app = spawn_app(store).await;
    history(&app).await;
    let path = format!("/v1/agreements/{A}/balance?as_of={AS_OF}");

    // explain=false, and no explain at all, are the plain balance, byte for byte.
    let plain = text(&app, &path).await;
    assert_eq!(text(&app, &format!("{path}&explain=false")).await, plain);
    assert_eq!(plain.0, "application/json");
    // ... and what the handler answered before `explain` existed: `Json(BalanceView)`.
    let stored = app.ledger.repository().ledger(A).await.unwrap().unwrap();
    let view = stored
        .decode()
        .unwrap()
        .balance(
            events::business_date::parse(AS_OF).unwrap(),
            &app.ledger.reference().await.unwrap(),
        )
        .unwrap();
    assert_eq!(plain.1, serde_json::to_string(&view).unwrap());
    let plain: Value = serde_json::from_str(&plain.1).unwrap();
    assert!(plain.get("explanation").is_none());
    assert_eq!(plain["total_due"], "8470.00");

    // explain=true: the same fields, in the same order, then `explanation`.
    let (content_type, explained_text) = text(&app, &format!("{path}&explain=true")).await;
    assert_eq!(content_type, "application/json");
    let plain_text = text(&app, &path).await.1;
    assert!(
        explained_text.starts_with(&plain_text[..plain_text.len() - 1]),
        "{explained_text}"
    );
    let mut explained: Value = serde_json::from_str(&explained_text).unwrap();
    the_document_describes_the_answer(&app, &explained).await;
    let explanation = explained
        .as_object_mut()
        .unwrap()
        .remove("explanation")
        .unwrap();
    assert_eq!(explained, plain);

    // Every source is the event with that sequence, with its type and its hash.
    let events: HashMap<u64, Value> = app
        .events(A)
        .await
        .into_iter()
        .map(|e| (e["sequence"].as_u64().unwrap(), e))
        .collect();
    let figures = explanation.as_object().unwrap();
    let money_fields: Vec<&String> = plain
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| !["currency", "as_of", "clause", "fines_pending"].contains(&k.as_str()))
        .collect();
    assert_eq!(
        figures.keys().collect::<Vec<_>>(),
        money_fields,
        "one explanation per figure, in the balance's order"
    );
    let mut sources_checked = 0;
    for (name, figure) in figures {
        assert_eq!(figure["figure"], name.as_str());
        assert_eq!(figure["amount"], plain[name.as_str()], "{name}");
        let terms = figure["terms"].as_array().unwrap();
        let sum: Decimal = terms.iter().map(|t| money(&t["amount"])).sum();
        assert_eq!(
            sum,
            money(&figure["amount"]),
            "the terms of {name} add up to it"
        );
        for term in terms {
            for source in term["sources"].as_array().unwrap() {
                let sequence = source["sequence"].as_u64().unwrap();
                let event = &events[&sequence];
                assert!(event["hash"].is_string(), "{event}");
                assert_eq!(source["hash"], event["hash"], "{name}: {source}");
                assert_eq!(source["event_type"], event["type"], "{name}: {source}");
                sources_checked += 1;
            }
        }
    }
    assert!(sources_checked >= 20, "{sources_checked}");

    // By hand: the figures and where they come from.
    let rows = |name: &str| -> Vec<(String, String, Vec<u64>)> {
        explanation[name]["terms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["amount"].as_str().unwrap().to_owned(),
                    t["clause"].as_str().unwrap().to_owned(),
                    t["sources"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|s| s["sequence"].as_u64().unwrap())
                        .collect(),
                )
            })
            .collect()
    };
    let row = |amount: &str, clause: &str, sources: &[u64]| {
        (amount.to_owned(), clause.to_owned(), sources.to_vec())
    };
    assert_eq!(
        rows("outstanding"),
        [
            row("116000.00", "5.4", &[3]),
            row("-58000.00", "CC-282", &[4]),
            row("-58000.00", "CC-282", &[5])
        ]
    );
    assert_eq!(rows("penalties_accrued"), [row("2320.00", "5.9", &[3, 5])]);
    assert_eq!(
        rows("penalties_owed"),
        [
            row("2320.00", "5.9", &[6]),
            row("-500.00", "5.9", &[7]),
            row("-1820.00", "CC-282", &[8])
        ]
    );
    assert_eq!(
        rows("fines_owed"),
        [row("8650.00", "5.9", &[9]), row("-180.00", "CC-282", &[10])]
    );
    assert_eq!(
        rows("advance"),
        [
            row("180.00", "CC-282", &[8]),
            row("-180.00", "CC-282", &[10])
        ]
    );
    let total_due: Vec<_> = explanation["total_due"]["terms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["figure"].as_str().unwrap(), t["amount"].as_str().unwrap()))
        .collect();
    assert_eq!(
        total_due,
        [
            ("outstanding", "0.00"),
            ("penalties_owed", "0.00"),
            ("fines_owed", "8470.00")
        ]
    );
    assert_eq!(
        explanation["penalties_accrued"]["terms"][0]["sources"][1]["on"],
        "2026-03-01"
    );
    app.finish().await;
}

/// The property names of a schema of the OpenAPI document, through `$ref` and `allOf`.
fn properties(document: &Value, schema: &Value) -> BTreeSet<String> {
    let mut schema = schema;
    while let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        schema = &document["components"]["schemas"][name];
    }
    let mut names: BTreeSet<String> = schema["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    for part in schema["allOf"].as_array().into_iter().flatten() {
        names.extend(properties(document, part));
    }
    names
}

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().unwrap().keys().cloned().collect()
}

/// `/openapi.json` describes the explained answer as it is served: every object of it
/// has exactly the properties its schema names.
async fn the_document_describes_the_answer(app: &TestApp, answer: &Value) {
    let document = app.get_json("/openapi.json").await;
    let schema = |name: &str| json!({ "$ref": format!("#/components/schemas/{name}") });
    assert_eq!(
        keys(answer),
        properties(&document, &schema("BalanceExplanation"))
    );
    let explanation = &answer["explanation"];
    assert_eq!(
        keys(explanation),
        properties(&document, &schema("FigureExplanations"))
    );
    let figure = properties(&document, &schema("FigureExplanation"));
    let term = properties(&document, &schema("FigureTerm"));
    let source = properties(&document, &schema("EventRef"));
    for value in explanation.as_object().unwrap().values() {
        assert_eq!(keys(value), figure);
        for t in value["terms"].as_array().unwrap() {
            assert_eq!(keys(t), term);
            for s in t["sources"].as_array().unwrap() {
                assert_eq!(keys(s), source);
            }
        }
    }
}

async fn explain_takes_only_true_or_false(store: Store) {
    let app = spawn_app(store).await;
    app.signed_agreement(A).await;
    for bad in ["yes", "1", "TRUE", ""] {
        let path = format!("/v1/agreements/{A}/balance?as_of=2026-03-05&explain={bad}");
        let response = app.get(&path).await;
        assert_eq!(response.status(), 400, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{path}"
        );
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["status"], 400);
        assert!(
            problem["detail"].as_str().unwrap().contains("explain"),
            "{problem}"
        );
    }
    // Before registration it is a 404 like the plain balance.
    let response = app
        .get(&format!(
            "/v1/agreements/{A}/balance?as_of=2025-12-31&explain=true"
        ))
        .await;
    assert_eq!(response.status(), 404);
    app.finish().await;
}
