//! `GET /v1/agreements/{id}/statement`: the reconciliation statement (акт сверки) for a
//! period, one line per document.

use serde::Serialize;
use time::Date;

use events::{Clause, Currency, InvoiceNumber, LateChargeKind, Money};

use crate::error::ProjectionError;
use crate::facts::{DatedFact, LedgerFact, WithdrawalReason};
use crate::ledger::AgreementLedger;
use crate::money_string;
use crate::sum;

/// One document on the statement: a debit raises what the participant owes.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StatementLine {
    #[serde(with = "events::business_date")]
    pub date: Date,
    /// The document in words ([`StatementEntry::english`]).
    pub document: String,
    pub sequence: u64,
    #[serde(with = "money_string")]
    pub debit: Money,
    #[serde(with = "money_string")]
    pub credit: Money,
    pub clause: &'static str,
    /// What the document is, for renderings in other words (the printed statement).
    #[serde(skip)]
    pub entry: StatementEntry,
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

/// What one line of the statement records.
#[derive(Debug, Clone, PartialEq)]
pub enum StatementEntry {
    Invoice {
        number: InvoiceNumber,
    },
    /// `received_on` when the payment is posted on a later day than it arrived
    /// (BILLING.md 5.4).
    Payment {
        reference: String,
        received_on: Option<Date>,
    },
    Charge {
        kind: LateChargeKind,
        invoice: InvoiceNumber,
    },
    Waiver {
        kind: LateChargeKind,
        invoice: InvoiceNumber,
    },
    Withdrawal {
        kind: LateChargeKind,
        invoice: InvoiceNumber,
        because: WithdrawalReason,
    },
    PaymentReversal {
        reference: String,
        reason: String,
    },
    AdvanceRefund {
        reference: String,
    },
    InvoiceCancellation {
        number: InvoiceNumber,
        reason: String,
    },
    CreditNote {
        number: InvoiceNumber,
        related_invoice: InvoiceNumber,
    },
}

impl StatementEntry {
    /// As the JSON statement words it: "invoice 7", "payment KZ-1".
    pub fn english(&self) -> String {
        match self {
            Self::Invoice { number } => format!("invoice {number}"),
            Self::Payment {
                reference,
                received_on: None,
            } => format!("payment {reference}"),
            Self::Payment {
                reference,
                received_on: Some(received_on),
            } => format!("payment {reference} received on {received_on}"),
            Self::Charge { kind, invoice } => format!("{} on invoice {invoice}", kind.code()),
            Self::Waiver { kind, invoice } => {
                format!("waiver of {} on invoice {invoice}", kind.code())
            }
            Self::Withdrawal {
                kind,
                invoice,
                because,
            } => format!(
                "withdrawal of {} on invoice {invoice}: {}",
                kind.code(),
                because.words()
            ),
            Self::PaymentReversal { reference, reason } => {
                format!("reversal of payment {reference}: {reason}")
            }
            Self::AdvanceRefund { reference } => format!("refund {reference} of advance"),
            Self::InvoiceCancellation { number, reason } => {
                format!("cancellation of invoice {number}: {reason}")
            }
            Self::CreditNote {
                number,
                related_invoice,
            } => format!("credit note {number} to invoice {related_invoice}"),
        }
    }

