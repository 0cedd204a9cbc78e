//! `POST /v1/periods/{period}/close` and `GET /v1/periods` (API.md, "v1, second part";
//! BILLING.md 5.4): closing a month and the closed months.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use events::ReasonNote;

use super::error::ApiError;
use super::extract::StrictJson;
use super::AppState;
use crate::application::periods::{self, Closer, PeriodSealView, PeriodsView};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/periods", get(list))
        .route("/v1/periods/{period}/close", post(close))
}

/// The body of `POST /v1/periods/{period}/close`: `{}`, or a note kept with the seal.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClosePeriodRequest {
    /// Why or on whose word the month is closed, kept in the seal's metadata.
    #[serde(default)]
    pub note: Option<ReasonNote>,
}

/// Closes a month: records its seal (the digest over every chain and the month's totals
/// per currency). Afterwards no document dated in it is recorded (409 `period-closed`);
/// a bank payment received in it is posted on the first open day.
#[utoipa::path(post, path = "/v1/periods/{period}/close", tag = "operations",
    request_body = ClosePeriodRequest,
    params(("period" = String, Path, description = "The month, YYYY-MM", example = "2026-11")),
    responses(
        (status = 200, description = "The seal (BILLING.md 5.4); 409 when the month is already closed, not over, or an earlier month with documents is still open", body = PeriodSealView),
    ))]
pub async fn close(
    State(state): State<AppState>,
    super::extract::RequestContext(context): super::extract::RequestContext,
    Path(period): Path<String>,
    StrictJson(request): StrictJson<ClosePeriodRequest>,
) -> Result<axum::response::Response, ApiError> {
    // With an Idempotency-Key, a retry gets the first seal (without one, a repeat is
    // 409: the month is already closed, nothing is recorded twice).
    if let Some(stored) = state.ledger.stored_answer(&context).await? {
        return Ok(super::idempotency::response(stored));
    }
    let closer = Closer {
        actor: context.actor.clone(),
        request_id: context.request_id.clone(),
        note: request.note.map(|note| note.to_string()),
    };
    let seal = periods::close_period(&state.ledger, &period, &closer).await?;
    let answer = super::idempotency::json_answer(&seal)?;
    Ok(super::idempotency::response(
        state.ledger.remember_answer(&context, answer).await?,
    ))
}

/// `?known_at=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PeriodsQuery {
    /// The months as they were known at this moment: the seals recorded by then
    /// (BILLING.md 5.1); an RFC 3339 timestamp, or a date meaning the end of that day in
    /// Kazakhstan.
    #[param(value_type = Option<String>, example = "2026-12-05T10:00:00Z")]
    pub known_at: Option<String>,
}

/// Every month from the first with a document to the current one, each `open` or
/// `closed` with its seal, and the first day still open.
#[utoipa::path(get, path = "/v1/periods", tag = "reports", params(PeriodsQuery),
    responses((status = 200, description = "The months, open or closed (BILLING.md 5.4)", body = PeriodsView)))]
pub async fn list(
    State(state): State<AppState>,
    super::extract::StrictQuery(query): super::extract::StrictQuery<PeriodsQuery>,
) -> Result<Json<PeriodsView>, ApiError> {
    let known_at = super::extract::parse_known_at(query.known_at.as_deref())?;
    Ok(Json(periods::periods(&state.ledger, known_at).await?))
}
