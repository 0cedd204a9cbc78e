//! The dunning sweep over many agreements on PostgreSQL (not a test: it prints).
//!
//!     cargo bench -p ledger-bench --bench sweep         # 100,000 agreements
//!     EDOC_BENCH_AGREEMENTS=10000 cargo bench -p ledger-bench --bench sweep
//!
//! Creates the database `edoc_bench_sweep` on `EDOC_BENCH_DATABASE_URL` (default
//! postgres://postgres@127.0.0.1:5432/postgres) with agreements made by the aggregate
//! (register, sign, an invoice due 2026-02-09; a third paid on time, a third paid in part,
//! a third unpaid), builds their projections, then times one sweep as of 2026-05-20
//! (fines, suspensions, blocks) and a second one for the same date (nothing to record).

use std::sync::Arc;
use std::time::Instant;

use aggregates::{AgreementServices, ParticipantAgreement, ReferenceData};
use api::application::commands::{Ledger, SystemClock};
use api::store::{LedgerEventRepository, StoreLocation, LEDGERS_TABLE};
use commands::AgreementCommand;
use cqrs_es::Aggregate;
use events::{AgreementEvent, InvoiceNumber, ParticipantId};
use serde_json::{json, Value};
use time::macros::date;

const DATABASE: &str = "edoc_bench_sweep";
const INSERT_BATCH: usize = 5_000;

fn command<T: serde::de::DeserializeOwned>(body: Value) -> T {
    serde_json::from_value(body).expect("a well-formed command")
}

fn participant_ids(count: usize) -> Vec<String> {
    (10_000_000_000u64..)
        .map(|base| base.to_string())
        .filter_map(|base| {
            (0..10)
                .map(|digit| format!("{base}{digit}"))
                .find(|id| ParticipantId::parse(id).is_ok())
        })
        .take(count)
        .collect()
}

fn history(
    id: &str,
    index: usize,
    number: u64,
    reference: &Arc<ReferenceData>,
) -> Vec<AgreementEvent> {
    let mut agreement = ParticipantAgreement::default();
    let mut events = Vec::new();
    let services = AgreementServices {
        tariffs: Default::default(),
        reference: reference.clone(),
        today: date!(2026 - 12 - 31),
        next_invoice_number: Some(InvoiceNumber::new(number).unwrap()),
        closed_through: None,
    };
    let mut commands = vec![
        AgreementCommand::Register(command(json!({
            "participant_id": id, "name": "ТОО «Участник»", "kind": "legal_entity",
            "resident": true, "currency": "KZT", "email": "buh@example.kz",
            "registered_on": "2026-01-05"}))),
        AgreementCommand::Sign(command(json!({"signed_on": "2026-01-06"}))),
        AgreementCommand::IssueInvoice(command(json!({
            "kind": "subscription", "issued_on": "2026-02-02",
            "lines": [{"description": "E-DOC", "quantity": 1, "unit_price": "10000.00"}]}))),
    ];
    match index % 3 {
        0 => commands.push(AgreementCommand::ReceivePayment(command(json!({
            "reference": "R-1", "received_on": "2026-02-09", "amount": "11600.00"})))),
        1 => commands.push(AgreementCommand::ReceivePayment(command(json!({
            "reference": "R-1", "received_on": "2026-03-01", "amount": "100.00"})))),
        _ => {}
    }
    for next in commands {
        for event in agreement.decide(next, &services).expect("a valid history") {
            agreement.apply(event.clone());
            events.push(event);
        }
    }
    events
}

#[tokio::main]
async fn main() {
    let server = std::env::var("EDOC_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let count: usize = std::env::var("EDOC_BENCH_AGREEMENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let admin = sqlx::PgPool::connect(&server)
        .await
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {server}: {e}"));
    sqlx::query(&format!("DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        .execute(&admin)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {DATABASE}"))
        .execute(&admin)
        .await
        .unwrap();
    let (base, _) = server.rsplit_once('/').unwrap();
    let url = format!("{base}/{DATABASE}");
    let repository = LedgerEventRepository::connect(&StoreLocation::Postgres(url.clone()))
        .await
        .unwrap();
    let pool = sqlx::PgPool::connect(&url).await.unwrap();

    let started = Instant::now();
    let reference = Arc::new(ReferenceData::embedded().unwrap());
    let mut rows: Vec<(String, i64, String, Value)> = Vec::with_capacity(INSERT_BATCH);
    let mut events_total = 0usize;
    for (index, id) in participant_ids(count).iter().enumerate() {
        for (sequence, event) in history(id, index, index as u64 + 1, &reference)
            .into_iter()
            .enumerate()
        {
            rows.push((
                id.clone(),
                sequence as i64 + 1,
                event.type_name().to_owned(),
                serde_json::to_value(&event).unwrap(),
            ));
            events_total += 1;
        }
        if rows.len() >= INSERT_BATCH {
            insert(&pool, &std::mem::take(&mut rows)).await;
        }
    }
    insert(&pool, &rows).await;
    sqlx::query("UPDATE invoice_counter SET last_number = $1")
        .bind(count as i64)
        .execute(&pool)
        .await
        .unwrap();
    let rebuilt = api::application::replay::rebuild(&repository, LEDGERS_TABLE, |_| {})
        .await
        .unwrap();
    println!(
        "prepared {count} agreements ({events_total} events) in {:.1?}; projections: {rebuilt}",
        started.elapsed()
    );

    let ledger = Ledger::new(repository.clone(), reference, Arc::new(SystemClock));
    for (label, expect_work) in [("first sweep", true), ("second sweep, same date", false)] {
        let started = Instant::now();
        let report =
            api::application::sweep::run(&ledger, "bench", date!(2026 - 05 - 20), true, |_, _| {})
                .await
                .unwrap();
        let elapsed = started.elapsed();
        let rate = (report.agreements as u128 * 1_000_000) / elapsed.as_micros().max(1);
        println!(
            "{label}: {} agreements in {elapsed:.1?} ({rate} agreements/s): {} fines, {} suspended, {} blocked, {} skipped",
            report.agreements,
            report.fines_charged.len(),
            report.suspended.len(),
            report.blocked.len(),
            report.skipped.len()
        );
        assert_eq!(!report.suspended.is_empty(), expect_work);
    }
    pool.close().await;
    repository.close().await;
    if std::env::var("EDOC_BENCH_KEEP").as_deref() != Ok("1") {
        sqlx::query(&format!("DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
            .execute(&admin)
            .await
            .unwrap();
    }
}

async fn insert(pool: &sqlx::PgPool, rows: &[(String, i64, String, Value)]) {
    if rows.is_empty() {
        return;
    }
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         SELECT 'ParticipantAgreement', id, seq, kind, '1.0', payload, '{}'::jsonb
         FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::jsonb[]) AS t(id, seq, kind, payload)",
    )
    .bind(rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.1).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.2.clone()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.3.clone()).collect::<Vec<_>>())
    .execute(pool)
    .await
    .unwrap();
}
