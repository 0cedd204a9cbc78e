//! Benchmark (not a test): the speed of hash-chain verification on PostgreSQL (issue 5).
//!
//! ```text
//! cargo bench -p ledger-bench --bench verify            # 1,000,000 events
//! cargo bench -p ledger-bench --bench verify -- 200000  # or EDOC_BENCH_EVENTS=200000
//! ```
//!
//! It creates a fresh database `edoc_bench_verify` on the server of
//! `EDOC_BENCH_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`),
//! migrates it through `LedgerEventRepository::connect`, loads realistic agreements of
//! about 100 events each, hash-chained as the ledger records them (the generator and
//! loader of the `replay` bench, in `common`), then times
//! `api::application::audit::verify_store(&repository, None, ..)` (what `edoc-ledger verify` and
//! `GET /v1/audit/verify` run), `api::application::audit::take_digest` (`edoc-ledger digest`) and
//! `verify_store` against that digest (`edoc-ledger verify --digest FILE`). Exits with
//! an error when a verification does not find the store intact. The database is dropped
//! at the end unless `EDOC_BENCH_KEEP=1`.

mod common;

use std::time::Instant;

use api::application::audit::VerifyReport;
use api::store::{LedgerEventRepository, StoreLocation};

use common::{mib, per_second, proc_status_kb, reset_peak_rss, seconds, BenchDatabase, BoxError};

const DATABASE: &str = "edoc_bench_verify";

/// Progress on stderr every 250,000 events, as `edoc-ledger verify` shows a bar.
fn progress(what: &'static str) -> impl FnMut(u64) {
    let mut next_report = 250_000;
    move |events| {
        if events >= next_report {
            eprintln!("  {what} {events} events");
            next_report += 250_000;
        }
    }
}

/// Fails unless the report finds every loaded event and agreement intact.
fn require_intact(
    what: &str,
    report: &VerifyReport,
    loaded: &common::Loaded,
) -> Result<(), BoxError> {
    if !report.ok {
        return Err(format!(
            "{what}: the store does not verify: {:?}",
            report.first_broken
        )
        .into());
    }
    if (report.events_checked, report.streams_checked) != (loaded.events, loaded.agreements) {
        return Err(format!(
            "{what}: {} events of {} agreements checked, {} and {} were loaded",
            report.events_checked, report.streams_checked, loaded.events, loaded.agreements
        )
        .into());
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let database = BenchDatabase::create("verify", DATABASE).await?;
    let repository =
        LedgerEventRepository::connect(&StoreLocation::Postgres(database.url.clone())).await?;
    let loaded = common::load(&database.url, common::HistoryShape::events(database.total)).await?;

    // Every chain: `edoc-ledger verify`, `GET /v1/audit/verify`.
    let peak_resettable = reset_peak_rss();
    let started = Instant::now();
    let report =
        api::application::audit::verify_store(&repository, None, progress("verified")).await?;
    let verify_time = started.elapsed();
    let verify_peak = proc_status_kb("VmHWM:");
    println!("--- verify (every chain) ---");
    println!("verify events:             {}", report.events_checked);
    println!("verify agreements:         {}", report.streams_checked);
    println!("verify time:               {}", seconds(verify_time));
    println!(
        "verify throughput:         {} events/s",
        per_second(report.events_checked, verify_time)
    );
    println!("verify ok:                 {}", report.ok);
    if let Some(broken) = &report.first_broken {
        println!("verify first broken:       {broken:?}");
    }
    if peak_resettable {
        println!("peak RSS during verify:    {}", mib(verify_peak));
    }
    require_intact("verify", &report, &loaded)?;

    // A digest: `edoc-ledger digest`, `GET /v1/audit/digest`.
    reset_peak_rss();
    let started = Instant::now();
    let digest =
        api::application::audit::take_digest(&repository, time::OffsetDateTime::now_utc()).await?;
    let digest_time = started.elapsed();
    let digest_peak = proc_status_kb("VmHWM:");
    let digest_json = serde_json::to_vec(&digest)?;
    println!("--- digest ---");
    println!("digest time:               {}", seconds(digest_time));
    println!(
        "digest:                    {} heads, {} events, root {}, {} bytes of JSON",
        digest.streams,
        digest.events,
        digest.root,
        digest_json.len()
    );
    if peak_resettable {
        println!("peak RSS during digest:    {}", mib(digest_peak));
    }
    if (digest.events, digest.streams) != (loaded.events, loaded.agreements) {
        return Err(format!(
            "the digest counts {} events of {} agreements, {} and {} were loaded",
            digest.events, digest.streams, loaded.events, loaded.agreements
        )
        .into());
    }

    // Against the digest: `edoc-ledger verify --digest FILE`.
    reset_peak_rss();
    let started = Instant::now();
    let against = api::application::audit::verify_store(
        &repository,
        Some(&digest),
        progress("verified (with digest)"),
    )
    .await?;
    let against_time = started.elapsed();
    let against_peak = proc_status_kb("VmHWM:");
    println!("--- verify --digest (every chain, then every head of the digest) ---");
    println!("verify --digest time:      {}", seconds(against_time));
    println!(
        "verify --digest throughput: {} events/s",
        per_second(against.events_checked, against_time)
    );
    println!("verify --digest ok:        {}", against.ok);
    if let Some(broken) = &against.first_broken {
        println!("verify --digest broken:    {broken:?}");
    }
    if peak_resettable {
        println!("peak RSS during --digest:  {}", mib(against_peak));
    }
    require_intact("verify --digest", &against, &loaded)?;

    let peak = [loaded.peak_kb, verify_peak, digest_peak, against_peak]
        .into_iter()
        .flatten()
        .max();
    println!("peak RSS (process):        {}", mib(peak));

    repository.close().await;
    database.finish().await?;
    Ok(())
}
