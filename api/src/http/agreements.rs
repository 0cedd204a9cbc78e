//! The agreement endpoints (API.md): thin handlers from HTTP to the ledger and back.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::Value;
use time::Date;

use aggregates::ParticipantAgreement;
use commands::{
    AgreementCommand, ChargeLatePayment, CreditNoteRequest, DeclareForceMajeure, EndForceMajeure,
    EndSubscription, IssueCreditNote, IssueInvoice, LiftRestriction, ReceivePayment, RefundAdvance,
    Register, RequestTermination, RestrictAccess, ReversalRequest, ReversePayment, SignAgreement,
    Subscribe, VoidInvoice, VoidRequest, WaiveLatePayment,
};
use events::{business_date, AgreementEvent, InvoiceNumber, ParticipantId, PaymentReference};
use projections::{AgreementView, InvoiceView, PaymentView};

use super::error::ApiError;
use super::extract::{
    parse_known_at, AgreementId, AgreementItem, KnownAtQuery, RequestContext, StrictJson,
    StrictQuery,
};
use super::AppState;
use crate::application::commands::{metadata, CommandContext, Committed};

mod corrections;
mod subscription;

pub use corrections::{
    CreditNoteAnswer, RefundAnswer, ReopenedInvoice, ReversalAnswer, VoidAnswer,
    WithdrawnChargeView,
};
pub use subscription::{SubscriptionAnswer, SubscriptionChange, SubscriptionSpanView};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/agreements", post(register).get(super::queries::list))
        .route("/v1/agreements/{id}", get(super::queries::agreement))
        .route("/v1/agreements/{id}/events", get(agreement_events))
        .route("/v1/agreements/{id}/signature", post(sign))
        .route("/v1/agreements/{id}/invoices", post(issue_invoice))
        .route("/v1/agreements/{id}/payments", post(receive_payment))
        .route("/v1/agreements/{id}/suspension", post(suspend))
        .route("/v1/agreements/{id}/reinstatement", post(reinstate))
        .route("/v1/agreements/{id}/block", post(block))
        .route("/v1/agreements/{id}/unblock", post(unblock))
        .route("/v1/agreements/{id}/termination", post(request_termination))
        .route("/v1/agreements/{id}/charges", post(charge))
        .route("/v1/agreements/{id}/waivers", post(waive))
        .route(
            "/v1/agreements/{id}/force-majeure",
            post(declare_force_majeure),
        )
        .route(
            "/v1/agreements/{id}/force-majeure/end",
            post(end_force_majeure),
        )
        .route(
            "/v1/agreements/{id}/payments/{reference}/reversal",
            post(reverse_payment),
        )
        .route("/v1/agreements/{id}/refunds", post(refund_advance))
        .route(
            "/v1/agreements/{id}/invoices/{number}/void",
            post(void_invoice),
        )
        .route(
            "/v1/agreements/{id}/invoices/{number}/credit-notes",
            post(issue_credit_note),
        )
        .route(
            "/v1/agreements/{id}/subscription",
            post(subscribe).delete(end_subscription),
        )
}

fn view(agreement: &ParticipantAgreement) -> Result<Json<AgreementView>, ApiError> {
    AgreementView::of(agreement)
        .map(Json)
        .ok_or_else(|| ApiError::not_found("no agreement is registered for this participant"))
}

#[utoipa::path(post, path = "/v1/agreements", tag = "agreements", request_body = commands::Register, responses((status = 201, description = "Registered (§1.13): the agreement view", body = projections::AgreementView)))]
async fn register(
    State(state): State<AppState>,
    RequestContext(context): RequestContext,
    StrictJson(command): StrictJson<Register>,
) -> Result<Response, ApiError> {
    let participant = command.participant_id.clone();
    answered(
        &state,
        &participant,
        AgreementCommand::Register(command),
        &context,
        |committed| Ok((StatusCode::CREATED, view(&committed.agreement)?)),
    )
    .await
}

