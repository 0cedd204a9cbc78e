//! The projections' integration tests, in one test binary: hand-computed examples of the
//! ledger (`ledger`), §8.1 in the projection (`force_majeure`), and the property tests
//! and the time-bounded fuzzer over random histories (`properties`, `explain`,
//! `invariants`, `fuzz`; the generator they share in `common`).

mod common;

mod explain;
mod force_majeure;
mod fuzz;
mod invariants;
mod ledger;
mod properties;
