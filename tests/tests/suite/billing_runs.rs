//! The monthly billing run over HTTP (issue 16, BILLING.md 4): two tariff versions,
//! agreements subscribing on the 1st and mid-month, one blocked, one without a
//! subscription; December's run issues what BILLING.md says, a second run issues nothing,
//! and the month's report keeps what was issued.

use serde_json::{json, Value};
use time::macros::date;

use crate::helpers::{participant_ids, spawn_app_on, tariff_version as version, Store};

async fn billing_run_issues_each_month_once(store: Store) {
    let app = spawn_app_on(store, date!(2026 - 11 - 20)).await;
    for (from, fee) in [("2026-12-01", "5000.00"), ("2027-01-01", "6000.00")] {
        let response = app.put("/v1/tariffs/standard", &version(from, fee)).await;
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    }
    let ids = participant_ids(4);
    let (first, mid_month, blocked, unsubscribed) = (&ids[0], &ids[1], &ids[2], &ids[3]);
    for id in &ids {
        app.signed_agreement(id).await;
    }
    for (id, from) in [
        (first, "2026-12-01"),
        (mid_month, "2026-12-17"),
        (blocked, "2026-12-01"),
    ] {
        let response = app
            .post(
                &format!("/v1/agreements/{id}/subscription"),
                &json!({"tariff": "standard", "from": from}),
            )
            .await;
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    }
    let response = app
        .post(
            &format!("/v1/agreements/{blocked}/block"),
            &json!({"on": "2026-11-20", "reason": "violation"}),
        )
        .await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());

    let response = app
        .post("/v1/billing-runs", &json!({"period": "2026-12"}))
        .await;
    assert_eq!(response.status(), 200);
    let report: Value = response.json().await.unwrap();
    let issued = report["issued"].as_array().unwrap();
    assert_eq!(issued.len(), 2, "{report}");
    let total_of = |id: &str| {
        issued
            .iter()
            .find(|line| line["participant_id"] == id)
            .unwrap_or_else(|| panic!("{id} invoiced: {report}"))["total"]
            .clone()
    };
    // 5,000.00 + 16% VAT (the rate of the issue date, §5.11).
    assert_eq!(total_of(first), "5800.00", "{report}");
    // 5,000.00 x 15/31 = 2,419.35, + 16% VAT = 2,806.45 (BILLING.md 2).
    assert_eq!(total_of(mid_month), "2806.45", "{report}");
    assert_eq!(issued[0]["tariff"], "standard-v1");
    let skipped = report["skipped"].as_array().unwrap();
    let reason_of = |id: &str| {
        skipped
            .iter()
            .find(|s| s["participant_id"] == id)
            .unwrap_or_else(|| panic!("{id} skipped: {report}"))["reason"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(reason_of(blocked).contains("blocked"), "{report}");
    assert!(
        reason_of(unsubscribed).contains("no subscription"),
        "{report}"
    );
    assert_eq!(report["totals"][0]["total"], "8606.45", "{report}");
    assert_eq!(report["clause"], "BILLING-4");

    // The invoice names its tariff version and month.
    let invoices = app
        .get_json(&format!("/v1/agreements/{mid_month}/invoices"))
        .await;
    assert_eq!(invoices[0]["kind"], "subscription", "{invoices}");

    // A second run issues nothing new.
    let again: Value = app
        .post("/v1/billing-runs", &json!({"period": "2026-12"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["issued"], json!([]), "{again}");
    assert_eq!(
        again["already_invoiced"].as_array().unwrap().len(),
        2,
        "{again}"
    );
    let stored = app.get_json("/v1/billing-runs/2026-12").await;
    assert_eq!(stored["issued"].as_array().unwrap().len(), 2, "{stored}");

    // Too far ahead of the issue date: refused, nothing recorded.
    let response = app
        .post("/v1/billing-runs", &json!({"period": "2027-02"}))
        .await;
    assert_eq!(response.status(), 422);
    let response = app.get_json("/v1/audit/verify").await;
    assert_eq!(response["ok"], true, "{response}");
    app.finish().await;
}

/// The usage preview (BILLING.md 3): the month's records per metric, the volume the
/// month's tariff version includes, the overage at its price.
async fn the_usage_preview_prices_the_overage_with_the_months_version(store: Store) {
    let app = spawn_app_on(store, date!(2026 - 12 - 10)).await;
    let response = app
        .put("/v1/tariffs/standard", &version("2026-12-11", "5000.00"))
        .await;
    assert_eq!(response.status(), 201);
    let id = &participant_ids(1)[0];
    app.signed_agreement(id).await;
    let response = app
        .post(
            &format!("/v1/agreements/{id}/subscription"),
            &json!({"tariff": "standard", "from": "2026-12-11"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let records: Vec<Value> = (0..3)
        .map(|n| {
            json!({"id": format!("doc-{n}"), "participant_id": id, "metric": "documents",
                   "quantity": 60, "occurred_on": "2026-12-09"})
        })
        .collect();
    let response = app.post("/v1/usage", &json!({"records": records})).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let preview = app
        .get_json(&format!("/v1/agreements/{id}/usage?period=2026-12"))
        .await;
    assert_eq!(preview["tariff"], "standard-v1", "{preview}");
    let documents = &preview["metrics"][0];
    assert_eq!(documents["metric"], "documents", "{preview}");
    assert_eq!(documents["quantity"], 180);
    assert_eq!(documents["included"], 100);
    assert_eq!(documents["overage"], 80);
    assert_eq!(documents["unit_price"], "50.00");
    assert_eq!(documents["amount"], "4000.00");
    assert_eq!(preview["clause"], "BILLING-3");
    let response = app
        .client
        .get(app.url(&format!("/v1/agreements/{id}/usage?period=2026-13")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    app.finish().await;
}

crate::on_both_stores!(
    billing_run_issues_each_month_once,
    the_usage_preview_prices_the_overage_with_the_months_version,
);
