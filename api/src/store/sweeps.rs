//! The log of dunning sweeps (`sweeps`): started, finished, and the latest date.

use super::*;

impl LedgerEventRepository {
    /// The date of the latest sweep that started, if any (`YYYY-MM-DD`).
    pub async fn latest_sweep_date(&self) -> Result<Option<String>, StoreError> {
        const QUERY: &str = "SELECT MAX(as_of) FROM sweeps";
        Ok(match &*self.backend {
            Backend::Postgres { pool, .. } => sqlx::query_scalar(QUERY).fetch_one(pool).await?,
            Backend::Sqlite { pool, .. } => sqlx::query_scalar(QUERY).fetch_one(pool).await?,
        })
    }

    /// Records that a sweep started.
    pub async fn start_sweep(&self, id: &str, as_of: &str) -> Result<(), StoreError> {
        match &*self.backend {
            Backend::Postgres { pool, .. } => {
                sqlx::query("INSERT INTO sweeps (id, as_of) VALUES ($1, $2)")
                    .bind(id)
                    .bind(as_of)
                    .execute(pool)
                    .await?;
            }
            Backend::Sqlite { pool, .. } => {
                sqlx::query("INSERT INTO sweeps (id, as_of) VALUES (?, ?)")
                    .bind(id)
                    .bind(as_of)
                    .execute(pool)
                    .await?;
            }
        }
        Ok(())
    }

    /// Records that a sweep finished, with what it did.
    pub async fn finish_sweep(&self, id: &str, summary: &Value) -> Result<(), StoreError> {
        match &*self.backend {
            Backend::Postgres { pool, .. } => {
                sqlx::query("UPDATE sweeps SET finished_at = now(), summary = $2 WHERE id = $1")
                    .bind(id)
                    .bind(summary)
                    .execute(pool)
                    .await?;
            }
            Backend::Sqlite { pool, .. } => {
                sqlx::query(
                    "UPDATE sweeps SET finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), summary = ? WHERE id = ?",
                )
                .bind(sqlx::types::Json(summary))
                .bind(id)
                .execute(pool)
                .await?;
            }
        }
        Ok(())
    }
}
