//! Replay: the stored projections (`agreement_ledgers`) equal a fold of the events; a
//! hand-altered row is found by `replay --check` down to its JSON path and repaired by
//! `replay`. On PostgreSQL also under a randomized load of more than 1,000 agreements,
//! and through the `edoc-ledger` binary's exit status.

use std::time::{Duration, Instant};

use futures::future::join_all;
use serde_json::{json, Value};
use time::macros::date;
use time::Date;

use api::application::commands::{CommandContext, LedgerError};
use api::application::replay::{CheckReport, Difference};
use api::store::{StoreLocation, LEDGERS_TABLE};
use commands::AgreementCommand;
use events::{AgreementEvent, ParticipantId};

use crate::helpers::{invoice, participant_ids, registration, spawn_app, Store, TestApp};

crate::on_both_stores!(
    check_finds_a_hand_altered_projection_and_rebuild_repairs_it,
    check_finds_missing_and_unexpected_rows,
);

const A: &str = crate::helpers::OPERATOR_BIN;

async fn check(app: &TestApp) -> CheckReport {
    api::application::replay::check(app.ledger.repository(), |_| {})
        .await
        .expect("the check runs")
}

async fn rebuild(app: &TestApp) {
    let report = api::application::replay::rebuild(app.ledger.repository(), LEDGERS_TABLE, |_| {})
        .await
        .expect("the rebuild runs");
    assert!(report.count.agreements > 0, "{report}");
}

/// Runs one SQL statement on the test app's database from a connection of its own, as
/// an operator with `psql` or `sqlite3` would.
async fn execute_sql(app: &TestApp, postgres: &str, sqlite: &str, participant: &str) -> u64 {
    match app.ledger.repository().location().clone() {
        StoreLocation::Postgres(url) => {
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            let done = sqlx::query(postgres)
                .bind(participant)
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
            done.rows_affected()
        }
        StoreLocation::Sqlite(path) => {
            let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", path.display()))
                .await
                .unwrap();
            let done = sqlx::query(sqlite)
                .bind(participant)
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
            done.rows_affected()
        }
    }
}

/// A few agreements with invoices, payments, a late charge and a waiver.
async fn a_few_commands(app: &TestApp) -> Vec<String> {
    let others = participant_ids(2);
    app.signed_agreement(A).await;
    let response = app.post("/v1/agreements", &registration(&others[0])).await;
    assert_eq!(response.status(), 201);
    app.signed_agreement(&others[1]).await;
    let path = |id: &str, tail: &str| format!("/v1/agreements/{id}/{tail}");
    let steps = [
        (path(A, "invoices"), invoice("2026-02-02", "10000.00")),
        (
            path(A, "payments"),
            json!({"reference": "R-1", "received_on": "2026-02-05", "amount": "5000.00"}),
        ),
        (
            path(A, "payments"),
            json!({"reference": "R-2", "received_on": "2026-03-11", "amount": "6600.00"}),
        ),
        (
            path(A, "charges"),
            json!({"invoice_number": "1", "kind": "penalty", "on": "2026-03-12"}),
        ),
        (
            path(A, "charges"),
            json!({"invoice_number": "1", "kind": "fine", "on": "2026-03-12"}),
        ),
        (
            path(A, "waivers"),
            json!({"invoice_number": "1", "kind": "fine", "amount": "650.00", "reason": "goodwill", "on": "2026-03-13"}),
        ),
        (
            path(&others[1], "invoices"),
            invoice("2026-03-02", "250.00"),
        ),
        (
            path(&others[1], "suspension"),
            json!({"on": "2026-04-01", "reason": "violation"}),
        ),
    ];
    for (path, body) in steps {
        let response = app.post(&path, &body).await;
        assert!(
            response.status().is_success(),
            "POST {path} {body}: {}",
            response.text().await.unwrap()
        );
    }
    let mut ids = vec![A.to_owned()];
    ids.extend(others);
    ids
}

