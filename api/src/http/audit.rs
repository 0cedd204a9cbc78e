//! `GET /v1/audit/verify` (API.md): recompute every agreement's hash chain.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use super::error::ApiError;
use super::extract::StrictJson;
use super::AppState;
use crate::application::audit::{StoreDigest, VerifyReport};

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
    let report = crate::application::audit::verify_store(state.ledger.repository(), None, |_| {})
        .await
        .map_err(|e| ApiError::Ledger(e.into()))?;
    Ok(Json(report))
}

/// Takes a digest of the store now: the Merkle root over every chain's head, with the
/// heads. Keep it outside the database.
#[utoipa::path(get, path = "/v1/audit/digest", tag = "audit",
    responses((status = 200, description = "The store's digest now", body = StoreDigest)))]
pub async fn digest(State(state): State<AppState>) -> Result<Json<StoreDigest>, ApiError> {
    let taken_at = state.ledger.now_in_kazakhstan();
    crate::application::audit::take_digest(state.ledger.repository(), taken_at)
        .await
        .map(Json)
        .map_err(|e| ApiError::Ledger(e.into()))
}

/// Verifies the store against a digest kept earlier: every chain, and every head the
/// digest recorded still in place with the same hash.
#[utoipa::path(post, path = "/v1/audit/digest/verify", tag = "audit", request_body = StoreDigest,
    responses((status = 200, description = "The store checked against the digest", body = VerifyReport)))]
pub async fn verify_digest(
    State(state): State<AppState>,
    StrictJson(kept): StrictJson<StoreDigest>,
) -> Result<Json<VerifyReport>, ApiError> {
    let report =
        crate::application::audit::verify_store(state.ledger.repository(), Some(&kept), |_| {})
            .await
            .map_err(|e| ApiError::Ledger(e.into()))?;
    Ok(Json(report))
}
