//! Bank statements over HTTP (issue 17 point 5, INTEGRATION.md 2), on both stores:
//! camt.053 and 1C (UTF-8 and Windows-1251) files with Cyrillic purposes; lines matched
//! to agreements by the payer's BIN/IIN and to invoices by the purpose, recorded as
//! payments under the bank's reference (prefixed `bank:`) on their value date; duplicates;
//! unmatched lines listed and assigned by hand; the same file twice records nothing;
//! every kind of bad file refused with nothing recorded; a 10,000-line statement in one
//! request through the batched write path, its events, chains and projections exactly
//! what single commands would have made.

use serde_json::{json, Value};
use time::macros::date;

use api::application::statements::generate::{camt053_of_credits, round_robin_credits};
use events::{Currency, ParticipantId};

use crate::helpers::{invoice, participant_ids, run_sql, spawn_app_on, Store, TestApp};

crate::on_both_stores!(
    a_camt_statement_is_matched_once_its_unmatched_lines_assigned,
    a_one_c_statement_in_windows_1251_pays_the_invoice_its_purpose_names,
    a_bad_statement_is_refused_and_records_nothing,
    ten_thousand_lines_are_imported_in_one_request,
    the_same_file_sent_twice_at_once_is_recorded_once,
    batched_payments_are_what_single_commands_record,
    an_import_cut_short_is_completed_by_the_same_file_again,
    a_bank_entry_recorded_from_one_statement_is_a_duplicate_in_another,
    a_bank_entry_twice_in_one_statement_is_recorded_once,
    a_statement_has_its_lines_only_once_its_completion_commits,
);

const CAMT_08: &str =
    include_str!("../../../api/src/application/statements/fixtures/camt053_001_08.xml");
const CAMT_02: &str =
    include_str!("../../../api/src/application/statements/fixtures/camt053_001_02.xml");
const ONE_C_UTF8: &str =
    include_str!("../../../api/src/application/statements/fixtures/one_c_utf8.txt");

/// The payer of the fixtures' first line (an agreement is registered for it).
const ROMASHKA: &str = "120340001230";
/// The fixtures' last payer, an IIN with no agreement.
const SERIKOV: &str = "980511004560";
const ACCOUNT: &str = "KZ86125KZT5004100100";

async fn app(store: Store) -> TestApp {
    spawn_app_on(store, date!(2026 - 12 - 04)).await
}

async fn import(app: &TestApp, content_type: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let response = app
        .post_raw("/v1/bank-statements", Some(content_type), body)
        .await;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: {text}")),
    )
}

async fn replay_is_clean(app: &TestApp) {
    let report = api::application::replay::check(app.ledger.repository(), |_| {})
        .await
        .unwrap();
    assert!(report.is_clean(), "{:?}", report.differences);
    let verify = app.get_json("/v1/audit/verify").await;
    assert_eq!(verify["ok"], true, "{verify}");
}

