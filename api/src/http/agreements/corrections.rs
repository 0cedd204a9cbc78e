//! The answers of the corrections (BILLING.md 5.2-5.3): a payment the bank returned, a
//! refund of the advance, a void invoice, a credit note. Each is written by a pure
//! function from what the command recorded (its events) and the agreement after it, so
//! that a retry under the same Idempotency-Key gets exactly the first answer.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use rust_decimal::Decimal;
use serde::Serialize;
use time::Date;

use events::{
    business_date, AdvanceRefunded, AgreementEvent, Clause, Currency, InvoiceNumber,
    LateChargeKind, Money, MoneyError,
};
use projections::{money_string, InvoiceLineView, ProjectionError};

use super::super::error::ApiError;
use crate::application::commands::Committed;

/// A sum that passes the ledger's range cannot be answered (it never happens for amounts
/// the ledger accepted; the answer says so rather than inventing a figure).
fn money_error(error: MoneyError) -> ApiError {
    ApiError::Projection(ProjectionError::Money(error))
}

/// An invoice a reversal reopened, as it stands after the reversal.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReopenedInvoice {
    pub number: InvoiceNumber,
    #[serde(with = "business_date")]
    pub issued_on: Date,
    /// Its delay runs from here again (§5.9): the penalty accrues from the next day.
    #[serde(with = "business_date")]
    pub due_on: Date,
    /// What it owes as principal: its total less its credit notes.
    #[serde(with = "money_string")]
    pub total: Money,
    /// What the reversal took back from it (principal, penalty and fine): what the
    /// payment settled, and what the advance the payment left had settled.
    #[serde(with = "money_string")]
    pub taken_back: Money,
    /// Principal still paid by other money.
    #[serde(with = "money_string")]
    pub paid: Money,
    /// Principal owed again.
    #[serde(with = "money_string")]
    pub outstanding: Money,
    /// Penalty and fine charged and owed again.
    #[serde(with = "money_string")]
    pub penalty_owed: Money,
    #[serde(with = "money_string")]
    pub fine_owed: Money,
}

/// The answer to `POST /v1/agreements/{id}/payments/{reference}/reversal` (BILLING.md
/// 5.2): the payment undone as if never received, and the invoices it reopened.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReversalAnswer {
    pub reference: String,
    /// The reversed payment as it was recorded.
    #[serde(with = "business_date")]
    pub received_on: Date,
    #[serde(with = "money_string")]
    pub amount: Money,
    pub currency: Currency,
    #[serde(with = "business_date")]
    pub reversed_on: Date,
    /// The invoices it reopened, by number.
    pub reopened: Vec<ReopenedInvoice>,
    /// Taken from the advance held (what the payment had left as advance).
    #[serde(with = "money_string")]
    pub advance_removed: Money,
    /// The advance held after the reversal.
    #[serde(with = "money_string")]
    pub advance: Money,
    pub reason: String,
    /// `BILLING-5.2`.
    pub clause: &'static str,
}

/// The reversal's answer: the `PaymentReversed` it recorded, and each invoice it took
/// money back from, as the agreement stands after it.
pub fn reversal_answer(committed: &Committed) -> Result<ReversalAnswer, ApiError> {
    let reversed = committed
        .events
        .iter()
        .find_map(|envelope| match &envelope.payload {
            AgreementEvent::PaymentReversed(reversed) => Some(reversed),
            _ => None,
        })
        .expect("an accepted reversal records PaymentReversed");
    let currency = reversed.amount.currency();
    let zero = Money::zero(currency);
    let mut taken_back: BTreeMap<InvoiceNumber, Money> = BTreeMap::new();
    let from_the_payment = reversed.taken_back.iter().map(|taken| {
        let sum = taken
            .principal
            .checked_add(taken.penalty)?
            .checked_add(taken.fine)?;
        Ok((taken.invoice_number, sum))
    });
    let from_the_advance = reversed
        .advance_undone
        .iter()
        .map(|undone| Ok((undone.invoice_number, undone.amount)));
    for taken in from_the_payment.chain(from_the_advance) {
        let (number, amount) = taken.map_err(money_error)?;
        let sum = taken_back.entry(number).or_insert(zero);
        *sum = sum.checked_add(amount).map_err(money_error)?;
    }
    let reopened = taken_back
        .into_iter()
        .filter_map(|(number, taken_back)| {
            let invoice = committed.agreement.invoice(number)?;
            Some(ReopenedInvoice {
                number,
                issued_on: invoice.issued_on,
                due_on: invoice.due_on,
                total: invoice.owed_total(),
                taken_back,
                paid: invoice.principal_paid,
                outstanding: invoice.principal_outstanding(),
                penalty_owed: invoice.penalty_outstanding(),
                fine_owed: invoice.fine_outstanding(),
            })
        })
        .collect();
    Ok(ReversalAnswer {
        reference: reversed.reference.to_string(),
        received_on: reversed.received_on,
        amount: reversed.amount,
        currency,
        reversed_on: reversed.on,
        reopened,
        advance_removed: reversed.advance_removed,
        advance: committed.agreement.advance().unwrap_or(zero),
        reason: reversed.reason.to_string(),
        clause: Clause::REVERSAL.as_str(),
    })
}

