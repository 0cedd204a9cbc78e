//! Loading: the generator on a thread of its own, its chunks COPYed into the database
//! as they come, with the invoice numbers they took and the invoice counter.

use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Executor};

use super::generator::{Chunk, Generator};
use super::measure::{mib, per_second, proc_status_kb, seconds};
use super::{BoxError, HistoryShape};

/// Events per generated chunk handed from the generator thread to the loader.
const CHUNK_EVENTS: u64 = 20_000;
/// Events per COPY statement (each COPY is one transaction).
const COPY_EVENTS: u64 = 250_000;

/// Runs on its own thread: generates the history in chunks for the loader.
fn generate(
    shape: HistoryShape,
    sender: tokio::sync::mpsc::Sender<Chunk>,
) -> Result<(Generator, Duration), BoxError> {
    let started = Instant::now();
    let mut generator = Generator::new(0x5EED_ED0C, shape.months)?;
    let total = shape.events;
    let more_agreements = |generator: &Generator| {
        shape
            .agreements
            .is_none_or(|wanted| generator.agreements < wanted)
    };
    let mut produced = 0;
    while produced < total && more_agreements(&generator) {
        let mut chunk = Chunk {
            events_csv: Vec::with_capacity(16 << 20),
            invoices_csv: Vec::new(),
            events: 0,
        };
        while chunk.events < CHUNK_EVENTS && produced < total && more_agreements(&generator) {
            produced += generator.agreement(total - produced, &mut chunk)?;
        }
        if sender.blocking_send(chunk).is_err() {
            return Err("the loader stopped".into());
        }
    }
    Ok((generator, started.elapsed()))
}

/// What [`load`] stored.
pub struct Loaded {
    pub events: u64,
    pub agreements: u64,
    /// Peak RSS of the process after loading, in kB.
    pub peak_kb: Option<u64>,
}

/// Generates the history `shape` asks for (on a thread of its own) and COPYs them into the migrated
/// database at `url` (on this one; the two overlap), with the invoice numbers they took
/// and the invoice counter; then VACUUM ANALYZE, and prints what was stored.
pub async fn load(url: &str, shape: HistoryShape) -> Result<Loaded, BoxError> {
    let loader_options = PgConnectOptions::from_str(url)?.disable_statement_logging();
    let loader = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(loader_options)
        .await?;

    let load_started = Instant::now();
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Chunk>(4);
    let generator = std::thread::spawn(move || generate(shape, sender));
    let mut invoices_csv = Vec::new();
    let mut loaded = 0u64;
    let mut copies = 0u64;
    let mut finished = false;
    let mut conn = loader.acquire().await?;
    while !finished {
        let mut copy = conn
            .copy_in_raw(
                "COPY events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) FROM STDIN WITH (FORMAT csv)",
            )
            .await?;
        let mut in_copy = 0u64;
        while in_copy < COPY_EVENTS {
            match receiver.recv().await {
                Some(chunk) => {
                    copy.send(chunk.events_csv).await?;
                    invoices_csv.extend_from_slice(&chunk.invoices_csv);
                    in_copy += chunk.events;
                }
                None => {
                    finished = true;
                    break;
                }
            }
        }
        loaded += copy.finish().await?;
        copies += 1;
        if loaded > 0 && !finished {
            eprintln!("  loaded {loaded} events");
        }
    }
    let (generator, generation_time) = generator.join().map_err(|_| "the generator panicked")??;
    let mut copy = conn
        .copy_in_raw(
            "COPY invoice_numbers (number, aggregate_id, sequence) FROM STDIN WITH (FORMAT csv)",
        )
        .await?;
    copy.send(invoices_csv).await?;
    let invoices = copy.finish().await?;
    sqlx::query("UPDATE invoice_counter SET last_number = $1 WHERE id = 1")
        .bind(i64::try_from(generator.last_invoice_number)?)
        .execute(&mut *conn)
        .await?;
    let load_time = load_started.elapsed();
    // As autovacuum would have done on a store that grew over months: statistics for the
    // planner, and hint bits set so that the timed reads do not write.
    let vacuum_started = Instant::now();
    conn.execute("VACUUM (ANALYZE) events").await?;
    conn.execute("VACUUM (ANALYZE) invoice_numbers").await?;
    let vacuum_time = vacuum_started.elapsed();
    let events_size: String =
        sqlx::query_scalar("SELECT pg_size_pretty(pg_total_relation_size('events'))")
            .fetch_one(&mut *conn)
            .await?;
    drop(conn);
    loader.close().await;

    let load_peak = proc_status_kb("VmHWM:");
    println!("events stored:             {loaded} (in {copies} COPY transactions)");
    println!(
        "agreements:                {} (avg {} events each)",
        generator.agreements,
        loaded / generator.agreements.max(1)
    );
    println!(
        "invoices:                  {invoices} (last number {})",
        generator.last_invoice_number
    );
    let types: Vec<String> = generator
        .event_types
        .iter()
        .map(|(name, count)| format!("{name} {count}"))
        .collect();
    println!("event types:               {}", types.join(", "));
    let refused: u64 = generator.refused.values().sum();
    println!("commands refused (skipped): {refused}");
    for (what, count) in &generator.refused {
        println!("  {what}: {count}");
    }
    println!("events table size:         {events_size}");
    println!(
        "generation (aggregate):    {} on its thread ({} events/s)",
        seconds(generation_time),
        per_second(loaded, generation_time)
    );
    println!(
        "generation+insert:         {} wall, overlapped ({} events/s)",
        seconds(load_time),
        per_second(loaded, load_time)
    );
    println!("vacuum analyze:            {}", seconds(vacuum_time));
    println!("peak RSS after loading:    {}", mib(load_peak));
    Ok(Loaded {
        events: loaded,
        agreements: generator.agreements,
        peak_kb: load_peak,
    })
}
