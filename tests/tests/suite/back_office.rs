//! The back office at `/ui` over HTTP (issue 19, INTEGRATION.md 3), on both stores, as a
//! browser speaks to it (cookies and forms, no redirects followed): sign-in with a token
//! into an HttpOnly, SameSite=Strict session; CSRF on every form; the agreements page
//! and its BIN search; one agreement's balance and invoices; a participant kept to its
//! own; sign-out; a revoked token ending its session.

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;

use api::application::tokens::Role;

use serde_json::json;

use crate::helpers::{
    invoice, registration, spawn_app, spawn_app_on, tariff_version, Store, TestApp,
};
use crate::on_both_stores;

on_both_stores!(
    a_clerk_signs_in_finds_an_agreement_and_signs_out,
    a_payment_is_recorded_through_the_form_and_a_refused_one_records_nothing,
    staff_see_aging_and_the_dunning_preview_and_clerks_run_the_sweep,
    a_clerk_uploads_a_bank_statement_and_assigns_an_unmatched_line,
    an_agreement_page_links_its_documents_and_shows_its_events_with_their_hashes,
    corrections_and_measures_run_from_their_forms_as_the_api_runs_them,
    a_participant_sees_only_its_own_agreement_and_a_revoked_token_ends_its_session,
    the_agreements_list_finds_by_name_or_bin_start_and_filters_by_debt,
    the_agreement_page_shows_each_payment_and_what_it_settled,
    a_clerk_bills_a_month_and_an_operator_closes_one_from_their_pages,
);

const ROMASHKA: &str = "120340001230";
const OTHER: &str = "980511004560";

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The value the answer sets for cookie `name`, with its attributes.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

fn cookie_value(set_cookie: &str) -> &str {
    set_cookie
        .split(';')
        .next()
        .and_then(|pair| pair.split_once('='))
        .map(|(_, value)| value)
        .unwrap()
}

