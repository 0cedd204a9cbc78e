//! Replay: the stored projections (`agreement_ledgers`) equal a fold of the events; a
//! hand-altered row is found by `replay --check` down to its JSON path and repaired by
//! `replay`. On PostgreSQL also under a randomized load of 1,000 agreements with the
//! corrections of BILLING.md 5.2-5.3 among their commands (reversals, refunds, voids,
//! credit notes), whose statements and journals are checked against what the events
//! recorded.

use std::time::{Duration, Instant};

use futures::future::join_all;
use serde_json::{json, Value};
use time::macros::date;
use time::Date;

use api::application::commands::{CommandContext, LedgerError};
use api::application::replay::{CheckReport, Difference};
use api::store::{StoreLocation, LEDGERS_TABLE};
use commands::{AgreementCommand, IssueCreditNote, ReversePayment, VoidInvoice};
use events::{AgreementEvent, Money, ParticipantId};

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
    reversals: u64,
    refunds: u64,
    voids: u64,
    credit_notes: u64,
    /// The advance the agreement holds now, in cents, as its events tell it
    /// ([`track_advance`]); not added up over agreements.
    held: u64,
}

impl Recorded {
    fn add(&mut self, other: &Recorded) {
        self.commands += other.commands;
        self.refused += other.refused;
        self.invoices += other.invoices;
        self.payments += other.payments;
        self.charges += other.charges;
        self.waivers += other.waivers;
        self.reversals += other.reversals;
        self.refunds += other.refunds;
        self.voids += other.voids;
        self.credit_notes += other.credit_notes;
    }
}

/// An amount in cents (the ledger's amounts have two decimals).
fn cents_of(money: Money) -> u64 {
    use rust_decimal::prelude::ToPrimitive;
    (money.amount() * rust_decimal::Decimal::ONE_HUNDRED)
        .to_u64()
        .expect("a non-negative amount in cents")
}

/// The advance held, in cents, as the events a command recorded tell it: what a payment,
/// a credit note or a withdrawal left over adds to it, a reversal removes what it says,
/// and an advance applied or refunded states what remains; enough to ask for refunds
/// the ledger accepts.
fn track_advance(advance: &mut u64, events: &[AgreementEvent]) {
    for event in events {
        match event {
            AgreementEvent::PaymentReceived(p) => *advance += cents_of(p.advance),
            AgreementEvent::CreditNoteIssued(c) => *advance += cents_of(c.to_advance),
            AgreementEvent::LateChargeWithdrawn(w) => *advance += cents_of(w.moved_to_advance),
            AgreementEvent::AdvanceApplied(a) => *advance = cents_of(a.advance_remaining),
            AgreementEvent::AdvanceRefunded(r) => *advance = cents_of(r.advance_remaining),
            AgreementEvent::PaymentReversed(r) => {
                *advance = advance.saturating_sub(cents_of(r.advance_removed));
            }
            _ => {}
        }
    }
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
        Ok(committed) => {
            let events: Vec<AgreementEvent> =
                committed.events.into_iter().map(|e| e.payload).collect();
            track_advance(&mut recorded.held, &events);
            Some(events)
        }
        Err(LedgerError::Refused(_)) => {
            recorded.refused += 1;
            None
        }
        Err(other) => panic!("{id}: {command:?}: {other}"),
    }
}

