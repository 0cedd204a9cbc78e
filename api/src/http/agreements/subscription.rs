//! The answer of `POST` and `DELETE /v1/agreements/{id}/subscription` (BILLING.md 2): the
//! subscription from today on, and what the request recorded.

use axum::http::StatusCode;
use serde::Serialize;
use time::Date;

use aggregates::ParticipantAgreement;
use events::{business_date, AgreementEvent, Clause};

use crate::application::commands::Committed;

/// One tariff of the subscription over a run of days.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SubscriptionSpanView {
    #[schema(value_type = String, example = "standard")]
    pub tariff: String,
    #[serde(with = "business_date")]
    #[schema(value_type = String)]
    pub from: Date,
    /// Its last day, when it ends (`null` while open).
    #[serde(with = "business_date::option")]
    #[schema(value_type = Option<String>)]
    pub last_day: Option<Date>,
    /// Ended by the agreement's termination: its last month is billed whole (§5.10).
    pub by_termination: bool,
}

/// What a subscription request recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionChange {
    Started,
    Changed,
    Ended,
    /// The subscription already said so: nothing recorded.
    Unchanged,
}

/// The subscription after a request.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SubscriptionAnswer {
    pub participant_id: String,
    pub recorded: SubscriptionChange,
    /// Every span, oldest first: the tariff by date.
    pub spans: Vec<SubscriptionSpanView>,
    /// `BILLING-2`.
    pub clause: &'static str,
}

pub fn spans(agreement: &ParticipantAgreement) -> Vec<SubscriptionSpanView> {
    agreement
        .subscription()
        .spans
        .iter()
        .map(|span| SubscriptionSpanView {
            tariff: span.tariff.to_string(),
            from: span.from,
            last_day: span.last_day,
            by_termination: span.by_termination,
        })
        .collect()
}

/// 201 for a start, 200 otherwise.
pub fn subscription_answer(committed: &Committed) -> (StatusCode, SubscriptionAnswer) {
    let recorded = committed
        .events
        .iter()
        .find_map(|envelope| match &envelope.payload {
            AgreementEvent::SubscriptionStarted(_) => Some(SubscriptionChange::Started),
            AgreementEvent::SubscriptionChanged(_) => Some(SubscriptionChange::Changed),
            AgreementEvent::SubscriptionEnded(_) => Some(SubscriptionChange::Ended),
            _ => None,
        })
        .unwrap_or(SubscriptionChange::Unchanged);
    let status = if recorded == SubscriptionChange::Started {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let participant_id = committed
        .agreement
        .registration()
        .map(|r| r.participant_id.to_string())
        .unwrap_or_default();
    (
        status,
        SubscriptionAnswer {
            participant_id,
            recorded,
            spans: spans(&committed.agreement),
            clause: Clause::SUBSCRIPTION.as_str(),
        },
    )
}
