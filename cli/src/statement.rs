//! `edoc-ledger statement import FILE` (INTEGRATION.md 2): a bank statement file
//! (camt.053 or the 1C exchange) imported on the store directly, as `POST
//! /v1/bank-statements` does, with a progress bar over its lines and the same summary.
//! The same file again records nothing. Exit status 2 when the file is refused (nothing
//! recorded).

use clap::Subcommand;

use api::application::commands::CommandContext;
use api::application::statements::import;
use api::settings::{ServeSettings, StoreSettings};

use crate::{progress_bar, ReplayOutcome, RunResult};

#[derive(Debug, Subcommand)]
pub enum StatementAction {
    /// Import a bank statement: each credit line matched to an agreement by the payer's
    /// BIN/IIN and recorded as a payment; unmatched lines kept for billing staff.
    Import {
        /// The statement file (camt.053 XML, or 1C exchange text), at most 32 MiB.
        file: std::path::PathBuf,
    },
}

pub async fn statement(
    store: &StoreSettings,
    serve: &ServeSettings,
    action: StatementAction,
) -> RunResult {
    let StatementAction::Import { file } = action;
    let size = std::fs::metadata(&file)
        .map_err(|e| format!("{}: {e}", file.display()))?
        .len();
    if size > api::application::statements::STATEMENT_BYTES_MAX as u64 {
        return Err(format!(
            "{}: {size} bytes, over the {} bytes (32 MiB) a statement may have; nothing was recorded",
            file.display(),
            api::application::statements::STATEMENT_BYTES_MAX
        )
        .into());
    }
    let bytes = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    let (repository, ledger) = crate::ledger_on_store(store, serve).await?;
    let ledger = std::sync::Arc::new(ledger);
    let context = CommandContext {
        actor: "edoc-ledger statement import".to_owned(),
        request_id: format!("cli-{}", time::OffsetDateTime::now_utc().unix_timestamp()),
        sweep: None,
        idempotency: None,
    };
    let bar = progress_bar(
        0,
        "importing [{bar:40}] {pos}/{len} lines ({per_sec}, {eta} left)",
    );
    let started = std::time::Instant::now();
    let imported = import::import(&ledger, &bytes, &context, |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })
    .await;
    bar.finish_and_clear();
    let imported = match imported {
        Ok(imported) => imported,
        Err(error) => {
            repository.close().await;
            let consequence = match error {
                import::StatementImportError::Invalid(_) => "nothing was recorded",
                _ => "the import may be part done: run the same command again to complete it (nothing is recorded twice)",
            };
            return Err(format!("{}: {error}; {consequence}", file.display()).into());
        }
    };
    let summary = &imported.summary;
    let totals = &summary.totals;
    println!(
        "bank statement {} ({}) in {:.1?}: {} lines, {} matched, {} duplicates, {} unmatched, {} not credits",
        summary.id,
        if imported.created {
            "imported"
        } else {
            "loaded before: nothing recorded"
        },
        started.elapsed(),
        summary.lines,
        summary.matched,
        summary.duplicates,
        summary.unmatched,
        summary.not_a_credit,
    );
    println!(
        "  credits {} ({}): matched {}, unmatched {}, duplicates {}, reversals {}; debits {} ({})",
        totals.credits,
        totals.credits_sum,
        totals.matched_sum,
        totals.unmatched_sum,
        totals.duplicate_sum,
        totals.reversed_credits_sum,
        totals.debits,
        totals.debits_sum,
    );
    repository.close().await;
    Ok(ReplayOutcome::Clean)
}
