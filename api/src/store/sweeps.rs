//! The log of dunning sweeps (`sweeps`): started, finished, and the latest date.

use super::*;

impl LedgerEventRepository {
    /// The date of the latest sweep that started, if any (`YYYY-MM-DD`).
    pub async fn latest_sweep_date(&self) -> Result<Option<String>, StoreError> {
        on_pool!(&*self.backend, |pool, _dialect| {
            Ok(sqlx::query_scalar("SELECT MAX(as_of) FROM sweeps")
                .fetch_one(pool)
                .await?)
        })
    }

    /// Whether a sweep as of `as_of` (`YYYY-MM-DD`) has finished.
    pub async fn sweep_finished_on(&self, as_of: &str) -> Result<bool, StoreError> {
        on_pool!(&*self.backend, |pool, _dialect| {
            let found: Option<i32> = sqlx::query_scalar(
                "SELECT 1 FROM sweeps WHERE as_of = $1 AND finished_at IS NOT NULL LIMIT 1",
            )
            .bind(as_of)
            .fetch_optional(pool)
            .await?;
            Ok(found.is_some())
        })
    }

    /// Records that a sweep started.
    pub async fn start_sweep(&self, id: &str, as_of: &str) -> Result<(), StoreError> {
        on_pool!(&*self.backend, |pool, _dialect| {
            sqlx::query("INSERT INTO sweeps (id, as_of) VALUES ($1, $2)")
                .bind(id)
                .bind(as_of)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Records that a sweep finished, with what it did.
    pub async fn finish_sweep(&self, id: &str, summary: &Value) -> Result<(), StoreError> {
        on_pool!(&*self.backend, |pool, dialect| {
            let now = dialect.pick("now()", "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')");
            sqlx::query(&format!(
                "UPDATE sweeps SET finished_at = {now}, summary = $2 WHERE id = $1"
            ))
            .bind(id)
            .bind(summary)
            .execute(pool)
            .await?;
        });
        Ok(())
    }
}
