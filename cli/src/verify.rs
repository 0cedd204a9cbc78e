//! `edoc-ledger digest` and `edoc-ledger verify`: the store's hash chains, their Merkle
//! root kept outside the database, and their verification with a progress bar.

use api::settings::StoreSettings;
use api::store::{LedgerEventRepository, StoreLocation};

use crate::{progress_bar, ReplayOutcome, RunResult};

pub async fn digest(store: &StoreSettings) -> RunResult {
    let location = StoreLocation::choose(store.database_url.as_deref(), &store.data_dir)?;
    let repository = LedgerEventRepository::connect(&location).await?;
    let digest =
        api::application::audit::take_digest(&repository, time::OffsetDateTime::now_utc()).await?;
    println!("{}", serde_json::to_string_pretty(&digest)?);
    repository.close().await;
    Ok(ReplayOutcome::Clean)
}

pub async fn verify(store: &StoreSettings, digest: Option<&std::path::Path>) -> RunResult {
    let location = StoreLocation::choose(store.database_url.as_deref(), &store.data_dir)?;
    let repository = LedgerEventRepository::connect(&location).await?;
    let kept: Option<api::application::audit::StoreDigest> = match digest {
        Some(path) => Some(serde_json::from_str(&std::fs::read_to_string(path)?)?),
        None => None,
    };
    let total = u64::try_from(repository.count_events().await?).unwrap_or(0);
    let bar = progress_bar(
        total,
        "verifying [{bar:40}] {pos}/{len} events ({per_sec}, {eta} left)",
    );
    let started = std::time::Instant::now();
    let report = api::application::audit::verify_store(&repository, kept.as_ref(), |done| {
        bar.set_position(done)
    })
    .await?;
    bar.finish_and_clear();
    let elapsed = started.elapsed();
    let rate = u128::from(report.events_checked) * 1_000_000 / elapsed.as_micros().max(1);
    println!(
        "checked {} events in {} streams (the agreements, the reference stream and the period stream) in {elapsed:.1?} ({rate} events/s){}",
        report.events_checked,
        report.streams_checked,
        if kept.is_some() {
            ", and the kept digest"
        } else {
            ""
        }
    );
    repository.close().await;
    println!(
        "checked {} closed months: each month's totals recomputed from the events (BILLING.md 5.4)",
        report.periods_checked
    );
    for differing in &report.periods_differing {
        println!("SEAL DIFFERS for {differing}");
    }
    println!(
        "checked {} usage invoices: each one's records recounted from the usage store and their SHA-256 digests recomputed (BILLING.md 3)",
        report.usage_invoices_checked
    );
    for differing in &report.usage_differing {
        println!("USAGE DIFFERS: {differing}");
    }
    match &report.first_broken {
        None if report.periods_differing.is_empty() && report.usage_differing.is_empty() => {
            println!("ok: no event was altered, removed or reordered, every sealed month adds up as sealed, and every usage invoice counts the records it recorded");
            Ok(ReplayOutcome::Clean)
        }
        None => Ok(ReplayOutcome::Differences),
        Some(broken) => {
            println!(
                "BROKEN at {} sequence {}: {}",
                broken.participant_id, broken.sequence, broken.what
            );
            Ok(ReplayOutcome::Differences)
        }
    }
}
