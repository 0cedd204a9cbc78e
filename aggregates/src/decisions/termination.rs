//! Requesting termination (§10.2; for force majeure, §8.4). It takes effect once
//! everything is settled (§10.3): the sweep's step, in `crate::dunning`.

use time::Duration;

use commands::RequestTermination;
use events::{AgreementEvent, TerminationGround, TerminationRequested};

use crate::agreement::ParticipantAgreement;
use crate::{AgreementError, AgreementServices};

/// §10.2.2: a participant's notice takes effect 15 calendar days after it is received.
pub const NOTICE_PERIOD_DAYS: i64 = 15;
/// §8.4: after more than 90 consecutive days of force majeure either party may terminate.
pub const FORCE_MAJEURE_DAYS_FOR_TERMINATION: i64 = 90;
/// §8.4: mutual settlement no later than 5 working days before the termination date.
pub const FORCE_MAJEURE_SETTLEMENT_WORKING_DAYS: u32 = 5;

impl ParticipantAgreement {
    /// §10.2: participant notice ends the agreement 15 calendar days after the notice is
    /// received (or later, on a date the participant names); by mutual agreement or a
    /// court, on the date named (by default the notice date). It takes effect only once
    /// everything is settled (§10.3).
    pub(super) fn request_termination(
        &self,
        command: RequestTermination,
        services: &AgreementServices,
    ) -> Result<Vec<AgreementEvent>, AgreementError> {
        self.in_force("terminated")?;
        if let Some(termination) = &self.termination {
            return Err(AgreementError::TerminationPending {
                effective_on: termination.effective_on,
            });
        }
        let notice = command.notice_received_on;
        self.check_date("the notice date", notice, services)?;
        let effective_on = match command.ground {
            TerminationGround::ParticipantNotice => {
                let earliest = notice + Duration::days(NOTICE_PERIOD_DAYS);
                match command.effective_on {
                    Some(named) if named < earliest => {
                        return Err(AgreementError::TerminationTooEarly {
                            notice_received_on: notice,
                            earliest,
                        })
                    }
                    Some(named) => named,
                    None => earliest,
                }
            }
            TerminationGround::Mutual | TerminationGround::Court => match command.effective_on {
                Some(named) if named < notice => {
                    return Err(AgreementError::EffectiveBeforeNotice {
                        effective_on: named,
                        notice_received_on: notice,
                    })
                }
                Some(named) => named,
                None => notice,
            },
            TerminationGround::ForceMajeure => {
                // §8.4: more than 90 consecutive days of force majeure by the notice.
                let long = self
                    .force_majeure
                    .iter()
                    .any(|period| period.days_as_of(notice) > FORCE_MAJEURE_DAYS_FOR_TERMINATION);
                if !long {
                    return Err(AgreementError::NoLongForceMajeure);
                }
                match command.effective_on {
                    Some(named) if named < notice => {
                        return Err(AgreementError::EffectiveBeforeNotice {
                            effective_on: named,
                            notice_received_on: notice,
                        })
                    }
                    Some(named) => named,
                    None => return Err(AgreementError::EffectiveDateRequired),
                }
            }
        };
        let settlement_due_on = match command.ground {
            TerminationGround::ForceMajeure => Some(
                services
                    .reference
                    .calendar
                    .working_days_before(effective_on, FORCE_MAJEURE_SETTLEMENT_WORKING_DAYS)?,
            ),
            _ => None,
        };
        Ok(vec![AgreementEvent::TerminationRequested(
            TerminationRequested {
                ground: command.ground,
                notice_received_on: notice,
                effective_on,
                settlement_due_on,
            },
        )])
    }
}

#[cfg(test)]
mod tests;
