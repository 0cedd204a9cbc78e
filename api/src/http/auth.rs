//! Who may call what (API.md, "Auth"; issue 6): every request but `GET /healthz`,
//! `GET /openapi.json` and `GET /docs` carries `Authorization: Bearer <token>`; the
//! token's role must be allowed on the route ([`access`]), and a `participant` token
//! reads its own agreement only: any other agreement is answered 404, exactly as one that
//! does not exist, so a participant learns nothing about others.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::Response;

use super::error::ApiError;
use super::AppState;
use crate::application::tokens::{Caller, Role};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No token needed.
    Public,
    /// A token with one of these roles; `participant` only on its own agreement.
    Roles(&'static [Role]),
}

const STAFF_READS: &[Role] = &[Role::Operator, Role::Billing, Role::Auditor];
const AGREEMENT_READS: &[Role] = &[
    Role::Operator,
    Role::Billing,
    Role::Auditor,
    Role::Participant,
];
const BILLING_COMMANDS: &[Role] = &[Role::Operator, Role::Billing];
const OPERATOR_COMMANDS: &[Role] = &[Role::Operator];

/// The access rule of a route (its method and matched path, as the router declares
/// it). A route missing from [`listed_access`] is operator-only, so a new endpoint is
/// never open by accident, a read no more than a command.
pub fn access(method: &Method, route: &str) -> Access {
    listed_access(method, route).unwrap_or(Access::Roles(OPERATOR_COMMANDS))
}

/// The routes whose access is written down, each by name: no wildcard, so that a test
/// can tell a route that was added without an entry (`http::openapi::tests`).
pub fn listed_access(method: &Method, route: &str) -> Option<Access> {
    Some(match (method.as_str(), route) {
        ("GET", "/healthz" | "/openapi.json" | "/docs") => Access::Public,
        (
            "GET",
            "/v1/agreements/{id}"
            | "/v1/agreements/{id}/balance"
            | "/v1/agreements/{id}/invoices"
            | "/v1/agreements/{id}/penalties"
            | "/v1/agreements/{id}/statement"
            | "/v1/agreements/{id}/journal"
            | "/v1/agreements/{id}/events"
            | "/v1/agreements/{id}/usage"
            // An invoice's ESF (BILLING.md 6).
            | "/v1/agreements/{id}/invoices/{number}/esf"
            // The act of completed work and the printed statement (BILLING.md 6).
            | "/v1/agreements/{id}/acts/{month}"
            | "/v1/agreements/{id}/statement.pdf"
            // The global feed: a participant's token sees its own events (INTEGRATION.md 1).
            | "/v1/events"
            // The published tariffs are for everyone (API.md: all).
            | "/v1/tariffs"
            | "/v1/tariffs/{code}",
        ) => Access::Roles(AGREEMENT_READS),
        (
            "GET",
            "/v1/agreements"
            | "/v1/reports/aging"
            // The ESF documents not produced yet (BILLING.md 6).
            | "/v1/reports/esf-due"
            | "/v1/reports/dunning"
            | "/v1/audit/verify"
            | "/v1/audit/digest"
            | "/v1/reference/{table}"
            | "/v1/periods"
            | "/v1/billing-runs/{period}"
            // A bank statement and its lines (INTEGRATION.md 2).
            | "/v1/bank-statements/{id}"
            | "/metrics",
        ) => Access::Roles(STAFF_READS),
        // Verifying against a kept digest reads only: the auditor's own tool.
        ("POST", "/v1/audit/digest/verify") => Access::Roles(STAFF_READS),
        (
            "POST",
            "/v1/agreements/{id}/invoices"
            | "/v1/agreements/{id}/payments"
            | "/v1/sweeps"
            | "/v1/reference/exchange-rates/import"
            // The corrections (API.md, "v1, second part"; BILLING.md 5.2-5.3).
            | "/v1/agreements/{id}/payments/{reference}/reversal"
            | "/v1/agreements/{id}/refunds"
            | "/v1/agreements/{id}/invoices/{number}/void"
            | "/v1/agreements/{id}/invoices/{number}/credit-notes"
            // Subscriptions, usage and the billing run (BILLING.md 2-4).
            | "/v1/agreements/{id}/subscription"
            | "/v1/usage"
            | "/v1/billing-runs"
            // Bank statements (INTEGRATION.md 2).
            | "/v1/bank-statements"
            | "/v1/bank-statements/{id}/lines/{n}/assignment",
        )
        | ("DELETE", "/v1/agreements/{id}/subscription") => Access::Roles(BILLING_COMMANDS),
        (
            "POST",
            "/v1/agreements"
            | "/v1/agreements/{id}/signature"
            | "/v1/agreements/{id}/suspension"
            | "/v1/agreements/{id}/reinstatement"
            | "/v1/agreements/{id}/block"
            | "/v1/agreements/{id}/unblock"
            | "/v1/agreements/{id}/termination"
            | "/v1/agreements/{id}/charges"
            | "/v1/agreements/{id}/waivers"
            | "/v1/agreements/{id}/force-majeure"
            | "/v1/agreements/{id}/force-majeure/end"
            // Closing a month (BILLING.md 5.4).
            | "/v1/periods/{period}/close",
        )
        | ("PUT", "/v1/reference/{table}/{range}" | "/v1/tariffs/{code}")
        // Webhook endpoints hold secrets and reach outside: the operator's alone, reads
        // included (INTEGRATION.md 1).
        | (
            "GET",
            "/v1/webhooks" | "/v1/webhooks/{webhook_id}/deliveries",
        )
        | ("POST", "/v1/webhooks" | "/v1/webhooks/{webhook_id}/resumption")
        | ("DELETE", "/v1/webhooks/{webhook_id}") => Access::Roles(OPERATOR_COMMANDS),
        _ => return None,
    })
}

