//! Balance, invoices and penalties of a late payment explained; the statement and the journal add up.

use super::*;

pub(super) async fn balance_invoices_and_penalties_explain_a_late_payment(store: Store) {
    let app = spawn_app(store).await;
    history(&app).await;

    let balance = app
        .get_json(&format!("/v1/agreements/{A}/balance?as_of=2026-06-30"))
        .await;
    let expected = [
        ("invoiced", "12760.00"),
        ("paid", "11600.00"),
        ("outstanding", "1160.00"),
        // 348.00 on invoice 1 (30 days) + 58.00 on invoice 3 (85 days, capped at 5%).
        ("penalties_accrued", "406.00"),
        ("penalties_charged", "348.00"),
        ("penalties_waived", "0.00"),
        ("penalties_owed", "348.00"),
        ("fines_accrued", "17300.00"),
        ("fines", "8650.00"),
        ("fines_waived", "1000.00"),
        ("fines_owed", "7650.00"),
        ("advance", "0.00"),
        ("total_due", "9158.00"),
    ];
    for (field, value) in expected {
        money(&balance[field]);
        assert_eq!(balance[field], value, "balance.{field}: {balance}");
    }
    assert_eq!(balance["currency"], "KZT");
    assert_eq!(balance["as_of"], "2026-06-30");
    assert_eq!(
        money(&balance["total_due"]),
        money(&balance["outstanding"])
            + money(&balance["penalties_owed"])
            + money(&balance["fines_owed"])
    );

    let invoices = app
        .get_json(&format!("/v1/agreements/{A}/invoices?as_of=2026-06-30"))
        .await;
    let invoices = invoices.as_array().unwrap();
    assert_eq!(invoices.len(), 2, "{invoices:?}");
    let first = &invoices[0];
    assert_eq!(first["number"], "1");
    assert_eq!(first["kind"], "subscription");
    assert_eq!(first["issued_on"], "2026-02-02");
    assert_eq!(first["due_on"], "2026-02-09");
    assert_eq!(first["total"], "11600.00");
    assert_eq!(first["paid"], "11600.00");
    assert_eq!(first["outstanding"], "0.00");
    assert_eq!(first["paid_in_full_on"], "2026-03-11");
    assert_eq!(first["status"], "paid");
    assert_eq!(first["days_overdue"], 0, "paid: no longer overdue");
    assert_eq!(first["days_late"], 30, "§5.5: up to the day paid in full");
    assert_eq!(first["penalty_accrued"], "348.00");
    assert_eq!(first["penalty_charged"], "348.00");
    assert_eq!(first["penalty_owed"], "348.00");
    assert_eq!(first["fine"], "8650.00");
    assert_eq!(first["fine_charged"], "8650.00");
    assert_eq!(first["fine_owed"], "7650.00");
    let third = &invoices[1];
    assert_eq!(third["number"], "3");
    assert_eq!(third["kind"], "credit");
    assert_eq!(third["status"], "overdue");
    assert_eq!(third["days_overdue"], 85);
    assert_eq!(third["outstanding"], "1160.00");
    assert_eq!(third["paid"], "0.00");
    assert_eq!(third["paid_in_full_on"], Value::Null);
    assert_eq!(third["penalty_accrued"], "58.00");
    assert_eq!(third["fine"], "8650.00");
    assert_eq!(third["fine_charged"], "0.00");

    let penalties = app
        .get_json(&format!("/v1/agreements/{A}/penalties?as_of=2026-06-30"))
        .await;
    let penalties = penalties.as_array().unwrap();
    assert_eq!(penalties.len(), 2, "{penalties:?}");
    let first = &penalties[0];
    assert_eq!(first["invoice_number"], "1");
    assert_eq!(first["base"], "11600.00");
    assert_eq!(first["rate"], "0.001");
    assert_eq!(first["days"], 30);
    assert_eq!(first["due_on"], "2026-02-09");
    assert_eq!(first["from"], "2026-02-10");
    assert_eq!(first["to"], "2026-03-11");
    assert_eq!(first["paid_in_full"], true);
    assert_eq!(first["capped"], false);
    assert_eq!(first["cap"], "580.00");
    assert_eq!(first["amount"], "348.00");
    assert_eq!(first["charged"], "348.00");
    assert_eq!(first["waived"], "0.00");
    assert_eq!(first["owed"], "348.00");
    assert_eq!(first["fine_mrp"], 2);
    assert_eq!(first["mrp"], "4325");
    assert_eq!(first["fine"], "8650.00");
    assert_eq!(first["fine_charged"], "8650.00");
    assert_eq!(first["fine_waived"], "1000.00");
    assert_eq!(first["fine_owed"], "7650.00");
    assert_eq!(first["clause"], "5.9");
    let explanation = first["explanation"].as_str().unwrap();
    for part in [
        "§5.9",
        "11600.00",
        "30 day(s)",
        "2026-02-10",
        "2026-03-11",
        "348.00",
    ] {
        assert!(explanation.contains(part), "{explanation:?} names {part:?}");
    }
    let third = &penalties[1];
    assert_eq!(third["invoice_number"], "3");
    assert_eq!(third["days"], 85);
    assert_eq!(third["from"], "2026-04-07");
    assert_eq!(third["to"], "2026-06-30");
    assert_eq!(third["paid_in_full"], false);
    assert_eq!(third["capped"], true, "day 85 is past the cap (day 50)");
    assert_eq!(third["cap"], "58.00");
    assert_eq!(third["amount"], "58.00");
    assert_eq!(third["charged"], "0.00");
    assert_eq!(third["fine"], "8650.00");
    assert_eq!(third["clause"], "5.9");
    assert!(
        third["explanation"].as_str().unwrap().contains("capped"),
        "{third}"
    );

    // Without `as_of` (today): the money already settled does not move.
    let today = app.get_json(&format!("/v1/agreements/{A}/balance")).await;
    assert_eq!(today["outstanding"], "1160.00");
    assert_eq!(today["paid"], "11600.00");
    assert_eq!(today["fines_owed"], "7650.00");
    // An agreement that owes nothing and was never late: no penalty rows, all zero.
    let o = others();
    assert_eq!(
        app.get_json(&format!(
            "/v1/agreements/{}/penalties?as_of=2026-06-30",
            o.b
        ))
        .await,
        json!([])
    );
    let balance = app
        .get_json(&format!("/v1/agreements/{}/balance?as_of=2026-06-30", o.b))
        .await;
    assert_eq!(balance["total_due"], "0.00");
    assert_eq!(balance["invoiced"], "0.00");
    app.finish().await;
}

