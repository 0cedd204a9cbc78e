//! What time does to an agreement (§4.2, §5.9, §10.2-§10.3): the rules the dunning sweep
//! applies as of a date, and the lifting a payment causes at once.
//!
//! All pure: the date is passed in. The state after each recorded event decides the
//! next, so a sweep never skips a step (suspension comes before a block) and running it
//! twice for the same date records nothing the second time.

use time::{Date, Duration, Month};

use events::{
    AgreementEvent, Blocked, ImposedBy, LateChargeKind, Money, PaymentReference, ReasonNote,
    Reinstated, RestrictionReason, Suspended, Terminated,
};

use crate::agreement::{InvoiceState, ParticipantAgreement, RestrictionKind};
use crate::{AgreementError, AgreementServices};

/// §4.2: access is suspended when an invoice is overdue for more than 15 calendar days,
/// i.e. from the 16th day after its due date.
pub const SUSPEND_AFTER_DAYS_OVERDUE: i64 = 15;
/// §4.2: the participant is blocked when an overdue invoice has not been paid in full for
/// more than 3 months after its due date (re-read on 2026-12-01: "при отсутствии оплаты"
/// is the absence of payment in full, so a partial payment no longer postpones it).
pub const BLOCK_AFTER_MONTHS: u8 = 3;

/// "3 months after" a date (DOMAIN.md): the same day of the month three months later, or
/// that month's last day when it is shorter (31 January -> 30 April in 2026).
pub fn months_after(date: Date, months: u8) -> Date {
    let month_index = u8::from(date.month()) - 1 + months;
    let year = date.year() + i32::from(month_index / 12);
    let month = Month::try_from(month_index % 12 + 1).expect("a month 1..=12");
    let last_day = month.length(year);
    Date::from_calendar_date(year, month, date.day().min(last_day)).expect("a valid date")
}

/// The reason a `Reinstated` records when the sweep or a payment lifts the operator's
/// suspension for overdue (§5.9): nothing is overdue at all any more.
pub const MANUAL_OVERDUE_LIFTED: &str =
    "nothing is overdue any more: the operator's suspension for overdue is lifted (§5.9)";

/// The first day a suspension for this invoice applies: the 16th day after its due date.
pub fn suspension_day(due_on: Date) -> Date {
    due_on + Duration::days(SUSPEND_AFTER_DAYS_OVERDUE + 1)
}

/// The first day a block for this invoice applies: the day after "3 months after" its
/// due date.
pub fn block_day(due_on: Date) -> Date {
    months_after(due_on, BLOCK_AFTER_MONTHS)
        .next_day()
        .expect("a date after")
}

impl InvoiceState {
    /// Overdue for more than 15 days as of `as_of` and not paid in full (§4.2).
    pub fn calls_for_suspension(&self, as_of: Date) -> bool {
        !self.is_paid() && as_of >= suspension_day(self.due_on)
    }

    /// Not paid in full for more than 3 months after its due date (§4.2, as re-read on
    /// 2026-12-01: partial payments do not postpone the block).
    pub fn calls_for_block(&self, as_of: Date) -> bool {
        !self.is_paid() && as_of >= block_day(self.due_on)
    }
}

/// What the sweep's attempt to charge a penalty or fine gave.
enum Charge {
    Charged(Vec<AgreementEvent>),
    /// Nothing accrued, or nothing more than was charged or waived.
    Nothing,
    /// A fine that cannot be priced yet (no MRP for its year): it stays pending.
    Pending,
}

fn note(text: &str) -> ReasonNote {
    ReasonNote::parse(text).expect("a fixed, valid reason")
}

impl ParticipantAgreement {
    /// Everything owed: principal, and penalties and fines charged (§10.3).
    pub fn debt(&self) -> Result<Money, AgreementError> {
        let currency = self.registered()?.currency;
        let mut debt = Money::zero(currency);
        for invoice in self.invoices.values() {
            debt = debt
                .checked_add(invoice.principal_outstanding())?
                .checked_add(invoice.penalty_outstanding())?
                .checked_add(invoice.fine_outstanding())?;
        }
        Ok(debt)
    }