/// One event as `GET /v1/agreements/{id}/events` shows it (API.md).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventView {
    pub sequence: i64,
    #[serde(rename = "type")]
    pub event_type: String,
    pub version: String,
    pub payload: Value,
    /// When the event was recorded (RFC 3339, UTC).
    #[schema(format = DateTime, example = "2026-02-02T09:15:00Z")]
    pub recorded_at: String,
    pub actor: Option<String>,
    pub clause: Option<String>,
    pub request_id: Option<String>,
    pub command: Option<String>,
    /// The event's hash in the agreement's chain (set once hash chaining is in place).
    pub hash: Option<String>,
    pub prev_hash: Option<String>,
}

#[utoipa::path(get, path = "/v1/agreements/{id}/events", tag = "agreements", params(("id" = String, Path, description = "The participant's BIN/IIN (12 digits)"), KnownAtQuery), responses((status = 200, description = "The agreement's events in order, with actor, clause and request id", body = Vec<EventView>)))]
async fn agreement_events(
    State(state): State<AppState>,
    AgreementId(id): AgreementId,
    StrictQuery(query): StrictQuery<KnownAtQuery>,
) -> Result<Json<Vec<EventView>>, ApiError> {
    let known_at = parse_known_at(query.known_at.as_deref())?;
    let stored = crate::application::queries::events_known_at(&state.ledger, &id, known_at).await?;
    if stored.is_empty() {
        return Err(ApiError::not_found(format!(
            "no agreement is registered for participant {id}"
        )));
    }
    let field =
        |metadata: &Value, key: &str| metadata.get(key).and_then(Value::as_str).map(str::to_owned);
    let events = stored
        .into_iter()
        .map(|event| {
            // The payload is stored tagged with its type ({"InvoiceIssued": {...}}); the
            // type is its own field here.
            let payload = event
                .payload
                .get(&event.event_type)
                .cloned()
                .unwrap_or(event.payload.clone());
            EventView {
                sequence: event.sequence,
                recorded_at: field(&event.metadata, metadata::RECORDED_AT)
                    .unwrap_or(event.stored_at),
                actor: field(&event.metadata, metadata::ACTOR),
                clause: field(&event.metadata, metadata::CLAUSE),
                request_id: field(&event.metadata, metadata::REQUEST_ID),
                command: field(&event.metadata, metadata::COMMAND),
                hash: field(&event.metadata, "hash"),
                prev_hash: field(&event.metadata, "prev_hash"),
                event_type: event.event_type,
                version: event.event_version,
                payload,
            }
        })
        .collect();
    Ok(Json(events))
}

/// Runs a command on the agreement in the path and answers with the agreement's view.
/// What a command handler answers: a body, with 200 or the status given.
pub trait IntoAnswer {
    fn into_answer(self) -> (StatusCode, Result<String, serde_json::Error>);
}

impl<T: Serialize> IntoAnswer for Json<T> {
    fn into_answer(self) -> (StatusCode, Result<String, serde_json::Error>) {
        (StatusCode::OK, serde_json::to_string(&self.0))
    }
}

impl<T: Serialize> IntoAnswer for (StatusCode, Json<T>) {
    fn into_answer(self) -> (StatusCode, Result<String, serde_json::Error>) {
        (self.0, serde_json::to_string(&self.1 .0))
    }
}

/// Runs a command and answers with what `respond` writes from it. With an
/// Idempotency-Key, the answer is stored with the events, and a repeat gets the stored
/// answer (with `Idempotent-Replayed: true`) while nothing is recorded.
async fn answered<A: IntoAnswer>(
    state: &AppState,
    id: &ParticipantId,
    command: AgreementCommand,
    context: &CommandContext,
    respond: impl Fn(&Committed) -> Result<A, ApiError> + Send + Sync,
) -> Result<Response, ApiError> {
    let render = |committed: &Committed| -> Result<(u16, String), String> {
        let (status, body) = respond(committed).map_err(|e| e.to_string())?.into_answer();
        Ok((status.as_u16(), body.map_err(|e| e.to_string())?))
    };
    let answer = state
        .ledger
        .execute_answered(id, command, context, &render)
        .await?;
    Ok(super::idempotency::response(answer))
}

