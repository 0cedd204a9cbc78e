//! The events of a participant's agreement: past-tense facts, the only source of truth.
//!
//! These are a persisted contract. A field may be added with a default; an event is never
//! renamed and a field never changes meaning: a new shape gets a new [`EVENT_VERSION`]
//! and an upcaster for the old one.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::Date;

use crate::{
    business_date, CalendarMonth, Clause, Currency, EmailAddress, FineCharged, ImposedBy,
    InvoiceKind, InvoiceNumber, LateChargeKind, LateChargeWaived, LineDescription, MetricName,
    Money, ParticipantId, ParticipantKind, ParticipantName, PaymentReference, PenaltyCharged,
    Quantity, ReasonNote, RestrictionReason, TariffCode,
};

/// The version every event is written with today.
pub const EVENT_VERSION: &str = "1.0";

/// Everything that can happen to a participant's agreement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AgreementEvent {
    Registered(Registered),
    AgreementSigned(AgreementSigned),
    InvoiceIssued(InvoiceIssued),
    AdvanceApplied(AdvanceApplied),
    PaymentReceived(PaymentReceived),
    Suspended(Suspended),
    Reinstated(Reinstated),
    Blocked(Blocked),
    Unblocked(Unblocked),
    TerminationRequested(TerminationRequested),
    Terminated(Terminated),
    PenaltyCharged(PenaltyCharged),
    FineCharged(FineCharged),
    LateChargeWaived(LateChargeWaived),
    LateChargeWithdrawn(LateChargeWithdrawn),
    ForceMajeureDeclared(ForceMajeureDeclared),
    ForceMajeureEnded(ForceMajeureEnded),
    SubscriptionExtended(SubscriptionExtended),
    PaymentReversed(PaymentReversed),
    AdvanceRefunded(AdvanceRefunded),
    InvoiceVoided(InvoiceVoided),
    CreditNoteIssued(CreditNoteIssued),
    SubscriptionStarted(SubscriptionStarted),
    SubscriptionChanged(SubscriptionChanged),
    SubscriptionEnded(SubscriptionEnded),
}

/// Every agreement event's type name ([`AgreementEvent::type_name`]): what a webhook
/// endpoint may subscribe to. A new event type is added here too.
pub const AGREEMENT_EVENT_TYPES: &[&str] = &[
    "Registered",
    "AgreementSigned",
    "InvoiceIssued",
    "AdvanceApplied",
    "PaymentReceived",
    "Suspended",
    "Reinstated",
    "Blocked",
    "Unblocked",
    "TerminationRequested",
    "Terminated",
    "PenaltyCharged",
    "FineCharged",
    "LateChargeWaived",
    "LateChargeWithdrawn",
    "ForceMajeureDeclared",
    "ForceMajeureEnded",
    "SubscriptionExtended",
    "PaymentReversed",
    "AdvanceRefunded",
    "InvoiceVoided",
    "CreditNoteIssued",
    "SubscriptionStarted",
    "SubscriptionChanged",
    "SubscriptionEnded",
];

