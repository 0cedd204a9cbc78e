//! The back office's pages (INTEGRATION.md 3): the agreements, one agreement.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;

use aggregates::AgreementStatus;
use events::{Money, ParticipantId};

use super::{layout, page, AppState, UiSession};
use crate::application::documents::pdf::amount;
use crate::application::queries;

/// Agreements per page.
pub const PAGE_SIZE: u32 = 50;

/// Money as a Kazakh accountant writes it (`1 234 567,89`), in a right-aligned cell.
pub(super) fn money(value: Money) -> Markup {
    html! { td.money { (amount(value.amount())) } }
}

fn status_name(status: AgreementStatus) -> &'static str {
    match status {
        AgreementStatus::Registered => "зарегистрирован",
        AgreementStatus::Active => "действует",
        AgreementStatus::Suspended => "приостановлен",
        AgreementStatus::Blocked => "заблокирован",
        AgreementStatus::TerminationPending => "расторгается",
        AgreementStatus::Terminated => "расторгнут",
    }
}

fn invoice_status_name(status: projections::InvoiceStatus) -> &'static str {
    use projections::InvoiceStatus;
    match status {
        InvoiceStatus::Open => "к оплате",
        InvoiceStatus::Paid => "оплачен",
        InvoiceStatus::Overdue => "просрочен",
        InvoiceStatus::Void => "аннулирован",
    }
}

/// The 404 page of an agreement that is not registered or that the session may not see
/// (the same words for both, as the API answers both alike).
pub(super) fn agreement_not_found(session: &UiSession, id: &str) -> Response {
    failure(
        session,
        StatusCode::NOT_FOUND,
        &format!("Договор с БИН/ИИН {id} не найден."),
    )
}

pub(super) fn failure(session: &UiSession, status: StatusCode, message: &str) -> Response {
    page(
        status,
        layout(
            "Ошибка",
            Some(session),
            html! { p.error role="alert" { (message) } },
        ),
    )
}

#[derive(Debug, Deserialize)]
pub struct AgreementsQuery {
    q: Option<String>,
    status: Option<String>,
    debt: Option<String>,
    page: Option<u64>,
}

