//! The example as of a date: the agreement's header, its balance, its invoices, and its
//! penalties and fines explained.

use super::*;

#[test]
fn the_header_follows_the_history_date_by_date() {
    let ledger = example().ledger();
    assert_eq!(
        ledger.agreement_as_of(date!(2026 - 01 - 04)).unwrap_err(),
        ProjectionError::NotRegisteredAsOf(date!(2026 - 01 - 04))
    );
    let registered = ledger.agreement_as_of(date!(2026 - 01 - 05)).unwrap();
    assert_eq!(registered.header.status, AgreementStatus::Registered);
    assert_eq!(registered.header.participant_id, PARTICIPANT);
    assert_eq!(registered.header.signed_on, None);
    assert_eq!(registered.advance, zero());

    let active = ledger.agreement_as_of(date!(2026 - 01 - 06)).unwrap();
    assert_eq!(active.header.status, AgreementStatus::Active);
    assert_eq!(active.header.signed_on, Some(date!(2026 - 01 - 06)));
    assert_eq!(active.header.concluded_on, Some(date!(2026 - 01 - 05)));
    assert_eq!(active.header.in_force_from, Some(date!(2026 - 01 - 06)));

    // The advance as of a date: 1250.00 after PAY-3, 90.00 after invoice 2, 0 after 3.
    let advance = |on| ledger.agreement_as_of(on).unwrap().advance;
    assert_eq!(advance(date!(2026 - 03 - 15)), zero());
    assert_eq!(advance(date!(2026 - 03 - 16)), kzt("1250.00"));
    assert_eq!(advance(date!(2026 - 04 - 01)), kzt("90.00"));
    assert_eq!(advance(date!(2026 - 05 - 04)), zero());

    let before = ledger.agreement_as_of(date!(2026 - 05 - 24)).unwrap();
    assert_eq!(before.header.status, AgreementStatus::Active);
    assert_eq!(before.header.suspended_on, None);
    let suspended = ledger.agreement_as_of(date!(2026 - 05 - 25)).unwrap();
    assert_eq!(suspended.header.status, AgreementStatus::Suspended);
    assert_eq!(suspended.header.suspended_on, Some(date!(2026 - 05 - 25)));
    let restriction = suspended.header.restriction.unwrap();
    assert_eq!(
        (restriction.reason, restriction.clause.as_str()),
        (RestrictionReason::Overdue, "5.9")
    );
    // After every event: the same as the ledger's current status.
    assert_eq!(ledger.status(), Some(AgreementStatus::Suspended));
    assert_eq!(ledger.participant_id().as_deref(), Some(PARTICIPANT));
    assert_eq!(ledger.currency(), Some(Currency::KZT));
}

// ---------------------------------------------------------------------------------------
// Balance

#[test]
fn the_balance_at_the_end_adds_up_by_hand() {
    let ledger = example().ledger();
    let balance = ledger.balance(date!(2026 - 07 - 31), &reference()).unwrap();
    assert_eq!(balance.as_of, date!(2026 - 07 - 31));
    assert_eq!(balance.currency, Currency::KZT);
    // 11600.00 + 1160.00 + 5800.00
    assert_eq!(balance.invoiced, kzt("18560.00"));
    // 5000.00 + 6600.00 + 10000.00
    assert_eq!(balance.paid, kzt("21600.00"));
    // invoice 3: 5800.00 - 90.00 of advance
    assert_eq!(balance.outstanding, kzt("5710.00"));
    // 139.20 on invoice 1 (12 days) + 290.00 on invoice 3 (capped: 84 days)
    assert_eq!(balance.penalties_accrued, kzt("429.20"));
    assert_eq!(balance.penalties_charged, kzt("379.20"));
    // 39.20 charged and waived + 50.00 waived before charging
    assert_eq!(balance.penalties_waived, kzt("89.20"));
    assert_eq!(balance.penalties_owed, kzt("240.00"));
    // 2 MRP on invoices 1 and 3 (both first late in 2026); invoice 2 was never late
    assert_eq!(balance.fines_accrued, kzt("17300.00"));
    assert_eq!(balance.fines, kzt("8650.00"));
    assert_eq!(balance.fines_waived, zero());
    assert_eq!(balance.fines_owed, zero());
    assert_eq!(balance.advance, zero());
    assert_eq!(balance.total_due, kzt("5950.00"));
    assert_eq!(balance.clause, "5.9");
}

