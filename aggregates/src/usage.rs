//! Counting usage for a usage invoice (BILLING.md 3): which records an invoice counts,
//! what it counts of each month and metric, and the SHA-256 digest over the records that
//! `verify` recomputes from the usage store.
//!
//! A usage invoice for month `M`, counting through the usage store's position `T`,
//! counts the agreement's records that occurred on or before `M`'s last day and were
//! recorded at a position up to `T`. Months and positions only grow from one usage
//! invoice to the next, so what every earlier invoice counted is exactly what the latest
//! one could count ([`CountedUsage`]): the next invoice counts the records outside it. A
//! record reported late (for a month already invoiced) therefore falls to the next usage
//! invoice, its month of occurrence shown (BILLING.md 3), and a record is never counted
//! twice nor skipped.

use std::collections::BTreeMap;

use sha2::{Digest as _, Sha256};
use time::Date;

use commands::MeteredUsage;
use events::{CalendarMonth, MetricName};

/// What the agreement's usage invoices have counted so far: the records that occurred on
/// or before `month`'s last day and were recorded at a position up to `through`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountedUsage {
    pub month: CalendarMonth,
    pub through: u64,
}

impl CountedUsage {
    /// Whether an earlier usage invoice counted a record recorded at `position` that
    /// occurred on `occurred_on`.
    pub fn counts(counted: Option<Self>, position: u64, occurred_on: Date) -> bool {
        counted.is_some_and(|c| position <= c.through && occurred_on <= c.month.last_day())
    }

    /// Whether the usage invoice that counted `self`, issued after what the agreement's
    /// previous usage invoice counted (`before`), counts a record recorded at `position`
    /// that occurred on `occurred_on`: its window (BILLING.md 3). A record occurred on or
    /// before the billed month's last day, was recorded at a position up to the invoice's
    /// (never below `before`'s: the counting position does not go back), and was not
    /// counted by `before`. The store's `UsageWindow` selects the same records in SQL;
    /// `verify` on an export recounts with this.
    pub fn window_contains(self, before: Option<Self>, position: u64, occurred_on: Date) -> bool {
        let through = self.through.max(before.map_or(0, |b| b.through));
        occurred_on <= self.month.last_day()
            && position <= through
            && !Self::counts(before, position, occurred_on)
    }
}

/// What a usage invoice counts of one metric used in one month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageCount {
    pub month: CalendarMonth,
    pub metric: MetricName,
    /// The records' quantities summed.
    pub quantity: u64,
    pub records: u64,
    /// [`usage_digest`] over the records.
    pub digest: String,
}

/// The records grouped by month of occurrence and metric, in that order.
///
/// # Panics
/// When the quantities of one group overflow `u64` (a record's quantity is at most a
/// billion, far below it).
pub fn count_usage<'a>(records: impl IntoIterator<Item = &'a MeteredUsage>) -> Vec<UsageCount> {
    let mut groups: BTreeMap<(CalendarMonth, &MetricName), Vec<(&str, u64)>> = BTreeMap::new();
    for record in records {
        groups
            .entry((CalendarMonth::of(record.occurred_on), &record.metric))
            .or_default()
            .push((record.id.as_str(), record.quantity));
    }
    groups
        .into_iter()
        .map(|((month, metric), mut records)| {
            let quantity = records
                .iter()
                .try_fold(0u64, |sum, (_, quantity)| sum.checked_add(*quantity))
                .expect("a month's usage of a metric fits in u64");
            UsageCount {
                month,
                metric: metric.clone(),
                quantity,
                records: records.len() as u64,
                digest: usage_digest(&mut records),
            }
        })
        .collect()
}