/// `GET /ui/agreements?q=&status=&debt=&page=`: the agreements with their balance today,
/// a page at a time. `q` is a BIN/IIN (which opens its agreement), the start of one, or
/// a part of the name; `status` and `debt` (`owing`, `clear`) filter. A participant goes
/// to its own. The filter form updates the list in place through htmx (`#results`); a
/// BIN/IIN found answers `HX-Redirect` to its page.
pub async fn agreements(
    State(state): State<AppState>,
    session: UiSession,
    headers: axum::http::HeaderMap,
    Query(query): Query<AgreementsQuery>,
) -> Response {
    if let Some(own) = &session.caller.participant {
        return Redirect::to(&format!("/ui/agreements/{own}")).into_response();
    }
    let searched = query.q.as_deref().map(str::trim).unwrap_or_default();
    let mut notice = None;
    if searched.len() == 12 && searched.chars().all(|c| c.is_ascii_digit()) {
        match ParticipantId::parse(searched) {
            Ok(id) => match queries::stored_ledger(&state.ledger, &id).await {
                Ok(Some(_)) => return super::navigate(&headers, &format!("/ui/agreements/{id}")),
                Ok(None) => notice = Some(format!("Договор с БИН/ИИН {id} не найден.")),
                Err(e) => {
                    return failure(&session, StatusCode::SERVICE_UNAVAILABLE, &e.to_string())
                }
            },
            Err(e) => notice = Some(format!("«{searched}» — не БИН/ИИН: {e}.")),
        }
    }
    let search = queries::AgreementSearch {
        text: (!searched.is_empty() && notice.is_none()).then(|| searched.to_owned()),
        status: query
            .status
            .as_deref()
            .and_then(|code| AgreementStatus::ALL.into_iter().find(|s| s.code() == code)),
        debt: query.debt.as_deref().and_then(queries::DebtFilter::parse),
    };
    let page_number = query.page.unwrap_or(1).max(1);
    let offset = (page_number - 1).saturating_mul(u64::from(PAGE_SIZE));
    let today = state.ledger.today();
    let (items, total) = if notice.is_some() {
        (Vec::new(), 0)
    } else {
        match queries::agreements_found(&state.ledger, &search, today, offset, PAGE_SIZE).await {
            Ok(found) => found,
            Err(e) => return failure(&session, StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
        }
    };
    let pages = total.div_ceil(u64::from(PAGE_SIZE)).max(1);
    let link = |page: u64| {
        let mut href = form_urlencoded::Serializer::new(String::from("/ui/agreements?"));
        href.append_pair("page", &page.to_string());
        if let Some(text) = &search.text {
            href.append_pair("q", text);
        }
        if let Some(status) = search.status {
            href.append_pair("status", status.code());
        }
        if let Some(debt) = search.debt {
            href.append_pair("debt", debt.code());
        }
        href.finish()
    };
    let body = html! {
        h1 { "Договоры" }
        form.filters #filters method="get" action="/ui/agreements" role="search"
            hx-get="/ui/agreements" hx-trigger="submit, change" hx-target="#results"
            hx-select="#results" hx-swap="outerHTML" hx-push-url="true" {
            label {
                "БИН/ИИН или название"
                input type="search" name="q" value=(searched) maxlength="200" placeholder="12 цифр, начало БИН или часть названия";
            }
            label {
                "Статус"
                select name="status" {
                    option value="" { "все" }
                    @for candidate in AgreementStatus::ALL {
                        option value=(candidate.code()) selected[Some(candidate) == search.status] { (status_name(candidate)) }
                    }
                }
            }
            label {
                "Задолженность"
                select name="debt" {
                    option value="" { "все" }
                    @for candidate in queries::DebtFilter::ALL {
                        option value=(candidate.code()) selected[Some(candidate) == search.debt] { (debt_name(candidate)) }
                    }
                }
            }
            button type="submit" { "Найти" }
        }
        div #results aria-live="polite" {
            @if let Some(notice) = &notice {
                p.error role="status" { (notice) }
            }
            p { "Найдено: " (total) ". Страница " (page_number) " из " (pages) "." }
            div.table-wrap {
                table #agreements {
                    thead { tr { th { "БИН/ИИН" } th { "Участник" } th { "Статус" } th { "Зарегистрирован" } th.money { "К оплате" } th.money { "Аванс" } } }
                    tbody {
                        @for item in &items {
                            @let header = &item.view.header;
                            tr {
                                td { a href={ "/ui/agreements/" (header.participant_id) } { (header.participant_id) } }
                                td { (header.name) }
                                td { (status_name(header.status)) }
                                td { (header.registered_on) }
                                (money(item.balance.total_due))
                                (money(item.balance.advance))
                            }
                        }
                    }
                }
            }
            nav aria-label="Страницы" {
                @if page_number > 1 { a href=(link(page_number - 1)) rel="prev" { "← Предыдущая" } " " }
                @if page_number < pages { a href=(link(page_number + 1)) rel="next" { "Следующая →" } }
            }
        }
    };
    page(StatusCode::OK, layout("Договоры", Some(&session), body))
}

fn debt_name(filter: queries::DebtFilter) -> &'static str {
    match filter {
        queries::DebtFilter::Owing => "есть долг",
        queries::DebtFilter::Clear => "нет долга",
    }
}

/// `GET /ui/agreements/{id}`: the agreement's header and status, its balance and its
/// invoices as of today, and for operators and billing staff the payment form. 404 for
/// an agreement the caller may not see, as the API.
pub async fn agreement(
    State(state): State<AppState>,
    session: UiSession,
    Path(id): Path<String>,
    Query(query): Query<AgreementQuery>,
) -> Response {
    let notice = query
        .recorded
        .map(|reference| Notice::Done(format!("Платёж {reference} записан.")))
        .or_else(|| {
            query
                .done
                .as_deref()
                .and_then(super::commands::done_notice)
                .map(|text| Notice::Done(text.to_owned()))
        });
    agreement_page(&state, &session, &id, StatusCode::OK, notice, None).await
}

#[derive(Debug, Deserialize)]
pub struct AgreementQuery {
    /// Set after a payment was recorded (post, redirect, get).
    recorded: Option<String>,
    /// Set after another command form was recorded: its kind.
    done: Option<String>,
}

