//! One error type for every endpoint, answered as RFC 9457 problem details
//! (`application/problem+json`, API.md).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use aggregates::{AgreementError, ErrorKind};

use crate::application::commands::LedgerError;
use crate::application::reference_book::ReferenceBookError;
use crate::application::webhooks::WebhookError;
use crate::application::StoreError;
use aggregates::late_payment::LatePaymentError;
use projections::ProjectionError;

/// The problem details body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    /// The clause of the offer that refused the request, where one did (`"5.9"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clause: Option<&'static str>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body or a parameter could not be read (400).
    #[error("{detail}")]
    BadRequest { detail: String },
    #[error("{detail}")]
    UnsupportedMediaType { detail: String },
    #[error("{detail}")]
    PayloadTooLarge { detail: String },
    #[error("{detail}")]
    NotFound { detail: String },
    /// No, a malformed, an unknown or a revoked bearer token (401).
    #[error("{detail}")]
    Unauthorized { detail: String },
    /// The caller's role may not do this (403).
    #[error("{detail}")]
    Forbidden { detail: String },
    /// The request took longer than the server allows (408).
    #[error("{detail}")]
    RequestTimeout { detail: String },
    #[error("{detail}")]
    MethodNotAllowed { detail: String },
    /// The server lacks configuration the request needs (503): the operator's details
    /// for its documents.
    #[error("{detail}")]
    NotConfigured { detail: String },
    /// An act of completed work asked for a month not closed yet (409, BILLING.md 5.4):
    /// its invoices may still change.
    #[error("the act of {month} is drawn from the month's closed books: close the month first (POST /v1/periods/{month}/close, BILLING.md 5.4); until then its invoices may still change (the billing run, corrections)")]
    MonthNotClosed { month: events::CalendarMonth },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Projection(#[from] ProjectionError),
    #[error(transparent)]
    Sweep(#[from] crate::application::sweep::SweepError),
    #[error(transparent)]
    Reference(#[from] crate::application::reference_book::ReferenceBookError),
    #[error(transparent)]
    Period(#[from] crate::application::periods::PeriodError),
    #[error(transparent)]
    Tariff(#[from] crate::application::tariff_book::TariffBookError),
    #[error(transparent)]
    Billing(#[from] crate::application::billing::BillingError),
    #[error(transparent)]
    Webhook(#[from] crate::application::webhooks::WebhookError),
    #[error(transparent)]
    Statement(#[from] crate::application::statements::import::StatementImportError),
    #[error(transparent)]
    Assignment(#[from] crate::application::statements::import::AssignmentError),
}

impl From<crate::application::queries::QueryError> for ApiError {
    fn from(error: crate::application::queries::QueryError) -> Self {
        match error {
            crate::application::queries::QueryError::Ledger(error) => Self::Ledger(error),
            crate::application::queries::QueryError::Projection(error) => Self::Projection(error),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        Self::Ledger(LedgerError::Store(error))
    }
}

impl ApiError {
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::BadRequest {
            detail: detail.into(),
        }
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::NotFound {
            detail: detail.into(),
        }
    }

    /// The problem this error is answered with: status, type slug, detail, clause.
    pub(crate) fn problem(&self) -> (StatusCode, &'static str, String, Option<&'static str>) {
        match self {
            Self::BadRequest { detail } => (
                StatusCode::BAD_REQUEST,
                "invalid-request",
                detail.clone(),
                None,
            ),
            Self::UnsupportedMediaType { detail } => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                detail.clone(),
                None,
            ),
            Self::PayloadTooLarge { detail } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                detail.clone(),
                None,
            ),
            Self::NotFound { detail } => (StatusCode::NOT_FOUND, "not-found", detail.clone(), None),
            Self::Unauthorized { detail } => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                detail.clone(),
                None,
            ),
            Self::RequestTimeout { detail } => (
                StatusCode::REQUEST_TIMEOUT,
                "request-timeout",
                detail.clone(),
                None,
            ),
            Self::Forbidden { detail } => {
                (StatusCode::FORBIDDEN, "forbidden", detail.clone(), None)
            }
            Self::MethodNotAllowed { detail } => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                detail.clone(),
                None,
            ),
            Self::NotConfigured { detail } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "not-configured",
                detail.clone(),
                None,
            ),
            Self::MonthNotClosed { .. } => (
                StatusCode::CONFLICT,
                "month-not-closed",
                self.to_string(),
                Some(events::Clause::PERIOD_CLOSE.as_str()),
            ),
            Self::Ledger(LedgerError::Refused(refusal)) => refusal_problem(refusal),
            Self::Ledger(LedgerError::ConflictRetriesExhausted { .. }) => (
                StatusCode::CONFLICT,
                "concurrent-write",
                self.to_string(),
                None,
            ),
            Self::Ledger(LedgerError::IdempotencyKeyReused { .. }) => (
                StatusCode::CONFLICT,
                "idempotency-key-reused",
                self.to_string(),
                None,
            ),
            Self::Ledger(LedgerError::Render(_)) => internal(),
            Self::Ledger(LedgerError::Store(StoreError::Unavailable(_))) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "store-unavailable",
                "the event store does not answer; retry later with the same Idempotency-Key (or payment reference), which records the command at most once".to_owned(),
                None,
            ),
            Self::Ledger(LedgerError::Store(_)) => internal(),
            Self::Projection(ProjectionError::NotRegisteredAsOf(_)) => {
                (StatusCode::NOT_FOUND, "not-found", self.to_string(), None)
            }
            Self::Projection(ProjectionError::PeriodReversed { .. }) => (
                StatusCode::BAD_REQUEST,
                "invalid-request",
                self.to_string(),
                None,
            ),
            Self::Projection(ProjectionError::LatePayment(LatePaymentError::Reference(_))) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "missing-reference-data",
                format!("{self}: the figure cannot be computed until the reference data is loaded"),
                Some("5.9"),
            ),
            // A total beyond the ledger's range (amounts each within it, their sum not:
            // one agreement's, or the aging report's across agreements): the figure cannot
            // be given; the data asked about, not the server, is out of range.
            Self::Projection(ProjectionError::Money(events::MoneyError::Overflow)) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "amount-out-of-range",
                format!(
                    "a total of the figures asked for would pass the largest amount the ledger holds ({}), so it cannot be given",
                    events::amount_max()
                ),
                None,
            ),
            Self::Projection(_) => internal(),
            Self::Sweep(crate::application::sweep::SweepError::InTheFuture { .. }) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "rule-violation",
                self.to_string(),
                None,
            ),
            Self::Sweep(crate::application::sweep::SweepError::PeriodClosed { .. }) => (
                StatusCode::CONFLICT,
                "period-closed",
                self.to_string(),
                Some(events::Clause::PERIOD_CLOSE.as_str()),
            ),
            Self::Sweep(crate::application::sweep::SweepError::EarlierThanLatest { .. }) => (
                StatusCode::CONFLICT,
                "state-conflict",
                self.to_string(),
                None,
            ),
            Self::Sweep(crate::application::sweep::SweepError::Store(StoreError::Unavailable(_))) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "store-unavailable",
                "the event store does not answer; retry the sweep later".to_owned(),
                None,
            ),
            Self::Sweep(_) => internal(),
            // A version that breaks its table's rules (BILLING.md 1): the detail names
            // the field; nothing was recorded.
            Self::Reference(ReferenceBookError::Invalid(_)) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-reference-version",
                self.to_string(),
                None,
            ),
            Self::Reference(ReferenceBookError::Contended(_)) => (
                StatusCode::CONFLICT,
                "concurrent-write",
                self.to_string(),
                None,
            ),
            Self::Reference(ReferenceBookError::Store(StoreError::Unavailable(_))) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "store-unavailable",
                "the event store does not answer; retry later (publishing the same version again records nothing new)".to_owned(),
                None,
            ),
            Self::Reference(ReferenceBookError::Store(_)) => internal(),
            Self::Period(error) => period_problem(error),
            Self::Tariff(error) => tariff_problem(error),
            Self::Billing(crate::application::billing::BillingError::Store(StoreError::Unavailable(_))) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "store-unavailable",
                "the event store does not answer; run the month again later (what was issued is not issued twice)".to_owned(),
                None,
            ),
            Self::Billing(crate::application::billing::BillingError::Store(_)) => internal(),
            Self::Billing(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-billing-run",
                self.to_string(),
                Some(events::Clause::BILLING_RUN.as_str()),
            ),
            Self::Webhook(WebhookError::Invalid(detail)) => (
                StatusCode::BAD_REQUEST,
                "invalid-request",
                detail.clone(),
                None,
            ),
            Self::Webhook(WebhookError::NotFound(_)) => {
                (StatusCode::NOT_FOUND, "not-found", self.to_string(), None)
            }
            Self::Webhook(WebhookError::Store(StoreError::Unavailable(_))) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "store-unavailable",
                "the event store does not answer; retry later".to_owned(),
                None,
            ),
            Self::Webhook(WebhookError::Store(_)) => internal(),
            Self::Statement(error) => statement_problem(error),
            Self::Assignment(error) => assignment_problem(error),
        }
    }
}

