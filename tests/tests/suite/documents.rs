//! The documents of an agreement over HTTP (issue 18, BILLING.md 6), on both stores: the
//! ESF of an invoice and of a credit note, their figures the JSON invoice's; the act of
//! completed work and the reconciliation statement as PDF, read back with `pdftotext`
//! (poppler-utils, which `.ci/run` installs), their figures the JSON answers'; who may
//! read them.

use serde_json::{json, Value};

use api::application::tokens::Role;

use crate::helpers::{invoice, spawn_app, spawn_app_on, Store};
use crate::on_both_stores;

on_both_stores!(
    an_invoice_and_its_credit_note_have_their_esf,
    the_esf_due_report_lists_what_is_not_produced_by_deadline,
    the_act_of_a_month_lists_its_services_with_the_json_figures,
    the_printed_statement_is_the_json_statement,
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

/// The text of a PDF as `pdftotext -layout` reads it, no-break spaces as spaces.
fn pdf_text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("document.pdf");
    std::fs::write(&path, pdf).unwrap();
    let output = std::process::Command::new("pdftotext")
        .arg("-layout")
        .arg(&path)
        .arg("-")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "pdftotext cannot be run ({e}): install poppler-utils (`apt-get install poppler-utils`; .ci/run does)"
            )
        });
    assert!(output.status.success(), "pdftotext: {output:?}");
    // Where `EDOC_DOCUMENT_SAMPLES` names a directory, the PDFs read are kept there: the
    // pictures under docs/documents/ are their first pages (`pdftoppm`).
    if let Ok(samples) = std::env::var("EDOC_DOCUMENT_SAMPLES") {
        let title = String::from_utf8_lossy(&output.stdout)
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join("-");
        std::fs::create_dir_all(&samples).unwrap();
        std::fs::write(
            std::path::Path::new(&samples).join(format!("{title}.pdf")),
            pdf,
        )
        .unwrap();
    }
    String::from_utf8(output.stdout)
        .unwrap()
        .replace('\u{a0}', " ")
}

/// The text with every run of white space one space: a sentence wrapped across lines
/// reads whole.
fn squashed(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A JSON amount (`"12345.60"`) as the printed documents write it: `12 345,60`.
fn printed(json_amount: &Value) -> String {
    let text = json_amount.as_str().expect("an amount is a string");
    let (sign, digits) = text.strip_prefix('-').map_or(("", text), |d| ("-", d));
    let (whole, cents) = digits.split_once('.').unwrap();
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(' ');
        }
        grouped.push(digit);
    }
    format!("{sign}{grouped},{cents}")
}

/// A PDF answer: its status, content type and bytes.
async fn pdf_of(app: &crate::helpers::TestApp, path: &str) -> Vec<u8> {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    assert_eq!(response.headers()["content-type"], "application/pdf");
    let bytes = response.bytes().await.unwrap().to_vec();
    assert!(bytes.starts_with(b"%PDF-"), "{path}: not a PDF");
    bytes
}

