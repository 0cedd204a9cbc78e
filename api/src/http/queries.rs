//! The query endpoints (API.md, "Queries"): thin handlers over the stored projections.
//!
//! Every query takes `as_of` (a date, default today in Kazakhstan): only events with a
//! business date up to the end of that day count, and penalties accrue to that date.
//! One agreement's query reads that agreement's stored ledger only. Every query also takes
//! `known_at` (BILLING.md 5.1): then the answer is the one the ledger gave at that moment,
//! folded from the events recorded up to then (the second time axis, docs/api.md).

use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use events::business_date;
use projections::{
    AgingReport, AgreementHeader, AgreementLedger, AgreementView, BalanceExplanation, BalanceView,
    InvoiceStatusView, JournalView, PenaltyView, StatementView,
};

use super::error::ApiError;
use super::extract::{parse_date, parse_known_at, AgreementId, StrictQuery};
use super::AppState;
use crate::application::queries::{self, PAGE_SIZE_MAX};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/agreements/{id}/balance", get(balance))
        .route("/v1/agreements/{id}/invoices", get(invoices))
        .route("/v1/agreements/{id}/penalties", get(penalties))
        .route("/v1/agreements/{id}/statement", get(statement))
        .route("/v1/agreements/{id}/journal", get(journal))
        .route("/v1/reports/aging", get(aging))
}

/// The default page size of `GET /v1/agreements`.
pub const PAGE_SIZE_DEFAULT: u32 = 50;

/// `?as_of=YYYY-MM-DD`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AsOfQuery {
    /// The view as of the end of this business day (YYYY-MM-DD, Kazakhstan); default today.
    #[param(value_type = Option<String>, format = Date, example = "2026-03-01")]
    pub as_of: Option<String>,
    /// The answer as the ledger gave it at this moment, from the events recorded up to
    /// then (BILLING.md 5.1): an RFC 3339 timestamp, or a date meaning the end of that day
    /// in Kazakhstan. `as_of` then defaults to that day. Absent: from everything known now.
    #[param(value_type = Option<String>, example = "2026-11-27T10:00:00Z")]
    pub known_at: Option<String>,
}

impl AsOfQuery {
    fn date(&self, state: &AppState) -> Result<Date, ApiError> {
        Ok(as_of_or_default(
            state,
            parse_date("as_of", self.as_of.as_deref())?,
            self.known_at()?,
        ))
    }

    fn known_at(&self) -> Result<Option<OffsetDateTime>, ApiError> {
        parse_known_at(self.known_at.as_deref())
    }
}

/// The stored ledger of the agreement in the path, or 404.
pub async fn stored_ledger(
    state: &AppState,
    id: &events::ParticipantId,
) -> Result<AgreementLedger, ApiError> {
    queries::stored_ledger(&state.ledger, id)
        .await?
        .ok_or_else(|| not_registered(id))
}

/// The stored ledger of the agreement in the path (or 404) and the reference tables in
/// force, in one round trip when the cached tables are current.
pub async fn stored_ledger_and_reference(
    state: &AppState,
    id: &events::ParticipantId,
) -> Result<(AgreementLedger, std::sync::Arc<aggregates::ReferenceData>), ApiError> {
    queries::stored_ledger_and_reference(&state.ledger, id)
        .await?
        .ok_or_else(|| not_registered(id))
}

/// The agreement's ledger and the reference tables: from the stored projection, or as
/// known at `known_at` (folded from the events recorded by then), or 404.
async fn ledger_for(
    state: &AppState,
    id: &events::ParticipantId,
    known_at: Option<OffsetDateTime>,
) -> Result<(AgreementLedger, std::sync::Arc<aggregates::ReferenceData>), ApiError> {
    match known_at {
        None => stored_ledger_and_reference(state, id).await,
        Some(known_at) => queries::ledger_known_at(&state.ledger, id, known_at)
            .await?
            .ok_or_else(|| not_registered(id)),
    }
}

/// The agreement's ledger, stored or as known at `known_at`, or 404.
async fn ledger_only(
    state: &AppState,
    id: &events::ParticipantId,
    known_at: Option<OffsetDateTime>,
) -> Result<AgreementLedger, ApiError> {
    match known_at {
        None => stored_ledger(state, id).await,
        Some(known_at) => queries::known_ledger(&state.ledger, id, known_at)
            .await?
            .ok_or_else(|| not_registered(id)),
    }
}

/// `as_of` when given; else today, or the day of `known_at` in Kazakhstan when that is
/// earlier (the default the ledger used at that moment).
pub(super) fn as_of_or_default(
    state: &AppState,
    as_of: Option<Date>,
    known_at: Option<OffsetDateTime>,
) -> Date {
    let today = state.ledger.today();
    as_of.unwrap_or_else(|| match known_at {
        Some(known_at) => crate::application::commands::business_date_of(known_at).min(today),
        None => today,
    })
}