async fn a_camt_statement_is_matched_once_its_unmatched_lines_assigned(store: Store) {
    let app = app(store).await;
    app.signed_agreement(ROMASHKA).await;
    let before = app.event_count().await;

    let (status, summary) = import(&app, "application/xml", CAMT_08).await;
    assert_eq!(status, 201, "{summary}");
    assert_eq!(summary["lines"], 4);
    assert_eq!(summary["matched"], 1);
    assert_eq!(summary["duplicates"], 0);
    assert_eq!(summary["unmatched"], 2, "no BIN; no agreement for the IIN");
    assert_eq!(summary["not_a_credit"], 1, "the bank's fee, a debit");
    let totals = &summary["totals"];
    assert_eq!(totals["credits"], 3);
    assert_eq!(totals["credits_sum"], "160000.50");
    assert_eq!(totals["debits_sum"], "1500.00");
    assert_eq!(totals["matched_sum"], "125000.00");
    assert_eq!(totals["unmatched_sum"], "35000.50");
    assert_eq!(totals["duplicate_sum"], "0.00");
    assert_eq!(app.event_count().await, before + 1, "one payment recorded");
    let id = summary["id"].as_str().unwrap().to_owned();

    // The payment: the bank's reference prefixed, the value date, no invoice (the purpose
    // names invoice 42, which the agreement does not have: noted on the line).
    let events = app.events(ROMASHKA).await;
    let payment = events
        .iter()
        .find(|e| e["type"] == "PaymentReceived")
        .unwrap();
    assert_eq!(payment["payload"]["reference"], "bank:KZ2612010001");
    assert_eq!(payment["payload"]["received_on"], "2026-12-01");
    assert_eq!(payment["payload"]["amount"]["amount"], "125000.00");

    let statement = app.get_json(&format!("/v1/bank-statements/{id}")).await;
    assert_eq!(statement["format"], "camt.053.001.08");
    assert_eq!(statement["account"], ACCOUNT);
    let lines = statement["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["outcome"], "matched");
    assert_eq!(lines[0]["participant_id"], ROMASHKA);
    assert_eq!(lines[0]["payment_reference"], "bank:KZ2612010001");
    assert_eq!(lines[0]["purpose"], "Оплата по счёту №42 за услуги ЭДО");
    assert_eq!(lines[0]["payer_name"], "ТОО «Ромашка»");
    assert!(
        lines[0]["reason"].as_str().unwrap().contains("invoice 42"),
        "{}",
        lines[0]
    );
    assert_eq!(lines[1]["outcome"], "unmatched");
    assert_eq!(lines[1]["reason"], "the payer names no BIN/IIN");
    assert_eq!(lines[2]["outcome"], "not_a_credit");
    assert_eq!(lines[3]["outcome"], "unmatched");
    assert_eq!(lines[3]["payer_bin"], SERIKOV);
    assert!(lines[3]["reason"]
        .as_str()
        .unwrap()
        .contains("no agreement is registered"));

    // The same file again records nothing and answers the stored statement.
    let events_after = app.event_count().await;
    let (status, again) = import(&app, "application/xml", CAMT_08).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again, summary);
    assert_eq!(app.event_count().await, events_after);

    // Another file (001.02) with the same entries: the recorded line is a duplicate.
    let (status, other) = import(&app, "text/xml; charset=utf-8", CAMT_02).await;
    assert_eq!(status, 201, "{other}");
    assert_ne!(other["id"], summary["id"]);
    assert_eq!(other["matched"], 0);
    assert_eq!(other["duplicates"], 1);
    assert_eq!(other["totals"]["duplicate_sum"], "125000.00");
    assert_eq!(app.event_count().await, events_after);

    // Billing staff assign the unmatched line 1 to the agreement: recorded, matched.
    let assignment = format!("/v1/bank-statements/{id}/lines/1/assignment");
    let keyed = || {
        app.client
            .post(app.url(&assignment))
            .header("idempotency-key", "assign-line-1")
            .json(&json!({"participant_id": ROMASHKA}))
            .send()
    };
    let response = keyed().await.unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let paid: Value = response.json().await.unwrap();
    // Its answer lost, sent again under its key: the first answer, nothing recorded.
    let response = keyed().await.unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["idempotent-replayed"], "true");
    assert_eq!(response.json::<Value>().await.unwrap(), paid);
    assert_eq!(paid["amount"], "5000.50");
    assert_eq!(paid["received_on"], "2026-12-01");
    assert_eq!(app.event_count().await, events_after + 1);
    let response = app
        .post(&assignment, &json!({"participant_id": ROMASHKA}))
        .await;
    assert_eq!(response.status(), 409, "a second assignment");
    let response = app
        .post(
            &format!("/v1/bank-statements/{id}/lines/2/assignment"),
            &json!({"participant_id": ROMASHKA}),
        )
        .await;
    assert_eq!(response.status(), 409, "a debit is never assigned");
    for (path, what) in [
        (
            format!("/v1/bank-statements/{id}/lines/99/assignment"),
            "line",
        ),
        (
            "/v1/bank-statements/0000000000000000/lines/1/assignment".to_owned(),
            "statement",
        ),
    ] {
        let response = app.post(&path, &json!({"participant_id": ROMASHKA})).await;
        assert_eq!(response.status(), 404, "an unknown {what}");
    }
    // An assignment to an agreement that does not exist is refused; the line stays free.
    let response = app
        .post(
            &format!("/v1/bank-statements/{id}/lines/3/assignment"),
            &json!({"participant_id": SERIKOV}),
        )
        .await;
    assert!(
        response.status().is_client_error(),
        "{}",
        response.text().await.unwrap()
    );
    let statement = app.get_json(&format!("/v1/bank-statements/{id}")).await;
    assert_eq!(statement["matched"], 2);
    assert_eq!(statement["unmatched"], 1);
    assert_eq!(statement["totals"]["matched_sum"], "130000.50");
    let line = &statement["lines"][1];
    assert_eq!(line["outcome"], "matched");
    assert_eq!(line["assigned_by"], "test-operator");
    assert_eq!(statement["lines"][3]["assigned_at"], Value::Null);
    assert!(app.get("/v1/bank-statements/nope").await.status() == 404);

    // An assignment cut short after its claim (a crash, a lost answer): another
    // assignment of the line is refused, the same one sent again finishes it, once.
    let claimed = run_sql(
        &app,
        &format!(
            "UPDATE bank_statement_lines SET assigned_at = CURRENT_TIMESTAMP,
                    assigned_by = 'test-operator', assigning_to = '{ROMASHKA}'
             WHERE statement_id = '{id}' AND n = 3"
        ),
    )
    .await;
    assert_eq!(claimed, 1);
    let line_3 = format!("/v1/bank-statements/{id}/lines/3/assignment");
    let response = app.post(&line_3, &json!({"participant_id": SERIKOV})).await;
    assert_eq!(
        response.status(),
        409,
        "another assignment while one is under way"
    );
    let events_before = app.event_count().await;
    let response = app
        .post(&line_3, &json!({"participant_id": ROMASHKA}))
        .await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    assert_eq!(app.event_count().await, events_before + 1);
    let statement = app.get_json(&format!("/v1/bank-statements/{id}")).await;
    assert_eq!(statement["lines"][3]["outcome"], "matched");
    assert_eq!(statement["unmatched"], 0);
    let response = app
        .post(&line_3, &json!({"participant_id": ROMASHKA}))
        .await;
    assert_eq!(
        response.status(),
        409,
        "a matched line is not assigned again"
    );
    assert_eq!(app.event_count().await, events_before + 1);

    replay_is_clean(&app).await;
    app.finish().await;
}

