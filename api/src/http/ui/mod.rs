//! The back office (INTEGRATION.md 3) at `/ui`: server-rendered HTML (maud) with htmx
//! served from the binary, for billing staff, auditors and participants.
//!
//! Sign-in takes an API token and opens a session: the browser keeps a random session
//! id in an HttpOnly, SameSite=Strict cookie (Secure behind TLS), the store keeps its
//! SHA-256 with the SHA-256 of the token, the session's CSRF secret and its expiry
//! (`ui_sessions`, shared by every server). Every request looks the token up again, so a
//! revoked token ends its sessions; the role rules are the API's (`http::auth`): an
//! auditor reads only, a participant sees only its own agreement. Every form carries the
//! session's CSRF secret; sign-in, before a session exists, a double-submit cookie's.

mod bank;
mod billing;
mod commands;
mod documents;
mod pages;
mod payments;
mod reports;
mod session;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup, DOCTYPE};

use super::AppState;
pub use bank::UPLOAD_PATH;
pub use session::{UiSession, SESSION_COOKIE, SESSION_LIFETIME};

/// htmx, vendored from the npm package `htmx.org` 2.0.4 (Zero-Clause BSD, its licence in
/// `api/assets/ui/LICENSE-htmx.txt`): served by the ledger itself, no CDN.
static HTMX: &str = include_str!("../../../assets/ui/htmx-2.0.4.min.js");
/// Where it is served.
pub const HTMX_PATH: &str = "/ui/static/htmx-2.0.4.min.js";

/// The back office's routes. They are not the API's: no bearer token, no OpenAPI entry;
/// a session instead ([`UiSession`]).
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/ui",
            get(|| async { axum::response::Redirect::to("/ui/agreements") }),
        )
        .route(
            "/ui/sign-in",
            get(session::sign_in_form).post(session::sign_in),
        )
        .route("/ui/sign-out", post(session::sign_out))
        .route("/ui/agreements", get(pages::agreements))
        .route("/ui/agreements/{id}", get(pages::agreement))
        .route("/ui/agreements/{id}/payments", post(pages::record_payment))
        .route(
            "/ui/agreements/{id}/invoices/{number}/esf",
            get(documents::esf),
        )
        .route("/ui/agreements/{id}/act", get(documents::act))
        .route(
            "/ui/agreements/{id}/statement.pdf",
            get(documents::statement_pdf),
        )
        .route(
            "/ui/agreements/{id}/commands/{kind}",
            post(commands::submit),
        )
        .route("/ui/billing-runs", get(billing::runs).post(billing::run))
        .route("/ui/periods", get(billing::periods))
        .route("/ui/periods/{period}/close", post(billing::close))
        .route("/ui/aging", get(reports::aging))
        .route(
            "/ui/dunning",
            get(reports::dunning).post(reports::run_sweep),
        )
        .route(
            UPLOAD_PATH,
            get(bank::upload_form)
                .post(bank::upload)
                .layer(axum::extract::DefaultBodyLimit::max(
                    crate::application::statements::STATEMENT_BYTES_MAX + 64 * 1024,
                )),
        )
        .route("/ui/bank-statements/{id}", get(bank::statement))
        .route(
            "/ui/bank-statements/{id}/lines/{n}/assignment",
            post(bank::assign),
        )
        .route(HTMX_PATH, get(htmx))
}

async fn htmx() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        HTMX,
    )
        .into_response()
}

/// Sends the browser to `path`: a redirect, or for a request htmx made (`HX-Request`)
/// `HX-Redirect`, so that the whole page changes rather than the part htmx would swap.
pub fn navigate(headers: &axum::http::HeaderMap, path: &str) -> Response {
    if headers.contains_key("hx-request") {
        return (
            axum::http::StatusCode::OK,
            [(axum::http::HeaderName::from_static("hx-redirect"), path)],
        )
            .into_response();
    }
    axum::response::Redirect::to(path).into_response()
}

/// An HTML answer: never cached, never framed.
pub fn page(status: axum::http::StatusCode, markup: Markup) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'",
            ),
        ],
        markup.into_string(),
    )
        .into_response()
}

