//! Deciding: a command and the current state in, events or a refusal out.

use rust_decimal::Decimal;
use time::{Date, Duration};

use commands::{
    AgreementCommand, ChargeLatePayment, DeclareForceMajeure, EndForceMajeure, IssueInvoice,
    LiftRestriction, ReceivePayment, Register, RequestTermination, RestrictAccess, SignAgreement,
    WaiveLatePayment, INVOICE_LINES_MAX,
};
use events::{
    AdvanceApplied, AgreementEvent, AgreementSigned, Blocked, Currency, DayKind, DueRule,
    FineCharged, ForceMajeureDeclared, ForceMajeureEnded, ImposedBy, InvoiceIssued, InvoiceKind,
    InvoiceLine, InvoiceNumber, LateChargeKind, LateChargeWaived, Money, PaymentAllocation,
    PaymentReceived, PenaltyCharged, Registered, Reinstated, SettledPart, SubscriptionExtended,
    Suspended, TerminationGround, TerminationRequested, Unblocked, UsdRate, VatApplied,
};

use crate::agreement::{InvoiceState, ParticipantAgreement, Registration, RestrictionKind};
use crate::{AgreementError, AgreementServices};

/// §5.4: a subscription invoice is due 5 banking days after its issue date.
pub const SUBSCRIPTION_DUE_BANKING_DAYS: u32 = 5;
/// §5.8: an invoice for services on credit is due 3 working days after its issue date.
pub const CREDIT_DUE_WORKING_DAYS: u32 = 3;
/// §10.2.2: a participant's notice takes effect 15 calendar days after it is received.
pub const NOTICE_PERIOD_DAYS: i64 = 15;
/// §8.2: force majeure is notified within 5 calendar days of its start.
pub const FORCE_MAJEURE_NOTICE_DAYS: i64 = 5;
/// §8.4: after more than 90 consecutive days of force majeure either party may terminate.
pub const FORCE_MAJEURE_DAYS_FOR_TERMINATION: i64 = 90;
/// §8.4: mutual settlement no later than 5 working days before the termination date.
pub const FORCE_MAJEURE_SETTLEMENT_WORKING_DAYS: u32 = 5;

impl ParticipantAgreement {
    /// Decides what a command records. Pure: the same state, command and services always
    /// give the same answer.
    pub fn decide(
        &self,
        command: AgreementCommand,
        services: &AgreementServices,
    ) -> Result<Vec<AgreementEvent>, AgreementError> {
        match command {
            AgreementCommand::Register(command) => self.register(command, services),
            AgreementCommand::Sign(command) => self.sign(command, services),
            AgreementCommand::IssueInvoice(command) => self.issue_invoice(command, services),
            AgreementCommand::ReceivePayment(command) => self.receive_payment(command, services),
            AgreementCommand::Suspend(command) => self.suspend(command, services),
            AgreementCommand::Reinstate(command) => self.reinstate(command, services),
            AgreementCommand::Block(command) => self.block(command, services),
            AgreementCommand::Unblock(command) => self.unblock(command, services),
            AgreementCommand::RequestTermination(command) => {
                self.request_termination(command, services)
            }
            AgreementCommand::ChargeLatePayment(command) => {
                self.charge_late_payment(command, services)
            }
            AgreementCommand::WaiveLatePayment(command) => {
                self.waive_late_payment(command, services)
            }
            AgreementCommand::Sweep(command) => {
                self.sweep(command.as_of, command.charge_fines, services)
            }
            AgreementCommand::DeclareForceMajeure(command) => {
                self.declare_force_majeure(command, services)
            }
            AgreementCommand::EndForceMajeure(command) => self.end_force_majeure(command, services),
        }
    }

    pub(crate) fn registered(&self) -> Result<&Registration, AgreementError> {
        self.registration
            .as_ref()
            .ok_or(AgreementError::NotRegistered)
    }

    /// The agreement must be signed and not terminated for `action`.
    fn in_force(&self, action: &'static str) -> Result<(), AgreementError> {
        self.registered()?;
        if self.signing.is_none() {
            return Err(AgreementError::NotSigned { action });
        }
        if let Some(terminated_on) = self.termination.and_then(|t| t.terminated_on) {
            return Err(AgreementError::AlreadyTerminated {
                terminated_on,
                action,
            });
        }
        Ok(())
    }

