//! `Idempotency-Key` (API.md "Retries are safe"; issue 6). A command sent with the
//! header is fingerprinted (SHA-256 of its method, path and body) before its handler
//! runs; the ledger stores the key and the first answer in the transaction that records
//! the events. A repeat with the same request gets that answer, marked
//! `Idempotent-Replayed: true`, and records nothing; the same key with another request is
//! 409. Keys expire after `--idempotency-ttl-hours` (24 by default).

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest as _, Sha256};

use super::error::ApiError;
use crate::application::commands::{Answer, IdempotencyClaim};

/// The request header.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
/// The answer header set on a stored answer given again.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
/// The longest key accepted (TIGER_STYLE: a limit on everything).
pub const KEY_CHARS_MAX: usize = 255;

/// Reads the key of a POST request, if it has one, and fingerprints the request; the
/// claim goes to the handler as a request extension. A malformed key is a 400.
pub async fn fingerprint(request: Request, next: Next) -> Result<Response, ApiError> {
    let Some(value) = request.headers().get(IDEMPOTENCY_KEY_HEADER) else {
        return Ok(next.run(request).await);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|key| {
            !key.is_empty()
                && key.len() <= KEY_CHARS_MAX
                && key.bytes().all(|b| b.is_ascii_graphic())
        })
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "`Idempotency-Key` is 1 to {KEY_CHARS_MAX} visible ASCII characters"
            ))
        })?
        .to_owned();
    let (parts, body) = request.into_parts();
    // A bank statement's file may be up to 32 MiB (its import is idempotent by the file's
    // digest anyway).
    let limit = if parts.uri.path() == super::statements::IMPORT_PATH {
        crate::application::statements::STATEMENT_BYTES_MAX
    } else {
        super::extract::REQUEST_BODY_BYTES_MAX
    };
    let bytes: Bytes =
        axum::body::to_bytes(body, limit)
            .await
            .map_err(|_| ApiError::PayloadTooLarge {
                detail: format!("the body is larger than {limit} bytes"),
            })?;
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str().as_bytes());
    hasher.update(b" ");
    hasher.update(parts.uri.path().as_bytes());
    hasher.update(b"\n");
    hasher.update(&bytes);
    let claim = IdempotencyClaim {
        key,
        fingerprint: format!("{:x}", hasher.finalize()),
    };
    let mut request = Request::from_parts(parts, Body::from(bytes));
    request.extensions_mut().insert(claim);
    Ok(next.run(request).await)
}

/// A 200 answer of `body` as JSON, not yet stored: what an operation outside the
/// command loop (a sweep, a period close) stores under its Idempotency-Key.
pub fn json_answer(body: &impl serde::Serialize) -> Result<Answer, super::error::ApiError> {
    Ok(Answer {
        status: 200,
        body: serde_json::to_string(body).map_err(|e| {
            super::error::ApiError::Ledger(crate::application::commands::LedgerError::Render(
                e.to_string(),
            ))
        })?,
        replayed: false,
    })
}

/// The HTTP answer of a command's [`Answer`].
pub fn response(answer: Answer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut response = (status, answer.body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if answer.replayed {
        response
            .headers_mut()
            .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    }
    response
}
