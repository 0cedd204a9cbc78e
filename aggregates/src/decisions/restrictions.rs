//! Restricting access by hand and lifting it (§4.2, §5.9): suspend, reinstate, block,
//! unblock. The sweep's restrictions and the lifting a payment causes are the dunning
//! rules' (`crate::dunning`).

use commands::{LiftRestriction, RestrictAccess};
use events::{AgreementEvent, Blocked, ImposedBy, Reinstated, Suspended, Unblocked};

use crate::agreement::{ParticipantAgreement, RestrictionKind};
use crate::{AgreementError, AgreementServices};

impl ParticipantAgreement {
    pub(super) fn suspend(
        &self,
        command: RestrictAccess,
        services: &AgreementServices,
    ) -> Result<Vec<AgreementEvent>, AgreementError> {
        self.in_force("suspended")?;
        self.check_date("the suspension date", command.on, services)?;
        if let Some(restriction) = &self.restriction {
            return Err(match restriction.kind {
                RestrictionKind::Suspended => AgreementError::AlreadySuspended {
                    since: restriction.since,
                    reason: restriction.reason,
                },
                RestrictionKind::Blocked => AgreementError::AlreadyBlocked {
                    since: restriction.since,
                    reason: restriction.reason,
                },
            });
        }
        // By hand for any reason; for `overdue` also before the 16th day (§5.9), and then
        // neither the sweep nor a payment lifts it while anything is overdue.
        Ok(vec![AgreementEvent::Suspended(Suspended {
            on: command.on,
            reason: command.reason,
            imposed_by: Some(ImposedBy::Operator),
        })])
    }

    pub(super) fn reinstate(
        &self,
        command: LiftRestriction,
        services: &AgreementServices,
    ) -> Result<Vec<AgreementEvent>, AgreementError> {
        self.registered()?;
        let restriction = match &self.restriction {
            Some(restriction) if restriction.kind == RestrictionKind::Suspended => *restriction,
            _ => return Err(AgreementError::NotSuspended),
        };
        self.check_date("the reinstatement date", command.on, services)?;
        Ok(vec![AgreementEvent::Reinstated(Reinstated {
            on: command.on,
            reason: command.reason,
            lifted: restriction.reason,
            payment: None,
        })])
    }

    pub(super) fn block(
        &self,
        command: RestrictAccess,
        services: &AgreementServices,
    ) -> Result<Vec<AgreementEvent>, AgreementError> {
        self.in_force("blocked")?;
        self.check_date("the block date", command.on, services)?;
        if let Some(restriction) = &self.restriction {
            if restriction.kind == RestrictionKind::Blocked {
                return Err(AgreementError::AlreadyBlocked {
                    since: restriction.since,
                    reason: restriction.reason,
                });
            }
        }
        Ok(vec![AgreementEvent::Blocked(Blocked {
            on: command.on,
            reason: command.reason,
        })])
    }

    pub(super) fn unblock(
        &self,
        command: LiftRestriction,
        services: &AgreementServices,
    ) -> Result<Vec<AgreementEvent>, AgreementError> {
        self.registered()?;
        let restriction = match &self.restriction {
            Some(restriction) if restriction.kind == RestrictionKind::Blocked => *restriction,
            _ => return Err(AgreementError::NotBlocked),
        };
        self.check_date("the unblock date", command.on, services)?;
        Ok(vec![AgreementEvent::Unblocked(Unblocked {
            on: command.on,
            reason: command.reason,
            lifted: restriction.reason,
            payment: None,
        })])
    }
}

#[cfg(test)]
mod tests;
