//! The phases of `edoc-ledger bench` measured in process: the raw read the rebuild is
//! compared with, the limit (single-row INSERTs), and the command path.

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, Executor, Row};

use api::application::commands::{Clock, CommandContext, Ledger, SystemClock};
use api::store::LedgerEventRepository;

use super::{rate, BenchSettings, Throughput};
use crate::history::Rng;
use crate::{iso, BoxError};

async fn connect(url: &str) -> Result<sqlx::PgConnection, BoxError> {
    let options = PgConnectOptions::from_str(url)?.disable_statement_logging();
    Ok(sqlx::PgConnection::connect_with(&options).await?)
}

pub(super) async fn count_events(url: &str) -> Result<u64, BoxError> {
    let mut connection = connect(url).await?;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&mut connection)
        .await?;
    Ok(count as u64)
}

/// The rebuild's read alone: the same query, each payload decoded into its event (through
/// the upcasters, as the rebuild does), nothing folded or written.
pub(super) async fn raw_read(url: &str) -> Result<Throughput, BoxError> {
    let mut connection = connect(url).await?;
    let started = Instant::now();
    let mut rows = sqlx::query(
        "SELECT aggregate_id, sequence, event_type, event_version, payload FROM events
         WHERE aggregate_type = 'ParticipantAgreement' ORDER BY aggregate_id, sequence",
    )
    .fetch(&mut connection);
    let mut decoded = 0u64;
    while let Some(row) = rows.try_next().await? {
        let _id: String = row.get("aggregate_id");
        let _sequence: i64 = row.get("sequence");
        let event_type: String = row.get("event_type");
        let event_version: String = row.get("event_version");
        let payload: Value = row.get("payload");
        let event = events::upcast::decode(&event_type, &event_version, payload)?;
        std::hint::black_box(&event);
        decoded += 1;
    }
    let elapsed = started.elapsed();
    Ok(Throughput {
        operations: decoded,
        seconds: elapsed.as_secs_f64(),
        per_second: rate(decoded, elapsed),
        latency: None,
        errors: 0,
    })
}

