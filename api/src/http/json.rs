//! A JSON body extractor whose every rejection is a problem+json with a message a
//! person understands, naming the field at fault.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;

use super::error::ApiError;

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
