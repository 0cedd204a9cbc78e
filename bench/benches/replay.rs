//! Benchmark (not a test): the throughput of `edoc-ledger replay` on PostgreSQL.
//!
//! ```text
//! cargo bench -p ledger-bench --bench replay            # 1,000,000 events
//! cargo bench -p ledger-bench --bench replay -- 200000  # or EDOC_BENCH_EVENTS=200000
//! ```
//!
//! It creates a fresh database `edoc_bench_replay` on the server of
//! `EDOC_BENCH_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`),
//! migrates it through `LedgerEventRepository::connect`, generates realistic agreements
//! of about 100 events each with the pure aggregate (register, sign, monthly subscription
//! and usage invoices, payments on time, late, partial and over the total, suspensions
//! for overdue invoices, penalties and fines charged and settled), bulk-loads them with
//! COPY, hash-chained as the ledger records them (`common`), then times
//! `api::application::replay::rebuild` (what `edoc-ledger replay` does) and `api::application::replay::check`
//! (`replay --check`). The database is dropped at the end unless `EDOC_BENCH_KEEP=1`.

mod common;

use std::time::Instant;

use api::store::{LedgerEventRepository, StoreLocation, LEDGERS_TABLE};

use common::{mib, per_second, proc_status_kb, reset_peak_rss, seconds, BenchDatabase, BoxError};

const DATABASE: &str = "edoc_bench_replay";

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let database = BenchDatabase::create("replay", DATABASE).await?;
    let repository =
        LedgerEventRepository::connect(&StoreLocation::Postgres(database.url.clone())).await?;
    let loaded = common::load(&database.url, common::HistoryShape::events(database.total)).await?;
    let load_peak = loaded.peak_kb;

    // The rebuild: what `edoc-ledger replay` does.
    let peak_resettable = reset_peak_rss();
    let mut next_report = 250_000;
    let report = api::application::replay::rebuild(&repository, LEDGERS_TABLE, |events| {
        if events >= next_report {
            eprintln!("  rebuilt {events} events");
            next_report += 250_000;
        }
    })
    .await?;
    let rebuild_peak = proc_status_kb("VmHWM:");
    println!("--- replay (rebuild {LEDGERS_TABLE}) ---");
    println!("rebuild events:            {}", report.count.events);
    println!("rebuild agreements:        {}", report.count.agreements);
    println!("rebuild time:              {}", seconds(report.elapsed));
    println!(
        "rebuild throughput:        {} events/s",
        report.events_per_second()
    );
    println!("rebuild report:            {report}");
    if peak_resettable {
        println!("peak RSS during rebuild:   {}", mib(rebuild_peak));
    }
    if (report.count.events, report.count.agreements) != (loaded.events, loaded.agreements) {
        return Err(format!(
            "the rebuild saw {} events of {} agreements, {} and {} were loaded",
            report.count.events, report.count.agreements, loaded.events, loaded.agreements
        )
        .into());
    }

    // The check: `replay --check` (scratch rebuild + compare).
    reset_peak_rss();
    let check_started = Instant::now();
    let check = api::application::replay::check(&repository, |_| {}).await?;
    let check_time = check_started.elapsed();
    let check_peak = proc_status_kb("VmHWM:");
    println!("--- replay --check (scratch rebuild + compare) ---");
    println!("check total time:          {}", seconds(check_time));
    println!(
        "check scratch rebuild:     {} ({} events/s)",
        seconds(check.rebuild.elapsed),
        check.rebuild.events_per_second()
    );
    println!(
        "check compare:             {}",
        seconds(check_time.saturating_sub(check.rebuild.elapsed))
    );
    println!(
        "check throughput:          {} events/s (whole check)",
        per_second(check.rebuild.count.events, check_time)
    );
    println!(
        "check result:              {} rows compared, {} differing, {} differences ({})",
        check.rows_compared,
        check.rows_differing,
        check.differences_total,
        if check.is_clean() {
            "clean"
        } else {
            "NOT CLEAN"
        }
    );
    if peak_resettable {
        println!("peak RSS during check:     {}", mib(check_peak));
    }
    let peak = [load_peak, rebuild_peak, check_peak]
        .into_iter()
        .flatten()
        .max();
    println!("peak RSS (process):        {}", mib(peak));

    repository.close().await;
    database.finish().await?;
    Ok(())
}
