//! `edoc-ledger`: the ledger's command-line program. The subcommands are in a module per
//! group (`serve`, `replay`, `sweep`, `verify`, `export`, `token`, `reference`, `period`, `bench`);
//! the server, the store and everything they run are the `api` library's.

mod bench;
mod bill;
mod esf;
mod export;
mod period;
mod reference;
mod replay;
mod serve;
mod statement;
mod sweep;
mod token;
mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc instead of glibc's malloc: the command path allocates many small JSON and
/// map nodes from several threads, where glibc's arenas contended (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use tracing_subscriber::EnvFilter;

use api::settings::{LogFormat, LogSettings, ServeSettings, StoreSettings};
use bench::{bench, cqrs_demo_serve, load};
use bill::bill;
use esf::{esf, EsfAction};
use export::{audit, export, import};
use period::{period, PeriodAction};
use reference::{reference, ReferenceAction};
use replay::replay;
use serve::{migrate, serve};
use statement::{statement, StatementAction};
use sweep::sweep;
use token::{token, TokenAction};
use verify::{digest, verify};

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
    /// The monthly billing run (BILLING.md 4): every subscribed agreement's invoice for
    /// the month, with a progress bar and a summary. Running it again issues nothing new.
    Bill {
        /// The month billed (YYYY-MM).
        #[arg(long, value_parser = parse_month)]
        period: events::CalendarMonth,
        /// The invoices' issue date (YYYY-MM-DD, Kazakhstan); today by default.
        #[arg(long, value_parser = parse_date)]
        issued_on: Option<time::Date>,
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
    /// against a raw read, as-of reads, usage ingestion in batches, the monthly billing
    /// run, the server's peak memory. Creates and drops the database `edoc_bench` on the
    /// server of DATABASE_URL (default: the local one). Build with --release.
    Bench {
        /// Agreements generated, each with --months of history.
        #[arg(long, default_value_t = 10_500, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        agreements: u64,
        /// Months of invoices in every agreement's history (the shipped calendar allows 21).
        #[arg(long, default_value_t = ledger_bench::history::MONTHS_MAX, value_parser = clap::value_parser!(u32).range(1..=ledger_bench::history::MONTHS_MAX as i64))]
        months: u32,
        /// Concurrent clients (and connections of the INSERT limit).
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
        clients: u16,
        /// Seconds each timed phase runs (limit, commands, HTTP, reads, usage ingestion).
        #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=3600))]
        seconds: u64,
        /// Where the figures go as JSON.
        #[arg(long, default_value = "target/bench.json")]
        out: std::path::PathBuf,
        /// Keep the database edoc_bench afterwards.
        #[arg(long)]
        keep: bool,
    },
    /// The cqrs-es demo's bank account server on --listen, against DATABASE_URL: the
    /// yardstick `edoc-ledger bench` loads beside the ledger (ledger_bench::cqrs_demo).
    #[command(hide = true)]
    CqrsDemoServe,
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
        #[command(flatten)]
        run: bench::LoadRun,
    },
    /// Reference data the operator publishes (BILLING.md 1): calendar, MRP, VAT and
    /// USD/KZT rates, recorded in the store's reference stream.
    Reference {
        #[command(subcommand)]
        action: ReferenceAction,
    },
    /// Close a month (BILLING.md 5.4) or list the months, open or closed. A closed
    /// month's documents are final: none dated in it is recorded afterwards.
    Period {
        #[command(subcommand)]
        action: PeriodAction,
    },
    /// Bank statements (INTEGRATION.md 2): `statement import FILE` imports a camt.053 or
    /// 1C exchange file with a progress bar, as `POST /v1/bank-statements` does.
    Statement {
        #[command(subcommand)]
        action: StatementAction,
    },
    /// ESF documents (BILLING.md 6): `esf export --from --to DIR` writes the IS ESF XML
    /// of every invoice and credit note issued in the range, for upload.
    Esf {
        #[command(subcommand)]
        action: EsfAction,
    },
    /// Load an export into an empty store: verified first, then every event exactly as
    /// exported (hashes included), the invoice numbers and the stored projections.
    Import {
        /// An export written by `edoc-ledger export`.
        file: std::path::PathBuf,
    },
}

fn parse_month(text: &str) -> Result<events::CalendarMonth, String> {
    events::CalendarMonth::parse(text).map_err(|e| e.to_string())
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
        Command::Period { action } => period(&cli.store, &cli.serve, action).await,
        Command::Statement { action } => statement(&cli.store, &cli.serve, action).await,
        Command::Esf { action } => esf(&cli.store, &cli.serve, action).await,
        Command::Token { action } => token(&cli.store, action).await,
        Command::Reference { action } => reference(&cli.store, &cli.serve, action).await,
        Command::Sweep { as_of, no_fines } => sweep(&cli.store, &cli.serve, as_of, !no_fines).await,
        Command::Bill { period, issued_on } => {
            bill(&cli.store, &cli.serve, period, issued_on).await
        }
        Command::Bench {
            agreements,
            months,
            clients,
            seconds,
            out,
            keep,
        } => bench(&cli.store, agreements, months, clients, seconds, out, keep).await,
        Command::CqrsDemoServe => cqrs_demo_serve(&cli.store, &cli.serve).await,
        Command::Load { url, token, run } => load(url, token, run).await,
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

/// A ledger on the store the settings choose, reading its reference stream as a server
/// does (the shipped tables recorded where the stream lacks them): what the subcommands
/// that run commands (sweep, bill, period, reference) work with.
async fn ledger_on_store(
    store: &StoreSettings,
    serve: &ServeSettings,
) -> Result<
    (
        api::store::LedgerEventRepository,
        api::application::commands::Ledger,
    ),
    Box<dyn std::error::Error>,
> {
    let (shipped, _) = api::reference_files::shipped_versions(serve.reference_dir.as_deref())?;
    let location =
        api::store::StoreLocation::choose(store.database_url.as_deref(), &store.data_dir)?;
    let repository = api::store::LedgerEventRepository::connect(&location).await?;
    let ledger = api::application::commands::Ledger::on_store(repository.clone(), &shipped).await?;
    Ok((repository, ledger))
}

/// The progress bar of every long subcommand (replay, sweep, verify, export, audit,
/// import), on standard error.
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
