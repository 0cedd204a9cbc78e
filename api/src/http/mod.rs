//! The HTTP API (API.md): one router per resource, merged here, with the layers every
//! request passes through.

pub mod agreements;
pub mod audit;
pub mod auth;
pub mod billing;
pub mod documents;
pub mod error;
pub mod extract;
pub mod feed;
pub mod idempotency;
pub mod openapi;
pub mod periods;
pub mod queries;
pub mod reference;
pub mod replica;
pub mod statements;
pub mod sweeps;
pub mod tariffs;
pub mod ui;
pub mod usage;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderName, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::application::Ledger;
use error::ApiError;

/// The header that carries a request's id: taken from the caller when given, otherwise
/// made up, echoed in the answer and recorded in every event the request causes.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// How long one request may take before it is answered 408 (nothing half-recorded: a
/// command's append is one transaction).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a bank statement's import may take (INTEGRATION.md 2: 10,000 lines and more
/// in one request). Each chunk of its payments commits on its own; an import cut short
/// is loaded again and completes the rest (what was recorded is a duplicate then).
pub const STATEMENT_IMPORT_TIMEOUT: Duration = Duration::from_secs(300);

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub ledger: Arc<Ledger>,
    /// The operator as the seller of its documents (BILLING.md 6), when configured.
    pub seller: Option<Arc<crate::application::documents::esf::Seller>>,
    /// The replica queries read, when configured (`--read-database-url`).
    pub replica: Option<Arc<crate::application::replica::ReadReplica>>,
}

/// Builds the whole application; shared by `serve` and the tests.
pub fn app(state: AppState) -> Router {
    let request_id = HeaderName::from_static(REQUEST_ID_HEADER);
    Router::new()
        .route("/healthz", get(health))
        .route("/openapi.json", get(openapi::openapi_json))
        .merge(agreements::router())
        .merge(queries::router())
        .merge(sweeps::router())
        .merge(periods::router())
        .merge(reference::router())
        .merge(tariffs::router())
        .merge(billing::router())
        .merge(usage::router())
        .merge(feed::router())
        .merge(webhooks::router())
        .merge(audit::router())
        .merge(statements::router())
        .merge(documents::router())
        .merge(<utoipa_scalar::Scalar<_> as utoipa_scalar::Servable<_>>::with_url(
            openapi::DOCS_PATH,
            openapi::document(),
        ))
        .route_layer(axum::middleware::from_fn(idempotency::fingerprint))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            replica::route_reads,
        ))
        .route("/metrics", get(metrics))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authorize,
        ))
        // The back office signs in with a session, not a bearer token (INTEGRATION.md 3).
        .merge(ui::router())
        .route_layer(axum::middleware::from_fn(track))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(DefaultBodyLimit::max(extract::REQUEST_BODY_BYTES_MAX))
        .layer(axum::middleware::from_fn(|request: axum::extract::Request, next| {
            // The feed may wait for an event (`wait`) before it answers.
            let limit = if request.uri().path() == "/v1/events" {
                REQUEST_TIMEOUT + crate::application::feed::FEED_WAIT_MAX
            } else if request.uri().path() == statements::IMPORT_PATH
                || request.uri().path() == ui::UPLOAD_PATH
            {
                // A statement of 10,000 lines and more is imported in one request.
                STATEMENT_IMPORT_TIMEOUT
            } else {
                REQUEST_TIMEOUT
            };
            time_limit(limit, request, next)
        }))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
            let request_id = request
                .headers()
                .get(REQUEST_ID_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id)
        }))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

#[derive(Serialize, utoipa::ToSchema)]
struct Health {
    status: &'static str,
    store: String,
}

/// 200 when the event store answers, 503 when it does not (API.md).
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "The store answers; 503 when not", body = Health)))]
async fn health(State(state): State<AppState>) -> impl IntoResponse {
    let (store, answered) = crate::application::queries::store_health(&state.ledger).await;
    match answered {
        Ok(()) => (
            StatusCode::OK,
            Json(Health {
                status: "ok",
                store,
            }),
        )
            .into_response(),
        Err(error) => {
            tracing::warn!(%error, "health check: the store does not answer");
            ApiError::Ledger(error.into()).into_response()
        }
    }
}

/// `GET /metrics`: the Prometheus text format (crate::metrics).
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Request counts and latencies by route and status, commands recorded by type, conflicts retried, store errors (Prometheus text format)", content_type = "text/plain", body = String)))]
pub async fn metrics() -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::metrics::render(),
    )
}

/// Answers 408 problem+json when a request takes longer than `limit`. The handler is
/// dropped there: a command's append is one transaction, so it committed whole or not
/// at all; a retry with the same Idempotency-Key tells which.
async fn time_limit(
    limit: Duration,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::RequestTimeout {
            detail: format!(
                "the request took longer than {} s; a command either recorded everything or nothing: retry it with the same Idempotency-Key",
                limit.as_secs()
            ),
        }
        .into_response(),
    }
}

/// Counts every routed request with its route, status and latency.
async fn track(
    matched: Option<axum::extract::MatchedPath>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let started = std::time::Instant::now();
    let method = request.method().clone();
    let route = matched
        .as_ref()
        .map_or("unmatched", axum::extract::MatchedPath::as_str)
        .to_owned();
    let response = next.run(request).await;
    crate::metrics::record_request(
        method.as_str(),
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("there is no resource at {}", uri.path()))
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::MethodNotAllowed {
        detail: format!("{method} is not allowed on {}", uri.path()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt as _;

    #[tokio::test]
    async fn a_request_over_the_time_limit_is_a_408_problem() {
        let app = Router::new()
            .fallback(|| async {
                tokio::time::sleep(Duration::from_millis(200)).await;
                "late"
            })
            .layer(axum::middleware::from_fn(|request, next| {
                time_limit(Duration::from_millis(20), request, next)
            }));
        let response = app
            .oneshot(
                axum::http::Request::get("/slow")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
    }
}
