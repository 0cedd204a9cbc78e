//! Idempotency-Keys and the first answer stored under each (issue 6).

use super::*;

/// A command's Idempotency-Key with its first answer (API.md "Retries are safe").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub key: String,
    /// SHA-256 (hex) of the method, path and body of the request that used the key.
    pub fingerprint: String,
    pub status: u16,
    pub body: String,
    /// When it is stored (Unix seconds, the ledger's clock): a key expired by then is
    /// forgotten and taken anew.
    pub now: i64,
    /// Unix seconds after which the key may be used again.
    pub expires_at: i64,
}

impl Transaction<'_> {
    /// Stores a command's Idempotency-Key with its first answer. A key taken meanwhile by
    /// a concurrent request is a conflict.
    pub(super) async fn store_idempotency(
        &mut self,
        record: &IdempotencyRecord,
    ) -> Result<(), AppendError> {
        on_transaction!(self, |tx, dialect| {
            // An expired key is forgotten, then taken anew.
            sqlx::query("DELETE FROM idempotency_keys WHERE key = $1 AND expires_at <= $2")
                .bind(&record.key)
                .bind(record.now)
                .execute(&mut **tx)
                .await
                .map_err(append_error)?;
            // PostgreSQL's column is a smallint.
            let status = match dialect {
                Dialect::Postgres => i64::from(i16::try_from(record.status).unwrap_or(500)),
                Dialect::Sqlite => i64::from(record.status),
            };
            sqlx::query(
                "INSERT INTO idempotency_keys (key, fingerprint, status, body, expires_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&record.key)
            .bind(&record.fingerprint)
            .bind(status)
            .bind(&record.body)
            .bind(record.expires_at)
            .execute(&mut **tx)
            .await
            .map_err(idempotency_error)?;
        });
        Ok(())
    }
}

pub(super) fn idempotency_error(error: sqlx::Error) -> AppendError {
    match append_error(error) {
        AppendError::Conflict(_) => AppendError::Conflict("the idempotency key"),
        other => other,
    }
}

impl LedgerEventRepository {
    /// The answer stored under an Idempotency-Key that has not expired at `now` (Unix
    /// seconds): its request fingerprint, status and body.
    pub async fn idempotent_answer(
        &self,
        key: &str,
        now: i64,
    ) -> Result<Option<(String, u16, String)>, StoreError> {
        let row: Option<(String, i64, String)> = on_pool!(&*self.backend, |pool, _dialect| {
            sqlx::query_as(
                "SELECT fingerprint, CAST(status AS bigint), body FROM idempotency_keys WHERE key = $1 AND expires_at > $2",
            )
            .bind(key)
            .bind(now)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(|(fingerprint, status, body)| {
            (fingerprint, u16::try_from(status).unwrap_or(500), body)
        }))
    }

    /// Forgets the keys expired at `now` (Unix seconds); returns how many.
    pub async fn purge_idempotency_keys(&self, now: i64) -> Result<u64, StoreError> {
        on_pool!(&*self.backend, |pool, _dialect| {
            Ok(
                sqlx::query("DELETE FROM idempotency_keys WHERE expires_at <= $1")
                    .bind(now)
                    .execute(pool)
                    .await?
                    .rows_affected(),
            )
        })
    }
}
