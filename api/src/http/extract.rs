//! The extractors every handler shares: each rejection is a problem+json with a message
//! a person understands, naming the field, parameter or path segment at fault. A JSON
//! body (`StrictJson`), query parameters (`StrictQuery`, `parse_date`), the agreement id
//! in the path (`AgreementId`) and the payment or invoice after it (`AgreementItem`), and
//! who asks under which request (`RequestContext`).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use time::Date;

use events::{business_date, ParticipantId};

use super::error::ApiError;
use crate::application::commands::{CommandContext, IdempotencyClaim};

/// The largest request body accepted, in bytes. An invoice of 100 long lines fits.
pub const REQUEST_BODY_BYTES_MAX: usize = 256 * 1024;

/// `Json<T>` that refuses what axum's would half-accept: a missing or wrong content type,
/// a syntax error, an unknown field, a wrong type; each answered with the JSON path.
pub struct StrictJson<T>(pub T);

impl<S, T> FromRequest<S> for StrictJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(|value| {
                let essence = value
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                essence == "application/json"
                    || (essence.starts_with("application/") && essence.ends_with("+json"))
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::UnsupportedMediaType {
                detail: "the request body must be JSON, sent with `Content-Type: application/json`"
                    .to_owned(),
            });
        }
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge {
                        detail: format!(
                            "the request body is larger than {REQUEST_BODY_BYTES_MAX} bytes"
                        ),
                    }
                } else {
                    ApiError::bad_request(format!(
                        "the request body could not be read: {rejection}"
                    ))
                }
            })?;
        parse(&body).map(StrictJson)
    }
}

/// Parses a JSON body into `T`, explaining any failure with the path of the field.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let deserializer = &mut serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let detail = match inner.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                format!("the request body is not valid JSON: {inner}")
            }
            _ if path == "." || path.is_empty() => format!(
                "the request body is not what this endpoint takes: {}",
                strip_position(&inner)
            ),
            _ => format!("`{path}`: {}", strip_position(&inner)),
        };
        ApiError::bad_request(detail)
    })?;
    Ok(value)
}

/// serde_json appends " at line 1 column 42" to data errors; the path says more.
fn strip_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(index) => text[..index].to_owned(),
        None => text,
    }
}

/// Query parameters, parsed strictly: an unknown or malformed parameter is a 400
/// problem+json naming it (axum's own `Query` answers plain text).
pub struct StrictQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for StrictQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| StrictQuery(value))
            .map_err(|rejection| ApiError::bad_request(rejection.body_text()))
    }
}

/// `?known_at=`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct KnownAtQuery {
    /// Only what was recorded up to this moment (BILLING.md 5.1): an RFC 3339
    /// timestamp, or a date meaning the end of that day in Kazakhstan. Absent: everything.
    #[param(value_type = Option<String>, example = "2026-11-27T10:00:00Z")]
    pub known_at: Option<String>,
}

/// The `known_at` parameter (BILLING.md 5.1), when given: an RFC 3339 timestamp, or a
/// date meaning the end of that day in Kazakhstan (UTC+5).
pub fn parse_known_at(text: Option<&str>) -> Result<Option<time::OffsetDateTime>, ApiError> {
    let Some(text) = text else {
        return Ok(None);
    };
    if let Ok(at) =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
    {
        return Ok(Some(at));
    }
    let date = business_date::parse(text).map_err(|_| {
        ApiError::bad_request(format!(
            "`known_at`: `{text}` is neither an RFC 3339 timestamp (2026-11-27T10:00:00Z) nor a date (2026-11-27)"
        ))
    })?;
    let end_of_day = time::Time::from_hms_nano(23, 59, 59, 999_999_999).expect("a valid time");
    Ok(Some(
        date.with_time(end_of_day)
            .assume_offset(crate::application::commands::KAZAKHSTAN),
    ))
}

/// A business date parameter (`YYYY-MM-DD`), when given.
pub fn parse_date(name: &str, text: Option<&str>) -> Result<Option<Date>, ApiError> {
    text.map(|text| {
        business_date::parse(text)
            .map_err(|error| ApiError::bad_request(format!("`{name}`: {error}")))
    })
    .transpose()
}

/// The participant id in the path, parsed (`/v1/agreements/{id}/...`).
pub struct AgreementId(pub ParticipantId);

impl<S: Send + Sync> FromRequestParts<S> for AgreementId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| ApiError::bad_request(rejection.body_text()))?;
        ParticipantId::parse(&id).map(AgreementId).map_err(|error| {
            ApiError::bad_request(format!("the agreement id in the path: {error}"))
        })
    }
}

/// The participant id and the item named after it in the path, parsed: a payment's
/// reference (`/v1/agreements/{id}/payments/{reference}/...`) or an invoice's number
/// (`/v1/agreements/{id}/invoices/{number}/...`).
pub struct AgreementItem<T>(pub ParticipantId, pub T);

/// What a path segment after the agreement id names, and how it is read.
pub trait PathItem: Sized {
    /// In words, for the 400 that refuses a malformed one.
    const WHAT: &'static str;
    fn parse_segment(segment: &str) -> Result<Self, String>;
}

impl PathItem for events::PaymentReference {
    const WHAT: &'static str = "the payment reference in the path";
    fn parse_segment(segment: &str) -> Result<Self, String> {
        Self::parse(segment).map_err(|error| error.to_string())
    }
}

impl PathItem for events::InvoiceNumber {
    const WHAT: &'static str = "the invoice number in the path";
    fn parse_segment(segment: &str) -> Result<Self, String> {
        Self::parse(segment).map_err(|error| error.to_string())
    }
}

impl PathItem for events::CalendarMonth {
    const WHAT: &'static str = "the month in the path";
    fn parse_segment(segment: &str) -> Result<Self, String> {
        Self::parse(segment).map_err(|error| error.to_string())
    }
}

impl<S: Send + Sync, T: PathItem> FromRequestParts<S> for AgreementItem<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path((id, item)) = Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| ApiError::bad_request(rejection.body_text()))?;
        let id = ParticipantId::parse(&id).map_err(|error| {
            ApiError::bad_request(format!("the agreement id in the path: {error}"))
        })?;
        let item = T::parse_segment(&item)
            .map_err(|error| ApiError::bad_request(format!("{}: {error}", T::WHAT)))?;
        Ok(Self(id, item))
    }
}

/// Who is asking and under which request id (set by the request-id layer).
pub struct RequestContext(pub CommandContext);

impl<S: Send + Sync> FromRequestParts<S> for RequestContext {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let request_id = parts
            .headers
            .get(super::REQUEST_ID_HEADER)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_owned();
        // The token's name (set by `auth::authorize`) is the actor of every event.
        let actor = super::auth::caller_of(parts)
            .map(|caller| caller.name.clone())
            .ok_or_else(|| ApiError::Unauthorized {
                detail: "this endpoint needs `Authorization: Bearer <token>`".to_owned(),
            })?;
        Ok(Self(CommandContext {
            actor,
            request_id,
            sweep: None,
            idempotency: parts.extensions.get::<IdempotencyClaim>().cloned(),
        }))
    }
}