#[utoipa::path(post, path = "/v1/agreements/{id}/signature", tag = "agreements", request_body = commands::SignAgreement, params(("id" = String, Path, description = "The participant's BIN/IIN (12 digits)")), responses((status = 200, description = "Signed (§1.5, §3.2, §10.1)", body = projections::AgreementView)))]
async fn sign(
    State(state): State<AppState>,
    AgreementId(id): AgreementId,
    RequestContext(context): RequestContext,
    StrictJson(command): StrictJson<SignAgreement>,
) -> Result<Response, ApiError> {
    answered(
        &state,
        &id,
        AgreementCommand::Sign(command),
        &context,
        move |committed| view(&committed.agreement),
    )
    .await
}

#[utoipa::path(post, path = "/v1/agreements/{id}/invoices", tag = "agreements", request_body = commands::IssueInvoice, params(("id" = String, Path, description = "The participant's BIN/IIN (12 digits)")), responses((status = 201, description = "Invoice issued: VAT by issue date (§5.11), due date (§5.4/§5.8)", body = projections::InvoiceView)))]
async fn issue_invoice(
    State(state): State<AppState>,
    AgreementId(id): AgreementId,
    RequestContext(context): RequestContext,
    StrictJson(command): StrictJson<IssueInvoice>,
) -> Result<Response, ApiError> {
    answered(
        &state,
        &id,
        AgreementCommand::IssueInvoice(command),
        &context,
        move |committed| {
            let mut issued = None;
            let mut advance = None;
            for envelope in &committed.events {
                match &envelope.payload {
                    AgreementEvent::InvoiceIssued(event) => issued = Some(event),
                    AgreementEvent::AdvanceApplied(event) => advance = Some(event),
                    _ => {}
                }
            }
            let issued = issued.expect("an accepted IssueInvoice records InvoiceIssued");
            Ok((StatusCode::CREATED, Json(InvoiceView::of(issued, advance))))
        },
    )
    .await
}

#[utoipa::path(post, path = "/v1/agreements/{id}/payments", tag = "agreements", request_body = commands::ReceivePayment, params(("id" = String, Path, description = "The participant's BIN/IIN (12 digits)")), responses((status = 201, description = "Payment recorded and allocated (§5.5, CC art. 282)", body = projections::PaymentView), (status = 200, description = "A repeat of a reference already recorded: the first allocation, nothing recorded", body = projections::PaymentView)))]
async fn receive_payment(
    State(state): State<AppState>,
    AgreementId(id): AgreementId,
    RequestContext(context): RequestContext,
    StrictJson(command): StrictJson<ReceivePayment>,
) -> Result<Response, ApiError> {
    let reference = command.reference.as_str().to_owned();
    answered(
        &state,
        &id,
        AgreementCommand::ReceivePayment(command),
        &context,
        move |committed| {
            // A repeated reference records nothing and answers the first allocation with 200.
            let status = if committed.events.is_empty() {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            let payment = PaymentView::of(&committed.agreement, &reference)
                .expect("an accepted payment is recorded under its reference");
            Ok((status, Json(payment)))
        },
    )
    .await
}

#[utoipa::path(post, path = "/v1/agreements/{id}/suspension", tag = "agreements", request_body = commands::RestrictAccess, params(("id" = String, Path, description = "The participant's BIN/IIN (12 digits)")), responses((status = 200, description = "Access suspended (§4.2)", body = projections::AgreementView)))]
async fn suspend(
    State(state): State<AppState>,
    AgreementId(id): AgreementId,
    RequestContext(context): RequestContext,
    StrictJson(command): StrictJson<RestrictAccess>,
) -> Result<Response, ApiError> {
    answered(
        &state,
        &id,
        AgreementCommand::Suspend(command),
        &context,
        move |committed| view(&committed.agreement),
    )
    .await
}

#[utoipa::path(post, path = "/v1/agreements/{id}/reinstatement", tag = "agreements", request_body = commands::LiftRestriction, params(("id" = String, Path, description = "The participant's BIN/IIN (12 digits)")), responses((status = 200, description = "Suspension lifted (§4.2)", body = projections::AgreementView)))]
async fn reinstate(
    State(state): State<AppState>,
    AgreementId(id): AgreementId,
    RequestContext(context): RequestContext,
    StrictJson(command): StrictJson<LiftRestriction>,
) -> Result<Response, ApiError> {
    answered(
        &state,
        &id,
        AgreementCommand::Reinstate(command),
        &context,
        move |committed| view(&committed.agreement),
    )
    .await
}

#[utoipa::path(post, path = "/v1/agreements/{id}/block", tag = "agreements", request_body = commands::RestrictAccess, params(("id" = String, Path, description = "The participant's BIN/IIN (12 digits)")), responses((status = 200, description = "Participant blocked (§4.2)", body = projections::AgreementView)))]
async fn block(
    State(state): State<AppState>,
    AgreementId(id): AgreementId,
    RequestContext(context): RequestContext,
    StrictJson(command): StrictJson<RestrictAccess>,
) -> Result<Response, ApiError> {
    answered(
        &state,
        &id,
        AgreementCommand::Block(command),
        &context,
        move |committed| view(&committed.agreement),
    )
    .await
}

#[utoipa::path(post, path = "/v1/agreements/{id}/unblock", tag = "agreements", request_body = commands::LiftRestriction, params(("id" = String, Path, description = "The participant's BIN/IIN (12 digits)")), responses((status = 200, description = "Block lifted (§4.2)", body = projections::AgreementView)))]
async fn unblock(
    State(state): State<AppState>,
    AgreementId(id): AgreementId,
    RequestContext(context): RequestContext,
    StrictJson(command): StrictJson<LiftRestriction>,
) -> Result<Response, ApiError> {
    answered(
        &state,
        &id,
        AgreementCommand::Unblock(command),
        &context,
        move |committed| view(&committed.agreement),
    )
    .await
}

/// The answer to a termination notice: the agreement, and when it ends.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TerminationAnswer {
    #[serde(with = "business_date")]
    pub effective_on: Date,
    #[serde(flatten)]
    pub agreement: AgreementView,
}

