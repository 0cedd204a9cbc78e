//! The webhooks' tables (INTEGRATION.md 1): `webhooks` (the operator's endpoints),
//! `webhook_deliveries` (every attempt, pruned to the newest of each endpoint) and
//! `leases` (which server runs a job shared by every server on the store). What they
//! mean and the delivery itself are `api::application::webhooks`; this is their SQL.
//!
//! Times are written as RFC 3339 text in UTC to the millisecond (cast to timestamptz on
//! PostgreSQL, kept as text on SQLite) and read back the same way.

use super::*;

/// PostgreSQL's `to_char` format of an RFC 3339 time to the millisecond.
const TO_THE_MILLISECOND: &str = "YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"";

/// A webhook endpoint as its table holds it (times RFC 3339, UTC).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct WebhookRow {
    pub id: String,
    pub url: String,
    /// A JSON array of event type names, or `["*"]`.
    pub event_types: Value,
    pub secret: String,
    pub created_at: String,
    /// When deliveries stopped at `parked_position` for good (until resumed).
    pub parked_at: Option<String>,
    pub parked_position: Option<i64>,
}

/// One attempt to deliver one event to one endpoint, as its log holds it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct DeliveryRow {
    pub webhook_id: String,
    pub position: i64,
    pub attempt: i32,
    pub attempted_at: String,
    pub first_attempted_at: String,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    /// `delivered`, `failed` or `parked`.
    pub outcome: String,
    pub next_attempt_at: Option<String>,
}

/// A time bound as text, cast where the column is a timestamptz.
fn time_parameter(dialect: Dialect, number: u8) -> String {
    match dialect {
        Dialect::Postgres => format!("${number}::timestamptz"),
        Dialect::Sqlite => format!("${number}"),
    }
}

