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
//! 6. **as-of reads**: `GET .../balance?as_of=` a random date for a random agreement,
//!    through the same server;
//! 7. the server's peak resident memory (VmHWM of the child).
//!
//! The table goes to standard output and the figures, as JSON, to `--out`
//! (`target/bench.json` by default).

// Timings, rates and ratios are floats here; no money is ever computed in this module.
#![allow(clippy::float_arithmetic)]

pub mod history;
pub mod http_load;

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, Executor, Row};
use time::Date;

use crate::application::commands::{Clock, CommandContext, Ledger, SystemClock};
use crate::store::{LedgerEventRepository, StoreLocation, LEDGERS_TABLE};
pub use history::BoxError;
use history::{HistoryShape, Rng};
use http_load::{LoadPlan, LoadReport, RequestKind, RequestMix};

/// The database the benchmark creates (and drops) on the server it is pointed at.
pub const BENCH_DATABASE: &str = "edoc_bench";
/// The server used when DATABASE_URL is not set.
pub const DEFAULT_SERVER_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Latency percentiles of a set of timed operations, in milliseconds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct LatencySummary {
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl LatencySummary {
    /// Sorts `latencies` and summarizes them (nearest-rank percentiles).
    pub fn of(latencies: &mut [Duration]) -> Self {
        latencies.sort_unstable();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let rank = |p: f64| -> f64 {
            if latencies.is_empty() {
                return 0.0;
            }
            let index = ((p / 100.0) * latencies.len() as f64).ceil() as usize;
            ms(latencies[index.clamp(1, latencies.len()) - 1])
        };
        let total: Duration = latencies.iter().sum();
        Self {
            count: latencies.len() as u64,
            mean_ms: if latencies.is_empty() {
                0.0
            } else {
                ms(total) / latencies.len() as f64
            },
            p50_ms: rank(50.0),
            p90_ms: rank(90.0),
            p99_ms: rank(99.0),
            max_ms: latencies.last().copied().map_or(0.0, ms),
        }
    }
}

/// A date as `YYYY-MM-DD`.
pub fn iso(date: Date) -> String {
    events::business_date::format(date)
}

/// What `edoc-ledger bench` is asked to do.
#[derive(Debug, Clone)]
pub struct BenchSettings {
    /// A PostgreSQL URL; only its server is used (the database `edoc_bench` is created).
    pub server_url: String,
    pub agreements: u64,
    pub months: u32,
    pub clients: usize,
    /// How long each timed phase (limit, commands, HTTP, reads) runs.
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
    pub http_payments: LoadReport,
    pub http_to_limit: f64,
    pub as_of_reads: LoadReport,
    pub events_at_reads: u64,
    pub server_peak_rss_mib: Option<f64>,
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
    admin
        .execute(format!("DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)").as_str())
        .await?;
    admin
        .execute(format!("CREATE DATABASE {BENCH_DATABASE}").as_str())
        .await?;
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
        crate::store::redact(&settings.server_url)
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
    println!("\n[1/6] loading the history (generated by the aggregate, COPY)");
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
    println!("\n[2/6] rebuild (replay into the projections) and raw read");
    let progress = progress_bar(loaded.events, "rebuild");
    let rebuilt = crate::replay::rebuild(&repository, LEDGERS_TABLE, |events| {
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
    println!("\n[3/6] limit: single-row autocommit INSERTs of an event-sized row");
    let limit_insert = limit_insert(&url, settings.clients, settings.phase).await?;
    println!("{:.0} rows/s", limit_insert.per_second);

    // 4. Commands in process.
    println!("\n[4/6] commands: the full command path, in process");
    let agreements: Arc<Vec<String>> = Arc::new(
        sqlx::query_scalar::<_, String>(&format!(
            "SELECT participant_id FROM {LEDGERS_TABLE} WHERE status <> 'terminated' ORDER BY participant_id"
        ))
        .fetch_all(&sqlx::PgPool::connect_with(PgConnectOptions::from_str(&url)?.disable_statement_logging()).await?)
        .await?,
    );
    let commands = commands_in_process(&repository, &agreements, settings).await?;
    let commands_to_limit = commands.per_second / limit_insert.per_second;
    println!(
        "{:.0} commands/s, p50 {:.2} ms, p99 {:.2} ms: {:.0}% of the limit",
        commands.per_second,
        commands.latency.map_or(0.0, |l| l.p50_ms),
        commands.latency.map_or(0.0, |l| l.p99_ms),
        commands_to_limit * 100.0
    );

    // 5 and 6. Through the real server.
    println!("\n[5/6] HTTP: the same payments through edoc-ledger serve on loopback");
    let (_, token) =
        crate::tokens::create(&repository, "bench", crate::tokens::Role::Operator, None).await?;
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

    println!("\n[6/6] as-of reads: balance as of a random date, random agreement");
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
    let server_peak_rss_mib = server.peak_rss_kb().map(|kb| kb as f64 / 1024.0);
    server.stop().await;

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
        http_payments,
        http_to_limit,
        as_of_reads,
        events_at_reads,
        server_peak_rss_mib,
        bench_peak_rss_mib: status_kb("/proc/self/status", "VmHWM:").map(|kb| kb as f64 / 1024.0),
    };
    print_table(&report);
    if let Some(parent) = settings.out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&settings.out, serde_json::to_string_pretty(&report)?)?;
    println!("\nfigures written to {}", settings.out.display());

    if settings.keep {
        println!("database kept: {}", crate::store::redact(&url));
    } else {
        admin
            .execute(format!("DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)").as_str())
            .await?;
    }
    admin.close().await?;
    Ok(report)
}

fn progress_bar(total: u64, what: &'static str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg:8} [{bar:40}] {pos}/{len} events ({per_sec}, {eta})",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar.set_message(what);
    bar
}

async fn connect(url: &str) -> Result<sqlx::PgConnection, BoxError> {
    let options = PgConnectOptions::from_str(url)?.disable_statement_logging();
    Ok(sqlx::PgConnection::connect_with(&options).await?)
}

async fn count_events(url: &str) -> Result<u64, BoxError> {
    let mut connection = connect(url).await?;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&mut connection)
        .await?;
    Ok(count as u64)
}

