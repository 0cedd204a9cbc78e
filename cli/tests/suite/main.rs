//! The `edoc-ledger` program end to end, in one test binary: each module runs the built
//! binary (`CARGO_BIN_EXE_edoc-ledger`) against PostgreSQL or the embedded store.
//!
//! - `cli`: `migrate`, `replay [--check]`, `reference load|list`, `serve --listen`;
//! - `cqrs_demo`: the cqrs-es demo's server, the yardstick of `edoc-ledger bench`;
//! - `crash`: SIGKILL under load loses nothing acknowledged;
//! - `export`: the auditor's round trip (`export`, `audit`, `import`, `verify`);
//! - `guide`: the walk of docs/audit.md, run as written;
//! - `load`: `edoc-ledger load` against `edoc-ledger serve`;
//! - `operations`: tokens on the command line, the first start's token, SIGTERM;
//! - `webhooks_crash`: SIGKILL in the middle of webhook deliveries skips nothing.

mod common;

mod billing_crash;
mod cli;
mod cqrs_demo;
mod crash;
mod esf;
mod export;
mod failover;
mod guide;
mod jobs;
mod load;
mod operations;
mod statements;
mod webhooks_crash;