    /// A business date of a new entry: not before registration, not before the latest
    /// recorded entry (the ledger keeps each agreement's history in date order, so that
    /// any `as_of` view is exact), and not in the future.
    pub(crate) fn check_date(
        &self,
        what: &'static str,
        date: Date,
        services: &AgreementServices,
    ) -> Result<(), AgreementError> {
        self.check_date_bounds(what, date, services)?;
        if let Some(latest) = self.latest_business_date {
            if date < latest {
                return Err(AgreementError::Backdated { what, date, latest });
            }
        }
        Ok(())
    }

    /// The part of [`Self::check_date`] that does not depend on the order of entries:
    /// not in the future, not before registration.
    fn check_date_bounds(
        &self,
        what: &'static str,
        date: Date,
        services: &AgreementServices,
    ) -> Result<(), AgreementError> {
        let registration = self.registered()?;
        if date > services.today {
            return Err(AgreementError::InTheFuture {
                what,
                date,
                today: services.today,
            });
        }
        if date < registration.registered_on {
            return Err(AgreementError::BeforeRegistration {
                what,
                date,
                registered_on: registration.registered_on,
            });
        }
        Ok(())
    }

    fn register(
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
    fn sign(
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
        // the registration (a payment): histories stay in date order, so any as-of view
        // is a prefix of the events.
        // (Compared through the date it enters into force, §10.1: a signature before a
        // registration-day payment still takes effect from that day.)
        if let Some(latest) = self.payments.values().map(|p| p.received_on).max() {
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

    fn issue_invoice(
        &self,
        command: IssueInvoice,
        services: &AgreementServices,
    ) -> Result<Vec<AgreementEvent>, AgreementError> {
        self.in_force("invoiced")?;
        let currency = self.registered()?.currency;
        let issued_on = command.issued_on;
        // The specific rule first: an invoice dated before the agreement is in force
        // names §10.1 rather than the generic ordering of business dates.
        self.check_date_bounds("the issue date", issued_on, services)?;
        if let Some(signing) = &self.signing {
            if issued_on < signing.in_force_from {
                return Err(AgreementError::InvoiceBeforeInForce {
                    issued_on,
                    in_force_from: signing.in_force_from,
                });
            }
        }
        self.check_date("the issue date", issued_on, services)?;
        // §10.3: no invoice for a day after the termination's effective date.
        if let Some(termination) = &self.termination {
            if issued_on > termination.effective_on {
                return Err(AgreementError::InvoiceAfterTermination {
                    issued_on,
                    effective_on: termination.effective_on,
                });
            }
        }
        if command.lines.is_empty() {
            return Err(AgreementError::NoInvoiceLines);
        }
        if command.lines.len() > INVOICE_LINES_MAX {
            return Err(AgreementError::TooManyInvoiceLines {
                max: INVOICE_LINES_MAX,
                given: command.lines.len(),
            });
        }
        if let Some(period) = command.period {
            if period.to < period.from {
                return Err(AgreementError::PeriodReversed {
                    from: period.from,
                    to: period.to,
                });
            }
        }
        let reference = &services.reference;

        // §5.1: a USD invoice records the National Bank rate of its date, or is refused.
        let exchange_rate = match currency {
            Currency::KZT => None,
            Currency::USD => {
                let rate = reference.exchange_rates.usd_kzt_on(issued_on)?;
                Some(UsdRate {
                    kzt_per_usd: rate.kzt_per_unit,
                    date: rate.date,
                    table_version: reference
                        .exchange_rates
                        .version_for(rate.date)
                        .unwrap_or_default()
                        .to_owned(),
                })
            }
        };

        // Each line rounded once, then VAT once over the net (§5.11, DOMAIN.md).
        let mut lines = Vec::with_capacity(command.lines.len());
        let mut net = Money::zero(currency);
        for line in command.lines {
            let unit_price = line.unit_price.in_currency(currency);
            let amount = unit_price.checked_mul(line.quantity.value())?;
            net = net.checked_add(amount)?;
            lines.push(InvoiceLine {
                description: line.description,
                quantity: line.quantity,
                unit_price,
                amount,
            });
        }
        let vat_rate = reference.vat.rate_on(issued_on)?;
        let vat_amount = net.checked_mul(vat_rate.rate)?;
        let total = net.checked_add(vat_amount)?;
        if total.is_zero() {
            return Err(AgreementError::ZeroInvoice);
        }

        let (days, day_kind) = match command.kind {
            InvoiceKind::Subscription => (SUBSCRIPTION_DUE_BANKING_DAYS, DayKind::Banking),
            InvoiceKind::Credit | InvoiceKind::Usage => (CREDIT_DUE_WORKING_DAYS, DayKind::Working),
        };
        let due_on = reference.calendar.add_working_days(issued_on, days)?;
        let number = services
            .next_invoice_number
            .ok_or(AgreementError::NoInvoiceNumberReserved)?;

        let issued = InvoiceIssued {
            number,
            kind: command.kind,
            issued_on,
            due_on,
            due_rule: DueRule {
                days,
                day_kind,
                clause: command.kind.due_clause().as_str().to_owned(),
                calendar_version: reference.calendar.versions_between(issued_on, due_on),
            },
            period: command.period,
            lines,
            net,
            vat: VatApplied {
                rate: vat_rate.rate,
                rate_effective_from: vat_rate.effective_from,
                amount: vat_amount,
                table_version: reference
                    .vat
                    .version_for(vat_rate.effective_from)
                    .unwrap_or_default()
                    .to_owned(),
            },
            total,
            currency,
            exchange_rate,
        };
        assert_invoice_adds_up(&issued);
        let mut events = vec![AgreementEvent::InvoiceIssued(issued)];

        // An advance settles the next invoice on its issue (DOMAIN.md, allocation).
        let advance = self.advance.unwrap_or(Money::zero(currency));
        if advance.is_positive() {
            let applied = advance.min(total)?;
            events.push(AgreementEvent::AdvanceApplied(AdvanceApplied {
                invoice_number: number,
                amount: applied,
                part: SettledPart::Principal,
                on: issued_on,
                advance_remaining: advance.checked_sub(applied)?,
            }));
        }
        Ok(events)
    }

    /// §5.5 and Civil Code art. 282: money is allocated the day it arrives, to the named
    /// invoice first, otherwise the oldest open first, principal before penalties and
    /// fines; the rest is kept as an advance. A repeated reference records nothing.
    fn receive_payment(
        &self,
        command: ReceivePayment,
        services: &AgreementServices,
    ) -> Result<Vec<AgreementEvent>, AgreementError> {
        let currency = self.registered()?.currency;
        if let Some(given) = command.currency {
            if given != currency {
                return Err(AgreementError::PaymentCurrency {
                    given,
                    agreement: currency,
                });
            }
        }
        let amount = command.amount.in_currency(currency);
        if let Some(recorded) = self.payments.get(command.reference.as_str()) {
            let same = recorded.amount == amount
                && recorded.received_on == command.received_on
                && recorded.named_invoice == command.invoice_number;
            return if same {
                Ok(Vec::new())
            } else {
                Err(AgreementError::PaymentReferenceReused {
                    reference: command.reference.as_str().to_owned(),
                })
            };
        }
        if amount.is_zero() {
            return Err(AgreementError::ZeroPayment);
        }
        self.check_date("the payment date", command.received_on, services)?;
        if let Some(number) = command.invoice_number {
            if !self.invoices.contains_key(&number) {
                return Err(AgreementError::UnknownInvoice(number));
            }
        }

        let (allocations, advance) = allocate(amount, command.invoice_number, &self.invoices)?;
        // The advance held is a running total: it must stay an amount the ledger can
        // hold, checked here where the payment can still be refused (applying the event
        // cannot refuse it). Found by schemathesis: two payments of the largest amount.
        if let Some(held) = self.advance {
            held.checked_add(advance)?;
        }
        let received_on = command.received_on;
        let payment = AgreementEvent::PaymentReceived(PaymentReceived {
            reference: command.reference,
            received_on,
            amount,
            named_invoice: command.invoice_number,
            allocations,
            advance,
        });
        // A payment that clears the debt of a block, or the overdue of a suspension, for
        // debt lifts it at once: access returns the day the money arrives (§5.5, §4.2).
        // Only a restriction for debt can be lifted, and a payment never imposes one: with
        // none in force there is nothing to look at (and no copy of the agreement to make).
        let lift_possible = self.restricted_for(RestrictionKind::Blocked)
            || self.restricted_for(RestrictionKind::Suspended);
        let mut events = vec![payment];
        if lift_possible {
            let mut after = self.clone();
            after.apply_event(events[0].clone());
            events.extend(after.lifts_after_payment(received_on)?);
        }
        Ok(events)
    }

    /// §5.9: the operator charges what has accrued on an invoice as of `on`, less what
    /// was charged or waived before: the penalty up to 5% of the total, the fine of
    /// 2 MRP once. An advance held settles the charge at once (allocation, DOMAIN.md).
    fn charge_late_payment(
        &self,
        command: ChargeLatePayment,
        services: &AgreementServices,
    ) -> Result<Vec<AgreementEvent>, AgreementError> {
        self.in_force("charged")?;
        let invoice = self
            .invoices
            .get(&command.invoice_number)
            .ok_or(AgreementError::UnknownInvoice(command.invoice_number))?;
        self.check_date("the charge date", command.on, services)?;
        let facts = invoice.delay_facts(&self.force_majeure);
        let (charged, _paid, _waived_charged, waived_uncharged) = invoice.late_charge(command.kind);
        let (accrued, event) = match command.kind {
            LateChargeKind::Penalty => {
                let accrual = crate::late_payment::penalty(&facts, command.on)?;
                let accrued = accrual.amount;
                let amount = accrued
                    .checked_sub(charged)?
                    .checked_sub(waived_uncharged)?;
                (
                    accrued,
                    amount.is_positive().then_some({
                        AgreementEvent::PenaltyCharged(PenaltyCharged {
                            invoice_number: command.invoice_number,
                            on: command.on,
                            amount,
                            accrual,
                            settlement: false,
                        })
                    }),
                )
            }
            // §5.9: the fine is charged once per late invoice, at the MRP version its
            // charge names; a table published later never reprices it (BILLING.md 1).
            LateChargeKind::Fine if charged.is_positive() => (charged, None),
            LateChargeKind::Fine => {
                let assessment =
                    crate::late_payment::fine(&facts, command.on, &services.reference)?;
                let accrued = assessment.amount;
                let amount = accrued
                    .checked_sub(charged)?
                    .checked_sub(waived_uncharged)?;
                (
                    accrued,
                    amount.is_positive().then_some({
                        AgreementEvent::FineCharged(FineCharged {
                            invoice_number: command.invoice_number,
                            on: command.on,
                            amount,
                            assessment,
                            settlement: false,
                        })
                    }),
                )
            }
        };
        let late = crate::late_payment::delay(invoice.due_on, invoice.paid_in_full_on, command.on)
            .days
            > 0;
        if !late {
            return Err(AgreementError::NotLate {
                invoice_number: command.invoice_number,
                kind: command.kind,
                on: command.on,
                due_on: invoice.due_on,
            });
        }
        let Some(event) = event else {
            return Err(AgreementError::NothingToCharge {
                invoice_number: command.invoice_number,
                kind: command.kind,
                on: command.on,
                accrued,
                charged,
                waived: waived_uncharged,
            });
        };
        let amount = match &event {
            AgreementEvent::PenaltyCharged(e) => e.amount,
            AgreementEvent::FineCharged(e) => e.amount,
            _ => unreachable!("a charge event"),
        };
        let mut events = vec![event];
        let advance = self.advance.unwrap_or(Money::zero(amount.currency()));
        if advance.is_positive() {
            let applied = advance.min(amount)?;
            events.push(AgreementEvent::AdvanceApplied(AdvanceApplied {
                invoice_number: command.invoice_number,
                amount: applied,
                part: match command.kind {
                    LateChargeKind::Penalty => SettledPart::Penalty,
                    LateChargeKind::Fine => SettledPart::Fine,
                },
                on: command.on,
                advance_remaining: advance.checked_sub(applied)?,
            }));
        }
        Ok(events)
    }

    /// §5.9 says the operator *may* charge: it may also waive part or all of a penalty or
    /// fine, with a reason. What was charged and is unpaid is waived first; the rest
    /// lowers what may still be charged. Never more than accrued, less paid and waived.
    fn waive_late_payment(
        &self,
        command: WaiveLatePayment,
        services: &AgreementServices,
    ) -> Result<Vec<AgreementEvent>, AgreementError> {
        let currency = self.registered()?.currency;
        self.in_force("waived")?;
        let on = command.on.unwrap_or(services.today);
        let invoice = self
            .invoices
            .get(&command.invoice_number)
            .ok_or(AgreementError::UnknownInvoice(command.invoice_number))?;
        self.check_date("the waiver date", on, services)?;
        let amount = command.amount.in_currency(currency);
        if amount.is_zero() {
            return Err(AgreementError::ZeroWaiver);
        }
        let facts = invoice.delay_facts(&self.force_majeure);
        let (charged, paid, waived_charged, waived_uncharged) = invoice.late_charge(command.kind);
        let accrued = match command.kind {
            LateChargeKind::Penalty => crate::late_payment::penalty(&facts, on)?.amount,
            // A fine once charged is what its charge recorded (never repriced).
            LateChargeKind::Fine if charged.is_positive() => charged,
            LateChargeKind::Fine => {
                crate::late_payment::fine(&facts, on, &services.reference)?.amount
            }
        };
        // The charged part still owed, and what may still be charged.
        let charged_open = charged.checked_sub(paid)?.checked_sub(waived_charged)?;
        let chargeable = accrued
            .checked_sub(charged)?
            .checked_sub(waived_uncharged)?;
        let chargeable = if chargeable.is_negative() {
            Money::zero(currency)
        } else {
            chargeable
        };
        let waivable = charged_open.checked_add(chargeable)?;
        if amount.amount() > waivable.amount() {
            return Err(AgreementError::WaiverTooLarge {
                invoice_number: command.invoice_number,
                kind: command.kind,
                on,
                requested: amount,
                waivable,
            });
        }
        let charged_part = amount.min(charged_open)?;
        let uncharged_part = amount.checked_sub(charged_part)?;
        Ok(vec![AgreementEvent::LateChargeWaived(LateChargeWaived {
            invoice_number: command.invoice_number,
            kind: command.kind,
            on,
            amount,
            charged_part,
            uncharged_part,
            reason: command.reason,
        })])
    }

    fn suspend(
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

    fn reinstate(
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
        })])
    }

