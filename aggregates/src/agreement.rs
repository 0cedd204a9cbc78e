//! The agreement's state, rebuilt from its events by `apply`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::Date;

use events::{
    AgreementEvent, Currency, EmailAddress, ImposedBy, InvoiceKind, InvoiceNumber, LateChargeKind,
    Money, ParticipantId, ParticipantKind, ParticipantName, PaymentAllocation, RestrictionReason,
    SettledPart, TerminationGround, UsdRate, VatApplied,
};

pub use crate::force_majeure::ForceMajeurePeriod;
use crate::late_payment::InvoiceDelayFacts;

/// The lifecycle state of an agreement, as DOMAIN.md's table names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgreementStatus {
    Registered,
    Active,
    Suspended,
    Blocked,
    TerminationPending,
    Terminated,
}

impl AgreementStatus {
    pub const ALL: [AgreementStatus; 6] = [
        Self::Registered,
        Self::Active,
        Self::Suspended,
        Self::Blocked,
        Self::TerminationPending,
        Self::Terminated,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::Registered => "registered",
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Blocked => "blocked",
            Self::TerminationPending => "termination_pending",
            Self::Terminated => "terminated",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Registration {
    pub participant_id: ParticipantId,
    pub name: ParticipantName,
    pub kind: ParticipantKind,
    pub resident: bool,
    pub currency: Currency,
    pub email: EmailAddress,
    pub registered_on: Date,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signing {
    pub signed_on: Date,
    /// The earlier of registration and signing (§3.2).
    pub concluded_on: Date,
    /// The later of registration and signing (§10.1).
    pub in_force_from: Date,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestrictionKind {
    Suspended,
    Blocked,
}

/// A suspension or block in force (§4.2). A block replaces a suspension: it restricts
/// access at least as much.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRestriction {
    pub kind: RestrictionKind,
    pub since: Date,
    pub reason: RestrictionReason,
    /// Who imposed a suspension, as its event records it (§5.9, since 2026-12-01); `None`
    /// for a block and for a suspension recorded before, which is read as the sweep's.
    pub imposed_by: Option<ImposedBy>,
}

impl AccessRestriction {
    /// A suspension for `overdue` the operator imposed by hand (§5.9): lifted only when
    /// nothing is overdue at all, or by hand.
    pub fn is_manual_overdue_suspension(&self) -> bool {
        self.kind == RestrictionKind::Suspended
            && self.reason == RestrictionReason::Overdue
            && self.imposed_by == Some(ImposedBy::Operator)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminationState {
    pub ground: TerminationGround,
    pub notice_received_on: Date,
    pub effective_on: Date,
    /// Set once the agreement has ended (§10.3).
    pub terminated_on: Option<Date>,
}

/// An invoice as the aggregate needs it to allocate payments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvoiceState {
    pub number: InvoiceNumber,
    pub kind: InvoiceKind,
    pub issued_on: Date,
    pub due_on: Date,
    pub total: Money,
    /// Net of VAT, and the VAT as issued (§5.11): a credit note credits at this rate.
    pub net: Money,
    pub vat: VatApplied,
    /// What its credit notes credited (BILLING.md 5.3): net, VAT and total.
    #[serde(default)]
    pub credited: Option<Credited>,
    /// The day it was voided (BILLING.md 5.3): it owes nothing from its issue.
    #[serde(default)]
    pub voided_on: Option<Date>,
    /// The money that settles it, by source (a payment, or the advance), so that a
    /// reversal takes back exactly what a payment still settles (BILLING.md 5.2).
    #[serde(default)]
    pub settlements: Vec<Settlement>,
    /// The invoice's National Bank rate, when in USD (§5.1).
    pub exchange_rate: Option<UsdRate>,
    /// The service period it covers, as extended by force majeure (§8.3).
    #[serde(default)]
    pub period: Option<events::ServicePeriod>,
    pub principal_paid: Money,
    /// The day the principal was paid in full (§5.5): penalty accrual stops there. It is
    /// the latest effective date of the money that settled it, whatever order that money
    /// was recorded in (a payment recorded late counts from its `received_on`).
    pub paid_in_full_on: Option<Date>,
    /// Every penalty and fine charged on it, with what of each is withdrawn (§5.5): what
    /// a payment recorded late withdraws, newest charge first.
    #[serde(default)]
    pub charges: Vec<ChargeRecord>,
    /// Penalties charged on this invoice by the operator (§5.9) and paid of them.
    pub penalty_charged: Money,
    pub penalty_paid: Money,
    /// Fines charged on this invoice (§5.9) and paid of them.
    pub fine_charged: Money,
    pub fine_paid: Money,
    /// Waived of what was charged (lowers the debt) and of what was not yet charged
    /// (lowers what may still be charged), per kind.
    pub penalty_waived_charged: Money,
    pub penalty_waived_uncharged: Money,
    pub fine_waived_charged: Money,
    pub fine_waived_uncharged: Money,
}

impl InvoiceState {
    /// What the invoice owes as its principal: its total less its credit notes (zero
    /// once voided). The penalty base, for every day (BILLING.md 5.3).
    pub fn owed_total(&self) -> Money {
        let zero = Money::zero(self.total.currency());
        if self.voided_on.is_some() {
            return zero;
        }
        match &self.credited {
            Some(credited) => self.total.checked_sub(credited.total).unwrap_or(zero),
            None => self.total,
        }
    }

    /// Principal still owed: `owed_total - principal_paid`, never negative.
    pub fn principal_outstanding(&self) -> Money {
        self.owed_total()
            .checked_sub(self.principal_paid)
            .ok()
            .filter(|m| !m.is_negative())
            .unwrap_or(Money::zero(self.total.currency()))
    }

    /// The net not yet credited: what one more credit note may credit at most.
    pub fn net_creditable(&self) -> Money {
        match &self.credited {
            Some(credited) => self
                .net
                .checked_sub(credited.net)
                .unwrap_or(Money::zero(self.net.currency())),
            None => self.net,
        }
    }

    /// The VAT not yet credited.
    pub fn vat_creditable(&self) -> Money {
        match &self.credited {
            Some(credited) => self
                .vat
                .amount
                .checked_sub(credited.vat)
                .unwrap_or(Money::zero(self.net.currency())),
            None => self.vat.amount,
        }
    }

    pub fn is_void(&self) -> bool {
        self.voided_on.is_some()
    }

    /// The day its delay ends for good (§5.5): the day it was paid in full, or its
    /// issue for a voided invoice (it never owed anything).
    pub fn delay_ends_on(&self) -> Option<Date> {
        if self.voided_on.is_some() {
            Some(self.issued_on)
        } else {
            self.paid_in_full_on
        }
    }

    /// Penalty charged and still owed: charged - paid - waived of the charged.
    pub fn penalty_outstanding(&self) -> Money {
        if self.voided_on.is_some() {
            return Money::zero(self.total.currency());
        }
        self.penalty_charged
            .checked_sub(self.penalty_paid)
            .and_then(|m| m.checked_sub(self.penalty_waived_charged))
            .unwrap_or(Money::zero(self.total.currency()))
    }

    /// Fine charged and still owed: charged - paid - waived of the charged.
    pub fn fine_outstanding(&self) -> Money {
        if self.voided_on.is_some() {
            return Money::zero(self.total.currency());
        }
        self.fine_charged
            .checked_sub(self.fine_paid)
            .and_then(|m| m.checked_sub(self.fine_waived_charged))
            .unwrap_or(Money::zero(self.total.currency()))
    }

    /// Of one kind: (charged, paid, waived of the charged, waived before charging).
    pub fn late_charge(&self, kind: LateChargeKind) -> (Money, Money, Money, Money) {
        match kind {
            LateChargeKind::Penalty => (
                self.penalty_charged,
                self.penalty_paid,
                self.penalty_waived_charged,
                self.penalty_waived_uncharged,
            ),
            LateChargeKind::Fine => (
                self.fine_charged,
                self.fine_paid,
                self.fine_waived_charged,
                self.fine_waived_uncharged,
            ),
        }
    }

    /// What the late-payment rules (§5.9) need to know about this invoice, with the
    /// agreement's force majeure periods (§8.1).
    pub fn delay_facts<'a>(
        &'a self,
        force_majeure: &'a [ForceMajeurePeriod],
    ) -> InvoiceDelayFacts<'a> {
        InvoiceDelayFacts {
            number: self.number,
            total: self.owed_total(),
            due_on: self.due_on,
            paid_in_full_on: self.delay_ends_on(),
            exchange_rate: self.exchange_rate.as_ref(),
            force_majeure,
        }
    }

    /// The day money received on `received_on` counts for this invoice (BILLING.md
    /// 5.1): money that arrived before the invoice was issued settles it as of its issue.
    pub fn settles_on(&self, received_on: Date) -> Date {
        received_on.max(self.issued_on)
    }

    /// Notes money settling `part` as of `on` from `source` (a payment's reference, or
    /// `None` for the advance); principal settled makes the invoice paid in full on the
    /// latest such date once nothing is outstanding.
    fn settle(&mut self, part: SettledPart, amount: Money, on: Date, source: Option<&str>) {
        if !amount.is_positive() {
            return;
        }
        let slot = self.paid_mut(part);
        *slot = add_or_keep(*slot, amount);
        self.settlements.push(Settlement {
            on,
            part,
            amount,
            payment: source.map(str::to_owned),
        });
        if part == SettledPart::Principal {
            self.note_paid_in_full();
        }
    }

    /// What has been paid of `part`.
    fn paid_mut(&mut self, part: SettledPart) -> &mut Money {
        match part {
            SettledPart::Principal => &mut self.principal_paid,
            SettledPart::Penalty => &mut self.penalty_paid,
            SettledPart::Fine => &mut self.fine_paid,
        }
    }

    /// The latest effective date of money still settling the principal: a payment's
    /// `received_on`, or the issue date when the money arrived before the invoice.
    pub fn principal_settled_on(&self) -> Option<Date> {
        self.settlements
            .iter()
            .filter(|s| s.part == SettledPart::Principal)
            .map(|s| s.on)
            .max()
    }

    /// Takes back `amount` of `part` from the settlements `from` selects, newest first
    /// (a reversal, a credit note's excess, a charge withdrawn). The invoice reopens when
    /// principal is taken back; when it is paid in full again it counts from the latest
    /// money still settling it.
    fn unsettle(&mut self, part: SettledPart, amount: Money, from: impl Fn(&Settlement) -> bool) {
        if !amount.is_positive() {
            return;
        }
        let slot = self.paid_mut(part);
        *slot = sub_or_keep(*slot, amount);
        // Latest effective date first, then latest recorded: the order the projections
        // take them back in too (they keep facts in effective-date order).
        let mut order: Vec<usize> = (0..self.settlements.len()).collect();
        order.sort_by_key(|&index| std::cmp::Reverse((self.settlements[index].on, index)));
        let mut left = amount;
        for index in order {
            if !left.is_positive() {
                break;
            }
            let settlement = &mut self.settlements[index];
            if settlement.part != part || !from(settlement) {
                continue;
            }
            let take = left.min(settlement.amount).unwrap_or(left);
            settlement.amount = sub_or_keep(settlement.amount, take);
            left = sub_or_keep(left, take);
        }
        self.settlements.retain(|s| s.amount.is_positive());
        if part == SettledPart::Principal {
            self.note_paid_in_full();
        }
    }

    /// Paid in full once nothing of what it owes is outstanding: on the latest day money
    /// settled it, or on its issue when nothing needed paying (all credited).
    fn note_paid_in_full(&mut self) {
        if self.is_paid() && self.voided_on.is_none() {
            self.paid_in_full_on = Some(self.principal_settled_on().unwrap_or(self.issued_on));
        } else {
            self.paid_in_full_on = None;
        }
    }

    /// What `payment` still settles of `part`.
    pub fn settled_by(&self, payment: &str, part: SettledPart) -> Money {
        let zero = Money::zero(self.total.currency());
        self.settlements
            .iter()
            .filter(|s| s.part == part && s.payment.as_deref() == Some(payment))
            .fold(zero, |sum, s| add_or_keep(sum, s.amount))
    }

    /// Not paid in full at the end of `on` (with every payment counted from its true
    /// date). A voided invoice never was unpaid.
    pub fn unpaid_on(&self, on: Date) -> bool {
        self.delay_ends_on().is_none_or(|paid| paid > on)
    }

    /// Of one kind, charged and not withdrawn.
    fn charged_mut(&mut self, kind: LateChargeKind) -> (&mut Money, &mut Money) {
        match kind {
            LateChargeKind::Penalty => (&mut self.penalty_charged, &mut self.penalty_paid),
            LateChargeKind::Fine => (&mut self.fine_charged, &mut self.fine_paid),
        }
    }

    pub fn is_paid(&self) -> bool {
        self.principal_outstanding().is_zero()
    }
}

/// What an invoice's credit notes credited (BILLING.md 5.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Credited {
    pub net: Money,
    pub vat: Money,
    pub total: Money,
}

/// Money settling a part of an invoice: from a payment (its reference), or from the
/// advance (`payment: None`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settlement {
    pub on: Date,
    pub part: SettledPart,
    pub amount: Money,
    pub payment: Option<String>,
}

