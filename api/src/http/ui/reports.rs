//! The back office's reports (INTEGRATION.md 3): aging with its chart, the dunning
//! preview with the button that runs the sweep.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::Deserialize;
use time::Date;

use events::Money;
use projections::{AgingBuckets, AgingReport};

use super::pages::{failure, money};
use super::{layout, page, AppState, UiSession};
use crate::application::documents::pdf::amount;
use crate::application::{queries, sweep};

/// The most agreements the aging page lists (the most owed first); the totals count all.
pub const AGING_ROWS_MAX: usize = 200;

#[derive(Debug, Deserialize)]
pub struct AsOfQuery {
    as_of: Option<String>,
}

/// The date asked for, or today; a malformed one is said so.
fn as_of(state: &AppState, text: Option<&str>) -> Result<Date, String> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(state.ledger.today()),
        Some(text) => events::business_date::parse(text)
            .map_err(|_| format!("«{text}» — не дата (ГГГГ-ММ-ДД).")),
    }
}

/// The date a report is asked for: staff only (a participant's session has no reports:
/// 404, as the API's), the date well-formed (400).
fn report_date(
    state: &AppState,
    session: &UiSession,
    text: Option<&str>,
) -> Result<Date, Box<Response>> {
    session.staff_only()?;
    as_of(state, text)
        .map_err(|message| Box::new(failure(session, StatusCode::BAD_REQUEST, &message)))
}

const BUCKET_NAMES: [&str; 5] = [
    "в срок",
    "1–15 дн.",
    "16–30 дн.",
    "31–90 дн.",
    "более 90 дн.",
];

fn bucket_amounts(buckets: &AgingBuckets) -> [Money; 5] {
    [
        buckets.current,
        buckets.days_1_15,
        buckets.days_16_30,
        buckets.days_31_90,
        buckets.over_90,
    ]
}

/// The buckets as a bar chart, drawn by the server as SVG (no script): bar heights in
/// whole pixels from the exact amounts, each bar labelled with its amount.
pub fn aging_chart(currency: &str, buckets: &AgingBuckets) -> Markup {
    const WIDTH: u32 = 640;
    const PLOT: u32 = 200;
    const BAR: u32 = 80;
    const GAP: u32 = 44;
    const TOP: u32 = 28;
    let amounts = bucket_amounts(buckets);
    let largest = amounts
        .iter()
        .map(|m| m.amount())
        .max()
        .unwrap_or(Decimal::ZERO);
    let height_of = |value: Decimal| -> u32 {
        if largest <= Decimal::ZERO {
            return 0;
        }
        (value * Decimal::from(PLOT) / largest)
            .round()
            .to_u32()
            .unwrap_or(0)
    };
    let title = format!("Задолженность по срокам просрочки, {currency}");
    html! {
        svg.chart role="img" aria-label=(title) width=(WIDTH) height=(TOP + PLOT + 48)
            viewBox={ "0 0 " (WIDTH) " " (TOP + PLOT + 48) } xmlns="http://www.w3.org/2000/svg" {
            title { (title) }
            line x1="0" y1=(TOP + PLOT) x2=(WIDTH) y2=(TOP + PLOT) stroke="#555" {}
            @for (index, (name, value)) in BUCKET_NAMES.iter().zip(amounts).enumerate() {
                @let x = GAP / 2 + index as u32 * (BAR + GAP);
                @let h = height_of(value.amount());
                rect x=(x) y=(TOP + PLOT - h) width=(BAR) height=(h)
                    fill=(["#2a9d8f", "#e9c46a", "#f4a261", "#e76f51", "#9b2226"][index]) {}
                text x=(x + BAR / 2) y=(TOP + PLOT - h - 6) text-anchor="middle" font-size="12" {
                    (amount(value.amount()))
                }
                text x=(x + BAR / 2) y=(TOP + PLOT + 18) text-anchor="middle" font-size="13" { (name) }
            }
        }
    }
}

