//! The yardstick of the HTTP payment figure: a server built the way the cqrs-es demo
//! (github.com/serverlesstechnology/cqrs-demo) is, on the same crates the ledger uses
//! (`cqrs-es` 0.5, `postgres-es` 0.5, `axum`), so `edoc-ledger bench` can load it and the
//! ledger side by side on the same PostgreSQL with the same load generator and
//! connections (issue 20; docs/performance.md).
//!
//! What it keeps of the demo: a `BankAccount` aggregate (open, deposit, withdraw), its
//! events stored by `postgres_cqrs` (no snapshots) in the tables of postgres-es's
//! `init.sql`, one view (`account_query`, a `GenericQuery` over a
//! `PostgresViewRepository`) updated on every command, `POST /account/{id}` executing a
//! JSON command with metadata and answering 204, `GET /account/{id}` reading the view,
//! a pool of 10 connections (`default_postgress_pool`). What it leaves out: the demo's
//! logging query (a `println!` per event, which would only slow it), its check-writing
//! services, and authentication (the ledger checks a bearer token on every request). So
//! the yardstick is, if anything, faster than the demo itself.
//!
//! Amounts are floats, as in the demo: this is its model, not the ledger's money.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::{GenericQuery, ViewRepository};
use cqrs_es::{Aggregate, AggregateError, DomainEvent, EventEnvelope, Query, View};
use postgres_es::{postgres_cqrs, PostgresCqrs, PostgresViewRepository};
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgPoolOptions;

use crate::BoxError;

