//! Building and running the server; shared by `main` and the end-to-end tests
//! (zero2prod's `Application`).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::http::{app, AppState};
use crate::ledger::{Clock, Ledger, SystemClock};
use crate::reference_files;
use crate::settings::{ServeSettings, StoreSettings};
use crate::store::{LedgerEventRepository, StoreLocation};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Reference(#[from] reference_files::ReferenceFilesError),
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        source: std::io::Error,
    },
}

/// A bound, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    address: SocketAddr,
    ledger: Arc<Ledger>,
}

impl Application {
    /// Connects to the store (migrating it), loads the reference data and binds the port.
    pub async fn build(store: &StoreSettings, serve: &ServeSettings) -> Result<Self, StartupError> {
        Self::build_with_clock(store, serve, Arc::new(SystemClock)).await
    }

    pub async fn build_with_clock(
        store: &StoreSettings,
        serve: &ServeSettings,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StartupError> {
        let (reference, origins) = reference_files::load(serve.reference_dir.as_deref())?;
        for path in &origins.overridden {
            tracing::info!(path = %path.display(), "reference table loaded from file");
        }
        let location = StoreLocation::choose(store.database_url.as_deref(), &store.data_dir)?;
        let repository = LedgerEventRepository::connect(&location).await?;
        // A store written before projections existed (or restored from an events-only
        // backup) has agreements without a stored ledger: build them before serving.
        let (with_events, with_ledgers) = repository.projection_coverage().await?;
        if with_ledgers < with_events {
            tracing::warn!(
                with_events,
                with_ledgers,
                "stored projections are incomplete: rebuilding them from the events"
            );
            let report =
                crate::replay::rebuild(&repository, crate::store::LEDGERS_TABLE, |_| {}).await?;
            tracing::info!(%report, "projections rebuilt");
        }
        let ledger = Arc::new(Ledger::new(repository, Arc::new(reference), clock));
        let listener =
            TcpListener::bind(serve.listen)
                .await
                .map_err(|source| StartupError::Listen {
                    address: serve.listen,
                    source,
                })?;
        let address = listener
            .local_addr()
            .map_err(|source| StartupError::Listen {
                address: serve.listen,
                source,
            })?;
        Ok(Self {
            listener,
            address,
            ledger,
        })
    }

    /// The address actually bound (port 0 picks a free one).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn store_description(&self) -> String {
        self.ledger.repository().location().describe()
    }

    pub fn ledger(&self) -> Arc<Ledger> {
        self.ledger.clone()
    }

    /// Serves until `shutdown` resolves, then finishes the requests in flight and closes
    /// the store.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let repository = self.ledger.repository().clone();
        let router = app(AppState {
            ledger: self.ledger,
        });
        let served = axum::serve(self.listener, router)
            .with_graceful_shutdown(shutdown)
            .await;
        repository.close().await;
        served
    }
}