/// `GET /ui/aging?as_of=`: outstanding principal by days overdue, per currency (a chart
/// and its figures) and per agreement, the most owed first.
pub async fn aging(
    State(state): State<AppState>,
    session: UiSession,
    Query(query): Query<AsOfQuery>,
) -> Response {
    let on = match report_date(&state, &session, query.as_of.as_deref()) {
        Ok(on) => on,
        Err(refused) => return *refused,
    };
    let report: AgingReport = match queries::aging_report(&state.ledger, on).await {
        Ok(report) => report,
        Err(e) => return failure(&session, StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    };
    let mut rows = report.agreements.clone();
    rows.sort_by_key(|row| std::cmp::Reverse(row.buckets.total.amount()));
    let listed = rows.len().min(AGING_ROWS_MAX);
    let body = html! {
        h1 { "Просроченная задолженность на " (report.as_of) }
        form.filters method="get" action="/ui/aging" {
            label { "На дату" input type="date" name="as_of" value=(report.as_of); }
            button type="submit" { "Показать" }
        }
        @if report.totals.is_empty() {
            p { "Задолженности нет." }
        }
        @for totals in &report.totals {
            h2 { (totals.currency.code()) ": договоров с долгом — " (totals.agreements) ", всего " (amount(totals.buckets.total.amount())) }
            (aging_chart(totals.currency.code(), &totals.buckets))
            div.table-wrap {
                table.aging-totals {
                    thead { tr { @for name in BUCKET_NAMES { th.money { (name) } } th.money { "Всего" } } }
                    tbody { tr { @for value in bucket_amounts(&totals.buckets) { (money(value)) } (money(totals.buckets.total)) } }
                }
            }
        }
        @if !rows.is_empty() {
            h2 { "По договорам" }
            @if listed < rows.len() { p { "Показаны " (listed) " из " (rows.len()) " с наибольшим долгом." } }
            div.table-wrap {
                table #aging {
                    thead { tr { th { "БИН/ИИН" } th { "Участник" } th { "Валюта" } @for name in BUCKET_NAMES { th.money { (name) } } th.money { "Всего" } } }
                    tbody {
                        @for row in &rows[..listed] {
                            tr {
                                td { a href={ "/ui/agreements/" (row.participant_id) } { (row.participant_id) } }
                                td { (row.name) } td { (row.currency.code()) }
                                @for value in bucket_amounts(&row.buckets) { (money(value)) }
                                (money(row.buckets.total))
                            }
                        }
                    }
                }
            }
        }
    };
    page(StatusCode::OK, layout("Просрочка", Some(&session), body))
}

fn action_name(action: &str) -> &str {
    match action {
        "FineCharged" => "начислить штраф",
        "Suspended" => "приостановить доступ",
        "Blocked" => "заблокировать",
        "Reinstated" => "возобновить доступ",
        "Unblocked" => "разблокировать",
        "Terminated" => "расторгнуть",
        other => other,
    }
}

