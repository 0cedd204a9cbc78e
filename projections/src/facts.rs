//! The money-moving facts the projection keeps of an agreement's events, each with the
//! event that recorded it and its business date: what every query folds.

use serde::{Deserialize, Serialize};
use time::Date;

use events::{
    AgreementEvent, FineAssessment, InvoiceKind, InvoiceNumber, LateChargeKind, Money,
    PaymentAllocation, SettledPart, UsdRate,
};

/// A money-moving fact of the agreement, as the projection keeps it. (Externally tagged:
/// the stored form is a binary format that cannot read internally tagged enums.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerFact {
    Invoice {
        number: InvoiceNumber,
        kind: InvoiceKind,
        due_on: Date,
        net: Money,
        vat: Money,
        total: Money,
        exchange_rate: Option<UsdRate>,
    },
    Payment {
        reference: String,
        amount: Money,
        allocations: Vec<PaymentAllocation>,
        advance: Money,
    },
    AdvanceApplied {
        invoice_number: InvoiceNumber,
        part: SettledPart,
        amount: Money,
    },
    Charged {
        invoice_number: InvoiceNumber,
        kind: LateChargeKind,
        amount: Money,
        /// For a fine, how it was priced (MRP and its table version): the fine's figure
        /// from then on, never repriced by a table published later (BILLING.md 1).
        fine: Option<FineAssessment>,
    },
    Waived {
        invoice_number: InvoiceNumber,
        kind: LateChargeKind,
        amount: Money,
        charged_part: Money,
        uncharged_part: Money,
        reason: String,
    },
    /// A force majeure was declared (§8.2) from `started_on`: no penalty accrues on its
    /// days (§8.1). Dated by its notice, so an as-of query before the notice does not
    /// know it yet.
    ForceMajeureDeclared { started_on: Date },
    /// The force majeure in progress ended on `ended_on` (§8.3).
    ForceMajeureEnded { ended_on: Date },
}

/// A fact with the event that recorded it and its business date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatedFact {
    pub sequence: u64,
    pub on: Date,
    pub fact: LedgerFact,
}

/// The fact `event` records, if it is one the projection keeps.
pub(crate) fn fact_of(event: &AgreementEvent) -> Option<LedgerFact> {
    Some(match event {
        AgreementEvent::InvoiceIssued(e) => LedgerFact::Invoice {
            number: e.number,
            kind: e.kind,
            due_on: e.due_on,
            net: e.net,
            vat: e.vat.amount,
            total: e.total,
            exchange_rate: e.exchange_rate.clone(),
        },
        AgreementEvent::PaymentReceived(e) => LedgerFact::Payment {
            reference: e.reference.as_str().to_owned(),
            amount: e.amount,
            allocations: e.allocations.clone(),
            advance: e.advance,
        },
        AgreementEvent::AdvanceApplied(e) => LedgerFact::AdvanceApplied {
            invoice_number: e.invoice_number,
            part: e.part,
            amount: e.amount,
        },
        AgreementEvent::PenaltyCharged(e) => LedgerFact::Charged {
            invoice_number: e.invoice_number,
            kind: LateChargeKind::Penalty,
            amount: e.amount,
            fine: None,
        },
        AgreementEvent::FineCharged(e) => LedgerFact::Charged {
            invoice_number: e.invoice_number,
            kind: LateChargeKind::Fine,
            amount: e.amount,
            fine: Some(e.assessment.clone()),
        },
        AgreementEvent::ForceMajeureDeclared(e) => LedgerFact::ForceMajeureDeclared {
            started_on: e.started_on,
        },
        AgreementEvent::ForceMajeureEnded(e) => LedgerFact::ForceMajeureEnded {
            ended_on: e.ended_on,
        },
        AgreementEvent::LateChargeWaived(e) => LedgerFact::Waived {
            invoice_number: e.invoice_number,
            kind: e.kind,
            amount: e.amount,
            charged_part: e.charged_part,
            uncharged_part: e.uncharged_part,
            reason: e.reason.to_string(),
        },
        _ => return None,
    })
}
