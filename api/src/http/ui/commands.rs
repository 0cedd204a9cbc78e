//! The agreement's command forms beyond the payment (API.md; BILLING.md 5.2-5.3; §4.2,
//! §5.9): suspension and reinstatement, a late charge and its waiver, a void, a credit
//! note, a payment's reversal. Each form is read into the very request the API reads
//! (the same types, the same checks) and runs the same command; refused, the page again
//! with the problem in words, nothing recorded.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use commands::{
    AgreementCommand, ChargeLatePayment, CreditNoteRequest, IssueCreditNote, LiftRestriction,
    RestrictAccess, ReversalRequest, ReversePayment, VoidInvoice, VoidRequest, WaiveLatePayment,
};
use events::{InvoiceNumber, ParticipantId, PaymentReference};

use super::pages::{agreement_page, failure, Notice};
use super::{AppState, UiSession};

/// The forms, by the last segment of their path: (kind, what it does in words, what
/// the page says once it is done).
pub const FORMS: [(&str, &str, &str); 7] = [
    (
        "suspension",
        "приостанавливать доступ",
        "Доступ приостановлен (§4.2).",
    ),
    (
        "reinstatement",
        "возобновлять доступ",
        "Доступ возобновлён (§4.2).",
    ),
    (
        "charge",
        "начислять пени и штрафы",
        "Начисление записано (§5.9).",
    ),
    (
        "waiver",
        "освобождать от пени и штрафов",
        "Освобождение записано (§5.9).",
    ),
    ("void", "аннулировать счета", "Счёт аннулирован."),
    (
        "credit-note",
        "выписывать кредит-ноты",
        "Кредит-нота выписана.",
    ),
    ("reversal", "сторнировать платежи", "Платёж сторнирован."),
];

/// The form's fields as a JSON object: trimmed, the empty ones left out (an optional
/// field not given), amounts written with a comma or spaces read as the API reads them.
fn request<T: DeserializeOwned>(
    form: &HashMap<String, String>,
    names: &[&str],
) -> Result<T, String> {
    let mut object = Map::new();
    for name in names {
        let Some(value) = form.get(*name).map(|v| v.trim()).filter(|v| !v.is_empty()) else {
            continue;
        };
        let value = if matches!(*name, "amount" | "net") {
            value.replace([' ', '\u{a0}'], "").replace(',', ".")
        } else {
            value.to_owned()
        };
        object.insert((*name).to_owned(), Value::String(value));
    }
    serde_json::from_value(Value::Object(object)).map_err(|e| e.to_string())
}

fn field<'f>(form: &'f HashMap<String, String>, name: &str) -> &'f str {
    form.get(name).map_or("", |v| v.trim())
}

/// The command a form asks for, or what is wrong with the form.
fn command_of(kind: &str, form: &HashMap<String, String>) -> Result<AgreementCommand, String> {
    let invoice = || {
        InvoiceNumber::parse(field(form, "invoice_number")).map_err(|e| format!("номер счёта: {e}"))
    };
    Ok(match kind {
        "suspension" => {
            AgreementCommand::Suspend(request::<RestrictAccess>(form, &["on", "reason"])?)
        }
        "reinstatement" => {
            AgreementCommand::Reinstate(request::<LiftRestriction>(form, &["on", "reason"])?)
        }
        "charge" => AgreementCommand::ChargeLatePayment(request::<ChargeLatePayment>(
            form,
            &["invoice_number", "kind", "on"],
        )?),
        "waiver" => AgreementCommand::WaiveLatePayment(request::<WaiveLatePayment>(
            form,
            &["invoice_number", "kind", "amount", "reason", "on"],
        )?),
        "void" => {
            let body: VoidRequest = request(form, &["on", "reason"])?;
            AgreementCommand::VoidInvoice(VoidInvoice {
                number: invoice()?,
                on: body.on,
                reason: body.reason,
            })
        }
        "credit-note" => {
            let body: CreditNoteRequest = request(form, &["on", "reason", "net"])?;
            AgreementCommand::IssueCreditNote(IssueCreditNote {
                invoice_number: invoice()?,
                on: body.on,
                reason: body.reason,
                lines: body.lines,
                net: body.net,
            })
        }
        "reversal" => {
            let body: ReversalRequest = request(form, &["on", "reason"])?;
            AgreementCommand::ReversePayment(ReversePayment {
                reference: PaymentReference::parse(field(form, "reference"))
                    .map_err(|e| format!("платёж: {e}"))?,
                on: body.on,
                reason: body.reason,
            })
        }
        other => return Err(format!("нет формы «{other}»")),
    })
}

/// `POST /ui/agreements/{id}/commands/{kind}`: one of [`FORMS`]. Operators and billing
/// staff only; the session's CSRF secret required.
pub async fn submit(
    State(state): State<AppState>,
    session: UiSession,
    headers: HeaderMap,
    Path((id, kind)): Path<(String, String)>,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    let Some((_, what, _)) = FORMS.iter().find(|(k, _, _)| *k == kind) else {
        return failure(&session, StatusCode::NOT_FOUND, "Нет такой формы.");
    };
    if let Err(refused) = session.may_submit(what, field(&form, "csrf")) {
        return *refused;
    }
    let Ok(participant) = ParticipantId::parse(&id) else {
        return super::pages::agreement_not_found(&session, &id);
    };
    let refused = |status: StatusCode, text: String| {
        let (state, session, id) = (&state, &session, &id);
        async move {
            agreement_page(
                state,
                session,
                id,
                status,
                Some(Notice::Refused(text)),
                None,
            )
            .await
        }
    };
    let command = match command_of(&kind, &form) {
        Ok(command) => command,
        Err(e) => {
            return refused(
                StatusCode::BAD_REQUEST,
                format!("Не записано: форма заполнена неверно ({e})."),
            )
            .await
        }
    };
    let context = session.command_context(&headers);
    match state.ledger.execute(&participant, command, &context).await {
        Ok(_) => Redirect::to(&format!("/ui/agreements/{participant}?done={kind}")).into_response(),
        Err(e) => {
            let (status, words) = super::problem_in_words(e);
            refused(status, format!("Не записано: {words}.")).await
        }
    }
}

/// What the page says after form `kind` was recorded.
pub fn done_notice(kind: &str) -> Option<&'static str> {
    FORMS
        .iter()
        .find(|(k, _, _)| *k == kind)
        .map(|(_, _, done)| *done)
}