/// What the page says above its figures: a command done, or refused and why.
pub enum Notice {
    Done(String),
    Refused(String),
}

/// The payment form as submitted (kept to show again when refused).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PaymentForm {
    pub csrf: String,
    pub reference: String,
    pub received_on: String,
    pub amount: String,
}

pub async fn agreement_page(
    state: &AppState,
    session: &UiSession,
    id: &str,
    status: StatusCode,
    notice: Option<Notice>,
    form: Option<&PaymentForm>,
) -> Response {
    let not_found = || agreement_not_found(session, id);
    let Ok(participant) = ParticipantId::parse(id) else {
        return not_found();
    };
    if !session.may_see(participant.as_str()) {
        return not_found();
    }
    let (ledger, reference) =
        match queries::stored_ledger_and_reference(&state.ledger, &participant).await {
            Ok(Some(found)) => found,
            Ok(None) => return not_found(),
            Err(e) => return failure(session, StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
        };
    let today = state.ledger.today();
    let (view, balance, invoices, penalties) = match (
        ledger.agreement_as_of(today),
        ledger.balance(today, &reference),
        ledger.invoices(today, &reference),
        ledger.penalties(today, &reference),
    ) {
        (Ok(view), Ok(balance), Ok(invoices), Ok(penalties)) => {
            (view, balance, invoices, penalties)
        }
        (Err(e), _, _, _) | (_, Err(e), _, _) | (_, _, Err(e), _) | (_, _, _, Err(e)) => {
            return failure(session, StatusCode::UNPROCESSABLE_ENTITY, &e.to_string())
        }
    };
    let history = match queries::events_known_at(&state.ledger, &participant, None).await {
        Ok(history) => history,
        Err(e) => return failure(session, StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    };
    let movements =
        super::payments::movements(history.iter().map(|event| (event.sequence, &event.payload)));
    let header = &view.header;
    let blank = PaymentForm {
        received_on: today.to_string(),
        ..PaymentForm::default()
    };
    let form = form.unwrap_or(&blank);
    let body = html! {
        h1 { (header.name) }
        @match &notice {
            Some(Notice::Done(text)) => p.done role="status" { (text) },
            Some(Notice::Refused(text)) => p.error role="alert" #refusal { (text) },
            None => {},
        }
        dl.facts {
            dt { "БИН/ИИН" } dd { (header.participant_id) }
            dt { "Статус" } dd #status { (status_name(header.status)) }
            dt { "Зарегистрирован" } dd { (header.registered_on) }
            @if let Some(on) = header.concluded_on { dt { "Договор заключён (§3.2)" } dd { (on) } }
            dt { "Валюта" } dd { (header.currency.code()) }
        }
        h2 { "Баланс на " (today) }
        div.table-wrap {
            table #balance {
                thead { tr { th.money { "Выставлено" } th.money { "Оплачено" } th.money { "Долг по счетам" } th.money { "Пеня к оплате" } th.money { "Штрафы к оплате" } th.money { "Аванс" } th.money { "Итого к оплате" } } }
                tbody { tr {
                    (money(balance.invoiced)) (money(balance.paid)) (money(balance.outstanding))
                    (money(balance.penalties_owed)) (money(balance.fines_owed)) (money(balance.advance))
                    td.money #total-due { strong { (amount(balance.total_due.amount())) } }
                } }
            }
        }
        @if session.may_command() {
            h2 { "Записать платёж (§5.5)" }
            form.filters #payment method="post" action={ "/ui/agreements/" (header.participant_id) "/payments" } {
                input type="hidden" name="csrf" value=(session.csrf);
                label { "Номер платёжного поручения" input name="reference" value=(form.reference) required maxlength="64"; }
                label { "Дата поступления" input type="date" name="received_on" value=(form.received_on) required; }
                label { "Сумма, " (header.currency.code()) input name="amount" value=(form.amount) required inputmode="decimal" placeholder="10000.00"; }
                button type="submit" { "Записать" }
            }
        }
        h2 { "Счета" }
        div.table-wrap {
            table #invoices {
                thead { tr { th { "№" } th { "Выставлен" } th { "Срок" } th.money { "Сумма" } th.money { "Оплачено" } th.money { "Долг" } th.money { "Дней просрочки" } th.money { "Пеня (§5.9)" } th { "Статус" } th { "ЭСФ (§5.7)" } } }
                tbody {
                    @for invoice in &invoices {
                        tr {
                            td { (invoice.number) } td { (invoice.issued_on) } td { (invoice.due_on) }
                            (money(invoice.total)) (money(invoice.paid)) (money(invoice.outstanding))
                            td.money { (invoice.days_overdue) }
                            (money(invoice.penalty_accrued))
                            td { (invoice_status_name(invoice.status)) }
                            td { a href={ "/ui/agreements/" (header.participant_id) "/invoices/" (invoice.number) "/esf" } { "XML" } }
                        }
                    }
                }
            }
        }
        h2 { "Платежи и их распределение (§5.5)" }
        @if movements.is_empty() {
            p #no-payments { "Платежей нет." }
        } @else {
            (super::payments::table(&movements))
        }
        @if !penalties.is_empty() {
            h2 { "Пени и штрафы (§5.9)" }
            div.table-wrap {
                table #penalties {
                    thead { tr { th { "Счёт №" } th.money { "Дней" } th.money { "Пеня" } th.money { "Начислено" } th.money { "Освобождено" } th.money { "К оплате" } th.money { "Штраф" } th { "Пункт" } th { "Расчёт" } } }
                    tbody {
                        @for penalty in &penalties {
                            tr {
                                td { (penalty.invoice_number) }
                                td.money { (penalty.days) }
                                (money(penalty.amount)) (money(penalty.charged)) (money(penalty.waived)) (money(penalty.owed))
                                td.money { @match penalty.fine { Some(fine) => (amount(fine.amount())), None => "ожидает МРП" } }
                                td { "§" (penalty.clause) }
                                td { small { (penalty.explanation) } }
                            }
                        }
                    }
                }
            }
        }
        @if session.may_command() {
            details #corrections {
                summary { "Исправления и меры" }
                (command_forms(&header.participant_id, &session.csrf, today))
            }
        }
        h2 { "Документы" }
        div.documents {
            form.filters method="get" action={ "/ui/agreements/" (header.participant_id) "/act" } {
                label { "Акт выполненных работ (§4.1) за месяц" input type="month" name="month" required; }
                button type="submit" { "Открыть PDF" }
            }
            form.filters method="get" action={ "/ui/agreements/" (header.participant_id) "/statement.pdf" } {
                label { "Акт сверки с" input type="date" name="from"; }
                label { "по" input type="date" name="to" value=(today); }
                button type="submit" { "Открыть PDF" }
            }
        }
        h2 { "События (последние " (history.len().min(TIMELINE_MAX)) " из " (history.len()) ")" }
        div.table-wrap {
            table #timeline {
                thead { tr { th { "№" } th { "Событие" } th { "Записано" } th { "Кем" } th { "Пункт" } th { "Хеш" } } }
                tbody {
                    @for event in history.iter().rev().take(TIMELINE_MAX) {
                        @let text = |key: &str| crate::event_metadata::text(&event.metadata, key);
                        @let hash = text(crate::hash_chain::HASH_KEY);
                        tr {
                            td { (event.sequence) } td { (event.event_type) }
                            td { (text(crate::event_metadata::RECORDED_AT)) } td { (text(crate::event_metadata::ACTOR)) }
                            td { (text(crate::event_metadata::CLAUSE)) }
                            td { code title=(hash) { (hash.get(..16).unwrap_or(&hash)) "…" } }
                        }
                    }
                }
            }
        }
    };
    page(status, layout(&header.name, Some(session), body))
}

