//! `GET /v1/agreements/{id}/statement`: the reconciliation statement (акт сверки) for a
//! period, one line per document.

use serde::Serialize;
use time::Date;

use events::{Clause, Currency, Money};

use crate::error::ProjectionError;
use crate::facts::{DatedFact, LedgerFact};
use crate::ledger::AgreementLedger;
use crate::money_string;
use crate::sum;

/// One document on the statement: a debit raises what the participant owes.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StatementLine {
    #[serde(with = "events::business_date")]
    pub date: Date,
    pub document: String,
    pub sequence: u64,
    #[serde(with = "money_string")]
    pub debit: Money,
    #[serde(with = "money_string")]
    pub credit: Money,
    pub clause: &'static str,
}

/// `GET /v1/agreements/{id}/statement` (акт сверки): `closing = opening + debits - credits`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StatementView {
    pub currency: Currency,
    #[serde(with = "events::business_date")]
    pub from: Date,
    #[serde(with = "events::business_date")]
    pub to: Date,
    #[serde(with = "money_string")]
    pub opening: Money,
    pub lines: Vec<StatementLine>,
    #[serde(with = "money_string")]
    pub debits: Money,
    #[serde(with = "money_string")]
    pub credits: Money,
    #[serde(with = "money_string")]
    pub closing: Money,
}

fn statement_line(fact: &DatedFact, currency: Currency) -> Option<StatementLine> {
    let zero = Money::zero(currency);
    let (document, debit, credit, clause) = match &fact.fact {
        LedgerFact::Invoice {
            number,
            total,
            kind,
            ..
        } => (
            format!("invoice {number}"),
            *total,
            zero,
            kind.due_clause().as_str(),
        ),
        // Posted in an open month after its own was closed (BILLING.md 5.4): the line
        // is dated the day it is posted and says the day the money arrived.
        LedgerFact::Payment {
            reference,
            amount,
            received_on,
            ..
        } => (
            if *received_on == fact.on {
                format!("payment {reference}")
            } else {
                format!("payment {reference} received on {received_on}")
            },
            zero,
            *amount,
            Clause::PAYMENT_MOMENT.as_str(),
        ),
        LedgerFact::Charged {
            invoice_number,
            kind,
            amount,
            ..
        } => (
            format!("{} on invoice {invoice_number}", kind.code()),
            *amount,
            zero,
            Clause::LATE_PAYMENT.as_str(),
        ),
        LedgerFact::Waived {
            invoice_number,
            kind,
            charged_part,
            ..
        } if charged_part.is_positive() => (
            format!("waiver of {} on invoice {invoice_number}", kind.code()),
            zero,
            *charged_part,
            Clause::LATE_PAYMENT.as_str(),
        ),
        LedgerFact::Withdrawn {
            invoice_number,
            kind,
            amount,
            because,
            ..
        } => (
            format!(
                "withdrawal of {} on invoice {invoice_number}: {}",
                kind.code(),
                because.words()
            ),
            zero,
            *amount,
            because.clause().as_str(),
        ),
        // The bank took the money back: what it had credited is owed again.
        LedgerFact::PaymentReversed {
            reference,
            amount,
            reason,
            ..
        } => (
            format!("reversal of payment {reference}: {reason}"),
            *amount,
            zero,
            Clause::REVERSAL.as_str(),
        ),
        LedgerFact::AdvanceRefunded {
            reference, amount, ..
        } => (
            format!("refund {reference} of advance"),
            *amount,
            zero,
            Clause::REFUND.as_str(),
        ),
        // The statement keeps the invoice and shows its cancellation, with the charges
        // on it cancelled with it.
        LedgerFact::InvoiceVoided {
            number,
            total,
            penalty_cancelled,
            fine_cancelled,
            reason,
            ..
        } => (
            format!("cancellation of invoice {number}: {reason}"),
            zero,
            total
                .checked_add(*penalty_cancelled)
                .and_then(|sum| sum.checked_add(*fine_cancelled))
                .unwrap_or(*total),
            Clause::CORRECTION.as_str(),
        ),
        LedgerFact::CreditNote {
            number,
            related_invoice,
            total,
            ..
        } => (
            format!("credit note {number} to invoice {related_invoice}"),
            zero,
            *total,
            Clause::CORRECTION.as_str(),
        ),
        // An advance applied moves money between the participant's own accounts, and a
        // waiver of what was never charged was never owed: neither is a document here.
        LedgerFact::AdvanceApplied { .. }
        | LedgerFact::ChargePaymentReleased { .. }
        | LedgerFact::Waived { .. }
        | LedgerFact::ForceMajeureDeclared { .. }
        | LedgerFact::ForceMajeureEnded { .. } => return None,
    };
    Some(StatementLine {
        date: fact.on,
        document,
        sequence: fact.sequence,
        debit,
        credit,
        clause,
    })
}

impl AgreementLedger {
    /// `GET /v1/agreements/{id}/statement`: the reconciliation statement (акт сверки) for
    /// a period. Positive balances are owed by the participant.
    pub fn statement(&self, from: Date, to: Date) -> Result<StatementView, ProjectionError> {
        if to < from {
            return Err(ProjectionError::PeriodReversed { from, to });
        }
        let currency = self.registered_currency(to)?;
        let zero = Money::zero(currency);
        let mut opening = zero;
        let mut lines = Vec::new();
        for fact in self.facts.iter().take_while(|fact| fact.on <= to) {
            let Some(line) = statement_line(fact, currency) else {
                continue;
            };
            if fact.on < from {
                opening = opening.checked_add(line.debit)?.checked_sub(line.credit)?;
            } else {
                lines.push(line);
            }
        }
        let debits = sum(zero, lines.iter().map(|l| l.debit))?;
        let credits = sum(zero, lines.iter().map(|l| l.credit))?;
        let closing = opening.checked_add(debits)?.checked_sub(credits)?;
        Ok(StatementView {
            currency,
            from,
            to,
            opening,
            lines,
            debits,
            credits,
            closing,
        })
    }
}
