//! Webhook endpoints (API.md; INTEGRATION.md 1), operator only: `POST /v1/webhooks`
//! registers one, `GET /v1/webhooks` lists them (never their secrets), `DELETE
//! /v1/webhooks/{id}` deletes one, `GET /v1/webhooks/{id}/deliveries` reads its log, and
//! `POST /v1/webhooks/{id}/resumption` resumes a parked one. The deliveries themselves
//! are `application::webhooks`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};

use super::error::ApiError;
use super::extract::{RequestContext, StrictJson, StrictQuery};
use super::AppState;
use crate::application::webhooks::{
    self, DeliveryLog, WebhookEndpoint, WebhookRegistration, DELIVERY_LOG_PAGE_DEFAULT,
    DELIVERY_LOG_PAGE_MAX,
};

/// The webhook routes (operator only, `http::auth`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/webhooks", post(register).get(list))
        .route("/v1/webhooks/{webhook_id}", delete(remove))
        .route("/v1/webhooks/{webhook_id}/deliveries", get(deliveries))
        .route("/v1/webhooks/{webhook_id}/resumption", post(resume))
}

/// The delivery log's query: text here, so that a malformed one is a 400 naming it.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    /// Attempts at most, newest first: 1 to 500 (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500, example = 50)]
    pub limit: Option<String>,
}

/// Registers an endpoint; it hears of the agreement events recorded from now on.
#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks", request_body = WebhookRegistration,
    responses((status = 201, description = "The endpoint registered (its secret is never answered)", body = WebhookEndpoint)))]
pub async fn register(
    State(state): State<AppState>,
    RequestContext(context): RequestContext,
    StrictJson(registration): StrictJson<WebhookRegistration>,
) -> Result<axum::response::Response, ApiError> {
    if let Some(stored) = state.ledger.stored_answer(&context).await? {
        return Ok(super::idempotency::response(stored));
    }
    let endpoint = webhooks::register(&state.ledger, &registration).await?;
    let mut answer = super::idempotency::json_answer(&endpoint)?;
    answer.status = StatusCode::CREATED.as_u16();
    Ok(super::idempotency::response(
        state.ledger.remember_answer(&context, answer).await?,
    ))
}

#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks",
    responses((status = 200, description = "Every endpoint registered, oldest first, without secrets", body = [WebhookEndpoint])))]
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<WebhookEndpoint>>, ApiError> {
    Ok(Json(webhooks::list(&state.ledger).await?))
}

#[utoipa::path(delete, path = "/v1/webhooks/{webhook_id}", tag = "webhooks",
    params(("webhook_id" = String, Path, description = "The endpoint's id")),
    responses((status = 204, description = "Deleted: nothing more is delivered to it; its log is kept"), (status = 404, description = "No such endpoint", body = super::error::Problem, content_type = "application/problem+json")))]
pub async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    webhooks::delete(&state.ledger, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/webhooks/{webhook_id}/deliveries", tag = "webhooks",
    params(("webhook_id" = String, Path, description = "The endpoint's id"), DeliveriesQuery),
    responses((status = 200, description = "The endpoint's delivery attempts, newest first, its cursor and whether it is parked", body = DeliveryLog), (status = 404, description = "No such endpoint", body = super::error::Problem, content_type = "application/problem+json")))]
pub async fn deliveries(
    State(state): State<AppState>,
    Path(id): Path<String>,
    StrictQuery(query): StrictQuery<DeliveriesQuery>,
) -> Result<Json<DeliveryLog>, ApiError> {
    let limit = match query.limit.as_deref() {
        None => DELIVERY_LOG_PAGE_DEFAULT,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=DELIVERY_LOG_PAGE_MAX).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "limit: `{text}` is not a number of attempts from 1 to {DELIVERY_LOG_PAGE_MAX}"
                ))
            })?,
    };
    Ok(Json(webhooks::deliveries(&state.ledger, &id, limit).await?))
}

/// Resumes a parked endpoint: the event it stopped at is tried again, as a new series
/// of attempts with a new retry horizon. An endpoint that is not parked is answered as
/// it is.
#[utoipa::path(post, path = "/v1/webhooks/{webhook_id}/resumption", tag = "webhooks",
    params(("webhook_id" = String, Path, description = "The endpoint's id")),
    responses((status = 200, description = "The endpoint, no longer parked", body = WebhookEndpoint), (status = 404, description = "No such endpoint", body = super::error::Problem, content_type = "application/problem+json")))]
pub async fn resume(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<WebhookEndpoint>, ApiError> {
    Ok(Json(webhooks::resume(&state.ledger, &id).await?))
}
