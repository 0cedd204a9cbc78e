//! Reads from a replica over HTTP (INTEGRATION.md 4; `application::replica`): with
//! `--read-database-url`, a query (`GET`) is served by the replica, or by the primary
//! when the replica has not replayed the position the client sent in
//! `Edoc-Min-Position` within `--read-wait-ms`; the answer says which in
//! `Edoc-Read-From`. A successful write answers `Edoc-Position`: the position to send
//! to read it back. Without a replica, nothing here runs.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::AppState;
use crate::application::replica;

/// The position a client saw (its write's, or an event's), as a request header.
pub const MIN_POSITION_HEADER: &str = "edoc-min-position";
/// The position of a write, as an answer header.
pub const POSITION_HEADER: &str = "edoc-position";
/// Where a read was served from (`replica` or `primary`), as an answer header.
pub const READ_FROM_HEADER: &str = "edoc-read-from";

/// The ledger a query reads, chosen by [`route_reads`].
#[derive(Clone)]
struct ChosenLedger(std::sync::Arc<crate::application::commands::Ledger>);

/// The application state a query handler reads with: the state, its ledger the one
/// [`route_reads`] chose (the replica or the primary).
pub struct ReadState(pub AppState);

impl FromRequestParts<AppState> for ReadState {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let mut state = state.clone();
        if let Some(ChosenLedger(ledger)) = parts.extensions.get::<ChosenLedger>() {
            state.ledger = ledger.clone();
        }
        Ok(Self(state))
    }
}

/// `Edoc-Min-Position`: a position (a whole number from 1), or 400.
fn min_position(request: &Request) -> Result<Option<i64>, ApiError> {
    let Some(value) = request.headers().get(MIN_POSITION_HEADER) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|text| text.trim().parse::<i64>().ok())
        .filter(|position| *position >= 1)
        .map(Some)
        .ok_or_else(|| {
            ApiError::bad_request(
                "`Edoc-Min-Position` must be a position (a whole number from 1), as `Edoc-Position` or the feed gives it",
            )
        })
}

/// The agreement a path under `/v1/agreements/{id}` names.
fn participant_in(path: &str) -> Option<events::ParticipantId> {
    let id = path.strip_prefix("/v1/agreements/")?.split('/').next()?;
    events::ParticipantId::parse(id).ok()
}

/// Chooses where a query reads and tells a writer its position (see the module).
pub async fn route_reads(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(replica) = state.replica.clone() else {
        return next.run(request).await;
    };
    if request.method() == Method::GET {
        let min = match min_position(&request) {
            Ok(min) => min,
            Err(error) => return error.into_response(),
        };
        let chosen = replica.choose(&state.ledger, min).await;
        request.extensions_mut().insert(ChosenLedger(chosen.ledger));
        let mut response = next.run(request).await;
        if chosen.from == replica::ReadFrom::Replica
            && response.status() == axum::http::StatusCode::SERVICE_UNAVAILABLE
        {
            // The client retries; its retry, and every read for a while, goes to the
            // primary.
            replica.failed();
        }
        response.headers_mut().insert(
            READ_FROM_HEADER,
            HeaderValue::from_static(chosen.from.as_str()),
        );
        return response;
    }
    let participant = participant_in(request.uri().path());
    let mut response = next.run(request).await;
    if response.status().is_success() {
        match replica::write_position(&state.ledger, participant.as_ref()).await {
            Ok(position) if position > 0 => {
                response
                    .headers_mut()
                    .insert(POSITION_HEADER, HeaderValue::from(position));
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "could not read the write's position"),
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_agreement_of_a_path_and_a_position_header_are_read_strictly() {
        assert_eq!(
            participant_in("/v1/agreements/120340001230/payments").map(|p| p.to_string()),
            Some("120340001230".to_owned())
        );
        assert!(participant_in("/v1/agreements").is_none());
        assert!(participant_in("/v1/sweeps").is_none());
        let request = |value: &str| {
            Request::builder()
                .header(MIN_POSITION_HEADER, value)
                .body(axum::body::Body::empty())
                .unwrap()
        };
        assert_eq!(min_position(&request("42")).unwrap(), Some(42));
        for bad in ["0", "-1", "x", "1.5"] {
            assert!(min_position(&request(bad)).is_err(), "{bad}");
        }
    }
}
