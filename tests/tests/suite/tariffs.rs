//! Tariffs and subscriptions over HTTP (issue 16, BILLING.md 2): versions published for a
//! future date, listed with their dates, seen by every server; subscriptions started,
//! changed from the next month, ended on a month's last day; bad input refused with
//! nothing recorded; the tariff stream verified and exported like the others.

use serde_json::{json, Value};
use time::macros::date;

use crate::helpers::{spawn_app_on, tariff_version as version, Store, OPERATOR_BIN};

async fn status_and_body(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Two versions of `standard`, the second from March: listed with their dates, the one
/// in force named; the same body again records nothing; a second server sees them.
async fn tariff_versions_are_published_for_the_future_and_listed(store: Store) {
    let app = spawn_app_on(store, date!(2026 - 12 - 02)).await;
    let (status, first) = status_and_body(
        app.put("/v1/tariffs/standard", &version("2027-01-01", "5000.00"))
            .await,
    )
    .await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["recorded"], true);
    assert_eq!(first["version"]["version"], 1);
    assert_eq!(first["version"]["id"], "standard-v1");
    assert_eq!(first["version"]["fees"]["KZT"], "5000.00");
    assert_eq!(first["version"]["clause"], "4.2, 5.3");
    let (status, again) = status_and_body(
        app.put("/v1/tariffs/standard", &version("2027-01-01", "5000.00"))
            .await,
    )
    .await;
    assert_eq!(
        (status, &again["recorded"]),
        (200, &json!(false)),
        "{again}"
    );
    let (status, second) = status_and_body(
        app.put("/v1/tariffs/standard", &version("2027-03-01", "6000.00"))
            .await,
    )
    .await;
    assert_eq!(
        (status, &second["version"]["version"]),
        (201, &json!(2)),
        "{second}"
    );

    let standard = app.get_json("/v1/tariffs/standard").await;
    let versions = standard["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2, "{standard}");
    assert_eq!(versions[0]["effective_to"], "2027-02-28", "{standard}");
    assert_eq!(versions[1]["effective_to"], Value::Null);
    // Nothing prices today (the first version starts in January).
    assert_eq!(standard["in_force"], Value::Null);
    let all = app.get_json("/v1/tariffs").await;
    assert_eq!(all["tariffs"][0]["code"], "standard", "{all}");

    let other = app.second_server().await;
    let seen = other.get_json("/v1/tariffs/standard").await;
    assert_eq!(seen["versions"].as_array().unwrap().len(), 2, "{seen}");
    other.finish().await;

    let verify = app.get_json("/v1/audit/verify").await;
    assert_eq!(verify["ok"], true, "{verify}");
    app.finish().await;
}

/// Bad tariff input: 4xx problem+json naming the field, nothing recorded.
async fn bad_tariff_input_is_refused_and_records_nothing(store: Store) {
    let app = spawn_app_on(store, date!(2026 - 12 - 02)).await;
    let mut unpriced = version("2027-01-01", "5000.00");
    unpriced["overage"] = json!({});
    let mut negative = version("2027-01-01", "5000.00");
    negative["fees"]["KZT"] = json!("-1.00");
    let mut fractional = version("2027-01-01", "5000.00");
    fractional["included"]["documents"] = json!(1.5);
    let cases = [
        (
            "/v1/tariffs/standard",
            version("2026-12-02", "5000.00"),
            422,
            "effective_from",
        ),
        (
            "/v1/tariffs/standard",
            version("2026-11-01", "5000.00"),
            422,
            "effective_from",
        ),
        (
            "/v1/tariffs/standard",
            version("2027-01-01", "5000.001"),
            400,
            "2 decimals",
        ),
        ("/v1/tariffs/standard", negative, 400, "negative"),
        ("/v1/tariffs/standard", fractional, 400, "included"),
        ("/v1/tariffs/standard", unpriced, 422, "overage.documents"),
        (
            "/v1/tariffs/Standard",
            version("2027-01-01", "5000.00"),
            400,
            "code",
        ),
    ];
    for (path, body, status, names) in cases {
        let response = app.put(path, &body).await;
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let (got, problem) = status_and_body(response).await;
        assert_eq!(got, status, "{body}: {problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains(names),
            "{names}: {problem}"
        );
    }
    let all = app.get_json("/v1/tariffs").await;
    assert_eq!(all["tariffs"], json!([]), "nothing recorded: {all}");
    app.finish().await;
}

/// A subscription started mid-month, changed (from the next month), ended on a month's
/// last day; refused for an unknown tariff, before a version is in force, on a day that
/// is not a month's end, and for an agreement without one.
async fn subscriptions_start_change_and_end(store: Store) {
    let app = spawn_app_on(store, date!(2026 - 12 - 02)).await;
    app.put("/v1/tariffs/standard", &version("2026-12-03", "5000.00"))
        .await;
    app.put("/v1/tariffs/business", &version("2027-01-01", "15000.00"))
        .await;
    app.signed_agreement(OPERATOR_BIN).await;
    let path = format!("/v1/agreements/{OPERATOR_BIN}/subscription");

    let refusals = [
        (
            json!({"tariff": "premium", "from": "2026-12-15"}),
            422,
            "premium",
        ),
        (
            json!({"tariff": "business", "from": "2026-12-15"}),
            422,
            "no version in force",
        ),
        (
            json!({"tariff": "standard", "from": "2026-12-15", "extra": 1}),
            400,
            "extra",
        ),
    ];
    for (body, status, names) in refusals {
        let (got, problem) = status_and_body(app.post(&path, &body).await).await;
        assert_eq!(got, status, "{body}: {problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains(names),
            "{problem}"
        );
    }
    let (status, problem) =
        status_and_body(app.delete(&path, &json!({"on": "2027-01-31"})).await).await;
    assert_eq!(status, 409, "{problem}");

    let (status, started) = status_and_body(
        app.post(&path, &json!({"tariff": "standard", "from": "2026-12-15"}))
            .await,
    )
    .await;
    assert_eq!(status, 201, "{started}");
    assert_eq!(started["recorded"], "started");
    assert_eq!(started["clause"], "BILLING-2");
    let (status, changed) = status_and_body(
        app.post(&path, &json!({"tariff": "business", "from": "2026-12-20"}))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["recorded"], "changed");
    assert_eq!(changed["spans"][0]["last_day"], "2026-12-31", "{changed}");
    assert_eq!(changed["spans"][1]["from"], "2027-01-01", "{changed}");

    let (status, problem) =
        status_and_body(app.delete(&path, &json!({"on": "2027-02-15"})).await).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["clause"], "BILLING-2", "{problem}");
    let (status, ended) =
        status_and_body(app.delete(&path, &json!({"on": "2027-02-28"})).await).await;
    assert_eq!(status, 200, "{ended}");
    assert_eq!(ended["recorded"], "ended");
    assert_eq!(ended["spans"][1]["last_day"], "2027-02-28", "{ended}");

    let types = app.event_types(OPERATOR_BIN).await;
    assert!(
        types.ends_with(&[
            "SubscriptionStarted".to_owned(),
            "SubscriptionChanged".to_owned(),
            "SubscriptionEnded".to_owned()
        ]),
        "{types:?}"
    );
    app.finish().await;
}

crate::on_both_stores!(
    tariff_versions_are_published_for_the_future_and_listed,
    bad_tariff_input_is_refused_and_records_nothing,
    subscriptions_start_change_and_end,
);