    fn block(
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

    fn unblock(
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
        })])
    }

    /// §10.2: participant notice ends the agreement 15 calendar days after the notice is
    /// received (or later, on a date the participant names); by mutual agreement or a
    /// court, on the date named (by default the notice date). It takes effect only once
    /// everything is settled (§10.3).
    fn request_termination(
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

    /// §8.2: force majeure is notified within 5 calendar days of its start.
    fn declare_force_majeure(
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
    fn end_force_majeure(
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

/// Allocates `amount` over the open invoices: the named one first, then the oldest
/// (by issue date, then number) first; all principal before any penalty, all penalties
/// before any fine. Returns the allocations in the order they were made and the advance.
fn allocate(
    amount: Money,
    named: Option<InvoiceNumber>,
    invoices: &std::collections::BTreeMap<InvoiceNumber, InvoiceState>,
) -> Result<(Vec<PaymentAllocation>, Money), AgreementError> {
    let currency = amount.currency();
    let zero = Money::zero(currency);
    let mut order: Vec<&InvoiceState> = invoices.values().collect();
    order.sort_by_key(|invoice| {
        (
            Some(invoice.number) != named,
            invoice.issued_on,
            invoice.number,
        )
    });

    let mut allocations: Vec<PaymentAllocation> = Vec::new();
    let mut remaining = amount;
    type Owed = fn(&InvoiceState) -> Money;
    type Slot = fn(&mut PaymentAllocation) -> &mut Money;
    let passes: [(Owed, Slot); 3] = [
        (InvoiceState::principal_outstanding, |a| &mut a.principal),
        (InvoiceState::penalty_outstanding, |a| &mut a.penalty),
        (InvoiceState::fine_outstanding, |a| &mut a.fine),
    ];
    for (owed, slot) in passes {
        for invoice in &order {
            if !remaining.is_positive() {
                break;
            }
            let take = remaining.min(owed(invoice))?;
            if !take.is_positive() {
                continue;
            }
            remaining = remaining.checked_sub(take)?;
            let index = match allocations
                .iter()
                .position(|a| a.invoice_number == invoice.number)
            {
                Some(index) => index,
                None => {
                    allocations.push(PaymentAllocation {
                        invoice_number: invoice.number,
                        principal: zero,
                        penalty: zero,
                        fine: zero,
                    });
                    allocations.len() - 1
                }
            };
            let target = slot(&mut allocations[index]);
            *target = target.checked_add(take)?;
        }
    }

    // Invariant: every tiyn of the payment is accounted for, exactly once.
    let mut accounted = remaining;
    for allocation in &allocations {
        accounted = accounted
            .checked_add(allocation.principal)?
            .checked_add(allocation.penalty)?
            .checked_add(allocation.fine)?;
    }
    assert_eq!(
        accounted, amount,
        "a payment's allocations must add up to its amount"
    );
    Ok((allocations, remaining))
}

/// Invariant: an invoice's lines add up to its net and its net plus VAT to its total.
fn assert_invoice_adds_up(invoice: &InvoiceIssued) {
    let lines: Decimal = invoice.lines.iter().map(|line| line.amount.amount()).sum();
    assert_eq!(
        lines,
        invoice.net.amount(),
        "invoice lines must add up to the net"
    );
    assert_eq!(
        invoice.net.amount() + invoice.vat.amount.amount(),
        invoice.total.amount(),
        "net plus VAT must equal the total"
    );
}
