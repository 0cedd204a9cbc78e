//! End-to-end and store integration tests of the whole ledger live in `tests/suite`:
//! one test binary (fast to link), every store test run on PostgreSQL and on SQLite.