/// Why a bank statement was refused (INTEGRATION.md 2): nothing of it was recorded. A
/// file that is not one (not a statement, malformed, truncated) is 400; one read but
/// refused (an unknown camt version, a too precise amount, totals that disagree) 422.
fn statement_problem(
    error: &crate::application::statements::import::StatementImportError,
) -> (StatusCode, &'static str, String, Option<&'static str>) {
    use crate::application::statements::import::StatementImportError;
    use crate::application::statements::StatementError;
    let detail = format!("{error}; nothing was recorded");
    match error {
        StatementImportError::Invalid(StatementError::TooLarge { .. }) => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            detail,
            None,
        ),
        StatementImportError::Invalid(
            StatementError::NotAStatement(_)
            | StatementError::MalformedXml(_)
            | StatementError::Truncated(_)
            | StatementError::MalformedOneC { .. }
            | StatementError::UnknownEncoding,
        ) => (StatusCode::BAD_REQUEST, "invalid-statement", detail, None),
        StatementImportError::Invalid(_) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-statement",
            detail,
            None,
        ),
        // The statement is stored before its payments are recorded: cut short here, it
        // is resumed (nothing recorded twice) by loading the same file again.
        StatementImportError::Ledger(error) => {
            let (status, kind, detail, clause) =
                ApiError::Ledger(clone_ledger_error(error)).problem();
            let detail = if status.is_server_error() {
                format!(
                    "{detail}; the import may be part done: send the same file again to complete it (nothing is recorded twice)"
                )
            } else {
                detail
            };
            (status, kind, detail, clause)
        }
    }
}

