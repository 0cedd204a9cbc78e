//! Rebuild throughput of the stored projections on PostgreSQL (not a test: it prints).
//!
//!     cargo bench -p api --bench replay                 # 1,000,000 events
//!     EDOC_BENCH_EVENTS=100000 cargo bench -p api --bench replay
//!
//! Creates the database `edoc_bench_replay` on `EDOC_BENCH_DATABASE_URL` (default
//! postgres://postgres@127.0.0.1:5432/postgres), fills it with realistic agreements made
//! by the aggregate itself (register, sign, monthly invoices, payments on time, late and
//! partial, penalty and fine charges), then times `edoc-ledger replay` and
//! `replay --check`. Drops the database afterwards unless EDOC_BENCH_KEEP=1.

use std::sync::Arc;
use std::time::Instant;

use aggregates::{AgreementServices, ParticipantAgreement, ReferenceData};
use api::store::{LedgerEventRepository, StoreLocation, LEDGERS_TABLE};
use commands::AgreementCommand;
use cqrs_es::Aggregate;
use events::{AgreementEvent, InvoiceNumber, ParticipantId};
use serde_json::{json, Value};
use time::macros::date;
use time::{Date, Duration};

const DATABASE: &str = "edoc_bench_replay";
const INSERT_BATCH: usize = 5_000;

fn command<T: serde::de::DeserializeOwned>(body: Value) -> T {
    serde_json::from_value(body).expect("a well-formed command")
}

/// Valid 12-digit BINs, in order.
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

/// A deterministic generator (an LCG): the same load every run.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

/// One agreement's history of about `events_wanted` events.
fn agreement_history(
    id: &str,
    events_wanted: usize,
    next_invoice: &mut u64,
    random: &mut Lcg,
    reference: &Arc<ReferenceData>,
) -> Vec<AgreementEvent> {
    let mut agreement = ParticipantAgreement::default();
    let mut events = Vec::new();
    let decide = |command: AgreementCommand,
                  agreement: &mut ParticipantAgreement,
                  next: &mut u64,
                  events: &mut Vec<AgreementEvent>| {
        let services = AgreementServices {
            reference: reference.clone(),
            today: date!(2026 - 12 - 31),
            next_invoice_number: Some(InvoiceNumber::new(*next).unwrap()),
        };
        if let Ok(decided) = agreement.decide(command, &services) {
            for event in decided {
                if matches!(event, AgreementEvent::InvoiceIssued(_)) {
                    *next += 1;
                }
                agreement.apply(event.clone());
                events.push(event);
            }
        }
    };
    let start = date!(2025 - 01 - 02);
    decide(
        AgreementCommand::Register(command(json!({
            "participant_id": id, "name": "ТОО «Участник»", "kind": "legal_entity",
            "resident": true, "currency": "KZT", "email": "buh@example.kz",
            "registered_on": start.to_string()}))),
        &mut agreement,
        next_invoice,
        &mut events,
    );
    decide(
        AgreementCommand::Sign(command(json!({"signed_on": start.to_string()}))),
        &mut agreement,
        next_invoice,
        &mut events,
    );
    let mut day: Date = start;
    let mut payment = 0u32;
    while events.len() < events_wanted && day < date!(2026 - 12 - 10) {
        day += Duration::days(1 + random.next(6) as i64);
        let on = day.to_string();
        let roll = random.next(100);
        let next = if roll < 30 {
            let price = 1_000 + random.next(50_000);
            AgreementCommand::IssueInvoice(command(json!({
                "kind": if roll < 20 { "subscription" } else { "credit" }, "issued_on": on,
                "lines": [{"description": "E-DOC", "quantity": 1, "unit_price": format!("{price}.00")}]})))
        } else if roll < 80 {
            payment += 1;
            let cents = 50_000 + random.next(5_000_000);
            AgreementCommand::ReceivePayment(command(json!({
                "reference": format!("BANK-{payment}"), "received_on": on,
                "amount": format!("{}.{:02}", cents / 100, cents % 100)})))
        } else {
            let Some(number) = agreement
                .invoices()
                .filter(|invoice| invoice.due_on < day)
                .map(|invoice| invoice.number)
                .last()
            else {
                continue;
            };
            AgreementCommand::ChargeLatePayment(command(json!({
                "invoice_number": number.to_string(),
                "kind": if roll < 92 { "penalty" } else { "fine" }, "on": on})))
        };
        decide(next, &mut agreement, next_invoice, &mut events);
    }
    events
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let server = std::env::var("EDOC_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let events_wanted: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .or_else(|| std::env::var("EDOC_BENCH_EVENTS").ok()?.parse().ok())
        .unwrap_or(1_000_000);
    let per_agreement = 100;
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

    // Generate and insert.
    let started = Instant::now();
    let reference = Arc::new(ReferenceData::embedded().unwrap());
    let mut random = Lcg(42);
    let mut next_invoice = 1u64;
    let ids = participant_ids(events_wanted / per_agreement * 2 + 10);
    let mut total = 0usize;
    let mut agreements = 0usize;
    let mut batch: Vec<(String, i64, String, Value)> = Vec::with_capacity(INSERT_BATCH);
    let metadata =
        json!({"actor": "bench", "clause": "bench", "request_id": "bench", "command": "bench"});
    for id in &ids {
        if total >= events_wanted {
            break;
        }
        let wanted = per_agreement.min(events_wanted - total);
        let history = agreement_history(id, wanted, &mut next_invoice, &mut random, &reference);
        agreements += 1;
        for (index, event) in history.into_iter().take(wanted).enumerate() {
            batch.push((
                id.clone(),
                index as i64 + 1,
                event.type_name().to_owned(),
                serde_json::to_value(&event).unwrap(),
            ));
            total += 1;
            if batch.len() == INSERT_BATCH {
                insert(&pool, &batch, &metadata).await;
                batch.clear();
            }
        }
    }
    insert(&pool, &batch, &metadata).await;
    let generated = started.elapsed();
    println!("generated and inserted {total} events of {agreements} agreements in {generated:.1?}");

    // Rebuild.
    let report = api::replay::rebuild(&repository, LEDGERS_TABLE, |_| {})
        .await
        .unwrap();
    println!("replay (rebuild agreement_ledgers): {report}");
    let started = Instant::now();
    let check = api::replay::check(&repository, |_| {}).await.unwrap();
    println!(
        "replay --check (rebuild into scratch + compare {} rows): {:.1?}, {} difference(s)",
        check.rows_compared,
        started.elapsed(),
        check.differences_total
    );
    println!("peak RSS of this process: {} MiB", peak_rss_kib() / 1024);

    pool.close().await;
    repository.close().await;
    if std::env::var("EDOC_BENCH_KEEP").as_deref() != Ok("1") {
        sqlx::query(&format!("DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
            .execute(&admin)
            .await
            .unwrap();
    }
}

async fn insert(pool: &sqlx::PgPool, rows: &[(String, i64, String, Value)], metadata: &Value) {
    if rows.is_empty() {
        return;
    }
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         SELECT 'ParticipantAgreement', id, seq, kind, '1.0', payload, $5
         FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::jsonb[]) AS t(id, seq, kind, payload)",
    )
    .bind(rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.1).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.2.clone()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.3.clone()).collect::<Vec<_>>())
    .bind(metadata)
    .execute(pool)
    .await
    .unwrap();
}