    /// As the printed reconciliation statement (акт сверки) words it, in Russian. Reasons
    /// are quoted as they were recorded.
    pub fn russian(&self) -> String {
        let charged = |kind: &LateChargeKind| match kind {
            LateChargeKind::Penalty => "Начислена пеня",
            LateChargeKind::Fine => "Начислен штраф",
        };
        let charge_of = |kind: &LateChargeKind| match kind {
            LateChargeKind::Penalty => "пени",
            LateChargeKind::Fine => "штрафа",
        };
        let day = |date: &Date| {
            format!(
                "{:02}.{:02}.{}",
                date.day(),
                u8::from(date.month()),
                date.year()
            )
        };
        match self {
            Self::Invoice { number } => format!("Счёт на оплату № {number}"),
            Self::Payment {
                reference,
                received_on: None,
            } => format!("Оплата, п/п {reference}"),
            Self::Payment {
                reference,
                received_on: Some(received_on),
            } => format!("Оплата, п/п {reference}, поступила {}", day(received_on)),
            Self::Charge { kind, invoice } => {
                format!("{} по счёту № {invoice}", charged(kind))
            }
            Self::Waiver { kind, invoice } => {
                format!("Освобождение от {} по счёту № {invoice}", charge_of(kind))
            }
            Self::Withdrawal {
                kind,
                invoice,
                because,
            } => {
                let because = match because {
                    WithdrawalReason::Payment {
                        reference,
                        received_on,
                    } => format!("оплата {reference} поступила {}", day(received_on)),
                    WithdrawalReason::CreditNote { number } => format!("кредит-нота № {number}"),
                };
                format!("Сторно {} по счёту № {invoice}: {because}", charge_of(kind))
            }
            Self::PaymentReversal { reference, reason } => {
                format!("Возврат банком платежа {reference}: {reason}")
            }
            Self::AdvanceRefund { reference } => format!("Возврат аванса, п/п {reference}"),
            Self::InvoiceCancellation { number, reason } => {
                format!("Аннулирование счёта № {number}: {reason}")
            }
            Self::CreditNote {
                number,
                related_invoice,
            } => format!("Кредит-нота № {number} к счёту № {related_invoice}"),
        }
    }
}

fn statement_line(fact: &DatedFact, currency: Currency) -> Option<StatementLine> {
    let zero = Money::zero(currency);
    let (entry, debit, credit, clause) = match &fact.fact {
        LedgerFact::Invoice {
            number,
            total,
            kind,
            ..
        } => (
            StatementEntry::Invoice { number: *number },
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
            StatementEntry::Payment {
                reference: reference.clone(),
                received_on: (*received_on != fact.on).then_some(*received_on),
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
            StatementEntry::Charge {
                kind: *kind,
                invoice: *invoice_number,
            },
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
            StatementEntry::Waiver {
                kind: *kind,
                invoice: *invoice_number,
            },
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
            StatementEntry::Withdrawal {
                kind: *kind,
                invoice: *invoice_number,
                because: because.clone(),
            },
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
            StatementEntry::PaymentReversal {
                reference: reference.clone(),
                reason: reason.clone(),
            },
            *amount,
            zero,
            Clause::REVERSAL.as_str(),
        ),
        LedgerFact::AdvanceRefunded {
            reference, amount, ..
        } => (
            StatementEntry::AdvanceRefund {
                reference: reference.clone(),
            },
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
            StatementEntry::InvoiceCancellation {
                number: *number,
                reason: reason.clone(),
            },
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
            StatementEntry::CreditNote {
                number: *number,
                related_invoice: *related_invoice,
            },
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
        document: entry.english(),
        sequence: fact.sequence,
        debit,
        credit,
        clause,
        entry,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_worded_in_russian_as_an_accountant_writes_them() {
        let invoice = InvoiceNumber::new(7).unwrap();
        let charge = |kind| StatementEntry::Charge { kind, invoice };
        assert_eq!(
            charge(LateChargeKind::Penalty).russian(),
            "Начислена пеня по счёту № 7"
        );
        assert_eq!(
            charge(LateChargeKind::Fine).russian(),
            "Начислен штраф по счёту № 7"
        );
        let waiver = StatementEntry::Waiver {
            kind: LateChargeKind::Fine,
            invoice,
        };
        assert_eq!(waiver.russian(), "Освобождение от штрафа по счёту № 7");
        let late = StatementEntry::Payment {
            reference: "PP-1".into(),
            received_on: Some(time::macros::date!(2026 - 02 - 27)),
        };
        assert_eq!(late.russian(), "Оплата, п/п PP-1, поступила 27.02.2026");
        assert_eq!(late.english(), "payment PP-1 received on 2026-02-27");
    }
}
