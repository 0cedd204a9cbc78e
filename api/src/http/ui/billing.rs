//! The back office's billing run and period close pages (INTEGRATION.md 3; BILLING.md 4
//! and 5.4): a month's billing run report and the button that runs it; the months, open
//! or closed with their seals, and the button that closes one.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use serde::Deserialize;

use events::CalendarMonth;

use super::pages::failure;
use super::{layout, page, AppState, UiSession};
use crate::application::billing::{self, BillingRunReport};
use crate::application::periods::{self, Closer, PeriodStatus};

fn month(text: &str) -> Result<CalendarMonth, String> {
    CalendarMonth::parse(text.trim())
        .map_err(|_| format!("«{}» — не месяц (ГГГГ-ММ).", text.trim()))
}

#[derive(Debug, Deserialize)]
pub struct RunsQuery {
    period: Option<String>,
}

/// `GET /ui/billing-runs?period=`: the month's billing run report as stored (every
/// invoice its runs issued, the latest run's skips and refusals), and for operators and
/// billing staff the form that runs it. By default the month after today's: a
/// subscription is billed in advance (§5.4).
pub async fn runs(
    State(state): State<AppState>,
    session: UiSession,
    Query(query): Query<RunsQuery>,
) -> Response {
    if let Err(refused) = session.staff_only() {
        return *refused;
    }
    let today = state.ledger.today();
    let period = match query.period.as_deref().filter(|p| !p.trim().is_empty()) {
        None => CalendarMonth::of(today).next(),
        Some(text) => match month(text) {
            Ok(period) => period,
            Err(message) => return failure(&session, StatusCode::BAD_REQUEST, &message),
        },
    };
    let report = match billing::report(&state.ledger, period).await {
        Ok(report) => report,
        Err(e) => {
            let (status, words) = super::problem_in_words(e);
            return failure(&session, status, &words);
        }
    };
    let body = html! {
        h1 { "Выставление счетов за " (period) }
        form.filters method="get" action="/ui/billing-runs"
            hx-get="/ui/billing-runs" hx-target="#run-report" hx-select="#run-report" hx-swap="outerHTML" hx-push-url="true" {
            label { "Месяц" input type="month" name="period" value=(period) required; }
            button type="submit" { "Показать отчёт" }
        }
        div #run-report {
            @match &report {
                Some(report) => (report_markup(report)),
                None => p #no-run { "За " (period) " счета ещё не выставлялись." },
            }
        }
        @if session.may_command() {
            h2 { "Выставить счета (BILLING.md 4)" }
            p { "Повторный запуск за тот же месяц ничего не выставит второй раз." }
            form.filters #billing-run method="post" action="/ui/billing-runs" {
                input type="hidden" name="csrf" value=(session.csrf);
                label { "Месяц" input type="month" name="period" value=(period) required; }
                label { "Дата выставления" input type="date" name="issued_on" value=(today) required; }
                button type="submit" { "Выставить счета" }
            }
        }
    };
    page(
        StatusCode::OK,
        layout("Выставление счетов", Some(&session), body),
    )
}