/// The command forms beyond the payment (`commands.rs`), for operators and billing.
fn command_forms(id: &str, csrf: &str, today: time::Date) -> Markup {
    let action = |kind: &str| format!("/ui/agreements/{id}/commands/{kind}");
    let on = |label: &str| html! { label { (label) input type="date" name="on" value=(today) required; } };
    let reason = html! { label { "Основание" input name="reason" required maxlength="500"; } };
    let invoice =
        html! { label { "Счёт №" input name="invoice_number" required inputmode="numeric"; } };
    let kind = html! { label { "Что" select name="kind" { option value="penalty" { "пеня" } option value="fine" { "штраф" } } } };
    let hidden = html! { input type="hidden" name="csrf" value=(csrf); };
    html! {
        form.filters #suspension method="post" action=(action("suspension")) {
            (hidden) (on("Приостановить доступ с"))
            label { "Причина (§4.2)" select name="reason" {
                option value="verification" { "проверка" } option value="violation" { "нарушение" }
                option value="technical_works" { "технические работы" } option value="overdue" { "просрочка" }
            } }
            button type="submit" { "Приостановить" }
        }
        form.filters #reinstatement method="post" action=(action("reinstatement")) {
            (hidden) (on("Возобновить доступ с")) (reason) button type="submit" { "Возобновить" }
        }
        form.filters #charge method="post" action=(action("charge")) {
            (hidden) (invoice) (kind) (on("На дату")) button type="submit" { "Начислить (§5.9)" }
        }
        form.filters #waiver method="post" action=(action("waiver")) {
            (hidden) (invoice) (kind) label { "Сумма" input name="amount" required inputmode="decimal"; } (reason)
            button type="submit" { "Освободить" }
        }
        form.filters #void method="post" action=(action("void")) {
            (hidden) (invoice) (on("Дата")) (reason) button type="submit" { "Аннулировать счёт" }
        }
        form.filters #credit-note method="post" action=(action("credit-note")) {
            (hidden) (invoice) (on("Дата")) label { "Сумма без НДС" input name="net" required inputmode="decimal"; } (reason)
            button type="submit" { "Выписать кредит-ноту" }
        }
        form.filters #reversal method="post" action=(action("reversal")) {
            (hidden) label { "Платёж (номер п/п)" input name="reference" required; } (on("Дата возврата")) (reason)
            button type="submit" { "Сторнировать платёж" }
        }
    }
}

