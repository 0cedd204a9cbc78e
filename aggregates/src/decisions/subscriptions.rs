//! Subscriptions (BILLING.md 2, §4.1): a start, a change from the first day of a month,
//! an end on a month's last day; a termination ends the subscription.

use time::Date;

use commands::{EndSubscription, Subscribe};
use events::{
    AgreementEvent, CalendarMonth, SubscriptionChanged, SubscriptionEnded, SubscriptionStarted,
};

use crate::agreement::ParticipantAgreement;
use crate::{AgreementError, AgreementServices};

/// How far ahead a subscription may be started or changed.
pub const SUBSCRIPTION_DAYS_AHEAD_MAX: i64 = 366;

impl ParticipantAgreement {
    /// `POST /v1/agreements/{id}/subscription`: a start when the agreement has no
    /// subscription on `from` (201), otherwise a change of tariff from the first day of a
    /// month (200). The same tariff again records nothing.
    pub(super) fn subscribe(
        &self,
        command: Subscribe,
        services: &AgreementServices,
    ) -> Result<Vec<AgreementEvent>, AgreementError> {
        self.in_force("subscribed")?;
        let today = services.today;
        if !services.tariffs.knows(&command.tariff) {
            return Err(AgreementError::UnknownTariff {
                tariff: command.tariff.to_string(),
            });
        }
        if command.from > today + time::Duration::days(SUBSCRIPTION_DAYS_AHEAD_MAX) {
            return Err(AgreementError::SubscriptionTooFarAhead {
                from: command.from,
                today,
            });
        }
        let open = self
            .subscription
            .current()
            .filter(|span| span.last_day.is_none_or(|last| last >= command.from));
        let Some(open) = open else {
            return self.start_subscription(command, services);
        };
        // A change takes effect on the first day of a month (BILLING.md 2): the `from`
        // given when it is one and still ahead, else the first day of the month after.
        let mut from = if command.from.day() == 1 && command.from > today {
            command.from
        } else {
            CalendarMonth::of(command.from.max(today))
                .next()
                .first_day()
        };
        // Changed again before a change took effect: that change is replaced.
        if open.from > today {
            from = from.max(open.from);
        }
        if open.tariff == command.tariff && open.from <= from {
            return Ok(Vec::new());
        }
        if let Some(last_day) = open.last_day.filter(|last| *last < from) {
            return Err(AgreementError::SubscriptionEndsBeforeChange { last_day, from });
        }
        self.tariff_version_on(&command.tariff, from, services)?;
        let previous = open.tariff.clone();
        Ok(vec![AgreementEvent::SubscriptionChanged(
            SubscriptionChanged {
                tariff: command.tariff,
                previous,
                from,
                on: today,
            },
        )])
    }

    fn start_subscription(
        &self,
        command: Subscribe,
        services: &AgreementServices,
    ) -> Result<Vec<AgreementEvent>, AgreementError> {
        let in_force_from = self
            .signing
            .as_ref()
            .map(|s| s.in_force_from)
            .unwrap_or(command.from);
        if command.from < in_force_from {
            return Err(AgreementError::SubscriptionBeforeInForce {
                from: command.from,
                in_force_from,
            });
        }
        if let Some(closed_through) = services.closed_through {
            if command.from <= closed_through {
                return Err(AgreementError::PeriodClosed {
                    what: "the subscription's start",
                    date: command.from,
                    closed_through,
                });
            }
        }
        self.tariff_version_on(&command.tariff, command.from, services)?;
        Ok(vec![AgreementEvent::SubscriptionStarted(
            SubscriptionStarted {
                tariff: command.tariff,
                from: command.from,
                on: services.today,
            },
        )])
    }

    fn tariff_version_on(
        &self,
        tariff: &events::TariffCode,
        on: Date,
        services: &AgreementServices,
    ) -> Result<(), AgreementError> {
        match services.tariffs.in_force(tariff, on) {
            Some(_) => Ok(()),
            None => Err(AgreementError::NoTariffVersion {
                tariff: tariff.to_string(),
                on,
            }),
        }
    }

    /// `DELETE /v1/agreements/{id}/subscription`: the subscription ends on `on`, a month's
    /// last day, not before today (BILLING.md 2).
    pub(super) fn end_subscription(
        &self,
        command: EndSubscription,
        services: &AgreementServices,
    ) -> Result<Vec<AgreementEvent>, AgreementError> {
        self.in_force("unsubscribed")?;
        let on = command.on;
        let Some(current) = self
            .subscription
            .current()
            .filter(|span| span.last_day.is_none_or(|last| last >= services.today))
        else {
            return Err(AgreementError::NoSubscription);
        };
        if on != CalendarMonth::of(on).last_day() {
            return Err(AgreementError::SubscriptionEndNotMonthEnd { on });
        }
        if on < services.today {
            return Err(AgreementError::SubscriptionEndInThePast {
                on,
                today: services.today,
            });
        }
        if current.last_day == Some(on) {
            return Ok(Vec::new());
        }
        // The span the end falls in: the current one, or the one a pending change ends.
        let ended = self.subscription.on(on).unwrap_or(current);
        let first = self
            .subscription
            .spans
            .iter()
            .rev()
            .take_while(|span| span.last_day.is_none_or(|last| last >= services.today))
            .last()
            .unwrap_or(current);
        if on < first.from {
            return Err(AgreementError::SubscriptionEndBeforeStart {
                on,
                from: first.from,
            });
        }
        Ok(vec![AgreementEvent::SubscriptionEnded(SubscriptionEnded {
            tariff: ended.tariff.clone(),
            last_day: on,
            on: services.today,
            by_termination: false,
        })])
    }

    /// The subscription's end when the agreement is terminated on `on` (BILLING.md 2):
    /// `None` without an open subscription.
    pub(crate) fn subscription_ended_by_termination(&self, on: Date) -> Option<AgreementEvent> {
        let current = self
            .subscription
            .current()
            .filter(|span| span.last_day.is_none_or(|last| last >= on))?;
        let ended = self.subscription.on(on).unwrap_or(current);
        Some(AgreementEvent::SubscriptionEnded(SubscriptionEnded {
            tariff: ended.tariff.clone(),
            last_day: on,
            on,
            by_termination: true,
        }))
    }
}

#[cfg(test)]
mod tests;
