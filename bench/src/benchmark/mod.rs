//! `edoc-ledger bench`: the ledger's speed as ratios to what the same PostgreSQL server
//! can do at all, measured in one run on one machine (docs/performance.md).
//!
//! In order, on a fresh database `edoc_bench` on the server of DATABASE_URL:
//! 1. **load**: generated agreements with months of history each (the pure aggregate,
//!    hash-chained as the ledger records them), COPYed in;
//! 2. **rebuild**: `replay` of every event into the stored projections, against
//!    **raw read**: the same `SELECT` with each payload decoded into its event, nothing
//!    folded or written;
//! 3. **limit**: single-row autocommit `INSERT`s of an event-sized row (a recorded
//!    payment's payload and metadata) into a scratch copy of the events table, from as
//!    many connections as there are clients;
//! 4. **commands**: the full command path in process (`Ledger::execute`: load the
//!    agreement, decide, hash, append with the projection, commit), payments from
//!    `clients` concurrent callers over all agreements;
//! 5. **HTTP**: the same payments through the real server (`edoc-ledger serve`, a child
//!    process) on loopback;
//!    then **the cqrs-es demo**: a server built as the cqrs-es demo is (src/cqrs_demo.rs,
//!    `edoc-ledger cqrs-demo-serve`, a child process on a database of its own), an
//!    account opened per agreement, then deposits from the same load generator and
//!    clients for as long: the ledger's successful payments over its successful deposits;
//! 6. **as-of reads**: `GET .../balance?as_of=` a random date for a random agreement,
//!    through the same server; then **feed**: one consumer reading `GET /v1/events` from
//!    the start, 1,000 events a page, through the same server (INTEGRATION.md 1);
//! 7. **usage ingestion**: `POST /v1/usage` batches of 1,000 usage records (BILLING.md
//!    3) on random agreements, dated this month or the last, from `clients` concurrent
//!    clients through the same server: records per second, against the limit;
//! 8. **billing run**: a tariff version published for next month (`PUT
//!    /v1/tariffs/standard` on the server), every agreement subscribed to it from the
//!    month's first day (in process), then next month's billing run in process, as
//!    `edoc-ledger bill` runs it (BILLING.md 4): invoices per second, against the limit;
//!    the setup is printed, not timed in the figure;
//! 9. **statement import**: a generated camt.053 statement of 10,000 credit lines over
//!    100 agreements imported in process, as `POST /v1/bank-statements` does
//!    (INTEGRATION.md 2: parsed, matched, the payments recorded through the batched write
//!    path), on a pool with its connections open, as a running server's; three such
//!    statements one after another, each over agreements of its own: lines per second of
//!    the median run, against the limit (the goal: at least 2x), every run in the JSON;
//! 10. the server's peak resident memory (VmHWM of the child, over every phase it
//!     served).
//!
//! The table goes to standard output and the figures, as JSON, to `--out`
//! (`target/bench.json` by default).

mod phases;

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, Executor};

use api::application::commands::{Clock, SystemClock};
use api::store::{LedgerEventRepository, StoreLocation, LEDGERS_TABLE};

use crate::history::{self, HistoryShape};
use crate::http_load::{self, LoadPlan, LoadReport, RequestKind, RequestMix};
use crate::{BoxError, LatencySummary};
use phases::{
    billing_run, commands_in_process, count_events, feed_consumer, limit_insert, period_close,
    publish_tariff, raw_read, statement_imports, usage_ingestion, BillingRunFigures, FeedFigures,
    PeriodCloseFigures, StatementImportFigures, UsageIngestionFigures,
};

/// The lines of the statement the statement import phase imports (INTEGRATION.md 2).
pub const STATEMENT_LINES: usize = 10_000;

