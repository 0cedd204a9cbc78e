//! The tariff catalog (API.md "v1, second part"; BILLING.md 2): `PUT /v1/tariffs/{code}`
//! publishes a version, `GET /v1/tariffs[/{code}]` lists them.
//!
//! A version is an event of the tariff stream (api::application::tariff_book). It takes
//! effect only from a future date (§4.2, §5.3): the ledger never reprices the past, and
//! an invoice names the version that priced it.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use time::Date;

use aggregates::tariffs::TariffVersionRequest;
use events::{MetricName, Prices, TariffCode, TariffName};

use super::error::ApiError;
use super::extract::{parse_known_at, KnownAtQuery, RequestContext, StrictJson, StrictQuery};
use super::AppState;
use crate::application::commands::Answer;
use crate::application::tariff_book::{
    RecordedTariffVersion, TariffPublication, TariffPublisher, TariffState,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/tariffs", get(list))
        .route("/v1/tariffs/{code}", get(tariff).put(publish))
}

/// `PUT /v1/tariffs/{code}`: a new version of the tariff.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TariffVersionBody {
    /// As shown to participants.
    #[schema(value_type = String, example = "Стандарт")]
    pub name: TariffName,
    /// The first day it prices: after today (§4.2, §5.3).
    #[serde(with = "events::business_date")]
    #[schema(value_type = String, example = "2027-01-01")]
    pub effective_from: Date,
    /// The monthly fee per currency, net of VAT (§5.11), at most 2 decimals.
    pub fees: Prices,
    /// What a month's fee includes, per metric (a whole number of units).
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, u64>, example = json!({"documents": 100}))]
    pub included: BTreeMap<MetricName, u64>,
    /// The price of each unit beyond what is included, per metric and currency.
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, Prices>)]
    pub overage: BTreeMap<MetricName, Prices>,
}

/// One tariff and its versions, oldest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TariffView {
    pub code: String,
    /// The version pricing today, if any.
    pub in_force: Option<u32>,
    pub versions: Vec<RecordedTariffVersion>,
}

/// `GET /v1/tariffs`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TariffsView {
    pub tariffs: Vec<TariffView>,
}

fn parse_code(text: &str) -> Result<TariffCode, ApiError> {
    TariffCode::parse(text).map_err(|e| ApiError::bad_request(format!("`code`: {e}")))
}

async fn stream(
    state: &AppState,
    known_at: Option<&str>,
) -> Result<std::sync::Arc<TariffState>, ApiError> {
    let book = state.ledger.tariffs();
    Ok(match parse_known_at(known_at)? {
        None => book.state().await?,
        Some(known_at) => std::sync::Arc::new(book.state_known_at(known_at).await?),
    })
}

fn view(stream: &TariffState, code: &TariffCode, today: Date) -> TariffView {
    TariffView {
        code: code.to_string(),
        in_force: stream.catalog.in_force(code, today).map(|v| v.version),
        versions: stream.tariff(code).into_iter().cloned().collect(),
    }
}

#[utoipa::path(get, path = "/v1/tariffs", tag = "tariffs", params(KnownAtQuery),
    responses((status = 200, description = "Every tariff with every version and its dates (BILLING.md 2); with `known_at`, as published by then", body = TariffsView)))]
pub async fn list(
    State(state): State<AppState>,
    StrictQuery(query): StrictQuery<KnownAtQuery>,
) -> Result<Json<TariffsView>, ApiError> {
    let stream = stream(&state, query.known_at.as_deref()).await?;
    let today = state.ledger.today();
    let tariffs = stream
        .catalog
        .tariffs()
        .map(|(code, _)| view(&stream, code, today))
        .collect();
    Ok(Json(TariffsView { tariffs }))
}

#[utoipa::path(get, path = "/v1/tariffs/{code}", tag = "tariffs",
    params(("code" = String, Path, description = "The tariff's code", example = "standard"), KnownAtQuery),
    responses((status = 200, description = "The tariff's versions with their dates", body = TariffView), (status = 404, description = "No such tariff is published")))]
pub async fn tariff(
    State(state): State<AppState>,
    Path(code): Path<String>,
    StrictQuery(query): StrictQuery<KnownAtQuery>,
) -> Result<Json<TariffView>, ApiError> {
    let code = parse_code(&code)?;
    let stream = stream(&state, query.known_at.as_deref()).await?;
    if !stream.catalog.knows(&code) {
        return Err(ApiError::not_found(format!(
            "no tariff `{code}` is published"
        )));
    }
    Ok(Json(view(&stream, &code, state.ledger.today())))
}

#[utoipa::path(put, path = "/v1/tariffs/{code}", tag = "tariffs",
    params(("code" = String, Path, description = "The tariff's code: a lowercase letter, then lowercase letters, digits, - and _", example = "standard")),
    request_body = TariffVersionBody,
    responses(
        (status = 201, description = "A new version recorded: it prices from `effective_from` on (§4.2, §5.3)", body = TariffPublication),
        (status = 200, description = "The tariff's latest version already says the same: nothing recorded. (422 when `effective_from` is not after today or an included metric has no overage price; 400 for a fee with more than 2 decimals or negative)", body = TariffPublication)))]
pub async fn publish(
    State(state): State<AppState>,
    Path(code): Path<String>,
    RequestContext(context): RequestContext,
    StrictJson(body): StrictJson<TariffVersionBody>,
) -> Result<Response, ApiError> {
    let code = parse_code(&code)?;
    if let Some(stored) = state.ledger.stored_answer(&context).await? {
        return Ok(super::idempotency::response(stored));
    }
    let publisher = TariffPublisher {
        actor: context.actor.clone(),
        request_id: context.request_id.clone(),
    };
    let answer_of = |publication: &TariffPublication| -> Result<Answer, ApiError> {
        let status = if publication.recorded {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        Ok(Answer {
            status: status.as_u16(),
            body: serde_json::to_string(publication).map_err(|e| {
                ApiError::Ledger(crate::application::commands::LedgerError::Render(
                    e.to_string(),
                ))
            })?,
            replayed: false,
        })
    };
    let request = TariffVersionRequest {
        name: body.name,
        effective_from: body.effective_from,
        fees: body.fees,
        included: body.included,
        overage: body.overage,
    };
    let publication = state
        .ledger
        .tariffs()
        .publish(
            code,
            request,
            state.ledger.today(),
            &publisher,
            state.ledger.now_utc(),
            |publication| {
                let answer = answer_of(publication).ok()?;
                state.ledger.idempotency_record(&context, &answer)
            },
        )
        .await?;
    let answer = answer_of(&publication)?;
    // A recorded version committed the key with it; only "nothing recorded" stores it now.
    if publication.recorded {
        return Ok(super::idempotency::response(answer));
    }
    Ok(super::idempotency::response(
        state.ledger.remember_answer(&context, answer).await?,
    ))
}
