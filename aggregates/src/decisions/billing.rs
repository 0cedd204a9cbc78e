//! The billing run's decision for one agreement (BILLING.md 4): the subscription invoice
//! of a month, priced by the tariff version in force on the month's first day (or on the
//! start day when prorated, BILLING.md 2), issued at most once per month; and the usage
//! invoice of the month before (BILLING.md 3), priced by the version the billed month's
//! subscription invoice recorded (§5.3).

use rust_decimal::{Decimal, RoundingStrategy};

use commands::{BillMonth, BillUsage, InvoiceLineRequest, IssueInvoice};
use events::{
    AgreementEvent, Amount, CalendarMonth, InvoiceBilling, InvoiceKind, LineDescription,
    MetricName, Money, MoneyError, Proration, Quantity, ServicePeriod, TariffApplied,
    TariffVersionPublished, UsageBilled,
};

use crate::agreement::ParticipantAgreement;
use crate::usage::{count_usage, CountedUsage, UsageCount};
use crate::{AgreementError, AgreementServices, AgreementStatus};

/// BILLING.md 2, decision: a month subscribed from a day after its first pays
/// `fee x days / days_in_month`, rounded once, half away from zero.
pub fn prorated_fee(fee: Money, days: u8, days_in_month: u8) -> Result<Money, MoneyError> {
    assert!(
        days >= 1 && days <= days_in_month && (28..=31).contains(&days_in_month),
        "a proration covers 1 to {days_in_month} days of a month"
    );
    let exact = fee.amount() * Decimal::from(days) / Decimal::from(days_in_month);
    Money::rounded(
        exact.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero),
        fee.currency(),
    )
}

impl ParticipantAgreement {
    /// The subscription invoice of `command.month` (BILLING.md 4), or why the agreement
    /// gets none ([`AgreementError::NotBillable`]); nothing when it was invoiced already.
    pub(super) fn bill_month(
        &self,
        command: BillMonth,
        services: &AgreementServices,
    ) -> Result<Vec<AgreementEvent>, AgreementError> {
        let month = command.month;
        let not_billable = |reason: String| Err(AgreementError::NotBillable { month, reason });
        self.billable(month)?;
        if let Some(termination) = &self.termination {
            if termination.effective_on < month.first_day() {
                return not_billable(format!(
                    "its termination takes effect on {}, before the month",
                    termination.effective_on
                ));
            }
        }
        if self
            .subscription
            .billed(month, InvoiceKind::Subscription)
            .is_some()
        {
            return Ok(Vec::new());
        }
        let Some(span) = self
            .subscription
            .spans
            .iter()
            .find(|span| span.overlaps(month))
        else {
            return not_billable("no subscription for the month".to_owned());
        };
        let start = span.from.max(month.first_day());
        let Some(version) = services.tariffs.in_force(&span.tariff, start) else {
            return Err(AgreementError::NoTariffVersion {
                tariff: span.tariff.to_string(),
                on: start,
            });
        };
        let currency = self.registered()?.currency;
        let fee = version.fees.in_currency(currency);
        let days_in_month = month.days();
        let days = days_in_month - start.day() + 1;
        let proration = (days < days_in_month)
            .then(|| -> Result<Proration, MoneyError> {
                Ok(Proration {
                    fee: prorated_fee(fee, days, days_in_month)?,
                    days,
                    days_in_month,
                })
            })
            .transpose()?;
        let price = proration.as_ref().map_or(fee, |p| p.fee);
        if price.is_zero() {
            return not_billable(format!("the fee of {} is zero", version.id()));
        }
        let description = match &proration {
            None => format!("Подписка «{}» ({}), {month}", version.name, version.id()),
            Some(p) => format!(
                "Подписка «{}» ({}), {month}: {} из {} дней",
                version.name,
                version.id(),
                p.days,
                p.days_in_month
            ),
        };
        let line = InvoiceLineRequest {
            description: LineDescription::parse(&description)
                .expect("a tariff's name and id make a line description"),
            quantity: Quantity::parse("1").expect("one"),
            unit_price: Amount::new(price.amount()).map_err(|_| MoneyError::Overflow)?,
        };
        self.issue_billed_invoice(
            IssueInvoice {
                kind: InvoiceKind::Subscription,
                issued_on: command.issued_on,
                lines: vec![line],
                period: Some(ServicePeriod {
                    from: start,
                    to: month.last_day(),
                }),
            },
            InvoiceBilling {
                month,
                tariff: applied(version),
                proration,
                usage: Vec::new(),
                usage_through: None,
            },
            services,
        )
    }

