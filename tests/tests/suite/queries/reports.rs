//! The aging report and the agreement list with its status filter and pages.

use super::*;

pub(super) async fn aging_buckets_and_totals(store: Store) {
    let app = spawn_app(store).await;
    let o = history(&app).await;

    let report = app.get_json("/v1/reports/aging?as_of=2026-06-30").await;
    assert_eq!(report["as_of"], "2026-06-30");
    assert_eq!(
        report["buckets"],
        json!(["current", "1_15", "16_30", "31_90", "over_90"])
    );
    let row = |id: &str, current: &str, b1: &str, b16: &str, b31: &str, b90: &str, total: &str| {
        (
            id.to_owned(),
            [current, b1, b16, b31, b90, total].map(|s| s.to_owned()),
        )
    };
    let rows: Vec<(String, [String; 6])> = report["agreements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["participant_id"].as_str().unwrap().to_owned(),
                ["current", "1_15", "16_30", "31_90", "over_90", "total"]
                    .map(|b| r[b].as_str().unwrap().to_owned()),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            // Invoice 3: 85 days past due.
            row(A, "0.00", "0.00", "0.00", "1160.00", "0.00", "1160.00"),
            // B owes nothing: left out. C: invoice 2, 141 days past due.
            row(&o.c, "0.00", "0.00", "0.00", "0.00", "116.00", "116.00"),
            // D: invoice 4, 26 days. E: invoice 5, not yet due.
            row(&o.d, "0.00", "0.00", "580.00", "0.00", "0.00", "580.00"),
            row(&o.e, "232.00", "0.00", "0.00", "0.00", "0.00", "232.00"),
        ]
    );
    let totals = report["totals"].as_array().unwrap();
    assert_eq!(totals.len(), 1, "{totals:?}");
    let kzt = &totals[0];
    assert_eq!(kzt["currency"], "KZT");
    assert_eq!(kzt["agreements"], 4);
    for (bucket, value) in [
        ("current", "232.00"),
        ("1_15", "0.00"),
        ("16_30", "580.00"),
        ("31_90", "1160.00"),
        ("over_90", "116.00"),
        ("total", "2088.00"),
    ] {
        assert_eq!(kzt[bucket], value, "totals.{bucket}: {kzt}");
    }
    let sum: Decimal = ["current", "1_15", "16_30", "31_90", "over_90"]
        .iter()
        .map(|b| money(&kzt[*b]))
        .sum();
    assert_eq!(sum, money(&kzt["total"]));

    // A non-resident invoiced in USD: its own totals, never added to KZT.
    let f = participant_ids(5).pop().unwrap();
    let mut body = registration(&f);
    body["resident"] = json!(false);
    body["currency"] = json!("USD");
    post_ok(&app, "/v1/agreements", body, 201).await;
    post_ok(
        &app,
        &format!("/v1/agreements/{f}/signature"),
        json!({"signed_on": "2026-01-06"}),
        200,
    )
    .await;
    let issued = post_ok(
        &app,
        &format!("/v1/agreements/{f}/invoices"),
        invoice("2026-02-02", "100.00"),
        201,
    )
    .await;
    assert_eq!(issued["total"], "116.00");
    let report = app.get_json("/v1/reports/aging?as_of=2026-06-30").await;
    let totals = report["totals"].as_array().unwrap();
    assert_eq!(totals.len(), 2, "{totals:?}");
    assert_eq!(totals[0]["currency"], "KZT");
    assert_eq!(totals[0]["total"], "2088.00", "KZT unchanged");
    assert_eq!(totals[1]["currency"], "USD");
    assert_eq!(totals[1]["agreements"], 1);
    assert_eq!(totals[1]["over_90"], "116.00");
    assert_eq!(totals[1]["total"], "116.00");
    let last = report["agreements"].as_array().unwrap().last().unwrap();
    assert_eq!(last["participant_id"], f.as_str());
    assert_eq!(last["currency"], "USD");

    // Earlier: A's invoice 1 was still partly unpaid, 11 days late, as was C's.
    let report = app.get_json("/v1/reports/aging?as_of=2026-02-20").await;
    let kzt = &report["totals"][0];
    assert_eq!(kzt["agreements"], 2, "{report}");
    assert_eq!(kzt["1_15"], "6716.00", "6600.00 + 116.00");
    assert_eq!(kzt["total"], "6716.00");
    assert_eq!(report["agreements"][0]["1_15"], "6600.00");
    // The due date itself is still current.
    let report = app.get_json("/v1/reports/aging?as_of=2026-02-09").await;
    assert_eq!(report["totals"][0]["current"], "6716.00", "{report}");
    // Before anything was invoiced: nobody owes anything.
    let report = app.get_json("/v1/reports/aging?as_of=2026-01-31").await;
    assert_eq!(report["agreements"], json!([]));
    assert_eq!(report["totals"], json!([]));
    app.finish().await;
}

