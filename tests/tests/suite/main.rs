//! The ledger end to end: the real server over HTTP, on PostgreSQL and on SQLite; and
//! the two long runs over the whole pure core (`fuzz`: command bodies through decide to
//! the stored projection; `simulation`: two years of daily sweeps against a model of the
//! rules), kept in this binary so that they run beside the end-to-end tests.
//!
//! PostgreSQL tests need a server: `EDOC_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). Each test gets a fresh database. If
//! the server cannot be reached the tests fail and say how to start it; they never skip.

mod helpers;

mod architecture;
mod audit;
mod auth;
mod back_office;
mod bad_input;
mod billing_runs;
mod browser;
mod clusters;
mod concurrency;
mod corrections;
mod documents;
mod explain;
mod feed;
mod fuzz;
mod http_flow;
mod idempotency;
mod known_at;
mod late_payments;
mod nats;
mod observability;
mod openapi;
mod outage;
mod periods;
mod queries;
mod reference;
mod replay;
mod replica;
mod rules_2026_12;
mod schemathesis;
mod simulation;
mod statements;
mod store;
mod sweeps;
mod tariffs;
mod usage;
mod webhooks;
