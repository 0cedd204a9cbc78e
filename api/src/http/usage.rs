//! `POST /v1/usage` (API.md, "v1, second part"; BILLING.md 3): the portal reports usage
//! records in batches of at most 1,000, idempotent by record id.
//!
//! The body is read leniently, each record as a JSON value, so that a batch with invalid
//! records is answered 422 with every one of them listed (`errors: [{index, id,
//! detail}]`, an extension of the problem body that only this endpoint has), and
//! nothing recorded. A batch of more than 1,000 records is a 422 too (not 413: the body
//! is within the size limit, the batch is not), naming the limit and listing the records
//! beyond it.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde::Serialize;
use serde_json::Value;

use super::error::{ApiError, Problem};
use super::extract::{RequestContext, StrictJson};
use super::AppState;
use crate::application::commands::LedgerError;
use crate::application::usage::{self, UsageAccepted, UsageError, UsageRecordError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/usage", post(ingest))
        .route("/v1/agreements/{id}/usage", axum::routing::get(preview))
}

/// The body of `POST /v1/usage`.
#[derive(Debug, utoipa::ToSchema)]
pub struct UsageBatchBody {
    /// At most 1,000 records.
    #[schema(max_items = 1000)]
    pub records: Vec<UsageRecordBody>,
}

/// One usage record as the portal reports it: a fact, never changed.
#[derive(Debug, utoipa::ToSchema)]
pub struct UsageRecordBody {
    /// The portal's own id, unique per record: the same id with the same content again
    /// is a duplicate, with other content a refusal. 1 to 100 characters, no control
    /// character.
    #[schema(min_length = 1, max_length = 100, example = "doc-2026-12-000123")]
    pub id: String,
    /// The participant's BIN/IIN: an agreement must be registered for it.
    #[schema(value_type = String, pattern = "^[0-9]{12}$", example = "150240008272")]
    pub participant_id: String,
    /// What is counted: a lowercase letter, then lowercase letters, digits, - and _.
    #[schema(max_length = 40, example = "documents")]
    pub metric: String,
    /// How many, a positive whole number.
    #[schema(minimum = 1, maximum = 1_000_000_000, example = 3)]
    pub quantity: i64,
    /// The business day it occurred on: today or earlier.
    #[schema(value_type = String, format = Date, example = "2026-12-01")]
    pub occurred_on: String,
}

/// A refused batch: the problem details, and every record refused with why.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UsageProblem {
    #[serde(flatten)]
    pub problem: Problem,
    pub errors: Vec<UsageRecordError>,
}

/// Records a batch of usage records: all or nothing, idempotent by record id.
#[utoipa::path(post, path = "/v1/usage", tag = "usage", request_body = UsageBatchBody,
    responses(
        (status = 200, description = "The batch is recorded: `accepted` records written, `duplicates` already recorded with the same content (BILLING.md 3)", body = UsageAccepted),
        (status = 422, description = "Nothing was recorded: invalid records (an unknown participant, a malformed metric, a quantity that is not a positive whole number, a date that is not one or is after today, a missing or too long id, an id given twice with different content), ids already recorded with other content, or more than 1,000 records; `errors` lists every such record with its index", content_type = "application/problem+json", body = UsageProblem)))]
pub async fn ingest(
    State(state): State<AppState>,
    RequestContext(context): RequestContext,
    StrictJson(body): StrictJson<Value>,
) -> Result<Response, ApiError> {
    if let Some(stored) = state.ledger.stored_answer(&context).await? {
        return Ok(super::idempotency::response(stored));
    }
    let recorded = usage::ingest(&state.ledger, &body, |accepted| {
        let answer = super::idempotency::json_answer(accepted).ok()?;
        state.ledger.idempotency_record(&context, &answer)
    })
    .await;
    match recorded {
        Ok(accepted) => Ok(super::idempotency::response(
            super::idempotency::json_answer(&accepted)?,
        )),
        Err(UsageError::IdempotencyKeyTaken) => match state.ledger.stored_answer(&context).await? {
            Some(stored) => Ok(super::idempotency::response(stored)),
            None => Err(ApiError::Ledger(LedgerError::ConflictRetriesExhausted {
                attempts: 1,
            })),
        },
        Err(UsageError::Malformed(detail)) => Err(ApiError::bad_request(detail)),
        Err(UsageError::Store(error)) => Err(error.into()),
        Err(error) => Ok(refused(&error)),
    }
}

