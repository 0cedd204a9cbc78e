//! Tamper evidence over the store (issue 5): digests of the store and its verification,
//! built on the pure hash chain of [`crate::hash_chain`] (re-exported here, where the
//! auditor's tools have always found it).

pub use crate::hash_chain::{
    canonical_json, chain, check_against_digest, event_hash, merkle_root, verify_stream,
    BrokenEvent, StoreDigest, StreamHead, VerifyReport, GENESIS, HASH_KEY, PREV_HASH_KEY,
};

/// Takes a digest of the store at `taken_at`: every chain's head and their Merkle root.
pub async fn take_digest(
    repository: &crate::store::LedgerEventRepository,
    taken_at: time::OffsetDateTime,
) -> Result<StoreDigest, crate::store::StoreError> {
    let (heads, events) = repository.chain_heads().await?;
    Ok(StoreDigest {
        root: merkle_root(&heads),
        streams: heads.len() as u64,
        events,
        taken_at: taken_at
            .to_offset(time::UtcOffset::UTC)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        heads,
    })
}

/// Recomputes every chain and, given a digest kept earlier, checks that each head it
/// recorded is still in place with the same hash. `progress` sees events checked.
pub async fn verify_store(
    repository: &crate::store::LedgerEventRepository,
    kept: Option<&StoreDigest>,
    progress: impl FnMut(u64),
) -> Result<VerifyReport, crate::store::StoreError> {
    let mut report = repository.verify_chains(progress).await?;
    // BILLING.md 5.4: every sealed month's totals, recomputed from the events.
    let periods = crate::application::periods::verify_periods(repository)
        .await
        .map_err(|e| match e {
            crate::application::periods::PeriodError::Store(e) => e,
            other => crate::store::StoreError::Corrupt(other.to_string()),
        })?;
    report.periods_checked = periods.periods_checked;
    report.periods_differing = periods
        .mismatches
        .iter()
        .map(|m| {
            format!(
                "{}: sealed {}, recomputed from the events {}",
                m.period,
                serde_json::to_string(&m.sealed).unwrap_or_default(),
                serde_json::to_string(&m.recomputed).unwrap_or_default()
            )
        })
        .collect();
    if !report.periods_differing.is_empty() {
        report.ok = false;
    }
    // BILLING.md 3: every usage invoice's records recounted, their digests recomputed.
    let usage = crate::application::usage::verify_usage(repository).await?;
    report.usage_invoices_checked = usage.invoices_checked;
    report.usage_differing = usage.differing;
    if !report.usage_differing.is_empty() {
        report.ok = false;
    }
    let Some(kept) = kept.filter(|_| report.ok) else {
        return Ok(report);
    };
    let mut hashes = std::collections::HashMap::new();
    for head in &kept.heads {
        let hash = repository
            .event_hash_at(&head.participant_id, head.sequence)
            .await?;
        hashes.insert((head.participant_id.clone(), head.sequence), hash);
    }
    if let Err(broken) = check_against_digest(kept, |id, sequence| {
        hashes.get(&(id.to_owned(), sequence)).cloned().flatten()
    }) {
        report.first_broken = Some(broken);
        report.ok = false;
    }
    Ok(report)
}
