//! The money-moving facts the projection keeps of an agreement's events, each with the
//! event that recorded it and its business date: what every query folds.

use serde::{Deserialize, Serialize};
use time::Date;

use events::{
    AdvanceUndone, FineAssessment, InvoiceKind, InvoiceNumber, LateChargeKind, Money,
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
        /// The day the money arrived (§5.5): what settles its invoices. The fact's own
        /// date is when it is posted: the same, unless that day was in a closed month
        /// (BILLING.md 5.4).
        received_on: Date,
        amount: Money,
        allocations: Vec<PaymentAllocation>,
        advance: Money,
    },
    AdvanceApplied {
        invoice_number: InvoiceNumber,
        part: SettledPart,
        amount: Money,
        /// The payment whose money this is, when a payment recorded late settles what
        /// opened only after it was posted (so a reversal takes it back, BILLING.md 5.2).
        payment: Option<String>,
        /// That payment's `received_on`: the principal it settles counts as paid from
        /// then (or the invoice's issue, when later), not from the day it was applied
        /// (§5.5).
        received_on: Option<Date>,
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
    /// A charge withdrawn because a payment recorded late removes it (§5.5, BILLING.md
    /// 5.1), dated as the charge it withdraws.
    Withdrawn {
        invoice_number: InvoiceNumber,
        kind: LateChargeKind,
        amount: Money,
        because: WithdrawalReason,
        /// The withdrawal event's business date (the charge's date, or the credit
        /// note's), which the fact's own date is not when posted after a closed month.
        event_on: Date,
    },
    /// What had been paid of a withdrawn charge, returned to the advance as of the day it
    /// was paid; negative when that money was taken back later (a reversal).
    ChargePaymentReleased {
        invoice_number: InvoiceNumber,
        kind: LateChargeKind,
        amount: Money,
        /// The withdrawal event's business date.
        event_on: Date,
    },
    /// A payment the bank returned (BILLING.md 5.2), dated the day the return was
    /// recorded: what it still settled is taken back, then the advance it left, then the
    /// newest settlements by advance.
    PaymentReversed {
        reference: String,
        amount: Money,
        taken_back: Vec<PaymentAllocation>,
        advance_removed: Money,
        advance_undone: Vec<AdvanceUndone>,
        reason: String,
    },
    /// Advance paid back to the participant (BILLING.md 5.2, §5.10).
    AdvanceRefunded {
        reference: String,
        amount: Money,
        reason: String,
    },
    /// An invoice cancelled (BILLING.md 5.3), with its net and VAT as issued and the
    /// charges on it cancelled with it.
    InvoiceVoided {
        number: InvoiceNumber,
        net: Money,
        vat: Money,
        total: Money,
        penalty_cancelled: Money,
        fine_cancelled: Money,
        reason: String,
    },
    /// A credit note on an invoice (BILLING.md 5.3): `to_advance` of it returns money
    /// the invoice had been paid beyond what it owes now.
    CreditNote {
        number: InvoiceNumber,
        related_invoice: InvoiceNumber,
        net: Money,
        vat: Money,
        total: Money,
        to_advance: Money,
        reason: String,
    },
    /// A force majeure was declared (§8.2) from `started_on`: no penalty accrues on its
    /// days (§8.1). Dated by its notice, so an as-of query before the notice does not
    /// know it yet.
    ForceMajeureDeclared { started_on: Date },
    /// The force majeure in progress ended on `ended_on` (§8.3).
    ForceMajeureEnded { ended_on: Date },
}

/// Why a charge was withdrawn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WithdrawalReason {
    /// A payment recorded late, received early enough to end the delay earlier (§5.5).
    Payment {
        reference: String,
        received_on: Date,
    },
    /// A credit note lowering the invoice's penalty base (BILLING.md 5.3).
    CreditNote { number: InvoiceNumber },
}

impl WithdrawalReason {
    pub fn clause(&self) -> events::Clause {
        match self {
            Self::Payment { .. } => events::Clause::PAYMENT_MOMENT,
            Self::CreditNote { .. } => events::Clause::CORRECTION,
        }
    }

    /// In words, for a document line: "payment KZ-1 received on 2026-11-09".
    pub fn words(&self) -> String {
        match self {
            Self::Payment {
                reference,
                received_on,
            } => format!("payment {reference} received on {received_on}"),
            Self::CreditNote { number } => format!("credit note {number}"),
        }
    }
}

/// A fact with the event that recorded it and its effective date. The ledger keeps them
/// in effective-date order (then event order), whatever order they were recorded in: a
/// payment recorded late takes its place by `received_on` (BILLING.md 5.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatedFact {
    pub sequence: u64,
    pub on: Date,
    pub fact: LedgerFact,
}