/// The 422 of a refused batch, listing its records.
fn refused(error: &UsageError) -> Response {
    let slug = match error {
        UsageError::TooMany { .. } => "usage-batch-too-large",
        UsageError::Conflicts { .. } => "usage-id-conflict",
        _ => "invalid-usage-records",
    };
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    let body = UsageProblem {
        problem: Problem {
            problem_type: format!("urn:edoc-ledger:problem:{slug}"),
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: error.to_string(),
            clause: Some(events::Clause::USAGE.as_str()),
        },
        errors: error.errors().unwrap_or_default().to_vec(),
    };
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use axum::http::Method;

    use super::*;
    use crate::application::tokens::Role;
    use crate::http::auth::{access, Access};

    #[test]
    fn operators_and_billing_staff_report_usage() {
        assert_eq!(
            access(&Method::POST, "/v1/usage"),
            Access::Roles(&[Role::Operator, Role::Billing])
        );
    }

    /// The 422 is documented as the problem details with `errors`, each record with its
    /// index, id and detail.
    #[test]
    fn the_refusal_is_documented_with_its_records() {
        let document = serde_json::to_value(super::super::openapi::document()).unwrap();
        let schemas = &document["components"]["schemas"];
        let answer = &document["paths"]["/v1/usage"]["post"]["responses"]["422"]["content"]
            ["application/problem+json"]["schema"];
        assert_eq!(answer["$ref"], "#/components/schemas/UsageProblem");
        let problem = schemas["UsageProblem"].to_string();
        for part in ["#/components/schemas/Problem", "errors", "UsageRecordError"] {
            assert!(problem.contains(part), "{part}: {problem}");
        }
        for field in ["index", "id", "detail"] {
            assert!(
                schemas["UsageRecordError"]["properties"][field].is_object(),
                "{field}: {}",
                schemas["UsageRecordError"]
            );
        }
        assert_eq!(
            schemas["UsageBatchBody"]["properties"]["records"]["maxItems"],
            usage::BATCH_RECORDS_MAX
        );
    }

    #[test]
    fn a_refused_batch_is_a_problem_listing_its_records() {
        let error = UsageError::Invalid {
            count: 2,
            errors: vec![UsageRecordError {
                index: 1,
                id: Some("r-2".to_owned()),
                detail: "`quantity` is missing".to_owned(),
            }],
        };
        let response = refused(&error);
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
    }
}

/// `?period=YYYY-MM`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UsagePeriodQuery {
    /// The month, `YYYY-MM`.
    #[param(example = "2027-01")]
    pub period: String,
}

/// What the participant will be billed for a month's usage so far (BILLING.md 3): per
/// metric the quantity recorded, the volume included by the month's tariff version, the
/// overage and its price. Usage records are not events: `known_at` does not apply.
#[utoipa::path(get, path = "/v1/agreements/{id}/usage", tag = "agreements",
    params(("id" = String, Path, description = "The participant's BIN/IIN (12 digits)"), UsagePeriodQuery),
    responses((status = 200, description = "Per metric: quantity, included, overage, unit_price, amount", body = usage::UsagePreview)))]
pub async fn preview(
    State(state): State<AppState>,
    super::extract::AgreementId(id): super::extract::AgreementId,
    super::extract::StrictQuery(query): super::extract::StrictQuery<UsagePeriodQuery>,
) -> Result<axum::Json<usage::UsagePreview>, ApiError> {
    let period = events::CalendarMonth::parse(&query.period)
        .map_err(|e| ApiError::bad_request(format!("`period`: {e}")))?;
    match usage::preview(&state.ledger, &id, period).await? {
        Some(preview) => Ok(axum::Json(preview)),
        None => Err(ApiError::not_found(format!(
            "no agreement is registered for participant {id}"
        ))),
    }
}
