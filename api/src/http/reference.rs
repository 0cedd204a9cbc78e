//! Reference data the operator publishes (API.md "v1, second part"; BILLING.md 1):
//! `GET /v1/reference/{table}`, `PUT /v1/reference/{table}/{range}` and
//! `POST /v1/reference/exchange-rates/import` (the National Bank's daily rates XML).
//!
//! A published version is an event of the reference stream (api::application::reference_book). It
//! applies to computations made after it is recorded; figures already recorded keep the
//! version they name. Publishing what is already in force records nothing and says so.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::Date;

use aggregates::reference::parse_nbk_rates;
use events::{ReferenceContent, ReferenceTable};

use super::error::ApiError;
use super::extract::{parse_known_at, KnownAtQuery, RequestContext, StrictQuery};
use super::AppState;
use crate::application::commands::{Answer, CommandContext};
use crate::application::reference_book::{Publication, Publisher, RecordedVersion};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/reference/{table}", get(versions))
        .route("/v1/reference/{table}/{range}", put(publish))
        .route("/v1/reference/exchange-rates/import", post(import_rates))
}

fn table_of(text: &str) -> Result<ReferenceTable, ApiError> {
    ReferenceTable::parse(text).ok_or_else(|| {
        ApiError::bad_request(format!(
            "`table`: `{text}` is not a reference table (calendar, mrp, vat, exchange-rates)"
        ))
    })
}

/// `GET /v1/reference/{table}`: the versions in force, one per range, and the earlier
/// ones they replaced.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReferenceVersions {
    pub table: ReferenceTable,
    /// One per range, ascending by range.
    pub in_force: Vec<RecordedVersion>,
    /// Replaced versions, newest first.
    pub earlier: Vec<RecordedVersion>,
}

#[utoipa::path(get, path = "/v1/reference/{table}", tag = "reference",
    params(("table" = String, Path, description = "calendar, mrp, vat or exchange-rates"), KnownAtQuery),
    responses((status = 200, description = "The versions in force and the earlier ones (BILLING.md 1); with `known_at`, as published by then", body = ReferenceVersions)))]
pub async fn versions(
    State(state): State<AppState>,
    Path(table): Path<String>,
    StrictQuery(query): StrictQuery<KnownAtQuery>,
) -> Result<Json<ReferenceVersions>, ApiError> {
    let table = table_of(&table)?;
    let known_at = parse_known_at(query.known_at.as_deref())?;
    let book = reference_book(&state)?;
    let stream = match known_at {
        None => book.state().await?,
        Some(known_at) => std::sync::Arc::new(book.state_known_at(known_at).await?),
    };
    let mut in_force: Vec<RecordedVersion> = stream
        .versions
        .iter()
        .filter(|v| v.table == table && v.in_force)
        .cloned()
        .collect();
    in_force.sort_by(|a, b| a.range.cmp(&b.range));
    let earlier = stream
        .versions
        .iter()
        .rev()
        .filter(|v| v.table == table && !v.in_force)
        .cloned()
        .collect();
    Ok(Json(ReferenceVersions {
        table,
        in_force,
        earlier,
    }))
}

fn reference_book(
    state: &AppState,
) -> Result<&crate::application::reference_book::ReferenceBook, ApiError> {
    state
        .ledger
        .reference_book()
        .map(|book| book.as_ref())
        .ok_or_else(|| {
            ApiError::Ledger(
                crate::application::StoreError::Corrupt(
                    "this server reads no reference stream".to_owned(),
                )
                .into(),
            )
        })
}

/// `PUT /v1/reference/calendar/{year}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarVersionBody {
    /// The weekdays of the year that are not working days (holidays, moved days off).
    #[serde(with = "events::business_date::vec")]
    #[schema(value_type = Vec<String>, example = json!(["2027-01-01", "2027-01-04"]))]
    pub non_working: Vec<Date>,
    /// The Saturdays and Sundays of the year that are working days.
    #[serde(default, with = "events::business_date::vec")]
    #[schema(value_type = Vec<String>)]
    pub working_weekends: Vec<Date>,
    /// True until the government's decree on moved days off is known.
    #[serde(default)]
    pub provisional: bool,
    /// The law or decree.
    pub source: String,
}

/// `PUT /v1/reference/mrp/{year}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MrpVersionBody {
    /// The MRP of the year in KZT, a string: `"4500"`.
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, example = "4500")]
    pub mrp: Decimal,
    /// The budget law.
    pub source: String,
}