/// A billing run's report: totals, what was issued, skipped and refused.
fn report_markup(report: &BillingRunReport) -> Markup {
    html! {
        dl.facts {
            dt { "Месяц" } dd { (report.period) }
            dt { "Дата выставления" } dd { (report.issued_on) }
            dt { "Договоров просмотрено" } dd { (report.agreements) }
            dt { "Использование за" } dd { (report.usage_month) }
            dt { "Уже выставлены ранее" } dd { (report.already_invoiced.len()) }
        }
        @if !report.totals.is_empty() {
            div.table-wrap {
                table #run-totals {
                    thead { tr { th { "Валюта" } th.money { "Счетов" } th.money { "Итого" } } }
                    tbody {
                        @for total in &report.totals {
                            tr { td { (total.currency.code()) } td.money { (total.invoices) } (decimal_cell(&total.total)) }
                        }
                    }
                }
            }
        }
        h2 { "Выставлены (" (report.issued.len()) ")" }
        @if !report.issued.is_empty() {
            div.table-wrap {
                table #run-issued {
                    thead { tr { th { "БИН/ИИН" } th { "Счёт №" } th { "Вид" } th.money { "Сумма" } th { "Валюта" } th { "Тариф" } } }
                    tbody {
                        @for line in &report.issued {
                            tr {
                                td { a href={ "/ui/agreements/" (line.participant_id) } { (line.participant_id) } }
                                td { (line.number) } td { (line.kind.as_str()) }
                                (decimal_cell(&line.total)) td { (line.currency.code()) } td { (line.tariff) }
                            }
                        }
                    }
                }
            }
        }
        @for (title, id, lines) in [("Пропущены", "run-skipped", &report.skipped), ("Отказано", "run-refused", &report.refused)] {
            @if !lines.is_empty() {
                h2 { (title) " (" (lines.len()) ")" }
                ul id=(id) {
                    @for line in lines {
                        li { a href={ "/ui/agreements/" (line.participant_id) } { (line.participant_id) } " (" (line.kind.as_str()) "): " (line.reason) }
                    }
                }
            }
        }
    }
}

/// An amount the report carries as text (`"5600.00"`), written as money is on every page.
fn decimal_cell(text: &str) -> Markup {
    match text.parse::<rust_decimal::Decimal>() {
        Ok(value) => html! { td.money { (crate::application::documents::pdf::amount(value)) } },
        Err(_) => html! { td.money { (text) } },
    }
}

#[derive(Debug, Deserialize)]
pub struct RunForm {
    csrf: String,
    period: String,
    issued_on: String,
}

/// `POST /ui/billing-runs`: bills the month as `POST /v1/billing-runs` does (in a task of
/// its own, so it finishes if the browser goes away) and shows the run's report.
/// Operators and billing staff only; the session's CSRF secret required.
pub async fn run(
    State(state): State<AppState>,
    session: UiSession,
    axum::Form(form): axum::Form<RunForm>,
) -> Response {
    if let Err(refused) = session.may_submit("выставлять счета", &form.csrf) {
        return *refused;
    }
    let period = match month(&form.period) {
        Ok(period) => period,
        Err(message) => return failure(&session, StatusCode::BAD_REQUEST, &message),
    };
    let Ok(issued_on) = events::business_date::parse(form.issued_on.trim()) else {
        return failure(
            &session,
            StatusCode::BAD_REQUEST,
            &format!("«{}» — не дата (ГГГГ-ММ-ДД).", form.issued_on.trim()),
        );
    };
    let report = match billing::run_detached(
        state.ledger.clone(),
        session.caller.name.clone(),
        period,
        issued_on,
    )
    .await
    {
        Ok(report) => report,
        Err(e) => {
            let (status, words) = super::problem_in_words(e);
            return failure(&session, status, &format!("Счета не выставлены: {words}."));
        }
    };
    let body = html! {
        h1 { "Счета за " (period) " выставлены" }
        p.done role="status" #run-done { "Выставлено счетов: " (report.issued.len()) ". Уже были выставлены ранее: " (report.already_invoiced.len()) "." }
        (report_markup(&report))
        p { a href={ "/ui/billing-runs?period=" (period) } { "К отчёту за месяц" } }
    };
    page(
        StatusCode::OK,
        layout("Счета выставлены", Some(&session), body),
    )
}

/// `GET /ui/periods`: every month from the first with a document, open or closed, with
/// its seal (digest, totals, who closed it and when); for operators the button that
/// closes a month that is over.
pub async fn periods(
    State(state): State<AppState>,
    session: UiSession,
    Query(query): Query<PeriodsQuery>,
) -> Response {
    if let Err(refused) = session.staff_only() {
        return *refused;
    }
    let notice = query
        .closed
        .map(|period| super::pages::Notice::Done(format!("Месяц {period} закрыт.")));
    periods_page(&state, &session, StatusCode::OK, notice).await
}