/// `GET /ui/dunning?as_of=`: what the sweep would record as of the date, agreement by
/// agreement, recording nothing; for operators and billing staff the button that runs
/// it.
pub async fn dunning(
    State(state): State<AppState>,
    session: UiSession,
    Query(query): Query<AsOfQuery>,
) -> Response {
    let on = match report_date(&state, &session, query.as_of.as_deref()) {
        Ok(on) => on,
        Err(refused) => return *refused,
    };
    let report = match queries::dunning_preview(&state.ledger, on, true, None).await {
        Ok(report) => report,
        Err(e) => return failure(&session, StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    };
    let body = html! {
        h1 { "Взыскание: что сделает обход" }
        form.filters method="get" action="/ui/dunning"
            hx-get="/ui/dunning" hx-trigger="submit, change" hx-target="#preview"
            hx-select="#preview" hx-swap="outerHTML" hx-push-url="true" {
            label { "На дату" input type="date" name="as_of" value=(report.as_of); }
            button type="submit" { "Показать" }
        }
        div #preview aria-live="polite" {
            h2 #preview-date { "На " (report.as_of) }
            @if report.actions.is_empty() {
                p #no-actions { "Обход ничего не запишет." }
            } @else {
                div.table-wrap {
                    table #dunning {
                        thead { tr { th { "БИН/ИИН" } th { "Участник" } th { "Действие" } th { "Пункт" } th { "Правило" } } }
                        tbody {
                            @for action in &report.actions {
                                tr {
                                    td { a href={ "/ui/agreements/" (action.participant_id) } { (action.participant_id) } }
                                    td { (action.name) } td { (action_name(&action.action)) }
                                    td { "§" (action.clause) } td { (action.rule) }
                                }
                            }
                        }
                    }
                }
            }
            @if !report.skipped.is_empty() {
                h2 { "Пропустит" }
                ul { @for skipped in &report.skipped { li { (skipped.participant_id) ": " (skipped.reason) } } }
            }
            @if session.may_command() {
                form #run-sweep method="post" action="/ui/dunning" {
                    input type="hidden" name="csrf" value=(session.csrf);
                    input type="hidden" name="as_of" value=(report.as_of);
                    button type="submit" { "Провести обход на " (report.as_of) }
                }
            }
        }
    };
    page(StatusCode::OK, layout("Взыскание", Some(&session), body))
}

#[derive(Debug, Deserialize)]
pub struct SweepForm {
    csrf: String,
    as_of: String,
}

/// `POST /ui/dunning`: runs the sweep as of the date (as `POST /v1/sweeps` does) and
/// shows its report. Operators and billing staff only; the session's CSRF secret
/// required.
pub async fn run_sweep(
    State(state): State<AppState>,
    session: UiSession,
    axum::Form(form): axum::Form<SweepForm>,
) -> Response {
    if let Err(refused) = session.may_submit("проводить обход", &form.csrf) {
        return *refused;
    }
    let on = match as_of(&state, Some(&form.as_of)) {
        Ok(on) => on,
        Err(message) => return failure(&session, StatusCode::BAD_REQUEST, &message),
    };
    let report = match sweep::run_detached(
        state.ledger.clone(),
        session.caller.name.clone(),
        on,
        true,
    )
    .await
    {
        Ok(report) => report,
        Err(e) => {
            let (status, detail) = super::problem_in_words(e);
            return failure(&session, status, &format!("Обход не проведён: {detail}."));
        }
    };
    let list = |title: &str, ids: &[String]| -> Markup {
        html! {
            @if !ids.is_empty() {
                h2 { (title) " (" (ids.len()) ")" }
                p { @for (index, id) in ids.iter().enumerate() { @if index > 0 { ", " } a href={ "/ui/agreements/" (id) } { (id) } } }
            }
        }
    };
    let body = html! {
        h1 { "Обход на " (report.as_of) " проведён" }
        p.done role="status" #sweep-done { "Обход " (report.sweep_id) ": просмотрено договоров — " (report.agreements) "." }
        (list("Приостановлены", &report.suspended))
        (list("Заблокированы", &report.blocked))
        (list("Возобновлены", &report.reinstated))
        (list("Разблокированы", &report.unblocked))
        (list("Расторгнуты", &report.terminated))
        (list("Начислены штрафы", &report.fines_charged))
        (list("Начислены пени и штрафы при расторжении (§10.3)", &report.settlement_charged))
        @if !report.skipped.is_empty() {
            h2 { "Пропущены" }
            ul { @for skipped in &report.skipped { li { (skipped.participant_id) ": " (skipped.reason) } } }
        }
        p { a href="/ui/dunning" { "К предпросмотру" } }
    };
    page(
        StatusCode::OK,
        layout("Обход проведён", Some(&session), body),
    )
}
