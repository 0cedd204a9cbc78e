//! The commands an agreement accepts: a caller's intent, not yet a fact.
//!
//! Each command's fields are already-parsed vocabulary types, so a command that exists is
//! well-formed; whether it is allowed is the aggregate's decision. The structs double as
//! the HTTP request bodies (API.md): they refuse unknown fields, so a typo in a field name
//! is an error instead of a silently ignored value.

use serde::Deserialize;
use time::Date;

use events::{
    business_date, Amount, CalendarMonth, Currency, EmailAddress, InvoiceKind, InvoiceNumber,
    LateChargeKind, LineDescription, MetricName, ParticipantId, ParticipantKind, ParticipantName,
    PaymentReference, Quantity, ReasonNote, RestrictionReason, ServicePeriod, TariffCode,
    TerminationGround,
};

/// The most lines one invoice may carry.
pub const INVOICE_LINES_MAX: usize = 100;

/// A command to a participant's agreement.
#[derive(Debug, Clone, PartialEq)]
pub enum AgreementCommand {
    Register(Register),
    Sign(SignAgreement),
    IssueInvoice(IssueInvoice),
    ReceivePayment(ReceivePayment),
    Suspend(RestrictAccess),
    Reinstate(LiftRestriction),
    Block(RestrictAccess),
    Unblock(LiftRestriction),
    RequestTermination(RequestTermination),
    ChargeLatePayment(ChargeLatePayment),
    WaiveLatePayment(WaiveLatePayment),
    Sweep(SweepAgreement),
    DeclareForceMajeure(DeclareForceMajeure),
    EndForceMajeure(EndForceMajeure),
    ReversePayment(ReversePayment),
    RefundAdvance(RefundAdvance),
    VoidInvoice(VoidInvoice),
    IssueCreditNote(IssueCreditNote),
    Subscribe(Subscribe),
    EndSubscription(EndSubscription),
    BillMonth(BillMonth),
    BillUsage(BillUsage),
}

impl AgreementCommand {
    /// The command's name, recorded in the metadata of the events it causes.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Register(_) => "Register",
            Self::Sign(_) => "SignAgreement",
            Self::IssueInvoice(_) => "IssueInvoice",
            Self::ReceivePayment(_) => "ReceivePayment",
            Self::Suspend(_) => "Suspend",
            Self::Reinstate(_) => "Reinstate",
            Self::Block(_) => "Block",
            Self::Unblock(_) => "Unblock",
            Self::RequestTermination(_) => "RequestTermination",
            Self::ChargeLatePayment(_) => "ChargeLatePayment",
            Self::WaiveLatePayment(_) => "WaiveLatePayment",
            Self::Sweep(_) => "Sweep",
            Self::DeclareForceMajeure(_) => "DeclareForceMajeure",
            Self::EndForceMajeure(_) => "EndForceMajeure",
            Self::ReversePayment(_) => "ReversePayment",
            Self::RefundAdvance(_) => "RefundAdvance",
            Self::VoidInvoice(_) => "VoidInvoice",
            Self::IssueCreditNote(_) => "IssueCreditNote",
            Self::Subscribe(_) => "Subscribe",
            Self::EndSubscription(_) => "EndSubscription",
            Self::BillMonth(_) => "BillMonth",
            Self::BillUsage(_) => "BillUsage",
        }
    }

    /// Whether the command takes a number from the operator's gapless invoice series
    /// (an invoice or a credit note).
    pub fn takes_invoice_number(&self) -> bool {
        matches!(
            self,
            Self::IssueInvoice(_)
                | Self::IssueCreditNote(_)
                | Self::BillMonth(_)
                | Self::BillUsage(_)
        )
    }

    /// Whether the command reads the tariff catalog (BILLING.md 2): the caller then
    /// passes the catalog as it is now, not a cached one.
    pub fn reads_tariffs(&self) -> bool {
        matches!(
            self,
            Self::Subscribe(_) | Self::BillMonth(_) | Self::BillUsage(_)
        )
    }
}

/// Subscribe to a tariff, or change the tariff (BILLING.md 2):
/// `POST /v1/agreements/{id}/subscription`. A start counts from `from`; a change from the
/// first day of a month (`from` when it is one and still ahead, else the next).
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Subscribe {
    #[schema(value_type = String, example = "standard")]
    pub tariff: TariffCode,
    #[serde(with = "business_date")]
    #[schema(value_type = String, example = "2027-01-01")]
    pub from: Date,
}

/// End the subscription on a month's last day (BILLING.md 2):
/// `DELETE /v1/agreements/{id}/subscription`.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndSubscription {
    #[serde(with = "business_date")]
    #[schema(value_type = String, example = "2027-03-31")]
    pub on: Date,
}