#[derive(Debug, Deserialize)]
pub struct PeriodsQuery {
    /// Set after a month was closed (post, redirect, get).
    closed: Option<String>,
}

async fn periods_page(
    state: &AppState,
    session: &UiSession,
    status: StatusCode,
    notice: Option<super::pages::Notice>,
) -> Response {
    let view = match periods::periods(&state.ledger, None).await {
        Ok(view) => view,
        Err(e) => {
            let (status, words) = super::problem_in_words(e);
            return failure(session, status, &words);
        }
    };
    let current = CalendarMonth::of(state.ledger.today());
    let body = html! {
        h1 { "Закрытие периодов (BILLING.md 5.4)" }
        @match &notice {
            Some(super::pages::Notice::Done(text)) => p.done role="status" { (text) },
            Some(super::pages::Notice::Refused(text)) => p.error role="alert" #refusal { (text) },
            None => {},
        }
        p {
            "После закрытия месяца документы с датой в нём не записываются; платёж, поступивший в закрытом месяце, проводится первым открытым днём"
            @if let Some(open_from) = view.open_from { " (сейчас " (open_from) ")" }
            "."
        }
        div.table-wrap {
            table #periods {
                thead { tr { th { "Месяц" } th { "Состояние" } th { "Закрыт" } th { "Кем" } th { "Итоги" } th { "Печать (SHA-256)" } th { "" } } }
                tbody {
                    @for month in view.months.iter().rev() {
                        tr {
                            td { (month.period) }
                            td { @match month.status { PeriodStatus::Open => "открыт", PeriodStatus::Closed => "закрыт" } }
                            @if let Some(seal) = &month.seal {
                                td { (seal.closed_at) } td { (seal.closed_by) }
                                td {
                                    @for total in &seal.totals {
                                        (total.currency.code()) ": выставлено " (crate::application::documents::pdf::amount(total.invoiced.amount()))
                                        ", оплачено " (crate::application::documents::pdf::amount(total.paid.amount())) br;
                                    }
                                }
                                td { code title=(seal.digest) { (seal.digest.get(..16).unwrap_or(&seal.digest)) "…" } }
                            } @else {
                                td {} td {} td {} td {}
                            }
                            td {
                                @if month.status == PeriodStatus::Open && session.may_close_periods()
                                    && CalendarMonth::parse(&month.period).is_ok_and(|m| m < current) {
                                    form method="post" action={ "/ui/periods/" (month.period) "/close" } {
                                        input type="hidden" name="csrf" value=(session.csrf);
                                        button type="submit" aria-label={ "Закрыть " (month.period) } { "Закрыть месяц" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    page(status, layout("Периоды", Some(session), body))
}

/// `POST /ui/periods/{period}/close`: closes the month as `POST /v1/periods/{period}/close`
/// does. Operators only; the session's CSRF secret required. Refused (already closed,
/// not over, an earlier month open): the page with the reason in words, nothing recorded.
pub async fn close(
    State(state): State<AppState>,
    session: UiSession,
    headers: HeaderMap,
    Path(period): Path<String>,
    axum::Form(form): axum::Form<super::session::CsrfForm>,
) -> Response {
    if let Err(refused) =
        session.may_submit_if(session.may_close_periods(), "закрывать месяцы", &form.csrf)
    {
        return *refused;
    }
    let context = session.command_context(&headers);
    let closer = Closer {
        actor: context.actor,
        request_id: context.request_id,
        note: Some("closed in the back office".to_owned()),
    };
    match periods::close_period(&state.ledger, &period, &closer).await {
        Ok(seal) => axum::response::Redirect::to(&format!("/ui/periods?closed={}", seal.period))
            .into_response(),
        Err(e) => {
            let (status, words) = super::problem_in_words(e);
            let notice =
                super::pages::Notice::Refused(format!("Месяц {period} не закрыт: {words}."));
            periods_page(&state, &session, status, Some(notice)).await
        }
    }
}
