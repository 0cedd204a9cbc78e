//! `POST /v1/sweeps` (API.md): run the dunning sweep as of a date.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use time::Date;

use events::{business_date, AgreementEvent};

use super::error::ApiError;
use super::json::StrictJson;
use super::AppState;
use crate::sweep::SweepReport;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sweeps", post(sweep))
        .route("/v1/reports/dunning", axum::routing::get(dunning))
}

/// The body of `POST /v1/sweeps`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SweepRequest {
    #[serde(with = "business_date")]
    pub as_of: Date,
    /// Charge the §5.9 fine on each late invoice (the operator's policy; default true).
    #[serde(default)]
    #[schema(default = true)]
    pub charge_fines: Option<bool>,
}

/// Runs the sweep in a task of its own, so that it finishes even if the caller goes
/// away; a second sweep for the same date returns empty lists.
#[utoipa::path(post, path = "/v1/sweeps", tag = "operations", request_body = SweepRequest,
    responses((status = 200, description = "What the sweep recorded (§4.2, §5.9, §10.3)", body = SweepReport)))]
pub async fn sweep(
    State(state): State<AppState>,
    super::agreements::RequestContext(context): super::agreements::RequestContext,
    StrictJson(request): StrictJson<SweepRequest>,
) -> Result<axum::response::Response, ApiError> {
    // With an Idempotency-Key, a repeat gets the first report. The sweep's own steps are
    // idempotent for a date, so the key is stored when the sweep has finished.
    if let Some(stored) = state.ledger.stored_answer(&context).await? {
        return Ok(super::idempotency::response(stored));
    }
    let ledger = state.ledger.clone();
    let charge_fines = request.charge_fines.unwrap_or(true);
    let actor = context.actor.clone();
    let report = tokio::spawn(async move {
        crate::sweep::run(&ledger, &actor, request.as_of, charge_fines, |_, _| {}).await
    })
    .await
    .map_err(|e| {
        ApiError::Ledger(
            crate::store::StoreError::Corrupt(format!("the sweep task failed: {e}")).into(),
        )
    })??;
    let answer = crate::ledger::Answer {
        status: 200,
        body: serde_json::to_string(&report)
            .map_err(|e| ApiError::Ledger(crate::ledger::LedgerError::Render(e.to_string())))?,
        replayed: false,
    };
    Ok(super::idempotency::response(
        state.ledger.remember_answer(&context, answer).await?,
    ))
}

/// `?as_of=&charge_fines=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DunningQuery {
    /// The date the sweep would run as of (YYYY-MM-DD); default today.
    #[param(value_type = Option<String>, format = Date, example = "2026-03-01")]
    pub as_of: Option<String>,
    /// Whether the sweep would charge the §5.9 fine on each late invoice; default true.
    #[param(default = true)]
    pub charge_fines: Option<bool>,
}

/// One action the next sweep would record.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DunningAction {
    pub participant_id: String,
    pub name: String,
    /// The event the sweep would record: `FineCharged`, `Suspended`, `Blocked`,
    /// `Reinstated`, `Unblocked` or `Terminated`.
    pub action: String,
    /// The clause of the offer behind it.
    pub clause: String,
    /// The rule in words.
    pub rule: String,
}

/// `GET /v1/reports/dunning`: what a sweep as of the date would record, agreement by
/// agreement, recording nothing (billing staff look before they act).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DunningReport {
    #[serde(with = "business_date")]
    #[schema(value_type = String, format = Date)]
    pub as_of: Date,
    pub actions: Vec<DunningAction>,
    /// Agreements the sweep would skip, with why.
    pub skipped: Vec<crate::sweep::SkippedAgreement>,
}

fn rule_of(event: &AgreementEvent) -> &'static str {
    match event {
        AgreementEvent::PenaltyCharged(e) if e.settlement => {
            "the termination's effective date: the penalty accrued is charged (§10.3)"
        }
        AgreementEvent::FineCharged(e) if e.settlement => {
            "the termination's effective date: the fine accrued is charged (§10.3)"
        }
        AgreementEvent::FineCharged(_) => "a late invoice: the fine of 2 MRP (§5.9)",
        AgreementEvent::Suspended(_) => "an invoice overdue for more than 15 days (§4.2, §5.9)",
        AgreementEvent::Blocked(_) => {
            "an invoice not paid in full more than 3 months past its due date (§4.2)"
        }
        AgreementEvent::Reinstated(e)
            if e.reason.as_str() == aggregates::dunning::MANUAL_OVERDUE_LIFTED =>
        {
            aggregates::dunning::MANUAL_OVERDUE_LIFTED
        }
        AgreementEvent::Reinstated(_) => "nothing is overdue beyond 15 days any more (§4.2)",
        AgreementEvent::Unblocked(_) => "the debt is repaid (§4.2)",
        AgreementEvent::Terminated(_) => "the termination is due and everything is settled (§10.3)",
        _ => "",
    }
}

#[utoipa::path(get, path = "/v1/reports/dunning", tag = "reports", params(DunningQuery),
    responses((status = 200, description = "What the next sweep would record", body = DunningReport)))]
pub async fn dunning(
    State(state): State<AppState>,
    super::queries::StrictQuery(query): super::queries::StrictQuery<DunningQuery>,
) -> Result<Json<DunningReport>, ApiError> {
    let as_of = super::queries::parse_date("as_of", query.as_of.as_deref())?
        .unwrap_or_else(|| state.ledger.today());
    let services = aggregates::AgreementServices {
        reference: state.ledger.reference().await?,
        today: as_of.max(state.ledger.today()),
        next_invoice_number: None,
    };
    let command = commands::SweepAgreement {
        as_of,
        charge_fines: query.charge_fines.unwrap_or(true),
    };
    let mut report = DunningReport {
        as_of,
        actions: Vec::new(),
        skipped: Vec::new(),
    };
    state
        .ledger
        .repository()
        .for_each_ledger(crate::store::LEDGERS_TABLE, |row| {
            let ledger = row.decode()?;
            let decided = ledger.agreement.decide(
                commands::AgreementCommand::Sweep(command.clone()),
                &services,
            );
            match decided {
                Ok(events) => {
                    for event in events {
                        report.actions.push(DunningAction {
                            participant_id: row.participant_id.clone(),
                            name: row.name.clone(),
                            action: event.type_name().to_owned(),
                            clause: event.clause().as_str().to_owned(),
                            rule: rule_of(&event).to_owned(),
                        });
                    }
                }
                Err(refusal) => report.skipped.push(crate::sweep::SkippedAgreement {
                    participant_id: row.participant_id.clone(),
                    reason: refusal.to_string(),
                }),
            }
            Ok(())
        })
        .await
        .map_err(|e| ApiError::Ledger(e.into()))?;
    Ok(Json(report))
}
