//! Usage records (BILLING.md 3, `usage_records`): what the portal reports it served,
//! kept apart from the agreements' event streams and append-only. A batch is recorded in
//! one transaction, idempotent by the portal's record id: a record whose id is stored
//! with the same content is a duplicate (counted, not written again); the same id with
//! other content refuses the whole batch.
//!
//! How a batch is written, on both databases: the rows are inserted with
//! `ON CONFLICT (id) DO NOTHING`, then the batch's ids are read back inside the same
//! transaction and compared with the batch; any difference rolls everything back. A
//! concurrent batch with a shared id therefore either committed first (its row is read
//! back, and differs or not) or commits after this one and finds this one's row: an id
//! never holds two contents, and a batch is recorded whole or not at all.
//!
//! Positions are drawn in commit order: on PostgreSQL a batch first takes the table's
//! `SHARE ROW EXCLUSIVE` lock (one usage writer at a time; readers are not blocked), on
//! SQLite the write lock `BEGIN IMMEDIATE` takes does the same. So the positions up to
//! [`LedgerEventRepository::last_usage_position`] never gain a record later, and the
//! billing run may take the records of a window of positions `(after, through]`.

use std::collections::{BTreeMap, BTreeSet};

use events::{business_date, MetricName, ParticipantId};
use time::Date;

use super::*;

/// The longest record id the portal may send (characters).
pub const USAGE_ID_CHARS_MAX: usize = 100;

/// One usage record: a fact the portal reports, never changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRecord {
    /// The portal's own id, unique per record (1 to [`USAGE_ID_CHARS_MAX`] characters).
    pub id: String,
    pub participant_id: ParticipantId,
    pub metric: MetricName,
    /// Positive.
    pub quantity: i64,
    /// The business date it occurred on.
    pub occurred_on: Date,
}

/// A stored record with its place in the table (commit order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUsageRecord {
    pub position: i64,
    pub record: UsageRecord,
}

impl StoredUsageRecord {
    /// The record as the billing run counts it.
    pub fn metered(self) -> Result<commands::MeteredUsage, StoreError> {
        let corrupt = |what: String| {
            StoreError::Corrupt(format!("usage record `{}`: {what}", self.record.id))
        };
        Ok(commands::MeteredUsage {
            position: u64::try_from(self.position)
                .map_err(|_| corrupt(format!("position {}", self.position)))?,
            quantity: u64::try_from(self.record.quantity)
                .map_err(|_| corrupt(format!("quantity {}", self.record.quantity)))?,
            id: self.record.id,
            metric: self.record.metric,
            occurred_on: self.record.occurred_on,
        })
    }
}

/// A stored record exactly as its row holds it, with its position and when it was
/// recorded: what an export writes and an import loads (`usage_records` row for row).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UsageRow {
    pub position: i64,
    pub id: String,
    pub participant_id: String,
    pub metric: String,
    pub quantity: i64,
    /// YYYY-MM-DD.
    pub occurred_on: String,
    /// RFC 3339, UTC.
    pub recorded_at: String,
}

/// The usage store's position through which a usage invoice counted (its
/// `billing.usage_through`), read from the stored payload of an `InvoiceIssued` event;
/// `None` for any other event (BILLING.md 3).
pub fn usage_through_of(payload: &Value) -> Option<u64> {
    payload["InvoiceIssued"]["billing"]["usage_through"].as_u64()
}

/// What a batch recorded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsageInsertion {
    /// Records written now.
    pub accepted: u64,
    /// Records of the batch already stored with the same content (or repeated in it).
    pub duplicates: u64,
}

/// The records a usage invoice counts (BILLING.md 3): those that occurred on or before
/// `occurred_through` (the billed month's last day), recorded at a position up to
/// `through`, except what an earlier usage invoice counted: those that occurred on or
/// before `counted_month_end` and were recorded up to `counted_through`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageWindow {
    pub occurred_through: Date,
    pub through: i64,
    /// The latest earlier usage invoice's position and its month's last day.
    pub counted: Option<(i64, Date)>,
}

