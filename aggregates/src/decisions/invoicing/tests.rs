//! Invoices (§5.1, §5.3-§5.8, §5.11): VAT, rounding, due dates, the rate of a USD
//! invoice, and the rules an invoice must keep.

use crate::fixture::*;

#[test]
fn an_invoice_adds_vat_by_its_turnover_date_and_falls_due_by_its_kind() {
    let events = with_invoice();
    let AgreementEvent::InvoiceIssued(invoice) = &events[2] else {
        panic!("{events:?}")
    };
    assert_eq!(invoice.number, InvoiceNumber::new(1).unwrap());
    assert_eq!(invoice.net, kzt("10000.00"));
    assert_eq!(invoice.vat.rate, Decimal::from_str("0.16").unwrap());
    assert_eq!(invoice.vat.amount, kzt("1600.00"));
    assert_eq!(invoice.total, kzt("11600.00"));
    assert_eq!(
        invoice.due_on,
        date!(2026 - 02 - 09),
        "Monday + 5 banking days = next Monday (§5.4)"
    );
    assert_eq!(invoice.due_rule.clause, "5.4");
    assert_eq!(invoice.exchange_rate, None);
    assert_eq!(
        invoice.turnover_on,
        Some(invoice.issued_on),
        "no period: the issue date"
    );
    assert_eq!(events.len(), 3, "no advance, so nothing else");
}

#[test]
fn vat_in_2025_is_twelve_percent() {
    let events = decide(
        &in_force_in_2025(),
        AgreementCommand::IssueInvoice(invoice_command(
            InvoiceKind::Credit,
            date!(2025 - 12 - 31),
            "100.00",
        )),
        &services(),
    )
    .unwrap();
    let AgreementEvent::InvoiceIssued(invoice) = &events[0] else {
        panic!()
    };
    assert_eq!(invoice.vat.amount, kzt("12.00"));
    assert_eq!(invoice.total, kzt("112.00"));
    // Credit: 3 working days (§5.8) from Wednesday 2025-12-31: Jan 1, 2 are holidays,
    // Jan 3-4 a weekend: Jan 5 (1), Jan 6 (2), Jan 7 holiday, Jan 8 (3).
    assert_eq!(invoice.due_on, date!(2026 - 01 - 08));
    assert_eq!(invoice.due_rule.clause, "5.8");
}

/// An agreement in force from 2025-06-02, for the tests at the 2025/2026 VAT boundary.
fn in_force_in_2025() -> Vec<AgreementEvent> {
    let mut given = vec![registered_event(Currency::KZT, true), signed_event()];
    if let AgreementEvent::Registered(r) = &mut given[0] {
        r.registered_on = date!(2025 - 06 - 02);
    }
    if let AgreementEvent::AgreementSigned(s) = &mut given[1] {
        *s = AgreementSigned {
            signed_on: date!(2025 - 06 - 02),
            concluded_on: date!(2025 - 06 - 02),
            in_force_from: date!(2025 - 06 - 02),
        };
    }
    given
}

fn issued_for(issued_on: Date, period: Option<(Date, Date)>) -> InvoiceIssued {
    let mut command = invoice_command(InvoiceKind::Subscription, issued_on, "100.00");
    command.period = period.map(|(from, to)| ServicePeriod { from, to });
    let events = decide(
        &in_force_in_2025(),
        AgreementCommand::IssueInvoice(command),
        &services(),
    )
    .unwrap();
    let AgreementEvent::InvoiceIssued(invoice) = &events[0] else {
        panic!("{events:?}")
    };
    invoice.clone()
}

/// BILLING.md 6: VAT is the rate in force on the turnover date, the day the service is
/// rendered (a period's last day), not on the issue date.
#[test]
fn a_december_2025_invoice_for_january_2026_carries_sixteen_percent() {
    let invoice = issued_for(
        date!(2025 - 12 - 25),
        Some((date!(2026 - 01 - 01), date!(2026 - 01 - 31))),
    );
    assert_eq!(invoice.turnover_on, Some(date!(2026 - 01 - 31)));
    assert_eq!(invoice.turnover_date(), date!(2026 - 01 - 31));
    assert_eq!(invoice.vat.rate, Decimal::from_str("0.16").unwrap());
    assert_eq!(invoice.vat.rate_effective_from, date!(2026 - 01 - 01));
    assert_eq!(invoice.vat.amount, kzt("16.00"));
    assert_eq!(invoice.total, kzt("116.00"));
}

#[test]
fn a_january_2026_invoice_for_december_2025_carries_twelve_percent() {
    let invoice = issued_for(
        date!(2026 - 01 - 05),
        Some((date!(2025 - 12 - 01), date!(2025 - 12 - 31))),
    );
    assert_eq!(invoice.turnover_on, Some(date!(2025 - 12 - 31)));
    assert_eq!(invoice.vat.rate, Decimal::from_str("0.12").unwrap());
    assert_eq!(invoice.total, kzt("112.00"));
}

