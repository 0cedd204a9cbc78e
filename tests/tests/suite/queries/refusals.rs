//! Bad queries, unknown parameters, a charge not due and a total beyond the ledger's range: refused with problem details, nothing recorded.

use super::*;

/// A refused query: the status, a problem+json body, and (for 400) the detail naming
/// `needle`.
async fn refused(app: &TestApp, path: &str, status: u16, needle: &str) -> Value {
    let response = app.get(path).await;
    assert_eq!(response.status(), status, "GET {path}");
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.text().await.unwrap();
    assert_eq!(
        content_type.as_deref(),
        Some("application/problem+json"),
        "GET {path}: {body}"
    );
    let problem: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["status"], status);
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains(needle),
        "GET {path}: detail {detail:?} should mention {needle:?}"
    );
    problem
}

pub(super) async fn bad_queries_are_refused_with_problem_details(store: Store) {
    let app = spawn_app(store).await;
    app.signed_agreement(A).await;
    let before = app.event_count().await;
    for tail in [
        "",
        "/balance",
        "/invoices",
        "/penalties",
        "/statement",
        "/journal",
    ] {
        let path = format!("/v1/agreements/{A}{tail}");
        refused(&app, &format!("{path}?as_of=2026-02-30"), 400, "`as_of`").await;
        refused(&app, &format!("{path}?as_of=30.01.2026"), 400, "YYYY-MM-DD").await;
        // Unknown agreement, and a known one before its registration.
        refused(
            &app,
            &format!("/v1/agreements/990101300122{tail}"),
            404,
            "990101300122",
        )
        .await;
        refused(&app, &format!("{path}?as_of=2025-12-31"), 404, "2025-12-31").await;
        refused(
            &app,
            &format!("/v1/agreements/15024000827{tail}"),
            400,
            "12 digits",
        )
        .await;
    }
    refused(&app, "/v1/reports/aging?as_of=2026-13-01", 400, "`as_of`").await;
    refused(&app, "/v1/agreements?as_of=tomorrow", 400, "`as_of`").await;
    refused(&app, "/v1/agreements?status=sleeping", 400, "`status`").await;
    refused(&app, "/v1/agreements?per_page=0", 400, "per_page").await;
    refused(&app, "/v1/agreements?per_page=501", 400, "per_page").await;
    refused(&app, "/v1/agreements?page=0", 400, "page").await;
    let statement = format!("/v1/agreements/{A}/statement");
    refused(
        &app,
        &format!("{statement}?from=2026-03-01&to=2026-02-01"),
        400,
        "backwards",
    )
    .await;
    refused(&app, &format!("{statement}?from=2026-02-29"), 400, "`from`").await;
    refused(&app, &format!("{statement}?to=x"), 400, "`to`").await;
    assert_eq!(app.event_count().await, before, "a query records nothing");
    app.finish().await;
}

/// Unknown or malformed query parameters: 400, as problem+json like every other error
/// (API.md, "Errors").
pub(super) async fn unknown_query_parameters_are_refused(store: Store) {
    let app = spawn_app(store).await;
    app.signed_agreement(A).await;
    for path in [
        format!("/v1/agreements/{A}?asof=2026-02-01"),
        format!("/v1/agreements/{A}/balance?date=2026-02-01"),
        format!("/v1/agreements/{A}/invoices?x=1"),
        format!("/v1/agreements/{A}/penalties?x=1"),
        format!("/v1/agreements/{A}/statement?until=2026-02-01"),
        format!("/v1/agreements/{A}/journal?x=1"),
        "/v1/reports/aging?x=1".to_owned(),
        "/v1/agreements?state=active".to_owned(),
        "/v1/agreements?page=two".to_owned(),
    ] {
        refused(&app, &path, 400, "").await;
    }
    app.finish().await;
}

mod unknown_parameters {
    use crate::helpers::Store;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::unknown_query_parameters_are_refused(Store::Postgres).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::unknown_query_parameters_are_refused(Store::Sqlite).await
    }
}

/// Unknown query parameters are refused with 400 whatever the body looks like.
pub(super) async fn unknown_query_parameters_answer_400(store: Store) {
    let app = spawn_app(store).await;
    app.signed_agreement(A).await;
    for path in [
        format!("/v1/agreements/{A}/balance?date=2026-02-01"),
        format!("/v1/agreements/{A}/statement?until=2026-02-01"),
        "/v1/agreements?state=active".to_owned(),
    ] {
        assert_eq!(app.get(&path).await.status(), 400, "GET {path}");
    }
    app.finish().await;
}