type WindowRow = (i64, String, String, String, i64, String);

impl UsageWindow {
    /// The window of a usage invoice for the month ending `month_end`, counting through
    /// `through`, after what the agreement's usage invoices `counted` (BILLING.md 3).
    pub fn after(
        month_end: Date,
        through: u64,
        counted: Option<aggregates::usage::CountedUsage>,
    ) -> Result<Self, StoreError> {
        let position = |p: u64| {
            i64::try_from(p)
                .map_err(|_| StoreError::Corrupt(format!("usage position {p} is out of range")))
        };
        Ok(Self {
            occurred_through: month_end,
            through: position(through.max(counted.map_or(0, |c| c.through)))?,
            counted: counted
                .map(|c| Ok::<_, StoreError>((position(c.through)?, c.month.last_day())))
                .transpose()?,
        })
    }

    fn query<'q, DB: sqlx::Database>(
        &self,
        participant: &'q ParticipantId,
    ) -> sqlx::query::QueryAs<'q, DB, WindowRow, <DB as sqlx::Database>::Arguments<'q>>
    where
        WindowRow: for<'r> sqlx::FromRow<'r, DB::Row>,
        &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    {
        let (counted_through, counted_month_end) =
            self.counted.unwrap_or((0, self.occurred_through));
        sqlx::query_as(WINDOW_QUERY)
            .bind(participant.as_str())
            .bind(business_date::format(self.occurred_through))
            .bind(self.through)
            .bind(counted_through)
            .bind(business_date::format(counted_month_end))
    }
}

const WINDOW_QUERY: &str = "SELECT position, id, participant_id, metric, quantity, occurred_on
     FROM usage_records
     WHERE participant_id = $1 AND occurred_on <= $2 AND position <= $3
       AND (position > $4 OR occurred_on > $5)
     ORDER BY position";

fn window_record(
    (position, id, participant_id, metric, quantity, occurred_on): WindowRow,
) -> Result<StoredUsageRecord, StoreError> {
    let record = record_of((id, participant_id, metric, quantity, occurred_on))?;
    Ok(StoredUsageRecord { position, record })
}

/// A record of a batch whose id is stored with other content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageConflict {
    /// Its place in the batch (from 0).
    pub index: usize,
    /// What is stored under its id.
    pub stored: UsageRecord,
}

/// Why a batch was not recorded. Nothing of it was written.
#[derive(Debug, thiserror::Error)]
pub enum UsageInsertError {
    /// Records whose ids are stored with other content.
    #[error("{} records of the batch have ids already stored with other content", .0.len())]
    Conflicts(Vec<UsageConflict>),
    /// The request's Idempotency-Key was stored meanwhile by a concurrent request.
    #[error("the Idempotency-Key was taken by a concurrent request")]
    IdempotencyKeyTaken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<AppendError> for UsageInsertError {
    fn from(error: AppendError) -> Self {
        match error {
            AppendError::Conflict(_) => Self::IdempotencyKeyTaken,
            AppendError::Store(error) => Self::Store(error),
        }
    }
}

/// The columns of a record, in the order [`record_of`] reads them.
const RECORD_COLUMNS: &str = "id, participant_id, metric, quantity, occurred_on";

type RecordRow = (String, String, String, i64, String);

fn record_of(
    (id, participant_id, metric, quantity, occurred_on): RecordRow,
) -> Result<UsageRecord, StoreError> {
    let corrupt = |what: String| StoreError::Corrupt(format!("usage record `{id}`: {what}"));
    Ok(UsageRecord {
        participant_id: ParticipantId::parse(&participant_id)
            .map_err(|e| corrupt(e.to_string()))?,
        metric: MetricName::parse(&metric).map_err(|e| corrupt(e.to_string()))?,
        occurred_on: business_date::parse(&occurred_on).map_err(corrupt)?,
        quantity,
        id: id.clone(),
    })
}

/// A JSON array of texts: the one parameter a set of ids is bound as on both databases,
/// read back as rows by [`json_texts`].
fn json_array<'a>(texts: impl IntoIterator<Item = &'a str>) -> Value {
    Value::Array(
        texts
            .into_iter()
            .map(|t| Value::String(t.to_owned()))
            .collect(),
    )
}