impl AgreementEvent {
    /// The event's type name, as stored beside it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Registered(_) => "Registered",
            Self::AgreementSigned(_) => "AgreementSigned",
            Self::InvoiceIssued(_) => "InvoiceIssued",
            Self::AdvanceApplied(_) => "AdvanceApplied",
            Self::PaymentReceived(_) => "PaymentReceived",
            Self::Suspended(_) => "Suspended",
            Self::Reinstated(_) => "Reinstated",
            Self::Blocked(_) => "Blocked",
            Self::Unblocked(_) => "Unblocked",
            Self::TerminationRequested(_) => "TerminationRequested",
            Self::Terminated(_) => "Terminated",
            Self::PenaltyCharged(_) => "PenaltyCharged",
            Self::FineCharged(_) => "FineCharged",
            Self::LateChargeWaived(_) => "LateChargeWaived",
            Self::LateChargeWithdrawn(_) => "LateChargeWithdrawn",
            Self::ForceMajeureDeclared(_) => "ForceMajeureDeclared",
            Self::ForceMajeureEnded(_) => "ForceMajeureEnded",
            Self::SubscriptionExtended(_) => "SubscriptionExtended",
            Self::PaymentReversed(_) => "PaymentReversed",
            Self::AdvanceRefunded(_) => "AdvanceRefunded",
            Self::InvoiceVoided(_) => "InvoiceVoided",
            Self::CreditNoteIssued(_) => "CreditNoteIssued",
            Self::SubscriptionStarted(_) => "SubscriptionStarted",
            Self::SubscriptionChanged(_) => "SubscriptionChanged",
            Self::SubscriptionEnded(_) => "SubscriptionEnded",
        }
    }

    /// The clause of the offer this event applies; recorded in its metadata.
    pub fn clause(&self) -> Clause {
        match self {
            Self::Registered(_) => Clause::CONCLUSION,
            Self::AgreementSigned(_) => Clause::ACCEPTANCE,
            Self::InvoiceIssued(event) => event.kind.due_clause(),
            Self::AdvanceApplied(_) | Self::PaymentReceived(_) => Clause::PAYMENT_MOMENT,
            Self::LateChargeWithdrawn(event) if event.credit_note.is_some() => Clause::CORRECTION,
            Self::LateChargeWithdrawn(_) => Clause::PAYMENT_MOMENT,
            Self::PaymentReversed(_) => Clause::REVERSAL,
            Self::AdvanceRefunded(_) => Clause::REFUND,
            Self::InvoiceVoided(_) | Self::CreditNoteIssued(_) => Clause::CORRECTION,
            Self::SubscriptionStarted(_)
            | Self::SubscriptionChanged(_)
            | Self::SubscriptionEnded(_) => Clause::SUBSCRIPTION,
            Self::Suspended(event) => event.reason.clause(),
            Self::Blocked(event) => event.reason.clause(),
            Self::Reinstated(_) | Self::Unblocked(_) => Clause::RESTRICTION,
            Self::TerminationRequested(event) => event.ground.clause(),
            Self::Terminated(_) => Clause::SETTLEMENT,
            Self::PenaltyCharged(event) if event.settlement => Clause::SETTLEMENT,
            Self::FineCharged(event) if event.settlement => Clause::SETTLEMENT,
            Self::PenaltyCharged(_) | Self::FineCharged(_) | Self::LateChargeWaived(_) => {
                Clause::LATE_PAYMENT
            }
            Self::ForceMajeureDeclared(_) => Clause::FORCE_MAJEURE_NOTICE,
            Self::ForceMajeureEnded(_) | Self::SubscriptionExtended(_) => {
                Clause::FORCE_MAJEURE_TERM
            }
        }
    }

    /// The business date the event is about (a date in Kazakhstan): what `as_of` queries
    /// compare with.
    pub fn business_date(&self) -> Date {
        match self {
            Self::Registered(event) => event.registered_on,
            Self::AgreementSigned(event) => event.signed_on,
            Self::InvoiceIssued(event) => event.issued_on,
            Self::AdvanceApplied(event) => event.on,
            Self::PaymentReceived(event) => event.received_on,
            Self::Suspended(event) => event.on,
            Self::Reinstated(event) => event.on,
            Self::Blocked(event) => event.on,
            Self::Unblocked(event) => event.on,
            Self::TerminationRequested(event) => event.notice_received_on,
            Self::Terminated(event) => event.on,
            Self::PenaltyCharged(event) => event.on,
            Self::FineCharged(event) => event.on,
            Self::LateChargeWaived(event) => event.on,
            // A payment's: effective as of the charge it withdraws (as known now, it was
            // never owed). A credit note's: on the credit note's day, when the invoice's
            // base changed (BILLING.md 5.3).
            Self::LateChargeWithdrawn(event) if event.credit_note.is_some() => event.on,
            Self::LateChargeWithdrawn(event) => event.charged_on,
            Self::ForceMajeureDeclared(event) => event.notice_received_on,
            Self::ForceMajeureEnded(event) => event.ended_on,
            Self::SubscriptionExtended(event) => event.on,
            Self::PaymentReversed(event) => event.on,
            Self::AdvanceRefunded(event) => event.on,
            Self::InvoiceVoided(event) => event.on,
            Self::CreditNoteIssued(event) => event.issued_on,
            Self::SubscriptionStarted(event) => event.on,
            Self::SubscriptionChanged(event) => event.on,
            Self::SubscriptionEnded(event) => event.on,
        }
    }
}

