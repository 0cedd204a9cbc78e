//! `GET /v1/audit/verify` (API.md): recompute every agreement's hash chain.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use super::error::ApiError;
use super::AppState;
use crate::audit::VerifyReport;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/audit/verify", get(verify))
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
