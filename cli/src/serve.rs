//! `edoc-ledger serve` (the default) and `edoc-ledger migrate`: the server and its schema.

use api::settings::{ServeSettings, StoreSettings};
use api::startup::Application;
use api::store::{LedgerEventRepository, StoreLocation};

use crate::{ReplayOutcome, RunResult};

pub async fn serve(store: &StoreSettings, serve: &ServeSettings) -> RunResult {
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

pub async fn migrate(store: &StoreSettings) -> RunResult {
    let location = StoreLocation::choose(store.database_url.as_deref(), &store.data_dir)?;
    let repository = LedgerEventRepository::connect_without_migrating(&location).await?;
    repository.migrate().await?;
    repository.close().await;
    println!("event store is up to date ({})", location.describe());
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