/// `PUT /v1/reference/vat/{effective_from}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VatVersionBody {
    /// The rate as a fraction, a string: `"0.16"` for 16%.
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, example = "0.16")]
    pub rate: Decimal,
    pub source: String,
}

/// `PUT /v1/reference/exchange-rates/{date}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateVersionBody {
    /// KZT for one USD on the date, a string: `"512.34"`.
    #[serde(rename = "USD", with = "rust_decimal::serde::str")]
    #[schema(value_type = String, example = "512.34")]
    pub usd: Decimal,
    pub source: String,
}

/// What a publication did for one range.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PublishedVersion {
    pub table: ReferenceTable,
    pub range: String,
    /// The version in force for the range now.
    pub version: String,
    /// False when the version in force already said the same: nothing was recorded.
    pub recorded: bool,
    pub detail: String,
}

fn answered(publication: &Publication) -> Vec<PublishedVersion> {
    let recorded = publication.recorded.iter().map(|r| PublishedVersion {
        table: r.table,
        range: r.range.clone(),
        version: r.version.clone(),
        recorded: true,
        detail: format!(
            "recorded as {}: in force for computations from now on; figures already recorded keep the version they name",
            r.version
        ),
    });
    let unchanged = publication.unchanged.iter().map(|r| PublishedVersion {
        table: r.table,
        range: r.range.clone(),
        version: r.version.clone(),
        recorded: false,
        detail: format!(
            "no change from the version in force ({}): nothing recorded",
            r.version
        ),
    });
    recorded.chain(unchanged).collect()
}

fn parse_year(range: &str) -> Result<i32, ApiError> {
    if range.len() == 4 && range.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(year) = range.parse() {
            return Ok(year);
        }
    }
    Err(ApiError::bad_request(format!(
        "`range`: `{range}` is not a year (YYYY)"
    )))
}

fn parse_range_date(range: &str) -> Result<Date, ApiError> {
    events::business_date::parse(range).map_err(|e| ApiError::bad_request(format!("`range`: {e}")))
}

/// The content a PUT body publishes for its table and range.
fn content_of(
    table: ReferenceTable,
    range: &str,
    body: &[u8],
) -> Result<(ReferenceContent, String), ApiError> {
    Ok(match table {
        ReferenceTable::Calendar => {
            let year = parse_year(range)?;
            let body: CalendarVersionBody = super::extract::parse(body)?;
            (
                ReferenceContent::Calendar {
                    year,
                    non_working: body.non_working,
                    working_weekends: body.working_weekends,
                    provisional: body.provisional,
                },
                body.source,
            )
        }
        ReferenceTable::Mrp => {
            let year = parse_year(range)?;
            let body: MrpVersionBody = super::extract::parse(body)?;
            (
                ReferenceContent::Mrp {
                    year,
                    mrp: body.mrp,
                },
                body.source,
            )
        }
        ReferenceTable::Vat => {
            let effective_from = parse_range_date(range)?;
            let body: VatVersionBody = super::extract::parse(body)?;
            (
                ReferenceContent::Vat {
                    effective_from,
                    rate: body.rate,
                },
                body.source,
            )
        }
        ReferenceTable::ExchangeRates => {
            let date = parse_range_date(range)?;
            let body: RateVersionBody = super::extract::parse(body)?;
            (
                ReferenceContent::ExchangeRate {
                    date,
                    usd_kzt: body.usd,
                },
                body.source,
            )
        }
    })
}

/// Publishes and answers, once per Idempotency-Key (a repeat gets the first answer;
/// without a key, publishing the same version again records nothing new anyway).
async fn publish_answered(
    state: &AppState,
    context: &CommandContext,
    contents: Vec<ReferenceContent>,
    source: &str,
    command: &'static str,
    render: impl Fn(&Publication) -> Result<String, serde_json::Error>,
) -> Result<axum::response::Response, ApiError> {
    if let Some(stored) = state.ledger.stored_answer(context).await? {
        return Ok(super::idempotency::response(stored));
    }
    let publisher = Publisher {
        actor: context.actor.clone(),
        request_id: context.request_id.clone(),
        command,
    };
    let answer_of = |publication: &Publication| -> Result<Answer, ApiError> {
        Ok(Answer {
            status: 200,
            body: render(publication).map_err(|e| {
                ApiError::Ledger(crate::application::commands::LedgerError::Render(
                    e.to_string(),
                ))
            })?,
            replayed: false,
        })
    };
    // With an Idempotency-Key, the key and this answer commit with the versions; when
    // nothing is recorded (no change), the key is stored alone below.
    let publication = reference_book(state)?
        .publish(
            contents,
            source,
            &publisher,
            state.ledger.now_utc(),
            |publication| {
                let answer = answer_of(publication).ok()?;
                state.ledger.idempotency_record(context, &answer)
            },
        )
        .await?;
    let answer = answer_of(&publication)?;
    // Versions recorded committed the key with them; only "no change" stores it now.
    if !publication.recorded.is_empty() {
        return Ok(super::idempotency::response(answer));
    }
    Ok(super::idempotency::response(
        state.ledger.remember_answer(context, answer).await?,
    ))
}