impl AgreementEvent {
    /// For a document (what a statement, a journal or a month's totals show: invoices,
    /// credit notes, voids, payments, reversals, refunds, advances applied, charges,
    /// waivers, withdrawals), the day it is posted on: its business date, or for a
    /// payment or withdrawal effective in a closed month the first open day (BILLING.md
    /// 5.4). `None` for what is not a document.
    pub fn posted_on(&self) -> Option<Date> {
        match self {
            Self::PaymentReceived(event) => Some(event.posted_on.unwrap_or(event.received_on)),
            Self::LateChargeWithdrawn(event) => {
                Some(event.posted_on.unwrap_or(self.business_date()))
            }
            Self::InvoiceIssued(_)
            | Self::AdvanceApplied(_)
            | Self::PenaltyCharged(_)
            | Self::FineCharged(_)
            | Self::LateChargeWaived(_)
            | Self::PaymentReversed(_)
            | Self::AdvanceRefunded(_)
            | Self::InvoiceVoided(_)
            | Self::CreditNoteIssued(_) => Some(self.business_date()),
            Self::Registered(_)
            | Self::AgreementSigned(_)
            | Self::Suspended(_)
            | Self::Reinstated(_)
            | Self::Blocked(_)
            | Self::Unblocked(_)
            | Self::TerminationRequested(_)
            | Self::Terminated(_)
            | Self::ForceMajeureDeclared(_)
            | Self::ForceMajeureEnded(_)
            | Self::SubscriptionExtended(_)
            | Self::SubscriptionStarted(_)
            | Self::SubscriptionChanged(_)
            | Self::SubscriptionEnded(_) => None,
        }
    }
}

impl cqrs_es::DomainEvent for AgreementEvent {
    fn event_type(&self) -> String {
        self.type_name().to_owned()
    }

    fn event_version(&self) -> String {
        EVENT_VERSION.to_owned()
    }
}

/// The participant registered on the portal (§1.13).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Registered {
    pub participant_id: ParticipantId,
    pub name: ParticipantName,
    pub kind: ParticipantKind,
    pub resident: bool,
    pub currency: Currency,
    pub email: EmailAddress,
    #[serde(with = "business_date")]
    pub registered_on: Date,
}

/// The participant signed the agreement (§1.5). It is concluded on the earlier of
/// registration and signing (§3.2) and in force from the later (§10.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgreementSigned {
    #[serde(with = "business_date")]
    pub signed_on: Date,
    #[serde(with = "business_date")]
    pub concluded_on: Date,
    #[serde(with = "business_date")]
    pub in_force_from: Date,
}

/// Whether a payment term counts banking days or working days. In Kazakhstan both are
/// the same set of days (DOMAIN.md); the distinction is kept because the offer makes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    Banking,
    Working,
}

/// How an invoice's due date was computed: so many banking or working days after the
/// issue date, by a clause, with a version of the calendar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DueRule {
    pub days: u32,
    pub day_kind: DayKind,
    pub clause: String,
    pub calendar_version: String,
}

/// One line of an invoice: `amount = round(quantity x unit_price, 2)`, half away from zero.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvoiceLine {
    pub description: LineDescription,
    pub quantity: Quantity,
    pub unit_price: Money,
    pub amount: Money,
}

/// The VAT added to an invoice (§5.11): the rate in force on the issue date, applied once
/// to the net amount and rounded once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VatApplied {
    /// The rate as a fraction: `0.16` is 16%.
    #[serde(with = "rust_decimal::serde::str")]
    pub rate: Decimal,
    #[serde(with = "business_date")]
    pub rate_effective_from: Date,
    pub amount: Money,
    pub table_version: String,
}

/// The National Bank USD/KZT rate an invoice in USD was issued at (§5.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsdRate {
    #[serde(with = "rust_decimal::serde::str")]
    pub kzt_per_usd: Decimal,
    #[serde(with = "business_date")]
    pub date: Date,
    pub table_version: String,
}

/// The service period an invoice covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServicePeriod {
    #[serde(with = "business_date")]
    pub from: Date,
    #[serde(with = "business_date")]
    pub to: Date,
}

