//! The views the command endpoints answer with.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::Date;

use aggregates::{AgreementStatus, ParticipantAgreement, RestrictionKind};
use events::{
    business_date, AdvanceApplied, Currency, InvoiceIssued, InvoiceKind, InvoiceNumber, Money,
    ParticipantKind, RestrictionReason, ServicePeriod, TerminationGround,
};

use crate::money_string;

/// A suspension or block in force (§4.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RestrictionView {
    #[serde(with = "business_date")]
    pub since: Date,
    pub reason: RestrictionReason,
    pub clause: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TerminationView {
    pub ground: TerminationGround,
    #[serde(with = "business_date")]
    pub notice_received_on: Date,
    #[serde(with = "business_date")]
    pub effective_on: Date,
    #[serde(with = "business_date::option")]
    pub terminated_on: Option<Date>,
    pub clause: String,
}

/// `GET /v1/agreements/{id}` (API.md): the agreement's status and dates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AgreementHeader {
    pub participant_id: String,
    pub name: String,
    pub kind: ParticipantKind,
    pub resident: bool,
    pub currency: Currency,
    pub email: String,
    pub status: AgreementStatus,
    #[serde(with = "business_date")]
    pub registered_on: Date,
    #[serde(with = "business_date::option")]
    pub signed_on: Option<Date>,
    /// The earlier of registration and signing (§3.2).
    #[serde(with = "business_date::option")]
    pub concluded_on: Option<Date>,
    /// The later of registration and signing (§10.1).
    #[serde(with = "business_date::option")]
    pub in_force_from: Option<Date>,
    #[serde(with = "business_date::option")]
    pub suspended_on: Option<Date>,
    #[serde(with = "business_date::option")]
    pub blocked_on: Option<Date>,
    pub restriction: Option<RestrictionView>,
    pub termination: Option<TerminationView>,
}

/// `GET /v1/agreements/{id}` (API.md): the header, and the advance held.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AgreementView {
    #[serde(flatten)]
    pub header: AgreementHeader,
    /// Money paid beyond what is owed, waiting to settle the next invoice.
    #[serde(with = "money_string")]
    pub advance: Money,
}

impl AgreementView {
    /// The view of a registered agreement; `None` before registration.
    pub fn of(agreement: &ParticipantAgreement) -> Option<Self> {
        let header = AgreementHeader::of(agreement)?;
        Some(Self {
            advance: agreement.advance().unwrap_or(Money::zero(header.currency)),
            header,
        })
    }
}