#[utoipa::path(post, path = "/v1/agreements/{id}/termination", tag = "agreements", request_body = commands::RequestTermination, params(("id" = String, Path, description = "The participant's BIN/IIN (12 digits)")), responses((status = 200, description = "Termination notice recorded (§10.2)", body = TerminationAnswer)))]
async fn request_termination(
    State(state): State<AppState>,
    AgreementId(id): AgreementId,
    RequestContext(context): RequestContext,
    StrictJson(command): StrictJson<RequestTermination>,
) -> Result<Response, ApiError> {
    answered(
        &state,
        &id,
        AgreementCommand::RequestTermination(command),
        &context,
        move |committed| {
            let Json(agreement) = view(&committed.agreement)?;
            let effective_on = agreement
                .header
                .termination
                .as_ref()
                .map(|t| t.effective_on)
                .expect("an accepted termination notice sets the effective date");
            Ok(Json(TerminationAnswer {
                effective_on,
                agreement,
            }))
        },
    )
    .await
}

/// The answer to `POST /v1/agreements/{id}/charges`: what was charged and how §5.9
/// computes it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChargeAnswer {
    pub invoice_number: events::InvoiceNumber,
    pub kind: events::LateChargeKind,
    #[serde(with = "business_date")]
    pub on: Date,
    #[serde(with = "projections::money_string")]
    pub amount: events::Money,
    /// The part an advance held settled at once.
    #[serde(with = "projections::money_string")]
    pub settled_from_advance: events::Money,
    /// The penalty accrual or fine assessment the amount comes from.
    pub explanation: Value,
    pub clause: &'static str,
}

