//! `POST /v1/sweeps` (API.md): run the dunning sweep as of a date.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use time::Date;

use events::business_date;

use super::error::ApiError;
use super::extract::StrictJson;
use super::AppState;
use crate::application::queries::{self, DunningReport};
use crate::application::sweep;
use crate::application::sweep::SweepReport;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sweeps", post(sweep))
        .route("/v1/reports/dunning", axum::routing::get(dunning))
}

/// The body of `POST /v1/sweeps`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SweepRequest {
    #[serde(with = "business_date")]
    pub as_of: Date,
    /// Charge the §5.9 fine on each late invoice (the operator's policy; default true).
    #[serde(default)]
    #[schema(default = true)]
    pub charge_fines: Option<bool>,
}

/// Runs the sweep in a task of its own, so that it finishes even if the caller goes
/// away; a second sweep for the same date returns empty lists.
#[utoipa::path(post, path = "/v1/sweeps", tag = "operations", request_body = SweepRequest,
    responses((status = 200, description = "What the sweep recorded (§4.2, §5.9, §10.3)", body = SweepReport)))]
pub async fn sweep(
    State(state): State<AppState>,
    super::extract::RequestContext(context): super::extract::RequestContext,
    StrictJson(request): StrictJson<SweepRequest>,
) -> Result<axum::response::Response, ApiError> {
    // With an Idempotency-Key, a repeat gets the first report. The sweep's own steps are
    // idempotent for a date, so the key is stored when the sweep has finished.
    if let Some(stored) = state.ledger.stored_answer(&context).await? {
        return Ok(super::idempotency::response(stored));
    }
    let report = sweep::run_detached(
        state.ledger.clone(),
        context.actor.clone(),
        request.as_of,
        request.charge_fines.unwrap_or(true),
    )
    .await?;
    let answer = super::idempotency::json_answer(&report)?;
    Ok(super::idempotency::response(
        state.ledger.remember_answer(&context, answer).await?,
    ))
}

/// `?as_of=&charge_fines=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DunningQuery {
    /// The date the sweep would run as of (YYYY-MM-DD); default today.
    #[param(value_type = Option<String>, format = Date, example = "2026-03-01")]
    pub as_of: Option<String>,
    /// Whether the sweep would charge the §5.9 fine on each late invoice; default true.
    #[param(default = true)]
    pub charge_fines: Option<bool>,
    /// The preview as it would have been given at this moment: each agreement and the
    /// reference tables as known then (BILLING.md 5.1); an RFC 3339 timestamp, or a date
    /// meaning the end of that day in Kazakhstan. `as_of` then defaults to that day.
    #[param(value_type = Option<String>, example = "2026-11-27T10:00:00Z")]
    pub known_at: Option<String>,
}

#[utoipa::path(get, path = "/v1/reports/dunning", tag = "reports", params(DunningQuery),
    responses((status = 200, description = "What the next sweep would record", body = DunningReport)))]
pub async fn dunning(
    State(state): State<AppState>,
    super::extract::StrictQuery(query): super::extract::StrictQuery<DunningQuery>,
) -> Result<Json<DunningReport>, ApiError> {
    let known_at = super::extract::parse_known_at(query.known_at.as_deref())?;
    let as_of = super::queries::as_of_or_default(
        &state,
        super::extract::parse_date("as_of", query.as_of.as_deref())?,
        known_at,
    );
    let charge_fines = query.charge_fines.unwrap_or(true);
    Ok(Json(
        queries::dunning_preview(&state.ledger, as_of, charge_fines, known_at).await?,
    ))
}
