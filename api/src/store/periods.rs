//! The period stream (BILLING.md 5.4): its seals, the close's lock, and the check every
//! append of a document dated in a past month makes against a close that committed
//! meanwhile.

use super::*;

/// The latest seal's `closed_through` in the stream (`None` when no month is closed).
const LATEST_SEAL: &str =
    "SELECT payload FROM events WHERE aggregate_type = $1 AND aggregate_id = $2
     ORDER BY sequence DESC LIMIT 1";

fn closed_through_of(payload: Option<Value>) -> Result<Option<time::Date>, StoreError> {
    let Some(payload) = payload else {
        return Ok(None);
    };
    serde_json::from_value::<events::PeriodClosed>(payload)
        .map(|seal| Some(seal.closed_through))
        .map_err(|e| StoreError::Corrupt(format!("a period seal cannot be read: {e}")))
}

impl Transaction<'_> {
    /// The months closed as this transaction sees them now.
    pub(super) async fn closed_through(&mut self) -> Result<Option<time::Date>, AppendError> {
        let payload: Option<Value> = on_transaction!(self, |tx, _dialect| {
            sqlx::query_scalar(LATEST_SEAL)
                .bind(events::PERIOD_AGGREGATE_TYPE)
                .bind(events::PERIOD_STREAM_ID)
                .fetch_optional(&mut **tx)
                .await
                .map_err(append_error)?
        });
        closed_through_of(payload).map_err(AppendError::Store)
    }
}

impl LedgerEventRepository {
    /// The months closed now (the latest seal's `closed_through`).
    pub async fn closed_through(&self) -> Result<Option<time::Date>, StoreError> {
        let payload: Option<Value> = on_pool!(&*self.backend, |pool, _dialect| {
            sqlx::query_scalar(LATEST_SEAL)
                .bind(events::PERIOD_AGGREGATE_TYPE)
                .bind(events::PERIOD_STREAM_ID)
                .fetch_optional(pool)
                .await?
        });
        closed_through_of(payload)
    }

    /// [`Self::closed_through`] on a held connection.
    pub async fn closed_through_on(
        &self,
        connection: &mut CommandConnection,
    ) -> Result<Option<time::Date>, StoreError> {
        let payload: Option<Value> = on_connection!(connection, |connection, _dialect| {
            sqlx::query_scalar(LATEST_SEAL)
                .bind(events::PERIOD_AGGREGATE_TYPE)
                .bind(events::PERIOD_STREAM_ID)
                .fetch_optional(&mut **connection)
                .await?
        });
        closed_through_of(payload)
    }

    /// Closes a period: in one transaction that first stops every other append to the
    /// events (PostgreSQL: `SHARE ROW EXCLUSIVE` on the table; SQLite: the write lock
    /// `BEGIN IMMEDIATE` takes), `decide` reads what it needs through the pool (the
    /// store cannot change meanwhile) and returns the seal's events, which are appended
    /// and committed. An append racing the close either commits before it (and the seal
    /// counts it) or waits and then finds the month closed
    /// ([`PeriodGuard`], a conflict it decides again on).
    pub async fn close_period<T, E>(
        &self,
        decide: impl AsyncFnOnce() -> Result<(Vec<SerializedEvent>, T), E>,
    ) -> Result<T, E>
    where
        E: From<StoreError> + From<AppendError>,
    {
        let mut connection = self.command_connection().await?;
        let mut tx = Transaction::begin_on(&mut connection)
            .await
            .map_err(StoreError::from)?;
        if let Transaction::Postgres(_) = &tx {
            tx.execute("LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE")
                .await
                .map_err(StoreError::from)?;
        }
        let (events, answer) = decide().await?;
        if !events.is_empty() {
            tx.record(&events, None).await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        Ok(answer)
    }
}

/// What an append of documents dated in a past month checks, after writing and before
/// committing: that no close committed meanwhile sealed the day the earliest of them is
/// posted on (BILLING.md 5.4). A failed check is a conflict: nothing is written, and the
/// command is decided again with the months closed now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeriodGuard {
    /// The earliest day the appended documents are posted on.
    pub earliest_posting: time::Date,
}