/// The answer to `POST /v1/agreements/{id}/refunds` (BILLING.md 5.2, §5.10), the same for
/// the first time (201) and for a repeat of its reference (200).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RefundAnswer {
    /// The operator's payment order paying the money back.
    pub reference: String,
    #[serde(with = "business_date")]
    pub on: Date,
    #[serde(with = "money_string")]
    pub amount: Money,
    pub currency: Currency,
    /// The advance left after the refund.
    #[serde(with = "money_string")]
    pub advance_remaining: Money,
    pub reason: String,
    /// `5.10`: only the advance is paid back, never a fee already allocated.
    pub clause: &'static str,
}

impl RefundAnswer {
    fn of(refund: &AdvanceRefunded) -> Self {
        Self {
            reference: refund.reference.to_string(),
            on: refund.on,
            amount: refund.amount,
            currency: refund.amount.currency(),
            advance_remaining: refund.advance_remaining,
            reason: refund.reason.to_string(),
            clause: Clause::REFUND.as_str(),
        }
    }
}

/// The refund's answer: 201 with what it recorded; for a repeat of its reference (the
/// aggregate records nothing), 200 with what the first one recorded (`original`, read
/// before the command ran). A repeat racing its original has no `original` read yet: it
/// is answered from `requested` (the same reference, amount and date, or it would have
/// been refused) with the advance held now.
pub fn refund_answer(
    committed: &Committed,
    original: Option<&AdvanceRefunded>,
    requested: &commands::RefundAdvance,
) -> (StatusCode, RefundAnswer) {
    let recorded = committed
        .events
        .iter()
        .find_map(|envelope| match &envelope.payload {
            AgreementEvent::AdvanceRefunded(refund) => Some(refund),
            _ => None,
        });
    if let Some(refund) = recorded {
        return (StatusCode::CREATED, RefundAnswer::of(refund));
    }
    if let Some(original) = original {
        return (StatusCode::OK, RefundAnswer::of(original));
    }
    let currency = committed
        .agreement
        .currency()
        .expect("a refund is accepted on a registered agreement");
    (
        StatusCode::OK,
        RefundAnswer {
            reference: requested.reference.to_string(),
            on: requested.on,
            amount: requested.amount.in_currency(currency),
            currency,
            advance_remaining: committed
                .agreement
                .advance()
                .unwrap_or(Money::zero(currency)),
            reason: requested.reason.to_string(),
            clause: Clause::REFUND.as_str(),
        },
    )
}

/// The answer to `POST /v1/agreements/{id}/invoices/{number}/void` (BILLING.md 5.3).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VoidAnswer {
    /// The invoice's number: it stays used, never reissued.
    pub number: InvoiceNumber,
    /// Always `void`.
    #[schema(example = "void")]
    pub status: &'static str,
    #[serde(with = "business_date")]
    pub voided_on: Date,
    /// The invoice's total, cancelled.
    #[serde(with = "money_string")]
    pub total_cancelled: Money,
    /// Penalty and fine charged on it and unpaid, cancelled with it.
    #[serde(with = "money_string")]
    pub penalty_cancelled: Money,
    #[serde(with = "money_string")]
    pub fine_cancelled: Money,
    pub reason: String,
    /// `BILLING-5.3`.
    pub clause: &'static str,
}

