//! The money-moving facts the projection keeps of an agreement's events, each with the
//! event that recorded it and its business date: what every query folds.

use serde::{Deserialize, Serialize};
use time::Date;

use aggregates::ParticipantAgreement;
use events::{
    AdvanceUndone, AgreementEvent, FineAssessment, InvoiceKind, InvoiceNumber, LateChargeKind,
    Money, MoneyError, PaymentAllocation, SettledPart, UsdRate,
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
        /// The payment whose money this is, when a payment received before the invoice
        /// settles it on its issue (so a reversal takes it back, BILLING.md 5.2).
        payment: Option<String>,
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
    },
    /// What had been paid of a withdrawn charge, returned to the advance on the day the
    /// withdrawal was recorded.
    ChargePaymentReleased {
        invoice_number: InvoiceNumber,
        kind: LateChargeKind,
        amount: Money,
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

/// The facts `event` records, each with its effective date, given the agreement as it
/// was before the event. Most events record one fact on their business date; two split:
/// - a payment's allocation to an invoice issued after the money was received (a bank
///   statement recorded late, BILLING.md 5.1) is advance until that invoice's issue
///   date, when it settles it: the payment fact keeps it as advance and an
///   `AdvanceApplied` fact on the issue date applies it;
/// - a withdrawal is effective on the charge's date, and what had been paid of the
///   charge returns to the advance on the day it was recorded.
pub(crate) fn facts_of(
    event: &AgreementEvent,
    before: &ParticipantAgreement,
) -> Result<Vec<(Date, LedgerFact)>, MoneyError> {
    let on = event.business_date();
    let fact = match event {
        AgreementEvent::InvoiceIssued(e) => LedgerFact::Invoice {
            number: e.number,
            kind: e.kind,
            due_on: e.due_on,
            net: e.net,
            vat: e.vat.amount,
            total: e.total,
            exchange_rate: e.exchange_rate.clone(),
        },
        AgreementEvent::PaymentReceived(e) => {
            let posted_on = e.posted_on.unwrap_or(e.received_on);
            let issued_later = |number: &InvoiceNumber| {
                before
                    .invoice(*number)
                    .filter(|invoice| invoice.issued_on > posted_on)
                    .map(|invoice| invoice.issued_on)
            };
            let mut advance = e.advance;
            let mut allocations = Vec::new();
            let mut later = Vec::new();
            for allocation in &e.allocations {
                match issued_later(&allocation.invoice_number) {
                    None => allocations.push(allocation.clone()),
                    Some(issued_on) => {
                        for (part, amount) in [
                            (SettledPart::Principal, allocation.principal),
                            (SettledPart::Penalty, allocation.penalty),
                            (SettledPart::Fine, allocation.fine),
                        ] {
                            if amount.is_positive() {
                                advance = advance.checked_add(amount)?;
                                later.push((
                                    issued_on,
                                    LedgerFact::AdvanceApplied {
                                        invoice_number: allocation.invoice_number,
                                        part,
                                        amount,
                                        payment: Some(e.reference.as_str().to_owned()),
                                    },
                                ));
                            }
                        }
                    }
                }
            }
            let mut facts = vec![(
                posted_on,
                LedgerFact::Payment {
                    reference: e.reference.as_str().to_owned(),
                    received_on: e.received_on,
                    amount: e.amount,
                    allocations,
                    advance,
                },
            )];
            facts.extend(later);
            return Ok(facts);
        }
        AgreementEvent::AdvanceApplied(e) => LedgerFact::AdvanceApplied {
            invoice_number: e.invoice_number,
            part: e.part,
            amount: e.amount,
            payment: None,
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
        AgreementEvent::LateChargeWithdrawn(e) => {
            let mut facts = vec![(
                e.posted_on.unwrap_or(event.business_date()),
                LedgerFact::Withdrawn {
                    invoice_number: e.invoice_number,
                    kind: e.kind,
                    amount: e.amount,
                    because: match (&e.payment, e.credit_note) {
                        (None, Some(number)) => WithdrawalReason::CreditNote { number },
                        _ => WithdrawalReason::Payment {
                            reference: e
                                .payment
                                .as_ref()
                                .map(|p| p.as_str().to_owned())
                                .unwrap_or_default(),
                            received_on: e.received_on.unwrap_or(e.charged_on),
                        },
                    },
                },
            )];
            if e.moved_to_advance.is_positive() {
                facts.push((
                    e.on,
                    LedgerFact::ChargePaymentReleased {
                        invoice_number: e.invoice_number,
                        kind: e.kind,
                        amount: e.moved_to_advance,
                    },
                ));
            }
            return Ok(facts);
        }
        AgreementEvent::PaymentReversed(e) => LedgerFact::PaymentReversed {
            reference: e.reference.as_str().to_owned(),
            amount: e.amount,
            taken_back: e.taken_back.clone(),
            advance_removed: e.advance_removed,
            advance_undone: e.advance_undone.clone(),
            reason: e.reason.to_string(),
        },
        AgreementEvent::AdvanceRefunded(e) => LedgerFact::AdvanceRefunded {
            reference: e.reference.as_str().to_owned(),
            amount: e.amount,
            reason: e.reason.to_string(),
        },
        AgreementEvent::InvoiceVoided(e) => {
            let zero = Money::zero(e.total.currency());
            let (net, vat) = before
                .invoice(e.number)
                .map(|invoice| (invoice.net, invoice.vat.amount))
                .unwrap_or((e.total, zero));
            LedgerFact::InvoiceVoided {
                number: e.number,
                net,
                vat,
                total: e.total,
                penalty_cancelled: e.penalty_cancelled,
                fine_cancelled: e.fine_cancelled,
                reason: e.reason.to_string(),
            }
        }
        AgreementEvent::CreditNoteIssued(e) => LedgerFact::CreditNote {
            number: e.number,
            related_invoice: e.related_invoice,
            net: e.net,
            vat: e.vat.amount,
            total: e.total,
            to_advance: e.to_advance,
            reason: e.reason.to_string(),
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
        _ => return Ok(Vec::new()),
    };
    Ok(vec![(on, fact)])
}
