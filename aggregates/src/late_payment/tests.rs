//! The late-payment figures (§5.9) of one invoice as of a date, from its facts alone;
//! the days of force majeure they leave out (§8.1), given/when/then, in
//! `force_majeure_exemption`.

use super::*;
use time::macros::date;

fn kzt(text: &str) -> Money {
    Money::rounded(text.parse().unwrap(), Currency::KZT).unwrap()
}

fn invoice(total: &str, due_on: Date, paid: Option<Date>) -> InvoiceDelayFacts<'static> {
    InvoiceDelayFacts {
        number: InvoiceNumber::new(7).unwrap(),
        total: kzt(total),
        due_on,
        paid_in_full_on: paid,
        exchange_rate: None,
        force_majeure: &[],
    }
}

fn reference() -> ReferenceData {
    ReferenceData::embedded().unwrap()
}

const DUE: Date = date!(2026 - 02 - 09);

#[test]
fn paid_on_the_due_date_costs_nothing() {
    let facts = invoice("11600.00", DUE, Some(DUE));
    let accrual = penalty(&facts, date!(2026 - 06 - 01)).unwrap();
    assert_eq!((accrual.days, accrual.amount), (0, kzt("0")));
    assert_eq!((accrual.from, accrual.to), (None, None));
    assert!(accrual.paid_in_full && !accrual.capped);
    let assessed = fine(&facts, date!(2026 - 06 - 01), &reference()).unwrap();
    assert_eq!(assessed.amount, kzt("0"));
    assert_eq!(assessed.first_day_of_delay, None);
}

#[test]
fn one_day_late_is_a_tenth_of_a_percent_and_a_fine_of_two_mrp() {
    let facts = invoice("11600.00", DUE, Some(date!(2026 - 02 - 10)));
    let accrual = penalty(&facts, date!(2026 - 12 - 31)).unwrap();
    assert_eq!(accrual.days, 1);
    assert_eq!(accrual.amount, kzt("11.60"));
    assert_eq!(accrual.from, Some(date!(2026 - 02 - 10)));
    assert_eq!(accrual.to, Some(date!(2026 - 02 - 10)));
    assert_eq!(accrual.clause, "5.9");
    assert_eq!(accrual.cap, kzt("580.00"));
    let assessed = fine(&facts, date!(2026 - 12 - 31), &reference()).unwrap();
    // 2 x 4,325 (MRP 2026) = 8,650.00
    assert_eq!(assessed.amount, kzt("8650.00"));
    assert_eq!(assessed.mrp, Some(Decimal::from(4325)));
    assert_eq!(assessed.first_day_of_delay, Some(date!(2026 - 02 - 10)));
}

#[test]
fn unpaid_invoices_accrue_up_to_the_as_of_date() {
    let facts = invoice("11600.00", DUE, None);
    assert_eq!(penalty(&facts, DUE).unwrap().days, 0);
    let accrual = penalty(&facts, date!(2026 - 02 - 19)).unwrap();
    assert_eq!((accrual.days, accrual.amount), (10, kzt("116.00")));
    assert!(!accrual.paid_in_full);
    // A payment in full after the as-of date has not happened yet.
    let later = invoice("11600.00", DUE, Some(date!(2026 - 03 - 01)));
    assert_eq!(penalty(&later, date!(2026 - 02 - 19)).unwrap(), accrual);
}

#[test]
fn the_cap_is_reached_on_day_fifty_and_holds_after() {
    let facts = invoice("11600.00", DUE, None);
    let day_49 = penalty(&facts, DUE + time::Duration::days(49)).unwrap();
    assert_eq!((day_49.amount, day_49.capped), (kzt("568.40"), false));
    let day_50 = penalty(&facts, DUE + time::Duration::days(50)).unwrap();
    assert_eq!(day_50.to, Some(date!(2026 - 03 - 31)));
    assert_eq!(
        (day_50.days, day_50.amount, day_50.capped),
        (50, kzt("580.00"), true)
    );
    let far = penalty(&facts, date!(2026 - 12 - 31)).unwrap();
    assert_eq!(
        (far.days, far.amount, far.capped),
        (325, kzt("580.00"), true)
    );
}

#[test]
fn rounding_is_once_over_the_period_half_away_from_zero() {
    // 1005.00 x 0.001 = 1.005 -> 1.01
    let facts = invoice("1005.00", DUE, None);
    assert_eq!(
        penalty(&facts, DUE.next_day().unwrap()).unwrap().amount,
        kzt("1.01")
    );
    // 1234.56 x 0.001 x 3 = 3.70368 -> 3.70 (day by day it would be 3 x 1.23 = 3.69)
    let facts = invoice("1234.56", DUE, None);
    let three = penalty(&facts, DUE + time::Duration::days(3)).unwrap();
    assert_eq!(three.amount, kzt("3.70"));
}

