//! The projections' integration tests, in one test binary: hand-computed examples of the
//! ledger (`ledger`), §8.1 in the projection (`force_majeure`), and the property tests
//! over random histories (`properties`, `explain`, `invariants`; the generator they share
//! in `common`). The time-bounded fuzzer of the whole pure core is in the workspace's
//! suite (`tests/tests/suite/fuzz.rs`), where it runs beside the end-to-end tests.

mod common;

mod explain;
mod force_majeure;
mod invariants;
mod late_allocation;
mod late_payments;
mod ledger;
mod properties;
