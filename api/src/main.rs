//! `edoc-ledger`: the ledger's command-line program.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
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
}

fn init_logging(format: LogFormat) {
    let filter =
        EnvFilter::try_from_env("EDOC_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
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
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("edoc-ledger: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(
    store: &StoreSettings,
    serve: &ServeSettings,
) -> Result<(), Box<dyn std::error::Error>> {
    let application = Application::build(store, serve).await?;
    println!(
        "edoc-ledger listening on http://{} (event store: {})",
        application.address(),
        application.store_description()
    );
    application.run_until(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn migrate(store: &StoreSettings) -> Result<(), Box<dyn std::error::Error>> {
    let location = StoreLocation::choose(store.database_url.as_deref(), &store.data_dir)?;
    let repository = LedgerEventRepository::connect_without_migrating(&location).await?;
    repository.migrate().await?;
    repository.close().await;
    println!("event store is up to date ({})", location.describe());
    Ok(())
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