/// One penalty or fine charged on an invoice (§5.9), and how much of it a payment
/// recorded late withdrew (§5.5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChargeRecord {
    pub kind: LateChargeKind,
    pub on: Date,
    pub amount: Money,
    pub withdrawn: Money,
}

impl ChargeRecord {
    /// Charged and not withdrawn.
    pub fn standing(&self) -> Money {
        self.amount
            .checked_sub(self.withdrawn)
            .unwrap_or(Money::zero(self.amount.currency()))
    }
}

/// A payment already recorded, kept so that a repeat of its reference can be answered
/// with the original allocation and recorded nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedPayment {
    pub received_on: Date,
    pub amount: Money,
    pub named_invoice: Option<InvoiceNumber>,
    pub allocations: Vec<PaymentAllocation>,
    pub advance: Money,
    /// The day the bank's return was recorded (BILLING.md 5.2): reversed once.
    #[serde(default)]
    pub reversed_on: Option<Date>,
}

/// A refund of advance already recorded (BILLING.md 5.2), kept so that a repeat of its
/// reference records nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedRefund {
    pub on: Date,
    pub amount: Money,
}

/// A participant's agreement with the operator: one per participant, identified by the
/// participant's BIN/IIN.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ParticipantAgreement {
    pub(crate) registration: Option<Registration>,
    pub(crate) signing: Option<Signing>,
    pub(crate) restriction: Option<AccessRestriction>,
    pub(crate) termination: Option<TerminationState>,
    pub(crate) invoices: BTreeMap<InvoiceNumber, InvoiceState>,
    pub(crate) payments: BTreeMap<String, RecordedPayment>,
    #[serde(default)]
    pub(crate) refunds: BTreeMap<String, RecordedRefund>,
    /// Money paid beyond what was owed, waiting to settle the next invoice.
    pub(crate) advance: Option<Money>,
    /// The latest business date of any recorded event: later entries may not precede it,
    /// except a payment (§5.5: it counts from the day the money arrived, whenever the
    /// bank statement reaches the ledger).
    pub(crate) latest_business_date: Option<Date>,
    /// How many events have been applied.
    pub(crate) events_applied: u64,
    /// Force majeure periods, oldest first; the last may be ongoing (§8).
    #[serde(default)]
    pub(crate) force_majeure: Vec<ForceMajeurePeriod>,
    /// The subscription by date and what the billing run invoiced (BILLING.md 2, 4).
    #[serde(default)]
    pub(crate) subscription: crate::subscription::SubscriptionState,
}