fn not_registered(id: &events::ParticipantId) -> ApiError {
    ApiError::not_found(format!("no agreement is registered for participant {id}"))
}

/// `GET /v1/agreements/{id}?as_of=`.
#[utoipa::path(get, path = "/v1/agreements/{id}", tag = "queries", params(("id" = String, Path, description = "The participant's BIN/IIN (12 digits)"), AsOfQuery), responses((status = 200, description = "The agreement as of a date", body = projections::AgreementView)))]
pub async fn agreement(
    super::replica::ReadState(state): super::replica::ReadState,
    AgreementId(id): AgreementId,
    StrictQuery(query): StrictQuery<AsOfQuery>,
) -> Result<Json<AgreementView>, ApiError> {
    let as_of = query.date(&state)?;
    Ok(Json(
        ledger_only(&state, &id, query.known_at()?)
            .await?
            .agreement_as_of(as_of)?,
    ))
}

/// `?as_of=&explain=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BalanceQuery {
    /// The balance as of the end of this business day (YYYY-MM-DD, Kazakhstan); default today.
    #[param(value_type = Option<String>, format = Date, example = "2026-03-01")]
    pub as_of: Option<String>,
    /// `true`: add `explanation`, every figure with the terms it adds up to, their events
    /// (sequence, type, date, hash) and clauses. `false` or absent: the plain balance.
    #[param(default = false)]
    pub explain: Option<bool>,
    /// The answer as the ledger gave it at this moment, from the events recorded up to
    /// then (BILLING.md 5.1): an RFC 3339 timestamp, or a date meaning the end of that day
    /// in Kazakhstan. `as_of` then defaults to that day. Absent: from everything known now.
    #[param(value_type = Option<String>, example = "2026-11-27T10:00:00Z")]
    pub known_at: Option<String>,
}

/// The answer of `GET /v1/agreements/{id}/balance`: the plain balance, or with
/// `explain=true` the same fields plus `explanation`.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum BalanceAnswer {
    Plain(Box<BalanceView>),
    Explained(Box<BalanceExplanation>),
}

/// Either schema (`anyOf`, not `oneOf`: an explained answer is also a valid plain one).
impl utoipa::PartialSchema for BalanceAnswer {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::AnyOfBuilder;
        use utoipa::openapi::Ref;
        AnyOfBuilder::new()
            .item(Ref::from_schema_name("BalanceView"))
            .item(Ref::from_schema_name("BalanceExplanation"))
            .description(Some(
                "`BalanceView` without `explain` (or with `explain=false`); `BalanceExplanation` (the same fields plus `explanation`) with `explain=true`",
            ))
            .into()
    }
}

impl utoipa::ToSchema for BalanceAnswer {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        use utoipa::PartialSchema;
        schemas.push((BalanceView::name().into_owned(), BalanceView::schema()));
        BalanceView::schemas(schemas);
        schemas.push((
            BalanceExplanation::name().into_owned(),
            BalanceExplanation::schema(),
        ));
        BalanceExplanation::schemas(schemas);
    }
}

/// `GET /v1/agreements/{id}/balance?as_of=&explain=`. Without `explain` the answer is
/// exactly the plain balance; with it, the events' hashes are read from the store (only
/// then) and put beside each source. The hashes of recorded events never change, so
/// reading them after the ledger row is safe: every source is at or below the row's
/// version, and the store has at least those events.
#[utoipa::path(get, path = "/v1/agreements/{id}/balance", tag = "queries", params(("id" = String, Path, description = "The participant's BIN/IIN (12 digits)"), BalanceQuery), responses((status = 200, description = "Balance as of a date; with `explain=true` every figure explained down to its events and clauses", body = BalanceAnswer)))]
async fn balance(
    super::replica::ReadState(state): super::replica::ReadState,
    AgreementId(id): AgreementId,
    StrictQuery(query): StrictQuery<BalanceQuery>,
) -> Result<Json<BalanceAnswer>, ApiError> {
    let known_at = parse_known_at(query.known_at.as_deref())?;
    let as_of = as_of_or_default(
        &state,
        parse_date("as_of", query.as_of.as_deref())?,
        known_at,
    );
    let (ledger, reference) = ledger_for(&state, &id, known_at).await?;
    let reference = &reference;
    if !query.explain.unwrap_or(false) {
        return Ok(Json(BalanceAnswer::Plain(Box::new(
            ledger.balance(as_of, reference)?,
        ))));
    }
    let explained = ledger.explain_balance(as_of, reference)?;
    let hashes = queries::event_hashes(&state.ledger, &id).await?;
    Ok(Json(BalanceAnswer::Explained(Box::new(
        explained.with_hashes(|sequence| hashes.get(&sequence).cloned()),
    ))))
}

