//! Late payment (§5.9) as pure functions: the date is always passed in.
//!
//! Penalties and fines accrue with time, not with events: these functions compute them
//! for one invoice as of any date, from the invoice's facts alone, and explain each
//! figure (clause, base, days, dates, rate, cap, MRP) so that an auditor can check it by
//! hand. The aggregate uses them to decide what an operator may charge; the projections
//! use the same functions to show what has accrued.

use rust_decimal::Decimal;
use time::Date;

use events::{
    Clause, Currency, FineAssessment, FineExchangeRate, InvoiceNumber, Money, MoneyError,
    PenaltyAccrual, UsdRate,
};

use crate::force_majeure::ForceMajeurePeriod;
use crate::reference::{ReferenceData, ReferenceError};

/// §5.9: the penalty is 0.1% of the invoice total for each day of delay.
pub const PENALTY_RATE_PER_DAY: Decimal = Decimal::from_parts(1, 0, 0, false, 3);
/// §5.9: the penalty is at most 5% of the invoice total (reached on day 50).
pub const PENALTY_CAP_RATE: Decimal = Decimal::from_parts(5, 0, 0, false, 2);
/// §5.9: the fine is 2 MRP, once per late invoice.
pub const FINE_MRP_COUNT: u32 = 2;
/// A bound on days of delay (TIGER_STYLE): past the cap more days change nothing, and no
/// agreement outlives a century.
pub const DELAY_DAYS_MAX: u32 = 36_600;

/// What the late-payment rules need to know about one invoice.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InvoiceDelayFacts<'a> {
    pub number: InvoiceNumber,
    pub total: Money,
    pub due_on: Date,
    /// The day the invoice's principal was paid in full (§5.5), if it was.
    pub paid_in_full_on: Option<Date>,
    /// The invoice's own National Bank rate, for an invoice in USD.
    pub exchange_rate: Option<&'a UsdRate>,
    /// The agreement's declared force majeure periods (§8.1): no penalty accrues on
    /// their days. Those declared by the date asked about.
    pub force_majeure: &'a [ForceMajeurePeriod],
}

/// The days of delay of an invoice as of a date (§5.5, §5.9): from the day after the due
/// date up to and including the day it was paid in full, or `as_of` while it is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delay {
    pub days: u32,
    /// The first day of delay, when there is one.
    pub from: Option<Date>,
    /// The last day counted, when there is one.
    pub to: Option<Date>,
    /// True when the invoice was paid in full by `as_of` (accrual has stopped for good).
    pub paid_in_full: bool,
}

/// Days of delay as of `as_of`. A payment in full after `as_of` has not happened yet.
pub fn delay(due_on: Date, paid_in_full_on: Option<Date>, as_of: Date) -> Delay {
    let paid = paid_in_full_on.filter(|paid| *paid <= as_of);
    let end = paid.unwrap_or(as_of);
    let days = (end - due_on).whole_days();
    if days <= 0 {
        return Delay {
            days: 0,
            from: None,
            to: None,
            paid_in_full: paid.is_some(),
        };
    }
    let days = u32::try_from(days).unwrap_or(u32::MAX).min(DELAY_DAYS_MAX);
    Delay {
        days,
        from: due_on.next_day(),
        to: Some(end),
        paid_in_full: paid.is_some(),
    }
}

/// How many days from `from` to `to` (both included) fall in a force majeure period
/// (start and end included; an ongoing one runs to `to`).
pub fn force_majeure_days(periods: &[ForceMajeurePeriod], from: Date, to: Date) -> u32 {
    let days: i64 = periods
        .iter()
        .map(|period| {
            let start = period.started_on.max(from);
            let end = period.ended_on.unwrap_or(to).min(to);
            if start > end {
                0
            } else {
                (end - start).whole_days() + 1
            }
        })
        .sum();
    u32::try_from(days.max(0)).unwrap_or(u32::MAX)
}