#[test]
fn the_balance_in_the_past_is_the_older_state() {
    let ledger = example().ledger();
    let reference = reference();
    let at = |on| ledger.balance(on, &reference).unwrap();

    // Before the invoice: nothing.
    let nothing = at(date!(2026 - 02 - 01));
    assert_eq!(
        (nothing.invoiced, nothing.total_due, nothing.paid),
        (zero(), zero(), zero())
    );

    // After PAY-1, before the due date: no accrual yet.
    let partial = at(date!(2026 - 02 - 09));
    assert_eq!(partial.outstanding, kzt("6600.00"));
    assert_eq!(partial.paid, kzt("5000.00"));
    assert_eq!(partial.penalties_accrued, zero());
    assert_eq!(partial.fines_accrued, zero());
    assert_eq!(partial.total_due, kzt("6600.00"));

    // 6 days late: 11600 x 0.001 x 6 = 69.60 accrued, the fine accrued, none charged.
    let late = at(date!(2026 - 02 - 15));
    assert_eq!(late.outstanding, kzt("6600.00"));
    assert_eq!(late.penalties_accrued, kzt("69.60"));
    assert_eq!(late.fines_accrued, kzt("8650.00"));
    assert_eq!((late.penalties_charged, late.fines), (zero(), zero()));
    assert_eq!(late.total_due, kzt("6600.00"));

    // After the charges, before the waiver: 139.20 + 8650.00 owed.
    let charged = at(date!(2026 - 03 - 05));
    assert_eq!(charged.outstanding, zero());
    assert_eq!(charged.penalties_owed, kzt("139.20"));
    assert_eq!(charged.fines_owed, kzt("8650.00"));
    assert_eq!(charged.total_due, kzt("8789.20"));

    // After the waiver: 100.00 + 8650.00.
    let waived = at(date!(2026 - 03 - 10));
    assert_eq!(waived.penalties_waived, kzt("39.20"));
    assert_eq!(waived.penalties_owed, kzt("100.00"));
    assert_eq!(waived.total_due, kzt("8750.00"));

    // After PAY-3: nothing owed, 1250.00 held.
    let settled = at(date!(2026 - 03 - 31));
    assert_eq!(settled.total_due, zero());
    assert_eq!(settled.advance, kzt("1250.00"));
    assert_eq!(settled.paid, kzt("21600.00"));
    assert_eq!(settled.penalties_accrued, kzt("139.20"));
    assert_eq!(settled.fines_accrued, kzt("8650.00"));
}

// ---------------------------------------------------------------------------------------
// Invoices

fn invoice_view(views: &[InvoiceStatusView], n: u64) -> &InvoiceStatusView {
    views
        .iter()
        .find(|v| v.number == number(n))
        .unwrap_or_else(|| panic!("invoice {n} in {views:?}"))
}

