//! `GET /v1/audit/verify` (API.md): recompute every agreement's hash chain.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use super::error::ApiError;
use super::json::StrictJson;
use super::AppState;
use crate::audit::{StoreDigest, VerifyReport};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/audit/verify", get(verify))
        .route("/v1/audit/digest", get(digest))
        .route(
            "/v1/audit/digest/verify",
            axum::routing::post(verify_digest),
        )
}

/// Recomputes every event's hash from its content and the previous hash; reports the
/// first broken event (altered, missing, reordered or unchained).
#[utoipa::path(get, path = "/v1/audit/verify", tag = "audit",
    responses((status = 200, description = "Every chain checked", body = VerifyReport)))]
pub async fn verify(State(state): State<AppState>) -> Result<Json<VerifyReport>, ApiError> {
    let report = state
        .ledger
        .repository()
        .verify_chains(|_| {})
        .await
        .map_err(|e| ApiError::Ledger(e.into()))?;
    Ok(Json(report))
}

/// Takes a digest of the store now: the Merkle root over every chain's head, with the
/// heads. Keep it outside the database.
#[utoipa::path(get, path = "/v1/audit/digest", tag = "audit",
    responses((status = 200, description = "The store's digest now", body = StoreDigest)))]
pub async fn digest(State(state): State<AppState>) -> Result<Json<StoreDigest>, ApiError> {
    Ok(Json(take_digest(&state.ledger).await?))
}

pub async fn take_digest(ledger: &crate::ledger::Ledger) -> Result<StoreDigest, ApiError> {
    let (heads, events) = ledger
        .repository()
        .chain_heads()
        .await
        .map_err(|e| ApiError::Ledger(e.into()))?;
    let taken_at = ledger
        .now_in_kazakhstan()
        .to_offset(time::UtcOffset::UTC)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    Ok(StoreDigest {
        root: crate::audit::merkle_root(&heads),
        streams: heads.len() as u64,
        events,
        taken_at,
        heads,
    })
}

/// Verifies the store against a digest kept earlier: every chain, and every head the
/// digest recorded still in place with the same hash.
#[utoipa::path(post, path = "/v1/audit/digest/verify", tag = "audit", request_body = StoreDigest,
    responses((status = 200, description = "The store checked against the digest", body = VerifyReport)))]
pub async fn verify_digest(
    State(state): State<AppState>,
    StrictJson(kept): StrictJson<StoreDigest>,
) -> Result<Json<VerifyReport>, ApiError> {
    let repository = state.ledger.repository();
    let mut report = repository
        .verify_chains(|_| {})
        .await
        .map_err(|e| ApiError::Ledger(e.into()))?;
    if report.first_broken.is_none() {
        let mut hashes = std::collections::HashMap::new();
        for head in &kept.heads {
            let hash = repository
                .event_hash_at(&head.participant_id, head.sequence)
                .await
                .map_err(|e| ApiError::Ledger(e.into()))?;
            hashes.insert((head.participant_id.clone(), head.sequence), hash);
        }
        if let Err(broken) = crate::audit::check_against_digest(&kept, |id, sequence| {
            hashes.get(&(id.to_owned(), sequence)).cloned().flatten()
        }) {
            report.first_broken = Some(broken);
            report.ok = false;
        }
    }
    Ok(Json(report))
}