/// A 1C exchange file of credits to the operator's account: (number, amount, payer BIN,
/// purpose), dated 01.12.2026, with its stated total.
fn one_c(documents: &[(&str, &str, &str, &str)]) -> String {
    let total: rust_decimal::Decimal = documents
        .iter()
        .map(|d| d.1.parse::<rust_decimal::Decimal>().unwrap())
        .sum();
    let mut text = format!(
        "1CClientBankExchange\nВерсияФормата=1.03\nКодировка=Windows\nДатаНачала=01.12.2026\nДатаКонца=01.12.2026\nРасчСчет={ACCOUNT}\nСекцияРасчСчет\nРасчСчет={ACCOUNT}\nВсегоПоступило={total:.2}\nВсегоСписано=0.00\nКонецРасчСчет\n"
    );
    for (number, amount, payer, purpose) in documents {
        text.push_str(&format!(
            "СекцияДокумент=Платежное поручение\nНомер={number}\nДата=01.12.2026\nСумма={amount}\nПлательщикСчет=KZ56722S000001234567\nПлательщик=ТОО «Ромашка»\nПлательщикБИН_ИИН={payer}\nПолучательСчет={ACCOUNT}\nДатаПоступило=01.12.2026\nНазначениеПлатежа={purpose}\nКонецДокумента\n"
        ));
    }
    text.push_str("КонецФайла\n");
    text
}

