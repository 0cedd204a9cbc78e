//! `edoc-ledger period close 2026-11` and `edoc-ledger period list` (BILLING.md 5.4):
//! closing a month from the command line, as `POST /v1/periods/{period}/close` does.

use clap::Subcommand;

use api::settings::{ServeSettings, StoreSettings};

use crate::{ReplayOutcome, RunResult};

#[derive(Debug, Subcommand)]
pub enum PeriodAction {
    /// Close a month (YYYY-MM): record its seal, the digest over every chain and the
    /// month's totals per currency. Refused when the month is not over, is already
    /// closed, or an earlier month with documents is still open.
    Close {
        /// The month, YYYY-MM.
        period: String,
        /// A note kept with the seal.
        #[arg(long)]
        note: Option<String>,
    },
    /// List the months from the first with a document, open or closed, with their seals.
    List,
}

pub async fn period(
    store: &StoreSettings,
    serve: &ServeSettings,
    action: PeriodAction,
) -> RunResult {
    let (repository, ledger) = crate::ledger_on_store(store, serve).await?;
    let outcome = match action {
        PeriodAction::Close { period, note } => {
            let closer = api::application::periods::Closer {
                actor: "edoc-ledger period close".to_owned(),
                request_id: format!("cli-{}", time::OffsetDateTime::now_utc().unix_timestamp()),
                note,
            };
            match api::application::periods::close_period(&ledger, &period, &closer).await {
                Ok(seal) => {
                    println!("{}", serde_json::to_string_pretty(&seal)?);
                    ReplayOutcome::Clean
                }
                Err(refused) => {
                    eprintln!("edoc-ledger: {refused}");
                    ReplayOutcome::Differences
                }
            }
        }
        PeriodAction::List => {
            let periods = api::application::periods::periods(&ledger, None).await?;
            println!("{}", serde_json::to_string_pretty(&periods)?);
            ReplayOutcome::Clean
        }
    };
    repository.close().await;
    Ok(outcome)
}
