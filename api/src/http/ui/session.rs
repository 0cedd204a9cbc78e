//! Sign-in, sessions and CSRF of the back office (INTEGRATION.md 3).

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use serde::Deserialize;

use super::{layout, page, AppState};
use crate::application::tokens::{self, Caller, Role};
use crate::application::ui_sessions;
pub use crate::application::ui_sessions::SESSION_LIFETIME;

/// The session cookie: a random id, 32 bytes as hex.
pub const SESSION_COOKIE: &str = "edoc_session";
/// The sign-in form's double-submit cookie (CSRF before a session exists).
const SIGN_IN_COOKIE: &str = "edoc_sign_in";
/// The longest cookie value read (TIGER_STYLE: a limit on everything).
const COOKIE_CHARS_MAX: usize = 128;

/// A signed-in browser: the caller its token identifies (looked up on every request)
/// and the session's CSRF secret, which every form it submits must carry.
#[derive(Debug, Clone)]
pub struct UiSession {
    pub id_sha256: String,
    pub caller: Caller,
    pub csrf: String,
}

impl UiSession {
    /// Whether the caller may record commands (operator and billing, as in the API).
    pub fn may_command(&self) -> bool {
        matches!(self.caller.role, Role::Operator | Role::Billing)
    }

    /// Whether the caller may see agreement `id` (a participant only its own).
    pub fn may_see(&self, id: &str) -> bool {
        self.caller
            .participant
            .as_ref()
            .is_none_or(|own| own.as_str() == id)
    }

    /// Staff pages (reports, billing, statements): a participant's session has none (the
    /// 404 page, as the API answers it).
    pub fn staff_only(&self) -> Result<(), Box<Response>> {
        if self.caller.participant.is_some() {
            return Err(Box::new(super::pages::failure(
                self,
                StatusCode::NOT_FOUND,
                "Нет такой страницы.",
            )));
        }
        Ok(())
    }

    /// Whether this session may submit a command form (`what` it does, in words): its
    /// role may command (403 otherwise) and `csrf` is its secret (403 otherwise);
    /// refused, nothing is recorded.
    pub fn may_submit(&self, what: &str, csrf: &str) -> Result<(), Box<Response>> {
        self.may_submit_if(self.may_command(), what, csrf)
    }

    /// Whether the caller may close a month (operators only, as
    /// `POST /v1/periods/{period}/close`).
    pub fn may_close_periods(&self) -> bool {
        matches!(self.caller.role, Role::Operator)
    }

    /// [`Self::may_submit`] for a form only some roles may send: `allowed` says whether
    /// this session's role is one of them.
    pub fn may_submit_if(
        &self,
        allowed: bool,
        what: &str,
        csrf: &str,
    ) -> Result<(), Box<Response>> {
        if !allowed {
            return Err(Box::new(page(
                StatusCode::FORBIDDEN,
                layout(
                    "Нет прав",
                    Some(self),
                    html! { p.error role="alert" { "Роль «" (super::role_name(self.caller.role)) "» не может " (what) "; ничего не записано." } },
                ),
            )));
        }
        if !self.csrf_matches(csrf) {
            return Err(Box::new(forbidden_form(self)));
        }
        Ok(())
    }

    /// The context its commands are recorded with: the token's name as the actor (as
    /// the API records it), the request's id.
    pub fn command_context(
        &self,
        headers: &HeaderMap,
    ) -> crate::application::commands::CommandContext {
        crate::application::commands::CommandContext {
            actor: self.caller.name.clone(),
            request_id: headers
                .get(crate::http::REQUEST_ID_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned(),
            sweep: None,
            idempotency: None,
        }
    }

    /// Whether `submitted` is this session's CSRF secret (compared in constant time).
    pub fn csrf_matches(&self, submitted: &str) -> bool {
        same_secret(&self.csrf, submitted)
    }
}

fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The value of cookie `name` in the request, if it is there and not too long.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty() && value.len() <= COOKIE_CHARS_MAX)
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, for `/ui`, Secure when the request
/// came over TLS (directly or through a proxy that says so).
fn set_cookie(headers: &HeaderMap, name: &str, value: &str, max_age: i64) -> String {
    let tls = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|proto| proto.eq_ignore_ascii_case("https"));
    format!(
        "{name}={value}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        if tls { "; Secure" } else { "" }
    )
}

/// Where a request without a valid session goes: the sign-in page (htmx follows
/// `HX-Redirect`).
fn to_sign_in() -> Response {
    (
        [("hx-redirect", "/ui/sign-in")],
        Redirect::to("/ui/sign-in"),
    )
        .into_response()
}

impl FromRequestParts<AppState> for UiSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Some(id) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(to_sign_in());
        };
        let live = ui_sessions::live(state.ledger.repository(), id, state.ledger.now_utc())
            .await
            .map_err(|e| unavailable(&e.to_string()))?;
        // Unknown, expired, or its token revoked: to the sign-in.
        let Some(live) = live else {
            return Err(to_sign_in());
        };
        Ok(UiSession {
            id_sha256: live.id_sha256,
            caller: live.caller,
            csrf: live.csrf,
        })
    }
}