/// The operator issued an invoice. `total = net + vat`, `net` = the sum of the lines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvoiceIssued {
    pub number: InvoiceNumber,
    pub kind: InvoiceKind,
    #[serde(with = "business_date")]
    pub issued_on: Date,
    #[serde(with = "business_date")]
    pub due_on: Date,
    pub due_rule: DueRule,
    pub period: Option<ServicePeriod>,
    /// The turnover date (дата совершения оборота, BILLING.md 6): the day the service is
    /// rendered, the last day of its period, else the issue date. Its VAT is the rate in
    /// force on this day (Tax Code). Absent from invoices recorded before the ledger
    /// recorded it: their VAT was taken on the issue date, and stays as recorded (see
    /// [`InvoiceIssued::turnover_date`]).
    #[serde(
        default,
        with = "business_date::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub turnover_on: Option<Date>,
    pub lines: Vec<InvoiceLine>,
    pub net: Money,
    pub vat: VatApplied,
    pub total: Money,
    pub currency: Currency,
    pub exchange_rate: Option<UsdRate>,
    /// For an invoice the billing run issued (BILLING.md 4): the month it bills and the
    /// tariff version that priced it (§5.3), so that it is issued once and never repriced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing: Option<InvoiceBilling>,
}

impl InvoiceIssued {
    /// The turnover date its VAT was taken on: the one recorded; for an invoice recorded
    /// before turnover dates were, its issue date (the date its VAT rate was taken on,
    /// so that its documents agree with its amounts).
    pub fn turnover_date(&self) -> Date {
        self.turnover_on.unwrap_or(self.issued_on)
    }

    /// The turnover date of an invoice issued on `issued_on` for `period` (BILLING.md 6):
    /// the period's last day (a subscription month's, a usage month's), else the issue
    /// date.
    pub fn turnover_date_of(issued_on: Date, period: Option<&ServicePeriod>) -> Date {
        period.map_or(issued_on, |period| period.to)
    }
}

/// What a billing run's invoice bills (BILLING.md 4): at most one invoice per agreement,
/// month and kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceBilling {
    /// The month billed: a subscription invoice's own month (prepaid, §5.4), a usage
    /// invoice's previous month (on credit, §5.8).
    pub month: CalendarMonth,
    /// The tariff version that priced the subscription fee (§4.1, §5.3); for a usage
    /// invoice, the version of the billed month's subscription invoice.
    pub tariff: TariffApplied,
    /// A month subscribed from a day after its first: the fee for the days left
    /// (BILLING.md 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proration: Option<Proration>,
    /// A usage invoice's lines, per month of occurrence and metric (BILLING.md 3).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub usage: Vec<UsageBilled>,
    /// A usage invoice: the usage store's position through which it counted records;
    /// the next one counts those after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_through: Option<u64>,
}

/// A tariff version as an invoice names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TariffApplied {
    pub code: TariffCode,
    pub version: u32,
    #[serde(with = "business_date")]
    pub effective_from: Date,
}

/// A month's fee prorated (BILLING.md 2, decision): `fee x days / days_in_month`, rounded
/// once, half away from zero.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proration {
    pub fee: Money,
    pub days: u8,
    pub days_in_month: u8,
}

/// What a usage invoice bills of one metric used in one month (BILLING.md 3): the
/// records it bills (their count and a SHA-256 digest over their ids and quantities,
/// which `verify` recomputes), the month's volume included by its tariff version, and
/// what is billed beyond it at that version's price (§5.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageBilled {
    /// The month the usage occurred in: earlier than the invoice's for records reported
    /// late.
    pub month: CalendarMonth,
    pub metric: MetricName,
    /// The month's usage of the metric as billed by this invoice and those before it.
    pub quantity: u64,
    pub included: u64,
    /// Units billed by this invoice: the month's usage beyond what is included, less what
    /// earlier invoices billed of it.
    pub billed: u64,
    pub unit_price: Money,
    pub amount: Money,
    /// The tariff version whose price and volume apply: the month's subscription
    /// invoice's.
    pub tariff: TariffApplied,
    /// The records this invoice bills, and the digest over them.
    pub records: u64,
    pub digest: String,
}

/// An advance (money paid beyond what was owed) settled part or all of a new invoice on
/// its issue (allocation, DOMAIN.md; Civil Code art. 282).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdvanceApplied {
    pub invoice_number: InvoiceNumber,
    pub amount: Money,
    /// What the advance settled: the invoice's principal (the only part before charges
    /// existed, hence the default), or a penalty or fine charged on it.
    #[serde(default)]
    pub part: SettledPart,
    #[serde(with = "business_date")]
    pub on: Date,
    /// The advance left after this one.
    pub advance_remaining: Money,
}

/// The part of an invoice's debt that money settled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SettledPart {
    #[default]
    Principal,
    Penalty,
    Fine,
}