impl AgreementHeader {
    /// The header of a registered agreement; `None` before registration.
    pub fn of(agreement: &ParticipantAgreement) -> Option<Self> {
        let registration = agreement.registration()?;
        let status = agreement.status()?;
        let restriction = agreement.restriction();
        let restricted_on =
            |kind: RestrictionKind| restriction.filter(|r| r.kind == kind).map(|r| r.since);
        Some(Self {
            participant_id: registration.participant_id.to_string(),
            name: registration.name.to_string(),
            kind: registration.kind,
            resident: registration.resident,
            currency: registration.currency,
            email: registration.email.to_string(),
            status,
            registered_on: registration.registered_on,
            signed_on: agreement.signing().map(|s| s.signed_on),
            concluded_on: agreement.signing().map(|s| s.concluded_on),
            in_force_from: agreement.signing().map(|s| s.in_force_from),
            suspended_on: restricted_on(RestrictionKind::Suspended),
            blocked_on: restricted_on(RestrictionKind::Blocked),
            restriction: restriction.map(|r| RestrictionView {
                since: r.since,
                reason: r.reason,
                clause: r.reason.clause().as_str().to_owned(),
            }),
            termination: agreement.termination().map(|t| TerminationView {
                ground: t.ground,
                notice_received_on: t.notice_received_on,
                effective_on: t.effective_on,
                terminated_on: t.terminated_on,
                clause: t.ground.clause().as_str().to_owned(),
            }),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct InvoiceLineView {
    pub description: String,
    pub quantity: String,
    #[serde(with = "money_string")]
    pub unit_price: Money,
    #[serde(with = "money_string")]
    pub amount: Money,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DueRuleView {
    pub days: u32,
    pub day_kind: events::DayKind,
    pub clause: String,
    pub calendar_version: String,
}

/// The answer to `POST /v1/agreements/{id}/invoices` (API.md).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct InvoiceView {
    pub number: InvoiceNumber,
    pub kind: InvoiceKind,
    #[serde(with = "business_date")]
    pub issued_on: Date,
    #[serde(with = "business_date")]
    pub due_on: Date,
    pub due_rule: DueRuleView,
    pub period: Option<ServicePeriod>,
    /// The turnover date (дата совершения оборота, BILLING.md 6): the day the service is
    /// rendered, the period's last day, else the issue date (an invoice recorded before
    /// turnover dates were: its issue date, the one its VAT was taken on).
    #[serde(with = "business_date")]
    pub turnover_date: Date,
    pub lines: Vec<InvoiceLineView>,
    #[serde(with = "money_string")]
    pub net: Money,
    /// The VAT rate as a fraction (`"0.16"`, §5.11), in force on the turnover date.
    #[serde(with = "rust_decimal::serde::str")]
    pub vat_rate: Decimal,
    #[serde(with = "money_string")]
    pub vat: Money,
    #[serde(with = "money_string")]
    pub total: Money,
    pub currency: Currency,
    /// KZT per USD, by the National Bank on the issue date (§5.1); only for USD invoices.
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "rust_decimal::serde::str_option"
    )]
    pub exchange_rate: Option<Decimal>,
    /// How much of the total an advance settled on issue.
    #[serde(with = "money_string")]
    pub settled_from_advance: Money,
    #[serde(with = "money_string")]
    pub outstanding: Money,
}

impl InvoiceView {
    pub fn of(issued: &InvoiceIssued, advance: Option<&AdvanceApplied>) -> Self {
        let settled = advance
            .map(|a| a.amount)
            .unwrap_or(Money::zero(issued.currency));
        Self {
            number: issued.number,
            kind: issued.kind,
            issued_on: issued.issued_on,
            due_on: issued.due_on,
            due_rule: DueRuleView {
                days: issued.due_rule.days,
                day_kind: issued.due_rule.day_kind,
                clause: issued.due_rule.clause.clone(),
                calendar_version: issued.due_rule.calendar_version.clone(),
            },
            period: issued.period,
            turnover_date: issued.turnover_date(),
            lines: issued
                .lines
                .iter()
                .map(|line| InvoiceLineView {
                    description: line.description.to_string(),
                    quantity: line.quantity.to_string(),
                    unit_price: line.unit_price,
                    amount: line.amount,
                })
                .collect(),
            net: issued.net,
            vat_rate: issued.vat.rate,
            vat: issued.vat.amount,
            total: issued.total,
            currency: issued.currency,
            exchange_rate: issued.exchange_rate.as_ref().map(|r| r.kzt_per_usd),
            settled_from_advance: settled,
            outstanding: issued.total.checked_sub(settled).unwrap_or(issued.total),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AllocationView {
    pub invoice_number: InvoiceNumber,
    #[serde(with = "money_string")]
    pub principal: Money,
    #[serde(with = "money_string")]
    pub penalty: Money,
    #[serde(with = "money_string")]
    pub fine: Money,
}

/// The answer to `POST /v1/agreements/{id}/payments` (API.md), the same for the first
/// time and for a repeat of its reference.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PaymentView {
    pub reference: String,
    #[serde(with = "business_date")]
    pub received_on: Date,
    #[serde(with = "money_string")]
    pub amount: Money,
    pub currency: Currency,
    pub allocations: Vec<AllocationView>,
    /// The part of this payment kept as an advance.
    #[serde(with = "money_string")]
    pub advance: Money,
    /// The order of allocation applied (Civil Code art. 282; §5.5 for the date).
    pub clause: &'static str,
}

impl PaymentView {
    /// The view of the payment recorded under `reference`, if any.
    pub fn of(agreement: &ParticipantAgreement, reference: &str) -> Option<Self> {
        let payment = agreement.payment(reference)?;
        Some(Self {
            reference: reference.to_owned(),
            received_on: payment.received_on,
            amount: payment.amount,
            currency: payment.amount.currency(),
            allocations: payment
                .allocations
                .iter()
                .map(|a| AllocationView {
                    invoice_number: a.invoice_number,
                    principal: a.principal,
                    penalty: a.penalty,
                    fine: a.fine,
                })
                .collect(),
            advance: payment.advance,
            clause: events::Clause::ALLOCATION.as_str(),
        })
    }
}