#[utoipa::path(post, path = "/v1/agreements/{id}/charges", tag = "agreements", request_body = commands::ChargeLatePayment, params(("id" = String, Path, description = "The participant's BIN/IIN (12 digits)")), responses((status = 201, description = "Penalty or fine charged as §5.9 allows", body = ChargeAnswer)))]
async fn charge(
    State(state): State<AppState>,
    AgreementId(id): AgreementId,
    RequestContext(context): RequestContext,
    StrictJson(command): StrictJson<ChargeLatePayment>,
) -> Result<Response, ApiError> {
    let kind = command.kind;
    answered(
        &state,
        &id,
        AgreementCommand::ChargeLatePayment(command),
        &context,
        move |committed| {
            let mut answer = None;
            let mut settled = None;
            for envelope in &committed.events {
                match &envelope.payload {
                    AgreementEvent::PenaltyCharged(e) => {
                        answer = Some((
                            e.invoice_number,
                            e.on,
                            e.amount,
                            serde_json::to_value(&e.accrual),
                        ))
                    }
                    AgreementEvent::FineCharged(e) => {
                        answer = Some((
                            e.invoice_number,
                            e.on,
                            e.amount,
                            serde_json::to_value(&e.assessment),
                        ))
                    }
                    AgreementEvent::AdvanceApplied(e) => settled = Some(e.amount),
                    _ => {}
                }
            }
            let (invoice_number, on, amount, explanation) =
                answer.expect("an accepted charge records its charge event");
            Ok((
                StatusCode::CREATED,
                Json(ChargeAnswer {
                    invoice_number,
                    kind,
                    on,
                    amount,
                    settled_from_advance: settled.unwrap_or(events::Money::zero(amount.currency())),
                    explanation: explanation.unwrap_or(Value::Null),
                    clause: events::Clause::LATE_PAYMENT.as_str(),
                }),
            ))
        },
    )
    .await
}

/// The answer to `POST /v1/agreements/{id}/waivers`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WaiverAnswer {
    pub invoice_number: events::InvoiceNumber,
    pub kind: events::LateChargeKind,
    #[serde(with = "business_date")]
    pub on: Date,
    #[serde(with = "projections::money_string")]
    pub amount: events::Money,
    /// Waived of what had been charged: lowers the debt.
    #[serde(with = "projections::money_string")]
    pub charged_part: events::Money,
    /// Waived before it was charged: lowers what may still be charged.
    #[serde(with = "projections::money_string")]
    pub uncharged_part: events::Money,
    pub reason: String,
    pub clause: &'static str,
}

#[utoipa::path(post, path = "/v1/agreements/{id}/waivers", tag = "agreements", request_body = commands::WaiveLatePayment, params(("id" = String, Path, description = "The participant's BIN/IIN (12 digits)")), responses((status = 201, description = "Penalty or fine waived (§5.9)", body = WaiverAnswer)))]
async fn waive(
    State(state): State<AppState>,
    AgreementId(id): AgreementId,
    RequestContext(context): RequestContext,
    StrictJson(command): StrictJson<WaiveLatePayment>,
) -> Result<Response, ApiError> {
    answered(
        &state,
        &id,
        AgreementCommand::WaiveLatePayment(command),
        &context,
        move |committed| {
            let waiver = committed
                .events
                .iter()
                .find_map(|e| match &e.payload {
                    AgreementEvent::LateChargeWaived(w) => Some(w.clone()),
                    _ => None,
                })
                .expect("an accepted waiver records its event");
            Ok((
                StatusCode::CREATED,
                Json(WaiverAnswer {
                    invoice_number: waiver.invoice_number,
                    kind: waiver.kind,
                    on: waiver.on,
                    amount: waiver.amount,
                    charged_part: waiver.charged_part,
                    uncharged_part: waiver.uncharged_part,
                    reason: waiver.reason.to_string(),
                    clause: events::Clause::LATE_PAYMENT.as_str(),
                }),
            ))
        },
    )
    .await
}

/// The answer to a force majeure command: what was recorded, and the agreement after it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ForceMajeureAnswer {
    /// The events recorded (`ForceMajeureDeclared`, or `ForceMajeureEnded` and one
    /// `SubscriptionExtended` per subscription period extended, §8.3).
    #[schema(value_type = Vec<Object>)]
    pub recorded: Vec<Value>,
    pub agreement: AgreementView,
}

fn force_majeure_answer(committed: &Committed) -> Result<Json<ForceMajeureAnswer>, ApiError> {
    let recorded = committed
        .events
        .iter()
        .map(|e| {
            let mut value = serde_json::to_value(&e.payload).unwrap_or(Value::Null);
            let payload = value
                .get_mut(e.payload.type_name())
                .map(Value::take)
                .unwrap_or(Value::Null);
            serde_json::json!({"type": e.payload.type_name(), "clause": e.payload.clause().as_str(), "payload": payload})
        })
        .collect();
    let Json(agreement) = view(&committed.agreement)?;
    Ok(Json(ForceMajeureAnswer {
        recorded,
        agreement,
    }))
}

