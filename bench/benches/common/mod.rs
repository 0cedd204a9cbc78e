//! What the cargo benches share: the generator and loader of `edoc-ledger bench`
//! (`ledger_bench::history`), included by each bench with `mod common;`.
#![allow(unused_imports, dead_code)]

pub use ledger_bench::history::*;