/// The rows (`value`) of a JSON array of texts bound as `$1`.
fn json_texts(dialect: Dialect) -> &'static str {
    dialect.pick(
        "SELECT value FROM jsonb_array_elements_text($1)",
        "SELECT value FROM json_each($1)",
    )
}

impl Transaction<'_> {
    /// Inserts the records whose ids are not stored yet; returns how many it wrote.
    async fn insert_usage(
        &mut self,
        records: &[UsageRecord],
        recorded_at: &str,
    ) -> Result<u64, sqlx::Error> {
        const INSERT_ONE: &str = "INSERT INTO usage_records (id, participant_id, metric, quantity, occurred_on, recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING";
        match self {
            Transaction::Postgres(tx) => {
                // One usage writer at a time, so positions are drawn in commit order.
                sqlx::query("LOCK TABLE usage_records IN SHARE ROW EXCLUSIVE MODE")
                    .execute(&mut **tx)
                    .await?;
                let dates: Vec<String> = column(records, |r| business_date::format(r.occurred_on));
                Ok(sqlx::query(
                    "INSERT INTO usage_records (id, participant_id, metric, quantity, occurred_on, recorded_at)
                     SELECT id, participant_id, metric, quantity, occurred_on, $6
                     FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[])
                         WITH ORDINALITY AS r(id, participant_id, metric, quantity, occurred_on, place)
                     ORDER BY place
                     ON CONFLICT (id) DO NOTHING",
                )
                .bind(column(records, |r| r.id.as_str()))
                .bind(column(records, |r| r.participant_id.as_str()))
                .bind(column(records, |r| r.metric.as_str()))
                .bind(column(records, |r| r.quantity))
                .bind(dates)
                .bind(recorded_at)
                .execute(&mut **tx)
                .await?
                .rows_affected())
            }
            Transaction::Sqlite(tx) => {
                let mut written = 0;
                for record in records {
                    written += sqlx::query(INSERT_ONE)
                        .bind(&record.id)
                        .bind(record.participant_id.as_str())
                        .bind(record.metric.as_str())
                        .bind(record.quantity)
                        .bind(business_date::format(record.occurred_on))
                        .bind(recorded_at)
                        .execute(&mut **tx)
                        .await?
                        .rows_affected();
                }
                Ok(written)
            }
        }
    }

    /// The stored records of these ids, by id, as this transaction sees them.
    async fn usage_by_id(
        &mut self,
        ids: &BTreeSet<&str>,
    ) -> Result<BTreeMap<String, UsageRecord>, StoreError> {
        let rows: Vec<RecordRow> = on_transaction!(self, |tx, dialect| {
            sqlx::query_as(&format!(
                "SELECT {RECORD_COLUMNS} FROM usage_records WHERE id IN ({})",
                json_texts(dialect)
            ))
            .bind(json_array(ids.iter().copied()))
            .fetch_all(&mut **tx)
            .await?
        });
        rows.into_iter()
            .map(|row| record_of(row).map(|record| (record.id.clone(), record)))
            .collect()
    }
}