#[test]
fn an_invoice_without_a_period_turns_over_on_its_issue_date() {
    let invoice = issued_for(date!(2025 - 12 - 31), None);
    assert_eq!(invoice.turnover_on, Some(date!(2025 - 12 - 31)));
    assert_eq!(invoice.vat.rate, Decimal::from_str("0.12").unwrap());
}

/// An invoice recorded before turnover dates were keeps the VAT it recorded (taken on
/// its issue date), and its turnover date reads as that issue date: no rewrite.
#[test]
fn an_invoice_recorded_without_a_turnover_date_keeps_what_it_recorded() {
    let invoice = issued_for(
        date!(2025 - 12 - 25),
        Some((date!(2026 - 01 - 01), date!(2026 - 01 - 31))),
    );
    let mut recorded = serde_json::to_value(&invoice).unwrap();
    let object = recorded.as_object_mut().unwrap();
    assert!(object.remove("turnover_on").is_some());
    // As an older invoice recorded it: 12% by its issue date.
    object["vat"]["rate"] = serde_json::json!("0.12");
    let old: InvoiceIssued = serde_json::from_value(recorded.clone()).unwrap();
    assert_eq!(old.turnover_on, None);
    assert_eq!(old.turnover_date(), date!(2025 - 12 - 25));
    assert_eq!(old.vat.rate, Decimal::from_str("0.12").unwrap());
    assert_eq!(
        serde_json::to_value(&old).unwrap(),
        recorded,
        "written back exactly as recorded"
    );
}

fn due_on(kind: InvoiceKind, issued_on: Date) -> Date {
    let given = vec![registered_event(Currency::KZT, true), signed_event()];
    let events = decide(
        &given,
        AgreementCommand::IssueInvoice(invoice_command(kind, issued_on, "100.00")),
        &services(),
    )
    .unwrap();
    match &events[0] {
        AgreementEvent::InvoiceIssued(invoice) => invoice.due_on,
        other => panic!("{other:?}"),
    }
}

#[test]
fn due_dates_skip_the_2026_nauryz_and_may_holidays() {
    // Friday 2026-03-20: Mar 21-22 weekend, Mar 23-25 Nauryz days off.
    assert_eq!(
        due_on(InvoiceKind::Subscription, date!(2026 - 03 - 20)),
        date!(2026 - 04 - 01)
    );
    assert_eq!(
        due_on(InvoiceKind::Credit, date!(2026 - 03 - 20)),
        date!(2026 - 03 - 30)
    );
    assert_eq!(
        due_on(InvoiceKind::Usage, date!(2026 - 03 - 20)),
        date!(2026 - 03 - 30)
    );
    // Thursday 2026-04-30: May 1 (Fri), May 7 (Thu) and May 11 (Mon) are days off.
    assert_eq!(
        due_on(InvoiceKind::Subscription, date!(2026 - 04 - 30)),
        date!(2026 - 05 - 12)
    );
    assert_eq!(
        due_on(InvoiceKind::Credit, date!(2026 - 05 - 05)),
        date!(2026 - 05 - 12)
    );
}

#[test]
fn invoices_at_the_end_of_2026_fall_due_in_2027_by_the_provisional_calendar() {
    let given = vec![registered_event(Currency::KZT, true), signed_event()];
    // §5.4: Monday 2026-12-28 + 5 banking days: Dec 29, 30, 31, (Jan 1, 2-3 weekend,
    // Jan 4 moved day off) Jan 5, Jan 6.
    assert_eq!(
        due_on(InvoiceKind::Subscription, date!(2026 - 12 - 28)),
        date!(2027 - 01 - 06)
    );
    // §5.8: Tuesday 2026-12-29 + 3 working days: Dec 30, 31, Jan 5.
    assert_eq!(
        due_on(InvoiceKind::Credit, date!(2026 - 12 - 29)),
        date!(2027 - 01 - 05)
    );
    let events = decide(
        &given,
        AgreementCommand::IssueInvoice(invoice_command(
            InvoiceKind::Subscription,
            date!(2026 - 12 - 28),
            "100.00",
        )),
        &services(),
    )
    .unwrap();
    let AgreementEvent::InvoiceIssued(issued) = &events[0] else {
        panic!("an invoice")
    };
    assert_eq!(
        issued.due_rule.calendar_version, "kz-calendar-2026-1+kz-calendar-2027-1",
        "the due date names both years' calendar versions"
    );
}

#[test]
fn a_due_date_in_a_year_without_a_calendar_is_refused() {
    let given = vec![registered_event(Currency::KZT, true), signed_event()];
    let error = decide(
        &given,
        AgreementCommand::IssueInvoice(invoice_command(
            InvoiceKind::Subscription,
            date!(2027 - 12 - 30),
            "100.00",
        )),
        &services_on(date!(2027 - 12 - 31), 1),
    )
    .unwrap_err();
    assert_eq!(
        error,
        AgreementError::MissingReferenceData(crate::reference::ReferenceError::NoCalendarForYear(
            2028
        ))
    );
    assert_eq!(error.kind(), ErrorKind::RuleViolation);
}