/// Single-row autocommit INSERTs of a recorded payment's row into a scratch copy of the
/// events table (same columns, key and indexes), one connection per client.
pub(super) async fn limit_insert(
    url: &str,
    clients: usize,
    phase: Duration,
) -> Result<Throughput, BoxError> {
    // Checked out like the ledger's own pool (no ping before each checkout), so the
    // limit and the command path pay the same pool costs.
    let pool = PgPoolOptions::new()
        .max_connections(clients as u32)
        .min_connections(clients as u32)
        .test_before_acquire(false)
        .connect_with(PgConnectOptions::from_str(url)?.disable_statement_logging())
        .await?;
    pool.execute("DROP TABLE IF EXISTS bench_limit").await?;
    pool.execute("CREATE TABLE bench_limit (LIKE events INCLUDING ALL)")
        .await?;
    let (payload, metadata): (Value, Value) = sqlx::query_as(
        "SELECT payload, metadata FROM events WHERE event_type = 'PaymentReceived' LIMIT 1",
    )
    .fetch_one(&pool)
    .await?;
    println!(
        "row: {} bytes of payload and metadata JSON",
        payload.to_string().len() + metadata.to_string().len()
    );
    let started = Instant::now();
    let deadline = started + phase;
    let mut tasks = Vec::new();
    for client in 0..clients {
        let (pool, payload, metadata) = (pool.clone(), payload.clone(), metadata.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut sequence = 0i64;
            while Instant::now() < deadline {
                sequence += 1;
                let one = Instant::now();
                sqlx::query(
                    "INSERT INTO bench_limit (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
                     VALUES ('ParticipantAgreement', $1, $2, 'PaymentReceived', '1.0', $3, $4)",
                )
                .bind(format!("limit-{client}"))
                .bind(sequence)
                .bind(&payload)
                .bind(&metadata)
                .execute(&pool)
                .await?;
                latencies.push(one.elapsed());
            }
            Ok::<_, sqlx::Error>(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let elapsed = started.elapsed();
    pool.execute("DROP TABLE bench_limit").await?;
    pool.close().await;
    Ok(Throughput::timed(latencies, elapsed, 0))
}

/// Payments through `Ledger::execute` from `clients` concurrent callers, each on a
/// random agreement: dated today (`days_back` = 0), or 1..=`days_back` days back, which
/// on an agreement already paid today is a payment recorded late (§5.5, BILLING.md 5.1).
/// Returns the throughput and the agreements a payment reached.
pub(super) async fn commands_in_process(
    repository: &LedgerEventRepository,
    agreements: &Arc<Vec<String>>,
    settings: &BenchSettings,
    days_back: u64,
    tag: &'static str,
) -> Result<(Throughput, Vec<String>), BoxError> {
    // The reference tables come from the store's reference stream, as a server's do:
    // each command reads the stream's last sequence first (issue 13).
    let (shipped, _) = api::reference_files::shipped_versions(None)?;
    let ledger = Arc::new(Ledger::on_store(repository.clone(), &shipped).await?);
    let today = SystemClock.today();
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + settings.phase;
    let mut tasks = Vec::new();
    for client in 0..settings.clients {
        let (ledger, agreements, errors) = (ledger.clone(), agreements.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng(0xC0DE_0000 + client as u64);
            let mut latencies = Vec::new();
            let mut reached = Vec::new();
            let mut sent = 0u64;
            while Instant::now() < deadline {
                sent += 1;
                let id = &agreements[rng.below(agreements.len() as u64) as usize];
                let participant = events::ParticipantId::parse(id).expect("a stored BIN/IIN");
                let received_on = if days_back == 0 {
                    today
                } else {
                    today - time::Duration::days(rng.between(1, days_back) as i64)
                };
                let payment: commands::ReceivePayment = serde_json::from_value(json!({
                    "reference": format!("{tag}-C{client}-{sent}"),
                    "received_on": iso(received_on),
                    "amount": format!("{}.{:02}", rng.between(100, 50_000), rng.below(100)),
                }))
                .expect("a valid payment");
                let context = CommandContext {
                    actor: "bench".to_owned(),
                    request_id: format!("bench-{client}-{sent}"),
                    sweep: None,
                    idempotency: None,
                };
                let one = Instant::now();
                match ledger
                    .execute(
                        &participant,
                        commands::AgreementCommand::ReceivePayment(payment),
                        &context,
                    )
                    .await
                {
                    Ok(_) => {
                        latencies.push(one.elapsed());
                        reached.push(id.clone());
                    }
                    Err(error) => {
                        if errors.fetch_add(1, Ordering::Relaxed) < 5 {
                            eprintln!("command failed on {id}: {error}");
                        }
                    }
                }
            }
            (latencies, reached)
        }));
    }
    let mut latencies = Vec::new();
    let mut reached = Vec::new();
    for task in tasks {
        let (timed, ids) = task.await?;
        latencies.extend(timed);
        reached.extend(ids);
    }
    reached.sort();
    reached.dedup();
    Ok((
        Throughput::timed(latencies, started.elapsed(), errors.load(Ordering::Relaxed)),
        reached,
    ))
}

/// What closing a month cost (BILLING.md 5.4).
#[derive(Debug, Clone, serde::Serialize)]
pub struct PeriodCloseFigures {
    /// The month closed: the history's first with documents.
    pub period: String,
    /// `GET /v1/periods` in process: every stored ledger read once.
    pub list_seconds: f64,
    /// The close: every agreement's month summed under the lock, the digest, the seal.
    pub close_seconds: f64,
    /// Chains the seal's digest covers (the agreements and the operator's streams).
    pub chains: u64,
    pub agreements_per_second: f64,
}

/// Closes the history's first month with documents, timing the list and the close.
pub(super) async fn period_close(
    repository: &LedgerEventRepository,
) -> Result<PeriodCloseFigures, BoxError> {
    let (shipped, _) = api::reference_files::shipped_versions(None)?;
    let ledger = Ledger::on_store(repository.clone(), &shipped).await?;
    let started = Instant::now();
    let periods = api::application::periods::periods(&ledger, None).await?;
    let list_seconds = started.elapsed().as_secs_f64();
    let period = periods
        .months
        .first()
        .map(|m| m.period.clone())
        .ok_or("the history has no document")?;
    let closer = api::application::periods::Closer {
        actor: "bench".to_owned(),
        request_id: "bench-period-close".to_owned(),
        note: None,
    };
    let started = Instant::now();
    let seal = api::application::periods::close_period(&ledger, &period, &closer).await?;
    let elapsed = started.elapsed();
    Ok(PeriodCloseFigures {
        period,
        list_seconds,
        close_seconds: elapsed.as_secs_f64(),
        chains: seal.chains,
        agreements_per_second: rate(seal.chains, elapsed),
    })
}
