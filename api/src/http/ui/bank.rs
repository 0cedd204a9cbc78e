//! Bank statements in the back office (INTEGRATION.md 2, 3): upload a statement file,
//! see its matched and unmatched lines, assign an unmatched line by hand.

use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;

use events::{InvoiceNumber, ParticipantId};

use super::pages::failure;
use super::{layout, page, AppState, UiSession};
use crate::application::documents::pdf::amount;
use crate::application::statements::import::{self, BankStatementView};
use crate::application::statements::STATEMENT_BYTES_MAX;

/// Where a statement is uploaded: its body may be as large as the API's import.
pub const UPLOAD_PATH: &str = "/ui/bank-statements";

fn money_text(text: &str) -> String {
    text.parse::<rust_decimal::Decimal>()
        .map(amount)
        .unwrap_or_else(|_| text.to_owned())
}

fn outcome_name(outcome: &str) -> &str {
    match outcome {
        "matched" => "сопоставлена",
        "duplicate" => "уже записана",
        "unmatched" => "не сопоставлена",
        "not_a_credit" => "не поступление",
        other => other,
    }
}

/// `GET /ui/bank-statements`: the upload form (operators and billing staff).
pub async fn upload_form(session: UiSession) -> Response {
    upload_page(&session, StatusCode::OK, None)
}

fn upload_page(session: &UiSession, status: StatusCode, error: Option<&str>) -> Response {
    if let Err(refused) = session.staff_only() {
        return *refused;
    }
    let body = html! {
        h1 { "Банковские выписки" }
        @if let Some(error) = error { p.error role="alert" #refusal { (error) } }
        @if session.may_command() {
            form #upload method="post" action=(UPLOAD_PATH) enctype="multipart/form-data" {
                input type="hidden" name="csrf" value=(session.csrf);
                label {
                    "Файл выписки: camt.053 (XML) или 1С (текст), до 32 МБ"
                    input type="file" name="file" required accept=".xml,.txt,text/xml,application/xml,text/plain";
                }
                p { button type="submit" { "Загрузить" } }
            }
            p { "Тот же файл ещё раз ничего не запишет: его строки уже учтены." }
        } @else {
            p { "Загружать выписки могут оператор и биллинг." }
        }
    };
    page(status, layout("Банковские выписки", Some(session), body))
}