#[utoipa::path(put, path = "/v1/reference/{table}/{range}", tag = "reference",
    params(
        ("table" = String, Path, description = "calendar, mrp, vat or exchange-rates"),
        ("range" = String, Path, description = "a year (calendar, mrp: 2027), a start date (vat) or a date (exchange-rates)"),
    ),
    request_body(description = "The table's own shape: CalendarVersionBody, MrpVersionBody, VatVersionBody or RateVersionBody", content(
        (CalendarVersionBody = "application/json"),
    )),
    responses((status = 200, description = "The version id, and whether anything was recorded", body = PublishedVersion)))]
pub async fn publish(
    State(state): State<AppState>,
    Path((table, range)): Path<(String, String)>,
    RequestContext(context): RequestContext,
    headers: HeaderMap,
    body: Bytes,
) -> Result<axum::response::Response, ApiError> {
    let table = table_of(&table)?;
    require_content_type(&headers, &["application/json"], "JSON")?;
    let (content, source) = content_of(table, &range, &body)?;
    publish_answered(
        &state,
        &context,
        vec![content],
        &source,
        "reference.publish",
        |publication| {
            let mut answers = answered(publication);
            serde_json::to_string(&answers.remove(0))
        },
    )
    .await
}

fn require_content_type(
    headers: &HeaderMap,
    accepted: &[&str],
    what: &str,
) -> Result<(), ApiError> {
    let essence = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|value| value.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if accepted.contains(&essence.as_str()) {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType {
            detail: format!(
                "the request body must be {what}, sent with `Content-Type: {}`",
                accepted[0]
            ),
        })
    }
}

/// The rates loaded from a National Bank file.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImportedRates {
    /// The date the file's rates apply on.
    #[serde(with = "events::business_date")]
    #[schema(value_type = String, format = Date)]
    pub date: Date,
    pub loaded: Vec<ImportedRate>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImportedRate {
    /// `USD`.
    pub currency: &'static str,
    /// KZT for one unit (the published rate divided by its quant).
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, example = "512.34")]
    pub kzt_per_unit: Decimal,
    pub version: String,
    pub recorded: bool,
    pub detail: String,
}

#[utoipa::path(post, path = "/v1/reference/exchange-rates/import", tag = "reference",
    request_body(description = "The National Bank's daily rates XML (`<rates><date>DD.MM.YYYY</date><item><title>USD</title><quant>1</quant><description>RATE</description></item>...</rates>`)", content_type = "application/xml", content = String),
    responses((status = 200, description = "The date and the rates loaded (§5.1)", body = ImportedRates)))]
pub async fn import_rates(
    State(state): State<AppState>,
    RequestContext(context): RequestContext,
    headers: HeaderMap,
    body: Bytes,
) -> Result<axum::response::Response, ApiError> {
    require_content_type(&headers, &["application/xml", "text/xml"], "XML")?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("`body`: the rates file is not UTF-8 text"))?;
    let rate = parse_nbk_rates(text).map_err(|e| {
        ApiError::Reference(crate::application::reference_book::ReferenceBookError::Invalid(e))
    })?;
    let content = ReferenceContent::ExchangeRate {
        date: rate.date,
        usd_kzt: rate.usd_kzt,
    };
    let date = rate.date;
    publish_answered(
        &state,
        &context,
        vec![content],
        "National Bank of Kazakhstan, official rates file",
        "reference.import",
        move |publication| {
            let loaded = answered(publication)
                .into_iter()
                .map(|p| ImportedRate {
                    currency: "USD",
                    kzt_per_unit: rate.usd_kzt,
                    version: p.version,
                    recorded: p.recorded,
                    detail: p.detail,
                })
                .collect();
            serde_json::to_string(&ImportedRates { date, loaded })
        },
    )
    .await
}