/// Why an unmatched line was not assigned.
fn assignment_problem(
    error: &crate::application::statements::import::AssignmentError,
) -> (StatusCode, &'static str, String, Option<&'static str>) {
    use crate::application::statements::import::AssignmentError;
    let detail = error.to_string();
    match error {
        AssignmentError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", detail, None),
        AssignmentError::NotUnmatched(_) => {
            (StatusCode::CONFLICT, "line-not-unmatched", detail, None)
        }
        AssignmentError::Invalid(_) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "rule-violation",
            detail,
            None,
        ),
        AssignmentError::Ledger(error) => ApiError::Ledger(clone_ledger_error(error)).problem(),
    }
}

/// A ledger error's problem is decided by its kind; the store's error is not `Clone`, so
/// it is carried over by its kind and text.
fn clone_ledger_error(error: &LedgerError) -> LedgerError {
    match error {
        LedgerError::Refused(refusal) => LedgerError::Refused(refusal.clone()),
        LedgerError::ConflictRetriesExhausted { attempts } => {
            LedgerError::ConflictRetriesExhausted {
                attempts: *attempts,
            }
        }
        LedgerError::IdempotencyKeyReused { key } => {
            LedgerError::IdempotencyKeyReused { key: key.clone() }
        }
        LedgerError::Render(text) => LedgerError::Render(text.clone()),
        LedgerError::Store(StoreError::Unavailable(e)) => LedgerError::Store(
            StoreError::Unavailable(sqlx::Error::Protocol(e.to_string())),
        ),
        LedgerError::Store(e) => LedgerError::Store(StoreError::Corrupt(e.to_string())),
    }
}

