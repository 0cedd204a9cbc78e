//! Registering a participant and signing its agreement (§3.2, §10.1).

use commands::{Register, SignAgreement};
use events::{AgreementEvent, AgreementSigned, Currency, Registered};

use crate::agreement::ParticipantAgreement;
use crate::{AgreementError, AgreementServices};

impl ParticipantAgreement {
    pub(super) fn register(
        &self,
        command: Register,
        services: &AgreementServices,
    ) -> Result<Vec<AgreementEvent>, AgreementError> {
        if let Some(registration) = &self.registration {
            return Err(AgreementError::AlreadyRegistered {
                registered_on: registration.registered_on,
            });
        }
        if command.resident && command.currency != Currency::KZT {
            return Err(AgreementError::ForeignCurrencyForResident {
                currency: command.currency,
            });
        }
        if command.registered_on > services.today {
            return Err(AgreementError::InTheFuture {
                what: "the registration date",
                date: command.registered_on,
                today: services.today,
            });
        }
        Ok(vec![AgreementEvent::Registered(Registered {
            participant_id: command.participant_id,
            name: command.name,
            kind: command.kind,
            resident: command.resident,
            currency: command.currency,
            email: command.email,
            registered_on: command.registered_on,
        })])
    }

    /// §3.2 and §10.1: the agreement is concluded on the earlier of registration and
    /// signing and in force from the later, so a signature may predate registration.
    pub(super) fn sign(
        &self,
        command: SignAgreement,
        services: &AgreementServices,
    ) -> Result<Vec<AgreementEvent>, AgreementError> {
        let registration = self.registered()?;
        if let Some(signing) = &self.signing {
            return Err(AgreementError::AlreadySigned {
                signed_on: signing.signed_on,
            });
        }
        if command.signed_on > services.today {
            return Err(AgreementError::InTheFuture {
                what: "the signing date",
                date: command.signed_on,
                today: services.today,
            });
        }
        // A signature may precede the registration (§3.2), but not an entry recorded after
        // the registration (a payment, its reversal, a refund): histories stay in date
        // order, so any as-of view is a prefix of the events.
        // (Compared through the date it enters into force, §10.1: a signature before a
        // registration-day payment still takes effect from that day.)
        if let Some(latest) = self.latest_business_date {
            if command.signed_on.max(registration.registered_on) < latest {
                return Err(AgreementError::Backdated {
                    what: "the signing date",
                    date: command.signed_on,
                    latest,
                });
            }
        }
        let registered_on = registration.registered_on;
        Ok(vec![AgreementEvent::AgreementSigned(AgreementSigned {
            signed_on: command.signed_on,
            concluded_on: registered_on.min(command.signed_on),
            in_force_from: registered_on.max(command.signed_on),
        })])
    }
}

#[cfg(test)]
mod tests;
