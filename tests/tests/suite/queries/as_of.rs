//! As of a past date: the older state.

use super::*;

pub(super) async fn as_of_in_the_past_gives_the_older_state(store: Store) {
    let app = spawn_app(store).await;
    let o = history(&app).await;

    let agreement = app
        .get_json(&format!("/v1/agreements/{A}?as_of=2026-01-05"))
        .await;
    assert_eq!(agreement["status"], "registered");
    assert_eq!(agreement["signed_on"], Value::Null);
    let agreement = app
        .get_json(&format!("/v1/agreements/{A}?as_of=2026-01-06"))
        .await;
    assert_eq!(agreement["status"], "active");
    assert_eq!(agreement["signed_on"], "2026-01-06");
    let c = |tail: &str| format!("/v1/agreements/{}{tail}", o.c);
    assert_eq!(
        app.get_json(&c("?as_of=2026-02-28")).await["status"],
        "active"
    );
    let suspended = app.get_json(&c("?as_of=2026-03-01")).await;
    assert_eq!(suspended["status"], "suspended");
    assert_eq!(suspended["suspended_on"], "2026-03-01");

    // The balance before and after each payment.
    let balance = |as_of: &'static str| {
        let app = &app;
        async move {
            app.get_json(&format!("/v1/agreements/{A}/balance?as_of={as_of}"))
                .await
        }
    };
    let before = balance("2026-02-01").await;
    assert_eq!(before["invoiced"], "0.00");
    assert_eq!(before["total_due"], "0.00");
    let issued = balance("2026-02-04").await;
    assert_eq!(issued["invoiced"], "11600.00");
    assert_eq!(issued["paid"], "0.00");
    assert_eq!(issued["outstanding"], "11600.00");
    let partly = balance("2026-02-05").await;
    assert_eq!(partly["paid"], "5000.00");
    assert_eq!(partly["outstanding"], "6600.00");
    assert_eq!(partly["penalties_accrued"], "0.00");
    let late = balance("2026-03-10").await;
    assert_eq!(late["outstanding"], "6600.00");
    assert_eq!(late["penalties_accrued"], "336.40", "11600.00 x 0.001 x 29");
    assert_eq!(late["fines_accrued"], "8650.00");
    assert_eq!(late["penalties_charged"], "0.00");
    assert_eq!(late["total_due"], "6600.00", "nothing charged yet");
    let paid = balance("2026-03-11").await;
    assert_eq!(paid["outstanding"], "0.00");
    assert_eq!(paid["paid"], "11600.00");
    assert_eq!(paid["penalties_accrued"], "348.00");
    let charged = balance("2026-03-12").await;
    assert_eq!(charged["fines_owed"], "8650.00");
    assert_eq!(charged["total_due"], "8998.00");
    let waived = balance("2026-03-13").await;
    assert_eq!(waived["fines_owed"], "7650.00");
    assert_eq!(waived["total_due"], "7998.00");
    // Penalties stop accruing once paid in full: the same later.
    assert_eq!(balance("2026-03-31").await["penalties_accrued"], "348.00");

    let invoices = app
        .get_json(&format!("/v1/agreements/{A}/invoices?as_of=2026-02-09"))
        .await;
    assert_eq!(
        invoices.as_array().unwrap().len(),
        1,
        "invoice 3 not issued yet"
    );
    assert_eq!(invoices[0]["status"], "open", "due today: not yet overdue");
    assert_eq!(invoices[0]["days_overdue"], 0);
    assert_eq!(invoices[0]["outstanding"], "6600.00");
    let invoices = app
        .get_json(&format!("/v1/agreements/{A}/invoices?as_of=2026-02-10"))
        .await;
    assert_eq!(invoices[0]["status"], "overdue");
    assert_eq!(invoices[0]["days_overdue"], 1, "the day after the due date");
    assert_eq!(invoices[0]["penalty_accrued"], "11.60");
    let invoices = app
        .get_json(&format!("/v1/agreements/{A}/invoices?as_of=2026-03-10"))
        .await;
    assert_eq!(invoices[0]["days_overdue"], 29);
    assert_eq!(invoices[0]["paid"], "5000.00");

    let penalties = app
        .get_json(&format!("/v1/agreements/{A}/penalties?as_of=2026-02-09"))
        .await;
    assert_eq!(penalties, json!([]), "not late on the due date");
    let penalties = app
        .get_json(&format!("/v1/agreements/{A}/penalties?as_of=2026-03-10"))
        .await;
    assert_eq!(penalties[0]["days"], 29);
    assert_eq!(penalties[0]["to"], "2026-03-10");
    assert_eq!(penalties[0]["paid_in_full"], false);
    assert_eq!(penalties[0]["charged"], "0.00");
    app.finish().await;
}