async fn check_finds_a_hand_altered_projection_and_rebuild_repairs_it(store: Store) {
    let app = spawn_app(store).await;
    let ids = a_few_commands(&app).await;
    let report = check(&app).await;
    assert!(report.is_clean(), "{:?}", report.differences);
    assert_eq!(report.rows_compared, 3);
    assert_eq!(report.rows_differing, 0);
    assert_eq!(report.rebuild.count.agreements, 3);
    assert_eq!(
        report.rebuild.count.events as i64,
        app.agreement_event_count().await,
        "every agreement's event folded"
    );

    // The first fact of A's ledger is invoice 1; its total goes from 11600.00 to 99999.00.
    let stored = app
        .ledger
        .repository()
        .ledger(A)
        .await
        .unwrap()
        .expect("A has a stored ledger");
    // The stored form is binary: alter it the way a tamperer with a decoder would.
    let mut json = serde_json::to_value(stored.decode().unwrap()).unwrap();
    assert_eq!(
        json["facts"][0]["fact"]["invoice"]["total"]["amount"],
        "11600.00"
    );
    json["facts"][0]["fact"]["invoice"]["total"]["amount"] = "99999.00".into();
    let altered: projections::AgreementLedger = serde_json::from_value(json).unwrap();
    let hex: String = altered
        .to_stored()
        .unwrap()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let altered = execute_sql(
        &app,
        &format!(
            "UPDATE agreement_ledgers SET ledger = decode('{hex}', 'hex') WHERE participant_id = $1"
        ),
        &format!("UPDATE agreement_ledgers SET ledger = X'{hex}' WHERE participant_id = ?"),
        A,
    )
    .await;
    assert_eq!(altered, 1);
    // The queries read the stored projection: the alteration shows.
    let balance = app
        .get_json(&format!("/v1/agreements/{A}/balance?as_of=2026-06-30"))
        .await;
    assert_eq!(balance["invoiced"], "99999.00");

    let report = check(&app).await;
    assert!(!report.is_clean());
    assert_eq!(report.rows_compared, 3);
    assert_eq!(report.rows_differing, 1);
    assert_eq!(
        report.differences,
        vec![Difference::Changed {
            participant_id: A.to_owned(),
            path: "ledger.facts[0].fact.invoice.total.amount".to_owned(),
            stored: "\"99999.00\"".to_owned(),
            replayed: "\"11600.00\"".to_owned(),
        }]
    );
    assert_eq!(report.differences_total, 1);
    assert_eq!(
        report.differences[0].to_string(),
        format!(
            "{A}: ledger.facts[0].fact.invoice.total.amount: stored \"99999.00\", replay gives \"11600.00\""
        )
    );

    // A second alteration, in a column: the status of another agreement.
    let other = &ids[2];
    execute_sql(
        &app,
        "UPDATE agreement_ledgers SET status = 'active' WHERE participant_id = $1",
        "UPDATE agreement_ledgers SET status = 'active' WHERE participant_id = ?",
        other,
    )
    .await;
    // The list's status filter reads that column.
    let page = app.get_json("/v1/agreements?status=suspended").await;
    assert_eq!(page["total"], 0, "the altered status is what the list sees");
    let report = check(&app).await;
    assert_eq!(report.rows_differing, 2);
    assert_eq!(report.differences_total, 2);
    assert!(
        report.differences.contains(&Difference::Changed {
            participant_id: other.clone(),
            path: "status".to_owned(),
            stored: "\"active\"".to_owned(),
            replayed: "\"suspended\"".to_owned(),
        }),
        "{:?}",
        report.differences
    );
    let events_before = app.event_count().await;

    rebuild(&app).await;
    let report = check(&app).await;
    assert!(report.is_clean(), "{:?}", report.differences);
    assert_eq!(report.rows_compared, 3);
    assert_eq!(
        app.event_count().await,
        events_before,
        "replay writes no event"
    );
    let balance = app
        .get_json(&format!("/v1/agreements/{A}/balance?as_of=2026-06-30"))
        .await;
    assert_eq!(balance["invoiced"], "11600.00");
    assert_eq!(balance["total_due"], "8348.00", "348.00 + 8650.00 - 650.00");
    let page = app.get_json("/v1/agreements?status=suspended").await;
    assert_eq!(page["items"][0]["participant_id"], other.as_str());

    // Commands after the rebuild continue from the rebuilt rows, and stay equal.
    let response = app
        .post(
            &format!("/v1/agreements/{A}/payments"),
            &json!({"reference": "R-3", "received_on": "2026-03-20", "amount": "8348.00"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let report = check(&app).await;
    assert!(report.is_clean(), "{:?}", report.differences);
    let balance = app
        .get_json(&format!("/v1/agreements/{A}/balance?as_of=2026-06-30"))
        .await;
    assert_eq!(balance["total_due"], "0.00");
    app.finish().await;
}

async fn check_finds_missing_and_unexpected_rows(store: Store) {
    let app = spawn_app(store).await;
    let ids = a_few_commands(&app).await;
    let registered_only = &ids[1];
    let deleted = execute_sql(
        &app,
        "DELETE FROM agreement_ledgers WHERE participant_id = $1",
        "DELETE FROM agreement_ledgers WHERE participant_id = ?",
        registered_only,
    )
    .await;
    assert_eq!(deleted, 1);
    // A row no events produce: A's row copied under an id with no events.
    let stranger = "990101300122";
    execute_sql(
        &app,
        "INSERT INTO agreement_ledgers (participant_id, version, status, name, currency, ledger)
         SELECT $1, version, status, name, currency, ledger FROM agreement_ledgers
         WHERE participant_id = '150240008272'",
        "INSERT INTO agreement_ledgers (participant_id, version, status, name, currency, ledger)
         SELECT ?, version, status, name, currency, ledger FROM agreement_ledgers
         WHERE participant_id = '150240008272'",
        stranger,
    )
    .await;
    let report = check(&app).await;
    assert_eq!(
        report.differences,
        vec![
            Difference::Missing {
                participant_id: registered_only.clone()
            },
            Difference::Unexpected {
                participant_id: stranger.to_owned()
            },
        ]
    );
    assert_eq!(report.rows_differing, 2);
    assert_eq!(report.rows_compared, 4, "3 replayed, plus the stranger");
    // The check changed nothing stored: the deleted row is still missing.
    assert!(app
        .ledger
        .repository()
        .ledger(registered_only)
        .await
        .unwrap()
        .is_none());

    rebuild(&app).await;
    assert!(check(&app).await.is_clean());
    assert!(app
        .ledger
        .repository()
        .ledger(stranger)
        .await
        .unwrap()
        .is_none());
    let agreement = app
        .get_json(&format!("/v1/agreements/{registered_only}"))
        .await;
    assert_eq!(agreement["status"], "registered");
    app.finish().await;
}

// ---------------------------------------------------------------------------------------
// A randomized load on PostgreSQL

/// How many agreements the load records.
const LOAD_AGREEMENTS: usize = 1_000;
/// How many agreements run their histories at the same time.
const LOAD_CONCURRENCY: usize = 64;

/// A linear congruential generator (Knuth's MMIX constants): the same seed, the same
/// load, on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    /// A number in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True `percent` times in 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Amounts in cents as the API's decimal strings.
fn cents(amount: u64) -> String {
    format!("{}.{:02}", amount / 100, amount % 100)
}

/// A command from its HTTP body (the command structs are the request bodies).
macro_rules! command {
    ($body:expr $(,)?) => {{
        let body: Value = $body;
        serde_json::from_value(body.clone()).unwrap_or_else(|e| panic!("{body}: {e}"))
    }};
}

/// What one agreement's history recorded, to check the load against.
#[derive(Default)]
struct Recorded {
    commands: u64,
    refused: u64,
    invoices: u64,
    payments: u64,
    charges: u64,
    waivers: u64,
}

/// Runs one command; a refusal (422/409 over HTTP) is counted, anything else fails.
async fn run(
    app: &TestApp,
    id: &ParticipantId,
    command: AgreementCommand,
    recorded: &mut Recorded,
) -> Option<Vec<AgreementEvent>> {
    let context = CommandContext {
        actor: "load-test".to_owned(),
        request_id: format!("load-{id}-{}", recorded.commands),
        sweep: None,
        idempotency: None,
    };
    recorded.commands += 1;
    match app.ledger.execute(id, command.clone(), &context).await {
        Ok(committed) => Some(committed.events.into_iter().map(|e| e.payload).collect()),
        Err(LedgerError::Refused(_)) => {
            recorded.refused += 1;
            None
        }
        Err(other) => panic!("{id}: {command:?}: {other}"),
    }
}

/// One agreement's randomized history: registration and signing in January, one to
/// three invoices, payments in full, in part, late or never, late charges and waivers,
/// the odd suspension. Dates only move forward and stay before `last_day`.
async fn random_history(app: &TestApp, id: String, seed: u64, last_day: Date) -> Recorded {
    let mut rng = Lcg(seed);
    let mut recorded = Recorded::default();
    let participant = ParticipantId::parse(&id).unwrap();
    let mut day = date!(2026 - 01 - 05).saturating_add(time::Duration::days(rng.below(10) as i64));
    let advance = |day: &mut Date, rng: &mut Lcg, max: u64| {
        let next = day.saturating_add(time::Duration::days(rng.below(max) as i64));
        *day = next.min(last_day);
    };
    let mut body = registration(&id);
    body["registered_on"] = json!(day.to_string());
    body["name"] = json!(format!("ТОО «Нагрузка {seed}»"));
    run(
        app,
        &participant,
        AgreementCommand::Register(command!(body)),
        &mut recorded,
    )
    .await
    .expect("registration is accepted");
    if rng.chance(3) {
        return recorded; // registered, never signed
    }
    advance(&mut day, &mut rng, 5);
    run(
        app,
        &participant,
        AgreementCommand::Sign(command!(json!({"signed_on": day.to_string()}))),
        &mut recorded,
    )
    .await
    .expect("signing is accepted");

    let invoices = 1 + rng.below(3);
    let mut reference = 0;
    for _ in 0..invoices {
        advance(&mut day, &mut rng, 40);
        let net = 100 + rng.below(5_000_000); // 1.00 to 50,000.99
        let kind = if rng.chance(60) {
            "subscription"
        } else {
            "credit"
        };
        let mut lines =
            vec![json!({"description": "E-DOC", "quantity": 1, "unit_price": cents(net)})];
        if rng.chance(30) {
            lines.push(json!({"description": "Extra documents", "quantity": 1 + rng.below(20), "unit_price": cents(1 + rng.below(99_999))}));
        }
        let Some(events) = run(
            app,
            &participant,
            AgreementCommand::IssueInvoice(command!(
                json!({"kind": kind, "issued_on": day.to_string(), "lines": lines}),
            )),
            &mut recorded,
        )
        .await
        else {
            panic!("{id}: an invoice on {day} is refused");
        };
        recorded.invoices += 1;
        let (number, total, due_on) = events
            .iter()
            .find_map(|e| match e {
                AgreementEvent::InvoiceIssued(i) => Some((i.number, i.total, i.due_on)),
                _ => None,
            })
            .expect("an invoice event");
        let total_cents = u64::try_from(total.amount().mantissa()).unwrap();
        if rng.chance(10) {
            // Not late on its issue date: refused, and nothing recorded.
            let refused = run(
                app,
                &participant,
                AgreementCommand::ChargeLatePayment(command!(json!({
                    "invoice_number": number.to_string(), "kind": "penalty", "on": day.to_string()
                }))),
                &mut recorded,
            )
            .await;
            assert!(
                refused.is_none(),
                "{id}: a charge before the due date {due_on}"
            );
        }

        // 0: never paid; 1: in full on time; 2: in part, then the rest late; 3: late.
        let plan = rng.below(4);
        let mut pay = |amount: u64, on: Date| {
            reference += 1;
            AgreementCommand::ReceivePayment(command!(json!({
                "reference": format!("LOAD-{id}-{reference}"),
                "received_on": on.to_string(),
                "amount": cents(amount),
                "invoice_number": number.to_string(),
            })))
        };
        let mut payments = Vec::new();
        match plan {
            1 => {
                advance(&mut day, &mut rng, 5);
                payments.push(pay(total_cents, day));
            }
            2 => {
                advance(&mut day, &mut rng, 5);
                let part = 1 + rng.below(total_cents.max(2) - 1);
                payments.push(pay(part, day));
                advance(&mut day, &mut rng, 80);
                if rng.chance(70) {
                    // The rest, sometimes with a little more: an advance.
                    payments.push(pay(total_cents - part + rng.below(3_000), day));
                }
            }
            3 => {
                advance(&mut day, &mut rng, 90);
                payments.push(pay(total_cents, day));
            }
            _ => advance(&mut day, &mut rng, 60),
        }
        for payment in payments {
            run(app, &participant, payment, &mut recorded)
                .await
                .expect("a payment is accepted");
            recorded.payments += 1;
        }
        // The operator charges what §5.9 allows when the invoice is late by now.
        if day > due_on && rng.chance(60) {
            for kind in ["penalty", "fine"] {
                if rng.chance(75) {
                    let charged = run(
                        app,
                        &participant,
                        AgreementCommand::ChargeLatePayment(command!(json!({
                            "invoice_number": number.to_string(), "kind": kind, "on": day.to_string()
                        }))),
                        &mut recorded,
                    )
                    .await;
                    if charged.is_some() {
                        recorded.charges += 1;
                    }
                }
            }
            if rng.chance(30) {
                let waiver = run(
                    app,
                    &participant,
                    AgreementCommand::WaiveLatePayment(command!(json!({
                        "invoice_number": number.to_string(), "kind": "fine",
                        "amount": cents(1 + rng.below(865_000)), "reason": "goodwill",
                        "on": day.to_string()
                    }))),
                    &mut recorded,
                )
                .await;
                if waiver.is_some() {
                    recorded.waivers += 1;
                }
            }
        }
    }
    if rng.chance(10) {
        advance(&mut day, &mut rng, 10);
        run(
            app,
            &participant,
            AgreementCommand::Suspend(command!(
                json!({"on": day.to_string(), "reason": "verification"}),
            )),
            &mut recorded,
        )
        .await
        .expect("a suspension is accepted");
        if rng.chance(50) {
            advance(&mut day, &mut rng, 10);
            run(
                app,
                &participant,
                AgreementCommand::Reinstate(command!(
                    json!({"on": day.to_string(), "reason": "documents checked"}),
                )),
                &mut recorded,
            )
            .await
            .expect("a reinstatement is accepted");
        }
    }
    recorded
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_check_is_clean_after_a_randomized_load_of_1000_agreements() {
    let app = spawn_app(Store::Postgres).await;
    // Every date stays in 2026 (the calendar's year) and before today.
    let last_day = app.ledger.today().min(date!(2026 - 11 - 30));
    assert!(
        last_day > date!(2026 - 06 - 30),
        "the load's dates need a clock after mid-2026"
    );
    let ids = participant_ids(LOAD_AGREEMENTS);
    let started = Instant::now();
    let mut total = Recorded::default();
    for (chunk_index, chunk) in ids.chunks(LOAD_CONCURRENCY).enumerate() {
        let histories = chunk.iter().enumerate().map(|(index, id)| {
            let seed = (chunk_index * LOAD_CONCURRENCY + index) as u64 * 7_919 + 17;
            random_history(&app, id.clone(), seed, last_day)
        });
        for recorded in join_all(histories).await {
            total.commands += recorded.commands;
            total.refused += recorded.refused;
            total.invoices += recorded.invoices;
            total.payments += recorded.payments;
            total.charges += recorded.charges;
            total.waivers += recorded.waivers;
        }
    }
    let loaded = started.elapsed();
    let events = app.agreement_event_count().await;
    println!(
        "load: {} agreements, {} commands ({} refused), {events} events: {} invoices, {} payments, {} charges, {} waivers in {:.1?}",
        ids.len(),
        total.commands,
        total.refused,
        total.invoices,
        total.payments,
        total.charges,
        total.waivers,
        loaded
    );
    assert!(total.invoices >= 1_000, "a load worth checking");
    assert!(total.charges >= 100 && total.waivers >= 10 && total.payments >= 500);
    assert!(total.refused > 0, "some refusals among the commands");

    let started = Instant::now();
    let report = check(&app).await;
    let checked = started.elapsed();
    println!(
        "replay --check: {} ; {} rows compared in {:.1?}",
        report.rebuild, report.rows_compared, checked
    );
    assert!(report.is_clean(), "{:?}", report.differences);
    assert_eq!(report.rows_compared, LOAD_AGREEMENTS as u64);
    assert_eq!(report.rebuild.count.events as i64, events);

    // A sample of agreements over HTTP: every journal balances and its receivable is
    // what the balance says is due.
    for id in ids.iter().step_by(50) {
        let as_of = last_day.to_string();
        let journal = app
            .get_json(&format!("/v1/agreements/{id}/journal?as_of={as_of}"))
            .await;
        let balance = app
            .get_json(&format!("/v1/agreements/{id}/balance?as_of={as_of}"))
            .await;
        assert_eq!(journal["debits"], journal["credits"], "{id}");
        let receivable = journal["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["account"] == "receivable")
            .map(|a| a["balance"].clone())
            .unwrap_or(json!("0.00"));
        assert_eq!(receivable, balance["total_due"], "{id}: {journal}");
    }
    let aging = app
        .get_json(&format!("/v1/reports/aging?as_of={last_day}"))
        .await;
    assert!(aging["totals"][0]["agreements"].as_u64().unwrap() > 0);
    assert!(
        loaded + checked < Duration::from_secs(120),
        "load {loaded:?} + check {checked:?}"
    );
    app.finish().await;
}

// The binary's `replay --check` and `replay` are tested in cli/tests/suite/cli.rs, where
// Cargo builds the binary for the test.