/// BILLING.md 3: the SHA-256 digest over the ids and quantities a usage invoice billed:
/// lowercase hex of SHA-256 over `id TAB quantity LF` for each record, ordered by id.
pub fn usage_digest(records: &mut [(&str, u64)]) -> String {
    records.sort_unstable();
    let mut hasher = Sha256::new();
    for (id, quantity) in records.iter() {
        hasher.update(id.as_bytes());
        hasher.update(b"\t");
        hasher.update(quantity.to_string().as_bytes());
        hasher.update(b"\n");
    }
    format!("{:x}", hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn record(position: u64, id: &str, metric: &str, quantity: u64, on: Date) -> MeteredUsage {
        MeteredUsage {
            position,
            id: id.to_owned(),
            metric: MetricName::parse(metric).unwrap(),
            quantity,
            occurred_on: on,
        }
    }

    #[test]
    fn the_digest_is_sha256_over_sorted_id_tab_quantity_lines() {
        // printf 'a\t2\nb\t1\n' | sha256sum
        let expected = format!("{:x}", Sha256::digest(b"a\t2\nb\t1\n"));
        assert_eq!(usage_digest(&mut [("b", 1), ("a", 2)]), expected);
        assert_eq!(usage_digest(&mut [("a", 2), ("b", 1)]), expected);
        assert_ne!(usage_digest(&mut [("a", 3), ("b", 1)]), expected);
        assert_eq!(
            usage_digest(&mut []),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn records_are_grouped_by_month_of_occurrence_and_metric() {
        let records = [
            record(1, "r1", "documents", 5, date!(2026 - 12 - 31)),
            record(2, "r2", "documents", 7, date!(2027 - 01 - 01)),
            record(3, "r3", "signatures", 2, date!(2026 - 12 - 01)),
            record(4, "r4", "documents", 1, date!(2026 - 12 - 05)),
        ];
        let counts = count_usage(&records);
        let summary: Vec<_> = counts
            .iter()
            .map(|c| {
                (
                    c.month.to_string(),
                    c.metric.to_string(),
                    c.quantity,
                    c.records,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("2026-12".to_owned(), "documents".to_owned(), 6, 2),
                ("2026-12".to_owned(), "signatures".to_owned(), 2, 1),
                ("2027-01".to_owned(), "documents".to_owned(), 7, 1),
            ]
        );
        assert_eq!(counts[0].digest, usage_digest(&mut [("r1", 5), ("r4", 1)]));
    }

    #[test]
    fn what_was_counted_is_the_latest_invoice_s_month_and_position() {
        let counted = Some(CountedUsage {
            month: CalendarMonth::parse("2026-12").unwrap(),
            through: 10,
        });
        assert!(CountedUsage::counts(counted, 10, date!(2026 - 12 - 31)));
        // Recorded after the invoice counted: a late report, counted next time.
        assert!(!CountedUsage::counts(counted, 11, date!(2026 - 12 - 31)));
        // Recorded before, but of a month not yet invoiced.
        assert!(!CountedUsage::counts(counted, 3, date!(2027 - 01 - 01)));
        assert!(!CountedUsage::counts(None, 1, date!(2026 - 12 - 01)));
    }

    #[test]
    fn an_invoice_s_window_is_its_month_and_position_less_what_was_counted_before() {
        let december = CountedUsage {
            month: CalendarMonth::parse("2026-12").unwrap(),
            through: 10,
        };
        let january = CountedUsage {
            month: CalendarMonth::parse("2027-01").unwrap(),
            through: 20,
        };
        // The first usage invoice: everything of its month or before, up to its position.
        assert!(december.window_contains(None, 10, date!(2026 - 11 - 03)));
        assert!(!december.window_contains(None, 11, date!(2026 - 12 - 31)));
        assert!(!december.window_contains(None, 3, date!(2027 - 01 - 01)));
        // The next one: a December record reported late (after position 10) and
        // January's, not what December's invoice counted, nor February's.
        let before = Some(december);
        assert!(january.window_contains(before, 11, date!(2026 - 12 - 31)));
        assert!(january.window_contains(before, 3, date!(2027 - 01 - 01)));
        assert!(!january.window_contains(before, 10, date!(2026 - 12 - 31)));
        assert!(!january.window_contains(before, 12, date!(2027 - 02 - 01)));
        assert!(!january.window_contains(before, 21, date!(2027 - 01 - 31)));
        // A run that counted through a lower position than the one before counts up to
        // the earlier position: the counting position never goes back.
        let behind = CountedUsage {
            month: january.month,
            through: 5,
        };
        assert!(behind.window_contains(before, 8, date!(2027 - 01 - 02)));
    }
}