/// The rebuild's read alone: the same query, each payload decoded into its event (through
/// the upcasters, as the rebuild does), nothing folded or written.
async fn raw_read(url: &str) -> Result<Throughput, BoxError> {
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
async fn limit_insert(url: &str, clients: usize, phase: Duration) -> Result<Throughput, BoxError> {
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
/// random agreement, dated today.
async fn commands_in_process(
    repository: &LedgerEventRepository,
    agreements: &Arc<Vec<String>>,
    settings: &BenchSettings,
) -> Result<Throughput, BoxError> {
    // The reference tables come from the store's reference stream, as a server's do:
    // each command reads the stream's last sequence first (issue 13).
    let (shipped, _) = crate::reference_files::shipped_versions(None)?;
    let book = Arc::new(
        crate::reference_book::ReferenceBook::open(
            repository.clone(),
            &shipped,
            time::OffsetDateTime::now_utc(),
        )
        .await?,
    );
    let ledger = Arc::new(
        Ledger::new(
            repository.clone(),
            book.cached().data.clone(),
            Arc::new(SystemClock),
        )
        .with_reference_book(book),
    );
    let today = iso(SystemClock.today());
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + settings.phase;
    let mut tasks = Vec::new();
    for client in 0..settings.clients {
        let (ledger, agreements, today, errors) = (
            ledger.clone(),
            agreements.clone(),
            today.clone(),
            errors.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng(0xC0DE_0000 + client as u64);
            let mut latencies = Vec::new();
            let mut sent = 0u64;
            while Instant::now() < deadline {
                sent += 1;
                let id = &agreements[rng.below(agreements.len() as u64) as usize];
                let participant = events::ParticipantId::parse(id).expect("a stored BIN/IIN");
                let payment: commands::ReceivePayment = serde_json::from_value(json!({
                    "reference": format!("CMD-C{client}-{sent}"),
                    "received_on": today,
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
                    Ok(_) => latencies.push(one.elapsed()),
                    Err(error) => {
                        if errors.fetch_add(1, Ordering::Relaxed) < 5 {
                            eprintln!("command failed on {id}: {error}");
                        }
                    }
                }
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await?);
    }
    Ok(Throughput::timed(
        latencies,
        started.elapsed(),
        errors.load(Ordering::Relaxed),
    ))
}

/// `edoc-ledger serve` as a child process on a free loopback port.
struct ChildServer {
    child: tokio::process::Child,
    base: String,
}

impl ChildServer {
    async fn start(program: &PathBuf, url: &str) -> Result<Self, BoxError> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = tokio::process::Command::new(program)
            .args(["--listen", &format!("127.0.0.1:{port}"), "serve"])
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
        "HTTP (edoc-ledger serve), payments",
        report.http_payments.requests_per_second,
        ms(Some(report.http_payments.latency)),
        format!("{:.2}", report.http_to_limit),
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
    println!(
        "server peak RSS: {}; non-2xx: HTTP {}, reads {}; command errors {}",
        report
            .server_peak_rss_mib
            .map_or("unknown".to_owned(), |mib| format!("{mib:.0} MiB")),
        report.http_payments.non_2xx,
        report.as_of_reads.non_2xx,
        report.commands.errors
    );
}

/// `edoc-ledger load`: registers, signs and invoices `agreements` fresh agreements on a
/// running server, then loads it for `duration` with a mix of payments (50%), usage
/// invoices (10%), balance reads as of a date (25%) and invoice lists (15%). Prints the
/// report; a non-2xx answer other than a documented 409 (retries exhausted) is a failure.
pub async fn load_server(
    base: &str,
    token: &str,
    agreements: u64,
    clients: usize,
    duration: Duration,
) -> Result<LoadReport, BoxError> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let today = SystemClock.today();
    // Fresh BIN/IINs for this run: an 11-digit base from the clock, each with its
    // control digit.
    let first_base = 70_000_000_000
        + (time::OffsetDateTime::now_utc().unix_timestamp() as u64 % 200_000) * 100_000;
    let ids: Vec<String> = (first_base..)
        .filter_map(|base| {
            (0..10)
                .map(|digit| format!("{base}{digit}"))
                .find(|id| events::ParticipantId::parse(id).is_ok())
        })
        .take(agreements as usize)
        .collect();
    println!(
        "edoc-ledger load: {base}, {} agreements to set up, {clients} clients, {} s",
        ids.len(),
        duration.as_secs()
    );
    let setup = indicatif::ProgressBar::new(ids.len() as u64);
    for (n, id) in ids.iter().enumerate() {
        for (path, body) in [
            (
                "/v1/agreements".to_owned(),
                json!({"participant_id": id, "name": format!("ТОО «Нагрузка {n}»"), "kind": "legal_entity", "resident": true, "currency": "KZT", "email": format!("load{n}@example.kz"), "registered_on": iso(today)}),
            ),
            (
                format!("/v1/agreements/{id}/signature"),
                json!({"signed_on": iso(today)}),
            ),
            (
                format!("/v1/agreements/{id}/invoices"),
                json!({"kind": "subscription", "issued_on": iso(today), "lines": [{"description": "Абонентская плата за ЭДО", "quantity": 1, "unit_price": "25000.00"}]}),
            ),
        ] {
            let response = client
                .post(format!("{base}{path}"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await?;
            if !response.status().is_success() {
                let status = response.status();
                return Err(format!(
                    "setting up {id}: {path} answered {status}: {}",
                    response.text().await.unwrap_or_default()
                )
                .into());
            }
        }
        setup.inc(1);
    }
    setup.finish_and_clear();
    let plan = LoadPlan {
        base: base.to_owned(),
        token: token.to_owned(),
        agreements: Arc::new(ids),
        clients,
        duration,
        mix: RequestMix(vec![
            (RequestKind::Payment, 50),
            (RequestKind::UsageInvoice, 10),
            (RequestKind::BalanceAsOf, 25),
            (RequestKind::Invoices, 15),
        ]),
        today,
        read_from: today,
        read_to: today,
        run_tag: format!("LOAD-{}", time::OffsetDateTime::now_utc().unix_timestamp()),
    };
    let report = http_load::run(&plan).await?;
    println!(
        "{} requests in {:.1} s: {:.0} requests/s; latency p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        report.requests,
        report.seconds,
        report.requests_per_second,
        report.latency.p50_ms,
        report.latency.p90_ms,
        report.latency.p99_ms,
        report.latency.max_ms
    );
    println!(
        "{:<16} {:>9} {:>9} {:>9} {:>9}",
        "request", "count", "p50 ms", "p99 ms", "max ms"
    );
    for (kind, kind_report) in &report.by_kind {
        println!(
            "{:<16} {:>9} {:>9.2} {:>9.2} {:>9.2}",
            kind.name(),
            kind_report.requests,
            kind_report.latency.p50_ms,
            kind_report.latency.p99_ms,
            kind_report.latency.max_ms
        );
    }
    let statuses: Vec<String> = report
        .statuses
        .iter()
        .map(|(status, count)| format!("{status}: {count}"))
        .collect();
    println!("statuses: {}", statuses.join(", "));
    println!(
        "non-2xx: {} ({} of them 409 concurrent-write, retries exhausted)",
        report.non_2xx, report.conflicts_exhausted
    );
    for failure in &report.failures {
        println!("  {failure}");
    }
    Ok(report)
}