fn windows_1251(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1251.encode(text);
    assert!(!unmappable);
    bytes.into_owned()
}

async fn a_one_c_statement_in_windows_1251_pays_the_invoice_its_purpose_names(store: Store) {
    let app = app(store).await;
    app.signed_agreement(ROMASHKA).await;
    let response = app
        .post(
            &format!("/v1/agreements/{ROMASHKA}/invoices"),
            &invoice("2026-11-02", "10000.00"),
        )
        .await;
    assert_eq!(response.status(), 201);
    let file = one_c(&[
        (
            "31",
            "11600.00",
            ROMASHKA,
            "Оплата по счёту №1 за услуги ЭДО, в т.ч. НДС",
        ),
        ("32", "0.50", ROMASHKA, "Пополнение аванса"),
    ]);
    let (status, summary) = import(&app, "text/plain", windows_1251(&file)).await;
    assert_eq!(status, 201, "{summary}");
    assert_eq!(summary["matched"], 2);
    let id = summary["id"].as_str().unwrap();
    let statement = app.get_json(&format!("/v1/bank-statements/{id}")).await;
    assert_eq!(statement["format"], "1c");
    let first = &statement["lines"][0];
    assert_eq!(first["invoice_number"], "1");
    assert_eq!(
        first["purpose"],
        "Оплата по счёту №1 за услуги ЭДО, в т.ч. НДС"
    );
    assert_eq!(first["value_date"], "2026-12-01");
    let events = app.events(ROMASHKA).await;
    let paid = events
        .iter()
        .find(|e| e["type"] == "PaymentReceived")
        .unwrap();
    assert_eq!(
        paid["payload"]["reference"], "bank:31 от 01.12.2026 KZ56722S000001234567",
        "the payment order's number, date and payer's account"
    );
    assert_eq!(
        paid["payload"]["allocations"][0]["invoice_number"], "1",
        "{paid}"
    );

    // The UTF-8 fixture: its first line pays the same agreement; the rest unmatched or a
    // debit. The same file in another encoding is another file, but its lines are the
    // same payments: duplicates.
    let (status, fixture) = import(&app, "text/plain; charset=utf-8", ONE_C_UTF8).await;
    assert_eq!(status, 201, "{fixture}");
    assert_eq!(
        (
            &fixture["matched"],
            &fixture["unmatched"],
            &fixture["not_a_credit"]
        ),
        (&json!(1), &json!(2), &json!(1))
    );
    let events = app.event_count().await;
    let (status, again) = import(&app, "text/plain", windows_1251(ONE_C_UTF8)).await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(again["duplicates"], 1);
    assert_eq!(again["matched"], 0);
    assert_eq!(app.event_count().await, events);
    replay_is_clean(&app).await;
    app.finish().await;
}

