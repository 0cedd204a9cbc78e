//! An agreement's documents from the back office (BILLING.md 6): the ESF XML of an
//! invoice, the act of completed work of a month and the reconciliation statement as
//! PDF, the very answers of the API's document routes, for a session that may see the
//! agreement.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use events::{CalendarMonth, InvoiceNumber, ParticipantId};

use super::pages::failure;
use super::{AppState, UiSession};
use crate::http::documents::{act_response, esf_response, statement_pdf_response};
use crate::http::error::ApiError;
use crate::http::queries::StatementQuery;

/// The agreement in the path, when the session may see it; else the 404 page.
fn visible(session: &UiSession, id: &str) -> Result<ParticipantId, Box<Response>> {
    ParticipantId::parse(id)
        .ok()
        .filter(|participant| session.may_see(participant.as_str()))
        .ok_or_else(|| Box::new(super::pages::agreement_not_found(session, id)))
}

/// A document, or its problem in words.
fn answered(session: &UiSession, answer: Result<Response, ApiError>) -> Response {
    answer.unwrap_or_else(|error| {
        let (status, words) = super::problem_in_words(error);
        failure(
            session,
            status,
            &format!("Документ не сформирован: {words}."),
        )
    })
}

/// `GET /ui/agreements/{id}/invoices/{number}/esf`: the invoice's ESF XML.
pub async fn esf(
    State(state): State<AppState>,
    session: UiSession,
    Path((id, number)): Path<(String, String)>,
) -> Response {
    let participant = match visible(&session, &id) {
        Ok(participant) => participant,
        Err(refused) => return *refused,
    };
    let Ok(number) = InvoiceNumber::parse(&number) else {
        return failure(&session, StatusCode::NOT_FOUND, "Нет такого счёта.");
    };
    answered(&session, esf_response(&state, &participant, number).await)
}

#[derive(Debug, Deserialize)]
pub struct ActQuery {
    month: String,
}

/// `GET /ui/agreements/{id}/act?month=YYYY-MM`: the act of completed work of the month.
pub async fn act(
    State(state): State<AppState>,
    session: UiSession,
    Path(id): Path<String>,
    Query(query): Query<ActQuery>,
) -> Response {
    let participant = match visible(&session, &id) {
        Ok(participant) => participant,
        Err(refused) => return *refused,
    };
    let Ok(month) = CalendarMonth::parse(query.month.trim()) else {
        return failure(
            &session,
            StatusCode::BAD_REQUEST,
            &format!("«{}» — не месяц (ГГГГ-ММ).", query.month),
        );
    };
    answered(&session, act_response(&state, &participant, month).await)
}

#[derive(Debug, Deserialize)]
pub struct PeriodQuery {
    from: Option<String>,
    to: Option<String>,
}

/// `GET /ui/agreements/{id}/statement.pdf?from=&to=`: the reconciliation statement.
pub async fn statement_pdf(
    State(state): State<AppState>,
    session: UiSession,
    Path(id): Path<String>,
    Query(query): Query<PeriodQuery>,
) -> Response {
    let participant = match visible(&session, &id) {
        Ok(participant) => participant,
        Err(refused) => return *refused,
    };
    let blank_is_none = |text: Option<String>| text.filter(|t| !t.trim().is_empty());
    let query = StatementQuery {
        from: blank_is_none(query.from),
        to: blank_is_none(query.to),
        as_of: None,
        known_at: None,
    };
    answered(
        &session,
        statement_pdf_response(&state, &participant, &query).await,
    )
}
