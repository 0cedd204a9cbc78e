//! `edoc-ledger`: the ledger's command-line program.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc instead of glibc's malloc: the command path allocates many small JSON and
/// map nodes from several threads, where glibc's arenas contended (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use tracing_subscriber::EnvFilter;

use api::settings::{LogFormat, LogSettings, ServeSettings, StoreSettings};
use api::startup::Application;
use api::store::{LedgerEventRepository, StoreLocation};

/// edoc-ledger: the event-sourced contract and billing ledger of the E-DOC portal.
///
/// Without a subcommand it serves the HTTP API. Events are kept in PostgreSQL when
/// DATABASE_URL is set, otherwise in an embedded SQLite file under ./data.
#[derive(Debug, Parser)]
#[command(name = "edoc-ledger", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    #[command(flatten)]
    store: StoreSettings,

    #[command(flatten)]
    serve: ServeSettings,

    #[command(flatten)]
    log: LogSettings,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTP API (the default).
    Serve,
    /// Create or update the event store's schema, then exit.
    Migrate,
    /// Rebuild every stored projection from the event store (with a progress bar); with
    /// --check, rebuild into a scratch table instead and report every difference from
    /// the stored projection (exit status 1 when there is any).
    Replay {
        /// Compare instead of replacing: nothing stored is changed.
        #[arg(long)]
        check: bool,
    },
    /// Run the dunning sweep as of a date over every agreement (§4.2, §5.9, §10.3):
    /// suspend, block, lift and terminate as the rules say, with a progress bar and a
    /// summary. Running it twice for the same date records nothing the second time.
    Sweep {
        /// The date to sweep as of (YYYY-MM-DD, Kazakhstan); today by default.
        #[arg(long, value_parser = parse_date)]
        as_of: Option<time::Date>,
        /// Do not charge the §5.9 fine automatically (the operator's policy charges it).
        #[arg(long)]
        no_fines: bool,
    },
    /// Print a digest of the store (JSON): the Merkle root over every agreement's chain
    /// head, with the heads. Keep it outside the database.
    Digest,
    /// Recompute every agreement's hash chain (with a progress bar); with --digest, also
    /// check the store against a digest kept earlier. Exit status 1 when anything is
    /// broken.
    Verify {
        /// A digest file printed by `edoc-ledger digest` earlier.
        #[arg(long)]
        digest: Option<std::path::PathBuf>,
    },
    /// Write the events, with their hashes and a closing digest, as JSON Lines for an
    /// auditor (docs/audit.md). The store is read in one consistent snapshot.
    Export {
        /// The file to write (`-` for standard output).
        #[arg(long)]
        out: std::path::PathBuf,
        /// Only this participant's events (BIN/IIN).
        #[arg(long)]
        participant: Option<String>,
        /// Only events up to the end of this business day (YYYY-MM-DD).
        #[arg(long, value_parser = parse_date)]
        as_of: Option<time::Date>,
    },
    /// Verify an export with no database, then recompute every agreement's figures from
    /// it (agreement, balance, invoices, penalties, statement: the API's answers) and
    /// print them as JSON Lines. Exit status 1 when the export does not verify (nothing
    /// is recomputed then).
    Audit {
        /// An export written by `edoc-ledger export`.
        file: std::path::PathBuf,
        /// The figures as of the end of this business day (YYYY-MM-DD); default the
        /// export's own `as_of`, else today.
        #[arg(long, value_parser = parse_date)]
        as_of: Option<time::Date>,
        /// Only this participant's figures.
        #[arg(long)]
        participant: Option<String>,
        /// Also check the export against a digest kept earlier (`edoc-ledger digest`).
        #[arg(long)]
        digest: Option<std::path::PathBuf>,
        /// Write the figures to this file instead of standard output.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Manage the API's bearer tokens (each has a role; its name is recorded as the
    /// actor of the events it causes).
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Measure the ledger against what its PostgreSQL server can do at all, in one run
    /// (docs/performance.md): raw INSERTs (the limit), the command path, HTTP, rebuild
    /// against a raw read, as-of reads, the server's peak memory. Creates and drops the
    /// database `edoc_bench` on the server of DATABASE_URL (default: the local one).
    /// Build with --release.
    Bench {
        /// Agreements generated, each with --months of history.
        #[arg(long, default_value_t = 10_500, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        agreements: u64,
        /// Months of invoices in every agreement's history (the shipped calendar allows 21).
        #[arg(long, default_value_t = api::bench::history::MONTHS_MAX, value_parser = clap::value_parser!(u32).range(1..=api::bench::history::MONTHS_MAX as i64))]
        months: u32,
        /// Concurrent clients (and connections of the INSERT limit).
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
        clients: u16,
        /// Seconds each timed phase runs (limit, commands, HTTP, reads).
        #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=3600))]
        seconds: u64,
        /// Where the figures go as JSON.
        #[arg(long, default_value = "target/bench.json")]
        out: std::path::PathBuf,
        /// Keep the database edoc_bench afterwards.
        #[arg(long)]
        keep: bool,
    },
    /// Load a running server over HTTP for a while with a mix of payments, usage invoices
    /// and reads on agreements it registers first; prints requests per second, latency
    /// percentiles and every non-2xx answer. Exit status 1 when any answer was not 2xx.
    Load {
        /// The server's address.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        /// An operator or billing token (EDOC_TOKEN).
        #[arg(long, env = "EDOC_TOKEN", hide_env_values = true)]
        token: String,
        /// Agreements registered, signed and invoiced before the load.
        #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        agreements: u64,
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
        clients: u16,
        #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        seconds: u64,
        /// Where the figures go as JSON (optional).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Reference data the operator publishes (BILLING.md 1): calendar, MRP, VAT and
    /// USD/KZT rates, recorded in the store's reference stream.
    Reference {
        #[command(subcommand)]
        action: ReferenceAction,
    },
    /// Load an export into an empty store: verified first, then every event exactly as
    /// exported (hashes included), the invoice numbers and the stored projections.
    Import {
        /// An export written by `edoc-ledger export`.
        file: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum ReferenceAction {
    /// Publish the versions a file holds: a table file in the shipped TOML format
    /// (calendar.toml, mrp.toml, vat.toml, exchange_rates.toml; the name says which
    /// table, or --table does) or the National Bank's daily rates XML (*.xml). Each
    /// range whose version in force already says the same records nothing. Version
    /// ids are the ledger's (`kz-mrp-2027-1`); the file's `version` is not used.
    Load {
        file: std::path::PathBuf,
        /// The table, when the file's name does not say it.
        #[arg(long)]
        table: Option<String>,
    },
    /// List the versions in force and the earlier ones, table by table.
    List {
        /// Only this table (calendar, mrp, vat, exchange-rates).
        #[arg(long)]
        table: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum TokenAction {
    /// Create a token and print it (once: only its hash is kept).
    Create {
        #[arg(long, value_enum)]
        role: api::tokens::Role,
        /// For the participant role: the one agreement (BIN/IIN) it may read.
        #[arg(long)]
        participant: Option<String>,
        /// Who uses it (recorded as the actor of the events it causes).
        #[arg(long)]
        name: String,
    },
    /// List the tokens (never their secrets).
    List,
    /// Revoke a token by id (or by name when only one token has it).
    Revoke {
        /// The token's id (as `token list` shows) or name.
        token: String,
    },
}

fn parse_date(text: &str) -> Result<time::Date, String> {
    events::business_date::parse(text)
}

fn init_logging(format: LogFormat) {
    // sqlx's slow-statement warning times a streamed query until its last row is read,
    // so every replay, verification and export "exceeded" it: off unless EDOC_LOG asks.
    let filter = EnvFilter::try_from_env("EDOC_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sqlx::query=error"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log.log_format);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&cli.store, &cli.serve).await,
        Command::Migrate => migrate(&cli.store).await,
        Command::Replay { check } => replay(&cli.store, check).await,
        Command::Digest => digest(&cli.store).await,
        Command::Verify { digest } => verify(&cli.store, digest.as_deref()).await,
        Command::Export {
            out,
            participant,
            as_of,
        } => export(&cli.store, &cli.serve, &out, participant.as_deref(), as_of).await,
        Command::Audit {
            file,
            as_of,
            participant,
            digest,
            out,
        } => audit(
            &cli.serve,
            &file,
            as_of,
            participant.as_deref(),
            digest.as_deref(),
            out.as_deref(),
        ),
        Command::Import { file } => import(&cli.store, &file).await,
        Command::Token { action } => token(&cli.store, action).await,
        Command::Reference { action } => reference(&cli.store, &cli.serve, action).await,
        Command::Sweep { as_of, no_fines } => sweep(&cli.store, &cli.serve, as_of, !no_fines).await,
        Command::Bench {
            agreements,
            months,
            clients,
            seconds,
            out,
            keep,
        } => bench(&cli.store, agreements, months, clients, seconds, out, keep).await,
        Command::Load {
            url,
            token,
            agreements,
            clients,
            seconds,
            out,
        } => load(url, token, agreements, clients, seconds, out).await,
    };
    match result {
        Ok(ReplayOutcome::Clean) => ExitCode::SUCCESS,
        Ok(ReplayOutcome::Differences) => ExitCode::from(1),
        Err(error) => {
            eprintln!("edoc-ledger: {error}");
            ExitCode::from(2)
        }
    }
}

/// How a run ended when it did not fail.
enum ReplayOutcome {
    Clean,
    Differences,
}

type RunResult = Result<ReplayOutcome, Box<dyn std::error::Error>>;

async fn serve(store: &StoreSettings, serve: &ServeSettings) -> RunResult {
    let application = Application::build(store, serve).await?;
    println!(
        "edoc-ledger listening on http://{} (event store: {})",
        application.address(),
        application.store_description()
    );
    if let Some(file) = application.first_token_file() {
        println!(
            "first start: an operator token was written to {} (owner-only); send it as `Authorization: Bearer <token>`, and make others with `edoc-ledger token create`",
            file.display()
        );
    }
    application.run_until(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(ReplayOutcome::Clean)
}

async fn bench(
    store: &StoreSettings,
    agreements: u64,
    months: u32,
    clients: u16,
    seconds: u64,
    out: std::path::PathBuf,
    keep: bool,
) -> RunResult {
    if cfg!(debug_assertions) {
        eprintln!("edoc-ledger bench: this is a debug build; figures mean little (cargo run --release -- bench)");
    }
    let settings = api::bench::BenchSettings {
        server_url: store
            .database_url
            .clone()
            .unwrap_or_else(|| api::bench::DEFAULT_SERVER_URL.to_owned()),
        agreements,
        months,
        clients: usize::from(clients),
        phase: std::time::Duration::from_secs(seconds),
        out,
        keep,
        server_program: std::env::current_exe()?,
    };
    api::bench::run(&settings)
        .await
        .map_err(|e| e.to_string())?;
    Ok(ReplayOutcome::Clean)
}

async fn load(
    url: String,
    token: String,
    agreements: u64,
    clients: u16,
    seconds: u64,
    out: Option<std::path::PathBuf>,
) -> RunResult {
    let report = api::bench::load_server(
        url.trim_end_matches('/'),
        &token,
        agreements,
        usize::from(clients),
        std::time::Duration::from_secs(seconds),
    )
    .await
    .map_err(|e| e.to_string())?;
    if let Some(out) = out {
        std::fs::write(&out, serde_json::to_string_pretty(&report)?)?;
    }
    Ok(if report.non_2xx == report.conflicts_exhausted {
        ReplayOutcome::Clean
    } else {
        ReplayOutcome::Differences
    })
}

async fn migrate(store: &StoreSettings) -> RunResult {
    let location = StoreLocation::choose(store.database_url.as_deref(), &store.data_dir)?;
    let repository = LedgerEventRepository::connect_without_migrating(&location).await?;
    repository.migrate().await?;
    repository.close().await;
    println!("event store is up to date ({})", location.describe());
    Ok(ReplayOutcome::Clean)
}

async fn replay(store: &StoreSettings, check: bool) -> RunResult {
    let location = StoreLocation::choose(store.database_url.as_deref(), &store.data_dir)?;
    let repository = LedgerEventRepository::connect(&location).await?;
    let total = u64::try_from(repository.count_events().await?).unwrap_or(0);
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:40}] {pos}/{len} events ({per_sec}, {eta} left)",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(if check { "checking" } else { "replaying" });
    let progress = |done: u64| bar.set_position(done);
    let outcome = if check {
        let report = api::replay::check(&repository, progress).await?;
        bar.finish_and_clear();
        println!("replayed {} ({})", report.rebuild, location.describe());
        for difference in &report.differences {
            println!("  {difference}");
        }
        if report.is_clean() {
            println!(
                "no difference: the {} stored projections equal a replay of the events",
                report.rows_compared
            );
            ReplayOutcome::Clean
        } else {
            println!(
                "{} difference(s) in {} of {} projections{}",
                report.differences_total,
                report.rows_differing,
                report.rows_compared,
                if report.differences_total > report.differences.len() as u64 {
                    " (first ones listed)"
                } else {
                    ""
                }
            );
            ReplayOutcome::Differences
        }
    } else {
        let report = api::replay::rebuild(&repository, api::store::LEDGERS_TABLE, progress).await?;
        bar.finish_and_clear();
        println!("replayed {report} ({})", location.describe());
        ReplayOutcome::Clean
    };
    repository.close().await;
    Ok(outcome)
}

async fn sweep(
    store: &StoreSettings,
    serve: &ServeSettings,
    as_of: Option<time::Date>,
    charge_fines: bool,
) -> RunResult {
    use std::sync::Arc;
    let (shipped, _) = api::reference_files::shipped_versions(serve.reference_dir.as_deref())?;
    let location = StoreLocation::choose(store.database_url.as_deref(), &store.data_dir)?;
    let repository = LedgerEventRepository::connect(&location).await?;
    // The tables the sweep applies are the store's reference stream, as a server's are.
    let book = Arc::new(
        api::reference_book::ReferenceBook::open(
            repository.clone(),
            &shipped,
            time::OffsetDateTime::now_utc(),
        )
        .await?,
    );
    let ledger = api::application::commands::Ledger::new(
        repository.clone(),
        book.cached().data.clone(),
        Arc::new(api::application::commands::SystemClock),
    )
    .with_reference_book(book);
    let as_of = as_of.unwrap_or_else(|| ledger.today());
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "sweeping [{bar:40}] {pos}/{len} agreements ({per_sec}, {eta} left)",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let started = std::time::Instant::now();
    let report = api::application::sweep::run(
        &ledger,
        "edoc-ledger sweep",
        as_of,
        charge_fines,
        |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        },
    )
    .await?;
    bar.finish_and_clear();
    println!(
        "sweep {} as of {} over {} agreements in {:.1?}: {} suspended, {} blocked, {} reinstated, {} unblocked, {} terminated, {} with a fine charged, {} charged on settlement (§10.3), {} skipped",
        report.sweep_id,
        as_of,
        report.agreements,
        started.elapsed(),
        report.suspended.len(),
        report.blocked.len(),
        report.reinstated.len(),
        report.unblocked.len(),
        report.terminated.len(),
        report.fines_charged.len(),
        report.settlement_charged.len(),
        report.skipped.len(),
    );
    for skipped in &report.skipped {
        println!("  skipped {}: {}", skipped.participant_id, skipped.reason);
    }
    repository.close().await;
    Ok(ReplayOutcome::Clean)
}

async fn digest(store: &StoreSettings) -> RunResult {
    let location = StoreLocation::choose(store.database_url.as_deref(), &store.data_dir)?;
    let repository = LedgerEventRepository::connect(&location).await?;
    let digest = api::audit::take_digest(&repository, time::OffsetDateTime::now_utc()).await?;
    println!("{}", serde_json::to_string_pretty(&digest)?);
    repository.close().await;
    Ok(ReplayOutcome::Clean)
}

async fn verify(store: &StoreSettings, digest: Option<&std::path::Path>) -> RunResult {
    let location = StoreLocation::choose(store.database_url.as_deref(), &store.data_dir)?;
    let repository = LedgerEventRepository::connect(&location).await?;
    let kept: Option<api::audit::StoreDigest> = match digest {
        Some(path) => Some(serde_json::from_str(&std::fs::read_to_string(path)?)?),
        None => None,
    };
    let total = u64::try_from(repository.count_events().await?).unwrap_or(0);
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "verifying [{bar:40}] {pos}/{len} events ({per_sec}, {eta} left)",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let started = std::time::Instant::now();
    let report =
        api::audit::verify_store(&repository, kept.as_ref(), |done| bar.set_position(done)).await?;
    bar.finish_and_clear();
    let elapsed = started.elapsed();
    let rate = u128::from(report.events_checked) * 1_000_000 / elapsed.as_micros().max(1);
    println!(
        "checked {} events in {} streams (the agreements and the reference stream) in {elapsed:.1?} ({rate} events/s){}",
        report.events_checked,
        report.streams_checked,
        if kept.is_some() {
            ", and the kept digest"
        } else {
            ""
        }
    );
    repository.close().await;
    match &report.first_broken {
        None => {
            println!("ok: no event was altered, removed or reordered");
            Ok(ReplayOutcome::Clean)
        }
        Some(broken) => {
            println!(
                "BROKEN at {} sequence {}: {}",
                broken.participant_id, broken.sequence, broken.what
            );
            Ok(ReplayOutcome::Differences)
        }
    }
}

fn progress_bar(total: u64, template: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(template)
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

fn participant_arg(participant: Option<&str>) -> Result<Option<events::ParticipantId>, String> {
    participant
        .map(|id| events::ParticipantId::parse(id).map_err(|e| format!("--participant: {e}")))
        .transpose()
}

async fn export(
    store: &StoreSettings,
    serve: &ServeSettings,
    out: &std::path::Path,
    participant: Option<&str>,
    as_of: Option<time::Date>,
) -> RunResult {
    use std::io::Write as _;
    let selection = api::export::ExportSelection {
        participant: participant_arg(participant)?,
        as_of,
    };
    let location = StoreLocation::choose(store.database_url.as_deref(), &store.data_dir)?;
    let repository = LedgerEventRepository::connect(&location).await?;
    // The header names the versions in force in the store's reference stream (the
    // stream itself is exported with the events); a store never served since the
    // stream existed falls back to the shipped tables.
    let stream = api::reference_book::ReferenceBook::read(repository.clone())
        .await?
        .cached();
    let reference = if stream.versions.is_empty() {
        api::reference_files::load(serve.reference_dir.as_deref())?.0
    } else {
        (*stream.data).clone()
    };
    let total = u64::try_from(repository.count_events().await?).unwrap_or(0);
    let bar = progress_bar(
        total,
        "exporting [{bar:40}] {pos}/{len} events ({per_sec}, {eta} left)",
    );
    let to_stdout = out.as_os_str() == "-";
    let mut writer: Box<dyn std::io::Write> = if to_stdout {
        Box::new(std::io::BufWriter::new(std::io::stdout().lock()))
    } else {
        // Write beside the target and rename at the end: a failed export leaves no
        // file that looks complete.
        Box::new(std::io::BufWriter::new(std::fs::File::create(
            partial_path(out),
        )?))
    };
    let summary = api::export::export(
        &repository,
        &selection,
        &reference,
        time::OffsetDateTime::now_utc(),
        &mut writer,
        |done| bar.set_position(done),
    )
    .await?;
    writer.flush()?;
    drop(writer);
    if !to_stdout {
        std::fs::rename(partial_path(out), out)?;
    }
    bar.finish_and_clear();
    repository.close().await;
    eprintln!(
        "exported {} events of {} agreements to {} (digest root {})",
        summary.events,
        summary.streams,
        out.display(),
        summary.root
    );
    Ok(ReplayOutcome::Clean)
}

fn partial_path(out: &std::path::Path) -> std::path::PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(".partial");
    std::path::PathBuf::from(name)
}

fn open_export(file: &std::path::Path) -> std::io::Result<std::io::BufReader<std::fs::File>> {
    std::fs::File::open(file)
        .map(|f| std::io::BufReader::with_capacity(1 << 16, f))
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", file.display())))
}

fn audit(
    serve: &ServeSettings,
    file: &std::path::Path,
    as_of: Option<time::Date>,
    participant: Option<&str>,
    digest: Option<&std::path::Path>,
    out: Option<&std::path::Path>,
) -> RunResult {
    use std::io::Write as _;
    let participant = participant_arg(participant)?;
    let kept: Option<api::audit::StoreDigest> = match digest {
        Some(path) => Some(serde_json::from_str(&std::fs::read_to_string(path)?)?),
        None => None,
    };
    let bar = progress_bar(0, "verifying {pos} events ({per_sec})");
    let started = std::time::Instant::now();
    let report = api::export::verify_export(open_export(file)?, kept.as_ref(), |done| {
        bar.set_position(done)
    })?;
    bar.finish_and_clear();
    eprintln!(
        "verified {} events in {} streams in {:.1?}{}",
        report.events_checked,
        report.streams_checked,
        started.elapsed(),
        match &report.kept_digest {
            Some(check) if check.heads_not_covered > 0 => format!(
                ", and the kept digest ({} heads matched, {} not covered by this partial export)",
                check.heads_matched, check.heads_not_covered
            ),
            Some(check) => format!(
                ", and the kept digest ({} heads matched)",
                check.heads_matched
            ),
            None => String::new(),
        }
    );
    if let Some(broken) = &report.first_broken {
        eprintln!(
            "BROKEN at {} sequence {}: {}",
            broken.participant_id, broken.sequence, broken.what
        );
        return Ok(ReplayOutcome::Differences);
    }
    let root = report
        .digest
        .as_ref()
        .map(|d| d.root.as_str())
        .unwrap_or("");
    eprintln!("ok: no event was altered, removed or reordered; the export's digest root is {root}");
    // The tables the figures need come from the export's own reference stream (the
    // versions in force when it was taken); an export older than the reference stream
    // is audited with the shipped tables (or --reference-dir).
    let reference = match api::export::reference_of_export(open_export(file)?)? {
        Some(carried) => {
            eprintln!("reference tables: the export's reference stream");
            carried
        }
        None => {
            let (reference, _) = api::reference_files::load(serve.reference_dir.as_deref())?;
            let expected = api::export::ReferenceVersions::of(&reference);
            eprintln!(
                "note: the export carries no reference stream (taken with tables {:?}); this audit uses {:?} (--reference-dir loads other tables)",
                report.header.reference, expected
            );
            reference
        }
    };
    let as_of = match (as_of, report.header.as_of.as_deref()) {
        (Some(date), _) => date,
        (None, Some(text)) => parse_date(text)?,
        (None, None) => {
            api::application::commands::Clock::today(&api::application::commands::SystemClock)
        }
    };
    let mut writer: Box<dyn std::io::Write> = match out {
        Some(path) => Box::new(std::io::BufWriter::new(std::fs::File::create(path)?)),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let participant = participant.map(|p| p.to_string());
    let summary = api::export::recompute(
        open_export(file)?,
        as_of,
        participant.as_deref(),
        &reference,
        |figures| {
            serde_json::to_writer(&mut writer, &figures).map_err(std::io::Error::from)?;
            writer.write_all(b"\n")?;
            Ok(())
        },
    )?;
    writer.flush()?;
    eprintln!(
        "recomputed the figures of {} agreements as of {as_of} from {} events{}",
        summary.agreements,
        summary.events,
        if summary.not_registered > 0 {
            format!(
                " ({} not registered yet on that date)",
                summary.not_registered
            )
        } else {
            String::new()
        }
    );
    Ok(ReplayOutcome::Clean)
}

async fn token(store: &StoreSettings, action: TokenAction) -> RunResult {
    let location = StoreLocation::choose(store.database_url.as_deref(), &store.data_dir)?;
    let repository = LedgerEventRepository::connect(&location).await?;
    let show = |t: &api::tokens::TokenRecord| {
        format!(
            "{}  {:<11} {:<12} {}  created {}{}",
            t.id,
            t.role.code(),
            t.participant_id.as_deref().unwrap_or("-"),
            t.name,
            t.created_at,
            t.revoked_at
                .as_deref()
                .map(|at| format!(", REVOKED {at}"))
                .unwrap_or_default()
        )
    };
    match action {
        TokenAction::Create {
            role,
            participant,
            name,
        } => {
            let participant = participant_arg(participant.as_deref())?;
            let (record, token) =
                api::tokens::create(&repository, &name, role, participant.as_ref()).await?;
            eprintln!("created {}; the token is shown this once:", show(&record));
            println!("{token}");
        }
        TokenAction::List => {
            for record in api::tokens::list(&repository).await? {
                println!("{}", show(&record));
            }
        }
        TokenAction::Revoke { token } => {
            let record = api::tokens::revoke(&repository, &token).await?;
            println!("{}", show(&record));
        }
    }
    repository.close().await;
    Ok(ReplayOutcome::Clean)
}

async fn import(store: &StoreSettings, file: &std::path::Path) -> RunResult {
    let location = StoreLocation::choose(store.database_url.as_deref(), &store.data_dir)?;
    let repository = LedgerEventRepository::connect(&location).await?;
    let bar = progress_bar(0, "{msg} {pos} events ({per_sec})");
    let summary = api::export::import(
        &repository,
        || open_export(file),
        |stage, done| {
            bar.set_message(stage.to_owned());
            bar.set_position(done);
        },
    )
    .await;
    bar.finish_and_clear();
    repository.close().await;
    let summary = summary?;
    println!(
        "imported {} events of {} agreements and {} invoice numbers into {}",
        summary.events,
        summary.agreements,
        summary.invoice_numbers,
        location.describe()
    );
    println!(
        "the store's digest root {} {} the export's {}",
        summary.store_root,
        if summary.store_root == summary.export_root {
            "equals"
        } else {
            "DIFFERS FROM"
        },
        summary.export_root
    );
    Ok(if summary.store_root == summary.export_root {
        ReplayOutcome::Clean
    } else {
        ReplayOutcome::Differences
    })
}

fn table_arg(text: &str) -> Result<events::ReferenceTable, String> {
    events::ReferenceTable::parse(text).ok_or_else(|| {
        format!("--table: `{text}` is not a reference table (calendar, mrp, vat, exchange-rates)")
    })
}

/// The versions a file publishes, and their source.
fn reference_file(
    file: &std::path::Path,
    table: Option<&str>,
) -> Result<(Vec<events::ReferenceContent>, String), Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let is_xml = file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("xml"));
    if is_xml || table.is_none() && text.trim_start().starts_with('<') {
        let rate = aggregates::reference::parse_nbk_rates(&text)?;
        return Ok((
            vec![events::ReferenceContent::ExchangeRate {
                date: rate.date,
                usd_kzt: rate.usd_kzt,
            }],
            "National Bank of Kazakhstan, official rates file".to_owned(),
        ));
    }
    let table = match table {
        Some(table) => table_arg(table)?,
        None => {
            let stem = file
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("")
                .replace('_', "-");
            events::ReferenceTable::parse(&stem).ok_or_else(|| {
                format!(
                    "{}: the file's name does not say which table it is; name it calendar.toml, mrp.toml, vat.toml or exchange_rates.toml, or give --table",
                    file.display()
                )
            })?
        }
    };
    let versions = aggregates::reference::versions_of_file(table, &text)?;
    if versions.is_empty() {
        return Err(format!("{}: the file holds no version", file.display()).into());
    }
    let source = versions[0].source.clone();
    Ok((versions.into_iter().map(|v| v.content).collect(), source))
}

