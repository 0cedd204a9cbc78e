//! The application layer: the ledger's use cases, between the HTTP API (and the command
//! line) above and the store below. Handlers call only this layer; nothing here knows
//! HTTP, and nothing below imports it.
//!
//! - `commands`: execute a command on an agreement (the command loop: load, decide, seal,
//!   answer, append), the clock, what a command is run with and gives back.
//! - `queries`: what billing staff read: an agreement's stored ledger, pages of
//!   agreements, the aging report, the dunning preview.
//! - `billing`: the monthly billing run (BILLING.md 4), each agreement's invoice recorded
//!   like any command.
//! - `sweep`: the dunning sweep as of a date (§4.2, §5.9, §10.3), each agreement's step
//!   recorded like any command.
//! - `audit`: verify the store's hash chains, take and check a digest.
//! - `export/`: the auditor's export, its offline verification and recomputation, and the
//!   import into an empty store.
//! - `replay`: rebuild the stored projections, or check them against a replay.
//! - `periods`: closing a month (BILLING.md 5.4), the seals, their verification.
//! - `reference_book`: the reference stream: the tables in force, publishing versions.
//! - `tariff_book`: the tariff stream (BILLING.md 2): the catalog, publishing versions.
//! - `tokens`: bearer tokens and roles (who may call what is `http::auth`'s table).
//! - `usage`: usage ingestion (BILLING.md 3): batches of the portal's usage records.
//! - `webhooks`: the operator's webhook endpoints and their deliverer (INTEGRATION.md 1).
//! - `statements/`: bank statements (INTEGRATION.md 2): parsing camt.053 and 1C files.

pub mod audit;
pub mod billing;
pub mod commands;
pub mod documents;
pub mod export;
pub mod feed;
pub mod jobs;
pub mod nats;
pub mod periods;
pub mod queries;
pub mod reference_book;
pub mod replay;
pub mod replica;
pub mod statements;
pub mod sweep;
pub mod tariff_book;
pub mod tokens;
pub mod ui_sessions;
pub mod usage;
pub mod webhooks;

/// The store's error, as the use cases report it.
pub use crate::store::StoreError;

pub use commands::{
    Answer, Clock, CommandContext, Committed, IdempotencyClaim, Ledger, LedgerError, SweepMark,
    SystemClock,
};