/// The database the benchmark creates (and drops) on the server it is pointed at.
pub const BENCH_DATABASE: &str = "edoc_bench";
/// The server used when DATABASE_URL is not set.
pub const DEFAULT_SERVER_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// What `edoc-ledger bench` is asked to do.
#[derive(Debug, Clone)]
pub struct BenchSettings {
    /// A PostgreSQL URL; only its server is used (the database `edoc_bench` is created).
    pub server_url: String,
    pub agreements: u64,
    pub months: u32,
    pub clients: usize,
    /// How long each timed phase (limit, commands, HTTP, reads, usage ingestion) runs.
    pub phase: Duration,
    pub out: PathBuf,
    /// Keep the database afterwards.
    pub keep: bool,
    /// The program to start as the server (this executable).
    pub server_program: PathBuf,
}

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub memory_gib: f64,
    pub kernel: String,
    pub postgres: String,
    pub synchronous_commit: String,
    pub fsync: String,
    pub shared_buffers: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    pub operations: u64,
    pub seconds: f64,
    pub per_second: f64,
    pub latency: Option<LatencySummary>,
    pub errors: u64,
}

/// Everything one run measured (written to `--out`).
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub machine: Machine,
    pub agreements: u64,
    pub months: u32,
    pub clients: usize,
    pub phase_seconds: u64,
    pub events_loaded: u64,
    pub load_seconds: f64,
    pub rebuild: Throughput,
    pub raw_read: Throughput,
    pub rebuild_to_raw_read: f64,
    pub limit_insert: Throughput,
    pub commands: Throughput,
    pub commands_to_limit: f64,
    /// Payments dated 1-30 days back on agreements already paid today (BILLING.md 5.1).
    pub late_payments: Throughput,
    pub late_payments_to_limit: f64,
    /// Late payments per second over in-order payments per second: what the
    /// effective-date fold costs.
    pub late_to_in_order: f64,
    /// Closing the history's first month (BILLING.md 5.4): every agreement's month
    /// summed under the close's lock.
    pub period_close: PeriodCloseFigures,
    pub http_payments: LoadReport,
    pub http_to_limit: f64,
    /// The cqrs-es demo's server under the same load (src/cqrs_demo.rs).
    pub cqrs_demo: CqrsDemoFigures,
    /// The ledger's successful payments per second over the demo's successful deposits
    /// per second (the goal: 2x or more).
    pub http_to_cqrs_demo: f64,
    pub as_of_reads: LoadReport,
    /// One consumer reading the global feed from the start (INTEGRATION.md 1).
    pub feed: FeedFigures,
    pub events_at_reads: u64,
    /// Usage records through `POST /v1/usage` in batches (BILLING.md 3).
    pub usage_ingestion: UsageIngestionFigures,
    /// Usage records per second over the limit's rows per second.
    pub usage_ingestion_to_limit: f64,
    /// Next month's billing run over every agreement, subscribed first (BILLING.md 4).
    pub billing_run: BillingRunFigures,
    /// Invoices per second over the limit's rows per second.
    pub billing_run_to_limit: f64,
    /// A 10,000-line bank statement imported in process (INTEGRATION.md 2).
    /// The median of the statement imports (`statement_import_runs`).
    pub statement_import: StatementImportFigures,
    /// Every statement import of the phase, in the order run.
    pub statement_import_runs: Vec<StatementImportFigures>,
    /// Statement lines per second over the limit's rows per second.
    pub statement_import_to_limit: f64,
    /// The server's peak resident memory over every phase it served.
    pub server_peak_rss_mib: Option<f64>,
    /// The same after the payments and reads, before usage ingestion's batches: what
    /// runs before the usage phase existed reported.
    pub server_peak_rss_before_usage_mib: Option<f64>,
    pub bench_peak_rss_mib: Option<f64>,
}

impl Throughput {
    /// Operations timed one by one (`latencies`) over `elapsed`.
    fn timed(mut latencies: Vec<Duration>, elapsed: Duration, errors: u64) -> Self {
        let operations = latencies.len() as u64;
        Self {
            operations,
            seconds: elapsed.as_secs_f64(),
            per_second: rate(operations, elapsed),
            latency: Some(LatencySummary::of(&mut latencies)),
            errors,
        }
    }
}

fn rate(operations: u64, elapsed: Duration) -> f64 {
    operations as f64 / elapsed.as_secs_f64().max(1e-9)
}

