//! `GET /v1/agreements/{id}/balance?explain=true`: every figure of the balance with the
//! terms it is the sum of, each term with the events it comes from and the clause of the
//! offer (or of the Civil Code) that makes it, so that an auditor can walk from a total
//! down to the sentence of the contract.
//!
//! The figures are the balance's own ([`BalanceView`], computed as without `explain`);
//! the terms are collected by a second, independent walk over the same facts, and every
//! figure is checked to be exactly the sum of its terms
//! ([`ProjectionError::Unexplained`] otherwise), so an explanation never disagrees with
//! the number it explains.
//!
//! Pure like the rest of the crate: the events' hashes (kept in the store's metadata) are
//! filled in afterwards by [`BalanceExplanation::with_hashes`].

use serde::Serialize;
use time::Date;

use aggregates::ReferenceData;
use events::{Clause, InvoiceNumber, Money};

use crate::balance::BalanceView;
use crate::error::ProjectionError;
use crate::ledger::AgreementLedger;
use crate::money_string;

mod walk;
mod words;

#[cfg(test)]
mod tests;

/// An event a term comes from: its sequence in the agreement's stream (as in
/// `GET /v1/agreements/{id}/events`), its type, its business date and its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct EventRef {
    pub sequence: u64,
    /// `InvoiceIssued`, `PaymentReceived`, `AdvanceApplied`, `PenaltyCharged`,
    /// `FineCharged` or `LateChargeWaived`.
    pub event_type: &'static str,
    /// The event's business date.
    #[serde(with = "events::business_date")]
    pub on: Date,
    /// The event's hash in the agreement's hash chain (docs/audit.md); null when the
    /// stored event has none.
    pub hash: Option<String>,
}

/// One signed addend of a figure: what it is, the rule that makes it, and its events.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FigureTerm {
    /// Signed: a payment lowering what is outstanding is negative (`"-500.00"`).
    #[serde(with = "money_string")]
    pub amount: Money,
    /// The term in words, with its arithmetic.
    pub what: String,
    /// The clause that makes this term: `5.9` (the offer's §5.9), or `CC-282` (Civil Code
    /// art. 282, the order in which a payment settles debts).
    pub clause: &'static str,
    /// The invoice the term belongs to, when it belongs to one.
    pub invoice_number: Option<InvoiceNumber>,
    /// For a figure that is a sum of other figures (`total_due`): the figure this term is.
    pub figure: Option<&'static str>,
    /// The events the term comes from, oldest first.
    pub sources: Vec<EventRef>,
}

/// One figure of the balance: its amount, the rule in words, its clause, and its terms,
/// which always add up exactly to `amount`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FigureExplanation {
    /// The balance's field this explains (`outstanding`).
    pub figure: &'static str,
    #[serde(with = "money_string")]
    pub amount: Money,
    /// The arithmetic in words.
    pub rule: &'static str,
    pub clause: &'static str,
    pub terms: Vec<FigureTerm>,
}

impl FigureExplanation {
    /// The figure, checked: its terms must add up to its amount exactly.
    fn new(
        figure: &'static str,
        amount: Money,
        rule: &'static str,
        clause: Clause,
        terms: Vec<FigureTerm>,
    ) -> Result<Self, ProjectionError> {
        let sum = terms
            .iter()
            .try_fold(Money::zero(amount.currency()), |sum, term| {
                sum.checked_add(term.amount)
            })?;
        if sum != amount {
            return Err(ProjectionError::Unexplained {
                figure,
                amount: amount.to_json_string(),
                terms: sum.to_json_string(),
            });
        }
        Ok(Self {
            figure,
            amount,
            rule,
            clause: clause.as_str(),
            terms,
        })
    }

    /// The sum of the terms (equal to `amount` by construction).
    pub fn sum_of_terms(&self) -> Result<Money, events::MoneyError> {
        self.terms
            .iter()
            .try_fold(Money::zero(self.amount.currency()), |sum, term| {
                sum.checked_add(term.amount)
            })
    }
}

/// The explanation of each figure of the balance, keyed by the balance's field names and
/// in the balance's order: `explanation.outstanding` explains `outstanding`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FigureExplanations {
    pub invoiced: FigureExplanation,
    pub paid: FigureExplanation,
    pub outstanding: FigureExplanation,
    pub penalties_accrued: FigureExplanation,
    pub penalties_charged: FigureExplanation,
    pub penalties_waived: FigureExplanation,
    pub penalties_owed: FigureExplanation,
    pub fines_accrued: FigureExplanation,
    pub fines: FigureExplanation,
    pub fines_waived: FigureExplanation,
    pub fines_owed: FigureExplanation,
    pub advance: FigureExplanation,
    pub total_due: FigureExplanation,
}

impl FigureExplanations {
    /// Every figure, in the balance's order.
    pub fn all(&self) -> [&FigureExplanation; 13] {
        [
            &self.invoiced,
            &self.paid,
            &self.outstanding,
            &self.penalties_accrued,
            &self.penalties_charged,
            &self.penalties_waived,
            &self.penalties_owed,
            &self.fines_accrued,
            &self.fines,
            &self.fines_waived,
            &self.fines_owed,
            &self.advance,
            &self.total_due,
        ]
    }

    fn all_mut(&mut self) -> [&mut FigureExplanation; 13] {
        [
            &mut self.invoiced,
            &mut self.paid,
            &mut self.outstanding,
            &mut self.penalties_accrued,
            &mut self.penalties_charged,
            &mut self.penalties_waived,
            &mut self.penalties_owed,
            &mut self.fines_accrued,
            &mut self.fines,
            &mut self.fines_waived,
            &mut self.fines_owed,
            &mut self.advance,
            &mut self.total_due,
        ]
    }
}

/// `GET /v1/agreements/{id}/balance?explain=true`: the balance, field for field as
/// without `explain`, plus `explanation`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct BalanceExplanation {
    #[serde(flatten)]
    pub balance: BalanceView,
    pub explanation: FigureExplanations,
}

impl BalanceExplanation {
    /// Fills each source's `hash` from `hash_of(sequence)` (the store's metadata); a
    /// sequence it knows nothing of gets null.
    pub fn with_hashes(mut self, hash_of: impl Fn(u64) -> Option<String>) -> Self {
        for figure in self.explanation.all_mut() {
            for term in &mut figure.terms {
                for source in &mut term.sources {
                    source.hash = hash_of(source.sequence);
                }
            }
        }
        self
    }
}

impl AgreementLedger {
    /// `GET /v1/agreements/{id}/balance?explain=true`: the same balance, with the terms
    /// of each figure, their events and clauses. Hashes are left null: the caller fills
    /// them from the store with [`BalanceExplanation::with_hashes`].
    pub fn explain_balance(
        &self,
        as_of: Date,
        reference: &ReferenceData,
    ) -> Result<BalanceExplanation, ProjectionError> {
        let position = self.position(as_of)?;
        let balance = position.balance(as_of, reference)?;
        BalanceExplanation::new(
            balance,
            &position,
            self.facts.iter().take_while(|fact| fact.on <= as_of),
            as_of,
            reference,
        )
    }
}
