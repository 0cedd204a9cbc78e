//! edoc-ledger's edge: the HTTP API, the ledger's command loop and the event-store
//! adapters, as a library. The lowest crate that touches the network, the disk and the
//! clock; the command-line program (`cli/`) and the benchmark (`bench/`) sit on top.

pub mod application;
pub mod event_metadata;
pub mod hash_chain;
pub mod http;
pub mod metrics;
pub mod reference_files;
pub mod settings;
pub mod startup;
pub mod store;