fn status_kb(path: &str, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(path).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

fn machine_text(path: &str, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .find(|line| line.starts_with(key))
        .and_then(|line| line.split_once(':'))
        .map(|(_, value)| value.trim().to_owned())
}

/// Runs the benchmark, printing as it goes, and writes the JSON report.
pub async fn run(settings: &BenchSettings) -> Result<BenchReport, BoxError> {
    assert!(settings.clients > 0, "at least one client");
    let admin_options =
        PgConnectOptions::from_str(&settings.server_url)?.disable_statement_logging();
    let mut admin = sqlx::PgConnection::connect_with(&admin_options).await?;
    let mut show = Vec::new();
    for name in [
        "server_version",
        "synchronous_commit",
        "fsync",
        "shared_buffers",
    ] {
        let value: String = sqlx::query_scalar(&format!("SHOW {name}"))
            .fetch_one(&mut admin)
            .await?;
        show.push(value);
    }
    history::recreate_database(&mut admin, BENCH_DATABASE).await?;
    let url = history::with_database(&settings.server_url, BENCH_DATABASE);
    let machine = Machine {
        cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model: machine_text("/proc/cpuinfo", "model name").unwrap_or_default(),
        memory_gib: status_kb("/proc/meminfo", "MemTotal:").unwrap_or(0) as f64 / (1024.0 * 1024.0),
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_owned(),
        postgres: show[0].clone(),
        synchronous_commit: show[1].clone(),
        fsync: show[2].clone(),
        shared_buffers: show[3].clone(),
    };
    println!("edoc-ledger bench");
    println!(
        "machine:    {} cpus ({}), {:.1} GiB, Linux {}",
        machine.cpus, machine.cpu_model, machine.memory_gib, machine.kernel
    );
    println!(
        "PostgreSQL: {} (synchronous_commit={}, fsync={}, shared_buffers={}), database {BENCH_DATABASE} on {}",
        machine.postgres,
        machine.synchronous_commit,
        machine.fsync,
        machine.shared_buffers,
        api::store::redact(&settings.server_url)
    );
    println!(
        "asked:      {} agreements x {} months, {} clients, {} s per timed phase",
        settings.agreements,
        settings.months,
        settings.clients,
        settings.phase.as_secs()
    );

    let repository = LedgerEventRepository::connect(&StoreLocation::Postgres(url.clone())).await?;

    // 1. Load.
    println!("\n[1/9] loading the history (generated by the aggregate, COPY)");
    let load_started = Instant::now();
    let loaded = history::load(
        &url,
        HistoryShape {
            events: u64::MAX,
            agreements: Some(settings.agreements),
            months: settings.months,
        },
    )
    .await?;
    let load_seconds = load_started.elapsed().as_secs_f64();

    // 2. Rebuild, and the raw read it is compared with.
    println!("\n[2/9] rebuild (replay into the projections) and raw read");
    let progress = progress_bar(loaded.events, "rebuild", "events");
    let rebuilt = api::application::replay::rebuild(&repository, LEDGERS_TABLE, |events| {
        progress.set_position(events)
    })
    .await?;
    progress.finish_and_clear();
    let rebuild = Throughput {
        operations: rebuilt.count.events,
        seconds: rebuilt.elapsed.as_secs_f64(),
        per_second: rate(rebuilt.count.events, rebuilt.elapsed),
        latency: None,
        errors: 0,
    };
    let raw_read = raw_read(&url).await?;
    let rebuild_to_raw_read = rebuild.per_second / raw_read.per_second;
    println!(
        "rebuild {:.0} events/s, raw read {:.0} events/s: {:.0}%",
        rebuild.per_second,
        raw_read.per_second,
        rebuild_to_raw_read * 100.0
    );

    // 3. The limit.
    println!("\n[3/9] limit: single-row autocommit INSERTs of an event-sized row");
    let limit_insert = limit_insert(&url, settings.clients, settings.phase).await?;
    println!("{:.0} rows/s", limit_insert.per_second);

    // 4. Commands in process.
    println!("\n[4/9] commands: the full command path, in process");
    let agreements: Arc<Vec<String>> = Arc::new(
        sqlx::query_scalar::<_, String>(&format!(
            "SELECT participant_id FROM {LEDGERS_TABLE} WHERE status <> 'terminated' ORDER BY participant_id"
        ))
        .fetch_all(&sqlx::PgPool::connect_with(PgConnectOptions::from_str(&url)?.disable_statement_logging()).await?)
        .await?,
    );
    let (commands, paid_today) =
        commands_in_process(&repository, &agreements, settings, 0, "CMD").await?;
    let commands_to_limit = commands.per_second / limit_insert.per_second;
    println!(
        "{:.0} commands/s, p50 {:.2} ms, p99 {:.2} ms: {:.0}% of the limit",
        commands.per_second,
        commands.latency.map_or(0.0, |l| l.p50_ms),
        commands.latency.map_or(0.0, |l| l.p99_ms),
        commands_to_limit * 100.0
    );

    // 4b. Late payments: dated 1-30 days back on the agreements just paid today, so
    // each is recorded after a later business date (§5.5, BILLING.md 5.1).
    println!("\n[4b/9] late payments: dated 1-30 days back, on agreements paid today");
    let paid_today = Arc::new(paid_today);
    let (late_payments, _) =
        commands_in_process(&repository, &paid_today, settings, 30, "LATE").await?;
    let late_payments_to_limit = late_payments.per_second / limit_insert.per_second;
    let late_to_in_order = late_payments.per_second / commands.per_second;
    println!(
        "{:.0} commands/s, p50 {:.2} ms, p99 {:.2} ms: {:.0}% of the limit, {:.0}% of in-order payments",
        late_payments.per_second,
        late_payments.latency.map_or(0.0, |l| l.p50_ms),
        late_payments.latency.map_or(0.0, |l| l.p99_ms),
        late_payments_to_limit * 100.0,
        late_to_in_order * 100.0
    );

    // 4c. Closing a month: the history's first month with documents, sealed.
    println!("\n[4c/9] period close: the history's first month sealed");
    let period_close = period_close(&repository).await?;
    println!(
        "{}: months listed in {:.2} s, closed in {:.2} s over {} chains ({:.0} agreements/s)",
        period_close.period,
        period_close.list_seconds,
        period_close.close_seconds,
        period_close.chains,
        period_close.agreements_per_second
    );

    // 5 to 7. Through the real server.
    println!("\n[5/9] HTTP: the same payments through edoc-ledger serve on loopback");
    let (_, token) = api::application::tokens::create(
        &repository,
        "bench",
        api::application::tokens::Role::Operator,
        None,
    )
    .await?;
    repository.close().await;
    let server = ChildServer::start(&settings.server_program, &url).await?;
    let today = SystemClock.today();
    let plan = LoadPlan {
        base: server.base.clone(),
        token,
        agreements: agreements.clone(),
        clients: settings.clients,
        duration: settings.phase,
        mix: RequestMix(vec![(RequestKind::Payment, 100)]),
        today,
        read_from: history::READS_FROM,
        read_to: history::READS_TO,
        run_tag: format!("HTTP-{}", time::OffsetDateTime::now_utc().unix_timestamp()),
    };
    let http_payments = http_load::run(&plan).await?;
    let http_to_limit = http_payments.requests_per_second / limit_insert.per_second;
    println!(
        "{:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms, {} non-2xx: {:.0}% of the limit",
        http_payments.requests_per_second,
        http_payments.latency.p50_ms,
        http_payments.latency.p99_ms,
        http_payments.non_2xx,
        http_to_limit * 100.0
    );

    // 5b. The yardstick: the cqrs-es demo's deposits, same generator and connections.
    println!("\n[5b/9] the cqrs-es demo's deposits: the same load generator and clients, on the same PostgreSQL");
    let cqrs_demo = cqrs_demo_deposits(settings, &plan).await?;
    let http_to_cqrs_demo = successful_per_second(&http_payments)
        / successful_per_second(&cqrs_demo.deposits).max(1e-9);
    println!(
        "{:.0} deposits/s, p50 {:.2} ms, p99 {:.2} ms, {} non-2xx ({} accounts opened in {:.1} s); ledger payments: {:.2}x the demo's successful deposits",
        successful_per_second(&cqrs_demo.deposits),
        cqrs_demo.deposits.latency.p50_ms,
        cqrs_demo.deposits.latency.p99_ms,
        cqrs_demo.deposits.non_2xx,
        cqrs_demo.accounts,
        cqrs_demo.open_seconds,
        http_to_cqrs_demo
    );

    println!("\n[6/9] as-of reads: balance as of a random date, random agreement");
    let events_at_reads = count_events(&url).await?;
    let reads = LoadPlan {
        mix: RequestMix(vec![(RequestKind::BalanceAsOf, 100)]),
        ..plan
    };
    let as_of_reads = http_load::run(&reads).await?;
    println!(
        "{:.0} reads/s, p50 {:.2} ms, p99 {:.2} ms at {events_at_reads} events, {} non-2xx",
        as_of_reads.requests_per_second,
        as_of_reads.latency.p50_ms,
        as_of_reads.latency.p99_ms,
        as_of_reads.non_2xx
    );

    println!("\n[6b/9] feed: one consumer reads GET /v1/events from the start, 1,000 a page");
    let feed = feed_consumer(&reads.base, &reads.token, settings.phase).await?;
    println!(
        "{:.0} events/s ({} events in {} pages through position {}), page p50 {:.2} ms, p99 {:.2} ms, {} errors",
        feed.events_per_second,
        feed.events,
        feed.pages,
        feed.through,
        feed.latency.p50_ms,
        feed.latency.p99_ms,
        feed.errors
    );
    for failure in &feed.failures {
        println!("  {failure}");
    }

    let server_peak_rss_before_usage_mib = server.peak_rss_kb().map(|kb| kb as f64 / 1024.0);

    // 7. Usage ingestion, through the same server.
    println!("\n[7/9] usage ingestion: POST /v1/usage batches of 1,000 records");
    let usage_ingestion = usage_ingestion(
        &reads.base,
        &reads.token,
        &agreements,
        settings.clients,
        settings.phase,
        today,
    )
    .await?;
    let usage_ingestion_to_limit = usage_ingestion.records_per_second / limit_insert.per_second;
    println!(
        "{:.0} records/s ({:.1} batches/s), batch p50 {:.2} ms, p99 {:.2} ms, {} errors, bodies up to {} bytes (limit {}): {:.2}x the limit",
        usage_ingestion.records_per_second,
        usage_ingestion.batches_per_second,
        usage_ingestion.latency.p50_ms,
        usage_ingestion.latency.p99_ms,
        usage_ingestion.errors,
        usage_ingestion.largest_body_bytes,
        usage_ingestion.body_bytes_max,
        usage_ingestion_to_limit
    );
    for failure in &usage_ingestion.failures {
        println!("  {failure}");
    }

    // 8. The billing run: its tariff published through the server, the rest in process.
    println!("\n[8/9] billing run: next month's subscription invoices, in process");
    let period = events::CalendarMonth::of(today).next();
    let published = Instant::now();
    let tariff = publish_tariff(&reads.base, &reads.token, period.first_day()).await?;
    let publish_seconds = published.elapsed().as_secs_f64();
    let server_peak_rss_mib = server.peak_rss_kb().map(|kb| kb as f64 / 1024.0);
    server.stop().await;
    let repository = LedgerEventRepository::connect(&StoreLocation::Postgres(url.clone())).await?;
    let billing_run = billing_run(
        &repository,
        &tariff,
        period,
        settings.clients,
        publish_seconds,
    )
    .await?;
    repository.close().await;
    let billing_run_to_limit = billing_run.invoices_per_second / limit_insert.per_second;
    println!(
        "setup {:.1} s: {tariff} from {}, {} of {} agreements subscribed ({} not: {:?})",
        billing_run.setup_seconds,
        period.first_day(),
        billing_run.subscribed,
        billing_run.agreements,
        billing_run
            .agreements
            .saturating_sub(billing_run.subscribed),
        billing_run.not_subscribed
    );
    println!(
        "{period}: {} invoices in {:.2} s ({:.0} invoices/s, {} write conflicts retried), {} skipped {:?}, {} refused: {:.2}x the limit",
        billing_run.invoices,
        billing_run.seconds,
        billing_run.invoices_per_second,
        billing_run.conflicts_retried,
        billing_run.skipped.values().sum::<u64>(),
        billing_run.skipped,
        billing_run.refused,
        billing_run_to_limit
    );
    for error in &billing_run.errors {
        println!("  error: {error}");
    }

    // 9. A bank statement of 10,000 lines, in process.
    println!("\n[9/9] statement import: camt.053 statements of 10,000 credit lines, in process, 3 one after another (the median counts)");
    // As quiet a server as the limit had: the billing run's writes flushed first, so the
    // import is not timed against the checkpoint they would start.
    {
        let pool = sqlx::PgPool::connect_with(
            PgConnectOptions::from_str(&url)?.disable_statement_logging(),
        )
        .await?;
        sqlx::query("CHECKPOINT").execute(&pool).await?;
        pool.close().await;
    }
    let repository = LedgerEventRepository::connect(&StoreLocation::Postgres(url.clone())).await?;
    let (statement_import_runs, statement_import) =
        statement_imports(&repository, STATEMENT_LINES).await?;
    for (run, figures) in statement_import_runs.iter().enumerate() {
        println!(
            "run {}: {:.2} s, {:.0} lines/s",
            run + 1,
            figures.seconds,
            figures.lines_per_second
        );
    }
    repository.close().await;
    let statement_import_to_limit = statement_import.lines_per_second / limit_insert.per_second;
    println!(
        "{} lines ({} bytes) over {} agreements in {:.2} s ({:.0} lines/s): {} matched, {} unmatched, {} duplicates: {:.2}x the limit",
        statement_import.lines,
        statement_import.bytes,
        statement_import.agreements,
        statement_import.seconds,
        statement_import.lines_per_second,
        statement_import.matched,
        statement_import.unmatched,
        statement_import.duplicates,
        statement_import_to_limit
    );

    let report = BenchReport {
        machine,
        agreements: loaded.agreements,
        months: settings.months,
        clients: settings.clients,
        phase_seconds: settings.phase.as_secs(),
        events_loaded: loaded.events,
        load_seconds,
        rebuild,
        raw_read,
        rebuild_to_raw_read,
        limit_insert,
        commands,
        commands_to_limit,
        late_payments,
        late_payments_to_limit,
        late_to_in_order,
        period_close,
        http_payments,
        http_to_limit,
        cqrs_demo,
        http_to_cqrs_demo,
        as_of_reads,
        feed,
        events_at_reads,
        usage_ingestion,
        usage_ingestion_to_limit,
        billing_run,
        billing_run_to_limit,
        statement_import,
        statement_import_runs,
        statement_import_to_limit,
        server_peak_rss_mib,
        server_peak_rss_before_usage_mib,
        bench_peak_rss_mib: status_kb("/proc/self/status", "VmHWM:").map(|kb| kb as f64 / 1024.0),
    };
    print_table(&report);
    if let Some(parent) = settings.out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&settings.out, serde_json::to_string_pretty(&report)?)?;
    println!("\nfigures written to {}", settings.out.display());

    if settings.keep {
        println!("database kept: {}", api::store::redact(&url));
    } else {
        admin
            .execute(format!("DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)").as_str())
            .await?;
    }
    admin.close().await?;
    Ok(report)
}