    /// The invoice of `command`, recording what the billing run billed with it.
    fn issue_billed_invoice(
        &self,
        command: IssueInvoice,
        billing: InvoiceBilling,
        services: &AgreementServices,
    ) -> Result<Vec<AgreementEvent>, AgreementError> {
        let mut events = self.issue_invoice(command, services)?;
        for event in &mut events {
            if let AgreementEvent::InvoiceIssued(issued) = event {
                issued.billing = Some(billing.clone());
            }
        }
        Ok(events)
    }
    /// BILLING.md 4: whether the run bills the agreement at all: signed, neither blocked
    /// (decision: a blocked participant is not billed for a month it cannot use) nor
    /// terminated.
    fn billable(&self, month: CalendarMonth) -> Result<(), AgreementError> {
        let not_billable = |reason: &str| {
            Err(AgreementError::NotBillable {
                month,
                reason: reason.to_owned(),
            })
        };
        self.registered()?;
        if self.signing.is_none() {
            return not_billable("the agreement is not signed (§1.5)");
        }
        match self.status() {
            Some(AgreementStatus::Blocked) => {
                not_billable("blocked: not billed for a month it cannot use")
            }
            Some(AgreementStatus::Terminated) => not_billable("terminated"),
            _ => Ok(()),
        }
    }

    /// The tariff version whose included volume and price apply to `month`'s usage
    /// (§5.3): the one the month's subscription invoice recorded, whatever was published
    /// later; without that invoice, the one in force on the month's first subscribed day.
    fn usage_version<'a>(
        &self,
        month: CalendarMonth,
        services: &'a AgreementServices,
    ) -> Option<&'a TariffVersionPublished> {
        match self.subscription.billed(month, InvoiceKind::Subscription) {
            Some(billed) => services
                .tariffs
                .versions(&billed.tariff.code)
                .iter()
                .find(|v| v.version == billed.tariff.version),
            None => self
                .subscription
                .spans
                .iter()
                .find(|span| span.overlaps(month))
                .and_then(|span| {
                    services
                        .tariffs
                        .in_force(&span.tariff, span.from.max(month.first_day()))
                }),
        }
    }

    /// The usage invoice for `command.month` (BILLING.md 3, 4; on credit, §5.8): per month
    /// of occurrence and metric, the usage beyond the volume its tariff version includes,
    /// less what earlier usage invoices billed of it, at that version's price (§5.3).
    /// Nothing when the month's usage is invoiced already;
    /// [`AgreementError::NoUsageBeyondIncluded`] when there is nothing beyond what is
    /// included (the records stay uncounted, and count towards the next usage invoice).
    pub(super) fn bill_usage(
        &self,
        command: BillUsage,
        services: &AgreementServices,
    ) -> Result<Vec<AgreementEvent>, AgreementError> {
        let month = command.month;
        self.billable(month)?;
        if command.issued_on <= month.last_day() {
            return Err(AgreementError::NotBillable {
                month,
                reason: format!(
                    "{month} is not over on {}: its usage is billed once it is",
                    command.issued_on
                ),
            });
        }
        if self
            .subscription
            .billed(month, InvoiceKind::Usage)
            .is_some()
        {
            return Ok(Vec::new());
        }
        let counted = self.subscription.counted_usage();
        if let Some(later) = counted.filter(|c| c.month > month) {
            return Err(AgreementError::NotBillable {
                month,
                reason: format!(
                    "the usage of {} is invoiced already: what {month} has left is billed on the next usage invoice",
                    later.month
                ),
            });
        }
        // The counting position never goes back, even for a run that began before
        // another counted further.
        let through = command.through.max(counted.map_or(0, |c| c.through));
        let this = CountedUsage { month, through };
        for record in &command.records {
            assert!(
                this.window_contains(counted, record.position, record.occurred_on)
                    && record.quantity > 0,
                "the usage record {} at position {} is not one the usage invoice for {month} counts",
                record.id,
                record.position
            );
        }
        let currency = self.registered()?.currency;
        let mut lines = Vec::new();
        let mut billed_lines = Vec::new();
        for count in count_usage(&command.records) {
            let version = self.usage_version(count.month, services);
            let (before, billed_before) = self
                .subscription
                .usage_account(count.month, &count.metric)
                .map_or((0, 0), |account| (account.quantity, account.billed));
            let quantity = before.saturating_add(count.quantity);
            let included = version
                .and_then(|v| v.included.get(&count.metric).copied())
                .unwrap_or(0);
            let price = version.and_then(|v| v.overage.get(&count.metric));
            // Units beyond what is included are billed only at a price the version sets.
            let billed = match price {
                Some(_) => quantity
                    .saturating_sub(included)
                    .saturating_sub(billed_before),
                None => 0,
            };
            let unit_price = price.map_or(Money::zero(currency), |p| p.in_currency(currency));
            let amount = unit_price.checked_mul(Decimal::from(billed))?;
            let tariff = version.map(applied);
            if !amount.is_zero() {
                let version = version.expect("a priced metric has a version");
                billed_lines.extend(usage_invoice_lines(
                    &count.metric,
                    count.month,
                    billed,
                    unit_price,
                    &version.id(),
                )?);
            }
            lines.push(CountedLine {
                count,
                quantity,
                included,
                billed,
                unit_price,
                amount,
                tariff,
            });
        }
        if billed_lines.is_empty() {
            return Err(AgreementError::NoUsageBeyondIncluded {
                month,
                records: command.records.len() as u64,
            });
        }
        // The invoice names the billed month's version, else the first version it prices
        // with (late records of an earlier month only).
        let invoice_tariff = self
            .usage_version(month, services)
            .map(applied)
            .or_else(|| {
                lines
                    .iter()
                    .find(|line| !line.amount.is_zero())
                    .and_then(|line| line.tariff.clone())
            })
            .expect("a billed line has a version");
        let usage: Vec<UsageBilled> = lines
            .into_iter()
            .map(|line| UsageBilled {
                month: line.count.month,
                metric: line.count.metric,
                quantity: line.quantity,
                included: line.included,
                billed: line.billed,
                unit_price: line.unit_price,
                amount: line.amount,
                tariff: line.tariff.unwrap_or_else(|| invoice_tariff.clone()),
                records: line.count.records,
                digest: line.count.digest,
            })
            .collect();
        self.issue_billed_invoice(
            IssueInvoice {
                kind: InvoiceKind::Usage,
                issued_on: command.issued_on,
                lines: billed_lines,
                period: Some(ServicePeriod {
                    from: month.first_day(),
                    to: month.last_day(),
                }),
            },
            InvoiceBilling {
                month,
                tariff: invoice_tariff,
                proration: None,
                usage,
                usage_through: Some(through),
            },
            services,
        )
    }
}