#[test]
fn lines_are_rounded_once_each_and_vat_once() {
    let given = vec![registered_event(Currency::KZT, true), signed_event()];
    let command = IssueInvoice {
        kind: InvoiceKind::Usage,
        issued_on: date!(2026 - 02 - 02),
        lines: vec![
            line("Documents", "3", "33.33"),
            line("Storage", "0.125", "10.00"),
            line("Extra", "1.5", "0.05"),
        ],
        period: Some(ServicePeriod {
            from: date!(2026 - 01 - 01),
            to: date!(2026 - 01 - 31),
        }),
    };
    // 3 x 33.33 = 99.99; 0.125 x 10.00 = 1.25; 1.5 x 0.05 = 0.075 -> 0.08 (half away from zero)
    let events = decide(&given, AgreementCommand::IssueInvoice(command), &services()).unwrap();
    let AgreementEvent::InvoiceIssued(invoice) = &events[0] else {
        panic!()
    };
    let amounts: Vec<_> = invoice.lines.iter().map(|l| l.amount).collect();
    assert_eq!(amounts, vec![kzt("99.99"), kzt("1.25"), kzt("0.08")]);
    assert_eq!(invoice.net, kzt("101.32"));
    // 101.32 x 0.16 = 16.2112 -> 16.21
    assert_eq!(invoice.vat.amount, kzt("16.21"));
    assert_eq!(invoice.total, kzt("117.53"));
}

#[test]
fn invoice_rules_are_enforced() {
    let given = vec![registered_event(Currency::KZT, true), signed_event()];
    let check = |command: IssueInvoice, expected: AgreementError| {
        assert_eq!(
            decide(&given, AgreementCommand::IssueInvoice(command), &services()).unwrap_err(),
            expected
        );
    };
    let mut no_lines = invoice_command(InvoiceKind::Credit, date!(2026 - 02 - 02), "1.00");
    no_lines.lines.clear();
    check(no_lines, AgreementError::NoInvoiceLines);
    let mut many = invoice_command(InvoiceKind::Credit, date!(2026 - 02 - 02), "1.00");
    many.lines = (0..=INVOICE_LINES_MAX)
        .map(|_| line("x", "1", "1.00"))
        .collect();
    check(
        many,
        AgreementError::TooManyInvoiceLines {
            max: INVOICE_LINES_MAX,
            given: INVOICE_LINES_MAX + 1,
        },
    );
    check(
        invoice_command(InvoiceKind::Credit, date!(2026 - 02 - 02), "0.00"),
        AgreementError::ZeroInvoice,
    );
    check(
        invoice_command(InvoiceKind::Credit, date!(2026 - 01 - 05), "1.00"),
        AgreementError::InvoiceBeforeInForce {
            issued_on: date!(2026 - 01 - 05),
            in_force_from: date!(2026 - 01 - 06),
        },
    );
    check(
        invoice_command(InvoiceKind::Credit, date!(2026 - 01 - 02), "1.00"),
        AgreementError::BeforeRegistration {
            what: "the issue date",
            date: date!(2026 - 01 - 02),
            registered_on: date!(2026 - 01 - 05),
        },
    );
    let mut reversed = invoice_command(InvoiceKind::Credit, date!(2026 - 02 - 02), "1.00");
    reversed.period = Some(ServicePeriod {
        from: date!(2026 - 02 - 01),
        to: date!(2026 - 01 - 01),
    });
    check(
        reversed,
        AgreementError::PeriodReversed {
            from: date!(2026 - 02 - 01),
            to: date!(2026 - 01 - 01),
        },
    );
    let huge = IssueInvoice {
        lines: vec![line("x", "1000000", "999999999999.99")],
        ..invoice_command(InvoiceKind::Credit, date!(2026 - 02 - 02), "1.00")
    };
    check(huge, AgreementError::Money(MoneyError::Overflow));
}

#[test]
fn a_usd_invoice_records_the_national_bank_rate_of_its_date() {
    let given = vec![registered_event(Currency::USD, false), signed_event()];
    let events = decide(
        &given,
        AgreementCommand::IssueInvoice(invoice_command(
            InvoiceKind::Subscription,
            date!(2026 - 02 - 02),
            "250.00",
        )),
        &services(),
    )
    .unwrap();
    let AgreementEvent::InvoiceIssued(invoice) = &events[0] else {
        panic!()
    };
    assert_eq!(invoice.currency, Currency::USD);
    assert_eq!(invoice.total, usd("290.00"));
    let rate = invoice
        .exchange_rate
        .as_ref()
        .expect("a USD invoice records its rate");
    assert_eq!(rate.kzt_per_usd, Decimal::from_str("503.15").unwrap());
    assert_eq!(rate.date, date!(2026 - 02 - 02));
    // No rate loaded for the date: refused (§5.1).
    let error = decide(
        &given,
        AgreementCommand::IssueInvoice(invoice_command(
            InvoiceKind::Subscription,
            date!(2026 - 02 - 03),
            "250.00",
        )),
        &services(),
    )
    .unwrap_err();
    assert_eq!(error.clause(), Some(Clause::CURRENCY));
    assert_eq!(error.kind(), ErrorKind::RuleViolation);
}