/// The void's answer: the `InvoiceVoided` it recorded.
pub fn void_answer(committed: &Committed) -> VoidAnswer {
    let voided = committed
        .events
        .iter()
        .find_map(|envelope| match &envelope.payload {
            AgreementEvent::InvoiceVoided(voided) => Some(voided),
            _ => None,
        })
        .expect("an accepted void records InvoiceVoided");
    VoidAnswer {
        number: voided.number,
        status: "void",
        voided_on: voided.on,
        total_cancelled: voided.total,
        penalty_cancelled: voided.penalty_cancelled,
        fine_cancelled: voided.fine_cancelled,
        reason: voided.reason.to_string(),
        clause: Clause::CORRECTION.as_str(),
    }
}

/// A penalty or fine on the credited invoice that its lower penalty base no longer
/// accrues, withdrawn naming the credit note (BILLING.md 5.3).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WithdrawnChargeView {
    pub invoice_number: InvoiceNumber,
    pub kind: LateChargeKind,
    /// The date of the charge withdrawn.
    #[serde(with = "business_date")]
    pub charged_on: Date,
    #[serde(with = "money_string")]
    pub amount: Money,
    /// Of the amount, what had been paid: it became advance.
    #[serde(with = "money_string")]
    pub moved_to_advance: Money,
}

/// The answer to `POST /v1/agreements/{id}/invoices/{number}/credit-notes` (BILLING.md
/// 5.3).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreditNoteAnswer {
    /// Its own number, the next of the operator's one gapless series.
    pub number: InvoiceNumber,
    pub related_invoice: InvoiceNumber,
    #[serde(with = "business_date")]
    pub issued_on: Date,
    /// The lines credited, when given by lines; empty when credited by a net amount.
    pub lines: Vec<InvoiceLineView>,
    #[serde(with = "money_string")]
    pub net: Money,
    /// The related invoice's own VAT rate as a fraction (`"0.16"`, §5.11), written as
    /// the invoice's answer writes it.
    #[serde(with = "rust_decimal::serde::str")]
    pub vat_rate: Decimal,
    #[serde(with = "money_string")]
    pub vat: Money,
    #[serde(with = "money_string")]
    pub total: Money,
    pub currency: Currency,
    /// Of the total, what the invoice had been paid beyond what it owes now: advance.
    #[serde(with = "money_string")]
    pub to_advance: Money,
    /// The related invoice's principal outstanding after the credit note.
    #[serde(with = "money_string")]
    pub related_invoice_outstanding: Money,
    /// The charges its lower penalty base withdrew.
    pub withdrawn: Vec<WithdrawnChargeView>,
    pub reason: String,
    /// `BILLING-5.3`.
    pub clause: &'static str,
}

/// The credit note's answer: the `CreditNoteIssued` it recorded, the charges withdrawn
/// naming it, and the related invoice as it stands after it.
pub fn credit_note_answer(committed: &Committed) -> CreditNoteAnswer {
    let issued = committed
        .events
        .iter()
        .find_map(|envelope| match &envelope.payload {
            AgreementEvent::CreditNoteIssued(issued) => Some(issued),
            _ => None,
        })
        .expect("an accepted credit note records CreditNoteIssued");
    let withdrawn = committed
        .events
        .iter()
        .filter_map(|envelope| match &envelope.payload {
            AgreementEvent::LateChargeWithdrawn(withdrawn)
                if withdrawn.credit_note == Some(issued.number) =>
            {
                Some(WithdrawnChargeView {
                    invoice_number: withdrawn.invoice_number,
                    kind: withdrawn.kind,
                    charged_on: withdrawn.charged_on,
                    amount: withdrawn.amount,
                    moved_to_advance: withdrawn.moved_to_advance,
                })
            }
            _ => None,
        })
        .collect();
    let related_invoice_outstanding = committed
        .agreement
        .invoice(issued.related_invoice)
        .map_or(Money::zero(issued.currency), |invoice| {
            invoice.principal_outstanding()
        });
    CreditNoteAnswer {
        number: issued.number,
        related_invoice: issued.related_invoice,
        issued_on: issued.issued_on,
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
        to_advance: issued.to_advance,
        related_invoice_outstanding,
        withdrawn,
        reason: issued.reason.to_string(),
        clause: Clause::CORRECTION.as_str(),
    }
}

#[cfg(test)]
mod tests {
    use cqrs_es::{Aggregate, EventEnvelope};
    use serde_json::{json, Value};

    use aggregates::ParticipantAgreement;

    use super::*;

