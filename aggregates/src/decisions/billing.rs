//! The billing run's decision for one agreement (BILLING.md 4): the subscription invoice
//! of a month, priced by the tariff version in force on the month's first day (or on the
//! start day when prorated, BILLING.md 2), issued at most once per month.

use rust_decimal::{Decimal, RoundingStrategy};

use commands::{BillMonth, InvoiceLineRequest, IssueInvoice};
use events::{
    AgreementEvent, Amount, InvoiceBilling, InvoiceKind, LineDescription, Money, MoneyError,
    Proration, Quantity, ServicePeriod, TariffApplied,
};

use crate::agreement::ParticipantAgreement;
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
        self.registered()?;
        if self.signing.is_none() {
            return not_billable("the agreement is not signed (§1.5)".to_owned());
        }
        match self.status() {
            Some(AgreementStatus::Blocked) => {
                // Decision (BILLING.md 4): a blocked participant is not billed for a month
                // it cannot use.
                return not_billable("blocked: not billed for a month it cannot use".to_owned());
            }
            Some(AgreementStatus::Terminated) => {
                return not_billable("terminated".to_owned());
            }
            _ => {}
        }
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
        let mut events = self.issue_invoice(
            IssueInvoice {
                kind: InvoiceKind::Subscription,
                issued_on: command.issued_on,
                lines: vec![line],
                period: Some(ServicePeriod {
                    from: start,
                    to: month.last_day(),
                }),
            },
            services,
        )?;
        for event in &mut events {
            if let AgreementEvent::InvoiceIssued(issued) = event {
                issued.billing = Some(InvoiceBilling {
                    month,
                    tariff: TariffApplied {
                        code: version.code.clone(),
                        version: version.version,
                        effective_from: version.effective_from,
                    },
                    proration: proration.clone(),
                    usage: Vec::new(),
                    usage_through: None,
                });
            }
        }
        Ok(events)
    }
}

#[cfg(test)]
mod tests;
