//! The documents of an agreement over HTTP (issue 18, BILLING.md 6), on both stores: the
//! ESF of an invoice and of a credit note, their figures the JSON invoice's; who may read
//! them.

use serde_json::{json, Value};

use api::application::tokens::Role;

use crate::helpers::{invoice, spawn_app, spawn_app_on, Store};
use crate::on_both_stores;

on_both_stores!(
    an_invoice_and_its_credit_note_have_their_esf,
    the_esf_due_report_lists_what_is_not_produced_by_deadline,
);

const PARTICIPANT: &str = "120340001230";

/// The text of the first element named `name` (simple: the ESF's elements have no
/// attributes and the values tested no entities).
fn element<'a>(xml: &'a str, name: &str) -> &'a str {
    let open = format!("<{name}>");
    let start = xml
        .find(&open)
        .unwrap_or_else(|| panic!("no <{name}> in {xml}"))
        + open.len();
    let end = start + xml[start..].find('<').unwrap();
    &xml[start..end]
}

async fn an_invoice_and_its_credit_note_have_their_esf(store: Store) {
    let app = spawn_app(store).await;
    app.signed_agreement(PARTICIPANT).await;
    let mut body = invoice("2026-02-02", "10000.00");
    body["period"] = json!({"from": "2026-02-01", "to": "2026-02-28"});
    let response = app
        .post(&format!("/v1/agreements/{PARTICIPANT}/invoices"), &body)
        .await;
    assert_eq!(response.status(), 201);
    let issued: Value = response.json().await.unwrap();

    let response = app
        .get(&format!("/v1/agreements/{PARTICIPANT}/invoices/1/esf"))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/xml; charset=utf-8"
    );
    let xml = response.text().await.unwrap();
    assert!(xml.contains("<v2:invoice xmlns:a=\"abstractInvoice.esf\" xmlns:v2=\"v2.esf\">"));
    assert_eq!(element(&xml, "invoiceType"), "ORDINARY_INVOICE");
    assert_eq!(element(&xml, "num"), issued["number"].as_str().unwrap());
    assert_eq!(element(&xml, "date"), "02.02.2026");
    assert_eq!(element(&xml, "turnoverDate"), "28.02.2026");
    assert_eq!(issued["turnover_date"], "2026-02-28");
    // The seller is the configured operator, the customer the participant.
    let seller = &xml[xml.find("<seller>").unwrap()..];
    assert_eq!(element(seller, "tin"), "050140000656");
    assert_eq!(element(seller, "iik"), "KZ926010131000112233");
    let customer = &xml[xml.find("<customer>").unwrap()..];
    assert_eq!(element(customer, "tin"), PARTICIPANT);
    assert_eq!(element(customer, "name"), "ТОО «Ромашка»");
    // The figures are the JSON invoice's.
    assert_eq!(element(&xml, "totalPriceWithoutTax"), issued["net"]);
    assert_eq!(element(&xml, "totalNdsAmount"), issued["vat"]);
    assert_eq!(element(&xml, "totalPriceWithTax"), issued["total"]);
    assert_eq!(element(&xml, "ndsRate"), "16");
    assert_eq!(element(&xml, "description"), "E-DOC subscription");

    // A credit note of 2,500.00 net: an ADDITIONAL_INVOICE related to invoice 1.
    let response = app
        .post(
            &format!("/v1/agreements/{PARTICIPANT}/invoices/1/credit-notes"),
            &json!({"on": "2026-02-20", "reason": "the service was down for a week", "net": "2500.00"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let credit: Value = response.json().await.unwrap();
    let number = credit["number"].as_str().unwrap();
    let xml = app
        .get(&format!(
            "/v1/agreements/{PARTICIPANT}/invoices/{number}/esf"
        ))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(element(&xml, "invoiceType"), "ADDITIONAL_INVOICE");
    let related = &xml[xml.find("<relatedInvoice>").unwrap()..];
    assert_eq!(element(related, "num"), "1");
    assert_eq!(element(related, "date"), "02.02.2026");
    assert_eq!(element(&xml, "turnoverDate"), "20.02.2026");
    assert_eq!(element(&xml, "totalPriceWithoutTax"), "2500.00");
    assert_eq!(element(&xml, "totalNdsAmount"), "400.00");
    assert_eq!(element(&xml, "totalPriceWithTax"), "2900.00");

    // No such number: 404, problem+json.
    let response = app
        .get(&format!("/v1/agreements/{PARTICIPANT}/invoices/99/esf"))
        .await;
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );

    // A participant reads its own, and nobody else's (404 as for an unknown agreement).
    let own = app
        .token(Role::Participant, "romashka", Some(PARTICIPANT))
        .await;
    let response = app
        .send_as(
            reqwest::Method::GET,
            &format!("/v1/agreements/{PARTICIPANT}/invoices/1/esf"),
            Some(&format!("Bearer {own}")),
            None,
        )
        .await;
    assert_eq!(response.status(), 200);
    let other = app
        .token(Role::Participant, "other", Some("980511004560"))
        .await;
    let response = app
        .send_as(
            reqwest::Method::GET,
            &format!("/v1/agreements/{PARTICIPANT}/invoices/1/esf"),
            Some(&format!("Bearer {other}")),
            None,
        )
        .await;
    assert_eq!(response.status(), 404);
    app.finish().await;
}

/// `GET /v1/reports/esf-due` (BILLING.md 6): every invoice and credit note whose ESF is
/// not produced, with its deadline 15 calendar days after its turnover date, the most
/// urgent first; a produced one leaves the list, a voided invoice needs none.
async fn the_esf_due_report_lists_what_is_not_produced_by_deadline(store: Store) {
    let app = spawn_app_on(store, time::macros::date!(2026 - 03 - 10)).await;
    app.signed_agreement(PARTICIPANT).await;
    let path = format!("/v1/agreements/{PARTICIPANT}");
    let mut february = invoice("2026-02-02", "10000.00");
    february["period"] = json!({"from": "2026-02-01", "to": "2026-02-28"});
    assert_eq!(
        app.post(&format!("{path}/invoices"), &february)
            .await
            .status(),
        201
    );
    let response = app
        .post(
            &format!("{path}/invoices/1/credit-notes"),
            &json!({"on": "2026-02-20", "reason": "the service was down for a week", "net": "2500.00"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    // Invoice 3, issued by mistake and voided: no ESF is due for it.
    assert_eq!(
        app.post(
            &format!("{path}/invoices"),
            &invoice("2026-03-02", "100.00")
        )
        .await
        .status(),
        201
    );
    let response = app
        .post(
            &format!("{path}/invoices/3/void"),
            &json!({"on": "2026-03-03", "reason": "issued to the wrong participant"}),
        )
        .await;
    assert_eq!(response.status(), 200);

    let report = app.get_json("/v1/reports/esf-due").await;
    assert_eq!(report["as_of"], "2026-03-10");
    assert_eq!(report["total"], 2);
    assert_eq!(report["overdue"], 1);
    assert_eq!(
        report["documents"],
        json!([
            {"participant_id": PARTICIPANT, "number": "2", "document_type": "ADDITIONAL_INVOICE",
             "issued_on": "2026-02-20", "turnover_date": "2026-02-20", "deadline": "2026-03-07",
             "days_left": -3, "overdue": true},
            {"participant_id": PARTICIPANT, "number": "1", "document_type": "ORDINARY_INVOICE",
             "issued_on": "2026-02-02", "turnover_date": "2026-02-28", "deadline": "2026-03-15",
             "days_left": 5, "overdue": false},
        ]),
        "{report}"
    );

    // A page: the most urgent first; a bad limit is refused.
    let page = app.get_json("/v1/reports/esf-due?limit=1").await;
    assert_eq!(page["total"], 2);
    assert_eq!(page["documents"].as_array().unwrap().len(), 1);
    assert_eq!(page["documents"][0]["number"], "2");
    for bad in ["0", "1001", "x"] {
        let response = app.get(&format!("/v1/reports/esf-due?limit={bad}")).await;
        assert_eq!(response.status(), 400, "limit={bad}");
    }
    assert_eq!(app.get("/v1/reports/esf-due?page=2").await.status(), 400);

    // Produced (as `edoc-ledger esf export` records it): no longer due.
    let xml = app
        .get(&format!("{path}/invoices/1/esf"))
        .await
        .text()
        .await
        .unwrap();
    let first = app
        .ledger
        .repository()
        .record_esf_produced(&[api::store::EsfProducedRow {
            participant_id: PARTICIPANT.to_owned(),
            number: 1,
            document_type: "ORDINARY_INVOICE".to_owned(),
            issued_on: "2026-02-02".to_owned(),
            turnover_date: "2026-02-28".to_owned(),
            digest: api::application::statements::import::digest_of(xml.as_bytes()),
            produced_at: String::new(),
            produced_by: "test".to_owned(),
        }])
        .await
        .unwrap();
    assert_eq!(first, 1);
    let report = app.get_json("/v1/reports/esf-due").await;
    let numbers: Vec<&Value> = report["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|document| &document["number"])
        .collect();
    assert_eq!(numbers, [&json!("2")], "{report}");

    // Billing staff's report: a participant may not read it.
    let own = app
        .token(Role::Participant, "romashka", Some(PARTICIPANT))
        .await;
    let response = app
        .send_as(
            reqwest::Method::GET,
            "/v1/reports/esf-due",
            Some(&format!("Bearer {own}")),
            None,
        )
        .await;
    assert_eq!(response.status(), 403);
    app.finish().await;
}