/// What the cqrs-es demo's server did under the HTTP payments' load.
#[derive(Debug, Clone, Serialize)]
pub struct CqrsDemoFigures {
    /// Accounts opened before the load (one per agreement, same ids).
    pub accounts: usize,
    pub open_seconds: f64,
    pub deposits: LoadReport,
    pub peak_rss_mib: Option<f64>,
}

/// Answers 2xx per second.
fn successful_per_second(report: &LoadReport) -> f64 {
    report.requests.saturating_sub(report.non_2xx) as f64 / report.seconds.max(1e-9)
}

/// The cqrs-es demo's server (`edoc-ledger cqrs-demo-serve`) on its own database of the
/// same PostgreSQL server: an account opened for each of `plan`'s agreements, then
/// deposits under `plan`'s clients for `plan`'s duration. The database is dropped after.
async fn cqrs_demo_deposits(
    settings: &BenchSettings,
    plan: &LoadPlan,
) -> Result<CqrsDemoFigures, BoxError> {
    const DEMO_DATABASE: &str = "edoc_bench_cqrs_demo";
    let admin_options =
        PgConnectOptions::from_str(&settings.server_url)?.disable_statement_logging();
    let mut admin = sqlx::PgConnection::connect_with(&admin_options).await?;
    history::recreate_database(&mut admin, DEMO_DATABASE).await?;
    let url = history::with_database(&settings.server_url, DEMO_DATABASE);
    let server =
        ChildServer::start_subcommand(&settings.server_program, &url, "cqrs-demo-serve").await?;
    let opened = Instant::now();
    let client = reqwest::Client::new();
    let opening = futures::stream::iter(plan.agreements.iter().map(|id| {
        let request = client
            .post(format!("{}/account/{id}", server.base))
            .json(&serde_json::json!({ "OpenAccount": { "account_id": id } }));
        async move { request.send().await?.error_for_status() }
    }));
    let results: Vec<_> =
        futures::StreamExt::collect(futures::StreamExt::buffer_unordered(opening, plan.clients))
            .await;
    if let Some(Err(error)) = results.into_iter().find(Result::is_err) {
        return Err(format!("the cqrs-es demo did not open an account: {error}").into());
    }
    let open_seconds = opened.elapsed().as_secs_f64();
    let deposits = http_load::run(&LoadPlan {
        base: server.base.clone(),
        mix: RequestMix(vec![(RequestKind::DemoDeposit, 100)]),
        ..plan.clone()
    })
    .await?;
    let peak_rss_mib = server.peak_rss_kb().map(|kb| kb as f64 / 1024.0);
    server.stop().await;
    admin
        .execute(format!("DROP DATABASE IF EXISTS {DEMO_DATABASE} WITH (FORCE)").as_str())
        .await?;
    admin.close().await?;
    Ok(CqrsDemoFigures {
        accounts: plan.agreements.len(),
        open_seconds,
        deposits,
        peak_rss_mib,
    })
}