pub(super) async fn a_charge_on_an_invoice_not_late_is_refused_and_records_nothing(store: Store) {
    let app = spawn_app(store).await;
    let o = history(&app).await;
    let before = app.event_count().await;
    let charges = format!("/v1/agreements/{}/charges", o.e);
    for kind in ["penalty", "fine"] {
        // Invoice 5 is due 07-02: on 06-30 and on the due date itself it is not late.
        for on in ["2026-06-30", "2026-07-02"] {
            let response = app
                .post(
                    &charges,
                    &json!({"invoice_number": "5", "kind": kind, "on": on}),
                )
                .await;
            assert_eq!(response.status(), 422, "{kind} on {on}");
            assert_eq!(
                response.headers()["content-type"],
                "application/problem+json"
            );
            let problem: Value = response.json().await.unwrap();
            assert_eq!(problem["clause"], "5.9", "{problem}");
            assert_eq!(problem["status"], 422);
        }
    }
    // A's invoice 1 was paid late; its penalty was charged in full: nothing more to charge.
    let response = app
        .post(
            &format!("/v1/agreements/{A}/charges"),
            &json!({"invoice_number": "1", "kind": "penalty", "on": "2026-06-30"}),
        )
        .await;
    assert_eq!(response.status(), 422);
    assert_eq!(response.json::<Value>().await.unwrap()["clause"], "5.9");
    // An invoice of another agreement: unknown here.
    let response = app
        .post(
            &charges,
            &json!({"invoice_number": "1", "kind": "penalty", "on": "2026-07-03"}),
        )
        .await;
    assert_eq!(response.status(), 404);
    // A waiver larger than what may be waived.
    let response = app
        .post(
            &format!("/v1/agreements/{A}/waivers"),
            &json!({"invoice_number": "1", "kind": "penalty", "amount": "348.01",
                    "reason": "too much", "on": "2026-06-30"}),
        )
        .await;
    assert_eq!(response.status(), 422);
    assert_eq!(response.json::<Value>().await.unwrap()["clause"], "5.9");
    assert_eq!(
        app.event_count().await,
        before,
        "refused charges record nothing"
    );
    let balance = app
        .get_json(&format!("/v1/agreements/{}/balance?as_of=2026-07-02", o.e))
        .await;
    assert_eq!(balance["penalties_charged"], "0.00");
    assert_eq!(balance["fines"], "0.00");

    // The day after the due date it is late: one day of penalty, and the fine.
    let charged = post_ok(
        &app,
        &charges,
        json!({"invoice_number": "5", "kind": "penalty", "on": "2026-07-03"}),
        201,
    )
    .await;
    assert_eq!(charged["amount"], "0.23", "232.00 x 0.001 x 1 = 0.232");
    assert_eq!(app.event_count().await, before + 1);
    assert_eq!(d("0.23"), money(&charged["amount"]));
    app.finish().await;
}

/// Each invoice is within the largest amount the ledger holds; their sum is not. The
/// queries that add them answer 422 amount-out-of-range, never 500 (found by the fuzzer).
pub(super) async fn a_total_beyond_the_ledgers_range_is_a_422_not_a_server_error(store: Store) {
    let app = spawn_app(store).await;
    app.signed_agreement(A).await;
    for issued_on in ["2026-02-02", "2026-03-02"] {
        let response = app
            .post(
                &format!("/v1/agreements/{A}/invoices"),
                &invoice(issued_on, "800000000000.00"),
            )
            .await;
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    }
    for query in ["balance", "journal"] {
        let response = app
            .get(&format!("/v1/agreements/{A}/{query}?as_of=2026-06-30"))
            .await;
        assert_eq!(response.status(), 422, "{query}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(
            problem["type"], "urn:edoc-ledger:problem:amount-out-of-range",
            "{query}: {problem}"
        );
    }
    // Before the second invoice the figures are within range.
    let balance = app
        .get_json(&format!("/v1/agreements/{A}/balance?as_of=2026-02-28"))
        .await;
    assert_eq!(balance["invoiced"], "928000000000.00");
}