    /// Whether access is restricted by `kind` for debt (the only restriction a payment or
    /// the sweep may lift, §4.2).
    pub(crate) fn restricted_for(&self, kind: RestrictionKind) -> bool {
        self.restriction
            .is_some_and(|r| r.kind == kind && r.reason == RestrictionReason::Overdue)
    }

    /// The sweep's step for this agreement as of `as_of`.
    pub(crate) fn sweep(
        &self,
        as_of: Date,
        charge_fines: bool,
        services: &AgreementServices,
    ) -> Result<Vec<AgreementEvent>, AgreementError> {
        self.registered()?;
        if self.signing.is_none() || self.termination.is_some_and(|t| t.terminated_on.is_some()) {
            return Ok(Vec::new());
        }
        self.check_document_date("the sweep date", as_of, services)?;
        let mut state = self.clone();
        let mut events = Vec::new();
        let mut record = |state: &mut ParticipantAgreement, new: Vec<AgreementEvent>| {
            for event in new {
                state.apply_event(event.clone());
                events.push(event);
            }
        };

        // §5.9: the fine, once per late invoice, when the operator's policy charges it.
        if charge_fines {
            let late: Vec<_> = state
                .invoices
                .values()
                .filter(|invoice| {
                    let (charged, _, _, waived) = invoice.late_charge(LateChargeKind::Fine);
                    charged.is_zero()
                        && waived.is_zero()
                        && crate::late_payment::delay(
                            invoice.due_on,
                            invoice.delay_ends_on(),
                            as_of,
                        )
                        .days
                            > 0
                })
                .map(|invoice| invoice.number)
                .collect();
            for number in late {
                match state.charge_accrued(number, LateChargeKind::Fine, as_of, services)? {
                    Charge::Charged(charged) => record(&mut state, charged),
                    // A fine that cannot be priced yet (no MRP for the year of its first
                    // day of delay) stays pending; the sweep goes on (BILLING.md 1).
                    Charge::Nothing | Charge::Pending => {}
                }
            }
        }

        // §10.3: on (or after) the termination's effective date, the penalties and fines
        // accrued and not yet charged are charged, whatever the fine policy: settlement
        // includes them. Each sweep while the termination is pending charges what has
        // accrued since (a penalty runs until the principal is paid in full, §5.5).
        let settling = state
            .termination
            .is_some_and(|t| t.terminated_on.is_none() && as_of >= t.effective_on);
        if settling {
            // A void invoice owes nothing and accrues nothing (BILLING.md 5.3): there is
            // nothing to settle on it (charging it is refused, which must not stop the
            // sweep nor the termination).
            let numbers: Vec<_> = state
                .invoices
                .values()
                .filter(|invoice| !invoice.is_void())
                .map(|invoice| invoice.number)
                .collect();
            for number in numbers {
                for kind in [LateChargeKind::Penalty, LateChargeKind::Fine] {
                    match state.charge_accrued(number, kind, as_of, services)? {
                        Charge::Charged(mut charged) => {
                            for event in &mut charged {
                                match event {
                                    AgreementEvent::PenaltyCharged(e) => e.settlement = true,
                                    AgreementEvent::FineCharged(e) => e.settlement = true,
                                    _ => {}
                                }
                            }
                            record(&mut state, charged);
                        }
                        // A pending fine neither stops the sweep nor keeps the
                        // agreement from terminating (BILLING.md 1; docs/domain.md).
                        Charge::Nothing | Charge::Pending => {}
                    }
                }
            }
        }

        let suspend = state
            .invoices
            .values()
            .any(|i| i.calls_for_suspension(as_of));
        let block = state.invoices.values().any(|i| i.calls_for_block(as_of));
        // §8.1: on a date inside a declared force majeure nothing is suspended or blocked
        // for debt. The overdue is not forgiven: a restriction already in force stays,
        // and the first sweep after the end acts on it (DOMAIN.md 2026-12-01 item 4).
        let force_majeure = state.force_majeure.iter().any(|p| p.covers(as_of));
        let (impose_suspension, impose_block) = if force_majeure {
            (false, false)
        } else {
            (suspend, block)
        };
        let debt = state.debt()?;
        let manual = state
            .restriction
            .is_some_and(|r| r.reason != RestrictionReason::Overdue);
        if !manual {
            // Escalation never skips a step: a suspension first, then the block.
            if (impose_suspension || impose_block) && state.restriction.is_none() {
                record(
                    &mut state,
                    vec![AgreementEvent::Suspended(Suspended {
                        on: as_of,
                        reason: RestrictionReason::Overdue,
                        imposed_by: Some(ImposedBy::Sweep),
                    })],
                );
            }
            if impose_block && !state.restricted_for(RestrictionKind::Blocked) {
                record(
                    &mut state,
                    vec![AgreementEvent::Blocked(Blocked {
                        on: as_of,
                        reason: RestrictionReason::Overdue,
                    })],
                );
            }
            let lifted = state.lifts(as_of, suspend, debt);
            record(&mut state, lifted);
        }

        // §10.2-§10.3: a pending termination takes effect once due and fully settled (no
        // debt). A fine still pending for want of its MRP does not hold it (BILLING.md 1).
        if let Some(termination) = state.termination {
            if termination.terminated_on.is_none()
                && as_of >= termination.effective_on
                && state.debt()?.is_zero()
            {
                record(
                    &mut state,
                    vec![AgreementEvent::Terminated(Terminated { on: as_of })],
                );
                // The termination ends the subscription (BILLING.md 2); its month is
                // billed whole (§5.10).
                if let Some(ended) = state.subscription_ended_by_termination(as_of) {
                    record(&mut state, vec![ended]);
                }
            }
        }
        Ok(events)
    }

