//! edoc-ledger's edge: the HTTP API, the command-line program and the event-store
//! adapters. The only crate that touches the network, the disk and the clock.

pub mod application;
pub mod audit;
pub mod bench;
pub mod event_metadata;
pub mod export;
pub mod hash_chain;
pub mod http;
pub mod metrics;
pub mod reference_book;
pub mod reference_files;
pub mod replay;
pub mod settings;
pub mod startup;
pub mod store;
pub mod tokens;