#[utoipa::path(get, path = "/v1/agreements/{id}/invoices", tag = "queries", params(("id" = String, Path, description = "The participant's BIN/IIN (12 digits)"), AsOfQuery), responses((status = 200, description = "Invoices with what is paid, owed and accrued", body = Vec<projections::InvoiceStatusView>)))]
async fn invoices(
    super::replica::ReadState(state): super::replica::ReadState,
    AgreementId(id): AgreementId,
    StrictQuery(query): StrictQuery<AsOfQuery>,
) -> Result<Json<Vec<InvoiceStatusView>>, ApiError> {
    let as_of = query.date(&state)?;
    let (ledger, reference) = ledger_for(&state, &id, query.known_at()?).await?;
    Ok(Json(ledger.invoices(as_of, &reference)?))
}

#[utoipa::path(get, path = "/v1/agreements/{id}/penalties", tag = "queries", params(("id" = String, Path, description = "The participant's BIN/IIN (12 digits)"), AsOfQuery), responses((status = 200, description = "Penalty and fine per late invoice, explained (§5.9)", body = Vec<projections::PenaltyView>)))]
async fn penalties(
    super::replica::ReadState(state): super::replica::ReadState,
    AgreementId(id): AgreementId,
    StrictQuery(query): StrictQuery<AsOfQuery>,
) -> Result<Json<Vec<PenaltyView>>, ApiError> {
    let as_of = query.date(&state)?;
    let (ledger, reference) = ledger_for(&state, &id, query.known_at()?).await?;
    Ok(Json(ledger.penalties(as_of, &reference)?))
}

#[utoipa::path(get, path = "/v1/agreements/{id}/journal", tag = "queries", params(("id" = String, Path, description = "The participant's BIN/IIN (12 digits)"), AsOfQuery), responses((status = 200, description = "Double-entry postings and trial balance", body = projections::JournalView)))]
async fn journal(
    super::replica::ReadState(state): super::replica::ReadState,
    AgreementId(id): AgreementId,
    StrictQuery(query): StrictQuery<AsOfQuery>,
) -> Result<Json<JournalView>, ApiError> {
    let as_of = query.date(&state)?;
    Ok(Json(
        ledger_only(&state, &id, query.known_at()?)
            .await?
            .journal(as_of)?,
    ))
}

/// `?from=&to=&as_of=`: `to` defaults to `as_of` (today), `from` to the registration date.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StatementQuery {
    /// The first day of the statement (YYYY-MM-DD); default the registration date.
    #[param(value_type = Option<String>, format = Date, example = "2026-01-01")]
    pub from: Option<String>,
    /// The last day of the statement (YYYY-MM-DD); default `as_of`.
    #[param(value_type = Option<String>, format = Date, example = "2026-03-31")]
    pub to: Option<String>,
    /// The statement as of the end of this business day (YYYY-MM-DD); default today.
    #[param(value_type = Option<String>, format = Date, example = "2026-03-31")]
    pub as_of: Option<String>,
    /// The answer as the ledger gave it at this moment, from the events recorded up to
    /// then (BILLING.md 5.1): an RFC 3339 timestamp, or a date meaning the end of that day
    /// in Kazakhstan. `as_of` then defaults to that day. Absent: from everything known now.
    #[param(value_type = Option<String>, example = "2026-11-27T10:00:00Z")]
    pub known_at: Option<String>,
}

#[utoipa::path(get, path = "/v1/agreements/{id}/statement", tag = "queries", params(("id" = String, Path, description = "The participant's BIN/IIN (12 digits)"), StatementQuery), responses((status = 200, description = "Reconciliation statement (акт сверки)", body = projections::StatementView)))]
async fn statement(
    super::replica::ReadState(state): super::replica::ReadState,
    AgreementId(id): AgreementId,
    StrictQuery(query): StrictQuery<StatementQuery>,
) -> Result<Json<StatementView>, ApiError> {
    Ok(Json(statement_of(&state, &id, &query).await?.0))
}