/// The penalty (пеня) on an invoice as of `as_of` (§5.9):
/// `min(round(total x 0.001 x days, 2), round(total x 0.05, 2))`, rounded once over the
/// whole period. The base stays the invoice total after partial payments (DOMAIN.md).
/// The days of a declared force majeure are not counted (§8.1, since 2026-12-01).
pub fn penalty(invoice: &InvoiceDelayFacts<'_>, as_of: Date) -> Result<PenaltyAccrual, MoneyError> {
    let delay = delay(invoice.due_on, invoice.paid_in_full_on, as_of);
    let force_majeure_days = match (delay.from, delay.to) {
        (Some(from), Some(to)) => {
            force_majeure_days(invoice.force_majeure, from, to).min(delay.days)
        }
        _ => 0,
    };
    let days = delay.days - force_majeure_days;
    let base = invoice.total;
    let cap = Money::rounded(base.amount() * PENALTY_CAP_RATE, base.currency())?;
    let raw = Money::rounded(
        base.amount() * PENALTY_RATE_PER_DAY * Decimal::from(days),
        base.currency(),
    )?;
    let capped = days > 0 && raw.amount() >= cap.amount();
    let amount = if capped { cap } else { raw };
    debug_assert!(amount.amount() <= cap.amount(), "§5.9: never above 5%");
    debug_assert!(!amount.is_negative());
    Ok(PenaltyAccrual {
        clause: Clause::LATE_PAYMENT.as_str().to_owned(),
        invoice_number: invoice.number,
        base,
        rate_per_day: PENALTY_RATE_PER_DAY,
        cap_rate: PENALTY_CAP_RATE,
        due_on: invoice.due_on,
        from: delay.from,
        to: delay.to,
        days,
        force_majeure_days,
        capped,
        cap,
        amount,
        paid_in_full: delay.paid_in_full,
    })
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LatePaymentError {
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    #[error(transparent)]
    Money(#[from] MoneyError),
    #[error("invoice {0} is in USD but records no exchange rate")]
    MissingInvoiceRate(InvoiceNumber),
}

/// The fine (штраф) on an invoice as of `as_of` (§5.9): 2 MRP at the MRP in force on the
/// first day of delay, once per late invoice; zero while the invoice is not late.
///
/// For an agreement in USD the fine (set in KZT by the MRP) is converted at the latest
/// National Bank rate on or before the first day of delay, or at the invoice's own rate
/// when no such rate is loaded (a decision, docs/domain.md), rounded once.
pub fn fine(
    invoice: &InvoiceDelayFacts<'_>,
    as_of: Date,
    reference: &ReferenceData,
) -> Result<FineAssessment, LatePaymentError> {
    let currency = invoice.total.currency();
    let delay = delay(invoice.due_on, invoice.paid_in_full_on, as_of);
    let Some(first_day) = delay.from else {
        return Ok(FineAssessment {
            clause: Clause::LATE_PAYMENT.as_str().to_owned(),
            invoice_number: invoice.number,
            first_day_of_delay: None,
            mrp_count: FINE_MRP_COUNT,
            mrp: None,
            mrp_table_version: None,
            exchange_rate: None,
            amount: Money::zero(currency),
        });
    };
    let mrp = reference.mrp.on(first_day)?;
    let in_kzt = mrp * Decimal::from(FINE_MRP_COUNT);
    let (amount, exchange_rate) = match currency {
        Currency::KZT => (Money::rounded(in_kzt, Currency::KZT)?, None),
        Currency::USD => {
            let rate = match reference.exchange_rates.usd_kzt_on_or_before(first_day) {
                Some(rate) => FineExchangeRate {
                    kzt_per_usd: rate.kzt_per_unit,
                    date: rate.date,
                    source: "exchange_rates".to_owned(),
                },
                None => {
                    let own = invoice
                        .exchange_rate
                        .ok_or(LatePaymentError::MissingInvoiceRate(invoice.number))?;
                    FineExchangeRate {
                        kzt_per_usd: own.kzt_per_usd,
                        date: own.date,
                        source: "invoice".to_owned(),
                    }
                }
            };
            assert!(rate.kzt_per_usd > Decimal::ZERO, "rates are positive");
            (
                Money::rounded(in_kzt / rate.kzt_per_usd, Currency::USD)?,
                Some(rate),
            )
        }
    };
    Ok(FineAssessment {
        clause: Clause::LATE_PAYMENT.as_str().to_owned(),
        invoice_number: invoice.number,
        first_day_of_delay: Some(first_day),
        mrp_count: FINE_MRP_COUNT,
        mrp: Some(mrp),
        mrp_table_version: reference
            .mrp
            .version_for(first_day.year())
            .map(str::to_owned),
        exchange_rate,
        amount,
    })
}

/// A fine that waits for reference data not yet published (BILLING.md 1): the MRP of
/// the year of its first day of delay, or (in USD) a rate. Only this figure waits: the
/// penalty, the balance and the sweep's suspension and block go on without it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct PendingFine {
    /// Always `5.9`.
    pub clause: String,
    pub invoice_number: InvoiceNumber,
    #[serde(with = "events::business_date")]
    pub first_day_of_delay: Date,
    /// The table that is missing (`mrp`).
    pub table: events::ReferenceTable,
    /// Its range (`2027`).
    pub range: String,
    /// Why, in words: what the operator must publish.
    pub reason: String,
}

/// The fine of an invoice as of a date: assessed, or pending until the reference data it
/// needs is published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FineFigure {
    Assessed(FineAssessment),
    Pending(PendingFine),
}

impl FineFigure {
    /// The amount when assessed; `None` while pending (never shown as zero).
    pub fn amount(&self) -> Option<Money> {
        match self {
            Self::Assessed(fine) => Some(fine.amount),
            Self::Pending(_) => None,
        }
    }

    pub fn pending(&self) -> Option<&PendingFine> {
        match self {
            Self::Assessed(_) => None,
            Self::Pending(pending) => Some(pending),
        }
    }
}

/// [`fine`], with a missing reference table read as a pending fine (BILLING.md 1)
/// instead of an error. Other errors stay errors.
pub fn fine_or_pending(
    invoice: &InvoiceDelayFacts<'_>,
    as_of: Date,
    reference: &ReferenceData,
) -> Result<FineFigure, LatePaymentError> {
    match fine(invoice, as_of, reference) {
        Ok(fine) => Ok(FineFigure::Assessed(fine)),
        Err(LatePaymentError::Reference(error)) => {
            let Some((table, range)) = error.missing() else {
                return Err(LatePaymentError::Reference(error));
            };
            let first_day_of_delay = delay(invoice.due_on, invoice.paid_in_full_on, as_of)
                .from
                .expect("a fine needs reference data only once the invoice is late");
            Ok(FineFigure::Pending(PendingFine {
                clause: Clause::LATE_PAYMENT.as_str().to_owned(),
                invoice_number: invoice.number,
                first_day_of_delay,
                table,
                range,
                reason: format!("§5.9 fine pending: {error}"),
            }))
        }
        Err(other) => Err(other),
    }
}

#[cfg(test)]
mod tests {
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
}
