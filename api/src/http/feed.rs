//! `GET /v1/events?after=&limit=&wait=` (API.md; INTEGRATION.md 1): the global feed,
//! long-polled; a participant token sees its own agreement's events only.

use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::{Extension, Json, Router};

use super::error::ApiError;
use super::extract::StrictQuery;
use super::AppState;
use crate::application::feed::{
    self, FeedPage, FeedRequest, FEED_PAGE_DEFAULT, FEED_PAGE_MAX, FEED_WAIT_MAX,
};
use crate::application::tokens::Caller;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/events", get(events))
}

/// The feed's query: every parameter is text here, so that a malformed one is a 400
/// naming it.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    /// The last position read (`next` of the previous page); 0 or absent: from the
    /// start.
    #[param(value_type = Option<i64>, minimum = 0, example = 0)]
    pub after: Option<String>,
    /// Events at most, 1 to 1,000 (default 100).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000, example = 100)]
    pub limit: Option<String>,
    /// How long to wait for an event when none is there yet: seconds, `30` or `30s`, at
    /// most 30 (default 0: answer at once).
    #[param(value_type = Option<String>, example = "30s")]
    pub wait: Option<String>,
}

impl FeedQuery {
    fn request(&self, caller: Option<&Caller>) -> Result<FeedRequest, ApiError> {
        let after = match self.after.as_deref() {
            None => 0,
            Some(text) => text.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "after: `{text}` is not a position (a whole number, 0 or more: the `next` of the previous page)"
                ))
            })?,
        };
        let limit = match self.limit.as_deref() {
            None => FEED_PAGE_DEFAULT,
            Some(text) => text
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=FEED_PAGE_MAX).contains(n))
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "limit: `{text}` is not a number of events from 1 to {FEED_PAGE_MAX}"
                    ))
                })?,
        };
        let wait = match self.wait.as_deref() {
            None => Duration::ZERO,
            Some(text) => text
                .strip_suffix('s')
                .unwrap_or(text)
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs)
                .filter(|wait| *wait <= FEED_WAIT_MAX)
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "wait: `{text}` is not a number of seconds from 0 to {} (`30` or `30s`)",
                        FEED_WAIT_MAX.as_secs()
                    ))
                })?,
        };
        Ok(FeedRequest {
            after,
            limit,
            wait,
            participant: caller.and_then(|caller| caller.participant.clone()),
        })
    }
}

#[utoipa::path(get, path = "/v1/events", tag = "feed", params(FeedQuery), responses((status = 200, description = "The agreements' events after the cursor in store-wide position order, every one final (no event will later appear below `next`); a participant's token sees its own", body = FeedPage)))]
async fn events(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    StrictQuery(query): StrictQuery<FeedQuery>,
) -> Result<Json<FeedPage>, ApiError> {
    let request = query.request(caller.as_ref().map(|Extension(caller)| caller))?;
    let page = feed::read(&state.ledger, &request)
        .await
        .map_err(crate::application::commands::LedgerError::from)?;
    Ok(Json(page))
}
