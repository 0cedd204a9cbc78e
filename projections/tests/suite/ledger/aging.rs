//! The example's aging, and the aging report.

use super::*;

#[test]
fn aging_moves_the_unpaid_principal_through_the_buckets() {
    let ledger = example().ledger();
    let buckets = |on| ledger.aging(on).unwrap().buckets;
    let only = |field: &str, amount: Money| {
        let mut b = AgingBuckets::zero(zero());
        match field {
            "current" => b.current = amount,
            "1_15" => b.days_1_15 = amount,
            "16_30" => b.days_16_30 = amount,
            "31_90" => b.days_31_90 = amount,
            "over_90" => b.over_90 = amount,
            _ => unreachable!(),
        }
        b.total = amount;
        b
    };

    assert_eq!(
        buckets(date!(2026 - 02 - 05)),
        only("current", kzt("6600.00"))
    );
    assert_eq!(
        buckets(date!(2026 - 02 - 09)),
        only("current", kzt("6600.00"))
    );
    assert_eq!(buckets(date!(2026 - 02 - 10)), only("1_15", kzt("6600.00")));
    assert_eq!(buckets(date!(2026 - 02 - 20)), only("1_15", kzt("6600.00")));
    assert_eq!(buckets(date!(2026 - 02 - 21)), AgingBuckets::zero(zero()));
    // Invoice 3: 5710.00 after the advance, due 2026-05-08.
    assert_eq!(
        buckets(date!(2026 - 05 - 08)),
        only("current", kzt("5710.00"))
    );
    assert_eq!(buckets(date!(2026 - 05 - 23)), only("1_15", kzt("5710.00")));
    assert_eq!(
        buckets(date!(2026 - 05 - 24)),
        only("16_30", kzt("5710.00"))
    );
    assert_eq!(
        buckets(date!(2026 - 06 - 07)),
        only("16_30", kzt("5710.00"))
    );
    assert_eq!(
        buckets(date!(2026 - 06 - 08)),
        only("31_90", kzt("5710.00"))
    );
    assert_eq!(
        buckets(date!(2026 - 08 - 06)),
        only("31_90", kzt("5710.00"))
    );
    assert_eq!(
        buckets(date!(2026 - 08 - 07)),
        only("over_90", kzt("5710.00"))
    );

    let row = ledger.aging(date!(2026 - 07 - 31)).unwrap();
    assert_eq!(row.participant_id, PARTICIPANT);
    assert_eq!(row.name, "ТОО «Ромашка»");
    assert_eq!(row.currency, Currency::KZT);
    assert_eq!(
        ledger.aging(date!(2026 - 01 - 04)).unwrap_err(),
        ProjectionError::NotRegisteredAsOf(date!(2026 - 01 - 04))
    );
}

#[test]
fn the_aging_report_totals_per_currency_and_leaves_out_who_owes_nothing() {
    let ledger = example().ledger();
    // The example's rows at three dates stand in for three agreements.
    let mut report = AgingReport::new(date!(2026 - 05 - 20));
    report
        .add(ledger.aging(date!(2026 - 05 - 20)).unwrap())
        .unwrap();
    // As of 2026-03-31 the example owes nothing: its row is left out.
    report
        .add(ledger.aging(date!(2026 - 03 - 31)).unwrap())
        .unwrap();
    report
        .add(ledger.aging(date!(2026 - 02 - 15)).unwrap())
        .unwrap();
    let report = report.finish();
    assert_eq!(report.buckets, AgingReport::BUCKETS);
    assert_eq!(report.agreements.len(), 2);
    assert_eq!(report.totals.len(), 1);
    let totals = &report.totals[0];
    assert_eq!(totals.currency, Currency::KZT);
    assert_eq!(totals.agreements, 2);
    // 5710.00 (12 days) + 6600.00 (6 days), both 1-15 days overdue.
    assert_eq!(totals.buckets.days_1_15, kzt("12310.00"));
    assert_eq!(totals.buckets.total, kzt("12310.00"));
    assert_eq!(totals.buckets.current, zero());

    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["as_of"], "2026-05-20");
    assert_eq!(json["totals"][0]["1_15"], "12310.00");
    assert_eq!(json["agreements"][0]["total"], "5710.00");
}