/// A progress bar of `what`, counting `unit`s.
fn progress_bar(total: u64, what: &'static str, unit: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{{msg:9}} [{{bar:40}}] {{pos}}/{{len}} {unit} ({{per_sec}}, {{eta}})"
        ))
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar.set_message(what);
    bar
}

/// `edoc-ledger serve` (or `cqrs-demo-serve`) as a child process on a free loopback port.
struct ChildServer {
    child: tokio::process::Child,
    base: String,
}

impl ChildServer {
    async fn start(program: &PathBuf, url: &str) -> Result<Self, BoxError> {
        Self::start_subcommand(program, url, "serve").await
    }

    /// `edoc-ledger <subcommand>` listening on a free loopback port, once it answers
    /// `GET /healthz`.
    async fn start_subcommand(
        program: &PathBuf,
        url: &str,
        subcommand: &str,
    ) -> Result<Self, BoxError> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = tokio::process::Command::new(program)
            .args(["--listen", &format!("127.0.0.1:{port}"), subcommand])
            .env("DATABASE_URL", url)
            .env("EDOC_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let started = Instant::now();
        while !client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            if started.elapsed() > Duration::from_secs(60) {
                return Err("the server did not answer /healthz within 60 s".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Self { child, base })
    }

    fn peak_rss_kb(&self) -> Option<u64> {
        let pid = self.child.id()?;
        status_kb(&format!("/proc/{pid}/status"), "VmHWM:")
    }

    async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            // SIGTERM: the server's graceful shutdown.
            let _ = std::process::Command::new("kill")
                .arg(pid.to_string())
                .status();
        }
        let _ = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await;
        let _ = self.child.kill().await;
    }
}