fn ids_of(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["participant_id"].as_str().unwrap().to_owned())
        .collect()
}

pub(super) async fn list_filters_by_status_and_pages(store: Store) {
    let app = spawn_app(store).await;
    let o = history(&app).await;

    // As of today (the stored current status).
    let page = app.get_json("/v1/agreements").await;
    assert_eq!(page["total"], 5);
    assert_eq!(page["page"], 1);
    assert_eq!(ids_of(&page), [A, &o.b, &o.c, &o.d, &o.e]);
    let page = app.get_json("/v1/agreements?status=active").await;
    assert_eq!(page["total"], 3);
    assert_eq!(ids_of(&page), [A, &o.d, &o.e]);
    for item in page["items"].as_array().unwrap() {
        assert_eq!(item["status"], "active");
    }
    let page = app
        .get_json("/v1/agreements?status=active&page=2&per_page=2")
        .await;
    assert_eq!(page["total"], 3);
    assert_eq!(page["page"], 2);
    assert_eq!(page["per_page"], 2);
    assert_eq!(ids_of(&page), [o.e.as_str()]);
    let page = app
        .get_json("/v1/agreements?status=active&page=3&per_page=2")
        .await;
    assert_eq!(page["total"], 3);
    assert_eq!(ids_of(&page), Vec::<String>::new());
    let page = app.get_json("/v1/agreements?status=suspended").await;
    assert_eq!(ids_of(&page), [o.c.as_str()]);
    assert_eq!(page["items"][0]["suspended_on"], "2026-03-01");
    assert_eq!(page["items"][0]["restriction"]["reason"], "verification");
    let page = app.get_json("/v1/agreements?status=registered").await;
    assert_eq!(ids_of(&page), [o.b.as_str()]);
    assert_eq!(page["items"][0]["signed_on"], Value::Null);
    let page = app.get_json("/v1/agreements?status=blocked").await;
    assert_eq!(page["total"], 0);

    // As of past dates (each agreement's status then).
    let page = app.get_json("/v1/agreements?as_of=2026-01-05").await;
    assert_eq!(page["as_of"], "2026-01-05");
    assert_eq!(page["total"], 5);
    for item in page["items"].as_array().unwrap() {
        assert_eq!(item["status"], "registered", "not signed until 01-06");
    }
    let page = app
        .get_json("/v1/agreements?status=suspended&as_of=2026-02-28")
        .await;
    assert_eq!(page["total"], 0);
    let page = app
        .get_json("/v1/agreements?status=active&as_of=2026-02-28&per_page=2")
        .await;
    assert_eq!(page["total"], 4);
    assert_eq!(ids_of(&page), [A, &o.c]);
    let page = app
        .get_json("/v1/agreements?status=active&as_of=2026-02-28&per_page=2&page=2")
        .await;
    assert_eq!(ids_of(&page), [o.d.as_str(), &o.e]);
    let page = app
        .get_json("/v1/agreements?status=suspended&as_of=2026-03-01")
        .await;
    assert_eq!(ids_of(&page), [o.c.as_str()]);
    // Before anyone registered: an empty page.
    let page = app.get_json("/v1/agreements?as_of=2025-12-31").await;
    assert_eq!(page["total"], 0);
    app.finish().await;
}