/// `POST /ui/bank-statements`: imports the uploaded file as `POST /v1/bank-statements`
/// does (the same checks and matching; the same file again records nothing), then
/// shows the statement. A file the ledger does not read: the form again with why,
/// nothing recorded.
pub async fn upload(
    State(state): State<AppState>,
    session: UiSession,
    headers: HeaderMap,
    mut multipart: Multipart,
) -> Response {
    let mut csrf = String::new();
    let mut file: Option<Vec<u8>> = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or("").to_owned();
                match field.bytes().await {
                    Ok(bytes) if name == "csrf" => {
                        csrf = String::from_utf8_lossy(&bytes).into_owned();
                    }
                    Ok(bytes) if name == "file" => file = Some(bytes.to_vec()),
                    Ok(_) => {}
                    Err(e) => {
                        return upload_page(
                            &session,
                            StatusCode::BAD_REQUEST,
                            Some(&format!(
                                "Файл не получен: {e} (не больше {STATEMENT_BYTES_MAX} байт)."
                            )),
                        )
                    }
                }
            }
            Ok(None) => break,
            Err(e) => {
                return upload_page(
                    &session,
                    StatusCode::BAD_REQUEST,
                    Some(&format!("Форма не прочитана: {e}.")),
                )
            }
        }
    }
    if let Err(refused) = session.may_submit("загружать выписки", &csrf) {
        return *refused;
    }
    let Some(bytes) = file.filter(|b| !b.is_empty()) else {
        return upload_page(
            &session,
            StatusCode::BAD_REQUEST,
            Some("Выберите файл выписки."),
        );
    };
    let context = session.command_context(&headers);
    match import::import(&state.ledger, &bytes, &context, |_, _| {}).await {
        Ok(imported) => Redirect::to(&format!(
            "/ui/bank-statements/{}?{}",
            imported.summary.id,
            if imported.created {
                "imported=1"
            } else {
                "again=1"
            }
        ))
        .into_response(),
        Err(e) => {
            let (status, detail) = super::problem_in_words(e);
            upload_page(
                &session,
                status,
                Some(&format!(
                    "Выписка не загружена: {detail}. Ничего не записано."
                )),
            )
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct StatementQuery {
    imported: Option<String>,
    again: Option<String>,
    assigned: Option<i64>,
}

/// `GET /ui/bank-statements/{id}`: the statement, its totals and every line with what
/// became of it; an unmatched line has the form that assigns it.
pub async fn statement(
    State(state): State<AppState>,
    session: UiSession,
    Path(id): Path<String>,
    Query(query): Query<StatementQuery>,
) -> Response {
    let notice = if query.imported.is_some() {
        Some("Выписка загружена.".to_owned())
    } else if query.again.is_some() {
        Some("Этот файл уже был загружен: ничего не записано.".to_owned())
    } else {
        query
            .assigned
            .map(|n| format!("Строка {n} отнесена на договор, платёж записан."))
    };
    statement_page(&state, &session, &id, StatusCode::OK, notice, None).await
}

async fn statement_page(
    state: &AppState,
    session: &UiSession,
    id: &str,
    status: StatusCode,
    notice: Option<String>,
    refusal: Option<String>,
) -> Response {
    if let Err(refused) = session.staff_only() {
        return *refused;
    }
    let view: BankStatementView = match import::view(&state.ledger, id).await {
        Ok(Some(view)) => view,
        Ok(None) => {
            return failure(
                session,
                StatusCode::NOT_FOUND,
                &format!("Выписки {id} нет."),
            )
        }
        Err(e) => return failure(session, StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    };
    let body = html! {
        h1 { "Выписка " (view.statement_id.as_deref().unwrap_or(&view.id)) }
        @if let Some(notice) = &notice { p.done role="status" { (notice) } }
        @if let Some(refusal) = &refusal { p.error role="alert" #refusal { (refusal) } }
        dl.facts {
            dt { "Счёт" } dd { (view.account) " (" (view.currency) ")" }
            dt { "Формат" } dd { (view.format) }
            dt { "Загружена" } dd { (view.received_at) ", " (view.received_by) }
            dt { "Поступлений" } dd { (view.totals.credits) " на " (money_text(&view.totals.credits_sum)) }
            dt { "Сопоставлено" } dd #matched { (view.matched) " на " (money_text(&view.totals.matched_sum)) }
            dt { "Не сопоставлено" } dd #unmatched { (view.unmatched) " на " (money_text(&view.totals.unmatched_sum)) }
            dt { "Уже записано" } dd { (view.duplicates) }
        }
        div.table-wrap {
            table #lines {
                thead { tr { th { "№" } th { "Дата" } th.money { "Сумма" } th { "Плательщик" } th { "Назначение" } th { "Итог" } th { "Договор" } } }
                tbody {
                    @for line in &view.lines {
                        tr {
                            td { (line.n) } td { (line.value_date) }
                            td.money { (money_text(&line.amount)) }
                            td { (line.payer_name.as_deref().unwrap_or("")) br; (line.payer_id_text.as_deref().unwrap_or("")) }
                            td { (line.purpose.as_deref().unwrap_or("")) }
                            td { (outcome_name(&line.outcome)) @if let Some(reason) = &line.reason { br; small { (reason) } } }
                            td {
                                @if let Some(participant) = &line.participant_id {
                                    a href={ "/ui/agreements/" (participant) } { (participant) }
                                } @else if line.outcome == "unmatched" && session.may_command() {
                                    form.assign method="post" action={ "/ui/bank-statements/" (view.id) "/lines/" (line.n) "/assignment" } {
                                        input type="hidden" name="csrf" value=(session.csrf);
                                        label { "БИН/ИИН" input name="participant_id" required inputmode="numeric" maxlength="12"; }
                                        label { "Счёт № (необязательно)" input name="invoice_number" inputmode="numeric"; }
                                        button type="submit" { "Отнести" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    page(status, layout("Выписка", Some(session), body))
}

#[derive(Debug, Deserialize)]
pub struct AssignmentForm {
    csrf: String,
    participant_id: String,
    #[serde(default)]
    invoice_number: String,
}

/// `POST /ui/bank-statements/{id}/lines/{n}/assignment`: assigns an unmatched line as
/// `POST /v1/bank-statements/{id}/lines/{n}/assignment` does; refused, the statement
/// again with why, nothing recorded.
pub async fn assign(
    State(state): State<AppState>,
    session: UiSession,
    headers: HeaderMap,
    Path((id, n)): Path<(String, i64)>,
    axum::Form(form): axum::Form<AssignmentForm>,
) -> Response {
    if let Err(refused) = session.may_submit("относить строки выписок", &form.csrf)
    {
        return *refused;
    }
    let refused = |text: String, status: StatusCode| {
        let (state, session, id) = (&state, &session, &id);
        async move { statement_page(state, session, id, status, None, Some(text)).await }
    };
    let participant = match ParticipantId::parse(form.participant_id.trim()) {
        Ok(participant) => participant,
        Err(e) => {
            return refused(
                format!("Строка {n} не отнесена: БИН/ИИН — {e}."),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
    };
    let invoice = match form.invoice_number.trim() {
        "" => None,
        text => match InvoiceNumber::parse(text) {
            Ok(number) => Some(number),
            Err(e) => {
                return refused(
                    format!("Строка {n} не отнесена: номер счёта — {e}."),
                    StatusCode::BAD_REQUEST,
                )
                .await
            }
        },
    };
    let context = session.command_context(&headers);
    match import::assign(&state.ledger, &id, n, &participant, invoice, &context).await {
        Ok(_) => Redirect::to(&format!("/ui/bank-statements/{id}?assigned={n}")).into_response(),
        Err(e) => {
            let (status, words) = super::problem_in_words(e);
            refused(
                format!("Строка {n} не отнесена: {words}. Ничего не записано."),
                status,
            )
            .await
        }
    }
}