    /// Whether any invoice is past its due date and not paid in full as of `on` (§5.9).
    pub fn anything_overdue(&self, on: Date) -> bool {
        self.invoices
            .values()
            .any(|invoice| !invoice.is_paid() && on > invoice.due_on)
    }

    /// Charges what has accrued on an invoice as of `as_of` and is not yet charged or
    /// waived (§5.9; on settlement, §10.3). Nothing to charge is not an error here; nor is
    /// a fine the MRP table cannot price yet: it stays pending and the sweep goes on.
    fn charge_accrued(
        &self,
        invoice_number: events::InvoiceNumber,
        kind: LateChargeKind,
        as_of: Date,
        services: &AgreementServices,
    ) -> Result<Charge, AgreementError> {
        let command = commands::AgreementCommand::ChargeLatePayment(commands::ChargeLatePayment {
            invoice_number,
            kind,
            on: as_of,
        });
        match self.decide(command, services) {
            Ok(events) => Ok(Charge::Charged(events)),
            Err(AgreementError::NotLate { .. } | AgreementError::NothingToCharge { .. }) => {
                Ok(Charge::Nothing)
            }
            // BILLING.md 1: a fine whose MRP (or, in USD, rate) is not published yet
            // waits alone.
            Err(AgreementError::MissingReferenceData(missing))
                if kind == LateChargeKind::Fine && missing.missing().is_some() =>
            {
                Ok(Charge::Pending)
            }
            Err(error) => Err(error),
        }
    }

    /// The lifting the facts call for as of `on`: a block for debt once nothing is owed,
    /// a suspension for overdue once nothing is overdue beyond 15 days (§4.2). A
    /// suspension for overdue the operator imposed by hand is lifted only once nothing is
    /// overdue at all (§5.9, since 2026-12-01): its cause is any delay, not the 16th day.
    fn lifts(&self, on: Date, still_overdue: bool, debt: Money) -> Vec<AgreementEvent> {
        if self.restricted_for(RestrictionKind::Blocked) && debt.is_zero() {
            return vec![AgreementEvent::Unblocked(events::Unblocked {
                on,
                reason: note("the debt is repaid (§4.2)"),
                lifted: RestrictionReason::Overdue,
                payment: None,
            })];
        }
        if self
            .restriction
            .is_some_and(|r| r.is_manual_overdue_suspension())
        {
            if self.anything_overdue(on) {
                return Vec::new();
            }
            return vec![AgreementEvent::Reinstated(Reinstated {
                on,
                reason: note(MANUAL_OVERDUE_LIFTED),
                lifted: RestrictionReason::Overdue,
                payment: None,
            })];
        }
        if self.restricted_for(RestrictionKind::Suspended) && !still_overdue {
            return vec![AgreementEvent::Reinstated(Reinstated {
                on,
                reason: note("nothing is overdue beyond 15 days (§4.2)"),
                lifted: RestrictionReason::Overdue,
                payment: None,
            })];
        }
        Vec::new()
    }

