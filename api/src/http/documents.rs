//! The documents of an agreement (API.md; BILLING.md 6): the ESF of an invoice or a
//! credit note.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use events::InvoiceNumber;

use super::error::ApiError;
use super::extract::{AgreementItem, StrictQuery};
use super::AppState;
use crate::application::documents;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/agreements/{id}/invoices/{number}/esf", get(esf))
        .route("/v1/reports/esf-due", get(esf_due))
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
    let seller = state.seller.as_deref().ok_or_else(|| ApiError::NotConfigured {
        detail: "the operator's details for its ESF documents are not configured: set EDOC_OPERATOR_BIN, EDOC_OPERATOR_NAME, EDOC_OPERATOR_ADDRESS, EDOC_OPERATOR_IIK, EDOC_OPERATOR_BIK and EDOC_OPERATOR_KBE (docs/operations.md)".to_owned(),
    })?;
    let (document, customer) = documents::esf_of(&state.ledger, &id, number)
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
