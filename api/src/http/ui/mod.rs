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
mod commands;
mod documents;
mod pages;
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

/// The problem the API would answer for `error`, as a page says it: its status, and its
/// detail with the clause that refused it ("… (п. 5.9)").
pub fn problem_in_words(
    error: impl Into<super::error::ApiError>,
) -> (axum::http::StatusCode, String) {
    let (status, _, detail, clause) = error.into().problem();
    let clause = clause.map(|c| format!(" (п. {c})")).unwrap_or_default();
    (status, format!("{detail}{clause}"))
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
nav{display:flex;gap:1rem;flex:1}.sign-out{display:flex;gap:.5rem;align-items:center;margin-left:auto}
main{padding:1rem;max-width:1200px;margin:0 auto}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}
td.money,th.money{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
.table-wrap{overflow-x:auto}
form.filters{display:flex;flex-wrap:wrap;gap:.8rem;align-items:flex-end;margin-bottom:1rem}
label{display:flex;flex-direction:column;font-size:.9rem;gap:.2rem}
input,select,button{font-size:1rem;padding:.3rem .5rem}
.error{background:#fde2e1;border:1px solid #c0392b;padding:.6rem;margin-bottom:1rem}
.done{background:#e1f5e4;border:1px solid #2e7d32;padding:.6rem;margin-bottom:1rem}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}
dl.facts dt{font-weight:600}
#run-sweep{margin-top:1rem}svg.chart{max-width:100%;height:auto}
a:focus,button:focus,input:focus,select:focus{outline:3px solid #f4a261;outline-offset:1px}
";