/// The value of the hidden `csrf` field of the page.
fn csrf_of(html: &str) -> String {
    let at =
        html.find(r#"name="csrf" value=""#).expect("a csrf field") + r#"name="csrf" value=""#.len();
    html[at..at + html[at..].find('"').unwrap()].to_owned()
}

/// Signs in with `token`: the session cookie (`edoc_session=...`).
async fn sign_in(app: &TestApp, token: &str) -> (String, reqwest::Response) {
    let client = browser();
    let form = client.get(app.url("/ui/sign-in")).send().await.unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    let sign_in_cookie = set_cookie(&form, "edoc_sign_in").expect("a sign-in cookie");
    let csrf = csrf_of(&form.text().await.unwrap());
    let response = client
        .post(app.url("/ui/sign-in"))
        .header(
            COOKIE,
            format!("edoc_sign_in={}", cookie_value(&sign_in_cookie)),
        )
        .form(&[("token", token), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    let session = set_cookie(&response, "edoc_session")
        .map(|c| format!("edoc_session={}", cookie_value(&c)))
        .unwrap_or_default();
    (session, response)
}

async fn get(app: &TestApp, session: &str, path: &str) -> reqwest::Response {
    browser()
        .get(app.url(path))
        .header(COOKIE, session)
        .send()
        .await
        .unwrap()
}

fn location(response: &reqwest::Response) -> &str {
    response.headers()[LOCATION].to_str().unwrap()
}

async fn a_clerk_signs_in_finds_an_agreement_and_signs_out(store: Store) {
    let app = spawn_app(store).await;
    app.signed_agreement(ROMASHKA).await;
    let path = format!("/v1/agreements/{ROMASHKA}/invoices");
    assert_eq!(
        app.post(&path, &invoice("2026-02-02", "10000.00"))
            .await
            .status(),
        201
    );

    // Without a session every page sends the browser to the sign-in.
    let response = get(&app, "", "/ui/agreements").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/ui/sign-in");

    // A form not sent from the sign-in page (no double-submit cookie) is refused; an
    // unknown token is answered in words, with no session.
    let response = browser()
        .post(app.url("/ui/sign-in"))
        .form(&[("token", app.operator_token.as_str()), ("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(set_cookie(&response, "edoc_session").is_none());
    let (session, response) = sign_in(&app, "edoc_not_a_token").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(session.is_empty());
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("Токен неизвестен или отозван"));

    // A billing clerk signs in: a session cookie, HttpOnly and SameSite=Strict.
    let token = app.token(Role::Billing, "clerk", None).await;
    let (session, response) = sign_in(&app, &token).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/ui/agreements");
    let cookie = set_cookie(&response, "edoc_session").unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(cookie.contains("Path=/ui"), "{cookie}");

    // The agreements, then a search by BIN that opens the agreement.
    let page = get(&app, &session, "/ui/agreements").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let html = page.text().await.unwrap();
    assert!(
        html.contains(ROMASHKA) && html.contains("ТОО «Ромашка»"),
        "{html}"
    );
    assert!(html.contains("clerk (биллинг)"), "{html}");
    let found = get(&app, &session, &format!("/ui/agreements?q={ROMASHKA}")).await;
    assert_eq!(found.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&found), format!("/ui/agreements/{ROMASHKA}"));
    let missing = get(&app, &session, &format!("/ui/agreements?q={OTHER}")).await;
    assert!(missing.text().await.unwrap().contains("не найден"));

    // The agreement: its balance as the API computes it, money as accountants write it.
    let html = get(&app, &session, &format!("/ui/agreements/{ROMASHKA}"))
        .await
        .text()
        .await
        .unwrap();
    let balance = app
        .get_json(&format!("/v1/agreements/{ROMASHKA}/balance"))
        .await;
    assert_eq!(balance["total_due"], "11600.00");
    assert!(html.contains("11\u{a0}600,00"), "{html}");
    assert!(html.contains(r#"id="invoices""#), "{html}");
    // Its penalty explained down to the clause, as GET .../penalties explains it.
    let penalties = app
        .get_json(&format!("/v1/agreements/{ROMASHKA}/penalties"))
        .await;
    let explanation = penalties[0]["explanation"].as_str().unwrap();
    assert!(html.contains(r#"id="penalties""#), "{html}");
    assert!(
        html.contains(
            &explanation
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
        ),
        "{explanation} in {html}"
    );

    // Sign-out needs the session's CSRF secret: without it nothing happens.
    let csrf = csrf_of(&html);
    let refused = browser()
        .post(app.url("/ui/sign-out"))
        .header(COOKIE, &session)
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        get(&app, &session, "/ui/agreements").await.status(),
        StatusCode::OK
    );
    let out = browser()
        .post(app.url("/ui/sign-out"))
        .header(COOKIE, &session)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(set_cookie(&out, "edoc_session")
        .unwrap()
        .contains("Max-Age=0"));
    let after = get(&app, &session, "/ui/agreements").await;
    assert_eq!(after.status(), StatusCode::SEE_OTHER, "the session is over");

    // htmx is served by the ledger itself.
    let htmx = browser()
        .get(app.url(api::http::ui::HTMX_PATH))
        .send()
        .await
        .unwrap();
    assert_eq!(htmx.status(), StatusCode::OK);
    assert!(htmx.text().await.unwrap().contains("htmx"));
    app.finish().await;
}

async fn a_participant_sees_only_its_own_agreement_and_a_revoked_token_ends_its_session(
    store: Store,
) {
    let app = spawn_app(store).await;
    app.signed_agreement(ROMASHKA).await;
    app.signed_agreement(OTHER).await;
    let token = app
        .token(Role::Participant, "romashka-buh", Some(ROMASHKA))
        .await;
    let (session, response) = sign_in(&app, &token).await;
    assert_eq!(location(&response), format!("/ui/agreements/{ROMASHKA}"));
    // The list sends it to its own agreement; another's is not found, as in the API.
    let list = get(&app, &session, "/ui/agreements").await;
    assert_eq!(location(&list), format!("/ui/agreements/{ROMASHKA}"));
    assert_eq!(
        get(&app, &session, &format!("/ui/agreements/{ROMASHKA}"))
            .await
            .status(),
        StatusCode::OK
    );
    let other = get(&app, &session, &format!("/ui/agreements/{OTHER}")).await;
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    assert!(!other.text().await.unwrap().contains("ТОО «Ромашка»</h1>"));

    // The token revoked: the session ends at its next request.
    api::application::tokens::revoke(app.ledger.repository(), "romashka-buh")
        .await
        .unwrap();
    let after = get(&app, &session, &format!("/ui/agreements/{ROMASHKA}")).await;
    assert_eq!(after.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&after), "/ui/sign-in");
    app.finish().await;
}

async fn post_form(
    app: &TestApp,
    session: &str,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    browser()
        .post(app.url(path))
        .header(COOKIE, session)
        .form(form)
        .send()
        .await
        .unwrap()
}

/// The payment form records what `POST /v1/agreements/{id}/payments` records; a refused
/// one shows the problem in words and records nothing; an auditor's session has no form
/// and its forged POST is refused.
async fn a_payment_is_recorded_through_the_form_and_a_refused_one_records_nothing(store: Store) {
    let app = spawn_app(store).await;
    app.signed_agreement(ROMASHKA).await;
    let path = format!("/v1/agreements/{ROMASHKA}/invoices");
    assert_eq!(
        app.post(&path, &invoice("2026-02-02", "10000.00"))
            .await
            .status(),
        201
    );
    let page = format!("/ui/agreements/{ROMASHKA}");
    let payments = format!("{page}/payments");
    let token = app.token(Role::Billing, "clerk", None).await;
    let (session, _) = sign_in(&app, &token).await;
    let html = get(&app, &session, &page).await.text().await.unwrap();
    assert!(html.contains(r#"id="payment""#), "a clerk has the form");
    let csrf = csrf_of(&html);
    let events = app.event_count().await;

    // Refused by the rules (an amount of zero): the problem in words, nothing recorded,
    // the form as it was filled.
    let refused = post_form(
        &app,
        &session,
        &payments,
        &[
            ("csrf", &csrf),
            ("reference", "PP-1"),
            ("received_on", "2026-02-05"),
            ("amount", "0"),
        ],
    )
    .await;
    assert!(refused.status().is_client_error(), "{}", refused.status());
    let html = refused.text().await.unwrap();
    assert!(html.contains("Платёж не записан"), "{html}");
    assert!(html.contains(r#"value="PP-1""#), "the form is kept: {html}");
    assert_eq!(app.event_count().await, events, "nothing recorded");
    // A form without the session's CSRF secret: refused, nothing recorded.
    let forged = post_form(
        &app,
        &session,
        &payments,
        &[
            ("csrf", "forged"),
            ("reference", "PP-1"),
            ("received_on", "2026-02-05"),
            ("amount", "100.00"),
        ],
    )
    .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.event_count().await, events, "nothing recorded");

    // Recorded: back to the page, which says so and shows the new balance, as the API.
    let recorded = post_form(
        &app,
        &session,
        &payments,
        &[
            ("csrf", &csrf),
            ("reference", "PP-1"),
            ("received_on", "2026-02-05"),
            ("amount", "5 000,00"),
        ],
    )
    .await;
    assert_eq!(recorded.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&recorded), format!("{page}?recorded=PP-1"));
    let html = get(&app, &session, location(&recorded))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Платёж PP-1 записан"), "{html}");
    let balance = app
        .get_json(&format!("/v1/agreements/{ROMASHKA}/balance"))
        .await;
    assert_eq!(balance["total_due"], "6600.00");
    assert!(html.contains("6\u{a0}600,00"), "{html}");
    // The same form again records nothing more (the reference is the payment's).
    let events = app.event_count().await;
    let again = post_form(
        &app,
        &session,
        &payments,
        &[
            ("csrf", &csrf),
            ("reference", "PP-1"),
            ("received_on", "2026-02-05"),
            ("amount", "5000.00"),
        ],
    )
    .await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.event_count().await, events);

    // An auditor reads, with no form; its forged POST (its own CSRF secret) is refused.
    let auditor = app.token(Role::Auditor, "auditor", None).await;
    let (session, _) = sign_in(&app, &auditor).await;
    let html = get(&app, &session, &page).await.text().await.unwrap();
    assert!(
        !html.contains(r#"id="payment""#),
        "no command forms for an auditor"
    );
    let csrf = csrf_of(&html);
    let forged = post_form(
        &app,
        &session,
        &payments,
        &[
            ("csrf", &csrf),
            ("reference", "PP-2"),
            ("received_on", "2026-02-06"),
            ("amount", "100.00"),
        ],
    )
    .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.event_count().await, events, "nothing recorded");
    app.finish().await;
}

/// Aging with its SVG chart and the dunning preview for staff; the sweep run from the
/// page by a clerk (as `POST /v1/sweeps`); not by an auditor; no reports for a
/// participant.
async fn staff_see_aging_and_the_dunning_preview_and_clerks_run_the_sweep(store: Store) {
    let app = spawn_app(store).await;
    app.signed_agreement(ROMASHKA).await;
    let path = format!("/v1/agreements/{ROMASHKA}/invoices");
    assert_eq!(
        app.post(&path, &invoice("2026-02-02", "10000.00"))
            .await
            .status(),
        201
    );
    let clerk = app.token(Role::Billing, "clerk", None).await;
    let (session, _) = sign_in(&app, &clerk).await;

    let html = get(&app, &session, "/ui/aging").await.text().await.unwrap();
    assert!(html.contains("<svg"), "a chart drawn by the server: {html}");
    assert!(
        html.contains(ROMASHKA) && html.contains("11\u{a0}600,00"),
        "{html}"
    );
    let aging = app.get_json("/v1/reports/aging").await;
    assert_eq!(aging["totals"][0]["total"], "11600.00", "the API agrees");
    let bad = get(&app, &session, "/ui/aging?as_of=2026-02-30").await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

    let html = get(&app, &session, "/ui/dunning")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("приостановить доступ"), "{html}");
    assert!(html.contains(r#"id="run-sweep""#), "{html}");
    let csrf = csrf_of(&html);
    let as_of = app.get_json("/v1/reports/dunning").await["as_of"]
        .as_str()
        .unwrap()
        .to_owned();

    // An auditor sees the preview, has no button, and its forged POST is refused.
    let auditor = app.token(Role::Auditor, "auditor", None).await;
    let (auditor_session, _) = sign_in(&app, &auditor).await;
    let html = get(&app, &auditor_session, "/ui/dunning")
        .await
        .text()
        .await
        .unwrap();
    assert!(!html.contains(r#"id="run-sweep""#), "{html}");
    let auditor_csrf = csrf_of(&html);
    let events = app.event_count().await;
    let forged = post_form(
        &app,
        &auditor_session,
        "/ui/dunning",
        &[("csrf", &auditor_csrf), ("as_of", &as_of)],
    )
    .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.event_count().await, events, "nothing recorded");

    // The clerk runs it: the report, and access restricted (§4.2: suspended, then
    // blocked, for ten months overdue), as by the API.
    let ran = post_form(
        &app,
        &session,
        "/ui/dunning",
        &[("csrf", &csrf), ("as_of", &as_of)],
    )
    .await;
    assert_eq!(ran.status(), StatusCode::OK);
    let html = ran.text().await.unwrap();
    assert!(
        html.contains(r#"id="sweep-done""#) && html.contains(ROMASHKA),
        "{html}"
    );
    let agreement = app.get_json(&format!("/v1/agreements/{ROMASHKA}")).await;
    assert!(
        agreement["status"] == "suspended" || agreement["status"] == "blocked",
        "{agreement}"
    );

    // A participant has no reports.
    let own = app
        .token(Role::Participant, "romashka-buh", Some(ROMASHKA))
        .await;
    let (own_session, _) = sign_in(&app, &own).await;
    assert_eq!(
        get(&app, &own_session, "/ui/aging").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&app, &own_session, "/ui/dunning").await.status(),
        StatusCode::NOT_FOUND
    );
    app.finish().await;
}

const CAMT_08: &str =
    include_str!("../../../api/src/application/statements/fixtures/camt053_001_08.xml");

async fn upload(app: &TestApp, session: &str, csrf: &str, file: &[u8]) -> reqwest::Response {
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf.to_owned())
        .part(
            "file",
            reqwest::multipart::Part::bytes(file.to_vec())
                .file_name("statement.xml")
                .mime_str("application/xml")
                .unwrap(),
        );
    browser()
        .post(app.url("/ui/bank-statements"))
        .header(COOKIE, session)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

/// A statement uploaded through the page is imported as `POST /v1/bank-statements`
/// imports it; the same file again records nothing; a file the ledger does not read is
/// refused in words; an unmatched line is assigned from its form; an auditor can do
/// neither.
async fn a_clerk_uploads_a_bank_statement_and_assigns_an_unmatched_line(store: Store) {
    let app = spawn_app(store).await;
    app.signed_agreement(ROMASHKA).await;
    let clerk = app.token(Role::Billing, "clerk", None).await;
    let (session, _) = sign_in(&app, &clerk).await;
    let html = get(&app, &session, "/ui/bank-statements")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"id="upload""#), "{html}");
    let csrf = csrf_of(&html);

    // A file the ledger does not read: refused in words, nothing recorded.
    let events = app.event_count().await;
    let bad = upload(&app, &session, &csrf, b"not a statement").await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(bad.text().await.unwrap().contains("Выписка не загружена"));
    assert_eq!(app.event_count().await, events);

    let uploaded = upload(&app, &session, &csrf, CAMT_08.as_bytes()).await;
    assert_eq!(uploaded.status(), StatusCode::SEE_OTHER);
    let page = location(&uploaded).to_owned();
    assert!(page.ends_with("?imported=1"), "{page}");
    assert_eq!(
        app.event_count().await,
        events + 1,
        "the matched line's payment"
    );
    let html = get(&app, &session, &page).await.text().await.unwrap();
    assert!(
        html.contains("Выписка загружена") && html.contains("не сопоставлена"),
        "{html}"
    );
    // The same file again: nothing more.
    let again = upload(&app, &session, &csrf, CAMT_08.as_bytes()).await;
    assert!(location(&again).ends_with("?again=1"));
    assert_eq!(app.event_count().await, events + 1);

    // An unmatched line assigned to the agreement from its form.
    let at = html
        .find(r#"class="assign" method="post" action=""#)
        .expect("an assignment form")
        + r#"class="assign" method="post" action=""#.len();
    let action = html[at..at + html[at..].find('"').unwrap()].to_owned();
    let refused = post_form(
        &app,
        &session,
        &action,
        &[
            ("csrf", &csrf),
            ("participant_id", "123"),
            ("invoice_number", ""),
        ],
    )
    .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.text().await.unwrap().contains("не отнесена"));
    let assigned = post_form(
        &app,
        &session,
        &action,
        &[
            ("csrf", &csrf),
            ("participant_id", ROMASHKA),
            ("invoice_number", ""),
        ],
    )
    .await;
    assert_eq!(
        assigned.status(),
        StatusCode::SEE_OTHER,
        "{}",
        assigned.text().await.unwrap_or_default()
    );
    assert_eq!(app.event_count().await, events + 2);
    let statement_id = page
        .trim_start_matches("/ui/bank-statements/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let view = app
        .get_json(&format!("/v1/bank-statements/{statement_id}"))
        .await;
    assert_eq!(view["matched"], 2, "as the API reads it");

    // An auditor: no upload form, and its forged upload is refused.
    let auditor = app.token(Role::Auditor, "auditor", None).await;
    let (auditor_session, _) = sign_in(&app, &auditor).await;
    let html = get(&app, &auditor_session, "/ui/bank-statements")
        .await
        .text()
        .await
        .unwrap();
    assert!(!html.contains(r#"id="upload""#), "{html}");
    let forged = upload(&app, &auditor_session, &csrf_of(&html), CAMT_08.as_bytes()).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    app.finish().await;
}

/// The agreement page links the invoice's ESF, the act and the statement (the API's own
/// answers), and lists the events with their hashes; a participant opens its own
/// documents only.
async fn an_agreement_page_links_its_documents_and_shows_its_events_with_their_hashes(
    store: Store,
) {
    let app = spawn_app(store).await;
    app.signed_agreement(ROMASHKA).await;
    app.signed_agreement(OTHER).await;
    let path = format!("/v1/agreements/{ROMASHKA}/invoices");
    assert_eq!(
        app.post(&path, &invoice("2026-02-02", "10000.00"))
            .await
            .status(),
        201
    );
    let clerk = app.token(Role::Billing, "clerk", None).await;
    let (session, _) = sign_in(&app, &clerk).await;
    let page = format!("/ui/agreements/{ROMASHKA}");
    let html = get(&app, &session, &page).await.text().await.unwrap();
    let esf = format!("{page}/invoices/1/esf");
    assert!(html.contains(&format!(r#"href="{esf}""#)), "{html}");
    // Every event with its hash, as the API lists them.
    let events = app.events(ROMASHKA).await;
    for event in &events {
        let hash = event["hash"].as_str().unwrap();
        assert!(
            html.contains(&format!(r#"title="{hash}""#)),
            "{hash} in {html}"
        );
    }

    let xml = get(&app, &session, &esf).await;
    assert_eq!(xml.status(), StatusCode::OK);
    assert_eq!(
        xml.headers()["content-type"],
        "application/xml; charset=utf-8"
    );
    let pdf = get(
        &app,
        &session,
        &format!("{page}/statement.pdf?from=2026-01-01&to=2026-03-31"),
    )
    .await;
    assert_eq!(pdf.status(), StatusCode::OK);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    // February is open: the act is refused in words (BILLING.md 5.4).
    let act = get(&app, &session, &format!("{page}/act?month=2026-02")).await;
    assert_eq!(act.status(), StatusCode::CONFLICT);
    assert!(act
        .text()
        .await
        .unwrap()
        .contains("Документ не сформирован"));

    // A participant: its own ESF, not another's.
    let own = app
        .token(Role::Participant, "romashka-buh", Some(ROMASHKA))
        .await;
    let (own_session, _) = sign_in(&app, &own).await;
    assert_eq!(get(&app, &own_session, &esf).await.status(), StatusCode::OK);
    let other = get(
        &app,
        &own_session,
        &format!("/ui/agreements/{OTHER}/statement.pdf"),
    )
    .await;
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    app.finish().await;
}

/// The command forms beyond the payment run the API's commands: a void and a
/// suspension recorded; a credit note beyond the net refused in words, nothing
/// recorded; an auditor's forged form refused.
async fn corrections_and_measures_run_from_their_forms_as_the_api_runs_them(store: Store) {
    let app = spawn_app(store).await;
    app.signed_agreement(ROMASHKA).await;
    let path = format!("/v1/agreements/{ROMASHKA}/invoices");
    for issued_on in ["2026-02-02", "2026-03-02"] {
        assert_eq!(
            app.post(&path, &invoice(issued_on, "10000.00"))
                .await
                .status(),
            201
        );
    }
    let clerk = app.token(Role::Billing, "clerk", None).await;
    let (session, _) = sign_in(&app, &clerk).await;
    let page = format!("/ui/agreements/{ROMASHKA}");
    let html = get(&app, &session, &page).await.text().await.unwrap();
    assert!(html.contains(r#"id="corrections""#), "{html}");
    let csrf = csrf_of(&html);
    let form = |kind: &str| format!("{page}/commands/{kind}");

    // A credit note beyond the invoice's net: refused in words, nothing recorded.
    let events = app.event_count().await;
    let refused = post_form(
        &app,
        &session,
        &form("credit-note"),
        &[
            ("csrf", &csrf),
            ("invoice_number", "1"),
            ("on", "2026-02-10"),
            ("net", "20 000,00"),
            ("reason", "too much"),
        ],
    )
    .await;
    assert!(refused.status().is_client_error(), "{}", refused.status());
    assert!(refused.text().await.unwrap().contains("Не записано"));
    assert_eq!(app.event_count().await, events);

    // A void, then a suspension: recorded as by the API.
    let voided = post_form(
        &app,
        &session,
        &form("void"),
        &[
            ("csrf", &csrf),
            ("invoice_number", "2"),
            ("on", "2026-03-03"),
            ("reason", "issued twice"),
        ],
    )
    .await;
    assert_eq!(voided.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&voided), format!("{page}?done=void"));
    let html = get(&app, &session, location(&voided))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Счёт аннулирован"), "{html}");
    let invoices = app
        .get_json(&format!("/v1/agreements/{ROMASHKA}/invoices"))
        .await;
    assert_eq!(invoices[1]["status"], "void", "{invoices}");
    let suspended = post_form(
        &app,
        &session,
        &form("suspension"),
        &[
            ("csrf", &csrf),
            ("on", "2026-03-04"),
            ("reason", "violation"),
        ],
    )
    .await;
    assert_eq!(suspended.status(), StatusCode::SEE_OTHER);
    let agreement = app.get_json(&format!("/v1/agreements/{ROMASHKA}")).await;
    assert_eq!(agreement["status"], "suspended");

    // An auditor has no such forms, and its forged one is refused.
    let auditor = app.token(Role::Auditor, "auditor", None).await;
    let (auditor_session, _) = sign_in(&app, &auditor).await;
    let html = get(&app, &auditor_session, &page)
        .await
        .text()
        .await
        .unwrap();
    assert!(!html.contains(r#"id="corrections""#));
    let events = app.event_count().await;
    let forged = post_form(
        &app,
        &auditor_session,
        &form("reinstatement"),
        &[
            ("csrf", &csrf_of(&html)),
            ("on", "2026-03-05"),
            ("reason", "done"),
        ],
    )
    .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.event_count().await, events);
    app.finish().await;
}

/// The link to agreement `id` in a list.
fn links_to(html: &str, id: &str) -> bool {
    html.contains(&format!(r#"href="/ui/agreements/{id}""#))
}

/// The agreements list: a part of the name in any case (Cyrillic too), the start of a
/// BIN/IIN, and the debt filter; each row with its total due. A BIN/IIN found through
/// htmx answers `HX-Redirect`, so that the whole page changes.
async fn the_agreements_list_finds_by_name_or_bin_start_and_filters_by_debt(store: Store) {
    let app = spawn_app(store).await;
    app.signed_agreement(ROMASHKA).await;
    let mut other = registration(OTHER);
    other["name"] = json!("ИП Иванов Сергей");
    other["kind"] = json!("sole_proprietor");
    assert_eq!(app.post("/v1/agreements", &other).await.status(), 201);
    let path = format!("/v1/agreements/{ROMASHKA}/invoices");
    assert_eq!(
        app.post(&path, &invoice("2026-02-02", "10000.00"))
            .await
            .status(),
        201
    );
    let token = app.token(Role::Billing, "clerk", None).await;
    let (session, _) = sign_in(&app, &token).await;
    let list = |query: &'static str| {
        let (app, session) = (&app, &session);
        async move {
            let page = get(app, session, &format!("/ui/agreements?{query}")).await;
            assert_eq!(page.status(), StatusCode::OK, "{query}");
            page.text().await.unwrap()
        }
    };

    let html = list("").await;
    assert!(
        links_to(&html, ROMASHKA) && links_to(&html, OTHER),
        "{html}"
    );
    assert!(
        html.contains("11\u{a0}600,00"),
        "the total due of each: {html}"
    );
    for (query, found, not_found) in [
        ("q=%D1%80%D0%BE%D0%BC%D0%B0%D1%88", ROMASHKA, OTHER), // "ромаш", lower case
        ("q=%D0%98%D0%92%D0%90%D0%9D%D0%9E%D0%92", OTHER, ROMASHKA), // "ИВАНОВ", upper case
        ("q=9805", OTHER, ROMASHKA),
        ("debt=owing", ROMASHKA, OTHER),
        ("debt=clear", OTHER, ROMASHKA),
        ("debt=owing&status=active", ROMASHKA, OTHER),
    ] {
        let html = list(query).await;
        assert!(links_to(&html, found), "{query} finds {found}: {html}");
        assert!(
            !links_to(&html, not_found),
            "{query} leaves out {not_found}: {html}"
        );
    }
    let html = list("q=%D0%BD%D0%B5%D1%82%20%D1%82%D0%B0%D0%BA%D0%BE%D0%B3%D0%BE").await; // "нет такого"
    assert!(html.contains("Найдено: 0."), "{html}");

    // The filter form asks through htmx: a BIN/IIN found sends the whole page there.
    let response = browser()
        .get(app.url(&format!("/ui/agreements?q={ROMASHKA}")))
        .header(COOKIE, &session)
        .header("HX-Request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["hx-redirect"],
        format!("/ui/agreements/{ROMASHKA}").as_str()
    );
    app.finish().await;
}

/// Each payment with what it settled (principal, penalty, fine per invoice; the rest to
/// the advance), and a reversed one marked with the day the bank returned it.
async fn the_agreement_page_shows_each_payment_and_what_it_settled(store: Store) {
    let app = spawn_app(store).await;
    app.signed_agreement(ROMASHKA).await;
    let base = format!("/v1/agreements/{ROMASHKA}");
    assert_eq!(
        app.post(
            &format!("{base}/invoices"),
            &invoice("2026-02-02", "10000.00")
        )
        .await
        .status(),
        201
    );
    let token = app.token(Role::Billing, "clerk", None).await;
    let (session, _) = sign_in(&app, &token).await;
    let page = format!("/ui/agreements/{ROMASHKA}");
    let html = get(&app, &session, &page).await.text().await.unwrap();
    assert!(html.contains("Платежей нет."), "{html}");

    let paid = app
        .post(
            &format!("{base}/payments"),
            &json!({"reference": "PP-77", "received_on": "2026-02-05", "amount": "12000.00"}),
        )
        .await;
    assert_eq!(paid.status(), 201);
    let html = get(&app, &session, &page).await.text().await.unwrap();
    assert!(html.contains(r#"id="payments""#), "{html}");
    assert!(html.contains("п/п PP-77"), "{html}");
    assert!(
        html.contains("счёт № 1: долг 11\u{a0}600,00"),
        "what it settled: {html}"
    );
    assert!(
        html.contains("400,00"),
        "the rest kept as an advance: {html}"
    );

    let reversed = app
        .post(
            &format!("{base}/payments/PP-77/reversal"),
            &json!({"on": "2026-02-10", "reason": "returned by the bank"}),
        )
        .await;
    assert_eq!(reversed.status(), 200, "{}", reversed.text().await.unwrap());
    let html = get(&app, &session, &page).await.text().await.unwrap();
    assert!(html.contains("сторнирован 2026-02-10"), "{html}");
    assert!(html.contains("сторно п/п PP-77"), "{html}");
    assert!(
        html.contains("возвращено в долг: счёт № 1: долг 11\u{a0}600,00"),
        "{html}"
    );
    app.finish().await;
}

/// The billing run page runs a month's billing as `POST /v1/billing-runs` does and shows
/// its report; the periods page closes a month as `POST /v1/periods/{p}/close` does,
/// operators only; a refusal in words; forged or not allowed, nothing recorded.
async fn a_clerk_bills_a_month_and_an_operator_closes_one_from_their_pages(store: Store) {
    let app = spawn_app_on(store, time::macros::date!(2026 - 11 - 20)).await;
    let response = app
        .put(
            "/v1/tariffs/standard",
            &tariff_version("2026-12-01", "5000.00"),
        )
        .await;
    assert_eq!(response.status(), 201);
    app.signed_agreement(ROMASHKA).await;
    let path = format!("/v1/agreements/{ROMASHKA}/invoices");
    assert_eq!(
        app.post(&path, &invoice("2026-02-02", "10000.00"))
            .await
            .status(),
        201
    );
    let response = app
        .post(
            &format!("/v1/agreements/{ROMASHKA}/subscription"),
            &json!({"tariff": "standard", "from": "2026-12-01"}),
        )
        .await;
    assert_eq!(response.status(), 201);

    // A clerk: December not billed yet; the run through the form; its report.
    let clerk = app.token(Role::Billing, "clerk", None).await;
    let (session, _) = sign_in(&app, &clerk).await;
    let html = get(&app, &session, "/ui/billing-runs")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(r#"id="no-run""#) && html.contains("2026-12"),
        "{html}"
    );
    let csrf = csrf_of(&html);
    let events = app.event_count().await;
    let forged = [
        ("csrf", "forged"),
        ("period", "2026-12"),
        ("issued_on", "2026-11-20"),
    ];
    let refused = post_form(&app, &session, "/ui/billing-runs", &forged).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.event_count().await, events, "nothing recorded");
    let form = [
        ("csrf", csrf.as_str()),
        ("period", "2026-12"),
        ("issued_on", "2026-11-20"),
    ];
    let ran = post_form(&app, &session, "/ui/billing-runs", &form).await;
    assert_eq!(ran.status(), StatusCode::OK);
    let html = ran.text().await.unwrap();
    assert!(html.contains("Выставлено счетов: 1."), "{html}");
    assert!(html.contains("5\u{a0}800,00"), "5,000.00 + 16% VAT: {html}");
    let html = get(&app, &session, "/ui/billing-runs?period=2026-12")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(r#"id="run-issued""#) && links_to(&html, ROMASHKA),
        "{html}"
    );
    // Again: nothing new.
    let again = post_form(&app, &session, "/ui/billing-runs", &form).await;
    assert!(again
        .text()
        .await
        .unwrap()
        .contains("Выставлено счетов: 0."));

    // A clerk sees the months but may not close one.
    let html = get(&app, &session, "/ui/periods")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(r#"id="periods""#) && html.contains("2026-02"),
        "{html}"
    );
    assert!(
        !html.contains("/close\""),
        "no close button for billing: {html}"
    );
    let close = "/ui/periods/2026-02/close";
    let form = [("csrf", csrf.as_str())];
    let words = "не может закрывать месяцы";
    form_refused(&app, &session, close, &form, StatusCode::FORBIDDEN, words).await;

    // An auditor has no run form and its POST is refused.
    let auditor = app.token(Role::Auditor, "auditor", None).await;
    let (audit_session, _) = sign_in(&app, &auditor).await;
    let html = get(&app, &audit_session, "/ui/billing-runs?period=2026-12")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(r#"id="run-issued""#) && !html.contains(r#"id="billing-run""#),
        "{html}"
    );
    let csrf_auditor = csrf_of(&html);
    let form = [
        ("csrf", csrf_auditor.as_str()),
        ("period", "2027-01"),
        ("issued_on", "2026-11-20"),
    ];
    let refused = post_form(&app, &audit_session, "/ui/billing-runs", &form).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    // A participant has no billing pages.
    let own = app
        .token(Role::Participant, "romashka", Some(ROMASHKA))
        .await;
    let (own_session, _) = sign_in(&app, &own).await;
    for page in ["/ui/billing-runs", "/ui/periods"] {
        assert_eq!(
            get(&app, &own_session, page).await.status(),
            StatusCode::NOT_FOUND
        );
    }

    // The operator closes February: post, redirect, get; again is refused in words.
    let (operator, _) = sign_in(&app, &app.operator_token).await;
    let html = get(&app, &operator, "/ui/periods")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(r#"action="/ui/periods/2026-02/close""#),
        "{html}"
    );
    let csrf = csrf_of(&html);
    let closed = post_form(
        &app,
        &operator,
        "/ui/periods/2026-02/close",
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(closed.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&closed), "/ui/periods?closed=2026-02");
    let periods = app.get_json("/v1/periods").await;
    let february = periods["months"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["period"] == "2026-02")
        .unwrap()
        .clone();
    assert_eq!(february["status"], "closed", "{periods}");
    let digest = february["seal"]["digest"].as_str().unwrap();
    let html = get(&app, &operator, "/ui/periods?closed=2026-02")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Месяц 2026-02 закрыт.") && html.contains(digest),
        "{html}"
    );
    let form = [("csrf", csrf.as_str())];
    let words = "Месяц 2026-02 не закрыт: месяц уже закрыт";
    form_refused(&app, &operator, close, &form, StatusCode::CONFLICT, words).await;
    app.finish().await;
}

/// Posts `form` to `path` and checks it is refused with `status`, the page saying
/// `words`, and nothing recorded.
async fn form_refused(
    app: &TestApp,
    session: &str,
    path: &str,
    form: &[(&str, &str)],
    status: StatusCode,
    words: &str,
) {
    let events = app.event_count().await;
    let response = post_form(app, session, path, form).await;
    assert_eq!(response.status(), status, "{path}");
    let html = response.text().await.unwrap();
    assert!(html.contains(words), "{words} in {html}");
    assert_eq!(app.event_count().await, events, "nothing recorded");
}