#[test]
fn invoice_status_is_open_then_overdue_then_paid() {
    let ledger = example().ledger();
    let reference = reference();
    let at = |on| ledger.invoices(on, &reference).unwrap();

    assert!(at(date!(2026 - 02 - 01)).is_empty());

    let issued = at(date!(2026 - 02 - 02));
    let one = invoice_view(&issued, 1);
    assert_eq!(one.status, InvoiceStatus::Open);
    assert_eq!(one.kind, InvoiceKind::Subscription);
    assert_eq!(
        (one.issued_on, one.due_on),
        (date!(2026 - 02 - 02), date!(2026 - 02 - 09))
    );
    assert_eq!(
        (one.total, one.paid, one.outstanding),
        (kzt("11600.00"), zero(), kzt("11600.00"))
    );

    // On the due date: still open, nothing accrued.
    let due = at(date!(2026 - 02 - 09));
    let one = invoice_view(&due, 1);
    assert_eq!(one.status, InvoiceStatus::Open);
    assert_eq!(
        (one.paid, one.outstanding),
        (kzt("5000.00"), kzt("6600.00"))
    );
    assert_eq!((one.days_overdue, one.days_late), (0, 0));
    assert_eq!((one.penalty_accrued, one.fine), (zero(), Some(zero())));

    // Before PAY-2 the invoice is overdue and outstanding.
    let overdue = at(date!(2026 - 02 - 15));
    let one = invoice_view(&overdue, 1);
    assert_eq!(one.status, InvoiceStatus::Overdue);
    assert_eq!(one.outstanding, kzt("6600.00"));
    assert_eq!(one.paid_in_full_on, None);
    assert_eq!((one.days_overdue, one.days_late), (6, 6));
    assert_eq!(one.penalty_accrued, kzt("69.60"));
    assert_eq!(one.fine, Some(kzt("8650.00")));

    // Paid in full 12 days late; accrual stopped for good.
    for on in [date!(2026 - 02 - 21), date!(2026 - 07 - 31)] {
        let paid = at(on);
        let one = invoice_view(&paid, 1);
        assert_eq!(one.status, InvoiceStatus::Paid, "{on}");
        assert_eq!(one.outstanding, zero());
        assert_eq!(one.paid, kzt("11600.00"));
        assert_eq!(one.paid_in_full_on, Some(date!(2026 - 02 - 21)));
        assert_eq!((one.days_overdue, one.days_late), (0, 12));
        assert_eq!(one.penalty_accrued, kzt("139.20"));
    }

    let end = at(date!(2026 - 07 - 31));
    assert_eq!(end.len(), 3);
    let one = invoice_view(&end, 1);
    assert_eq!(
        (one.penalty_charged, one.penalty_owed),
        (kzt("139.20"), zero())
    );
    assert_eq!((one.fine_charged, one.fine_owed), (kzt("8650.00"), zero()));

    // Invoice 2 was settled by the advance on its issue date: never late.
    let two = invoice_view(&end, 2);
    assert_eq!(two.status, InvoiceStatus::Paid);
    assert_eq!(two.kind, InvoiceKind::Credit);
    assert_eq!(two.paid_in_full_on, Some(date!(2026 - 04 - 01)));
    assert_eq!(
        (two.days_late, two.penalty_accrued, two.fine),
        (0, zero(), Some(zero()))
    );

    let three = invoice_view(&end, 3);
    assert_eq!(three.status, InvoiceStatus::Overdue);
    assert_eq!(three.due_on, date!(2026 - 05 - 08));
    assert_eq!(
        (three.paid, three.outstanding),
        (kzt("90.00"), kzt("5710.00"))
    );
    // 9 May to 31 July: 23 + 30 + 31 = 84 days; capped at 5% of 5800.00.
    assert_eq!((three.days_overdue, three.days_late), (84, 84));
    assert_eq!(three.penalty_accrued, kzt("290.00"));
    assert_eq!(
        (three.penalty_charged, three.penalty_owed),
        (kzt("240.00"), kzt("240.00"))
    );
    assert_eq!(
        (three.fine, three.fine_charged, three.fine_owed),
        (Some(kzt("8650.00")), zero(), zero())
    );
}

// ---------------------------------------------------------------------------------------
// Penalties and fines, explained