impl LedgerEventRepository {
    /// Records a batch of usage records in one transaction (BILLING.md 3), with the
    /// request's Idempotency-Key and first answer when `idempotency` gives one for what
    /// was recorded. A record whose id is stored with the same content is a duplicate;
    /// any id stored (or repeated in the batch) with other content refuses the batch
    /// ([`UsageInsertError::Conflicts`], every such record listed): all or nothing.
    pub async fn insert_usage(
        &self,
        records: &[UsageRecord],
        recorded_at: &str,
        idempotency: impl FnOnce(&UsageInsertion) -> Option<IdempotencyRecord>,
    ) -> Result<UsageInsertion, UsageInsertError> {
        let mut tx = Transaction::begin(&self.backend)
            .await
            .map_err(StoreError::from)?;
        let accepted = tx
            .insert_usage(records, recorded_at)
            .await
            .map_err(StoreError::from)?;
        let ids: BTreeSet<&str> = records.iter().map(|r| r.id.as_str()).collect();
        let stored = tx.usage_by_id(&ids).await?;
        let mut conflicts = Vec::new();
        for (index, record) in records.iter().enumerate() {
            match stored.get(&record.id) {
                Some(stored) if stored == record => {}
                Some(stored) => conflicts.push(UsageConflict {
                    index,
                    stored: stored.clone(),
                }),
                None => {
                    return Err(StoreError::Corrupt(format!(
                        "usage record `{}` was neither written nor found",
                        record.id
                    ))
                    .into())
                }
            }
        }
        if !conflicts.is_empty() {
            // Dropping the transaction rolls it back: nothing of the batch is written.
            return Err(UsageInsertError::Conflicts(conflicts));
        }
        let records_count = u64::try_from(records.len()).unwrap_or(u64::MAX);
        let insertion = UsageInsertion {
            accepted,
            duplicates: records_count.saturating_sub(accepted),
        };
        if let Some(key) = idempotency(&insertion) {
            tx.store_idempotency(&key).await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        Ok(insertion)
    }

    /// The stored records of these ids (any participant), by id.
    pub async fn usage_records_by_id(
        &self,
        ids: &BTreeSet<&str>,
    ) -> Result<BTreeMap<String, UsageRecord>, StoreError> {
        let rows: Vec<RecordRow> = on_pool!(&*self.backend, |pool, dialect| {
            sqlx::query_as(&format!(
                "SELECT {RECORD_COLUMNS} FROM usage_records WHERE id IN ({})",
                json_texts(dialect)
            ))
            .bind(json_array(ids.iter().copied()))
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|row| record_of(row).map(|record| (record.id.clone(), record)))
            .collect()
    }

    /// Which of these participants have an agreement registered in the store (one
    /// query, whatever the number of ids).
    pub async fn registered_participants(
        &self,
        ids: &BTreeSet<&str>,
    ) -> Result<BTreeSet<String>, StoreError> {
        let found: Vec<String> = on_pool!(&*self.backend, |pool, dialect| {
            sqlx::query_scalar(&format!(
                "SELECT aggregate_id FROM events
                 WHERE aggregate_type = 'ParticipantAgreement' AND sequence = 1
                   AND aggregate_id IN ({})",
                json_texts(dialect)
            ))
            .bind(json_array(ids.iter().copied()))
            .fetch_all(pool)
            .await?
        });
        Ok(found.into_iter().collect())
    }

    /// A participant's usage that occurred from `from` to `to` (both included): the total
    /// quantity per metric.
    pub async fn usage_of(
        &self,
        participant: &ParticipantId,
        from: Date,
        to: Date,
    ) -> Result<BTreeMap<MetricName, i64>, StoreError> {
        let rows: Vec<(String, i64)> = on_pool!(&*self.backend, |pool, _dialect| {
            sqlx::query_as(
                "SELECT metric, CAST(SUM(quantity) AS bigint) FROM usage_records
                 WHERE participant_id = $1 AND occurred_on >= $2 AND occurred_on <= $3
                 GROUP BY metric ORDER BY metric",
            )
            .bind(participant.as_str())
            .bind(business_date::format(from))
            .bind(business_date::format(to))
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|(metric, quantity)| {
                MetricName::parse(&metric)
                    .map(|metric| (metric, quantity))
                    .map_err(|e| StoreError::Corrupt(format!("a usage record's metric: {e}")))
            })
            .collect()
    }

    /// A participant's records in a usage invoice's window (BILLING.md 3), in position
    /// order: what the billing run counts, late reports of earlier months included.
    pub async fn usage_records(
        &self,
        participant: &ParticipantId,
        window: &UsageWindow,
    ) -> Result<Vec<StoredUsageRecord>, StoreError> {
        let rows: Vec<WindowRow> = on_pool!(&*self.backend, |pool, _dialect| {
            window.query(participant).fetch_all(pool).await?
        });
        rows.into_iter().map(window_record).collect()
    }

    /// [`Self::usage_records`] on the command's connection (the command loop reads them
    /// with the agreement it decides on).
    pub async fn usage_records_on(
        &self,
        connection: &mut CommandConnection,
        participant: &ParticipantId,
        window: &UsageWindow,
    ) -> Result<Vec<StoredUsageRecord>, StoreError> {
        let rows: Vec<WindowRow> = on_connection!(connection, |connection, _dialect| {
            window
                .query(participant)
                .fetch_all(&mut **connection)
                .await?
        });
        rows.into_iter().map(window_record).collect()
    }

    /// The position of the latest record (0 when there is none). Every record at a
    /// position up to it is committed, and none will be added there later.
    pub async fn last_usage_position(&self) -> Result<i64, StoreError> {
        on_pool!(&*self.backend, |pool, _dialect| {
            Ok(
                sqlx::query_scalar("SELECT COALESCE(MAX(position), 0) FROM usage_records")
                    .fetch_one(pool)
                    .await?,
            )
        })
    }

    /// Every usage invoice recorded (BILLING.md 3), in participant and sequence order:
    /// the agreement, the event's sequence and its payload. What `verify` recounts.
    pub async fn usage_invoices(
        &self,
    ) -> Result<Vec<(String, i64, serde_json::Value)>, StoreError> {
        let mut found = Vec::new();
        on_pool!(&*self.backend, |pool, _dialect| {
            let mut rows = sqlx::query_as::<_, (String, i64, serde_json::Value)>(
                "SELECT aggregate_id, sequence, payload FROM events
                 WHERE aggregate_type = 'ParticipantAgreement' AND event_type = 'InvoiceIssued'
                 ORDER BY aggregate_id, sequence",
            )
            .fetch(pool);
            while let Some(row) = futures::TryStreamExt::try_next(&mut rows).await? {
                if usage_through_of(&row.2).is_some() {
                    found.push(row);
                }
            }
        });
        Ok(found)
    }

    /// Hands every stored usage record to `visit` as its row holds it, in position
    /// order (streamed: memory holds one record): one participant's with `participant`,
    /// only those up to `through` with it. What an export writes.
    pub async fn for_each_usage_record<E: From<StoreError>>(
        &self,
        participant: Option<&str>,
        through: Option<i64>,
        mut visit: impl FnMut(UsageRow) -> Result<(), E>,
    ) -> Result<(), E> {
        on_pool!(&*self.backend, |pool, _dialect| {
            let mut rows = sqlx::query_as::<_, UsageRow>(
                "SELECT position, id, participant_id, metric, quantity, occurred_on, recorded_at
                 FROM usage_records
                 WHERE ($1 IS NULL OR participant_id = $1) AND ($2 IS NULL OR position <= $2)
                 ORDER BY position",
            )
            .bind(participant)
            .bind(through)
            .fetch(pool);
            while let Some(row) = futures::TryStreamExt::try_next(&mut rows)
                .await
                .map_err(StoreError::from)?
            {
                visit(row)?;
            }
        });
        Ok(())
    }

    /// How many usage records are stored.
    pub async fn count_usage_records(&self) -> Result<i64, StoreError> {
        on_pool!(&*self.backend, |pool, _dialect| {
            Ok(sqlx::query_scalar("SELECT COUNT(*) FROM usage_records")
                .fetch_one(pool)
                .await?)
        })
    }
}