async fn reference(
    store: &StoreSettings,
    serve: &ServeSettings,
    action: ReferenceAction,
) -> RunResult {
    let location = StoreLocation::choose(store.database_url.as_deref(), &store.data_dir)?;
    let repository = LedgerEventRepository::connect(&location).await?;
    let (shipped, _) = api::reference_files::shipped_versions(serve.reference_dir.as_deref())?;
    let now = time::OffsetDateTime::now_utc();
    // Loading records (the shipped tables first, on a store that has none); listing
    // only reads.
    let book = match &action {
        ReferenceAction::Load { .. } => {
            api::reference_book::ReferenceBook::open(repository.clone(), &shipped, now).await?
        }
        ReferenceAction::List { .. } => {
            api::reference_book::ReferenceBook::read(repository.clone()).await?
        }
    };
    match action {
        ReferenceAction::Load { file, table } => {
            let (contents, source) = reference_file(&file, table.as_deref())?;
            let user = std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned());
            let publisher = api::reference_book::Publisher {
                actor: format!("edoc-ledger reference load ({user})"),
                request_id: format!("cli-{}", now.unix_timestamp()),
                command: "reference.load",
            };
            let publication = book
                .publish(contents, &source, &publisher, now, |_| None)
                .await?;
            for range in &publication.recorded {
                println!(
                    "recorded {} {} as {}",
                    range.table.code(),
                    range.range,
                    range.version
                );
            }
            for range in &publication.unchanged {
                println!(
                    "unchanged {} {}: the version in force ({}) says the same, nothing recorded",
                    range.table.code(),
                    range.range,
                    range.version
                );
            }
        }
        ReferenceAction::List { table } => {
            let only = table.as_deref().map(table_arg).transpose()?;
            let state = book.state().await?;
            for table in events::ReferenceTable::ALL {
                if only.is_some_and(|o| o != table) {
                    continue;
                }
                println!("{}:", table.code());
                let mut versions: Vec<_> =
                    state.versions.iter().filter(|v| v.table == table).collect();
                versions.sort_by(|a, b| (&a.range, a.sequence).cmp(&(&b.range, b.sequence)));
                for v in versions {
                    println!(
                        "  {:<12} {:<28} {}{} recorded {} by {} ({})",
                        v.range,
                        v.id,
                        if v.in_force { "in force" } else { "replaced" },
                        if v.provisional { ", provisional" } else { "" },
                        v.recorded_at,
                        v.actor,
                        v.source
                    );
                }
            }
        }
    }
    repository.close().await;
    Ok(ReplayOutcome::Clean)
}