async fn a_bad_statement_is_refused_and_records_nothing(store: Store) {
    let app = app(store).await;
    app.signed_agreement(ROMASHKA).await;
    let events = app.event_count().await;
    let problem = |status: u16, what: &str, answer: &Value, expected: u16| {
        assert_eq!(status, expected, "{what}: {answer}");
        assert!(answer["detail"].is_string(), "{what}: {answer}");
    };
    let truncated = &CAMT_08[..CAMT_08.len() / 2];
    let cases: Vec<(&str, &str, Vec<u8>, u16)> = vec![
        (
            "malformed",
            "application/xml",
            b"<Document><Stmt>".to_vec(),
            400,
        ),
        (
            "truncated",
            "application/xml",
            truncated.as_bytes().to_vec(),
            400,
        ),
        (
            "an unknown camt version",
            "application/xml",
            CAMT_08
                .replace("camt.053.001.08", "camt.053.001.13")
                .into_bytes(),
            422,
        ),
        (
            "an amount with 3 decimals",
            "application/xml",
            CAMT_08.replace(">125000.00<", ">125000.005<").into_bytes(),
            422,
        ),
        (
            "totals that disagree with the lines",
            "text/plain",
            ONE_C_UTF8
                .replace("ВсегоПоступило=160000.50", "ВсегоПоступило=160000.51")
                .into_bytes(),
            422,
        ),
        ("not a statement", "text/plain", b"hello".to_vec(), 400),
        (
            "a content type that is neither XML nor text",
            "application/json",
            CAMT_08.as_bytes().to_vec(),
            415,
        ),
        (
            "XML sent as text",
            "text/plain",
            CAMT_08.as_bytes().to_vec(),
            415,
        ),
    ];
    for (what, content_type, body, expected) in cases {
        let response = app
            .post_raw("/v1/bank-statements", Some(content_type), body)
            .await;
        let status = response.status().as_u16();
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{what}"
        );
        let answer: Value = response.json().await.unwrap();
        problem(status, what, &answer, expected);
    }
    // Over 32 MiB: 413.
    let mut big = CAMT_08.as_bytes().to_vec();
    big.resize(32 * 1024 * 1024 + 1, b' ');
    let response = app
        .post_raw("/v1/bank-statements", Some("application/xml"), big)
        .await;
    assert_eq!(response.status(), 413);
    assert_eq!(app.event_count().await, events, "nothing recorded");
    // A billing token may import; an auditor may only read.
    let auditor = app
        .token(api::application::tokens::Role::Auditor, "auditor", None)
        .await;
    let response = reqwest::Client::new()
        .post(app.url("/v1/bank-statements"))
        .header("authorization", format!("Bearer {auditor}"))
        .header("content-type", "application/xml")
        .body(CAMT_08)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    app.finish().await;
}

async fn ten_thousand_lines_are_imported_in_one_request(store: Store) {
    let app = app(store).await;
    let payers = participant_ids(50);
    for payer in &payers {
        app.signed_agreement(payer).await;
    }
    let payers: Vec<ParticipantId> = payers
        .iter()
        .map(|p| ParticipantId::parse(p).unwrap())
        .collect();
    let credits = round_robin_credits("BIG", &payers, 10_000, date!(2026 - 12 - 01));
    let file = camt053_of_credits("BIG-1", ACCOUNT, Currency::KZT, &credits);
    let events = app.event_count().await;
    let started = std::time::Instant::now();
    let (status, summary) = import(&app, "application/xml", file.clone()).await;
    let took = started.elapsed();
    assert_eq!(status, 201, "{summary}");
    assert_eq!(summary["lines"], 10_000);
    assert_eq!(summary["matched"], 10_000, "{summary}");
    assert_eq!(summary["unmatched"], 0);
    assert_eq!(app.event_count().await, events + 10_000);
    eprintln!("10,000 lines imported in {took:?} ({store:?})");
    // Every agreement has its 200 payments, in the statement's order.
    let first = app.events(payers[0].as_str()).await;
    let payments: Vec<&Value> = first
        .iter()
        .filter(|e| e["type"] == "PaymentReceived")
        .collect();
    assert_eq!(payments.len(), 200);
    assert_eq!(payments[0]["payload"]["reference"], "bank:BIG-0");
    assert_eq!(payments[1]["payload"]["reference"], "bank:BIG-50");
    // Again: nothing.
    let (status, _) = import(&app, "application/xml", file).await;
    assert_eq!(status, 200);
    assert_eq!(app.event_count().await, events + 10_000);
    replay_is_clean(&app).await;
    app.finish().await;
}

