//! Bank statements (API.md; INTEGRATION.md 2): `POST /v1/bank-statements` imports a
//! statement file (camt.053 `application/xml`, or the 1C exchange `text/plain`),
//! `GET /v1/bank-statements/{id}` reads it back with every line, `POST
//! /v1/bank-statements/{id}/lines/{n}/assignment` assigns an unmatched line by hand.
//!
//! The body of an import is the file itself, up to [`STATEMENT_BYTES_MAX`] (32 MiB: this
//! route alone raises the body limit to it); a larger one is 413. A file the ledger does
//! not read is 400 (not a statement, malformed or truncated) or 422 (an unknown camt
//! version, an amount with more than 2 decimals, lines that disagree with the file's own
//! totals), and nothing is recorded. A statement with unmatched lines is no error: it is
//! recorded with them listed. The same file again (by its SHA-256) records nothing and
//! answers 200 with the stored statement; the first time is 201.

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use events::{InvoiceNumber, ParticipantId};
use projections::PaymentView;

use super::error::ApiError;
use super::extract::{RequestContext, StrictJson};
use super::AppState;
use crate::application::statements::import::{self, BankStatementSummary, BankStatementView};
use crate::application::statements::{StatementFormat, STATEMENT_BYTES_MAX};

/// The path of the import, which alone takes bodies up to [`STATEMENT_BYTES_MAX`] and
/// may take longer than other requests.
pub const IMPORT_PATH: &str = "/v1/bank-statements";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/bank-statements",
            post(import_statement).layer(DefaultBodyLimit::max(STATEMENT_BYTES_MAX)),
        )
        .route("/v1/bank-statements/{id}", get(statement))
        .route(
            "/v1/bank-statements/{id}/lines/{n}/assignment",
            post(assign_line),
        )
}

/// Which format the request's content type announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Announced {
    Xml,
    Text,
}

fn announced(headers: &HeaderMap) -> Result<Announced, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/xml" | "text/xml" => Ok(Announced::Xml),
        "text/plain" => Ok(Announced::Text),
        _ => Err(ApiError::UnsupportedMediaType {
            detail: format!(
                "a bank statement is sent as `application/xml` (camt.053) or `text/plain` (1C exchange), not `{content_type}`"
            ),
        }),
    }
}

/// Imports a bank statement: each credit line matched to an agreement by the payer's
/// BIN/IIN and recorded as a payment (INTEGRATION.md 2).
#[utoipa::path(post, path = "/v1/bank-statements", tag = "bank statements",
    request_body(content = String, description = "The statement file: ISO 20022 camt.053 (001.02 to 001.08) as `application/xml`, or the 1C client-bank exchange (UTF-8, Windows-1251 or DOS) as `text/plain`; at most 32 MiB", content_type = "application/xml"),
    responses(
        (status = 201, description = "Imported: each credit line matched and recorded as a payment (`matched`), already recorded (`duplicates`), or kept for billing staff (`unmatched`); debits and reversals kept (`not_a_credit`)", body = BankStatementSummary),
        (status = 200, description = "The same file was imported before: nothing recorded, the stored statement's summary", body = BankStatementSummary)))]
pub async fn import_statement(
    State(state): State<AppState>,
    RequestContext(context): RequestContext,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let announced = announced(&headers)?;
    let bytes = axum::body::to_bytes(body, STATEMENT_BYTES_MAX)
        .await
        .map_err(|_| ApiError::PayloadTooLarge {
            detail: format!(
                "the statement file is larger than {STATEMENT_BYTES_MAX} bytes (32 MiB); nothing was recorded"
            ),
        })?;
    // The content type must announce the format the file is (checked before recording).
    let digest = import::digest_of(&bytes);
    let mut checked = None;
    if state
        .ledger
        .repository()
        .statement_by_digest(&digest)
        .await?
        .is_none()
    {
        let statement = import::check(&bytes).map_err(import::StatementImportError::from)?;
        let is_xml = matches!(statement.format, StatementFormat::Camt053 { .. });
        if is_xml != (announced == Announced::Xml) {
            return Err(ApiError::UnsupportedMediaType {
                detail: format!(
                    "the file is {} but was sent as {}",
                    if is_xml {
                        "camt.053 XML (send it as `application/xml`)"
                    } else {
                        "a 1C exchange file (send it as `text/plain`)"
                    },
                    if announced == Announced::Xml {
                        "XML"
                    } else {
                        "text"
                    }
                ),
            });
        }
        checked = Some(statement);
    }
    let imported =
        import::import_checked(&state.ledger, &bytes, checked, &context, |_, _| {}).await?;
    let status = if imported.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(imported.summary)).into_response())
}

/// A bank statement: its counts and totals as its lines stand now, and every line with
/// what became of it.
#[utoipa::path(get, path = "/v1/bank-statements/{id}", tag = "bank statements",
    params(("id" = String, Path, description = "The statement's id, as its import answered")),
    responses((status = 200, description = "The statement and its lines", body = BankStatementView)))]
pub async fn statement(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<BankStatementView>, ApiError> {
    match import::view(&state.ledger, &id).await? {
        Some(view) => Ok(Json(view)),
        None => Err(ApiError::not_found(format!(
            "there is no bank statement {id}"
        ))),
    }
}

/// The body of an assignment.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentRequest {
    /// The agreement the line's payment is recorded on.
    #[schema(value_type = String, example = "120340001230")]
    pub participant_id: ParticipantId,
    /// The invoice the payment is for, if billing staff know it.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "42")]
    pub invoice_number: Option<InvoiceNumber>,
}

/// Assigns an unmatched line by hand: its payment recorded on the agreement given, the
/// line `matched` (INTEGRATION.md 2).
#[utoipa::path(post, path = "/v1/bank-statements/{id}/lines/{n}/assignment", tag = "bank statements",
    request_body = AssignmentRequest,
    params(("id" = String, Path, description = "The statement's id"), ("n" = i64, Path, description = "The line's index, from 0")),
    responses((status = 201, description = "The payment recorded (§5.5, CC art. 282)", body = projections::PaymentView)))]
pub async fn assign_line(
    State(state): State<AppState>,
    Path((id, n)): Path<(String, String)>,
    RequestContext(context): RequestContext,
    StrictJson(request): StrictJson<AssignmentRequest>,
) -> Result<Response, ApiError> {
    let n: i64 = n
        .parse()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| ApiError::not_found(format!("bank statement {id} has no line {n}")))?;
    // Sent again under its Idempotency-Key (a lost answer): the first answer, though
    // the line is matched now.
    if let Some(stored) = state.ledger.stored_answer(&context).await? {
        return Ok(super::idempotency::response(stored));
    }
    let (committed, reference) = import::assign(
        &state.ledger,
        &id,
        n,
        &request.participant_id,
        request.invoice_number,
        &context,
    )
    .await?;
    let status = if committed.events.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let payment = PaymentView::of(&committed.agreement, &reference).ok_or_else(|| {
        ApiError::Ledger(crate::application::LedgerError::Render(
            "an accepted payment is recorded under its reference".to_owned(),
        ))
    })?;
    let mut answer = super::idempotency::json_answer(&payment)?;
    answer.status = status.as_u16();
    Ok(super::idempotency::response(
        state.ledger.remember_answer(&context, answer).await?,
    ))
}