impl ParticipantAgreement {
    pub fn registration(&self) -> Option<&Registration> {
        self.registration.as_ref()
    }

    pub fn signing(&self) -> Option<&Signing> {
        self.signing.as_ref()
    }

    pub fn restriction(&self) -> Option<&AccessRestriction> {
        self.restriction.as_ref()
    }

    pub fn termination(&self) -> Option<&TerminationState> {
        self.termination.as_ref()
    }

    pub fn invoices(&self) -> impl Iterator<Item = &InvoiceState> {
        self.invoices.values()
    }

    pub fn invoice(&self, number: InvoiceNumber) -> Option<&InvoiceState> {
        self.invoices.get(&number)
    }

    pub fn payment(&self, reference: &str) -> Option<&RecordedPayment> {
        self.payments.get(reference)
    }

    pub fn currency(&self) -> Option<Currency> {
        self.registration.as_ref().map(|r| r.currency)
    }

    /// The advance held for the participant (zero when none).
    pub fn advance(&self) -> Option<Money> {
        self.advance
    }

    pub fn events_applied(&self) -> u64 {
        self.events_applied
    }

    /// The subscription by date and what the billing run invoiced (BILLING.md 2, 4).
    pub fn subscription(&self) -> &crate::subscription::SubscriptionState {
        &self.subscription
    }