async fn the_same_file_sent_twice_at_once_is_recorded_once(store: Store) {
    let app = app(store).await;
    app.signed_agreement(ROMASHKA).await;
    let before = app.event_count().await;
    let (first, second) = tokio::join!(
        import(&app, "application/xml", CAMT_08),
        import(&app, "application/xml", CAMT_08)
    );
    let mut statuses = [first.0, second.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 201], "{} {}", first.1, second.1);
    assert_eq!(first.1["id"], second.1["id"]);
    assert_eq!(app.event_count().await, before + 1, "one payment");
    let statement = app
        .get_json(&format!(
            "/v1/bank-statements/{}",
            first.1["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(statement["matched"], 1, "{statement}");
    app.finish().await;
}

/// The batched write path records what one `POST .../payments` after another would: the
/// same events (payloads, sequences, clauses), the same balance.
async fn batched_payments_are_what_single_commands_record(store: Store) {
    let app = app(store).await;
    let ids = participant_ids(2);
    let (batched, single) = (&ids[0], &ids[1]);
    for id in [batched, single] {
        app.signed_agreement(id).await;
    }
    let payer = ParticipantId::parse(batched).unwrap();
    let mut credits = round_robin_credits("EQ", &[payer], 5, date!(2026 - 11 - 20));
    credits[3].value_date = date!(2026 - 11 - 02);
    credits[4].value_date = date!(2026 - 12 - 03);
    let file = camt053_of_credits("EQ-1", ACCOUNT, Currency::KZT, &credits);
    let (status, summary) = import(&app, "application/xml", file).await;
    assert_eq!(status, 201, "{summary}");
    assert_eq!(summary["matched"], 5);
    for credit in &credits {
        let response = app
            .post(
                &format!("/v1/agreements/{single}/payments"),
                &json!({"reference": format!("bank:{}", credit.reference),
                        "received_on": events::business_date::format(credit.value_date),
                        "amount": credit.amount.to_string(), "currency": "KZT"}),
            )
            .await;
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    }
    let shape = |events: Vec<Value>| -> Vec<Value> {
        events
            .into_iter()
            .map(|e| {
                json!([
                    e["sequence"],
                    e["type"],
                    e["payload"],
                    e["clause"],
                    e["command"]
                ])
            })
            .collect()
    };
    let (a, b) = (app.events(batched).await, app.events(single).await);
    assert_eq!(a.len(), 2 + 5, "{a:?}");
    let (a, b) = (shape(a), shape(b));
    // The registrations name their own participant; everything after is the same.
    assert_eq!(a[1..], b[1..]);
    let balance = |id: &str| format!("/v1/agreements/{id}/balance");
    assert_eq!(
        app.get_json(&balance(batched)).await,
        app.get_json(&balance(single)).await
    );
    replay_is_clean(&app).await;
    app.finish().await;
}

/// The statement and its lines are stored before any payment is recorded: an import cut
/// short after its payments (a crash, a lost store, a request given up) leaves the
/// statement incomplete and without lines, and the same file loaded again
/// completes it: the payments recorded before are found as its own (matched, not
/// duplicates), nothing is recorded twice, the totals add up. A purpose with a NUL and
/// other control characters is stored without them (PostgreSQL's text holds no NUL).
async fn an_import_cut_short_is_completed_by_the_same_file_again(store: Store) {
    let app = app(store).await;
    app.signed_agreement(ROMASHKA).await;
    let file = one_c(&[
        (
            "501",
            "1000.00",
            ROMASHKA,
            "Оплата за услуги ЭДО\u{0}\u{7}, декабрь",
        ),
        ("502", "2000.00", ROMASHKA, "Оплата за услуги ЭДО, январь"),
        ("503", "300.00", SERIKOV, "Оплата"),
    ]);
    let (status, first) = import(&app, "text/plain", file.clone()).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["matched"], 2);
    assert_eq!(first["unmatched"], 1);
    let id = first["id"].as_str().unwrap().to_owned();
    let statement = app.get_json(&format!("/v1/bank-statements/{id}")).await;
    assert_eq!(
        statement["lines"][0]["purpose"],
        "Оплата за услуги ЭДО, декабрь"
    );
    assert!(statement["imported_at"].is_string());
    let events = app.event_count().await;

    // Cut short after the payments were recorded, before the lines were stored.
    run_sql(
        &app,
        &format!("UPDATE bank_statements SET imported_at = NULL WHERE id = '{id}'"),
    )
    .await;
    run_sql(
        &app,
        &format!("DELETE FROM bank_statement_lines WHERE statement_id = '{id}'"),
    )
    .await;
    let cut_short = app.get_json(&format!("/v1/bank-statements/{id}")).await;
    assert_eq!(cut_short["imported_at"], Value::Null);
    assert_eq!(cut_short["lines"], json!([]));
    let response = app
        .post(
            &format!("/v1/bank-statements/{id}/lines/2/assignment"),
            &json!({"participant_id": ROMASHKA}),
        )
        .await;
    assert_eq!(
        response.status(),
        404,
        "no line to assign before the import completes"
    );

    let (status, again) = import(&app, "text/plain", file).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["matched"], 2, "{again}");
    assert_eq!(
        again["duplicates"], 0,
        "its own payments are not duplicates"
    );
    assert_eq!(again["unmatched"], 1);
    assert_eq!(again["totals"], first["totals"]);
    assert_eq!(app.event_count().await, events, "nothing recorded twice");
    let statement = app.get_json(&format!("/v1/bank-statements/{id}")).await;
    assert!(statement["imported_at"].is_string());
    assert_eq!(statement["lines"][1]["outcome"], "matched");
    assert_eq!(
        statement["lines"][1]["payment_reference"],
        first_reference(&statement, 1)
    );
    replay_is_clean(&app).await;
    app.finish().await;
}

