//! The documents of an agreement (API.md; BILLING.md 6): the ESF of an invoice or a
//! credit note, the act of completed work of a month and the reconciliation statement
//! as PDF.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use events::InvoiceNumber;

use super::error::ApiError;
use super::extract::{AgreementId, AgreementItem, StrictQuery};
use super::AppState;
use crate::application::commands::LedgerError;
use crate::application::documents;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/agreements/{id}/invoices/{number}/esf", get(esf))
        .route("/v1/reports/esf-due", get(esf_due))
        .route("/v1/agreements/{id}/acts/{month}", get(act))
        .route("/v1/agreements/{id}/statement.pdf", get(statement_pdf))
}

/// The operator's details as the seller of its documents, or the 503 that says how to
/// configure them.
fn seller(state: &AppState) -> Result<&documents::esf::Seller, ApiError> {
    state.seller.as_deref().ok_or_else(|| ApiError::NotConfigured {
        detail: "the operator's details for its documents are not configured: set EDOC_OPERATOR_BIN, EDOC_OPERATOR_NAME, EDOC_OPERATOR_ADDRESS, EDOC_OPERATOR_IIK, EDOC_OPERATOR_BIK and EDOC_OPERATOR_KBE (docs/operations.md)".to_owned(),
    })
}

fn pdf_response(bytes: Vec<u8>, filename: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{filename}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// `GET /v1/agreements/{id}/acts/{YYYY-MM}`: the act of completed work (акт выполненных
/// работ) of the month as a PDF in Russian (§4.1, BILLING.md 6): the services rendered
/// in it (invoices whose turnover date falls in the month, less the month's credit
/// notes, voided invoices left out), line by line with their VAT as the ESF gives it,
/// the totals equal to the JSON invoices', both parties and places to sign. Drawn from
/// the events recorded by the month's close, so it never changes once issued: 409 while
/// the month is open (BILLING.md 5.4); 404 when no service was rendered in it.
#[utoipa::path(get, path = "/v1/agreements/{id}/acts/{month}", tag = "documents",
    params(("id" = String, Path, description = "The participant's BIN/IIN"), ("month" = String, Path, description = "The month, YYYY-MM", example = "2026-11")),
    responses((status = 200, description = "The act of completed work (PDF, Russian)", body = Vec<u8>, content_type = "application/pdf")))]
pub async fn act(
    State(state): State<AppState>,
    AgreementItem(id, month): AgreementItem<events::CalendarMonth>,
) -> Result<Response, ApiError> {
    act_response(&state, &id, month).await
}

/// The act of `month` of agreement `id` as the PDF answer (shared with the back office).
pub(crate) async fn act_response(
    state: &AppState,
    id: &events::ParticipantId,
    month: events::CalendarMonth,
) -> Result<Response, ApiError> {
    let seller = seller(state)?;
    let close =
        crate::application::periods::month_close(state.ledger.repository(), month.last_day())
            .await
            .map_err(LedgerError::from)?
            .ok_or(ApiError::MonthNotClosed { month })?;
    let act = documents::act_of(&state.ledger, id, month, &close)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "agreement {id} has no services rendered in {month}: no invoice recorded by the month's close has its turnover date in it"
            ))
        })?;
    let number = act.number();
    let seller = seller.clone();
    // Drawing is CPU work (some 0.1 ms a line): off the async workers.
    let pdf = tokio::task::spawn_blocking(move || act.to_pdf(&seller))
        .await
        .map_err(|e| ApiError::Ledger(LedgerError::Render(format!("drawing the act: {e}"))))?
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "the act of {month} runs past {} pages",
                documents::pdf::MAX_PAGES
            ))
        })?;
    Ok(pdf_response(pdf, &format!("act-{number}.pdf")))
}

/// `GET /v1/agreements/{id}/statement.pdf?from=&to=`: the reconciliation statement (акт
/// сверки) as a PDF in Russian (BILLING.md 6): the JSON statement of the same query drawn
/// as it is (opening balance, one line per document with its clause, turnover, closing
/// balance and who owes whom), both parties and places to sign.
#[utoipa::path(get, path = "/v1/agreements/{id}/statement.pdf", tag = "documents",
    params(("id" = String, Path, description = "The participant's BIN/IIN"), super::queries::StatementQuery),
    responses((status = 200, description = "The reconciliation statement (PDF, Russian)", body = Vec<u8>, content_type = "application/pdf")))]
pub async fn statement_pdf(
    State(state): State<AppState>,
    AgreementId(id): AgreementId,
    StrictQuery(query): StrictQuery<super::queries::StatementQuery>,
) -> Result<Response, ApiError> {
    statement_pdf_response(&state, &id, &query).await
}

