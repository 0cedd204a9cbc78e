//! Bank payments recorded late (issue 15, BILLING.md 5.1, §5.5) over HTTP, on both
//! stores: the bank statement for 9 February reaches the ledger after the sweep charged
//! the fine and suspended the participant. It is accepted, counts from its `received_on`,
//! withdraws the fine naming the payment and lifts the suspension at once; the
//! reconciliation statement matches the bank; `known_at` still shows what the ledger
//! said before. A late payment racing the sweep ends the same whichever wins.

use serde_json::{json, Value};

use crate::helpers::{invoice, spawn_app, Store, TestApp, OPERATOR_BIN};

crate::on_both_stores!(
    a_late_bank_statement_lifts_the_suspension_and_withdraws_the_fine,
    a_late_payment_racing_the_sweep_ends_the_same_whichever_wins,
);

const ID: &str = OPERATOR_BIN;

/// Invoice 1 of 11,600.00 issued 2026-02-02, due 2026-02-09; the sweep of 2026-02-24
/// charges the fine (policy on), that of 2026-02-25 suspends (day 16).
async fn fined_and_suspended(app: &TestApp) {
    app.signed_agreement(ID).await;
    let response = app
        .post(
            &format!("/v1/agreements/{ID}/invoices"),
            &invoice("2026-02-02", "10000.00"),
        )
        .await;
    assert_eq!(response.status(), 201);
    for as_of in ["2026-02-24", "2026-02-25"] {
        let response = app.post("/v1/sweeps", &json!({ "as_of": as_of })).await;
        assert_eq!(response.status(), 200);
    }
    let agreement = app.get_json(&format!("/v1/agreements/{ID}")).await;
    assert_eq!(agreement["status"], "suspended", "{agreement}");
}

fn payment() -> Value {
    json!({"reference": "HALYK-0209", "received_on": "2026-02-09", "amount": "11600.00",
           "invoice_number": "1"})
}

async fn a_late_bank_statement_lifts_the_suspension_and_withdraws_the_fine(store: Store) {
    let app = spawn_app(store).await;
    fined_and_suspended(&app).await;
    let before = app
        .get_json(&format!("/v1/agreements/{ID}/balance?as_of=2026-02-28"))
        .await;
    assert_eq!(before["fines"], "8650.00");
    assert_eq!(before["total_due"], "20250.00");
    let moment_before = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;

    // The statement of 9 February arrives: accepted, not refused as backdated.
    let response = app
        .post(&format!("/v1/agreements/{ID}/payments"), &payment())
        .await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    // A retry of the same message records nothing more.
    let events_after = app.event_count().await;
    let response = app
        .post(&format!("/v1/agreements/{ID}/payments"), &payment())
        .await;
    assert!(response.status().is_success());
    assert_eq!(app.event_count().await, events_after);

    // The fine is withdrawn naming the payment, the suspension lifted naming it.
    let events = app.events(ID).await;
    let withdrawn: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "LateChargeWithdrawn")
        .collect();
    assert_eq!(withdrawn.len(), 1, "{events:?}");
    assert_eq!(withdrawn[0]["payload"]["kind"], "fine");
    assert_eq!(withdrawn[0]["payload"]["amount"]["amount"], "8650.00");
    assert_eq!(withdrawn[0]["payload"]["payment"], "HALYK-0209");
    assert_eq!(withdrawn[0]["payload"]["received_on"], "2026-02-09");
    assert_eq!(withdrawn[0]["clause"], "5.5");
    let lifted = events.iter().rfind(|e| e["type"] == "Reinstated").unwrap();
    assert_eq!(lifted["payload"]["payment"], "HALYK-0209");
    assert_eq!(lifted["payload"]["on"], "2026-02-25");
    let agreement = app.get_json(&format!("/v1/agreements/{ID}")).await;
    assert_eq!(agreement["status"], "active", "{agreement}");

    // As known now: nothing was ever owed beyond the invoice, paid on its due date.
    let balance = app
        .get_json(&format!("/v1/agreements/{ID}/balance?as_of=2026-02-28"))
        .await;
    assert_eq!(balance["fines"], "0.00", "{balance}");
    assert_eq!(balance["fines_accrued"], "0.00", "{balance}");
    assert_eq!(balance["penalties_accrued"], "0.00", "{balance}");
    assert_eq!(balance["total_due"], "0.00", "{balance}");
    let on_the_10th = app
        .get_json(&format!("/v1/agreements/{ID}/balance?as_of=2026-02-10"))
        .await;
    assert_eq!(on_the_10th["outstanding"], "0.00", "{on_the_10th}");
    // The reconciliation statement matches the bank: the payment on its true date, the
    // fine and its withdrawal, closing at zero.
    let statement = app
        .get_json(&format!(
            "/v1/agreements/{ID}/statement?from=2026-02-01&to=2026-02-28"
        ))
        .await;
    let lines: Vec<(String, String)> = statement["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["date"].as_str().unwrap().to_owned(),
                l["document"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(lines[0], ("2026-02-02".into(), "invoice 1".into()));
    assert_eq!(lines[1], ("2026-02-09".into(), "payment HALYK-0209".into()));
    assert_eq!(lines[2].0, "2026-02-24");
    assert!(
        lines[3].1.starts_with("withdrawal of fine on invoice 1"),
        "{lines:?}"
    );
    assert_eq!(statement["closing"], "0.00", "{statement}");
    let journal = app
        .get_json(&format!("/v1/agreements/{ID}/journal?as_of=2026-02-28"))
        .await;
    assert_eq!(journal["debits"], journal["credits"]);
    // The explanation of the fines owed names the withdrawal and its clause.
    let explained = app
        .get_json(&format!(
            "/v1/agreements/{ID}/balance?as_of=2026-02-28&explain=true"
        ))
        .await;
    assert!(
        explained.to_string().contains("LateChargeWithdrawn"),
        "{explained}"
    );

    // As the ledger said before the statement arrived.
    let known_before = app
        .get_json(&format!(
            "/v1/agreements/{ID}/balance?as_of=2026-02-28&known_at={}",
            moment_before.replace('+', "%2B")
        ))
        .await;
    assert_eq!(known_before, before);
    app.finish().await;
}

async fn a_late_payment_racing_the_sweep_ends_the_same_whichever_wins(store: Store) {
    let app = spawn_app(store).await;
    app.signed_agreement(ID).await;
    let response = app
        .post(
            &format!("/v1/agreements/{ID}/invoices"),
            &invoice("2026-02-02", "10000.00"),
        )
        .await;
    assert_eq!(response.status(), 201);
    let sweep = json!({"as_of": "2026-02-25"});
    let path = format!("/v1/agreements/{ID}/payments");
    let body = payment();
    let (swept, paid) = tokio::join!(app.post("/v1/sweeps", &sweep), app.post(&path, &body));
    assert_eq!(swept.status(), 200);
    assert_eq!(paid.status(), 201);
    // Whichever order won, the figures are those of the payment on its due date.
    let agreement = app.get_json(&format!("/v1/agreements/{ID}")).await;
    assert_eq!(agreement["status"], "active", "{agreement}");
    let balance = app
        .get_json(&format!("/v1/agreements/{ID}/balance?as_of=2026-02-28"))
        .await;
    for figure in [
        "total_due",
        "fines",
        "fines_accrued",
        "penalties_accrued",
        "outstanding",
    ] {
        assert_eq!(balance[figure], "0.00", "{figure}: {balance}");
    }
    app.finish().await;
}