fn first_reference(statement: &Value, n: usize) -> Value {
    let reference = statement["lines"][n]["bank_reference"].as_str().unwrap();
    json!(format!("bank:{reference}"))
}

/// The same bank entry (the same reference) in two statements, the second naming another
/// payer (a corrected export, overlapping statements): recorded once, on the agreement
/// the first statement recorded it on; the second's line is a duplicate, and an
/// unmatched copy of it cannot be assigned to anyone.
async fn a_bank_entry_recorded_from_one_statement_is_a_duplicate_in_another(store: Store) {
    let app = app(store).await;
    app.signed_agreement(ROMASHKA).await;
    let [other] = <[String; 1]>::try_from(participant_ids(1)).unwrap();
    app.signed_agreement(&other).await;
    let (status, first) = import(
        &app,
        "text/plain",
        one_c(&[("601", "100.00", ROMASHKA, "Оплата за ЭДО")]),
    )
    .await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["matched"], 1);
    let events = app.event_count().await;

    let (status, second) = import(
        &app,
        "text/plain",
        one_c(&[
            ("601", "100.00", &other, "Оплата за ЭДО (исправлено)"),
            ("601", "100.00", "не указан", "Оплата за ЭДО (копия)"),
        ]),
    )
    .await;
    assert_eq!(status, 201, "{second}");
    assert_eq!(second["matched"], 0, "{second}");
    assert_eq!(second["duplicates"], 1, "{second}");
    assert_eq!(second["unmatched"], 1, "{second}");
    assert_eq!(app.event_count().await, events, "nothing recorded twice");
    let id = second["id"].as_str().unwrap();
    let statement = app.get_json(&format!("/v1/bank-statements/{id}")).await;
    assert_eq!(statement["lines"][0]["participant_id"], ROMASHKA);
    assert!(statement["lines"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("another statement"));
    let response = app
        .post(
            &format!("/v1/bank-statements/{id}/lines/1/assignment"),
            &json!({"participant_id": other}),
        )
        .await;
    assert_eq!(response.status(), 409, "{}", response.text().await.unwrap());
    assert_eq!(app.event_count().await, events);
    app.finish().await;
}