#[utoipa::path(post, path = "/v1/agreements/{id}/force-majeure", tag = "agreements",
    request_body = DeclareForceMajeure,
    params(("id" = String, Path, description = "The participant's BIN/IIN (12 digits)")),
    responses((status = 201, description = "Force majeure notified (§8.2)", body = ForceMajeureAnswer)))]
pub async fn declare_force_majeure(
    State(state): State<AppState>,
    AgreementId(id): AgreementId,
    RequestContext(context): RequestContext,
    StrictJson(command): StrictJson<DeclareForceMajeure>,
) -> Result<Response, ApiError> {
    answered(
        &state,
        &id,
        AgreementCommand::DeclareForceMajeure(command),
        &context,
        move |committed| Ok((StatusCode::CREATED, force_majeure_answer(committed)?)),
    )
    .await
}

#[utoipa::path(post, path = "/v1/agreements/{id}/force-majeure/end", tag = "agreements",
    request_body = EndForceMajeure,
    params(("id" = String, Path, description = "The participant's BIN/IIN (12 digits)")),
    responses((status = 200, description = "Force majeure ended; subscription periods extended (§8.3)", body = ForceMajeureAnswer)))]
pub async fn end_force_majeure(
    State(state): State<AppState>,
    AgreementId(id): AgreementId,
    RequestContext(context): RequestContext,
    StrictJson(command): StrictJson<EndForceMajeure>,
) -> Result<Response, ApiError> {
    answered(
        &state,
        &id,
        AgreementCommand::EndForceMajeure(command),
        &context,
        force_majeure_answer,
    )
    .await
}

#[utoipa::path(post, path = "/v1/agreements/{id}/payments/{reference}/reversal", tag = "agreements",
    request_body = commands::ReversalRequest,
    params(("id" = String, Path, description = "The participant's BIN/IIN (12 digits)"),
        ("reference" = String, Path, description = "The reference the reversed payment was recorded under")),
    responses((status = 200, description = "The bank returned the payment (BILLING.md 5.2): undone as if never received; the invoices it reopened, their delay running from their due date (§5.9). 404: no such payment; 409: already reversed", body = ReversalAnswer)))]
async fn reverse_payment(
    State(state): State<AppState>,
    AgreementItem(id, reference): AgreementItem<PaymentReference>,
    RequestContext(context): RequestContext,
    StrictJson(request): StrictJson<ReversalRequest>,
) -> Result<Response, ApiError> {
    let command = ReversePayment {
        reference,
        on: request.on,
        reason: request.reason,
    };
    answered(
        &state,
        &id,
        AgreementCommand::ReversePayment(command),
        &context,
        |committed| corrections::reversal_answer(committed).map(Json),
    )
    .await
}

#[utoipa::path(post, path = "/v1/agreements/{id}/refunds", tag = "agreements",
    request_body = commands::RefundAdvance,
    params(("id" = String, Path, description = "The participant's BIN/IIN (12 digits)")),
    responses((status = 201, description = "Advance paid back (BILLING.md 5.2); 422 (§5.10) beyond the advance held", body = RefundAnswer),
        (status = 200, description = "A repeat of a reference already recorded with the same amount and date: the first refund, nothing recorded", body = RefundAnswer)))]
async fn refund_advance(
    State(state): State<AppState>,
    AgreementId(id): AgreementId,
    RequestContext(context): RequestContext,
    StrictJson(command): StrictJson<RefundAdvance>,
) -> Result<Response, ApiError> {
    // A repeated reference records nothing and is answered with the first refund; the
    // advance it left is kept only by its event, read here before the command runs.
    let original =
        crate::application::queries::recorded_refund(&state.ledger, &id, &command.reference)
            .await?;
    let requested = command.clone();
    answered(
        &state,
        &id,
        AgreementCommand::RefundAdvance(command),
        &context,
        move |committed| {
            let (status, answer) =
                corrections::refund_answer(committed, original.as_ref(), &requested);
            Ok((status, Json(answer)))
        },
    )
    .await
}