/// One agreement's randomized history: registration and signing in January, one to
/// three invoices, payments in full, in part, late or never, late charges and waivers,
/// and the corrections of BILLING.md 5.2-5.3: payments the bank returned, refunds of part
/// of the advance, voids of invoices with nothing paid (and the odd one refused for the
/// money on it), credit notes by a net amount; the odd suspension. Dates only move
/// forward and stay before `last_day`. A correction the ledger refuses (409 or 422 over
/// HTTP: already reversed, nothing held to reverse, money on the invoice, beyond the
/// advance or the net not yet credited) is counted as refused.
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
    // The payments received so far: the bank may return any of them.
    let mut received: Vec<String> = Vec::new();
    let reason = |text: &str| serde_json::from_value(json!(text)).unwrap();
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
        let (number, net, total, due_on) = events
            .iter()
            .find_map(|e| match e {
                AgreementEvent::InvoiceIssued(i) => Some((i.number, i.net, i.total, i.due_on)),
                _ => None,
            })
            .expect("an invoice event");
        let total_cents = cents_of(total);
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
                // Now and then paid twice over by mistake: an advance to refund.
                let over = if rng.chance(15) { total_cents } else { 0 };
                payments.push(pay(total_cents + over, day));
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
            let AgreementCommand::ReceivePayment(body) = &payment else {
                unreachable!("a payment")
            };
            received.push(body.reference.as_str().to_owned());
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

        // BILLING.md 5.3: an invoice never paid is sometimes voided (issued by mistake),
        // what was charged on it cancelled with it; now and then any invoice is, and one
        // with money on it (paid, or settled from the advance) is refused (409).
        if (plan == 0 && rng.chance(25)) || rng.chance(2) {
            advance(&mut day, &mut rng, 3);
            let voided = run(
                app,
                &participant,
                AgreementCommand::VoidInvoice(VoidInvoice {
                    number,
                    on: day,
                    reason: reason("issued by mistake"),
                }),
                &mut recorded,
            )
            .await;
            if voided.is_some() {
                recorded.voids += 1;
            }
        }
        // A credit note by a net amount, up to the invoice's net: what it credits beyond
        // what is still owed becomes advance. Refused on a void invoice (409).
        if rng.chance(12) {
            advance(&mut day, &mut rng, 5);
            let part = 1 + rng.below(cents_of(net));
            let credited = run(
                app,
                &participant,
                AgreementCommand::IssueCreditNote(IssueCreditNote {
                    invoice_number: number,
                    on: day,
                    reason: reason("the service was down"),
                    lines: None,
                    net: Some(serde_json::from_value(json!(cents(part))).unwrap()),
                }),
                &mut recorded,
            )
            .await;
            if credited.is_some() {
                recorded.credit_notes += 1;
            }
        }
        // BILLING.md 5.2: the bank returns one of the payments received so far; a second
        // return of the same one is refused (409), and so is one whose money has left.
        if !received.is_empty() && rng.chance(10) {
            advance(&mut day, &mut rng, 5);
            let returned = &received[rng.below(received.len() as u64) as usize];
            let reversed = run(
                app,
                &participant,
                AgreementCommand::ReversePayment(ReversePayment {
                    reference: serde_json::from_value(json!(returned)).unwrap(),
                    on: day,
                    reason: reason("returned by the bank"),
                }),
                &mut recorded,
            )
            .await;
            if reversed.is_some() {
                recorded.reversals += 1;
            }
        }
        // §5.10: part of the advance paid back at the participant's request: accepted
        // whenever it is within what the events say is held; now and then a tiyn more
        // than that, which is refused (422).
        let held = recorded.held;
        if held > 0 && rng.chance(50) {
            advance(&mut day, &mut rng, 5);
            let amount = if rng.chance(10) {
                held + 1
            } else {
                1 + rng.below(held)
            };
            let refunded = run(
                app,
                &participant,
                AgreementCommand::RefundAdvance(command!(json!({
                    "reference": format!("REFUND-{id}-{number}"),
                    "on": day.to_string(),
                    "amount": cents(amount),
                    "reason": "the participant asked for the overpayment back",
                }))),
                &mut recorded,
            )
            .await;
            assert_eq!(
                refunded.is_some(),
                amount <= held,
                "{id}: a refund of {} on {day} with {} of advance held",
                cents(amount),
                cents(held)
            );
            if refunded.is_some() {
                recorded.refunds += 1;
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
    // What each agreement's history recorded, in the order of `ids`.
    let mut histories_recorded = Vec::with_capacity(ids.len());
    for (chunk_index, chunk) in ids.chunks(LOAD_CONCURRENCY).enumerate() {
        let histories = chunk.iter().enumerate().map(|(index, id)| {
            let seed = (chunk_index * LOAD_CONCURRENCY + index) as u64 * 7_919 + 17;
            random_history(&app, id.clone(), seed, last_day)
        });
        for recorded in join_all(histories).await {
            total.add(&recorded);
            histories_recorded.push(recorded);
        }
    }
    let loaded = started.elapsed();
    let events = app.agreement_event_count().await;
    println!(
        "load: {} agreements, {} commands ({} refused), {events} events: {} invoices, {} payments, {} charges, {} waivers, {} reversals, {} refunds, {} voids, {} credit notes in {:.1?}",
        ids.len(),
        total.commands,
        total.refused,
        total.invoices,
        total.payments,
        total.charges,
        total.waivers,
        total.reversals,
        total.refunds,
        total.voids,
        total.credit_notes,
        loaded
    );
    assert!(total.invoices >= 1_000, "a load worth checking");
    assert!(total.charges >= 100 && total.waivers >= 10 && total.payments >= 500);
    assert!(
        total.reversals >= 50
            && total.refunds >= 50
            && total.voids >= 50
            && total.credit_notes >= 50,
        "every kind of correction among the commands"
    );
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

    // A sample of agreements over HTTP, every 50th and every 10th of those with a
    // correction: every journal balances, its receivable is what the balance says is
    // due, its advance what the events left held, and the statement from the
    // registration closes on what the journal says is owed less the advance.
    let corrected = (0..ids.len()).filter(|&i| {
        let r = &histories_recorded[i];
        r.reversals + r.refunds + r.voids + r.credit_notes > 0
    });
    let mut sample: Vec<usize> = (0..ids.len())
        .step_by(50)
        .chain(corrected.step_by(10))
        .collect();
    sample.sort_unstable();
    sample.dedup();
    for index in sample {
        let id = &ids[index];
        let as_of = last_day.to_string();
        let journal = app
            .get_json(&format!("/v1/agreements/{id}/journal?as_of={as_of}"))
            .await;
        let balance = app
            .get_json(&format!("/v1/agreements/{id}/balance?as_of={as_of}"))
            .await;
        assert_eq!(journal["debits"], journal["credits"], "{id}");
        let decimal = |value: &Value| -> rust_decimal::Decimal {
            value
                .as_str()
                .unwrap_or_else(|| panic!("{id}: {value}"))
                .parse()
                .unwrap()
        };
        let account = |name: &str| {
            journal["accounts"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["account"] == name)
                .map_or(rust_decimal::Decimal::ZERO, |a| decimal(&a["balance"]))
        };
        let receivable = account("receivable");
        assert_eq!(
            receivable,
            decimal(&balance["total_due"]),
            "{id}: {journal}"
        );
        let held = rust_decimal::Decimal::new(histories_recorded[index].held as i64, 2);
        assert_eq!(decimal(&balance["advance"]), held, "{id}: {balance}");
        assert_eq!(-account("advance"), held, "{id}: {journal}");
        let statement = app
            .get_json(&format!("/v1/agreements/{id}/statement?to={as_of}"))
            .await;
        assert_eq!(statement["opening"], "0.00", "{id}: {statement}");
        assert_eq!(
            decimal(&statement["closing"]),
            receivable - held,
            "{id}: {statement}\n{journal}"
        );
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
