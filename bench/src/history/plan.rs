//! The plan of one agreement's life after signing: invoices every month, paid on time,
//! late, in part or over the total, suspensions for overdue invoices, penalties and fines
//! charged and settled, drawn from the random number generator. The generator turns each
//! action into a command when its turn comes.

use rust_decimal::Decimal;
use time::{Date, Month};

use events::{InvoiceKind, LateChargeKind, ServicePeriod};

use super::{Rng, LAST_MONTH, TODAY};

/// What an agreement's history plans to do on a date; turned into a command when its
/// turn comes, from the state the earlier commands left.
#[derive(Debug, Clone)]
pub(super) enum Action {
    Issue {
        kind: InvoiceKind,
        slot: usize,
        lines: Vec<(String, Decimal, Decimal)>,
        period: Option<ServicePeriod>,
    },
    /// Pays `percent`% of what is left of the principal of invoice `slot`.
    Pay {
        slot: usize,
        percent: u64,
        named: bool,
    },
    /// Pays every penalty and fine charged and still open.
    Settle,
    Charge {
        slot: usize,
        kind: LateChargeKind,
    },
    Suspend,
    Reinstate,
}

impl Action {
    /// Tie-break between actions of one date.
    fn rank(&self) -> u8 {
        match self {
            Action::Issue { .. } => 0,
            Action::Suspend => 1,
            Action::Pay { .. } => 2,
            Action::Reinstate => 3,
            Action::Charge { .. } => 4,
            Action::Settle => 5,
        }
    }
}

const MONTH_NAMES: [&str; 12] = [
    "январь",
    "февраль",
    "март",
    "апрель",
    "май",
    "июнь",
    "июль",
    "август",
    "сентябрь",
    "октябрь",
    "ноябрь",
    "декабрь",
];

/// The first day of the month before `date`'s.
pub(super) fn previous_month(date: Date) -> Date {
    let (year, month) = if date.month() == Month::January {
        (date.year() - 1, Month::December)
    } else {
        (date.year(), date.month().previous())
    };
    Date::from_calendar_date(year, month, 1).expect("the first of a month")
}

pub(super) fn add_days(date: Date, days: u64) -> Date {
    date + time::Duration::days(i64::try_from(days).unwrap_or(0))
}

/// The plan of one agreement's life after signing, in date order.
pub(super) fn plan(rng: &mut Rng, first_month: Date) -> Vec<(Date, Action)> {
    let mut plan: Vec<(Date, Action)> = Vec::new();
    let subscription = Decimal::new(
        i64::try_from(rng.between(50, 600)).unwrap_or(50) * 10_000,
        2,
    );
    let mut slot = 0;
    let mut month_start = first_month;
    // The last invoices must fall due inside the calendar's years.
    while month_start <= LAST_MONTH {
        let month_end = month_start
            .replace_day(month_start.month().length(month_start.year()))
            .expect("last day of the month");
        let month_name = MONTH_NAMES[usize::from(u8::from(month_start.month())) - 1];
        let mut invoices = vec![(
            add_days(month_start, rng.below(2)),
            Action::Issue {
                kind: InvoiceKind::Subscription,
                slot,
                lines: vec![(
                    format!(
                        "Абонентская плата за ЭДО, {month_name} {}",
                        month_start.year()
                    ),
                    Decimal::ONE,
                    subscription,
                )],
                period: Some(ServicePeriod {
                    from: month_start,
                    to: month_end,
                }),
            },
        )];
        slot += 1;
        if rng.chance(80) {
            let lines = (0..rng.between(1, 3))
                .map(|line| {
                    (
                        format!("Документы сверх тарифа, пакет {}", line + 1),
                        Decimal::from(rng.between(1, 400)),
                        Decimal::new(i64::try_from(rng.between(500, 20_000)).unwrap_or(500), 2),
                    )
                })
                .collect();
            invoices.push((
                add_days(month_start, 14 + rng.below(3)),
                Action::Issue {
                    kind: InvoiceKind::Usage,
                    slot,
                    lines,
                    period: None,
                },
            ));
            slot += 1;
        }
        for (issued_on, issue) in invoices {
            let Action::Issue { slot: this, .. } = issue else {
                unreachable!()
            };
            plan.push((issued_on, issue));
            let behaviour = rng.below(100);
            let pay = |percent: u64, named: bool| Action::Pay {
                slot: this,
                percent,
                named,
            };
            if behaviour < 62 {
                // On time, in full.
                plan.push((add_days(issued_on, rng.below(5)), pay(100, rng.chance(70))));
            } else if behaviour < 78 {
                // Late, in full; a penalty (and sometimes the fine) charged, then paid.
                let paid_on = add_days(issued_on, rng.between(12, 45));
                plan.push((paid_on, pay(100, true)));
                if rng.chance(50) {
                    let charged_on = add_days(paid_on, rng.between(1, 5));
                    plan.push((
                        charged_on,
                        Action::Charge {
                            slot: this,
                            kind: LateChargeKind::Penalty,
                        },
                    ));
                    if rng.chance(30) {
                        plan.push((
                            charged_on,
                            Action::Charge {
                                slot: this,
                                kind: LateChargeKind::Fine,
                            },
                        ));
                    }
                    plan.push((add_days(charged_on, rng.between(3, 12)), Action::Settle));
                }
            } else if behaviour < 90 {
                // Partial on time, the rest late.
                plan.push((
                    add_days(issued_on, rng.below(4)),
                    pay(rng.between(30, 70), true),
                ));
                let rest_on = add_days(issued_on, rng.between(15, 30));
                plan.push((rest_on, pay(100, true)));
                if rng.chance(30) {
                    plan.push((
                        add_days(rest_on, 1),
                        Action::Charge {
                            slot: this,
                            kind: LateChargeKind::Penalty,
                        },
                    ));
                }
            } else if behaviour < 96 {
                // Over the total: the rest is kept as an advance for the next invoice.
                plan.push((
                    add_days(issued_on, rng.below(4)),
                    pay(rng.between(110, 200), false),
                ));
            } else {
                // Overdue long enough to be suspended; reinstated when paid.
                plan.push((add_days(issued_on, 12), Action::Suspend));
                let paid_on = add_days(issued_on, rng.between(20, 40));
                plan.push((paid_on, pay(100, true)));
                plan.push((paid_on, Action::Reinstate));
                plan.push((
                    add_days(paid_on, 2),
                    Action::Charge {
                        slot: this,
                        kind: LateChargeKind::Penalty,
                    },
                ));
                plan.push((add_days(paid_on, 9), Action::Settle));
            }
        }
        month_start = month_start
            .replace_day(1)
            .and_then(|d| {
                let (year, month) = if d.month() == Month::December {
                    (d.year() + 1, Month::January)
                } else {
                    (d.year(), d.month().next())
                };
                Date::from_calendar_date(year, month, 1)
            })
            .expect("next month");
    }
    plan.retain(|(date, _)| *date <= TODAY);
    // Stable: actions of one date keep their planned order within a rank.
    plan.sort_by_key(|(date, action)| (*date, action.rank()));
    plan
}