/// What one payment settled on one invoice: principal first, then penalties and fines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentAllocation {
    pub invoice_number: InvoiceNumber,
    pub principal: Money,
    pub penalty: Money,
    pub fine: Money,
}

/// Money reached the operator's account (§5.5) and was allocated: the named invoice
/// first, otherwise the oldest open first, principal before penalties and fines; what is
/// left over is kept as an advance (Civil Code art. 282).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentReceived {
    pub reference: PaymentReference,
    #[serde(with = "business_date")]
    pub received_on: Date,
    pub amount: Money,
    pub named_invoice: Option<InvoiceNumber>,
    pub allocations: Vec<PaymentAllocation>,
    /// The part of this payment kept as an advance.
    pub advance: Money,
    /// Set when `received_on` falls in a closed month (BILLING.md 5.4): the payment is
    /// posted (statement, journal, totals) on this day, the first open day, while its
    /// true date still decides penalties (§5.5). Absent otherwise.
    #[serde(
        default,
        with = "business_date::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub posted_on: Option<Date>,
}

/// Access was suspended (§4.2; for debt, §5.9).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suspended {
    #[serde(with = "business_date")]
    pub on: Date,
    pub reason: RestrictionReason,
    /// Who imposed it (§5.9, since 2026-12-01). Absent in events recorded before: such a
    /// suspension is read as the sweep's (docs/domain.md, "Changed on 2026-12-01"), and
    /// an absent field is never written, so those events' JSON and hashes stay as stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imposed_by: Option<ImposedBy>,
}

/// A suspension was lifted (§4.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reinstated {
    #[serde(with = "business_date")]
    pub on: Date,
    pub reason: ReasonNote,
    /// The reason of the suspension this lifts.
    pub lifted: RestrictionReason,
    /// The payment that caused the lifting, when one did (§5.5): a payment recorded
    /// late whose true date would have prevented the restriction, or one that repaid
    /// the debt. Absent before 2026-12-04 and for every other lifting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentReference>,
}

/// A penalty or fine charged for an invoice that later facts show was never owed:
/// - a payment recorded late (§5.5, BILLING.md 5.1), received early enough that the
///   invoice's delay (which ends on the later of its issue date and the day the money
///   that completed it was received) no longer accrues it: `payment` and `received_on`;
/// - a credit note (BILLING.md 5.3) lowering the invoice's penalty base (its total less
///   its credit notes, for every day): `credit_note`.
///
/// A payment's withdrawal is effective on the withdrawn charge's date: as known from
/// then on, the charge was never owed. A credit note's is effective on the credit note's
/// date (its `on`): the invoice's base changes then, and what was charged before stays
/// the history of those days. One event per charge withdrawn (or part of one), newest
/// charge first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LateChargeWithdrawn {
    pub invoice_number: InvoiceNumber,
    pub kind: LateChargeKind,
    /// The business date of the charge withdrawn: this event's effective date.
    #[serde(with = "business_date")]
    pub charged_on: Date,
    pub amount: Money,
    /// Of the amount, what had already been paid: it becomes advance, from `on`.
    pub moved_to_advance: Money,
    /// The payment whose `received_on` removes the charge (absent for a credit note's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentReference>,
    #[serde(
        default,
        with = "business_date::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub received_on: Option<Date>,
    /// The credit note whose lower penalty base removes the charge (since 2026-12-04).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit_note: Option<InvoiceNumber>,
    /// Set when the withdrawal's effective date falls in a closed month (BILLING.md
    /// 5.4): posted on this day, the first open day, instead.
    #[serde(
        default,
        with = "business_date::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub posted_on: Option<Date>,
    /// The day it was recorded: the agreement's latest business date then.
    #[serde(with = "business_date")]
    pub on: Date,
}

impl LateChargeWithdrawn {
    /// Why it was withdrawn, in words: "payment KZ-1 received on 2026-11-09" or
    /// "credit note 42".
    pub fn cause(&self) -> String {
        match (&self.payment, self.received_on, self.credit_note) {
            (Some(payment), Some(received_on), _) => {
                format!("payment {payment} received on {received_on}")
            }
            (Some(payment), None, _) => format!("payment {payment}"),
            (None, _, Some(number)) => format!("credit note {number}"),
            (None, _, None) => "a correction".to_owned(),
        }
    }
}

