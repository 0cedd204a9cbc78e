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

    /// Stores the run's report.
    pub async fn finish_billing_run(&self, period: &str, report: &Value) -> Result<(), StoreError> {
        on_pool!(&*self.backend, |pool, dialect| {
            let now = dialect.pick("now()", "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')");
            sqlx::query(&format!(
                "UPDATE billing_runs SET finished_at = {now}, report = $2 WHERE period = $1"
            ))
            .bind(period)
            .bind(report)
            .execute(pool)
            .await?;
        });
        Ok(())
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