/// The same bank entry (the same reference) twice in one statement, naming the same payer
/// or another: recorded once, the later line a duplicate of the first.
async fn a_bank_entry_twice_in_one_statement_is_recorded_once(store: Store) {
    let app = app(store).await;
    app.signed_agreement(ROMASHKA).await;
    let [other] = <[String; 1]>::try_from(participant_ids(1)).unwrap();
    app.signed_agreement(&other).await;
    let events = app.event_count().await;
    let (status, summary) = import(
        &app,
        "text/plain",
        one_c(&[
            ("701", "100.00", ROMASHKA, "Оплата за ЭДО"),
            ("701", "100.00", ROMASHKA, "Оплата за ЭДО"),
            ("701", "100.00", &other, "Оплата за ЭДО"),
        ]),
    )
    .await;
    assert_eq!(status, 201, "{summary}");
    assert_eq!(summary["matched"], 1, "{summary}");
    assert_eq!(summary["duplicates"], 2, "{summary}");
    assert_eq!(summary["totals"]["matched_sum"], "100.00");
    assert_eq!(app.event_count().await, events + 1, "one payment");
    app.finish().await;
}

/// The lines are added while the payments are recorded (on PostgreSQL into a transaction
/// held open), yet a reader sees none until the completion commits, and a completion
/// dropped unfinished (an import failing part way) leaves none.
async fn a_statement_has_its_lines_only_once_its_completion_commits(store: Store) {
    use api::store::{StatementLineRow, StatementRow};
    let app = app(store).await;
    let repository = app.ledger.repository();
    let statement = StatementRow {
        id: "c0ffee0000000001".to_owned(),
        digest: "c0ffee".repeat(10) + "0000",
        format: "1c".to_owned(),
        account: ACCOUNT.to_owned(),
        currency: "KZT".to_owned(),
        statement_id: None,
        received_at: String::new(),
        received_by: "test".to_owned(),
        totals: json!({}),
        imported_at: None,
    };
    assert!(repository.insert_statement(&statement).await.unwrap());
    let line = |n: i64| StatementLineRow {
        n,
        bank_reference: format!("REF-{n}"),
        value_date: "2026-12-01".to_owned(),
        amount: "100.00".to_owned(),
        currency: "KZT".to_owned(),
        credit: true,
        reversal: false,
        payer_bin: None,
        payer_id_text: None,
        payer_name: None,
        purpose: Some("Оплата".to_owned()),
        outcome: "unmatched".to_owned(),
        reason: Some("no payer".to_owned()),
        participant_id: None,
        invoice_number: None,
        payment_reference: None,
        assigned_at: None,
        assigned_by: None,
        assigning_to: None,
    };
    let path = format!("/v1/bank-statements/{}", statement.id);

    let mut abandoned = repository
        .begin_statement_completion(&statement.id)
        .await
        .unwrap();
    abandoned.add_lines(&[line(0), line(1)]).await.unwrap();
    let read = app.get_json(&path).await;
    assert_eq!(
        read["lines"],
        json!([]),
        "no line before the commit: {read}"
    );
    drop(abandoned);
    let read = app.get_json(&path).await;
    assert_eq!(
        read["lines"],
        json!([]),
        "none after a completion dropped: {read}"
    );
    assert_eq!(read["imported_at"], Value::Null);

    let mut completion = repository
        .begin_statement_completion(&statement.id)
        .await
        .unwrap();
    completion.add_lines(&[line(1)]).await.unwrap();
    completion.add_lines(&[line(0), line(2)]).await.unwrap();
    assert_eq!(app.get_json(&path).await["lines"], json!([]));
    completion.finish(&json!({"lines": 3})).await.unwrap();
    let read = app.get_json(&path).await;
    let numbers: Vec<i64> = read["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line["n"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [0, 1, 2], "{read}");
    assert!(read["imported_at"].is_string(), "{read}");
    app.finish().await;
}
