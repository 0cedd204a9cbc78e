//! The billing run (API.md "v1, second part"; BILLING.md 4): `POST /v1/billing-runs` bills
//! a month, `GET /v1/billing-runs/{period}` reads its report.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use time::Date;

use events::{business_date, CalendarMonth};

use super::error::ApiError;
use super::extract::{RequestContext, StrictJson};
use super::AppState;
use crate::application::billing::{self, BillingRunReport};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/billing-runs", post(run))
        .route("/v1/billing-runs/{period}", get(report))
}

/// The body of `POST /v1/billing-runs`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BillingRunRequest {
    /// The month billed, `YYYY-MM`.
    #[schema(value_type = String, example = "2027-01")]
    pub period: CalendarMonth,
    /// The invoices' issue date; today by default.
    #[serde(default, with = "business_date::option")]
    #[schema(value_type = Option<String>, format = Date, example = "2026-12-28")]
    pub issued_on: Option<Date>,
}

fn parse_period(text: &str) -> Result<CalendarMonth, ApiError> {
    CalendarMonth::parse(text).map_err(|e| ApiError::bad_request(format!("`period`: {e}")))
}

/// Runs in a task of its own, so that it finishes even if the caller goes away; a repeat
/// for the month issues nothing new (its `issued` is empty, `already_invoiced` lists them).
#[utoipa::path(post, path = "/v1/billing-runs", tag = "operations", request_body = BillingRunRequest,
    responses((status = 200, description = "What this run issued, skipped (with why) and was refused (BILLING.md 4)", body = BillingRunReport)))]
pub async fn run(
    State(state): State<AppState>,
    RequestContext(context): RequestContext,
    StrictJson(request): StrictJson<BillingRunRequest>,
) -> Result<axum::response::Response, ApiError> {
    if let Some(stored) = state.ledger.stored_answer(&context).await? {
        return Ok(super::idempotency::response(stored));
    }
    let issued_on = request.issued_on.unwrap_or_else(|| state.ledger.today());
    let report = billing::run_detached(
        state.ledger.clone(),
        context.actor.clone(),
        request.period,
        issued_on,
    )
    .await?;
    let answer = super::idempotency::json_answer(&report)?;
    Ok(super::idempotency::response(
        state.ledger.remember_answer(&context, answer).await?,
    ))
}

#[utoipa::path(get, path = "/v1/billing-runs/{period}", tag = "reports",
    params(("period" = String, Path, description = "The month, YYYY-MM", example = "2027-01")),
    responses((status = 200, description = "The month's report: every invoice its runs issued, the latest run's skips and refusals", body = BillingRunReport), (status = 404, description = "No run for the month")))]
pub async fn report(
    State(state): State<AppState>,
    Path(period): Path<String>,
) -> Result<Json<BillingRunReport>, ApiError> {
    let period = parse_period(&period)?;
    match billing::report(&state.ledger, period).await? {
        Some(report) => Ok(Json(report)),
        None => Err(ApiError::not_found(format!("no billing run for {period}"))),
    }
}
