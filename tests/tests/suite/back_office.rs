//! The back office at `/ui` over HTTP (issue 19, INTEGRATION.md 3), on both stores, as a
//! browser speaks to it (cookies and forms, no redirects followed): sign-in with a token
//! into an HttpOnly, SameSite=Strict session; CSRF on every form; the agreements page
//! and its BIN search; one agreement's balance and invoices; a participant kept to its
//! own; sign-out; a revoked token ending its session.

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;

use api::application::tokens::Role;

use crate::helpers::{invoice, spawn_app, Store, TestApp};
use crate::on_both_stores;

on_both_stores!(
    a_clerk_signs_in_finds_an_agreement_and_signs_out,
    a_payment_is_recorded_through_the_form_and_a_refused_one_records_nothing,
    staff_see_aging_and_the_dunning_preview_and_clerks_run_the_sweep,
    a_clerk_uploads_a_bank_statement_and_assigns_an_unmatched_line,
    an_agreement_page_links_its_documents_and_shows_its_events_with_their_hashes,
    corrections_and_measures_run_from_their_forms_as_the_api_runs_them,
    a_participant_sees_only_its_own_agreement_and_a_revoked_token_ends_its_session,
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