/// Why a tariff version was not published (BILLING.md 2): the detail names the field;
/// nothing was recorded.
fn tariff_problem(
    error: &crate::application::tariff_book::TariffBookError,
) -> (StatusCode, &'static str, String, Option<&'static str>) {
    use crate::application::tariff_book::TariffBookError;
    let detail = error.to_string();
    match error {
        TariffBookError::Invalid(aggregates::tariffs::TariffError::NotInTheFuture { .. }) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-tariff-version",
            detail,
            Some(events::Clause::TARIFF_CHANGE.as_str()),
        ),
        TariffBookError::Invalid(_) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-tariff-version",
            detail,
            None,
        ),
        TariffBookError::Contended(_) => (StatusCode::CONFLICT, "concurrent-write", detail, None),
        TariffBookError::Store(StoreError::Unavailable(_)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "store-unavailable",
            "the event store does not answer; retry later (publishing the same version again records nothing new)".to_owned(),
            None,
        ),
        TariffBookError::Store(_) => internal(),
    }
}

/// Why a month cannot be closed (BILLING.md 5.4).
fn period_problem(
    error: &crate::application::periods::PeriodError,
) -> (StatusCode, &'static str, String, Option<&'static str>) {
    use crate::application::periods::PeriodError;
    let clause = Some(events::Clause::PERIOD_CLOSE.as_str());
    let detail = error.to_string();
    match error {
        PeriodError::InvalidPeriod(_) => (StatusCode::BAD_REQUEST, "invalid-request", detail, None),
        PeriodError::AlreadyClosed { .. } => (
            StatusCode::CONFLICT,
            "period-already-closed",
            detail,
            clause,
        ),
        PeriodError::NotOver { .. } => (StatusCode::CONFLICT, "period-not-over", detail, clause),
        PeriodError::EarlierMonthOpen { .. } => {
            (StatusCode::CONFLICT, "earlier-period-open", detail, clause)
        }
        PeriodError::Contended => (StatusCode::CONFLICT, "concurrent-write", detail, None),
        PeriodError::Money(_) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "amount-out-of-range",
            detail,
            clause,
        ),
        PeriodError::Store(crate::application::StoreError::Unavailable(_)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "store-unavailable",
            "the event store does not answer; retry the close later (a closed month answers 409)"
                .to_owned(),
            None,
        ),
        PeriodError::Store(_) => internal(),
    }
}

fn refusal_problem(
    refusal: &AgreementError,
) -> (StatusCode, &'static str, String, Option<&'static str>) {
    let clause = refusal.clause().map(|c| c.as_str());
    let detail = refusal.to_string();
    // BILLING.md 5.4: its own problem type, so that a feed can tell it from a state
    // conflict it could wait out.
    if let AgreementError::PeriodClosed { .. } = refusal {
        return (StatusCode::CONFLICT, "period-closed", detail, clause);
    }
    match refusal.kind() {
        ErrorKind::NotFound => (StatusCode::NOT_FOUND, "not-found", detail, clause),
        ErrorKind::Conflict => (StatusCode::CONFLICT, "state-conflict", detail, clause),
        ErrorKind::RuleViolation => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "rule-violation",
            detail,
            clause,
        ),
        ErrorKind::Internal => internal(),
    }
}

fn internal() -> (StatusCode, &'static str, String, Option<&'static str>) {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the ledger failed to answer; the failure is logged and nothing was recorded".to_owned(),
        None,
    )
}

fn title(status: StatusCode) -> &'static str {
    status.canonical_reason().unwrap_or("Error")
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, slug, detail, clause) = self.problem();
        if matches!(
            self,
            Self::Ledger(LedgerError::Store(_))
                | Self::Sweep(crate::application::sweep::SweepError::Store(_))
                | Self::Statement(
                    crate::application::statements::import::StatementImportError::Ledger(
                        LedgerError::Store(_)
                    )
                )
                | Self::Assignment(
                    crate::application::statements::import::AssignmentError::Ledger(
                        LedgerError::Store(_)
                    )
                )
        ) {
            crate::metrics::record_store_error();
        }
        if status.is_server_error() {
            // Logged once, here; the caller gets no internals.
            tracing::error!(error = %self, ?self, "request failed");
        }
        let problem = Problem {
            problem_type: format!("urn:edoc-ledger:problem:{slug}"),
            title: title(status),
            status: status.as_u16(),
            detail,
            clause,
        };
        let mut response = (status, axum::Json(problem)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"edoc-ledger\""),
            );
        }
        response
    }
}