/// What a usage invoice bills of one month and metric, before the invoice's own version
/// is known (a month without a version bills nothing and takes the invoice's).
struct CountedLine {
    count: UsageCount,
    quantity: u64,
    included: u64,
    billed: u64,
    unit_price: Money,
    amount: Money,
    tariff: Option<TariffApplied>,
}

/// A tariff version as an invoice records it.
fn applied(version: &TariffVersionPublished) -> TariffApplied {
    TariffApplied {
        code: version.code.clone(),
        version: version.version,
        effective_from: version.effective_from,
    }
}

/// The invoice lines of `billed` units of `metric` used in `month` beyond what is
/// included: one line per [`Quantity::MAX`] units.
fn usage_invoice_lines(
    metric: &MetricName,
    month: CalendarMonth,
    billed: u64,
    unit_price: Money,
    version: &str,
) -> Result<Vec<InvoiceLineRequest>, AgreementError> {
    let unit_price = Amount::new(unit_price.amount()).map_err(|_| MoneyError::Overflow)?;
    let description = LineDescription::parse(&format!(
        "Сверх включённого объёма: {metric}, {month} (тариф {version})"
    ))
    .expect("a metric, a month and a tariff id make a line description");
    let mut lines = Vec::new();
    let mut left = billed;
    while left > 0 {
        let units = left.min(u64::from(Quantity::MAX));
        lines.push(InvoiceLineRequest {
            description: description.clone(),
            quantity: Quantity::new(Decimal::from(units)).expect("at most Quantity::MAX units"),
            unit_price,
        });
        left -= units;
    }
    Ok(lines)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod usage_tests;