    pub fn force_majeure(&self) -> &[ForceMajeurePeriod] {
        &self.force_majeure
    }

    /// The status by precedence: a terminated agreement is terminated whatever else is
    /// true; a block outranks a suspension; both outrank a pending termination, because
    /// what billing staff and the portal need first is whether access is restricted.
    pub fn status(&self) -> Option<AgreementStatus> {
        self.registration.as_ref()?;
        let status = match (&self.termination, &self.restriction, &self.signing) {
            (
                Some(TerminationState {
                    terminated_on: Some(_),
                    ..
                }),
                _,
                _,
            ) => AgreementStatus::Terminated,
            (
                _,
                Some(AccessRestriction {
                    kind: RestrictionKind::Blocked,
                    ..
                }),
                _,
            ) => AgreementStatus::Blocked,
            (
                _,
                Some(AccessRestriction {
                    kind: RestrictionKind::Suspended,
                    ..
                }),
                _,
            ) => AgreementStatus::Suspended,
            (Some(_), None, _) => AgreementStatus::TerminationPending,
            (None, None, Some(_)) => AgreementStatus::Active,
            (None, None, None) => AgreementStatus::Registered,
        };
        Some(status)
    }

    /// Applies one event. Events are facts already recorded: `apply` never refuses one.
    pub(crate) fn apply_event(&mut self, event: AgreementEvent) {
        let date = event.business_date();
        match event {
            AgreementEvent::Registered(e) => {
                self.advance = Some(Money::zero(e.currency));
                self.registration = Some(Registration {
                    participant_id: e.participant_id,
                    name: e.name,
                    kind: e.kind,
                    resident: e.resident,
                    currency: e.currency,
                    email: e.email,
                    registered_on: e.registered_on,
                });
            }
            AgreementEvent::AgreementSigned(e) => {
                self.signing = Some(Signing {
                    signed_on: e.signed_on,
                    concluded_on: e.concluded_on,
                    in_force_from: e.in_force_from,
                });
            }
            AgreementEvent::InvoiceIssued(e) => {
                if let Some(billing) = &e.billing {
                    self.subscription.invoiced(e.kind, e.number, billing);
                }
                let zero = Money::zero(e.currency);
                self.invoices.insert(
                    e.number,
                    InvoiceState {
                        number: e.number,
                        kind: e.kind,
                        issued_on: e.issued_on,
                        due_on: e.due_on,
                        total: e.total,
                        net: e.net,
                        vat: e.vat,
                        credited: None,
                        voided_on: None,
                        settlements: Vec::new(),
                        exchange_rate: e.exchange_rate,
                        period: e.period,
                        principal_paid: zero,
                        paid_in_full_on: None,
                        charges: Vec::new(),
                        penalty_charged: zero,
                        penalty_paid: zero,
                        fine_charged: zero,
                        fine_paid: zero,
                        penalty_waived_charged: zero,
                        penalty_waived_uncharged: zero,
                        fine_waived_charged: zero,
                        fine_waived_uncharged: zero,
                    },
                );
            }
            AgreementEvent::AdvanceApplied(e) => {
                if let Some(invoice) = self.invoices.get_mut(&e.invoice_number) {
                    invoice.settle(e.part, e.amount, e.on, None);
                }
                self.advance = Some(e.advance_remaining);
            }
            AgreementEvent::PaymentReceived(e) => {
                for allocation in &e.allocations {
                    if let Some(invoice) = self.invoices.get_mut(&allocation.invoice_number) {
                        let on = invoice.settles_on(e.received_on);
                        let source = Some(e.reference.as_str());
                        invoice.settle(SettledPart::Principal, allocation.principal, on, source);
                        invoice.settle(SettledPart::Penalty, allocation.penalty, on, source);
                        invoice.settle(SettledPart::Fine, allocation.fine, on, source);
                    }
                }
                self.advance = Some(match self.advance {
                    Some(advance) => add_or_keep(advance, e.advance),
                    None => e.advance,
                });
                self.payments.insert(
                    e.reference.as_str().to_owned(),
                    RecordedPayment {
                        received_on: e.received_on,
                        amount: e.amount,
                        named_invoice: e.named_invoice,
                        allocations: e.allocations,
                        advance: e.advance,
                        reversed_on: None,
                    },
                );
            }
            AgreementEvent::Suspended(e) => {
                self.restriction = Some(AccessRestriction {
                    kind: RestrictionKind::Suspended,
                    since: e.on,
                    reason: e.reason,
                    imposed_by: e.imposed_by,
                });
            }
            AgreementEvent::Blocked(e) => {
                self.restriction = Some(AccessRestriction {
                    kind: RestrictionKind::Blocked,
                    since: e.on,
                    reason: e.reason,
                    imposed_by: None,
                });
            }
            AgreementEvent::Reinstated(_) | AgreementEvent::Unblocked(_) => {
                self.restriction = None;
            }
            AgreementEvent::TerminationRequested(e) => {
                self.termination = Some(TerminationState {
                    ground: e.ground,
                    notice_received_on: e.notice_received_on,
                    effective_on: e.effective_on,
                    terminated_on: None,
                });
            }
            AgreementEvent::Terminated(e) => {
                if let Some(termination) = self.termination.as_mut() {
                    termination.terminated_on = Some(e.on);
                } else {
                    self.termination = Some(TerminationState {
                        ground: TerminationGround::Court,
                        notice_received_on: e.on,
                        effective_on: e.on,
                        terminated_on: Some(e.on),
                    });
                }
            }
            AgreementEvent::ForceMajeureDeclared(e) => {
                self.force_majeure.push(ForceMajeurePeriod {
                    started_on: e.started_on,
                    ended_on: None,
                });
            }
            AgreementEvent::ForceMajeureEnded(e) => {
                if let Some(period) = self.force_majeure.last_mut() {
                    period.ended_on = Some(e.ended_on);
                }
            }
            AgreementEvent::SubscriptionStarted(e) => self.subscription.started(&e),
            AgreementEvent::SubscriptionChanged(e) => self.subscription.changed(&e),
            AgreementEvent::SubscriptionEnded(e) => self.subscription.ended(&e),
            AgreementEvent::SubscriptionExtended(e) => {
                if let Some(period) = self
                    .invoices
                    .get_mut(&e.invoice_number)
                    .and_then(|invoice| invoice.period.as_mut())
                {
                    period.to = e.period_to;
                }
            }
            AgreementEvent::PenaltyCharged(e) => {
                if let Some(invoice) = self.invoices.get_mut(&e.invoice_number) {
                    invoice.penalty_charged = add_or_keep(invoice.penalty_charged, e.amount);
                    invoice.charges.push(ChargeRecord {
                        kind: LateChargeKind::Penalty,
                        on: e.on,
                        amount: e.amount,
                        withdrawn: Money::zero(e.amount.currency()),
                    });
                }
            }
            AgreementEvent::FineCharged(e) => {
                if let Some(invoice) = self.invoices.get_mut(&e.invoice_number) {
                    invoice.fine_charged = add_or_keep(invoice.fine_charged, e.amount);
                    invoice.charges.push(ChargeRecord {
                        kind: LateChargeKind::Fine,
                        on: e.on,
                        amount: e.amount,
                        withdrawn: Money::zero(e.amount.currency()),
                    });
                }
            }
            AgreementEvent::LateChargeWithdrawn(e) => {
                if let Some(invoice) = self.invoices.get_mut(&e.invoice_number) {
                    let (charged, _) = invoice.charged_mut(e.kind);
                    *charged = sub_or_keep(*charged, e.amount);
                    let part = match e.kind {
                        LateChargeKind::Penalty => SettledPart::Penalty,
                        LateChargeKind::Fine => SettledPart::Fine,
                    };
                    invoice.unsettle(part, e.moved_to_advance, |_| true);
                    if let Some(charge) = invoice.charges.iter_mut().rev().find(|c| {
                        c.kind == e.kind && c.on == e.charged_on && c.standing().is_positive()
                    }) {
                        charge.withdrawn = add_or_keep(charge.withdrawn, e.amount);
                    }
                }
                if let Some(advance) = self.advance {
                    self.advance = Some(add_or_keep(advance, e.moved_to_advance));
                }
            }
            AgreementEvent::PaymentReversed(e) => {
                let reference = e.reference.as_str();
                for taken in &e.taken_back {
                    if let Some(invoice) = self.invoices.get_mut(&taken.invoice_number) {
                        for (part, amount) in [
                            (SettledPart::Principal, taken.principal),
                            (SettledPart::Penalty, taken.penalty),
                            (SettledPart::Fine, taken.fine),
                        ] {
                            invoice.unsettle(part, amount, |s| {
                                s.payment.as_deref() == Some(reference)
                            });
                        }
                    }
                }
                for undone in &e.advance_undone {
                    if let Some(invoice) = self.invoices.get_mut(&undone.invoice_number) {
                        invoice.unsettle(undone.part, undone.amount, |s| s.payment.is_none());
                    }
                }
                if let Some(advance) = self.advance {
                    self.advance = Some(sub_or_keep(advance, e.advance_removed));
                }
                if let Some(payment) = self.payments.get_mut(reference) {
                    payment.reversed_on = Some(e.on);
                }
            }
            AgreementEvent::AdvanceRefunded(e) => {
                self.advance = Some(e.advance_remaining);
                self.refunds.insert(
                    e.reference.as_str().to_owned(),
                    RecordedRefund {
                        on: e.on,
                        amount: e.amount,
                    },
                );
            }
            AgreementEvent::InvoiceVoided(e) => {
                if let Some(invoice) = self.invoices.get_mut(&e.number) {
                    invoice.voided_on = Some(e.on);
                    invoice.paid_in_full_on = None;
                }
            }
            AgreementEvent::CreditNoteIssued(e) => {
                if let Some(invoice) = self.invoices.get_mut(&e.related_invoice) {
                    invoice.credited = Some(match invoice.credited.take() {
                        Some(credited) => Credited {
                            net: add_or_keep(credited.net, e.net),
                            vat: add_or_keep(credited.vat, e.vat.amount),
                            total: add_or_keep(credited.total, e.total),
                        },
                        None => Credited {
                            net: e.net,
                            vat: e.vat.amount,
                            total: e.total,
                        },
                    });
                    // What it credits beyond what was outstanding was paid: it leaves
                    // the invoice (newest money first) for the advance.
                    invoice.unsettle(SettledPart::Principal, e.to_advance, |_| true);
                    invoice.note_paid_in_full();
                }
                if let Some(advance) = self.advance {
                    self.advance = Some(add_or_keep(advance, e.to_advance));
                }
            }
            AgreementEvent::LateChargeWaived(e) => {
                if let Some(invoice) = self.invoices.get_mut(&e.invoice_number) {
                    let (charged, uncharged) = match e.kind {
                        LateChargeKind::Penalty => (
                            &mut invoice.penalty_waived_charged,
                            &mut invoice.penalty_waived_uncharged,
                        ),
                        LateChargeKind::Fine => (
                            &mut invoice.fine_waived_charged,
                            &mut invoice.fine_waived_uncharged,
                        ),
                    };
                    *charged = add_or_keep(*charged, e.charged_part);
                    *uncharged = add_or_keep(*uncharged, e.uncharged_part);
                }
            }
        }
        // Signing may legitimately precede registration (§3.2), so the latest business
        // date only ever moves forward.
        self.latest_business_date = Some(match self.latest_business_date {
            Some(latest) if latest > date => latest,
            _ => date,
        });
        self.events_applied += 1;
    }
}

/// Adds two amounts recorded in events. They were checked when the events were made, so
/// a failure here means a corrupted history: it is flagged in debug builds and the
/// running total is kept rather than invented.
fn add_or_keep(total: Money, amount: Money) -> Money {
    match total.checked_add(amount) {
        Ok(sum) => sum,
        Err(error) => {
            debug_assert!(false, "recorded amounts do not add up: {error}");
            total
        }
    }
}

/// Subtracts an amount recorded in an event from a running total (see [`add_or_keep`]).
fn sub_or_keep(total: Money, amount: Money) -> Money {
    match total.checked_sub(amount) {
        Ok(difference) => difference,
        Err(error) => {
            debug_assert!(false, "recorded amounts do not add up: {error}");
            total
        }
    }
}

impl cqrs_es::Aggregate for ParticipantAgreement {
    const TYPE: &'static str = "ParticipantAgreement";
    type Command = commands::AgreementCommand;
    type Event = AgreementEvent;
    type Error = crate::AgreementError;
    type Services = crate::AgreementServices;

    async fn handle(
        &mut self,
        command: Self::Command,
        services: &Self::Services,
        sink: &cqrs_es::event_sink::EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command, services)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        self.apply_event(event);
    }
}