/// The bank returned a payment (misdirected, chargeback, error; BILLING.md 5.2): its
/// money is undone as if it had never been received. What it still settles on each
/// invoice is taken back (they reopen, their delay running from their due date, §5.9);
/// what it left as advance is removed from the advance held; and where that advance has
/// since settled later invoices, those settlements are undone, newest first (they reopen
/// too). A payment is reversed once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentReversed {
    pub reference: PaymentReference,
    /// The reversed payment's date and amount, as it was recorded.
    #[serde(with = "business_date")]
    pub received_on: Date,
    pub amount: Money,
    /// Taken back from the invoices the payment settled.
    pub taken_back: Vec<PaymentAllocation>,
    /// Taken from the advance held.
    pub advance_removed: Money,
    /// Settlements made by the advance that are undone, newest first.
    pub advance_undone: Vec<AdvanceUndone>,
    pub reason: ReasonNote,
    #[serde(with = "business_date")]
    pub on: Date,
}

/// One settlement by the advance undone by a reversal: the invoice owes it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdvanceUndone {
    pub invoice_number: InvoiceNumber,
    pub part: SettledPart,
    pub amount: Money,
}

/// Money held as advance was paid back to the participant (BILLING.md 5.2): only
/// unallocated money, never a subscription fee already allocated (§5.10). After
/// termination the remaining advance can be refunded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdvanceRefunded {
    /// The operator's payment order: it identifies the refund (a repeat records nothing).
    pub reference: PaymentReference,
    pub amount: Money,
    pub reason: ReasonNote,
    #[serde(with = "business_date")]
    pub on: Date,
    /// The advance left after it.
    pub advance_remaining: Money,
}

/// An invoice issued by mistake, with nothing paid on it, was cancelled (BILLING.md
/// 5.3). Its number stays used (the series is gapless and never reissues one); it
/// accrues no penalty or fine and counts for no suspension or block. Penalties and fines
/// charged on it and unpaid are cancelled with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvoiceVoided {
    pub number: InvoiceNumber,
    /// The invoice's total, cancelled.
    pub total: Money,
    pub penalty_cancelled: Money,
    pub fine_cancelled: Money,
    pub reason: ReasonNote,
    #[serde(with = "business_date")]
    pub on: Date,
}

/// A credit note reduced an issued invoice (BILLING.md 5.3), under its own number from
/// the same gapless series, with VAT at the invoice's own rate (§5.11: the rate of the
/// invoice's date, not today's). It lowers what the invoice owes; what it credits beyond
/// the principal still outstanding becomes advance. The invoice's penalty base is its
/// total less its credit notes, for every day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreditNoteIssued {
    pub number: InvoiceNumber,
    pub related_invoice: InvoiceNumber,
    #[serde(with = "business_date")]
    pub issued_on: Date,
    /// The lines credited, when given by lines; empty when credited by a net amount.
    pub lines: Vec<InvoiceLine>,
    pub net: Money,
    pub vat: VatApplied,
    pub total: Money,
    pub currency: Currency,
    /// Of the total, what the invoice had already been paid beyond what it owes now: it
    /// becomes advance.
    pub to_advance: Money,
    pub reason: ReasonNote,
}

/// The participant was blocked (§4.2); for debt, until the debt is repaid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Blocked {
    #[serde(with = "business_date")]
    pub on: Date,
    pub reason: RestrictionReason,
}

/// A block was lifted (§4.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unblocked {
    #[serde(with = "business_date")]
    pub on: Date,
    pub reason: ReasonNote,
    /// The reason of the block this lifts.
    pub lifted: RestrictionReason,
    /// The payment that caused the lifting, when one did (§5.5): a payment recorded
    /// late whose true date would have prevented the restriction, or one that repaid
    /// the debt. Absent before 2026-12-04 and for every other lifting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentReference>,
}

/// On what ground the agreement is being terminated (§10.2, §8.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TerminationGround {
    /// Written notice by the participant: effective 15 calendar days after the operator
    /// receives it (§10.2.2).
    ParticipantNotice,
    /// By agreement of the parties (§10.2.1).
    Mutual,
    /// By law or by a court (§10.2.3).
    Court,
    /// After more than 90 consecutive days of force majeure (§8.4).
    ForceMajeure,
}

impl TerminationGround {
    pub fn clause(self) -> Clause {
        match self {
            Self::ParticipantNotice => Clause::TERMINATION_NOTICE,
            Self::Mutual => Clause::TERMINATION_MUTUAL,
            Self::Court => Clause::TERMINATION_COURT,
            Self::ForceMajeure => Clause::FORCE_MAJEURE,
        }
    }
}

