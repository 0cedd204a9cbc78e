//! What the agreement knows of its subscription (BILLING.md 2) and of what the billing
//! run invoiced (BILLING.md 4): the tariff by date, and each month and kind billed.

use serde::{Deserialize, Serialize};
use time::Date;

use events::{
    CalendarMonth, InvoiceBilling, InvoiceKind, InvoiceNumber, MetricName, SubscriptionChanged,
    SubscriptionEnded, SubscriptionStarted, TariffApplied, TariffCode,
};

/// One tariff of the subscription over a run of days: from `from` through `last_day`
/// (open while `None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionSpan {
    pub tariff: TariffCode,
    pub from: Date,
    pub last_day: Option<Date>,
    /// Ended by the agreement's termination: its last month is billed whole (§5.10).
    pub by_termination: bool,
}

impl SubscriptionSpan {
    pub fn covers(&self, day: Date) -> bool {
        self.from <= day && self.last_day.is_none_or(|last| day <= last)
    }

    /// Whether it covers any day of `month`.
    pub fn overlaps(&self, month: CalendarMonth) -> bool {
        self.from <= month.last_day() && self.last_day.is_none_or(|last| last >= month.first_day())
    }
}

/// An invoice the billing run issued: at most one per month and kind (BILLING.md 4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BilledMonth {
    pub month: CalendarMonth,
    pub kind: InvoiceKind,
    pub number: InvoiceNumber,
    pub tariff: TariffApplied,
}

/// What usage invoices billed of one metric used in one month (BILLING.md 3): a record
/// reported late is billed on a later invoice, beyond what was billed already.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageAccount {
    pub month: CalendarMonth,
    pub metric: MetricName,
    /// The month's usage billed so far (its records counted by usage invoices).
    pub quantity: u64,
    /// Units billed beyond what is included.
    pub billed: u64,
}

/// The subscription and billing part of the agreement's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionState {
    /// Oldest first; a change's span follows the one it ends.
    pub spans: Vec<SubscriptionSpan>,
    pub billed: Vec<BilledMonth>,
    pub usage: Vec<UsageAccount>,
    /// The usage store's position through which the last usage invoice counted records.
    pub usage_through: Option<u64>,
}

impl SubscriptionState {
    pub(crate) fn started(&mut self, e: &SubscriptionStarted) {
        self.spans.push(SubscriptionSpan {
            tariff: e.tariff.clone(),
            from: e.from,
            last_day: None,
            by_termination: false,
        });
    }

    pub(crate) fn changed(&mut self, e: &SubscriptionChanged) {
        match self.spans.last_mut() {
            // A change not yet in effect, changed again from the same day.
            Some(pending) if pending.from >= e.from => pending.tariff = e.tariff.clone(),
            Some(current) => {
                current.last_day = e.from.previous_day();
                self.spans.push(SubscriptionSpan {
                    tariff: e.tariff.clone(),
                    from: e.from,
                    last_day: None,
                    by_termination: false,
                });
            }
            None => self.spans.push(SubscriptionSpan {
                tariff: e.tariff.clone(),
                from: e.from,
                last_day: None,
                by_termination: false,
            }),
        }
    }

    pub(crate) fn ended(&mut self, e: &SubscriptionEnded) {
        // A change that would have begun after the end never does.
        while self.spans.len() > 1 && self.spans.last().is_some_and(|s| s.from > e.last_day) {
            self.spans.pop();
        }
        if let Some(last) = self.spans.last_mut() {
            last.last_day = Some(e.last_day);
            last.by_termination = e.by_termination;
        }
    }

    pub(crate) fn invoiced(
        &mut self,
        kind: InvoiceKind,
        number: InvoiceNumber,
        billing: &InvoiceBilling,
    ) {
        self.billed.push(BilledMonth {
            month: billing.month,
            kind,
            number,
            tariff: billing.tariff.clone(),
        });
        for line in &billing.usage {
            match self
                .usage
                .iter_mut()
                .find(|a| a.month == line.month && a.metric == line.metric)
            {
                Some(account) => {
                    account.quantity = line.quantity;
                    account.billed = account.billed.saturating_add(line.billed);
                }
                None => self.usage.push(UsageAccount {
                    month: line.month,
                    metric: line.metric.clone(),
                    quantity: line.quantity,
                    billed: line.billed,
                }),
            }
        }
        if billing.usage_through.is_some() {
            self.usage_through = billing.usage_through;
        }
    }

    /// The span in effect now or from later (an open or future one).
    pub fn current(&self) -> Option<&SubscriptionSpan> {
        self.spans.last()
    }

    /// The span covering `day`.
    pub fn on(&self, day: Date) -> Option<&SubscriptionSpan> {
        self.spans.iter().find(|s| s.covers(day))
    }

    /// The invoice the billing run issued for `month` and `kind`, if any.
    pub fn billed(&self, month: CalendarMonth, kind: InvoiceKind) -> Option<&BilledMonth> {
        self.billed
            .iter()
            .find(|b| b.month == month && b.kind == kind)
    }

    /// What the usage invoices counted so far (BILLING.md 3): the latest one's month and
    /// position.
    pub fn counted_usage(&self) -> Option<crate::usage::CountedUsage> {
        let month = self
            .billed
            .iter()
            .filter(|b| b.kind == InvoiceKind::Usage)
            .map(|b| b.month)
            .max()?;
        Some(crate::usage::CountedUsage {
            month,
            through: self.usage_through.unwrap_or(0),
        })
    }

    pub fn usage_account(
        &self,
        month: CalendarMonth,
        metric: &MetricName,
    ) -> Option<&UsageAccount> {
        self.usage
            .iter()
            .find(|a| a.month == month && &a.metric == metric)
    }
}
