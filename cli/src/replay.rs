//! `edoc-ledger replay [--check]`: every stored projection rebuilt from the events, or
//! compared with a rebuild, with a progress bar.

use api::settings::StoreSettings;
use api::store::{LedgerEventRepository, StoreLocation};

use crate::{progress_bar, ReplayOutcome, RunResult};

pub async fn replay(store: &StoreSettings, check: bool) -> RunResult {
    let location = StoreLocation::choose(store.database_url.as_deref(), &store.data_dir)?;
    let repository = LedgerEventRepository::connect(&location).await?;
    let total = u64::try_from(repository.count_events().await?).unwrap_or(0);
    let bar = progress_bar(
        total,
        "{msg} [{bar:40}] {pos}/{len} events ({per_sec}, {eta} left)",
    );
    bar.set_message(if check { "checking" } else { "replaying" });
    let progress = |done: u64| bar.set_position(done);
    let outcome = if check {
        let report = api::application::replay::check(&repository, progress).await?;
        bar.finish_and_clear();
        println!("replayed {} ({})", report.rebuild, location.describe());
        for difference in &report.differences {
            println!("  {difference}");
        }
        if report.is_clean() {
            println!(
                "no difference: the {} stored projections equal a replay of the events",
                report.rows_compared
            );
            ReplayOutcome::Clean
        } else {
            println!(
                "{} difference(s) in {} of {} projections{}",
                report.differences_total,
                report.rows_differing,
                report.rows_compared,
                if report.differences_total > report.differences.len() as u64 {
                    " (first ones listed)"
                } else {
                    ""
                }
            );
            ReplayOutcome::Differences
        }
    } else {
        let report =
            api::application::replay::rebuild(&repository, api::store::LEDGERS_TABLE, progress)
                .await?;
        bar.finish_and_clear();
        println!("replayed {report} ({})", location.describe());
        ReplayOutcome::Clean
    };
    repository.close().await;
    Ok(outcome)
}