/// Register a participant (§1.13): `POST /v1/agreements`.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Register {
    pub participant_id: ParticipantId,
    pub name: ParticipantName,
    pub kind: ParticipantKind,
    pub resident: bool,
    pub currency: Currency,
    pub email: EmailAddress,
    #[serde(with = "business_date")]
    pub registered_on: Date,
}

/// Sign the agreement (§1.5, §3.2): `POST /v1/agreements/{id}/signature`.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignAgreement {
    #[serde(with = "business_date")]
    pub signed_on: Date,
}

/// One line as the caller gives it; the ledger computes its amount.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceLineRequest {
    pub description: LineDescription,
    pub quantity: Quantity,
    /// Net of VAT (§5.11), in the agreement's currency.
    pub unit_price: Amount,
}

/// Issue an invoice: `POST /v1/agreements/{id}/invoices`. The number, due date, VAT and
/// (for USD) the exchange rate are the ledger's to decide.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueInvoice {
    pub kind: InvoiceKind,
    #[serde(with = "business_date")]
    pub issued_on: Date,
    pub lines: Vec<InvoiceLineRequest>,
    #[serde(default)]
    pub period: Option<ServicePeriod>,
}

/// Record money that reached the operator's account (§5.5):
/// `POST /v1/agreements/{id}/payments`.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceivePayment {
    pub reference: PaymentReference,
    #[serde(with = "business_date")]
    pub received_on: Date,
    pub amount: Amount,
    /// The payment's currency, when the feed states it; it must be the agreement's (§5.1).
    #[serde(default)]
    pub currency: Option<Currency>,
    #[serde(default)]
    pub invoice_number: Option<InvoiceNumber>,
}

/// Suspend or block access (§4.2): `POST .../suspension`, `POST .../block`.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestrictAccess {
    #[serde(with = "business_date")]
    pub on: Date,
    pub reason: RestrictionReason,
}

/// Lift a suspension or a block (§4.2): `POST .../reinstatement`, `POST .../unblock`.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LiftRestriction {
    #[serde(with = "business_date")]
    pub on: Date,
    pub reason: ReasonNote,
}

/// Record a termination notice (§10.2): `POST /v1/agreements/{id}/termination`.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestTermination {
    pub ground: TerminationGround,
    #[serde(with = "business_date")]
    pub notice_received_on: Date,
    #[serde(default, with = "business_date::option")]
    pub effective_on: Option<Date>,
}

/// Charge the penalty or fine §5.9 allows on an invoice as of `on`:
/// `POST /v1/agreements/{id}/charges`.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChargeLatePayment {
    pub invoice_number: InvoiceNumber,
    pub kind: LateChargeKind,
    #[serde(with = "business_date")]
    pub on: Date,
}

/// Waive part or all of a penalty or fine on an invoice (§5.9 says the operator *may*
/// charge them): `POST /v1/agreements/{id}/waivers`. `on` defaults to today.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WaiveLatePayment {
    pub invoice_number: InvoiceNumber,
    pub kind: LateChargeKind,
    pub amount: Amount,
    pub reason: ReasonNote,
    #[serde(default, with = "business_date::option")]
    pub on: Option<Date>,
}

/// Apply the rules time triggers to one agreement as of a date (§4.2, §5.9, §10.2-§10.3):
/// the dunning sweep's step for this agreement. Not an HTTP body: `POST /v1/sweeps` runs
/// it over every agreement.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SweepAgreement {
    #[serde(with = "business_date")]
    pub as_of: Date,
    /// The operator's policy: charge the fine of §5.9 automatically on each late invoice.
    pub charge_fines: bool,
}

/// Notify force majeure (§8.2): `POST /v1/agreements/{id}/force-majeure`.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclareForceMajeure {
    #[serde(with = "business_date")]
    pub started_on: Date,
    #[serde(with = "business_date")]
    pub notice_received_on: Date,
    pub description: ReasonNote,
}

/// Record the end of force majeure (§8.3): `POST /v1/agreements/{id}/force-majeure/end`.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndForceMajeure {
    #[serde(with = "business_date")]
    pub ended_on: Date,
}

/// The body of `POST /v1/agreements/{id}/payments/{reference}/reversal`: the bank
/// returned the payment (BILLING.md 5.2).
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReversalRequest {
    #[serde(with = "business_date")]
    pub on: Date,
    pub reason: ReasonNote,
}

/// Reverse a recorded payment (BILLING.md 5.2).
#[derive(Debug, Clone, PartialEq)]
pub struct ReversePayment {
    pub reference: PaymentReference,
    pub on: Date,
    pub reason: ReasonNote,
}