/// The bearer token of a request, if it has a well-formed `Authorization` header.
fn bearer(request: &Request) -> Result<Option<&str>, ApiError> {
    let Some(value) = request.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| unauthorized("the Authorization header is not text"))?;
    match text.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(Some(token.trim()))
        }
        _ => Err(unauthorized(
            "the Authorization header must be `Bearer <token>`",
        )),
    }
}

fn unauthorized(detail: &str) -> ApiError {
    ApiError::Unauthorized {
        detail: detail.to_owned(),
    }
}

/// The middleware: resolves the caller, checks the route's rule, and hands the caller
/// to the handlers (as a request extension) so that events record its name as actor.
pub async fn authorize(
    State(state): State<AppState>,
    matched: Option<MatchedPath>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let route = matched.as_ref().map_or("", MatchedPath::as_str);
    let Access::Roles(roles) = access(request.method(), route) else {
        return Ok(next.run(request).await);
    };
    let Some(token) = bearer(&request)? else {
        return Err(unauthorized(
            "this endpoint needs `Authorization: Bearer <token>` (edoc-ledger token create)",
        ));
    };
    let caller = state
        .ledger
        .token_cache()
        .caller(state.ledger.repository(), token)
        .await
        .map_err(|e| ApiError::Ledger(e.into()))?
        .ok_or_else(|| unauthorized("the bearer token is unknown or revoked"))?;
    if !roles.contains(&caller.role) {
        return Err(ApiError::Forbidden {
            detail: format!(
                "the {} role may not {} {route}",
                caller.role.code(),
                request.method()
            ),
        });
    }
    // Not an agreement's routes: the published tariffs (for everyone) and the feed (which
    // keeps to the caller's own events itself).
    let open_to_participants = matches!(route, "/v1/events" | "/v1/tariffs" | "/v1/tariffs/{code}");
    if let Some(own) = caller
        .participant
        .as_ref()
        .filter(|_| !open_to_participants)
    {
        let asked = route
            .starts_with("/v1/agreements/{id}")
            .then(|| request.uri().path().split('/').nth(3))
            .flatten();
        if asked != Some(own.as_str()) {
            let asked = asked.unwrap_or("");
            return Err(ApiError::not_found(format!(
                "no agreement is registered for participant {asked}"
            )));
        }
    }
    request.extensions_mut().insert(caller);
    Ok(next.run(request).await)
}

/// The caller of a request that passed [`authorize`] (`None` on public routes).
pub fn caller_of(parts: &axum::http::request::Parts) -> Option<&Caller> {
    parts.extensions.get::<Caller>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_for_operators_and_billing_only_where_api_md_says() {
        let post = Method::POST;
        assert_eq!(
            access(&post, "/v1/agreements/{id}/payments"),
            Access::Roles(BILLING_COMMANDS)
        );
        assert_eq!(
            access(&post, "/v1/agreements/{id}/waivers"),
            Access::Roles(OPERATOR_COMMANDS)
        );
        for correction in [
            "/v1/agreements/{id}/payments/{reference}/reversal",
            "/v1/agreements/{id}/refunds",
            "/v1/agreements/{id}/invoices/{number}/void",
            "/v1/agreements/{id}/invoices/{number}/credit-notes",
        ] {
            assert_eq!(
                access(&post, correction),
                Access::Roles(BILLING_COMMANDS),
                "{correction}: operator, billing (API.md, v1 second part)"
            );
        }
        assert_eq!(
            access(&post, "/v1/some/new/command"),
            Access::Roles(OPERATOR_COMMANDS),
            "an unlisted route is operator-only"
        );
        assert_eq!(access(&Method::GET, "/healthz"), Access::Public);
        assert_eq!(
            access(&Method::GET, "/v1/reports/aging"),
            Access::Roles(STAFF_READS)
        );
        assert_eq!(
            access(&Method::GET, "/v1/some/new/report"),
            Access::Roles(OPERATOR_COMMANDS),
            "an unlisted read is operator-only too (issue 13)"
        );
    }
}