fn print_table(report: &BenchReport) {
    let mib = |mib: Option<f64>| mib.map_or("unknown".to_owned(), |mib| format!("{mib:.0} MiB"));
    let ms = |l: Option<LatencySummary>| {
        l.map_or("".to_owned(), |l| {
            format!("{:>8.2} {:>8.2}", l.p50_ms, l.p99_ms)
        })
    };
    println!(
        "\n{} agreements, {} events ({} months each), {} clients, {} s per phase",
        report.agreements,
        report.events_loaded,
        report.months,
        report.clients,
        report.phase_seconds
    );
    println!(
        "{:<44} {:>12} {:>8} {:>8} {:>10}",
        "measure", "per second", "p50 ms", "p99 ms", "ratio"
    );
    let line = |name: &str, per_second: f64, latency: String, ratio: String| {
        println!("{name:<44} {per_second:>12.0} {latency:>17} {ratio:>10}");
    };
    line(
        "limit: raw INSERT, rows",
        report.limit_insert.per_second,
        ms(report.limit_insert.latency),
        "1.00".to_owned(),
    );
    line(
        "commands (in process), payments",
        report.commands.per_second,
        ms(report.commands.latency),
        format!("{:.2}", report.commands_to_limit),
    );
    line(
        "late payments (in process), 1-30 days back",
        report.late_payments.per_second,
        ms(report.late_payments.latency),
        format!("{:.2}", report.late_payments_to_limit),
    );
    line(
        &format!(
            "period close {} ({:.2} s), agreements",
            report.period_close.period, report.period_close.close_seconds
        ),
        report.period_close.agreements_per_second,
        String::new(),
        String::new(),
    );
    line(
        "HTTP (edoc-ledger serve), payments",
        report.http_payments.requests_per_second,
        ms(Some(report.http_payments.latency)),
        format!("{:.2}", report.http_to_limit),
    );
    line(
        "cqrs-es demo (HTTP), deposits",
        successful_per_second(&report.cqrs_demo.deposits),
        ms(Some(report.cqrs_demo.deposits.latency)),
        format!(
            "{:.2}",
            successful_per_second(&report.cqrs_demo.deposits) / report.limit_insert.per_second
        ),
    );
    line(
        "HTTP payments over the demo's deposits",
        successful_per_second(&report.http_payments),
        String::new(),
        format!("{:.2}x", report.http_to_cqrs_demo),
    );
    line(
        "usage ingestion (HTTP), records",
        report.usage_ingestion.records_per_second,
        ms(Some(report.usage_ingestion.latency)),
        format!("{:.2}", report.usage_ingestion_to_limit),
    );
    line(
        &format!(
            "billing run {} ({:.2} s), invoices",
            report.billing_run.period, report.billing_run.seconds
        ),
        report.billing_run.invoices_per_second,
        String::new(),
        format!("{:.2}", report.billing_run_to_limit),
    );
    line(
        &format!(
            "statement import ({} lines, {:.2} s), lines",
            report.statement_import.lines, report.statement_import.seconds
        ),
        report.statement_import.lines_per_second,
        String::new(),
        format!("{:.2}", report.statement_import_to_limit),
    );
    line(
        "raw SELECT + decode, events",
        report.raw_read.per_second,
        String::new(),
        "1.00".to_owned(),
    );
    line(
        "rebuild (replay), events",
        report.rebuild.per_second,
        String::new(),
        format!("{:.2}", report.rebuild_to_raw_read),
    );
    line(
        &format!("as-of balance reads at {} events", report.events_at_reads),
        report.as_of_reads.requests_per_second,
        ms(Some(report.as_of_reads.latency)),
        String::new(),
    );
    line(
        "feed (HTTP, 1,000 a page), events",
        report.feed.events_per_second,
        ms(Some(report.feed.latency)),
        format!(
            "{:.2}",
            report.feed.events_per_second / report.raw_read.per_second
        ),
    );
    println!(
        "server peak RSS: {} ({} before usage ingestion), the cqrs-es demo's {}; non-2xx: HTTP {}, reads {}; command errors {}",
        mib(report.server_peak_rss_mib),
        mib(report.server_peak_rss_before_usage_mib),
        mib(report.cqrs_demo.peak_rss_mib),
        report.http_payments.non_2xx,
        report.as_of_reads.non_2xx,
        report.commands.errors
    );
    println!(
        "usage ingestion: {} records in {} batches of {} ({:.1} batches/s, bodies up to {} bytes), {} duplicates, {} batches failed",
        report.usage_ingestion.records,
        report.usage_ingestion.batches,
        report.usage_ingestion.records_per_batch,
        report.usage_ingestion.batches_per_second,
        report.usage_ingestion.largest_body_bytes,
        report.usage_ingestion.duplicates,
        report.usage_ingestion.errors
    );
    println!(
        "billing run: {} agreements, {} subscribed, {} invoiced, {} skipped ({} of them subscribed), {} refused, {} write conflicts retried, {} errors",
        report.billing_run.agreements,
        report.billing_run.subscribed,
        report.billing_run.invoices,
        report.billing_run.skipped.values().sum::<u64>(),
        report.billing_run.skipped_subscribed,
        report.billing_run.refused,
        report.billing_run.conflicts_retried,
        report.billing_run.errors.len()
    );
}