    /// What a payment lifts at once, given the state after it (§5.5, §4.2), recorded on
    /// `on` (the agreement's current business date) and naming the payment:
    /// - a restriction the sweep imposed for debt that the facts as known now would not
    ///   have called for on the day it was imposed (a payment recorded late, counted from
    ///   its `received_on`, BILLING.md 5.1). If what is overdue today still calls for a
    ///   suspension, one is imposed again at once, as the sweep would;
    /// - a block for debt once nothing is owed, a suspension for overdue once nothing is
    ///   overdue beyond 15 days (the operator's own, once nothing is overdue at all).
    pub(crate) fn lifts_after_payment(
        &self,
        payment: &PaymentReference,
        on: Date,
    ) -> Result<Vec<AgreementEvent>, AgreementError> {
        if self.signing.is_none() {
            return Ok(Vec::new());
        }
        let mut state = self.clone();
        let mut events = Vec::new();
        if let Some(restriction) = state.restriction {
            let by_sweep = restriction.reason == RestrictionReason::Overdue
                && restriction.imposed_by != Some(ImposedBy::Operator);
            let called_for = |invoice: &InvoiceState| match restriction.kind {
                RestrictionKind::Suspended => {
                    invoice.unpaid_on(restriction.since)
                        && restriction.since >= suspension_day(invoice.due_on)
                }
                RestrictionKind::Blocked => {
                    invoice.unpaid_on(restriction.since)
                        && restriction.since >= block_day(invoice.due_on)
                }
            };
            if by_sweep && !state.invoices.values().any(called_for) {
                let reason = note(PREVENTED_BY_PAYMENT);
                let lift = match restriction.kind {
                    RestrictionKind::Suspended => AgreementEvent::Reinstated(Reinstated {
                        on,
                        reason,
                        lifted: RestrictionReason::Overdue,
                        payment: Some(payment.clone()),
                    }),
                    RestrictionKind::Blocked => AgreementEvent::Unblocked(events::Unblocked {
                        on,
                        reason,
                        lifted: RestrictionReason::Overdue,
                        payment: Some(payment.clone()),
                    }),
                };
                state.apply_event(lift.clone());
                events.push(lift);
                // What is overdue today may still call for a suspension (another
                // invoice): imposed again at once, unless a force majeure covers today.
                let force_majeure = state.force_majeure.iter().any(|p| p.covers(on));
                if !force_majeure && state.invoices.values().any(|i| i.calls_for_suspension(on)) {
                    let suspended = AgreementEvent::Suspended(Suspended {
                        on,
                        reason: RestrictionReason::Overdue,
                        imposed_by: Some(ImposedBy::Sweep),
                    });
                    state.apply_event(suspended.clone());
                    events.push(suspended);
                }
                return Ok(events);
            }
        }
        let still_overdue = state.invoices.values().any(|i| i.calls_for_suspension(on));
        let mut lifts = state.lifts(on, still_overdue, state.debt()?);
        for lift in &mut lifts {
            match lift {
                AgreementEvent::Reinstated(e) => e.payment = Some(payment.clone()),
                AgreementEvent::Unblocked(e) => e.payment = Some(payment.clone()),
                _ => {}
            }
        }
        events.extend(lifts);
        Ok(events)
    }
}

/// The reason a lifting records when a payment recorded late would have prevented the
/// restriction (§5.5, BILLING.md 5.1).
pub const PREVENTED_BY_PAYMENT: &str = "a payment recorded late, counted from the day it was received, would have prevented this restriction (§5.5)";

#[cfg(test)]
mod tests;