#[test]
fn partial_payments_do_not_change_the_base_and_accrual_runs_to_full_payment() {
    // Half paid before the due date, the rest 12 days late: 12 days on the total.
    let facts = invoice("11600.00", DUE, Some(date!(2026 - 02 - 21)));
    let accrual = penalty(&facts, date!(2026 - 05 - 01)).unwrap();
    assert_eq!(accrual.base, kzt("11600.00"));
    assert_eq!((accrual.days, accrual.amount), (12, kzt("139.20")));
    assert!(accrual.paid_in_full);
}

#[test]
fn a_delay_across_new_year_takes_the_mrp_of_its_first_day() {
    let reference = reference();
    // Due 2025-12-31: the first day of delay is 2026-01-01, MRP 2026 = 4,325.
    let facts = invoice("1000.00", date!(2025 - 12 - 31), None);
    let fine_2026 = fine(&facts, date!(2026 - 01 - 10), &reference).unwrap();
    assert_eq!(fine_2026.amount, kzt("8650.00"));
    // Due 2025-12-30: the first day of delay is 2025-12-31, MRP 2025 = 3,932.
    let facts = invoice("1000.00", date!(2025 - 12 - 30), None);
    let fine_2025 = fine(&facts, date!(2026 - 01 - 10), &reference).unwrap();
    assert_eq!(fine_2025.amount, kzt("7864.00"));
    assert_eq!(fine_2025.first_day_of_delay, Some(date!(2025 - 12 - 31)));
    let accrual = penalty(&facts, date!(2026 - 01 - 10)).unwrap();
    assert_eq!((accrual.days, accrual.amount), (11, kzt("11.00")));
}

#[test]
fn a_usd_invoice_accrues_in_usd_and_converts_the_fine() {
    let rate = UsdRate {
        kzt_per_usd: "500.00".parse().unwrap(),
        date: date!(2026 - 02 - 02),
        table_version: "test".into(),
    };
    let facts = InvoiceDelayFacts {
        number: InvoiceNumber::new(9).unwrap(),
        total: Money::rounded("1000.00".parse().unwrap(), Currency::USD).unwrap(),
        due_on: DUE,
        paid_in_full_on: None,
        exchange_rate: Some(&rate),
        force_majeure: &[],
    };
    let accrual = penalty(&facts, DUE + time::Duration::days(7)).unwrap();
    assert_eq!(accrual.amount.currency(), Currency::USD);
    assert_eq!(accrual.amount.amount(), "7.00".parse::<Decimal>().unwrap());
    // No table rate loaded: 8,650 KZT / 500 = 17.30 USD at the invoice's rate.
    let converted = fine(&facts, DUE + time::Duration::days(7), &reference()).unwrap();
    assert_eq!(
        converted.amount.amount(),
        "17.30".parse::<Decimal>().unwrap()
    );
    assert_eq!(converted.exchange_rate.as_ref().unwrap().source, "invoice");
    // With a table rate on or before the first day of delay, that rate applies.
    let mut reference = reference();
    reference.exchange_rates = crate::reference::ExchangeRates::parse(
        "version = \"t\"\nsource = \"t\"\n[[usd_kzt]]\ndate = 2026-02-06\nrate = \"520.00\"\nquant = 1\n",
    )
    .unwrap();
    let converted = fine(&facts, DUE + time::Duration::days(7), &reference).unwrap();
    // 8,650 / 520 = 16.634... -> 16.63
    assert_eq!(
        converted.amount.amount(),
        "16.63".parse::<Decimal>().unwrap()
    );
    assert_eq!(converted.exchange_rate.unwrap().date, date!(2026 - 02 - 06));
}

#[test]
fn a_year_without_an_mrp_is_an_error_not_a_guess() {
    let facts = invoice("1000.00", date!(2027 - 03 - 01), None);
    assert_eq!(
        fine(&facts, date!(2027 - 03 - 10), &reference()).unwrap_err(),
        LatePaymentError::Reference(ReferenceError::NoMrpForYear(2027))
    );
}

#[test]
fn a_fine_without_its_years_mrp_is_pending_not_zero_and_not_last_years() {
    let reference = reference();
    let late = invoice("1000.00", date!(2026 - 12 - 31), None);
    let figure = fine_or_pending(&late, date!(2027 - 01 - 05), &reference).unwrap();
    let pending = figure
        .pending()
        .expect("pending until the 2027 MRP is published");
    assert_eq!(figure.amount(), None);
    assert_eq!(pending.first_day_of_delay, date!(2027 - 01 - 01));
    assert_eq!(
        (pending.table, pending.range.as_str()),
        (events::ReferenceTable::Mrp, "2027")
    );
    assert!(pending.reason.contains("MRP"), "{}", pending.reason);
    // A delay that started in 2026 takes the 2026 MRP even when counted into 2027.
    let earlier = invoice("1000.00", date!(2026 - 12 - 30), None);
    let figure = fine_or_pending(&earlier, date!(2027 - 01 - 05), &reference).unwrap();
    assert_eq!(figure.amount(), Some(kzt("8650.00")));
}

// The rules changed on 2026-12-01 (DOMAIN.md, "Changed on 2026-12-01", item 4).
mod force_majeure_exemption;
