//! `edoc-ledger bill`: the monthly billing run (BILLING.md 4) with a progress bar and a
//! summary. Running it again for the same month issues nothing new; a run interrupted
//! midway, run again, completes the rest.

use api::settings::{ServeSettings, StoreSettings};
use events::CalendarMonth;

use crate::{progress_bar, ReplayOutcome, RunResult};

pub async fn bill(
    store: &StoreSettings,
    serve: &ServeSettings,
    period: CalendarMonth,
    issued_on: Option<time::Date>,
) -> RunResult {
    let (repository, ledger) = crate::ledger_on_store(store, serve).await?;
    let ledger = std::sync::Arc::new(ledger);
    let issued_on = issued_on.unwrap_or_else(|| ledger.today());
    let bar = progress_bar(
        0,
        "billing [{bar:40}] {pos}/{len} agreements ({per_sec}, {eta} left)",
    );
    let started = std::time::Instant::now();
    let report = api::application::billing::run(
        &ledger,
        "edoc-ledger bill",
        period,
        issued_on,
        |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        },
    )
    .await?;
    bar.finish_and_clear();
    let of_kind = |kind: events::InvoiceKind| {
        report
            .issued
            .iter()
            .filter(|line| line.kind == kind)
            .count()
    };
    println!(
        "billing run for {period}, issued on {issued_on}, over {} agreements in {:.1?}: {} invoices issued ({} subscription for {period}, {} usage for {}), {} already invoiced, {} skipped, {} refused; {} within the included usage",
        report.agreements,
        started.elapsed(),
        report.issued.len(),
        of_kind(events::InvoiceKind::Subscription),
        of_kind(events::InvoiceKind::Usage),
        report.usage_month,
        report.already_invoiced.len(),
        report.skipped.len(),
        report.refused.len(),
        report.usage_within_included,
    );
    for total in &report.totals {
        println!(
            "  {} {}: {} invoices",
            total.total, total.currency, total.invoices
        );
    }
    for skipped in &report.skipped {
        println!(
            "  skipped {} ({}): {}",
            skipped.participant_id, skipped.kind, skipped.reason
        );
    }
    for refused in &report.refused {
        println!(
            "  refused {} ({}): {}",
            refused.participant_id, refused.kind, refused.reason
        );
    }
    repository.close().await;
    Ok(ReplayOutcome::Clean)
}
