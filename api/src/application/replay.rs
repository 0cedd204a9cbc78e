//! Rebuilding the stored projections from the event store, and proving them equal.
//!
//! `edoc-ledger replay` empties `agreement_ledgers` and folds every agreement's events
//! into it again, in one transaction (readers see the old rows until it commits).
//! `edoc-ledger replay --check` folds into `agreement_ledgers_scratch` instead and
//! compares it with the stored table row by row, reporting every difference down to the
//! JSON path of the value that differs.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::store::{
    LedgerEventRepository, LedgerRow, RebuildCount, StoreError, SCRATCH_LEDGERS_TABLE,
};

/// The most differences a check lists one by one (all are counted).
pub const DIFFERENCES_LISTED_MAX: usize = 1000;

/// What a rebuild did, and how fast.
#[derive(Debug, Clone, Copy)]
pub struct RebuildReport {
    pub count: RebuildCount,
    pub elapsed: Duration,
}

impl RebuildReport {
    /// Whole events per second (integer arithmetic: no floats in the ledger).
    pub fn events_per_second(&self) -> u64 {
        let micros = self.elapsed.as_micros().max(1);
        u64::try_from(u128::from(self.count.events) * 1_000_000 / micros).unwrap_or(u64::MAX)
    }
}

impl std::fmt::Display for RebuildReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} events of {} agreements in {}.{:03} s ({} events/s)",
            self.count.events,
            self.count.agreements,
            self.elapsed.as_secs(),
            self.elapsed.subsec_millis(),
            self.events_per_second()
        )
    }
}

/// Rebuilds `table` from the events; `progress` sees the number of events folded.
pub async fn rebuild(
    repository: &LedgerEventRepository,
    table: &str,
    progress: impl FnMut(u64),
) -> Result<RebuildReport, StoreError> {
    let started = Instant::now();
    let count = repository.rebuild_ledgers(table, progress).await?;
    Ok(RebuildReport {
        count,
        elapsed: started.elapsed(),
    })
}

/// One difference between the stored projection and a replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// The replay has a row the store lacks.
    Missing { participant_id: String },
    /// The store has a row no events produce.
    Unexpected { participant_id: String },
    /// A value differs: `path` is a JSON path into the row (`ledger.facts[0].fact.total`).
    Changed {
        participant_id: String,
        path: String,
        stored: String,
        replayed: String,
    },
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing { participant_id } => {
                write!(f, "{participant_id}: missing from the stored projection")
            }
            Self::Unexpected { participant_id } => {
                write!(f, "{participant_id}: stored, but no events produce it")
            }
            Self::Changed {
                participant_id,
                path,
                stored,
                replayed,
            } => write!(
                f,
                "{participant_id}: {path}: stored {stored}, replay gives {replayed}"
            ),
        }
    }
}

/// The result of `replay --check`.
#[derive(Debug, Clone)]
pub struct CheckReport {
    pub rebuild: RebuildReport,
    pub rows_compared: u64,
    pub rows_differing: u64,
    /// Up to [`DIFFERENCES_LISTED_MAX`] differences.
    pub differences: Vec<Difference>,
    pub differences_total: u64,
}

impl CheckReport {
    pub fn is_clean(&self) -> bool {
        self.differences_total == 0 && self.rows_differing == 0
    }
}

/// Rebuilds into the scratch table and compares it with the stored projection.
pub async fn check(
    repository: &LedgerEventRepository,
    progress: impl FnMut(u64),
) -> Result<CheckReport, StoreError> {
    let rebuild = rebuild(repository, SCRATCH_LEDGERS_TABLE, progress).await?;
    // The database finds the differing rows; only those are loaded and compared down to
    // the JSON path, so memory stays flat however many agreements there are.
    let (differing, rows_compared) = repository.differing_ledgers().await?;
    let mut report = CheckReport {
        rebuild,
        rows_compared,
        rows_differing: differing.len() as u64,
        differences: Vec::new(),
        differences_total: 0,
    };
    let note = |report: &mut CheckReport, difference: Difference| {
        report.differences_total += 1;
        if report.differences.len() < DIFFERENCES_LISTED_MAX {
            report.differences.push(difference);
        }
    };
    for (participant_id, in_stored, in_replay) in differing {
        match (in_stored, in_replay) {
            (false, _) => note(&mut report, Difference::Missing { participant_id }),
            (_, false) => note(&mut report, Difference::Unexpected { participant_id }),
            (true, true) => {
                let stored = repository.ledger(&participant_id).await?;
                let replayed = repository.scratch_ledger(&participant_id).await?;
                let (Some(stored), Some(replayed)) = (stored, replayed) else {
                    continue; // changed while checking; the next check will tell
                };
                let mut changes = Vec::new();
                diff(&row_value(&stored), &row_value(&replayed), "", &mut changes);
                if changes.is_empty() {
                    changes.push((
                        "ledger".to_owned(),
                        "the same values in another encoding".to_owned(),
                        "the canonical encoding".to_owned(),
                    ));
                }
                for (path, stored, replayed) in changes {
                    note(
                        &mut report,
                        Difference::Changed {
                            participant_id: participant_id.clone(),
                            path,
                            stored,
                            replayed,
                        },
                    );
                }
            }
        }
    }
    Ok(report)
}

fn row_value(row: &LedgerRow) -> Value {
    serde_json::json!({
        "version": row.version,
        "status": row.status,
        "name": row.name,
        "currency": row.currency,
        // The stored form is binary: compared as bytes in the database, shown as JSON.
        "ledger": match projections::AgreementLedger::from_stored(&row.ledger) {
            Ok(ledger) => serde_json::to_value(&ledger).unwrap_or(Value::Null),
            Err(error) => Value::String(format!("unreadable: {error}")),
        },
    })
}

/// Collects `(path, stored, replayed)` for every leaf that differs.
fn diff(stored: &Value, replayed: &Value, path: &str, out: &mut Vec<(String, String, String)>) {
    match (stored, replayed) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                diff(
                    a.get(key).unwrap_or(&Value::Null),
                    b.get(key).unwrap_or(&Value::Null),
                    &child,
                    out,
                );
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for index in 0..a.len().max(b.len()) {
                diff(
                    a.get(index).unwrap_or(&Value::Null),
                    b.get(index).unwrap_or(&Value::Null),
                    &format!("{path}[{index}]"),
                    out,
                );
            }
        }
        (a, b) if a != b => out.push((path.to_owned(), a.to_string(), b.to_string())),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_names_the_path_of_each_changed_leaf() {
        let stored = serde_json::json!({"a": {"b": [1, {"c": "x"}]}, "d": 1});
        let replayed = serde_json::json!({"a": {"b": [1, {"c": "y"}]}, "d": 1, "e": true});
        let mut out = Vec::new();
        diff(&stored, &replayed, "", &mut out);
        assert_eq!(
            out,
            vec![
                (
                    "a.b[1].c".to_owned(),
                    "\"x\"".to_owned(),
                    "\"y\"".to_owned()
                ),
                ("e".to_owned(), "null".to_owned(), "true".to_owned()),
            ]
        );
    }
}
