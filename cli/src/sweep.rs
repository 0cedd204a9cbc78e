//! `edoc-ledger sweep`: the dunning sweep as of a date, with a progress bar and a summary.

use api::settings::{ServeSettings, StoreSettings};

use crate::{progress_bar, ReplayOutcome, RunResult};

pub async fn sweep(
    store: &StoreSettings,
    serve: &ServeSettings,
    as_of: Option<time::Date>,
    charge_fines: bool,
) -> RunResult {
    // The tables the sweep applies are the store's reference stream, as a server's are.
    let (repository, ledger) = crate::ledger_on_store(store, serve).await?;
    let as_of = as_of.unwrap_or_else(|| ledger.today());
    let bar = progress_bar(
        0,
        "sweeping [{bar:40}] {pos}/{len} agreements ({per_sec}, {eta} left)",
    );
    let started = std::time::Instant::now();
    let report = api::application::sweep::run(
        &ledger,
        "edoc-ledger sweep",
        as_of,
        charge_fines,
        |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        },
    )
    .await?;
    bar.finish_and_clear();
    println!(
        "sweep {} as of {} over {} agreements in {:.1?}: {} suspended, {} blocked, {} reinstated, {} unblocked, {} terminated, {} with a fine charged, {} charged on settlement (§10.3), {} skipped",
        report.sweep_id,
        as_of,
        report.agreements,
        started.elapsed(),
        report.suspended.len(),
        report.blocked.len(),
        report.reinstated.len(),
        report.unblocked.len(),
        report.terminated.len(),
        report.fines_charged.len(),
        report.settlement_charged.len(),
        report.skipped.len(),
    );
    for skipped in &report.skipped {
        println!("  skipped {}: {}", skipped.participant_id, skipped.reason);
    }
    repository.close().await;
    Ok(ReplayOutcome::Clean)
}
