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
mod tests;