/// The most events the agreement page lists, the latest first.
pub const TIMELINE_MAX: usize = 50;

/// `POST /ui/agreements/{id}/payments`: the payment form, recorded as
/// `POST /v1/agreements/{id}/payments` records it (the same command, the same rules).
/// Refused: the page again with the problem in words and the form as filled, nothing
/// recorded; recorded: back to the page (post, redirect, get). Only operators and
/// billing staff; the session's CSRF secret required.
pub async fn record_payment(
    State(state): State<AppState>,
    session: UiSession,
    headers: axum::http::HeaderMap,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<PaymentForm>,
) -> Response {
    if let Err(refused) = session.may_submit("записывать платежи", &form.csrf) {
        return *refused;
    }
    let Ok(participant) = ParticipantId::parse(&id) else {
        return agreement_not_found(&session, &id);
    };
    let refused = |status: StatusCode, text: String| {
        let (state, session, id, form) = (&state, &session, &id, &form);
        async move {
            agreement_page(
                state,
                session,
                id,
                status,
                Some(Notice::Refused(text)),
                Some(form),
            )
            .await
        }
    };
    let command = serde_json::from_value::<commands::ReceivePayment>(serde_json::json!({
        "reference": form.reference.trim(),
        "received_on": form.received_on.trim(),
        "amount": form.amount.trim().replace([' ', '\u{a0}'], "").replace(',', "."),
    }));
    let command = match command {
        Ok(command) => command,
        Err(e) => {
            return refused(
                StatusCode::BAD_REQUEST,
                format!("Платёж не записан: поле заполнено неверно ({e})."),
            )
            .await
        }
    };
    let context = session.command_context(&headers);
    let reference = command.reference.as_str().to_owned();
    match state
        .ledger
        .execute(
            &participant,
            commands::AgreementCommand::ReceivePayment(command),
            &context,
        )
        .await
    {
        Ok(_) => Redirect::to(&format!(
            "/ui/agreements/{participant}?recorded={reference}"
        ))
        .into_response(),
        Err(e) => {
            let (status, words) = super::problem_in_words(e);
            refused(status, format!("Платёж не записан: {words}.")).await
        }
    }
}