/// Resolves on SIGINT or SIGTERM: the server stops accepting and finishes what it has.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown signal received, finishing requests in flight");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Global options are accepted before and after the subcommand (issue 13: `serve
    /// --listen ADDR` was refused as an unexpected argument).
    #[test]
    fn global_options_are_accepted_after_the_subcommand() {
        let cli = Cli::try_parse_from(["edoc-ledger", "serve", "--listen", "127.0.0.1:9000"])
            .expect("serve --listen parses");
        assert!(matches!(cli.command, Some(Command::Serve)));
        assert_eq!(cli.serve.listen.to_string(), "127.0.0.1:9000");

        let cli = Cli::try_parse_from([
            "edoc-ledger",
            "replay",
            "--check",
            "--database-url",
            "postgres://x@127.0.0.1/y",
            "--data-dir",
            "/tmp/d",
            "--log-format",
            "json",
        ])
        .expect("store options after the subcommand parse");
        assert_eq!(
            cli.store.database_url.as_deref(),
            Some("postgres://x@127.0.0.1/y")
        );
        assert_eq!(cli.store.data_dir, std::path::PathBuf::from("/tmp/d"));

        let cli = Cli::try_parse_from([
            "edoc-ledger",
            "sweep",
            "--as-of",
            "2026-12-30",
            "--reference-dir",
            "/tmp/r",
        ])
        .expect("serve options after another subcommand parse");
        assert_eq!(
            cli.serve.reference_dir,
            Some(std::path::PathBuf::from("/tmp/r"))
        );
        let cli = Cli::try_parse_from(["edoc-ledger", "--listen", "127.0.0.1:9001", "serve"])
            .expect("before the subcommand still parses");
        assert_eq!(cli.serve.listen.to_string(), "127.0.0.1:9001");
    }
}
