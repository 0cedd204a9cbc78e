//! The global feed's reads (INTEGRATION.md 1): the store's events in `global_position`
//! order, read gap-safe: a reader that has passed a position never later finds a
//! committed event below it.
//!
//! **SQLite** draws a position as `MAX + 1` inside the write lock every append holds to
//! its commit: positions become visible in order, with no hole, and every read is final.
//!
//! **PostgreSQL** draws positions from an identity sequence as rows are inserted, by
//! transactions that run side by side and commit in any order; an aborted append leaves a
//! hole for good. A hole below a visible position was drawn before that position, so by
//! a transaction that was still running when the read's snapshot was taken (listed in
//! its `xip`) or that aborted. Hence the rule ([`final_prefix`]): a read delivers its
//! rows up to the first hole, and past holes only when no transaction was running at its
//! snapshot, or once every transaction that was running at an earlier read's snapshot has
//! ended (then every hole below that read's last row is final: committed rows are
//! visible now, the rest never will be). A read blocked at a hole right after the cursor
//! waits for those transactions (milliseconds: appends are short) and reads again.
//!
//! The rule holds only if whoever holds a position is listed as running: PostgreSQL gives
//! a transaction its id when it first writes a row, after an INSERT's defaults drew the
//! position. Migration 0012 makes the position's default (`events_next_position()`) take
//! the transaction's id first, then draw from the sequence.

use std::time::Instant;

use super::*;

/// The most events one feed read returns.
pub const FEED_PAGE_MAX: i64 = 1_000;

/// How long a read blocked at a hole waits for the transactions that may own it.
const HOLE_WAIT_MAX: Duration = Duration::from_secs(5);

/// An event as the feed reads it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct FeedEvent {
    #[sqlx(rename = "global_position")]
    pub position: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub payload: Value,
    pub metadata: Value,
    /// When the row was written (RFC 3339, UTC).
    pub stored_at: String,
}

/// How many of `positions` (ascending, all after `after`) a read may deliver: up to the
/// first hole (a position missing between `after` and the next row, or between two
/// rows), unless no writer was in flight at the read's snapshot (every hole is final) or
/// the hole ends at or below `final_through` (holes there are known final).
pub fn final_prefix(
    after: i64,
    positions: &[i64],
    writers_in_flight: bool,
    final_through: i64,
) -> usize {
    let mut expected = after.saturating_add(1);
    for (index, position) in positions.iter().enumerate() {
        assert!(
            *position >= expected,
            "feed rows come in ascending position order after the cursor"
        );
        let hole = *position > expected;
        if hole && writers_in_flight && *position > final_through {
            return index;
        }
        expected = position.saturating_add(1);
    }
    positions.len()
}

/// One read at one snapshot.
struct FeedRead {
    events: Vec<FeedEvent>,
    /// The newest transaction running at the snapshot (PostgreSQL), if any.
    newest_in_flight: Option<String>,
}

impl LedgerEventRepository {
    /// Up to `limit` events after position `after`, every one of them final (see the
    /// module's doc): in position order, possibly fewer than exist when a transaction
    /// that may own a lower position is still running.
    pub async fn feed(&self, after: i64, limit: i64) -> Result<Vec<FeedEvent>, StoreError> {
        let limit = limit.clamp(1, FEED_PAGE_MAX);
        let first = self.feed_read(after, limit).await?;
        let positions: Vec<i64> = first.events.iter().map(|e| e.position).collect();
        let in_flight = first.newest_in_flight.is_some();
        let deliverable = final_prefix(after, &positions, in_flight, i64::MIN);
        if deliverable > 0 || first.events.is_empty() {
            let mut events = first.events;
            events.truncate(deliverable);
            return Ok(events);
        }
        // Blocked at a hole right after the cursor: once every transaction running at the
        // first read has ended, every hole below its last row is final.
        let newest = first
            .newest_in_flight
            .expect("a hole blocks only while a writer is in flight");
        if !self.wait_for_transactions_through(&newest).await? {
            return Ok(Vec::new());
        }
        let final_through = *positions.last().expect("rows were read");
        let second = self.feed_read(after, limit).await?;
        let positions: Vec<i64> = second.events.iter().map(|e| e.position).collect();
        let deliverable = final_prefix(
            after,
            &positions,
            second.newest_in_flight.is_some(),
            final_through,
        );
        let mut events = second.events;
        events.truncate(deliverable);
        Ok(events)
    }

    /// The events after `after` and the transactions running, at one snapshot.
    async fn feed_read(&self, after: i64, limit: i64) -> Result<FeedRead, StoreError> {
        let rows_query = |dialect: Dialect| {
            format!(
                "SELECT global_position, aggregate_type, aggregate_id, sequence, event_type,
                        payload, metadata, {} AS stored_at
                 FROM events WHERE global_position > $1
                 ORDER BY global_position LIMIT $2",
                dialect.utc_text("recorded_at", TO_THE_MICROSECOND)
            )
        };
        match &*self.backend {
            Backend::Postgres { pool, .. } => {
                let mut tx = pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?;
                // The snapshot is taken by the transaction's first statement: this one.
                let newest_in_flight = newest_in_flight(&mut tx).await?;
                let events = sqlx::query_as(&rows_query(Dialect::Postgres))
                    .bind(after)
                    .bind(limit)
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(FeedRead {
                    events,
                    newest_in_flight,
                })
            }
            Backend::Sqlite { pool, .. } => {
                let events = sqlx::query_as(&rows_query(Dialect::Sqlite))
                    .bind(after)
                    .bind(limit)
                    .fetch_all(pool)
                    .await?;
                Ok(FeedRead {
                    events,
                    newest_in_flight: None,
                })
            }
        }
    }