/// Pay back money held as advance (BILLING.md 5.2, §5.10):
/// `POST /v1/agreements/{id}/refunds`.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundAdvance {
    /// The operator's payment order paying the money back: identifies the refund.
    pub reference: PaymentReference,
    #[serde(with = "business_date")]
    pub on: Date,
    pub amount: Amount,
    pub reason: ReasonNote,
}

/// The body of `POST /v1/agreements/{id}/invoices/{number}/void` (BILLING.md 5.3).
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoidRequest {
    #[serde(with = "business_date")]
    pub on: Date,
    pub reason: ReasonNote,
}

/// Void an invoice issued by mistake (BILLING.md 5.3).
#[derive(Debug, Clone, PartialEq)]
pub struct VoidInvoice {
    pub number: InvoiceNumber,
    pub on: Date,
    pub reason: ReasonNote,
}

/// The body of `POST /v1/agreements/{id}/invoices/{number}/credit-notes` (BILLING.md
/// 5.3): either `lines` (credited at their prices, net of VAT) or `net`, not both.
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditNoteRequest {
    #[serde(with = "business_date")]
    pub on: Date,
    pub reason: ReasonNote,
    #[serde(default)]
    pub lines: Option<Vec<InvoiceLineRequest>>,
    /// The net amount credited, VAT excluded (§5.11).
    #[serde(default)]
    pub net: Option<Amount>,
}

/// Credit an issued invoice (BILLING.md 5.3).
#[derive(Debug, Clone, PartialEq)]
pub struct IssueCreditNote {
    pub invoice_number: InvoiceNumber,
    pub on: Date,
    pub reason: ReasonNote,
    pub lines: Option<Vec<InvoiceLineRequest>>,
    pub net: Option<Amount>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_refused() {
        let error =
            serde_json::from_str::<SignAgreement>(r#"{"signed_on":"2026-01-05","signd":1}"#)
                .unwrap_err();
        assert!(
            error.to_string().contains("unknown field `signd`"),
            "{error}"
        );
    }

    #[test]
    fn a_payment_parses_its_amount_strictly() {
        let json = r#"{"reference":"KZ-1","received_on":"2026-02-10","amount":"100.5"}"#;
        let payment: ReceivePayment = serde_json::from_str(json).unwrap();
        assert_eq!(payment.amount.to_string(), "100.50");
        let json = r#"{"reference":"KZ-1","received_on":"2026-02-10","amount":"100.555"}"#;
        assert!(serde_json::from_str::<ReceivePayment>(json).is_err());
    }

    #[test]
    fn optional_dates_parse() {
        let json =
            r#"{"ground":"mutual","notice_received_on":"2026-02-10","effective_on":"2026-03-01"}"#;
        let request: RequestTermination = serde_json::from_str(json).unwrap();
        assert_eq!(
            request.effective_on,
            Some(time::macros::date!(2026 - 03 - 01))
        );
        let json = r#"{"ground":"participant_notice","notice_received_on":"2026-02-10"}"#;
        assert_eq!(
            serde_json::from_str::<RequestTermination>(json)
                .unwrap()
                .effective_on,
            None
        );
    }
}

/// The billing run's command for one agreement (BILLING.md 4): its subscription invoice
/// for `month`, issued on `issued_on`; nothing when that month is invoiced already.
#[derive(Debug, Clone, PartialEq)]
pub struct BillMonth {
    pub month: CalendarMonth,
    pub issued_on: Date,
}

/// The billing run's usage command for one agreement (BILLING.md 3, 4): the usage
/// invoice for `month` (the run's previous month, on credit, §5.8), counting the records
/// no earlier usage invoice counted; nothing when that month's usage is invoiced already.
#[derive(Debug, Clone, PartialEq)]
pub struct BillUsage {
    pub month: CalendarMonth,
    pub issued_on: Date,
    /// The usage store's position the run counts through: its latest record when the
    /// run began (every record up to it is committed, and none is added there later).
    pub through: u64,
    /// Filled by the ledger from the usage store before the aggregate decides: the
    /// agreement's records that occurred on or before the month's last day, recorded at a
    /// position up to `through`, and not counted by an earlier usage invoice; in position
    /// order.
    pub records: Vec<MeteredUsage>,
}

/// A usage record as the billing run counts it (BILLING.md 3): a fact the portal
/// reported, at its position in the usage store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeteredUsage {
    pub position: u64,
    /// The portal's own id.
    pub id: String,
    pub metric: MetricName,
    /// Positive.
    pub quantity: u64,
    pub occurred_on: Date,
}