/// Notice of termination was received; the agreement ends on `effective_on` once it is
/// fully settled (§10.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TerminationRequested {
    pub ground: TerminationGround,
    #[serde(with = "business_date")]
    pub notice_received_on: Date,
    #[serde(with = "business_date")]
    pub effective_on: Date,
    /// For a termination after long force majeure: mutual settlement is due no later
    /// than 5 working days before the effective date (§8.4).
    #[serde(default, with = "business_date::option")]
    pub settlement_due_on: Option<Date>,
}

/// A party notified force majeure (§8.2): within 5 calendar days of its start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForceMajeureDeclared {
    #[serde(with = "business_date")]
    pub started_on: Date,
    #[serde(with = "business_date")]
    pub notice_received_on: Date,
    pub description: ReasonNote,
}

/// Force majeure ended; it lasted `days` calendar days, start and end included (§8.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForceMajeureEnded {
    #[serde(with = "business_date")]
    pub started_on: Date,
    #[serde(with = "business_date")]
    pub ended_on: Date,
    pub days: u32,
}

/// The agreement subscribed to a tariff (BILLING.md 2, §4.1): billed by it from `from`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionStarted {
    pub tariff: TariffCode,
    #[serde(with = "business_date")]
    pub from: Date,
    /// The day it was recorded.
    #[serde(with = "business_date")]
    pub on: Date,
}

/// The subscription moves to another tariff from `from`, the first day of a month
/// (BILLING.md 2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionChanged {
    pub tariff: TariffCode,
    pub previous: TariffCode,
    #[serde(with = "business_date")]
    pub from: Date,
    #[serde(with = "business_date")]
    pub on: Date,
}

/// The subscription ends after `last_day`: a month's last day when ended on request; the
/// termination's day when the agreement ended (its month is billed whole, §5.10).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionEnded {
    pub tariff: TariffCode,
    #[serde(with = "business_date")]
    pub last_day: Date,
    #[serde(with = "business_date")]
    pub on: Date,
    /// Ended because the agreement was terminated (§10).
    #[serde(default)]
    pub by_termination: bool,
}

/// A prepaid subscription period was extended by the duration of force majeure (§8.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionExtended {
    pub invoice_number: InvoiceNumber,
    #[serde(with = "business_date")]
    pub on: Date,
    pub days: u32,
    #[serde(with = "business_date")]
    pub period_to_before: Date,
    #[serde(with = "business_date")]
    pub period_to: Date,
}

/// The agreement ended, fully settled (§10.3). Final: nothing is invoiced after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Terminated {
    #[serde(with = "business_date")]
    pub on: Date,
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    /// The list webhooks subscribe by is every name `type_name` answers (read from this
    /// file's source, since a list of variants cannot be asked of the enum).
    #[test]
    fn the_list_of_event_types_is_every_type_name() {
        let source = include_str!("agreement_event.rs");
        let start = source.find("pub fn type_name").unwrap();
        let end = start + source[start..].find("\n    }\n").unwrap();
        let names: Vec<&str> = source[start..end]
            .lines()
            .filter_map(|line| line.split("=> \"").nth(1))
            .map(|rest| rest.trim_end_matches("\","))
            .collect();
        assert!(names.len() > 20, "the names were read: {names:?}");
        assert_eq!(names, AGREEMENT_EVENT_TYPES);
    }

    #[test]
    fn events_serialize_as_tagged_payloads_with_iso_dates() {
        let event = AgreementEvent::Terminated(Terminated {
            on: date!(2026 - 03 - 09),
        });
        let json = serde_json::to_string(&event).unwrap();
        assert_eq!(json, r#"{"Terminated":{"on":"2026-03-09"}}"#);
        assert_eq!(
            serde_json::from_str::<AgreementEvent>(&json).unwrap(),
            event
        );
        assert_eq!(event.clause().as_str(), "10.3");
        assert_eq!(cqrs_es::DomainEvent::event_type(&event), "Terminated");
    }

    #[test]
    fn a_bad_date_has_a_readable_message() {
        let error = serde_json::from_str::<Terminated>(r#"{"on":"2026-02-30"}"#).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("`2026-02-30` is not a calendar date"),
            "{error}"
        );
    }
}