    /// Waits (PostgreSQL) until every transaction up to `newest` has ended; `false` when
    /// one still runs after [`HOLE_WAIT_MAX`].
    async fn wait_for_transactions_through(&self, newest: &str) -> Result<bool, StoreError> {
        let Backend::Postgres { pool, .. } = &*self.backend else {
            return Ok(true);
        };
        let started = Instant::now();
        loop {
            let ended: bool = sqlx::query_scalar(
                "SELECT pg_snapshot_xmin(pg_current_snapshot()) > $1::text::xid8",
            )
            .bind(newest)
            .fetch_one(pool)
            .await?;
            if ended {
                return Ok(true);
            }
            if started.elapsed() > HOLE_WAIT_MAX {
                return Ok(false);
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

impl LedgerEventRepository {
    /// The highest position below which every event is final (0 in an empty store):
    /// where a relay that should hear only of events recorded from now on starts, without
    /// passing an event still being committed below the store's last position (a
    /// transaction running at the read's snapshot, which may hold a lower position, is
    /// waited for). Refused (store unavailable) when such transactions run for over
    /// [`HOLE_WAIT_MAX`].
    pub async fn feed_final_head(&self) -> Result<i64, StoreError> {
        let Backend::Postgres { pool, .. } = &*self.backend else {
            // SQLite: positions become visible in order, every read is final.
            return self.feed_head().await;
        };
        let mut tx = pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await?;
        let newest_in_flight = newest_in_flight(&mut tx).await?;
        let head: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(global_position), 0) FROM events")
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        if let Some(newest) = newest_in_flight {
            if !self.wait_for_transactions_through(&newest).await? {
                return Err(StoreError::Unavailable(sqlx::Error::Protocol(
                    "transactions running for over 5 s keep the feed's head from being final; retry"
                        .to_owned(),
                )));
            }
        }
        Ok(head)
    }

    /// The highest position recorded so far (0 in an empty store): where a relay that
    /// should hear only of events recorded from now on starts.
    pub async fn feed_head(&self) -> Result<i64, StoreError> {
        Ok(on_pool!(&*self.backend, |pool, _dialect| {
            sqlx::query_scalar::<_, i64>("SELECT COALESCE(MAX(global_position), 0) FROM events")
                .fetch_one(pool)
                .await?
        }))
    }

    /// The last position the relay `name` delivered (0 before its first).
    pub async fn feed_cursor(&self, name: &str) -> Result<i64, StoreError> {
        let position: Option<i64> = on_pool!(&*self.backend, |pool, _dialect| {
            sqlx::query_scalar("SELECT position FROM feed_cursors WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await?
        });
        Ok(position.unwrap_or(0))
    }

    /// Moves the relay `name`'s cursor from `from` to `to` (forward only); `false`, and
    /// nothing changed, when it is no longer at `from` (another server moved it).
    pub async fn advance_feed_cursor(
        &self,
        name: &str,
        from: i64,
        to: i64,
    ) -> Result<bool, StoreError> {
        assert!(to > from, "a feed cursor moves forward");
        let moved = on_pool!(&*self.backend, |pool, dialect| {
            let now = dialect.pick("now()", "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')");
            sqlx::query(&format!(
                "INSERT INTO feed_cursors (name, position) VALUES ($1, $3)
                 ON CONFLICT (name) DO UPDATE SET position = $3, updated_at = {now}
                 WHERE feed_cursors.position = $2"
            ))
            .bind(name)
            .bind(from)
            .bind(to)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(moved == 1)
    }
}

/// The newest transaction running at the snapshot of `tx` (PostgreSQL), if any; as its
/// first statement, this takes the snapshot.
async fn newest_in_flight(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT max(x)::text FROM pg_snapshot_xip(pg_current_snapshot()) AS x")
        .fetch_one(&mut **tx)
        .await
}

#[cfg(test)]
mod tests {
    use super::final_prefix;

    #[test]
    fn a_read_stops_at_the_first_hole_while_a_writer_may_own_it() {
        // Contiguous: everything.
        assert_eq!(final_prefix(0, &[1, 2, 3], true, i64::MIN), 3);
        // A hole after 2 (3 missing) while a writer runs: 1 and 2 only.
        assert_eq!(final_prefix(0, &[1, 2, 4, 5], true, i64::MIN), 2);
        // A hole right after the cursor: nothing.
        assert_eq!(final_prefix(10, &[12, 13], true, i64::MIN), 0);
        // No writer in flight: every hole is final.
        assert_eq!(final_prefix(10, &[12, 13, 20], false, i64::MIN), 3);
        // Holes up to a position known final are passed, the next one is not.
        assert_eq!(final_prefix(10, &[12, 13, 20, 30], true, 20), 3);
        assert_eq!(final_prefix(0, &[], true, i64::MIN), 0);
    }
}