pub(super) async fn statement_and_journal_add_up(store: Store) {
    let app = spawn_app(store).await;
    history(&app).await;

    let statement = app
        .get_json(&format!(
            "/v1/agreements/{A}/statement?from=2026-02-01&to=2026-03-31"
        ))
        .await;
    assert_eq!(statement["from"], "2026-02-01");
    assert_eq!(statement["to"], "2026-03-31");
    assert_eq!(statement["opening"], "0.00");
    let lines: Vec<(String, String, String, String)> = statement["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["date"].as_str().unwrap().to_owned(),
                l["document"].as_str().unwrap().to_owned(),
                l["debit"].as_str().unwrap().to_owned(),
                l["credit"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let line = |date: &str, document: &str, debit: &str, credit: &str| {
        (
            date.to_owned(),
            document.to_owned(),
            debit.to_owned(),
            credit.to_owned(),
        )
    };
    assert_eq!(
        lines,
        vec![
            line("2026-02-02", "invoice 1", "11600.00", "0.00"),
            line("2026-02-05", "payment KASPI-1", "0.00", "5000.00"),
            line("2026-03-11", "payment KASPI-2", "0.00", "6600.00"),
            line("2026-03-12", "penalty on invoice 1", "348.00", "0.00"),
            line("2026-03-12", "fine on invoice 1", "8650.00", "0.00"),
            line(
                "2026-03-13",
                "waiver of fine on invoice 1",
                "0.00",
                "1000.00"
            ),
        ]
    );
    assert_eq!(statement["debits"], "20598.00");
    assert_eq!(statement["credits"], "12600.00");
    assert_eq!(statement["closing"], "7998.00");
    assert_adds_up(&statement);

    // A period that starts after the first documents: they make the opening balance.
    let statement = app
        .get_json(&format!(
            "/v1/agreements/{A}/statement?from=2026-03-01&to=2026-04-30"
        ))
        .await;
    assert_eq!(statement["opening"], "6600.00", "11600.00 - 5000.00");
    assert_eq!(statement["lines"].as_array().unwrap().len(), 5);
    assert_eq!(statement["closing"], "9158.00");
    assert_adds_up(&statement);
    let balance = app
        .get_json(&format!("/v1/agreements/{A}/balance?as_of=2026-04-30"))
        .await;
    assert_eq!(
        statement["closing"], balance["total_due"],
        "the statement closes on what is due"
    );
    // Without `from`: from the registration date.
    let statement = app
        .get_json(&format!("/v1/agreements/{A}/statement?to=2026-02-28"))
        .await;
    assert_eq!(statement["from"], "2026-01-05");
    assert_eq!(statement["opening"], "0.00");
    assert_eq!(statement["closing"], "6600.00");
    assert_adds_up(&statement);

    for as_of in ["2026-02-05", "2026-03-12", "2026-03-13", "2026-06-30"] {
        let journal = app
            .get_json(&format!("/v1/agreements/{A}/journal?as_of={as_of}"))
            .await;
        let balance = app
            .get_json(&format!("/v1/agreements/{A}/balance?as_of={as_of}"))
            .await;
        assert_eq!(journal["as_of"], as_of);
        assert_eq!(journal["debits"], journal["credits"], "{as_of}: {journal}");
        let entries = journal["entries"].as_array().unwrap();
        let debits: Decimal = entries.iter().map(|e| money(&e["debit"])).sum();
        let credits: Decimal = entries.iter().map(|e| money(&e["credit"])).sum();
        assert_eq!(debits, credits, "{as_of}");
        assert_eq!(debits, money(&journal["debits"]));
        let account = |name: &str| {
            journal["accounts"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["account"] == name)
                .map(|a| money(&a["balance"]))
                .unwrap_or_default()
        };
        assert_eq!(
            account("receivable"),
            money(&balance["total_due"]),
            "{as_of}: the receivable is what is due"
        );
        assert_eq!(account("advance"), -money(&balance["advance"]));
        assert_eq!(account("bank"), money(&balance["paid"]));
    }
    let journal = app
        .get_json(&format!("/v1/agreements/{A}/journal?as_of=2026-06-30"))
        .await;
    assert_eq!(journal["debits"], "34358.00");
    let accounts: Vec<(String, String)> = journal["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["account"].as_str().unwrap().to_owned(),
                a["balance"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("bank", "11600.00"),
        ("receivable", "9158.00"),
        ("revenue", "-11000.00"),
        ("vat_payable", "-1760.00"),
        ("penalty_income", "-348.00"),
        ("fine_income", "-7650.00"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(accounts, expected);
    app.finish().await;
}

fn assert_adds_up(statement: &Value) {
    let lines = statement["lines"].as_array().unwrap();
    let debits: Decimal = lines.iter().map(|l| money(&l["debit"])).sum();
    let credits: Decimal = lines.iter().map(|l| money(&l["credit"])).sum();
    assert_eq!(debits, money(&statement["debits"]));
    assert_eq!(credits, money(&statement["credits"]));
    assert_eq!(
        money(&statement["opening"]) + debits - credits,
        money(&statement["closing"]),
        "opening + debits - credits = closing: {statement}"
    );
}