#[utoipa::path(post, path = "/v1/agreements/{id}/invoices/{number}/void", tag = "agreements",
    request_body = commands::VoidRequest,
    params(("id" = String, Path, description = "The participant's BIN/IIN (12 digits)"),
        ("number" = String, Path, description = "The invoice's number")),
    responses((status = 200, description = "Invoice voided (BILLING.md 5.3): its number stays used; its unpaid charges cancelled. 409 when money is allocated to it or it is already void", body = VoidAnswer)))]
async fn void_invoice(
    State(state): State<AppState>,
    AgreementItem(id, number): AgreementItem<InvoiceNumber>,
    RequestContext(context): RequestContext,
    StrictJson(request): StrictJson<VoidRequest>,
) -> Result<Response, ApiError> {
    let command = VoidInvoice {
        number,
        on: request.on,
        reason: request.reason,
    };
    answered(
        &state,
        &id,
        AgreementCommand::VoidInvoice(command),
        &context,
        |committed| Ok(Json(corrections::void_answer(committed))),
    )
    .await
}

#[utoipa::path(post, path = "/v1/agreements/{id}/invoices/{number}/credit-notes", tag = "agreements",
    request_body = commands::CreditNoteRequest,
    params(("id" = String, Path, description = "The participant's BIN/IIN (12 digits)"),
        ("number" = String, Path, description = "The number of the invoice credited")),
    responses((status = 201, description = "Credit note issued (BILLING.md 5.3): the next number of the series, VAT at the invoice's own rate (§5.11); beyond the outstanding, advance; charges its lower penalty base no longer accrues withdrawn. 422 beyond the net not yet credited, or `lines` and `net` both or neither", body = CreditNoteAnswer)))]
async fn issue_credit_note(
    State(state): State<AppState>,
    AgreementItem(id, invoice_number): AgreementItem<InvoiceNumber>,
    RequestContext(context): RequestContext,
    StrictJson(request): StrictJson<CreditNoteRequest>,
) -> Result<Response, ApiError> {
    let command = IssueCreditNote {
        invoice_number,
        on: request.on,
        reason: request.reason,
        lines: request.lines,
        net: request.net,
    };
    answered(
        &state,
        &id,
        AgreementCommand::IssueCreditNote(command),
        &context,
        |committed| {
            Ok((
                StatusCode::CREATED,
                Json(corrections::credit_note_answer(committed)),
            ))
        },
    )
    .await
}

#[utoipa::path(post, path = "/v1/agreements/{id}/subscription", tag = "agreements",
    request_body = commands::Subscribe,
    params(("id" = String, Path, description = "The participant's BIN/IIN (12 digits)")),
    responses(
        (status = 201, description = "Subscribed from `from` (BILLING.md 2, §4.1)", body = SubscriptionAnswer),
        (status = 200, description = "The tariff changes from the first day of a month (`from` when it is one and still ahead, else the next); the same tariff again records nothing", body = SubscriptionAnswer)))]
pub async fn subscribe(
    State(state): State<AppState>,
    AgreementId(id): AgreementId,
    RequestContext(context): RequestContext,
    StrictJson(command): StrictJson<Subscribe>,
) -> Result<Response, ApiError> {
    answered(
        &state,
        &id,
        AgreementCommand::Subscribe(command),
        &context,
        |committed| {
            let (status, answer) = subscription::subscription_answer(committed);
            Ok((status, Json(answer)))
        },
    )
    .await
}

#[utoipa::path(delete, path = "/v1/agreements/{id}/subscription", tag = "agreements",
    request_body = commands::EndSubscription,
    params(("id" = String, Path, description = "The participant's BIN/IIN (12 digits)")),
    responses((status = 200, description = "The subscription ends on `on`, a month's last day not before today (BILLING.md 2)", body = SubscriptionAnswer)))]
pub async fn end_subscription(
    State(state): State<AppState>,
    AgreementId(id): AgreementId,
    RequestContext(context): RequestContext,
    StrictJson(command): StrictJson<EndSubscription>,
) -> Result<Response, ApiError> {
    answered(
        &state,
        &id,
        AgreementCommand::EndSubscription(command),
        &context,
        |committed| {
            let (status, answer) = subscription::subscription_answer(committed);
            Ok((status, Json(answer)))
        },
    )
    .await
}