#[test]
fn penalties_are_explained_day_by_day_and_capped_on_day_fifty() {
    let ledger = example().ledger();
    let reference = reference();

    // Nothing late yet.
    assert!(ledger
        .penalties(date!(2026 - 02 - 09), &reference)
        .unwrap()
        .is_empty());

    let end = ledger.penalties(date!(2026 - 07 - 31), &reference).unwrap();
    assert_eq!(
        end.iter().map(|p| p.invoice_number).collect::<Vec<_>>(),
        vec![number(1), number(3)],
        "invoice 2 was never late"
    );

    let one = &end[0];
    assert_eq!(one.base, kzt("11600.00"));
    assert_eq!(one.rate, Decimal::new(1, 3));
    assert_eq!(one.cap_rate, Decimal::new(5, 2));
    assert_eq!(one.cap, kzt("580.00"));
    assert_eq!(one.days, 12);
    assert_eq!(one.due_on, date!(2026 - 02 - 09));
    assert_eq!(one.from, Some(date!(2026 - 02 - 10)));
    assert_eq!(one.to, Some(date!(2026 - 02 - 21)));
    assert!(one.paid_in_full);
    assert!(!one.capped);
    assert_eq!(one.amount, kzt("139.20"));
    assert_eq!(
        (one.charged, one.waived, one.owed),
        (kzt("139.20"), kzt("39.20"), zero())
    );
    assert_eq!(one.fine_mrp, 2);
    assert_eq!(one.mrp, Some(Decimal::from(4325)));
    assert!(one.mrp_table_version.is_some());
    assert_eq!(one.fine, Some(kzt("8650.00")));
    assert_eq!(
        (one.fine_charged, one.fine_waived, one.fine_owed),
        (kzt("8650.00"), zero(), zero())
    );
    assert_eq!(one.fine_exchange_rate, None);
    assert_eq!(one.clause, "5.9");
    for part in [
        "5.9",
        "11600.00",
        "0.001",
        "12 day(s)",
        "2026-02-10",
        "2026-02-21",
        "139.20",
        "2 MRP",
        "4325",
        "8650.00",
    ] {
        assert!(
            one.explanation.contains(part),
            "{part:?} in {:?}",
            one.explanation
        );
    }

    let three = &end[1];
    assert_eq!(three.base, kzt("5800.00"));
    assert_eq!(three.cap, kzt("290.00"));
    assert_eq!(three.days, 84);
    assert_eq!(
        (three.from, three.to),
        (Some(date!(2026 - 05 - 09)), Some(date!(2026 - 07 - 31)))
    );
    assert!(!three.paid_in_full);
    assert!(three.capped);
    assert_eq!(three.amount, kzt("290.00"));
    assert_eq!(
        (three.charged, three.waived, three.owed),
        (kzt("240.00"), kzt("50.00"), kzt("240.00"))
    );
    assert_eq!(three.fine, Some(kzt("8650.00")));
    for part in [
        "84 day(s)",
        "2026-05-09",
        "2026-07-31",
        "capped",
        "0.05",
        "290.00",
    ] {
        assert!(
            three.explanation.contains(part),
            "{part:?} in {:?}",
            three.explanation
        );
    }

    // Day 49 and day 50 of invoice 3: 5800 x 0.001 x 49 = 284.20; day 50 = the cap.
    let at = |on| {
        ledger
            .penalties(on, &reference)
            .unwrap()
            .into_iter()
            .find(|p| p.invoice_number == number(3))
            .unwrap()
    };
    let day_49 = at(date!(2026 - 06 - 26));
    assert_eq!(
        (day_49.days, day_49.amount, day_49.capped),
        (49, kzt("284.20"), false)
    );
    let day_50 = at(date!(2026 - 06 - 27));
    assert_eq!(
        (day_50.days, day_50.amount, day_50.capped),
        (50, kzt("290.00"), true)
    );
    // Day 1: one day, 5.80, and the fine at the MRP of that day.
    let day_1 = at(date!(2026 - 05 - 09));
    assert_eq!(
        (day_1.days, day_1.amount, day_1.fine),
        (1, kzt("5.80"), Some(kzt("8650.00")))
    );
    // The uncharged waiver is visible before anything is charged.
    let waived = at(date!(2026 - 06 - 01));
    assert_eq!(
        (waived.charged, waived.waived, waived.owed),
        (zero(), kzt("50.00"), zero())
    );
}
