//! Building and running the server; shared by `main` and the end-to-end tests
//! (zero2prod's `Application`).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::application::commands::{Clock, Ledger, SystemClock};
use crate::application::reference_book::{ReferenceBook, ReferenceBookError};
use crate::http::{app, AppState};
use crate::reference_files;
use crate::settings::{ServeSettings, StoreSettings};
use crate::store::{LedgerEventRepository, StoreLocation};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Reference(#[from] reference_files::ReferenceFilesError),
    #[error("the reference stream: {0}")]
    ReferenceStream(#[from] ReferenceBookError),
    #[error(transparent)]
    Token(#[from] crate::application::tokens::TokenError),
    /// A setting that cannot be used (named in the message).
    #[error("configuration: {0}")]
    Configuration(String),
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
    daily_sweep: Option<(time::Time, bool)>,
    monthly_billing: Option<time::Time>,
    nats_url: Option<String>,
    /// How long a background job's lease lasts unrenewed (`application::jobs`).
    job_lease: std::time::Duration,
    /// How webhooks are delivered (every server runs the deliverer; only the lease's
    /// holder delivers).
    webhooks: crate::application::webhooks::DeliverySchedule,
    /// The file the first operator token was written to, on the embedded store's first
    /// start.
    first_token: Option<std::path::PathBuf>,
    /// The operator as the seller of its documents, when configured.
    seller: Option<Arc<crate::application::documents::esf::Seller>>,
    /// The replica queries read, when configured.
    replica: Option<Arc<crate::application::replica::ReadReplica>>,
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
        // The operator's details are checked before anything else: a server given some
        // of them, or a malformed one, does not start.
        let seller = crate::application::documents::esf::Seller::configured(&serve.operator)
            .map_err(StartupError::Configuration)?
            .map(Arc::new);
        let (shipped, origins) = reference_files::shipped_versions(serve.reference_dir.as_deref())?;
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
                "stored projections are incomplete or in an older format: rebuilding them from the events"
            );
            let report = crate::application::replay::rebuild(
                &repository,
                crate::store::LEDGERS_TABLE,
                |_| {},
            )
            .await?;
            tracing::info!(%report, "projections rebuilt");
        }
        // The embedded default runs with no setup: its first start makes an operator
        // token and says where it is. A PostgreSQL store gets tokens from
        // `edoc-ledger token create`.
        let first_token = match &location {
            StoreLocation::Sqlite(_) => {
                crate::application::tokens::bootstrap(&repository, &store.data_dir).await?
            }
            StoreLocation::Postgres(_) => None,
        };
        // Every connection the pool may hold opened now, not by the first burst of work.
        let connections = repository.open_connections().await?;
        tracing::debug!(connections, "store connections open");
        let purged = repository
            .purge_idempotency_keys(clock.now_utc().unix_timestamp())
            .await?;
        if purged > 0 {
            tracing::info!(purged, "expired idempotency keys forgotten");
        }
        // The reference stream: the shipped tables are recorded for every range it does
        // not hold yet; the operator's published versions are never replaced by them.
        let book =
            Arc::new(ReferenceBook::open(repository.clone(), &shipped, clock.now_utc()).await?);
        for (shipped, in_force) in book.cached().shipped_but_not_in_force(&shipped) {
            tracing::info!(
                table = shipped.content.table().code(),
                range = %shipped.content.range(),
                shipped = %shipped.version,
                in_force = %in_force,
                "a shipped reference table differs from the version recorded for its range; the recorded one stays in force (publish a version to change it)"
            );
        }
        let reference = book.cached().data.clone();
        let ledger = Arc::new(
            Ledger::new(repository, reference, clock)
                .with_reference_book(book)
                .with_idempotency_ttl(std::time::Duration::from_secs(
                    u64::from(serve.idempotency_ttl_hours) * 3600,
                ))
                .with_token_cache(std::time::Duration::from_millis(serve.token_cache_ms)),
        );
        let replica = match &serve.read_database_url {
            None => None,
            Some(url) => {
                if !matches!(location, StoreLocation::Postgres(_)) {
                    return Err(StartupError::Configuration(
                        "--read-database-url needs a PostgreSQL store (DATABASE_URL): the embedded SQLite store has no replica".to_owned(),
                    ));
                }
                let replica = LedgerEventRepository::connect_without_migrating(
                    &StoreLocation::Postgres(url.clone()),
                )
                .await
                .map_err(|e| {
                    StartupError::Configuration(format!(
                        "--read-database-url: the replica does not answer: {e}"
                    ))
                })?;
                tracing::info!(store = %replica.location().describe(), "queries read the replica");
                Some(Arc::new(crate::application::replica::ReadReplica::new(
                    Arc::new(ledger.reading_from(replica)),
                    std::time::Duration::from_millis(serve.read_wait_ms),
                )))
            }
        };
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
            daily_sweep: serve.daily_sweep_at.map(|at| (at, !serve.sweep_no_fines)),
            monthly_billing: serve.monthly_billing_at,
            nats_url: serve.nats_url.clone(),
            job_lease: std::time::Duration::from_millis(serve.job_lease_ms),
            webhooks: (&serve.webhooks).into(),
            first_token,
            seller,
            replica,
        })
    }

    /// The address actually bound (port 0 picks a free one).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn store_description(&self) -> String {
        self.ledger.repository().location().describe()
    }

    /// Where this start wrote the first operator token, if it made one.
    pub fn first_token_file(&self) -> Option<&std::path::Path> {
        self.first_token.as_deref()
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
        // Each background job runs on the one server of those sharing the store that
        // holds its lease (application::jobs), under this server's id.
        let server_id = uuid::Uuid::new_v4().to_string();
        tracing::info!(%server_id, "this server's id in the job leases");
        let lease = |name| {
            Arc::new(crate::application::jobs::JobLease::new(
                name,
                server_id.clone(),
                self.job_lease,
            ))
        };
        let mut leases = Vec::new();
        let mut jobs = Vec::new();
        if let Some((at, fines)) = self.daily_sweep {
            tracing::info!(%at, "daily sweep scheduled (Kazakhstan time), on the server holding its lease");
            let lease = lease(crate::application::jobs::DAILY_SWEEP);
            let ledger = self.ledger.clone();
            jobs.push(tokio::spawn(crate::application::jobs::while_held(
                repository.clone(),
                lease.clone(),
                move || crate::application::jobs::daily_sweep(ledger.clone(), at, fines),
            )));
            leases.push(lease);
        }
        if let Some(at) = self.monthly_billing {
            tracing::info!(%at, "monthly billing run scheduled for the 1st (Kazakhstan time), on the server holding its lease");
            let lease = lease(crate::application::jobs::MONTHLY_BILLING);
            let ledger = self.ledger.clone();
            jobs.push(tokio::spawn(crate::application::jobs::while_held(
                repository.clone(),
                lease.clone(),
                move || crate::application::jobs::monthly_billing(ledger.clone(), at),
            )));
            leases.push(lease);
        }
        if let Some(url) = self.nats_url {
            let lease = lease(crate::application::jobs::NATS_PUBLISHER);
            let ledger = self.ledger.clone();
            jobs.push(tokio::spawn(crate::application::jobs::while_held(
                repository.clone(),
                lease.clone(),
                move || crate::application::nats::publish_forever(ledger.clone(), url.clone()),
            )));
            leases.push(lease);
        }
        // Webhooks: the deliverer renews its own lease (it runs one task per endpoint
        // while it holds it).
        let webhook_lease = Arc::new(crate::application::webhooks::DeliveryLease::new(
            crate::application::webhooks::DELIVERY_LEASE,
            server_id.clone(),
            self.webhooks.lease,
        ));
        jobs.push(tokio::spawn(crate::application::webhooks::deliver_forever(
            self.ledger.clone(),
            self.webhooks,
            webhook_lease.clone(),
        )));
        leases.push(webhook_lease);
        let router = app(AppState {
            ledger: self.ledger,
            seller: self.seller,
            replica: self.replica,
        });
        let served = axum::serve(self.listener, router)
            .with_graceful_shutdown(shutdown)
            .await;
        for task in jobs {
            task.abort();
        }
        // Another server takes the jobs over at once rather than when the leases expire.
        for lease in leases {
            lease.release(&repository).await;
        }
        repository.close().await;
        served
    }
}
