//! The log of billing runs (`billing_runs`, BILLING.md 4): a row per month, its latest
//! report. The invoices are events; a run interrupted midway is simply run again.

use super::*;

impl LedgerEventRepository {
    /// Records that a run for `period` started (a repeat counts one more run).
    pub async fn start_billing_run(&self, period: &str, issued_on: &str) -> Result<(), StoreError> {
        on_pool!(&*self.backend, |pool, _dialect| {
            sqlx::query(
                "INSERT INTO billing_runs (period, issued_on) VALUES ($1, $2)
                 ON CONFLICT (period) DO UPDATE SET runs = billing_runs.runs + 1, finished_at = NULL",
            )
            .bind(period)
            .bind(issued_on)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Stores the run's report, merged with the one stored (`merge` gets it): in one
    /// transaction that holds the month's row (PostgreSQL: `FOR UPDATE`; SQLite: the
    /// write lock `BEGIN IMMEDIATE` takes), so runs finishing together never lose each
    /// other's invoices.
    pub async fn finish_billing_run(
        &self,
        period: &str,
        merge: impl FnOnce(Option<Value>) -> Value,
    ) -> Result<(), StoreError> {
        let mut tx = Transaction::begin(&self.backend).await?;
        let stored: Option<Option<Value>> = on_transaction!(&mut tx, |tx, dialect| {
            sqlx::query_scalar(&format!(
                "SELECT report FROM billing_runs WHERE period = $1{}",
                dialect.pick(" FOR UPDATE", "")
            ))
            .bind(period)
            .fetch_optional(&mut **tx)
            .await?
        });
        let report = merge(stored.flatten());
        on_transaction!(&mut tx, |tx, dialect| {
            let now = dialect.pick("now()", "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')");
            sqlx::query(&format!(
                "UPDATE billing_runs SET finished_at = {now}, report = $2 WHERE period = $1"
            ))
            .bind(period)
            .bind(&report)
            .execute(&mut **tx)
            .await?;
        });
        tx.commit().await?;
        Ok(())
    }

    /// Whether a run for `period` (`YYYY-MM`) has finished and none is under way since.
    pub async fn billing_run_finished(&self, period: &str) -> Result<bool, StoreError> {
        on_pool!(&*self.backend, |pool, _dialect| {
            let found: Option<i32> = sqlx::query_scalar(
                "SELECT 1 FROM billing_runs WHERE period = $1 AND finished_at IS NOT NULL",
            )
            .bind(period)
            .fetch_optional(pool)
            .await?;
            Ok(found.is_some())
        })
    }

    /// The latest report of the run for `period`, if one finished.
    pub async fn billing_run_report(&self, period: &str) -> Result<Option<Value>, StoreError> {
        on_pool!(&*self.backend, |pool, _dialect| {
            let report: Option<Option<Value>> =
                sqlx::query_scalar("SELECT report FROM billing_runs WHERE period = $1")
                    .bind(period)
                    .fetch_optional(pool)
                    .await?;
            Ok(report.flatten())
        })
    }
}