/// The statement a [`StatementQuery`] asks for, with the participant's header as of its
/// last day: the JSON answer, and what the printed statement draws.
pub(super) async fn statement_of(
    state: &AppState,
    id: &events::ParticipantId,
    query: &StatementQuery,
) -> Result<(StatementView, AgreementHeader), ApiError> {
    let known_at = parse_known_at(query.known_at.as_deref())?;
    let as_of = as_of_or_default(
        state,
        parse_date("as_of", query.as_of.as_deref())?,
        known_at,
    );
    let to = parse_date("to", query.to.as_deref())?.unwrap_or(as_of);
    let ledger = ledger_only(state, id, known_at).await?;
    let header = ledger.header_as_of(to)?.clone();
    let from = match parse_date("from", query.from.as_deref())? {
        Some(from) => from,
        None => header.registered_on,
    };
    Ok((ledger.statement(from, to)?, header))
}

/// `?status=&page=&per_page=&as_of=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only agreements in this status as of `as_of`; all when not given.
    #[param(value_type = Option<aggregates::AgreementStatus>)]
    pub status: Option<String>,
    /// The page, from 1.
    #[param(minimum = 1, default = 1, example = 1)]
    pub page: Option<u32>,
    /// Agreements per page.
    #[param(minimum = 1, maximum = 500, default = 50, example = 50)]
    pub per_page: Option<u32>,
    /// The agreements as of the end of this business day (YYYY-MM-DD); default today.
    #[param(value_type = Option<String>, format = Date, example = "2026-03-01")]
    pub as_of: Option<String>,
    /// The answer as the ledger gave it at this moment, from the events recorded up to
    /// then (BILLING.md 5.1): an RFC 3339 timestamp, or a date meaning the end of that day
    /// in Kazakhstan. `as_of` then defaults to that day. Absent: from everything known now.
    #[param(value_type = Option<String>, example = "2026-11-27T10:00:00Z")]
    pub known_at: Option<String>,
}

/// A page of agreements.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AgreementPage {
    #[serde(with = "business_date")]
    pub as_of: Date,
    pub page: u32,
    pub per_page: u32,
    pub total: u64,
    pub items: Vec<AgreementView>,
}

/// `GET /v1/agreements`: by participant id. With `as_of` today (the default) the status
/// filter runs in the database on the stored current status; with an earlier date each
/// agreement's status as of that date is computed from its ledger.
#[utoipa::path(get, path = "/v1/agreements", tag = "queries", params(ListQuery), responses((status = 200, description = "A page of agreements", body = AgreementPage)))]
pub async fn list(
    super::replica::ReadState(state): super::replica::ReadState,
    StrictQuery(query): StrictQuery<ListQuery>,
) -> Result<Json<AgreementPage>, ApiError> {
    let known_at = parse_known_at(query.known_at.as_deref())?;
    let as_of = as_of_or_default(
        &state,
        parse_date("as_of", query.as_of.as_deref())?,
        known_at,
    );
    let status = match query.status.as_deref() {
        None | Some("") => None,
        Some(code) => Some(
            aggregates::AgreementStatus::ALL
                .into_iter()
                .find(|s| s.code() == code)
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "`status`: `{code}` is not one of {}",
                        aggregates::AgreementStatus::ALL
                            .map(|s| s.code())
                            .join(", ")
                    ))
                })?,
        ),
    };
    let page = query.page.unwrap_or(1);
    let per_page = query.per_page.unwrap_or(PAGE_SIZE_DEFAULT);
    if page == 0 || per_page == 0 || per_page > PAGE_SIZE_MAX {
        return Err(ApiError::bad_request(format!(
            "`page` starts at 1 and `per_page` is 1 to {PAGE_SIZE_MAX}"
        )));
    }
    let offset = u64::from(page - 1) * u64::from(per_page);
    let (items, total) = match known_at {
        None => queries::agreements_page(&state.ledger, status, as_of, offset, per_page).await?,
        Some(known_at) => {
            queries::agreements_page_known_at(
                &state.ledger,
                status,
                as_of,
                known_at,
                offset,
                per_page,
            )
            .await?
        }
    };
    Ok(Json(AgreementPage {
        as_of,
        page,
        per_page,
        total,
        items,
    }))
}

/// `GET /v1/reports/aging?as_of=`: outstanding principal by days overdue, per agreement
/// and per currency. Reads every stored ledger once, one at a time.
#[utoipa::path(get, path = "/v1/reports/aging", tag = "reports", params(AsOfQuery), responses((status = 200, description = "Outstanding by days overdue", body = projections::AgingReport)))]
async fn aging(
    super::replica::ReadState(state): super::replica::ReadState,
    StrictQuery(query): StrictQuery<AsOfQuery>,
) -> Result<Json<AgingReport>, ApiError> {
    let as_of = query.date(&state)?;
    Ok(Json(match query.known_at()? {
        None => queries::aging_report(&state.ledger, as_of).await?,
        Some(known_at) => queries::aging_report_known_at(&state.ledger, as_of, known_at).await?,
    }))
}