/// The demo's commands, in its JSON shape (`{"DepositMoney": {"amount": 10.0}}`).
#[derive(Debug, Deserialize)]
pub enum BankAccountCommand {
    OpenAccount { account_id: String },
    DepositMoney { amount: f64 },
    WithdrawMoney { amount: f64 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum BankAccountEvent {
    AccountOpened { account_id: String },
    CustomerDepositedMoney { amount: f64, balance: f64 },
    CustomerWithdrewCash { amount: f64, balance: f64 },
}

impl DomainEvent for BankAccountEvent {
    fn event_type(&self) -> String {
        match self {
            Self::AccountOpened { .. } => "AccountOpened",
            Self::CustomerDepositedMoney { .. } => "CustomerDepositedMoney",
            Self::CustomerWithdrewCash { .. } => "CustomerWithdrewCash",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1.0".to_owned()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BankAccountError(String);

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct BankAccount {
    opened: bool,
    balance: f64,
}

impl Aggregate for BankAccount {
    const TYPE: &'static str = "Account";
    type Command = BankAccountCommand;
    type Event = BankAccountEvent;
    type Error = BankAccountError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        match command {
            BankAccountCommand::OpenAccount { account_id } => {
                if self.opened {
                    return Err(BankAccountError("account already open".to_owned()));
                }
                sink.write(BankAccountEvent::AccountOpened { account_id }, self)
                    .await;
            }
            BankAccountCommand::DepositMoney { amount } => {
                let balance = self.balance + amount;
                sink.write(
                    BankAccountEvent::CustomerDepositedMoney { amount, balance },
                    self,
                )
                .await;
            }
            BankAccountCommand::WithdrawMoney { amount } => {
                let balance = self.balance - amount;
                if balance < 0.0 {
                    return Err(BankAccountError("funds not available".to_owned()));
                }
                sink.write(
                    BankAccountEvent::CustomerWithdrewCash { amount, balance },
                    self,
                )
                .await;
            }
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            BankAccountEvent::AccountOpened { .. } => self.opened = true,
            BankAccountEvent::CustomerDepositedMoney { balance, .. }
            | BankAccountEvent::CustomerWithdrewCash { balance, .. } => self.balance = balance,
        }
    }
}

/// The demo's view: the account's balance and its ledger of entries.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct BankAccountView {
    account_id: Option<String>,
    balance: f64,
    ledger: Vec<(String, f64)>,
}

impl View<BankAccount> for BankAccountView {
    fn update(&mut self, event: &EventEnvelope<BankAccount>) {
        match &event.payload {
            BankAccountEvent::AccountOpened { account_id } => {
                self.account_id = Some(account_id.clone());
            }
            BankAccountEvent::CustomerDepositedMoney { amount, balance } => {
                self.ledger.push(("deposit".to_owned(), *amount));
                self.balance = *balance;
            }
            BankAccountEvent::CustomerWithdrewCash { amount, balance } => {
                self.ledger.push(("atm withdrawal".to_owned(), -amount));
                self.balance = *balance;
            }
        }
    }
}

type AccountViews = PostgresViewRepository<BankAccountView, BankAccount>;

#[derive(Clone)]
struct DemoState {
    cqrs: Arc<PostgresCqrs<BankAccount>>,
    views: Arc<AccountViews>,
}

/// The tables of postgres-es's `db/init.sql` (events, snapshots, the view), created when
/// missing.
const SCHEMA: [&str; 3] = [
    "CREATE TABLE IF NOT EXISTS events (aggregate_type text NOT NULL, aggregate_id text NOT NULL, \
     sequence bigint CHECK (sequence >= 0) NOT NULL, event_type text NOT NULL, \
     event_version text NOT NULL, payload json NOT NULL, metadata json NOT NULL, \
     PRIMARY KEY (aggregate_type, aggregate_id, sequence))",
    "CREATE TABLE IF NOT EXISTS snapshots (aggregate_type text NOT NULL, aggregate_id text NOT NULL, \
     last_sequence bigint CHECK (last_sequence >= 0) NOT NULL, \
     current_snapshot bigint CHECK (current_snapshot >= 0) NOT NULL, payload json NOT NULL, \
     PRIMARY KEY (aggregate_type, aggregate_id, last_sequence))",
    "CREATE TABLE IF NOT EXISTS account_query (view_id text NOT NULL, \
     version bigint CHECK (version >= 0) NOT NULL, payload json NOT NULL, PRIMARY KEY (view_id))",
];

/// Serves the demo on `listen` against the database of `database_url` until the process
/// is stopped (`edoc-ledger cqrs-demo-serve`, started by `edoc-ledger bench`).
pub async fn serve(database_url: &str, listen: &str) -> Result<(), BoxError> {
    // The demo's `default_postgress_pool`: ten connections.
    let pool = PgPoolOptions::new()
        .max_connections(10)
        .connect(database_url)
        .await?;
    for statement in SCHEMA {
        sqlx::query(statement).execute(&pool).await?;
    }
    let views = Arc::new(AccountViews::new("account_query", pool.clone()));
    let mut account_query = GenericQuery::new(views.clone());
    account_query.use_error_handler(Box::new(|e| eprintln!("cqrs demo view: {e}")));
    let queries: Vec<Box<dyn Query<BankAccount>>> = vec![Box::new(account_query)];
    let state = DemoState {
        cqrs: Arc::new(postgres_cqrs(pool, queries, ())),
        views,
    };
    let app = Router::new()
        .route("/account/{account_id}", post(command).get(account))
        .route("/healthz", get(|| async { StatusCode::OK }))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(listen).await?;
    axum::serve(listener, app).await?;
    Ok(())
}

async fn command(
    State(state): State<DemoState>,
    Path(account_id): Path<String>,
    Json(command): Json<BankAccountCommand>,
) -> Response {
    // As the demo's metadata extension: the time of the command.
    let metadata = HashMap::from([(
        "time".to_owned(),
        time::OffsetDateTime::now_utc().unix_timestamp().to_string(),
    )]);
    match state
        .cqrs
        .execute_with_metadata(&account_id, command, metadata)
        .await
    {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(AggregateError::UserError(e)) => {
            (StatusCode::BAD_REQUEST, e.to_string()).into_response()
        }
        Err(AggregateError::AggregateConflict) => {
            (StatusCode::CONFLICT, "aggregate conflict").into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn account(State(state): State<DemoState>, Path(account_id): Path<String>) -> Response {
    match state.views.load(&account_id).await {
        Ok(Some(view)) => Json(view).into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