/// The frame of every page: its title, who is signed in (with the sign-out form), the
/// navigation and the body.
pub fn layout(title: &str, session: Option<&UiSession>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="ru" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · edoc-ledger" }
                script src=(HTMX_PATH) defer {}
                style { (STYLE) }
            }
            body {
                header {
                    a.brand href="/ui/agreements" { "edoc-ledger" }
                    @if let Some(session) = session {
                        nav aria-label="Разделы" {
                            @if session.caller.participant.is_none() {
                                a href="/ui/agreements" { "Договоры" }
                                a href="/ui/aging" { "Просрочка" }
                                a href="/ui/dunning" { "Взыскание" }
                                a href="/ui/bank-statements" { "Выписки" }
                                a href="/ui/billing-runs" { "Счета за месяц" }
                                a href="/ui/periods" { "Периоды" }
                            }
                        }
                        form.sign-out method="post" action="/ui/sign-out" {
                            input type="hidden" name="csrf" value=(session.csrf);
                            span.who { (session.caller.name) " (" (role_name(session.caller.role)) ")" }
                            button type="submit" { "Выйти" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// The problem the API would answer for `error`, as a page says it: its status, and in
/// words a clerk reads (Russian, by the problem's type) followed by the API's own detail
/// and the clause that refused it ("месяц закрыт — … (п. 5.9)"), so that what the page
/// says and what `problem+json` says are the same problem.
pub fn problem_in_words(
    error: impl Into<super::error::ApiError>,
) -> (axum::http::StatusCode, String) {
    let (status, kind, detail, clause) = error.into().problem();
    let clause = clause.map(|c| format!(" (п. {c})")).unwrap_or_default();
    let words = problem_words(kind)
        .map(|words| format!("{words} — "))
        .unwrap_or_default();
    (status, format!("{words}{detail}{clause}"))
}

/// A problem type (API.md "Errors") in Russian words; `None` for one a page never shows.
pub fn problem_words(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "invalid-request" => "данные заполнены неверно",
        "not-found" => "не найдено",
        "rule-violation" => "договор не позволяет",
        "state-conflict" => "состояние договора не позволяет",
        "concurrent-write" => "одновременно записано другое изменение, повторите",
        "store-unavailable" => "хранилище недоступно, повторите позже",
        "period-closed" => "месяц закрыт",
        "period-not-over" => "месяц ещё не окончен",
        "period-already-closed" => "месяц уже закрыт",
        "earlier-period-open" => "не закрыт более ранний месяц",
        "month-not-closed" => "месяц не закрыт",
        "missing-reference-data" => "нет справочных данных (МРП, НДС, календарь)",
        "amount-out-of-range" => "сумма вне допустимых пределов",
        "invalid-statement" => "файл выписки не читается",
        "line-not-unmatched" => "строка выписки уже разнесена",
        "invalid-billing-run" => "выставление счетов невозможно",
        "payload-too-large" => "файл слишком велик",
        "unsupported-media-type" => "формат файла не поддерживается",
        "forbidden" => "нет прав",
        "request-timeout" => "истекло время ожидания",
        "idempotency-key-reused" => "повтор с другими данными",
        "internal" => "внутренняя ошибка",
        "invalid-tariff-version" => "версия тарифа заполнена неверно",
        "invalid-reference-version" => "версия справочника заполнена неверно",
        "not-configured" => "не настроено на этом сервере",
        "unauthorized" => "нужно войти заново",
        "method-not-allowed" => "такое действие здесь невозможно",
        _ => return None,
    })
}

/// A role in words.
pub fn role_name(role: crate::application::tokens::Role) -> &'static str {
    use crate::application::tokens::Role;
    match role {
        Role::Operator => "оператор",
        Role::Billing => "биллинг",
        Role::Auditor => "аудитор",
        Role::Participant => "участник",
    }
}

/// Readable at 1280 px and on a narrow screen; money right-aligned.
const STYLE: &str = "
body{font-family:system-ui,sans-serif;margin:0;color:#1b1b1b;background:#fafafa}
header{display:flex;flex-wrap:wrap;gap:1rem;align-items:center;padding:.6rem 1rem;background:#1d3557;color:#fff}
header a{color:#fff}.brand{font-weight:700;text-decoration:none;margin-right:1rem}
nav{display:flex;flex-wrap:wrap;gap:.4rem 1rem;flex:1 1 auto}.sign-out{display:flex;gap:.5rem;align-items:center;margin-left:auto}
main{padding:1rem;max-width:1200px;margin:0 auto}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}
td.money,th.money{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
.table-wrap{overflow-x:auto}
form.filters{display:flex;flex-wrap:wrap;gap:.8rem;align-items:flex-end;margin-bottom:1rem}
label{display:flex;flex-direction:column;font-size:.9rem;gap:.2rem}
input,select,button{font-size:1rem;padding:.3rem .5rem;max-width:100%;box-sizing:border-box}
.error{background:#fde2e1;border:1px solid #c0392b;padding:.6rem;margin-bottom:1rem}
.done{background:#e1f5e4;border:1px solid #2e7d32;padding:.6rem;margin-bottom:1rem}
dl.facts{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:.2rem 1rem}
dl.facts dd{margin:0;overflow-wrap:anywhere}
dl.facts dt{font-weight:600}
#run-sweep{margin-top:1rem}svg.chart{max-width:100%;height:auto}
h1,h2{overflow-wrap:anywhere}
@media (max-width:600px){main{padding:.5rem}dl.facts{grid-template-columns:minmax(0,1fr)}header{gap:.4rem}}
a:focus,button:focus,input:focus,select:focus{outline:3px solid #f4a261;outline-offset:1px}
";

#[cfg(test)]
mod tests {
    use super::*;

    /// Every problem type `http/error.rs` answers (on a line of its own, or right after
    /// its status) has Russian words: a new one without them fails here.
    #[test]
    fn every_problem_type_has_words_a_clerk_reads() {
        let source = include_str!("../error.rs");
        let mut kinds = Vec::new();
        for line in source.lines() {
            let line = line.trim();
            let candidates = line
                .strip_suffix("\",")
                .and_then(|l| l.strip_prefix('"'))
                .into_iter()
                .chain(line.split("StatusCode::").skip(1).filter_map(|rest| {
                    let (_, after) = rest.split_once(", \"")?;
                    after.split('"').next()
                }));
            for kind in candidates {
                if !kind.is_empty() && kind.chars().all(|c| c.is_ascii_lowercase() || c == '-') {
                    kinds.push(kind.to_owned());
                }
            }
        }
        assert!(kinds.len() >= 25, "the scan finds the types: {kinds:?}");
        for kind in &kinds {
            assert!(problem_words(kind).is_some(), "no words for `{kind}`");
        }
    }

    #[test]
    fn a_problem_in_words_keeps_the_api_detail_and_the_clause() {
        let (status, words) = problem_in_words(super::super::error::ApiError::bad_request(
            "`amount`: not a number",
        ));
        assert_eq!(status, axum::http::StatusCode::BAD_REQUEST);
        assert_eq!(words, "данные заполнены неверно — `amount`: not a number");
    }
}
