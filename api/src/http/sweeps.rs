//! `POST /v1/sweeps` (API.md): run the dunning sweep as of a date.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use time::Date;

use events::business_date;

use super::error::ApiError;
use super::json::StrictJson;
use super::AppState;
use crate::sweep::SweepReport;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/sweeps", post(sweep))
}

/// The body of `POST /v1/sweeps`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SweepRequest {
    #[serde(with = "business_date")]
    pub as_of: Date,
    /// Charge the §5.9 fine on each late invoice (the operator's policy; default true).
    #[serde(default)]
    pub charge_fines: Option<bool>,
}

/// Runs the sweep in a task of its own, so that it finishes even if the caller goes
/// away; a second sweep for the same date returns empty lists.
#[utoipa::path(post, path = "/v1/sweeps", tag = "operations", request_body = SweepRequest,
    responses((status = 200, description = "What the sweep recorded (§4.2, §5.9, §10.3)", body = SweepReport)))]
pub async fn sweep(
    State(state): State<AppState>,
    StrictJson(request): StrictJson<SweepRequest>,
) -> Result<Json<SweepReport>, ApiError> {
    let ledger = state.ledger.clone();
    let charge_fines = request.charge_fines.unwrap_or(true);
    let report = tokio::spawn(async move {
        crate::sweep::run(&ledger, request.as_of, charge_fines, |_, _| {}).await
    })
    .await
    .map_err(|e| {
        ApiError::Ledger(
            crate::store::StoreError::Corrupt(format!("the sweep task failed: {e}")).into(),
        )
    })??;
    Ok(Json(report))
}
