//! The terms in words: names, amounts and the §5.9 arithmetic, for a person checking
//! them by hand.

use time::Date;

use events::{FineAssessment, InvoiceKind, Money, PenaltyAccrual, SettledPart};

pub(super) fn kind_name(kind: InvoiceKind) -> &'static str {
    match kind {
        InvoiceKind::Subscription => "subscription",
        InvoiceKind::Credit => "credit",
        InvoiceKind::Usage => "usage",
    }
}

pub(super) fn part_name(part: SettledPart) -> &'static str {
    match part {
        SettledPart::Principal => "principal",
        SettledPart::Penalty => "penalty",
        SettledPart::Fine => "fine",
    }
}

pub(super) fn money(amount: Money) -> String {
    amount.to_json_string()
}

/// The §5.9 penalty arithmetic in words.
pub(super) fn penalty_words(penalty: &PenaltyAccrual) -> String {
    let day = |date: Option<Date>| date.map(|d| d.to_string()).unwrap_or_default();
    let until = if penalty.paid_in_full {
        format!("paid in full on {} (§5.5)", day(penalty.to))
    } else {
        "not paid in full as of that day".to_owned()
    };
    let product = format!(
        "{} x {} x {} day(s)",
        money(penalty.base),
        penalty.rate_per_day,
        penalty.days
    );
    let raw = Money::rounded(
        penalty.base.amount() * penalty.rate_per_day * rust_decimal::Decimal::from(penalty.days),
        penalty.base.currency(),
    );
    let arithmetic = match (penalty.capped, raw) {
        (false, _) => format!("{product} = {}", money(penalty.amount)),
        (true, Ok(raw)) if raw != penalty.cap => format!(
            "{product} = {}, above the cap of {} x {} = {}: {}",
            money(raw),
            money(penalty.base),
            penalty.cap_rate,
            money(penalty.cap),
            money(penalty.amount),
        ),
        (true, _) => format!(
            "{product}, capped at {} x {} = {}: {}",
            money(penalty.base),
            penalty.cap_rate,
            money(penalty.cap),
            money(penalty.amount),
        ),
    };
    let words = format!(
        "penalty on invoice {number}, due on {due}, {until}: days of delay {from} to {to}; {arithmetic}",
        number = penalty.invoice_number,
        due = penalty.due_on,
        from = day(penalty.from),
        to = day(penalty.to),
    );
    if penalty.force_majeure_days > 0 {
        format!(
            "{words}; §8.1: {} day(s) of force majeure in that period are not counted",
            penalty.force_majeure_days
        )
    } else {
        words
    }
}

/// The §5.9 fine arithmetic in words.
pub(super) fn fine_words(fine: &FineAssessment) -> String {
    let first_day = fine
        .first_day_of_delay
        .map(|d| d.to_string())
        .unwrap_or_default();
    let mrp = fine.mrp.map(|m| m.to_string()).unwrap_or_default();
    let table = fine.mrp_table_version.as_deref().unwrap_or("");
    let in_kzt = fine
        .mrp
        .map(|m| m * rust_decimal::Decimal::from(fine.mrp_count))
        .and_then(|kzt| Money::rounded(kzt, events::Currency::KZT).ok())
        .map(money)
        .unwrap_or_default();
    let head = format!(
        "fine on invoice {number}: {count} MRP x {mrp} KZT (the MRP in force on {first_day}, the first day of delay; table {table}) = {in_kzt} KZT",
        number = fine.invoice_number,
        count = fine.mrp_count,
    );
    match &fine.exchange_rate {
        None => head,
        Some(rate) => format!(
            "{head} / {} KZT per USD (National Bank rate of {}, from {}) = {} USD",
            rate.kzt_per_usd,
            rate.date,
            rate.source,
            money(fine.amount),
        ),
    }
}
