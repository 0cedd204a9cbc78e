//! Declaring force majeure and ending it (§8.2, §8.3). What it exempts from (§8.1) is
//! counted by `crate::late_payment` and `crate::dunning`; termination for it (§8.4) is
//! the termination decision's.

use time::Duration;

use commands::{DeclareForceMajeure, EndForceMajeure};
use events::{
    AgreementEvent, ForceMajeureDeclared, ForceMajeureEnded, InvoiceKind, SubscriptionExtended,
};

use crate::agreement::ParticipantAgreement;
use crate::{AgreementError, AgreementServices};

/// §8.2: force majeure is notified within 5 calendar days of its start.
pub const FORCE_MAJEURE_NOTICE_DAYS: i64 = 5;

impl ParticipantAgreement {
    /// §8.2: force majeure is notified within 5 calendar days of its start.
    pub(super) fn declare_force_majeure(
        &self,
        command: DeclareForceMajeure,
        services: &AgreementServices,
    ) -> Result<Vec<AgreementEvent>, AgreementError> {
        self.in_force("declared under force majeure")?;
        if let Some(ongoing) = self.force_majeure.last().filter(|p| p.ended_on.is_none()) {
            return Err(AgreementError::ForceMajeureInProgress {
                started_on: ongoing.started_on,
            });
        }
        let notice = command.notice_received_on;
        self.check_date("the force majeure notice date", notice, services)?;
        if command.started_on > notice {
            return Err(AgreementError::ForceMajeureStartsAfterNotice {
                started_on: command.started_on,
                notice_received_on: notice,
            });
        }
        let deadline = command.started_on + Duration::days(FORCE_MAJEURE_NOTICE_DAYS);
        if notice > deadline {
            return Err(AgreementError::ForceMajeureNoticeLate {
                started_on: command.started_on,
                notice_received_on: notice,
                deadline,
            });
        }
        Ok(vec![AgreementEvent::ForceMajeureDeclared(
            ForceMajeureDeclared {
                started_on: command.started_on,
                notice_received_on: notice,
                description: command.description,
            },
        )])
    }

    /// §8.3: when force majeure ends, each subscription period it overlapped is extended
    /// by its duration (start and end included).
    pub(super) fn end_force_majeure(
        &self,
        command: EndForceMajeure,
        services: &AgreementServices,
    ) -> Result<Vec<AgreementEvent>, AgreementError> {
        self.registered()?;
        let ongoing = self
            .force_majeure
            .last()
            .filter(|p| p.ended_on.is_none())
            .ok_or(AgreementError::NoForceMajeure)?;
        let ended_on = command.ended_on;
        if ended_on < ongoing.started_on {
            return Err(AgreementError::ForceMajeureEndsBeforeStart {
                started_on: ongoing.started_on,
                ended_on,
            });
        }
        self.check_date("the end of force majeure", ended_on, services)?;
        let days = (ended_on - ongoing.started_on).whole_days() + 1;
        let days_u32 = u32::try_from(days).unwrap_or(u32::MAX);
        let mut events = vec![AgreementEvent::ForceMajeureEnded(ForceMajeureEnded {
            started_on: ongoing.started_on,
            ended_on,
            days: days_u32,
        })];
        for invoice in self.invoices.values() {
            let Some(period) = invoice.period else {
                continue;
            };
            let overlaps = period.from <= ended_on && period.to >= ongoing.started_on;
            if invoice.kind == InvoiceKind::Subscription && overlaps {
                events.push(AgreementEvent::SubscriptionExtended(SubscriptionExtended {
                    invoice_number: invoice.number,
                    on: ended_on,
                    days: days_u32,
                    period_to_before: period.to,
                    period_to: period.to + Duration::days(days),
                }));
            }
        }
        Ok(events)
    }
}

#[cfg(test)]
mod tests;