/// February 2026: a subscription invoice for the month (turnover on the 28th), a credit
/// invoice of two lines (turnover on its issue date), an invoice voided as a mistake, a
/// credit note on the first; a March invoice. Returns the JSON answers of invoices 1 and
/// 2 and of the credit note.
async fn february(app: &crate::helpers::TestApp) -> (Value, Value, Value) {
    app.signed_agreement(PARTICIPANT).await;
    let path = |tail: &str| format!("/v1/agreements/{PARTICIPANT}/{tail}");
    let mut body = invoice("2026-02-02", "10000.00");
    body["period"] = json!({"from": "2026-02-01", "to": "2026-02-28"});
    let response = app.post(&path("invoices"), &body).await;
    assert_eq!(response.status(), 201);
    let first: Value = response.json().await.unwrap();
    let body = json!({
        "kind": "credit",
        "issued_on": "2026-02-10",
        "lines": [
            {"description": "Пакет документов сверх тарифа", "quantity": 3, "unit_price": "1234.57"},
            {"description": "Квалифицированная подпись", "quantity": 1, "unit_price": "500.01"}
        ]
    });
    let response = app.post(&path("invoices"), &body).await;
    assert_eq!(response.status(), 201);
    let second: Value = response.json().await.unwrap();
    assert_eq!(
        app.post(&path("invoices"), &invoice("2026-02-12", "777.00"))
            .await
            .status(),
        201
    );
    assert_eq!(
        app.post(
            &path("invoices/3/void"),
            &json!({"on": "2026-02-13", "reason": "issued twice"})
        )
        .await
        .status(),
        200
    );
    let response = app
        .post(
            &path("invoices/1/credit-notes"),
            &json!({"on": "2026-02-20", "reason": "the service was down for a week", "net": "2500.00"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let credit: Value = response.json().await.unwrap();
    let body = json!({"reference": "PP-0042", "received_on": "2026-02-25", "amount": "5000.00"});
    assert_eq!(app.post(&path("payments"), &body).await.status(), 201);
    assert_eq!(
        app.post(&path("invoices"), &invoice("2026-03-02", "10000.00"))
            .await
            .status(),
        201
    );
    (first, second, credit)
}

fn money(value: &Value) -> rust_decimal::Decimal {
    value.as_str().unwrap().parse().unwrap()
}

/// `GET /v1/agreements/{id}/acts/{YYYY-MM}` (§4.1, BILLING.md 6): the month's services,
/// invoices by turnover date less the month's credit notes, voided ones left out; the
/// totals are the JSON invoices'; 409 before the month is over, 404 for a month without
/// services, 400 for a malformed month.
async fn the_act_of_a_month_lists_its_services_with_the_json_figures(store: Store) {
    let app = spawn_app_on(store, time::macros::date!(2026 - 03 - 10)).await;
    let (first, second, credit) = february(&app).await;
    let act = format!("/v1/agreements/{PARTICIPANT}/acts/2026-02");
    // Drawn from the closed books only (BILLING.md 5.4): 409 while February is open.
    let response = app.get(&act).await;
    assert_eq!(response.status(), 409);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["type"], "urn:edoc-ledger:problem:month-not-closed");
    assert_eq!(problem["clause"], "BILLING-5.4");
    assert_eq!(
        app.post("/v1/periods/2026-02/close", &json!({}))
            .await
            .status(),
        200
    );
    let pdf = pdf_of(&app, &act).await;
    let text = pdf_text(&pdf);
    assert!(text.contains("АКТ ВЫПОЛНЕННЫХ РАБОТ"), "{text}");
    assert!(
        text.contains(&format!(
            "№ {PARTICIPANT}-2026-02 от 28.02.2026 за февраль 2026 г."
        )),
        "{text}"
    );
    // Both parties with their BIN.
    assert!(
        text.contains("ТОО «Оператор E-DOC», БИН 050140000656"),
        "{text}"
    );
    assert!(
        text.contains(&format!("ТОО «Ромашка», БИН/ИИН {PARTICIPANT}")),
        "{text}"
    );
    // The lines: invoices 1 and 2 and the credit note; not the voided 3, not March's 4.
    assert!(text.contains("E-DOC subscription"), "{text}");
    assert!(text.contains("Квалифицированная"), "{text}");
    assert!(text.contains("Счёт № 1 от 02.02.2026"), "{text}");
    assert!(text.contains("Счёт № 2 от 10.02.2026"), "{text}");
    assert!(
        !text.contains("Счёт № 3"),
        "a voided invoice is no service: {text}"
    );
    assert!(
        !text.contains("Счёт № 4"),
        "March's invoice is March's: {text}"
    );
    let note = credit["number"].as_str().unwrap();
    assert!(text.contains(&format!("Кредит-нота № {note} от")), "{text}");
    assert!(text.contains("20.02.2026 к счёту № 1"), "{text}");
    // The totals are the JSON invoices' less the credit note's.
    let total = |field: &str| {
        let sum = money(&first[field]) + money(&second[field]) - money(&credit[field]);
        json!(format!("{sum:.2}"))
    };
    for (label, field) in [
        ("Итого без НДС:", "net"),
        ("в т.ч. НДС 16%:", "vat"),
        ("Всего с НДС, KZT:", "total"),
    ] {
        let line = text
            .lines()
            .find(|line| line.contains(label))
            .unwrap_or_else(|| panic!("no {label} in {text}"));
        assert!(line.trim_end().ends_with(&printed(&total(field))), "{line}");
    }
    // Each invoice's own total is on its line, the credit note's negative.
    assert!(text.contains(&printed(&first["total"])), "{text}");
    assert!(
        text.contains(&format!("-{}", printed(&credit["total"]))),
        "{text}"
    );
    // The places to sign.
    assert!(
        text.contains("Исполнитель") && text.contains("Заказчик"),
        "{text}"
    );
    assert!(text.contains("М.П."), "{text}");

    // Once issued, an act never changes: a void recorded after the close (posted in
    // March) leaves February's act as it was.
    assert_eq!(
        app.post(
            &format!("/v1/agreements/{PARTICIPANT}/invoices/2/void"),
            &json!({"on": "2026-03-10", "reason": "issued to the wrong company"})
        )
        .await
        .status(),
        200
    );
    assert!(
        pdf_of(&app, &act).await == pdf,
        "the same act, byte for byte"
    );
    // March is open: 409.
    let response = app
        .get(&format!("/v1/agreements/{PARTICIPANT}/acts/2026-03"))
        .await;
    assert_eq!(response.status(), 409);
    // No service in January: 404; a malformed month: 400.
    let response = app
        .get(&format!("/v1/agreements/{PARTICIPANT}/acts/2026-01"))
        .await;
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let response = app
        .get(&format!("/v1/agreements/{PARTICIPANT}/acts/2026-13"))
        .await;
    assert_eq!(response.status(), 400);

    // The participant reads its own act, and no one else's.
    let own = app
        .token(Role::Participant, "romashka", Some(PARTICIPANT))
        .await;
    let other = app
        .token(Role::Participant, "other", Some("980511004560"))
        .await;
    for (token, status) in [(own, 200), (other, 404)] {
        let response = app
            .send_as(
                reqwest::Method::GET,
                &format!("/v1/agreements/{PARTICIPANT}/acts/2026-02"),
                Some(&format!("Bearer {token}")),
                None,
            )
            .await;
        assert_eq!(response.status(), status);
    }
    app.finish().await;
}

/// `GET /v1/agreements/{id}/statement.pdf?from=&to=` (BILLING.md 6): the JSON statement of
/// the same query on paper, in Russian: opening, every document, turnover, closing.
async fn the_printed_statement_is_the_json_statement(store: Store) {
    let app = spawn_app_on(store, time::macros::date!(2026 - 03 - 10)).await;
    february(&app).await;
    let query = "from=2026-02-05&to=2026-03-05";
    let statement = app
        .get_json(&format!("/v1/agreements/{PARTICIPANT}/statement?{query}"))
        .await;
    let pdf = pdf_of(
        &app,
        &format!("/v1/agreements/{PARTICIPANT}/statement.pdf?{query}"),
    )
    .await;
    let text = pdf_text(&pdf);
    assert!(text.contains("АКТ СВЕРКИ ВЗАИМНЫХ РАСЧЁТОВ"), "{text}");
    assert!(
        text.contains("за период с 05.02.2026 по 05.03.2026"),
        "{text}"
    );
    assert!(text.contains("(БИН 050140000656)"), "{text}");
    assert!(text.contains(&format!("(БИН/ИИН {PARTICIPANT})")), "{text}");
    // The opening balance is invoice 1 (issued before `from`): on the debit side.
    let opening = text
        .lines()
        .find(|line| line.contains("Сальдо на начало периода"))
        .unwrap_or_else(|| panic!("no opening in {text}"));
    assert!(
        opening.contains(&printed(&statement["opening"])),
        "{opening}"
    );
    // Every JSON line is a printed line, in order, with its figures.
    let lines = statement["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 6, "{statement}");
    let mut rest = text.as_str();
    for line in lines {
        let figure = if line["debit"] != "0.00" {
            &line["debit"]
        } else {
            &line["credit"]
        };
        let at = rest
            .find(&printed(figure))
            .unwrap_or_else(|| panic!("{line} is not printed in order in {text}"));
        rest = &rest[at..];
    }
    assert!(text.contains("Оплата, п/п PP-0042"), "{text}");
    assert!(text.contains("Аннулирование счёта № 3:"), "{text}");
    let totals = text
        .lines()
        .find(|line| line.contains("Обороты за период"))
        .unwrap();
    assert!(totals.contains(&printed(&statement["debits"])), "{totals}");
    assert!(totals.contains(&printed(&statement["credits"])), "{totals}");
    let closing = text
        .lines()
        .find(|line| line.contains("Сальдо на конец периода"))
        .unwrap();
    assert!(
        closing.contains(&printed(&statement["closing"])),
        "{closing}"
    );
    assert!(
        squashed(&text).contains(&format!(
            "задолженность Заказчика (ТОО «Ромашка») перед Исполнителем (ТОО «Оператор E-DOC») составляет {} KZT",
            printed(&statement["closing"])
        )),
        "{text}"
    );
    // A malformed date is refused as on the JSON statement.
    let response = app
        .get(&format!(
            "/v1/agreements/{PARTICIPANT}/statement.pdf?from=2026-02-30"
        ))
        .await;
    assert_eq!(response.status(), 400);
    app.finish().await;
}