fn unavailable(detail: &str) -> Response {
    tracing::warn!(%detail, "back office: the store does not answer");
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        layout(
            "Нет связи с хранилищем",
            None,
            html! { p.error role="alert" { "Хранилище не отвечает. Повторите через минуту." } },
        ),
    )
}

#[derive(Debug, Deserialize)]
pub struct SignInForm {
    token: String,
    csrf: String,
}

fn sign_in_page(
    status: StatusCode,
    csrf: &str,
    error: Option<&str>,
    headers: &HeaderMap,
) -> Response {
    let body = html! {
        h1 { "Вход в бэк-офис" }
        @if let Some(error) = error {
            p.error role="alert" { (error) }
        }
        form method="post" action="/ui/sign-in" {
            input type="hidden" name="csrf" value=(csrf);
            label {
                "Токен доступа (edoc-ledger token create)"
                input type="password" name="token" autocomplete="off" required autofocus maxlength="128";
            }
            p { button type="submit" { "Войти" } }
        }
    };
    let mut response = page(status, layout("Вход", None, body));
    if let Ok(value) = set_cookie(headers, SIGN_IN_COOKIE, csrf, 3600).parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// `GET /ui/sign-in`: the form, with a fresh double-submit CSRF secret.
pub async fn sign_in_form(headers: HeaderMap) -> Response {
    match tokens::random_hex(32) {
        Ok(csrf) => sign_in_page(StatusCode::OK, &csrf, None, &headers),
        Err(e) => unavailable(&e.to_string()),
    }
}

/// `POST /ui/sign-in`: a known, unrevoked token opens a session (303 to the agreements,
/// or a participant's own); anything else answers the form again with why.
pub async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let fresh = match tokens::random_hex(32) {
        Ok(csrf) => csrf,
        Err(e) => return unavailable(&e.to_string()),
    };
    let expected = cookie(&headers, SIGN_IN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !same_secret(expected, &form.csrf) {
        return sign_in_page(
            StatusCode::FORBIDDEN,
            &fresh,
            Some("Форма устарела или отправлена не с этой страницы. Войдите ещё раз."),
            &headers,
        );
    }
    let opened = match ui_sessions::open(
        state.ledger.repository(),
        form.token.trim(),
        state.ledger.now_utc(),
    )
    .await
    {
        Ok(opened) => opened,
        Err(e) => return unavailable(&e.to_string()),
    };
    let Some(ui_sessions::OpenedSession { id, caller }) = opened else {
        return sign_in_page(
            StatusCode::UNAUTHORIZED,
            &fresh,
            Some("Токен неизвестен или отозван."),
            &headers,
        );
    };
    tracing::info!(token = %caller.token_id, role = caller.role.code(), "back office: signed in");
    let target = match &caller.participant {
        Some(own) => format!("/ui/agreements/{own}"),
        None => "/ui/agreements".to_owned(),
    };
    let mut response = Redirect::to(&target).into_response();
    for cookie in [
        set_cookie(
            &headers,
            SESSION_COOKIE,
            &id,
            SESSION_LIFETIME.whole_seconds(),
        ),
        set_cookie(&headers, SIGN_IN_COOKIE, "", 0),
    ] {
        if let Ok(value) = cookie.parse() {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// A form that carries nothing but the session's CSRF secret (sign out, close a month).
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    pub csrf: String,
}

/// `POST /ui/sign-out`: ends the session (with its CSRF secret), 303 to the sign-in.
pub async fn sign_out(
    State(state): State<AppState>,
    session: UiSession,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !session.csrf_matches(&form.csrf) {
        return forbidden_form(&session);
    }
    if let Err(e) = ui_sessions::close(state.ledger.repository(), &session.id_sha256).await {
        return unavailable(&e.to_string());
    }
    let mut response = Redirect::to("/ui/sign-in").into_response();
    if let Ok(value) = set_cookie(&headers, SESSION_COOKIE, "", 0).parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// A form without this session's CSRF secret: refused, nothing recorded.
pub fn forbidden_form(session: &UiSession) -> Response {
    page(
        StatusCode::FORBIDDEN,
        layout(
            "Форма отклонена",
            Some(session),
            html! { p.error role="alert" { "Форма отправлена не с этой страницы или устарела; ничего не записано. Откройте страницу заново." } },
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_by_name_and_limited() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            "a=1; edoc_session=abc; edoc_sign_in=".parse().unwrap(),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&headers, SIGN_IN_COOKIE), None);
        headers.insert(
            header::COOKIE,
            format!("edoc_session={}", "x".repeat(200)).parse().unwrap(),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), None);
    }

    #[test]
    fn session_cookies_are_http_only_strict_and_secure_behind_tls() {
        let mut headers = HeaderMap::new();
        let plain = set_cookie(&headers, SESSION_COOKIE, "v", 60);
        assert_eq!(
            plain,
            "edoc_session=v; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=60"
        );
        headers.insert("x-forwarded-proto", "https".parse().unwrap());
        assert!(set_cookie(&headers, SESSION_COOKIE, "v", 60).ends_with("; Secure"));
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
    }
}