impl LedgerEventRepository {
    /// Records a new endpoint.
    pub async fn insert_webhook(
        &self,
        id: &str,
        url: &str,
        event_types: &Value,
        secret: &str,
    ) -> Result<(), StoreError> {
        on_pool!(&*self.backend, |pool, _dialect| {
            sqlx::query(
                "INSERT INTO webhooks (id, url, event_types, secret) VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(url)
            .bind(event_types)
            .bind(secret)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    fn webhook_select(dialect: Dialect) -> String {
        format!(
            "SELECT id, url, event_types, secret, {} AS created_at, {} AS parked_at,
                    parked_position
             FROM webhooks WHERE deleted_at IS NULL",
            dialect.utc_text("created_at", TO_THE_MILLISECOND),
            dialect.utc_text("parked_at", TO_THE_MILLISECOND),
        )
    }

    /// Every endpoint not deleted, oldest first.
    pub async fn webhooks(&self) -> Result<Vec<WebhookRow>, StoreError> {
        Ok(on_pool!(&*self.backend, |pool, dialect| {
            sqlx::query_as(&format!(
                "{} ORDER BY created_at, id",
                Self::webhook_select(dialect)
            ))
            .fetch_all(pool)
            .await?
        }))
    }

    /// The endpoint `id`, unless it does not exist or was deleted.
    pub async fn webhook(&self, id: &str) -> Result<Option<WebhookRow>, StoreError> {
        Ok(on_pool!(&*self.backend, |pool, dialect| {
            sqlx::query_as(&format!("{} AND id = $1", Self::webhook_select(dialect)))
                .bind(id)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Deletes the endpoint now (its row and log are kept); `false` when there was none.
    pub async fn delete_webhook(&self, id: &str) -> Result<bool, StoreError> {
        let deleted = on_pool!(&*self.backend, |pool, dialect| {
            let now = dialect.pick("now()", "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')");
            sqlx::query(&format!(
                "UPDATE webhooks SET deleted_at = {now} WHERE id = $1 AND deleted_at IS NULL"
            ))
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(deleted == 1)
    }

    /// Parks the endpoint at `position` (at `at`, RFC 3339).
    pub async fn park_webhook(&self, id: &str, position: i64, at: &str) -> Result<(), StoreError> {
        on_pool!(&*self.backend, |pool, dialect| {
            sqlx::query(&format!(
                "UPDATE webhooks SET parked_at = {}, parked_position = $2
                 WHERE id = $1 AND deleted_at IS NULL",
                time_parameter(dialect, 3)
            ))
            .bind(id)
            .bind(position)
            .bind(at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Resumes a parked endpoint; `false` when there is no such endpoint (not deleted).
    pub async fn resume_webhook(&self, id: &str) -> Result<bool, StoreError> {
        let resumed = on_pool!(&*self.backend, |pool, _dialect| {
            sqlx::query(
                "UPDATE webhooks SET parked_at = NULL, parked_position = NULL
                 WHERE id = $1 AND deleted_at IS NULL",
            )
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(resumed == 1)
    }

    /// Appends an attempt to the log, then forgets the endpoint's rows older than its
    /// newest `keep`.
    pub async fn record_delivery(&self, row: &DeliveryRow, keep: i64) -> Result<(), StoreError> {
        assert!(keep >= 1, "the log keeps at least the last attempt");
        on_pool!(&*self.backend, |pool, dialect| {
            sqlx::query(&format!(
                "INSERT INTO webhook_deliveries
                    (webhook_id, position, attempt, attempted_at, first_attempted_at,
                     status_code, error, outcome, next_attempt_at)
                 VALUES ($1, $2, $3, {}, {}, $6, $7, $8, {})",
                time_parameter(dialect, 4),
                time_parameter(dialect, 5),
                time_parameter(dialect, 9),
            ))
            .bind(&row.webhook_id)
            .bind(row.position)
            .bind(row.attempt)
            .bind(&row.attempted_at)
            .bind(&row.first_attempted_at)
            .bind(row.status_code)
            .bind(&row.error)
            .bind(&row.outcome)
            .bind(&row.next_attempt_at)
            .execute(pool)
            .await?;
            sqlx::query(
                "DELETE FROM webhook_deliveries WHERE webhook_id = $1 AND id <= (
                     SELECT id FROM webhook_deliveries WHERE webhook_id = $1
                     ORDER BY id DESC LIMIT 1 OFFSET $2)",
            )
            .bind(&row.webhook_id)
            .bind(keep)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The endpoint's newest `limit` attempts, newest first.
    pub async fn deliveries(&self, id: &str, limit: i64) -> Result<Vec<DeliveryRow>, StoreError> {
        Ok(on_pool!(&*self.backend, |pool, dialect| {
            sqlx::query_as(&format!(
                "SELECT webhook_id, position, attempt, {} AS attempted_at,
                        {} AS first_attempted_at, status_code, error, outcome,
                        {} AS next_attempt_at
                 FROM webhook_deliveries WHERE webhook_id = $1
                 ORDER BY id DESC LIMIT $2",
                dialect.utc_text("attempted_at", TO_THE_MILLISECOND),
                dialect.utc_text("first_attempted_at", TO_THE_MILLISECOND),
                dialect.utc_text("next_attempt_at", TO_THE_MILLISECOND),
            ))
            .bind(id)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Takes or renews the lease `name` for `holder` for `duration_ms` from now (the
    /// database's clock, shared by every server): a compare-and-set that succeeds when
    /// nobody holds it, `holder` already does, or the holder's lease has expired.
    /// Whether `holder` holds it now.
    pub async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        duration_ms: u64,
    ) -> Result<bool, StoreError> {
        let duration_ms = i64::try_from(duration_ms).expect("a lease shorter than an age");
        let taken = match &*self.backend {
            Backend::Postgres { pool, .. } => sqlx::query(
                "INSERT INTO leases (name, holder, expires_at)
                 VALUES ($1, $2, clock_timestamp() + $3::bigint * interval '1 millisecond')
                 ON CONFLICT (name) DO UPDATE
                     SET holder = excluded.holder, expires_at = excluded.expires_at
                     WHERE leases.holder = excluded.holder
                        OR leases.expires_at < clock_timestamp()",
            )
            .bind(name)
            .bind(holder)
            .bind(duration_ms)
            .execute(pool)
            .await?
            .rows_affected(),
            Backend::Sqlite { pool, .. } => sqlx::query(
                "INSERT INTO leases (name, holder, expires_at)
                 VALUES ($1, $2, strftime('%Y-%m-%dT%H:%M:%fZ', 'now', $3))
                 ON CONFLICT (name) DO UPDATE
                     SET holder = excluded.holder, expires_at = excluded.expires_at
                     WHERE leases.holder = excluded.holder
                        OR leases.expires_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
            )
            .bind(name)
            .bind(holder)
            .bind(format!(
                "+{}.{:03} seconds",
                duration_ms / 1000,
                duration_ms % 1000
            ))
            .execute(pool)
            .await?
            .rows_affected(),
        };
        Ok(taken == 1)
    }

    /// Gives the lease `name` up, if `holder` holds it (a server stopping), so that
    /// another takes over at once rather than when it expires.
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        on_pool!(&*self.backend, |pool, _dialect| {
            sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
                .bind(name)
                .bind(holder)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The holder of the lease `name` while it has not expired.
    pub async fn lease_holder(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(on_pool!(&*self.backend, |pool, dialect| {
            let now = dialect.pick("clock_timestamp()", "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')");
            sqlx::query_scalar(&format!(
                "SELECT holder FROM leases WHERE name = $1 AND expires_at >= {now}"
            ))
            .bind(name)
            .fetch_optional(pool)
            .await?
        }))
    }
}