    fn event(tagged: Value) -> AgreementEvent {
        serde_json::from_value(tagged).expect("an event")
    }

    fn kzt(amount: &str) -> Value {
        json!({"amount": amount, "currency": "KZT"})
    }

    /// A registered agreement holding 1,000.00 of advance, and what a command recorded
    /// on it (`recorded`, applied too).
    fn committed(recorded: Vec<AgreementEvent>) -> Committed {
        let mut agreement = ParticipantAgreement::default();
        let history = [
            event(json!({"Registered": {"participant_id": "150240008272",
                "name": "ТОО «Ромашка»", "kind": "legal_entity", "resident": true,
                "currency": "KZT", "email": "buh@romashka.kz", "registered_on": "2026-01-05"}})),
            event(
                json!({"PaymentReceived": {"reference": "OVER-1", "received_on": "2026-02-05",
                "amount": kzt("1000.00"), "named_invoice": null, "allocations": [],
                "advance": kzt("1000.00")}}),
            ),
        ];
        for event in history.into_iter().chain(recorded.iter().cloned()) {
            agreement.apply(event);
        }
        Committed {
            events: recorded
                .into_iter()
                .enumerate()
                .map(|(index, payload)| EventEnvelope {
                    aggregate_id: "150240008272".to_owned(),
                    sequence: 3 + index,
                    payload,
                    metadata: Default::default(),
                })
                .collect(),
            agreement,
        }
    }

    fn refunded(amount: &str, advance_remaining: &str) -> AgreementEvent {
        event(
            json!({"AdvanceRefunded": {"reference": "REFUND-1", "amount": kzt(amount),
            "reason": "asked back", "on": "2026-02-10",
            "advance_remaining": kzt(advance_remaining)}}),
        )
    }

    fn requested() -> commands::RefundAdvance {
        serde_json::from_value(json!({"reference": "REFUND-1", "on": "2026-02-10",
            "amount": "400.00", "reason": "asked again"}))
        .unwrap()
    }

    fn answer_json(answer: &RefundAnswer) -> Value {
        serde_json::to_value(answer).unwrap()
    }

    /// §5.10: the first refund is 201 from its event; a repeat (nothing recorded) is 200
    /// with the first refund as it was recorded, the advance it left included, whatever
    /// happened since; a repeat racing its original (not read yet) falls back to the
    /// request and the advance held now.
    #[test]
    fn a_refund_is_answered_from_its_event_and_a_repeat_from_the_first_one() {
        let first = refunded("400.00", "600.00");
        let (status, answer) = refund_answer(&committed(vec![first.clone()]), None, &requested());
        assert_eq!(status, StatusCode::CREATED);
        let expected = json!({"reference": "REFUND-1", "on": "2026-02-10", "amount": "400.00",
            "currency": "KZT", "advance_remaining": "600.00", "reason": "asked back",
            "clause": "5.10"});
        assert_eq!(answer_json(&answer), expected);

        // Later another refund emptied the advance: the repeat still says 600.00 left.
        let AgreementEvent::AdvanceRefunded(original) = first.clone() else {
            unreachable!()
        };
        let mut now = committed(vec![first, refunded("600.00", "0.00")]);
        now.events.clear();
        let (status, answer) = refund_answer(&now, Some(&original), &requested());
        assert_eq!(status, StatusCode::OK);
        assert_eq!(answer_json(&answer), expected);

        let (status, answer) = refund_answer(&now, None, &requested());
        assert_eq!(status, StatusCode::OK);
        let answer = answer_json(&answer);
        assert_eq!(answer["advance_remaining"], "0.00");
        assert_eq!(answer["reason"], "asked again");
    }

    #[test]
    fn a_void_is_answered_from_its_event() {
        let issued = event(
            json!({"InvoiceVoided": {"number": "7", "total": kzt("11600.00"),
            "penalty_cancelled": kzt("12.50"), "fine_cancelled": kzt("0.00"),
            "reason": "issued by mistake", "on": "2026-02-03"}}),
        );
        let answer = serde_json::to_value(void_answer(&committed(vec![issued]))).unwrap();
        assert_eq!(
            answer,
            json!({"number": "7", "status": "void", "voided_on": "2026-02-03",
                "total_cancelled": "11600.00", "penalty_cancelled": "12.50",
                "fine_cancelled": "0.00", "reason": "issued by mistake",
                "clause": "BILLING-5.3"})
        );
    }
}