/// The reconciliation statement of a [`super::queries::StatementQuery`] as the PDF answer
/// (shared with the back office).
pub(crate) async fn statement_pdf_response(
    state: &AppState,
    id: &events::ParticipantId,
    query: &super::queries::StatementQuery,
) -> Result<Response, ApiError> {
    let seller = seller(state)?;
    let (statement, header) = super::queries::statement_of(state, id, query).await?;
    let customer = documents::esf::Customer {
        tin: id.clone(),
        name: header.name,
        address: None,
    };
    let (from, to) = (statement.from, statement.to);
    let seller = seller.clone();
    // Drawing is CPU work (some 0.1 ms a line): off the async workers.
    let pdf = tokio::task::spawn_blocking(move || {
        documents::reconciliation::reconciliation_pdf(&statement, &seller, &customer)
    })
    .await
    .map_err(|e| ApiError::Ledger(LedgerError::Render(format!("drawing the statement: {e}"))))?
    .ok_or_else(|| {
        ApiError::bad_request(format!(
            "the statement from {from} to {to} runs past {} pages: ask for a shorter period",
            documents::pdf::MAX_PAGES
        ))
    })?;
    Ok(pdf_response(
        pdf,
        &format!("statement-{id}-{from}-{to}.pdf"),
    ))
}

/// The most documents one answer of `GET /v1/reports/esf-due` lists.
pub const ESF_DUE_PAGE_MAX: usize = 1_000;
/// What it lists without `limit`.
pub const ESF_DUE_PAGE_DEFAULT: usize = 100;

/// `?limit=`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EsfDueQuery {
    /// Documents at most, the most urgent first: 1 to 1,000 (default 100).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000, example = 100)]
    pub limit: Option<String>,
}

/// The answer of `GET /v1/reports/esf-due`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct EsfDueReport {
    /// Today, in Kazakhstan: what `days_left` counts from.
    #[serde(with = "events::business_date")]
    #[schema(value_type = String, format = Date)]
    pub as_of: time::Date,
    /// How many documents are due in all.
    pub total: usize,
    /// How many of them are overdue.
    pub overdue: usize,
    /// The most urgent `limit` of them, by deadline.
    pub documents: Vec<documents::EsfDue>,
}

/// `GET /v1/reports/esf-due?limit=`: the invoices and credit notes whose ESF has not
/// been produced (`edoc-ledger esf export`), each with its deadline, 15 calendar days
/// after its turnover date (BILLING.md 6): how many in all and overdue, and the most
/// urgent first. Reads the store's invoices, credit notes and voids in one query.
#[utoipa::path(get, path = "/v1/reports/esf-due", tag = "documents", params(EsfDueQuery),
    responses((status = 200, description = "The documents whose ESF is due, by deadline", body = EsfDueReport)))]
pub async fn esf_due(
    State(state): State<AppState>,
    StrictQuery(query): StrictQuery<EsfDueQuery>,
) -> Result<axum::Json<EsfDueReport>, ApiError> {
    let limit = match query.limit.as_deref() {
        None => ESF_DUE_PAGE_DEFAULT,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=ESF_DUE_PAGE_MAX).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "limit: `{text}` is not a number of documents from 1 to {ESF_DUE_PAGE_MAX}"
                ))
            })?,
    };
    let as_of = state.ledger.today();
    let mut due = documents::esf_due(&state.ledger, as_of).await?;
    let total = due.len();
    let overdue = due.iter().filter(|document| document.overdue).count();
    due.truncate(limit);
    Ok(axum::Json(EsfDueReport {
        as_of,
        total,
        overdue,
        documents: due,
    }))
}

/// `GET /v1/agreements/{id}/invoices/{number}/esf`: the IS ESF `InvoiceV2` XML of an
/// invoice (`ORDINARY_INVOICE`) or a credit note (`ADDITIONAL_INVOICE`, related to its
/// invoice), §5.7, from the recorded event: its figures are the invoice's.
#[utoipa::path(get, path = "/v1/agreements/{id}/invoices/{number}/esf", tag = "documents",
    params(("id" = String, Path, description = "The participant's BIN/IIN"), ("number" = u64, Path, description = "The invoice's or credit note's number")),
    responses(
        (status = 200, description = "IS ESF InvoiceV2 XML (UTF-8)", body = String, content_type = "application/xml")))]
pub async fn esf(
    State(state): State<AppState>,
    AgreementItem(id, number): AgreementItem<InvoiceNumber>,
) -> Result<Response, ApiError> {
    esf_response(&state, &id, number).await
}

/// The ESF XML of invoice or credit note `number` of agreement `id` (shared with the
/// back office).
pub(crate) async fn esf_response(
    state: &AppState,
    id: &events::ParticipantId,
    number: InvoiceNumber,
) -> Result<Response, ApiError> {
    let seller = seller(state)?;
    let (document, customer) = documents::esf_of(&state.ledger, id, number)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "agreement {id} has no invoice or credit note number {number}"
            ))
        })?;
    Ok((
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        document.to_xml(seller, &customer),
    )
        .into_response())
}
