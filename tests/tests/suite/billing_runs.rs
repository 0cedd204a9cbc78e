//! The monthly billing run over HTTP (issue 16, BILLING.md 4): two tariff versions,
//! agreements subscribing on the 1st and mid-month, one blocked, one without a
//! subscription; December's run issues what BILLING.md says, a second run issues nothing,
//! and the month's report keeps what was issued. After a restart into January, December's
//! usage beyond the included volume is billed at the price December's invoice recorded
//! (§5.3), and a December record reported late goes on February's run, its month shown.
//! The auditor's export carries the usage records: its usage invoices recount offline,
//! a record altered in the file is named by its invoice, and an import into an empty
//! store keeps the records' positions, so `verify` there recounts them clean.

use serde_json::{json, Value};
use time::macros::date;

use crate::helpers::{participant_ids, spawn_app_on, tariff_version as version, Store, TestApp};

async fn billing_run_issues_each_month_once(store: Store) {
    let app = spawn_app_on(store, date!(2026 - 11 - 20)).await;
    // v1: 100 documents included, 50.00 each beyond; v2 (January): 50 included, 80.00.
    let mut v2 = version("2027-01-01", "6000.00");
    v2["included"] = json!({"documents": 50});
    v2["overage"] = json!({"documents": {"KZT": "80.00", "USD": "0.20"}});
    for body in [version("2026-12-01", "5000.00"), v2] {
        let response = app.put("/v1/tariffs/standard", &body).await;
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
    // Issued on 2026-11-20, before November is over: the usage billed is October's, the
    // last month over (nothing here).
    assert_eq!(report["usage_month"], "2026-10", "{report}");

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

    // December's usage, reported in December (BILLING.md 3).
    let app = app.restart_on(date!(2026 - 12 - 20)).await;
    let record = |id: String, participant: &str, quantity: u64, on: &str| {
        json!({"id": id, "participant_id": participant, "metric": "documents",
               "quantity": quantity, "occurred_on": on})
    };
    let mut december: Vec<Value> = (0..3)
        .map(|n| record(format!("{first}-{n}"), first, 50, "2026-12-05"))
        .collect();
    december.push(record(
        format!("{mid_month}-0"),
        mid_month,
        50,
        "2026-12-18",
    ));
    december.push(record(format!("{blocked}-0"), blocked, 200, "2026-12-10"));
    let batch = json!({ "records": december });
    let accepted = app.post("/v1/usage", &batch).await;
    assert_eq!(accepted.status(), 200);
    let accepted: Value = accepted.json().await.unwrap();
    assert_eq!(
        (
            accepted["accepted"].as_u64(),
            accepted["duplicates"].as_u64()
        ),
        (Some(5), Some(0))
    );
    // The same batch again: duplicates, counted, nothing written twice.
    let again: Value = app.post("/v1/usage", &batch).await.json().await.unwrap();
    assert_eq!(
        (again["accepted"].as_u64(), again["duplicates"].as_u64()),
        (Some(0), Some(5))
    );
    // An id stored with other content: the batch is refused whole.
    let conflicting = json!({"records": [
        record(format!("{first}-new"), first, 1, "2026-12-06"),
        record(format!("{first}-0"), first, 51, "2026-12-05"),
    ]});
    let refused = app.post("/v1/usage", &conflicting).await;
    assert_eq!(refused.status(), 422);
    let refused: Value = refused.json().await.unwrap();
    assert_eq!(refused["errors"][0]["index"], 1, "{refused}");
    let preview = app
        .get_json(&format!("/v1/agreements/{first}/usage?period=2026-12"))
        .await;
    assert_eq!(preview["metrics"][0]["quantity"], 150, "{preview}");
    assert_eq!(preview["metrics"][0]["amount"], "2500.00", "{preview}");

    // Restarted into January: January's subscriptions (v2) and December's usage (v1).
    let app = app.restart_on(date!(2027 - 01 - 05)).await;
    let response = app
        .post("/v1/billing-runs", &json!({"period": "2027-01"}))
        .await;
    assert_eq!(response.status(), 200);
    let january: Value = response.json().await.unwrap();
    let issued: Vec<(String, String, String)> = january["issued"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| {
            (
                line["participant_id"].as_str().unwrap().to_owned(),
                line["kind"].as_str().unwrap().to_owned(),
                line["tariff"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut expected = vec![
        (
            first.clone(),
            "subscription".to_owned(),
            "standard-v2".to_owned(),
        ),
        (first.clone(), "usage".to_owned(), "standard-v1".to_owned()),
        (
            mid_month.clone(),
            "subscription".to_owned(),
            "standard-v2".to_owned(),
        ),
    ];
    expected.sort();
    let mut issued_sorted = issued.clone();
    issued_sorted.sort();
    assert_eq!(issued_sorted, expected, "{january}");
    assert_eq!(january["usage_month"], "2026-12");
    // The mid-month agreement's 50 documents are within the 100 included.
    assert_eq!(january["usage_within_included"], 1, "{january}");
    let blocked_skips = january["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["participant_id"] == blocked.as_str())
        .count();
    assert_eq!(blocked_skips, 2, "blocked: neither invoice: {january}");

    // The usage invoice as recorded (the auditor's view: the agreement's events).
    let usage_invoices = |events: Vec<Value>| -> Vec<Value> {
        events
            .into_iter()
            .filter(|e| e["type"] == "InvoiceIssued" && e["payload"]["kind"] == "usage")
            .map(|e| e["payload"].clone())
            .collect()
    };
    let usage_invoice = usage_invoices(app.events(first).await)
        .pop()
        .expect("a usage invoice");
    // 150 - 100 included = 50 documents at v1's 50.00, not v2's 80.00 (§5.3).
    assert_eq!(usage_invoice["net"]["amount"], "2500.00", "{usage_invoice}");
    assert_eq!(
        usage_invoice["due_rule"]["clause"], "5.8",
        "{usage_invoice}"
    );
    let billing = &usage_invoice["billing"];
    assert_eq!(
        (&billing["month"], &billing["tariff"]["version"]),
        (&json!("2026-12"), &json!(1)),
        "{usage_invoice}"
    );
    let line = &billing["usage"][0];
    assert_eq!(
        (
            &line["quantity"],
            &line["included"],
            &line["billed"],
            &line["unit_price"]["amount"],
            &line["records"]
        ),
        (
            &json!(150),
            &json!(100),
            &json!(50),
            &json!("50.00"),
            &json!(3)
        ),
        "{usage_invoice}"
    );
    let ids: Vec<String> = (0..3).map(|n| format!("{first}-{n}")).collect();
    let mut billed: Vec<(&str, u64)> = ids.iter().map(|id| (id.as_str(), 50)).collect();
    assert_eq!(
        line["digest"],
        aggregates::usage::usage_digest(&mut billed),
        "{usage_invoice}"
    );
    // A second January run issues nothing new.
    let again: Value = app
        .post("/v1/billing-runs", &json!({"period": "2027-01"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["issued"], json!([]), "{again}");

    // A December record reported late, in January: February's run bills it at v1,
    // its month shown; January's own usage (60 of 50 included) at v2.
    let late = json!({"records": [
        record(format!("{first}-late"), first, 20, "2026-12-31"),
        record(format!("{first}-jan"), first, 60, "2027-01-03"),
    ]});
    assert_eq!(app.post("/v1/usage", &late).await.status(), 200);
    let app = app.restart_on(date!(2027 - 02 - 01)).await;
    let february: Value = app
        .post("/v1/billing-runs", &json!({"period": "2027-02"}))
        .await
        .json()
        .await
        .unwrap();
    let february_usage = usage_invoices(app.events(first).await)
        .into_iter()
        .find(|invoice| invoice["billing"]["month"] == "2027-01")
        .unwrap_or_else(|| panic!("January's usage invoice: {february}"));
    let lines: Vec<(String, u64, u64, String)> = february_usage["billing"]["usage"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["month"].as_str().unwrap().to_owned(),
                l["quantity"].as_u64().unwrap(),
                l["billed"].as_u64().unwrap(),
                l["amount"]["amount"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("2026-12".to_owned(), 170, 20, "1000.00".to_owned()),
            ("2027-01".to_owned(), 60, 10, "800.00".to_owned()),
        ],
        "{february_usage}"
    );
    assert_eq!(
        february_usage["net"]["amount"], "1800.00",
        "{february_usage}"
    );
    let response = app.get_json("/v1/audit/verify").await;
    assert_eq!(response["ok"], true, "{response}");
    assert_eq!(response["usage_invoices_checked"], 2, "{response}");

    // A billed record altered in the usage store behind the ledger's back: `verify`
    // recounts the invoice that billed it and names it.
    alter_usage(
        &app,
        &format!("UPDATE usage_records SET quantity = 49 WHERE id = '{first}-1'"),
    )
    .await;
    let response = app.get_json("/v1/audit/verify").await;
    assert_eq!(response["ok"], false, "{response}");
    let differing = response["usage_differing"].as_array().unwrap();
    assert_eq!(differing.len(), 1, "{response}");
    assert!(
        differing[0].as_str().unwrap().contains("for 2026-12"),
        "{response}"
    );
    app.finish().await;
}

/// Runs `sql` on the app's database, changing one row.
async fn alter_usage(app: &TestApp, sql: &str) {
    assert_eq!(crate::helpers::run_sql(app, sql).await, 1, "{sql}");
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

/// The auditor's export with usage (BILLING.md 3, docs/audit.md): two usage invoices
/// (December's, and January's with a December record reported late) and records of an
/// agreement never billed; exported, verified offline with every usage invoice
/// recounted; one record altered in the file fails naming its invoice; a partial export
/// cut at a date carries the records its invoices counted; an import into an empty store
/// keeps the positions, so `verify` there recounts clean and new records continue after
/// them. An export without the usage section (as format 1 wrote it) verifies (nothing to
/// recount) but is refused by import: a store made from it would lose the records.
async fn an_export_carries_the_usage_records_and_its_usage_invoices_recount(store: Store) {
    use api::application::export::{
        export, import, verify_export, ExportDigest, ExportLine, ExportSelection, SectionDigest,
        EXPORT_FORMAT_1,
    };

    let app = spawn_app_on(store, date!(2026 - 11 - 20)).await;
    let response = app
        .put("/v1/tariffs/standard", &version("2026-12-01", "5000.00"))
        .await;
    assert_eq!(response.status(), 201);
    let ids = participant_ids(3);
    let (billed, within, unsubscribed) = (&ids[0], &ids[1], &ids[2]);
    for id in &ids {
        app.signed_agreement(id).await;
    }
    for id in [billed, within] {
        let response = app
            .post(
                &format!("/v1/agreements/{id}/subscription"),
                &json!({"tariff": "standard", "from": "2026-12-01"}),
            )
            .await;
        assert_eq!(response.status(), 201);
    }
    run_billing(&app, "2026-12").await;
    let record = |id: String, participant: &str, quantity: u64, on: &str| {
        json!({"id": id, "participant_id": participant, "metric": "documents",
               "quantity": quantity, "occurred_on": on})
    };
    let app = app.restart_on(date!(2026 - 12 - 20)).await;
    let mut december: Vec<Value> = (0..3)
        .map(|n| record(format!("{billed}-{n}"), billed, 50, "2026-12-05"))
        .collect();
    december.push(record(format!("{within}-0"), within, 10, "2026-12-18"));
    december.push(record(
        format!("{unsubscribed}-0"),
        unsubscribed,
        5,
        "2026-12-18",
    ));
    let response = app.post("/v1/usage", &json!({ "records": december })).await;
    assert_eq!(response.status(), 200);
    let app = app.restart_on(date!(2027 - 01 - 05)).await;
    run_billing(&app, "2027-01").await;
    let late = json!({"records": [
        record(format!("{billed}-late"), billed, 20, "2026-12-31"),
        record(format!("{billed}-jan"), billed, 60, "2027-01-03"),
    ]});
    assert_eq!(app.post("/v1/usage", &late).await.status(), 200);
    let app = app.restart_on(date!(2027 - 02 - 01)).await;
    run_billing(&app, "2027-02").await;
    let verified = app.get_json("/v1/audit/verify").await;
    assert_eq!(verified["ok"], true, "{verified}");
    assert_eq!(verified["usage_invoices_checked"], 2, "{verified}");

    let repository = app.ledger.repository();
    let reference = app.ledger.reference().await.unwrap();
    let export_of = |selection: ExportSelection| {
        let reference = reference.clone();
        async move {
            let mut out = Vec::new();
            let summary = export(
                repository,
                &selection,
                &reference,
                time::OffsetDateTime::now_utc(),
                &mut out,
                |_| {},
            )
            .await
            .expect("the export is written");
            (summary, out)
        }
    };
    let lines_of = |file: &[u8]| -> Vec<ExportLine> {
        std::str::from_utf8(file)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    };
    let file_of = |lines: &[ExportLine]| -> Vec<u8> {
        lines
            .iter()
            .map(|line| serde_json::to_string(line).unwrap() + "\n")
            .collect::<String>()
            .into_bytes()
    };
    let verify = |file: &[u8]| verify_export(file, None, |_| {}).unwrap();

    // The whole store: every record, in position order, after the events; verified
    // offline with both usage invoices recounted.
    let (summary, whole) = export_of(ExportSelection::default()).await;
    assert_eq!(summary.usage_records, 7);
    let lines = lines_of(&whole);
    let kinds: Vec<&str> = lines
        .iter()
        .map(|line| match line {
            ExportLine::Header(_) => "header",
            ExportLine::Event(_) => "event",
            ExportLine::Usage(_) => "usage",
            ExportLine::EsfDocument(_) => "esf_document",
            ExportLine::Digest(_) => "digest",
        })
        .collect();
    let first_usage = kinds.iter().position(|k| *k == "usage").unwrap();
    assert_eq!(kinds[first_usage..].len(), 8, "{kinds:?}");
    assert!(kinds[first_usage..7 + first_usage]
        .iter()
        .all(|k| *k == "usage"));
    let positions: Vec<i64> = lines
        .iter()
        .filter_map(|line| match line {
            ExportLine::Usage(record) => Some(record.position),
            _ => None,
        })
        .collect();
    assert_eq!(positions, [1, 2, 3, 4, 5, 6, 7]);
    let report = verify(&whole);
    assert!(report.ok, "{:?}", report.first_broken);
    assert_eq!(
        (report.usage_records_checked, report.usage_invoices_checked),
        (7, 2)
    );

    // A billed record altered in the file: the usage section no longer matches the
    // digest line, and the invoice that billed it is named. Rehashed into the digest
    // line (a forger's file), the recount alone still names the invoice.
    let altered_id = format!("{billed}-1");
    let mut altered = lines.clone();
    for line in &mut altered {
        if let ExportLine::Usage(record) = line {
            if record.id == altered_id {
                record.quantity = 49;
            }
        }
    }
    let report = verify(&file_of(&altered));
    assert!(!report.ok);
    assert!(
        report
            .first_broken
            .as_ref()
            .unwrap()
            .what
            .contains("usage records were removed, added, altered or truncated"),
        "{:?}",
        report.first_broken
    );
    assert_eq!(report.usage_differing.len(), 1, "{report:?}");
    assert!(
        report.usage_differing[0].contains(&format!("of {billed}"))
            && report.usage_differing[0].contains("for 2026-12"),
        "{:?}",
        report.usage_differing
    );
    let records: Vec<_> = altered
        .iter()
        .filter_map(|line| match line {
            ExportLine::Usage(record) => Some(record.clone()),
            _ => None,
        })
        .collect();
    if let Some(ExportLine::Digest(digest)) = altered.last_mut() {
        digest.usage = Some(SectionDigest::of(&records));
    }
    let forged = file_of(&altered);
    let report = verify(&forged);
    assert!(!report.ok);
    let found = report.first_broken.unwrap();
    assert_eq!(found.participant_id, *billed);
    assert!(found.what.contains("for 2026-12"), "{}", found.what);
    assert!(
        found
            .what
            .contains("recounted from the export's usage records"),
        "{}",
        found.what
    );

    // One agreement up to 15 January: December's usage invoice only, with the records
    // it counted (the agreement's of December's batch), not those reported later.
    let (summary, partial) = export_of(ExportSelection {
        participant: Some(events::ParticipantId::parse(billed).unwrap()),
        as_of: Some(date!(2027 - 01 - 15)),
    })
    .await;
    assert_eq!(summary.usage_records, 3);
    let report = verify(&partial);
    assert!(report.ok, "{:?}", report.first_broken);
    assert_eq!(
        (report.usage_records_checked, report.usage_invoices_checked),
        (3, 1)
    );
    // The same agreement without a cut: all of its records.
    let (summary, _) = export_of(ExportSelection {
        participant: Some(events::ParticipantId::parse(billed).unwrap()),
        as_of: None,
    })
    .await;
    assert_eq!(summary.usage_records, 5);

    // Into an empty store: the positions kept, `verify` recounts both invoices clean,
    // and a new record continues after the imported positions.
    let (copy, copy_database, _directory) = empty_store(store).await;
    let imported = import(&copy, || Ok(std::io::Cursor::new(whole.clone())), |_, _| {})
        .await
        .expect("the export imports");
    assert_eq!(imported.usage_records, 7);
    assert_eq!(imported.store_root, imported.export_root);
    let report = api::application::audit::verify_store(&copy, None, |_| {})
        .await
        .unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.usage_invoices_checked, 2, "{report:?}");
    assert!(report.usage_differing.is_empty(), "{report:?}");
    copy.insert_usage(
        &[api::store::UsageRecord {
            id: "after-import".to_owned(),
            participant_id: events::ParticipantId::parse(within).unwrap(),
            metric: events::MetricName::parse("documents").unwrap(),
            quantity: 1,
            occurred_on: date!(2027 - 01 - 20),
        }],
        "2027-02-01T07:00:00Z",
        |_| None,
    )
    .await
    .unwrap();
    assert_eq!(copy.last_usage_position().await.unwrap(), 8);
    // A second import is refused, and so is the forged file, into an empty store.
    assert!(
        import(&copy, || Ok(std::io::Cursor::new(whole.clone())), |_, _| {})
            .await
            .is_err()
    );
    copy.close().await;
    let (copy, forged_database, _forged_directory) = empty_store(store).await;
    let refused = import(
        &copy,
        || Ok(std::io::Cursor::new(forged.clone())),
        |_, _| {},
    )
    .await
    .unwrap_err();
    assert!(refused.to_string().contains("does not verify"), "{refused}");
    assert_eq!(copy.count_events().await.unwrap(), 0);
    copy.close().await;

    // What format 1 lost: the same export without its usage section verifies (nothing
    // to recount), but import refuses it and writes nothing: the store it would make
    // would hold usage invoices whose records are gone.
    let mut old = lines_of(&whole);
    old.retain(|line| !matches!(line, ExportLine::Usage(_)));
    for line in &mut old {
        match line {
            ExportLine::Header(header) => header.format = EXPORT_FORMAT_1.to_owned(),
            ExportLine::Digest(ExportDigest { usage, .. }) => *usage = None,
            _ => {}
        }
    }
    let old = file_of(&old);
    let report = verify(&old);
    assert!(report.ok, "{:?}", report.first_broken);
    assert_eq!(report.usage_invoices_checked, 0);
    let (copy, old_database, _old_directory) = empty_store(store).await;
    let refused = import(&copy, || Ok(std::io::Cursor::new(old.clone())), |_, _| {})
        .await
        .expect_err("a format 1 export with usage invoices is refused");
    assert!(
        refused.to_string().contains("carries no usage records"),
        "{refused}"
    );
    assert_eq!(copy.count_events().await.unwrap(), 0);
    copy.close().await;

    for database in [copy_database, forged_database, old_database]
        .into_iter()
        .flatten()
    {
        crate::helpers::drop_postgres_database(&database).await;
    }
    app.finish().await;
}

async fn run_billing(app: &TestApp, period: &str) -> Value {
    let response = app
        .post("/v1/billing-runs", &json!({ "period": period }))
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// An empty store of the kind `store` names: its repository, the PostgreSQL database's
/// name to drop, and the directory an SQLite file lives in.
async fn empty_store(
    store: Store,
) -> (
    api::store::LedgerEventRepository,
    Option<String>,
    tempfile::TempDir,
) {
    let directory = tempfile::tempdir().unwrap();
    let (location, database) = match store {
        Store::Postgres => {
            let (url, name) = crate::helpers::fresh_postgres_database().await;
            (api::store::StoreLocation::Postgres(url), Some(name))
        }
        Store::Sqlite => (
            api::store::StoreLocation::Sqlite(directory.path().join("copy.sqlite")),
            None,
        ),
    };
    let repository = api::store::LedgerEventRepository::connect(&location)
        .await
        .unwrap();
    (repository, database, directory)
}

/// `count` agreements subscribed to `standard` (5,000.00 a month from 2026-12-01, 100
/// documents included), 150 December documents reported on every `usage_every`-th, and
/// the server restarted on 2027-01-04: the app, every id, and the ids with usage.
async fn subscribed_through_december(
    store: Store,
    count: usize,
    usage_every: usize,
) -> (TestApp, Vec<String>, Vec<String>) {
    let app = spawn_app_on(store, date!(2026 - 11 - 20)).await;
    let response = app
        .put("/v1/tariffs/standard", &version("2026-12-01", "5000.00"))
        .await;
    assert_eq!(response.status(), 201);
    let ids = participant_ids(count);
    for group in ids.chunks(8) {
        let app = &app;
        futures::future::join_all(group.iter().map(|id| async move {
            app.signed_agreement(id).await;
            let body = json!({"tariff": "standard", "from": "2026-12-01"});
            let response = app
                .post(&format!("/v1/agreements/{id}/subscription"), &body)
                .await;
            assert_eq!(response.status(), 201);
        }))
        .await;
    }
    let app = app.restart_on(date!(2026 - 12 - 31)).await;
    let with_usage: Vec<String> = ids.iter().step_by(usage_every).cloned().collect();
    let records: Vec<Value> = with_usage
        .iter()
        .map(|id| {
            json!({"id": format!("{id}-dec"), "participant_id": id, "metric": "documents",
                   "quantity": 150, "occurred_on": "2026-12-30"})
        })
        .collect();
    let response = app.post("/v1/usage", &json!({ "records": records })).await;
    assert_eq!(response.status(), 200);
    (app.restart_on(date!(2027 - 01 - 04)).await, ids, with_usage)
}

/// The payloads of an agreement's `InvoiceIssued` events.
async fn invoices_of(app: &TestApp, id: &str) -> Vec<Value> {
    app.events(id)
        .await
        .into_iter()
        .filter(|e| e["type"] == "InvoiceIssued")
        .map(|e| e["payload"].clone())
        .collect()
}

/// An invoice's number, as a number.
fn number_of(invoice: &Value) -> u64 {
    match &invoice["number"] {
        Value::String(text) => text.parse().unwrap(),
        number => number.as_u64().unwrap(),
    }
}

/// BILLING.md 4: two servers run the same month at once (each its own process state, the
/// store shared), twice over: every agreement gets one subscription invoice and one usage
/// invoice, the numbers are gapless, and the month's report lists each once.
async fn two_servers_racing_the_same_run_invoice_each_agreement_once(store: Store) {
    const AGREEMENTS: usize = 12;
    // December's usage: 150 documents each, 50 beyond the 100 included.
    let (app, ids, _) = subscribed_through_december(store, AGREEMENTS, 1).await;
    let other = app.second_server().await;
    let (first, second, third, fourth) = tokio::join!(
        run_billing(&app, "2027-01"),
        run_billing(&other, "2027-01"),
        run_billing(&app, "2027-01"),
        run_billing(&other, "2027-01"),
    );
    let issued_by_runs: usize = [&first, &second, &third, &fourth]
        .iter()
        .map(|report| report["issued"].as_array().unwrap().len())
        .sum();
    assert_eq!(issued_by_runs, 2 * AGREEMENTS, "{first} {second}");

    let mut numbers = Vec::new();
    for id in &ids {
        let invoices = invoices_of(&app, id).await;
        let kinds: Vec<(&str, &str)> = invoices
            .iter()
            .map(|i| {
                (
                    i["billing"]["month"].as_str().unwrap(),
                    i["kind"].as_str().unwrap(),
                )
            })
            .collect();
        // January's subscription invoice and December's usage invoice, one each (no run
        // was made for December).
        let mut sorted = kinds.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            [("2026-12", "usage"), ("2027-01", "subscription")],
            "{id}: {invoices:?}"
        );
        numbers.extend(invoices.iter().map(number_of));
    }
    numbers.sort();
    assert_eq!(
        numbers,
        (1..=2 * AGREEMENTS as u64).collect::<Vec<_>>(),
        "gapless"
    );
    let stored = app.get_json("/v1/billing-runs/2027-01").await;
    assert_eq!(
        stored["issued"].as_array().unwrap().len(),
        2 * AGREEMENTS,
        "{stored}"
    );
    let verified = app.get_json("/v1/audit/verify").await;
    assert_eq!(verified["ok"], true, "{verified}");
    other.finish().await;
    app.finish().await;
}

/// BILLING.md 4, 5.3: a run over several chunks of the batched write path (each hands
/// the numbering lock on before it has written its documents, and appends after the
/// chunk before it has committed) while invoices are issued one by one on the same
/// agreements: every number of the series is taken once with no gap, every agreement gets
/// its month's invoices, and the chains verify.
async fn a_run_over_several_chunks_with_invoices_issued_meanwhile_numbers_gaplessly(store: Store) {
    let agreements = 2 * api::application::commands::BATCH_AGREEMENTS_MAX + 7;
    // December's usage beyond the 100 documents included, on every other agreement.
    let (app, ids, with_usage) = subscribed_through_december(store, agreements, 2).await;
    let by_hand: Vec<&String> = ids.iter().step_by(7).collect();
    let shared = &app;
    let (report, issued_by_hand) = tokio::join!(
        run_billing(&app, "2027-01"),
        futures::future::join_all(by_hand.iter().map(|id| async move {
            let app = shared;
            let body = json!({"kind": "usage", "issued_on": "2027-01-04", "lines": [
                {"description": "Документы сверх тарифа", "quantity": 3, "unit_price": "10.00"}]});
            app.post(&format!("/v1/agreements/{id}/invoices"), &body)
                .await
                .status()
                .as_u16()
        })),
    );
    assert!(
        issued_by_hand.iter().all(|status| *status == 201),
        "{issued_by_hand:?}"
    );
    assert_eq!(
        report["issued"].as_array().unwrap().len(),
        agreements + with_usage.len(),
        "{report}"
    );
    let mut numbers = Vec::new();
    for id in &ids {
        let invoices = invoices_of(&app, id).await;
        let subscriptions = invoices
            .iter()
            .filter(|i| i["kind"] == "subscription" && i["billing"]["month"] == "2027-01")
            .count();
        assert_eq!(subscriptions, 1, "{id}: {invoices:?}");
        numbers.extend(invoices.iter().map(number_of));
    }
    numbers.sort();
    let expected = (agreements + with_usage.len() + by_hand.len()) as u64;
    assert_eq!(
        numbers,
        (1..=expected).collect::<Vec<_>>(),
        "gapless, each once"
    );
    let verified = app.get_json("/v1/audit/verify").await;
    assert_eq!(verified["ok"], true, "{verified}");
    app.finish().await;
}

crate::on_both_stores!(
    a_run_over_several_chunks_with_invoices_issued_meanwhile_numbers_gaplessly,
    two_servers_racing_the_same_run_invoice_each_agreement_once,
    billing_run_issues_each_month_once,
    the_usage_preview_prices_the_overage_with_the_months_version,
    an_export_carries_the_usage_records_and_its_usage_invoices_recount,
);
