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

use std::collections::BTreeMap;

use serde::Serialize;
use time::Date;

use aggregates::late_payment;
use aggregates::ReferenceData;
use events::{
    Clause, FineAssessment, InvoiceKind, InvoiceNumber, LateChargeKind, Money, PenaltyAccrual,
    SettledPart,
};

use crate::ledger::{AgreementPosition, BalanceView, DatedFact, LedgerFact, ProjectionError};
use crate::money_string;

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

    /// Explains `balance`, the balance of `position` as of `as_of`, from `facts`: the
    /// facts up to `as_of` that `position` was folded from.
    pub(crate) fn new<'a>(
        balance: BalanceView,
        position: &AgreementPosition,
        facts: impl Iterator<Item = &'a DatedFact>,
        as_of: Date,
        reference: &ReferenceData,
    ) -> Result<Self, ProjectionError> {
        let mut walk = Walk::default();
        for fact in facts {
            walk.fact(fact)?;
        }
        walk.accruals(position, as_of, reference)?;
        let Walk {
            invoiced,
            paid,
            mut outstanding,
            penalties_accrued,
            mut penalties_charged,
            mut penalties_waived,
            mut penalties_owed,
            fines_accrued,
            mut fines,
            mut fines_waived,
            mut fines_owed,
            advance,
            ..
        } = walk;
        // Per-invoice figures read best grouped by invoice, in event order within each.
        for terms in [
            &mut outstanding,
            &mut penalties_charged,
            &mut penalties_waived,
            &mut penalties_owed,
            &mut fines,
            &mut fines_waived,
            &mut fines_owed,
        ] {
            terms.sort_by_key(|term| term.invoice_number);
        }
        let b = &balance;
        let total_due = [
            (
                "outstanding",
                b.outstanding,
                Clause::ALLOCATION,
                "invoice principal not yet paid",
            ),
            (
                "penalties_owed",
                b.penalties_owed,
                Clause::LATE_PAYMENT,
                "penalties charged and still owed",
            ),
            (
                "fines_owed",
                b.fines_owed,
                Clause::LATE_PAYMENT,
                "fines charged and still owed",
            ),
        ]
        .into_iter()
        .map(|(figure, amount, clause, what)| FigureTerm {
            amount,
            what: format!("{figure}: {what}"),
            clause: clause.as_str(),
            invoice_number: None,
            figure: Some(figure),
            sources: Vec::new(),
        })
        .collect();
        let explanation = FigureExplanations {
            invoiced: FigureExplanation::new(
                "invoiced",
                b.invoiced,
                "the sum of the totals of the invoices issued up to as_of; each total is its net amount plus VAT at the rate in force on its issue date (§5.11)",
                Clause::VAT,
                invoiced,
            )?,
            paid: FigureExplanation::new(
                "paid",
                b.paid,
                "the sum of the payments received up to as_of, each on the day the money reached the operator's account (§5.5)",
                Clause::PAYMENT_MOMENT,
                paid,
            )?,
            outstanding: FigureExplanation::new(
                "outstanding",
                b.outstanding,
                "per invoice: its total less the principal settled on it by payments and advances, which go to the named invoice or else the oldest open one, principal before penalties and fines (Civil Code art. 282)",
                Clause::ALLOCATION,
                outstanding,
            )?,
            penalties_accrued: FigureExplanation::new(
                "penalties_accrued",
                b.penalties_accrued,
                "per late invoice: min(round(total x 0.001 x days of delay, 2), round(total x 0.05, 2)), the days counted from the day after the due date to the day the invoice was paid in full (§5.5) or as_of; charged or not, before waivers (§5.9)",
                Clause::LATE_PAYMENT,
                penalties_accrued,
            )?,
            penalties_charged: FigureExplanation::new(
                "penalties_charged",
                b.penalties_charged,
                "the sum of the penalties the operator charged, each what had accrued by its date less what was charged or waived before (§5.9)",
                Clause::LATE_PAYMENT,
                penalties_charged,
            )?,
            penalties_waived: FigureExplanation::new(
                "penalties_waived",
                b.penalties_waived,
                "the sum of the penalties waived, charged (lowering the debt) or not yet charged (lowering what may be charged) (§5.9)",
                Clause::LATE_PAYMENT,
                penalties_waived,
            )?,
            penalties_owed: FigureExplanation::new(
                "penalties_owed",
                b.penalties_owed,
                "per invoice: the penalties charged, less what payments and advances settled of them (Civil Code art. 282) and the charged parts waived (§5.9)",
                Clause::LATE_PAYMENT,
                penalties_owed,
            )?,
            fines_accrued: FigureExplanation::new(
                "fines_accrued",
                b.fines_accrued,
                "per late invoice: 2 MRP at the MRP in force on its first day of delay, converted at the National Bank rate for an agreement in USD; charged or not, before waivers (§5.9)",
                Clause::LATE_PAYMENT,
                fines_accrued,
            )?,
            fines: FigureExplanation::new(
                "fines",
                b.fines,
                "the sum of the fines the operator charged, once per late invoice (§5.9)",
                Clause::LATE_PAYMENT,
                fines,
            )?,
            fines_waived: FigureExplanation::new(
                "fines_waived",
                b.fines_waived,
                "the sum of the fines waived, charged (lowering the debt) or not yet charged (lowering what may be charged) (§5.9)",
                Clause::LATE_PAYMENT,
                fines_waived,
            )?,
            fines_owed: FigureExplanation::new(
                "fines_owed",
                b.fines_owed,
                "per invoice: the fines charged, less what payments and advances settled of them (Civil Code art. 282) and the charged parts waived (§5.9)",
                Clause::LATE_PAYMENT,
                fines_owed,
            )?,
            advance: FigureExplanation::new(
                "advance",
                b.advance,
                "the parts of payments left over after settling everything owed, less what was applied to later invoices, penalties and fines (Civil Code art. 282)",
                Clause::ALLOCATION,
                advance,
            )?,
            total_due: FigureExplanation::new(
                "total_due",
                b.total_due,
                "outstanding + penalties_owed + fines_owed: accrued penalties and fines are owed only once charged (§5.9)",
                Clause::LATE_PAYMENT,
                total_due,
            )?,
        };
        Ok(Self {
            balance,
            explanation,
        })
    }
}

// ---------------------------------------------------------------------------------------
// The walk over the facts

/// What the walk knows of an invoice issued so far.
#[derive(Debug)]
struct IssuedInvoice {
    issued: EventRef,
    total: Money,
    principal_settled: Money,
    /// The event whose settlement completed the principal (§5.5), once it is.
    paid_in_full_by: Option<EventRef>,
}

/// The terms of each figure, collected fact by fact.
#[derive(Debug, Default)]
struct Walk {
    invoices: BTreeMap<InvoiceNumber, IssuedInvoice>,
    invoiced: Vec<FigureTerm>,
    paid: Vec<FigureTerm>,
    outstanding: Vec<FigureTerm>,
    penalties_accrued: Vec<FigureTerm>,
    penalties_charged: Vec<FigureTerm>,
    penalties_waived: Vec<FigureTerm>,
    penalties_owed: Vec<FigureTerm>,
    fines_accrued: Vec<FigureTerm>,
    fines: Vec<FigureTerm>,
    fines_waived: Vec<FigureTerm>,
    fines_owed: Vec<FigureTerm>,
    advance: Vec<FigureTerm>,
}

fn term(
    amount: Money,
    what: String,
    clause: Clause,
    invoice_number: Option<InvoiceNumber>,
    sources: Vec<EventRef>,
) -> FigureTerm {
    FigureTerm {
        amount,
        what,
        clause: clause.as_str(),
        invoice_number,
        figure: None,
        sources,
    }
}

fn negative(amount: Money) -> Result<Money, ProjectionError> {
    Ok(Money::zero(amount.currency()).checked_sub(amount)?)
}

fn kind_name(kind: InvoiceKind) -> &'static str {
    match kind {
        InvoiceKind::Subscription => "subscription",
        InvoiceKind::Credit => "credit",
        InvoiceKind::Usage => "usage",
    }
}

fn part_name(part: SettledPart) -> &'static str {
    match part {
        SettledPart::Principal => "principal",
        SettledPart::Penalty => "penalty",
        SettledPart::Fine => "fine",
    }
}

fn charged_event(kind: LateChargeKind) -> &'static str {
    match kind {
        LateChargeKind::Penalty => "PenaltyCharged",
        LateChargeKind::Fine => "FineCharged",
    }
}

fn money(amount: Money) -> String {
    amount.to_json_string()
}

impl Walk {
    fn fact(&mut self, dated: &DatedFact) -> Result<(), ProjectionError> {
        let on = dated.on;
        let source = |event_type: &'static str| EventRef {
            sequence: dated.sequence,
            event_type,
            on,
            hash: None,
        };
        match &dated.fact {
            LedgerFact::Invoice {
                number,
                kind,
                due_on,
                net,
                vat,
                total,
                ..
            } => {
                let issued = source("InvoiceIssued");
                let clause = kind.due_clause();
                let what = format!(
                    "invoice {number} ({kind}) issued on {on}, due on {due_on} ({due}): net {net} + VAT {vat} (§5.11) = {total}",
                    kind = kind_name(*kind),
                    due = clause,
                    net = money(*net),
                    vat = money(*vat),
                    total = money(*total),
                );
                self.invoiced.push(term(
                    *total,
                    what.clone(),
                    clause,
                    Some(*number),
                    vec![issued.clone()],
                ));
                self.outstanding.push(term(
                    *total,
                    what,
                    clause,
                    Some(*number),
                    vec![issued.clone()],
                ));
                // The fold keeps the last invoice of a number; numbers are unique anyway.
                self.invoices.insert(
                    *number,
                    IssuedInvoice {
                        issued,
                        total: *total,
                        principal_settled: Money::zero(total.currency()),
                        paid_in_full_by: None,
                    },
                );
            }
            LedgerFact::Payment {
                reference,
                amount,
                allocations,
                advance,
            } => {
                let received = source("PaymentReceived");
                let payment = format!("payment {reference} received on {on}");
                self.paid.push(term(
                    *amount,
                    format!("{payment}: {}", money(*amount)),
                    Clause::PAYMENT_MOMENT,
                    None,
                    vec![received.clone()],
                ));
                if advance.is_positive() {
                    self.advance.push(term(
                        *advance,
                        format!(
                            "{payment}: {} left after settling what was owed, kept as an advance",
                            money(*advance)
                        ),
                        Clause::ALLOCATION,
                        None,
                        vec![received.clone()],
                    ));
                }
                for allocation in allocations {
                    let number = allocation.invoice_number;
                    if !self.invoices.contains_key(&number) {
                        continue; // the fold ignores it too
                    }
                    for (part, settled) in [
                        (SettledPart::Principal, allocation.principal),
                        (SettledPart::Penalty, allocation.penalty),
                        (SettledPart::Fine, allocation.fine),
                    ] {
                        let what = format!(
                            "{payment} settled {} of the {} of invoice {number}",
                            money(settled),
                            part_name(part),
                        );
                        self.settle(number, part, settled, what, &received)?;
                    }
                }
            }
            LedgerFact::AdvanceApplied {
                invoice_number,
                part,
                amount,
            } => {
                let applied = source("AdvanceApplied");
                let what = format!(
                    "advance applied on {on} to the {} of invoice {invoice_number}: {}",
                    part_name(*part),
                    money(*amount),
                );
                self.advance.push(term(
                    negative(*amount)?,
                    what.clone(),
                    Clause::ALLOCATION,
                    Some(*invoice_number),
                    vec![applied.clone()],
                ));
                if self.invoices.contains_key(invoice_number) {
                    self.settle(*invoice_number, *part, *amount, what, &applied)?;
                }
            }
            LedgerFact::Charged {
                invoice_number,
                kind,
                amount,
                ..
            } => {
                if !self.invoices.contains_key(invoice_number) {
                    return Ok(());
                }
                let charged = source(charged_event(*kind));
                let what = format!(
                    "{} on invoice {invoice_number} charged on {on}: {} (what had accrued by then less what was charged or waived before; the event records the accrual)",
                    kind.code(),
                    money(*amount),
                );
                let (charges, owed) = match kind {
                    LateChargeKind::Penalty => {
                        (&mut self.penalties_charged, &mut self.penalties_owed)
                    }
                    LateChargeKind::Fine => (&mut self.fines, &mut self.fines_owed),
                };
                for terms in [charges, owed] {
                    terms.push(term(
                        *amount,
                        what.clone(),
                        Clause::LATE_PAYMENT,
                        Some(*invoice_number),
                        vec![charged.clone()],
                    ));
                }
            }
            LedgerFact::Waived {
                invoice_number,
                kind,
                charged_part,
                uncharged_part,
                reason,
                ..
            } => {
                if !self.invoices.contains_key(invoice_number) {
                    return Ok(());
                }
                let waived = source("LateChargeWaived");
                let total = charged_part.checked_add(*uncharged_part)?;
                let (all, owed) = match kind {
                    LateChargeKind::Penalty => {
                        (&mut self.penalties_waived, &mut self.penalties_owed)
                    }
                    LateChargeKind::Fine => (&mut self.fines_waived, &mut self.fines_owed),
                };
                all.push(term(
                    total,
                    format!(
                        "{} on invoice {invoice_number} waived on {on}: {} ({} of it charged, {} not yet charged); reason: {reason}",
                        kind.code(),
                        money(total),
                        money(*charged_part),
                        money(*uncharged_part),
                    ),
                    Clause::LATE_PAYMENT,
                    Some(*invoice_number),
                    vec![waived.clone()],
                ));
                if charged_part.is_positive() {
                    owed.push(term(
                        negative(*charged_part)?,
                        format!(
                            "{} charged on invoice {invoice_number} waived on {on}: {}; reason: {reason}",
                            kind.code(),
                            money(*charged_part),
                        ),
                        Clause::LATE_PAYMENT,
                        Some(*invoice_number),
                        vec![waived],
                    ));
                }
            }
            // No money moves; the accrual terms name the days it exempts (§8.1).
            LedgerFact::ForceMajeureDeclared { .. } | LedgerFact::ForceMajeureEnded { .. } => {}
        }
        Ok(())
    }

    /// Money (a payment's allocation or an advance) settled `part` of an issued invoice.
    fn settle(
        &mut self,
        number: InvoiceNumber,
        part: SettledPart,
        amount: Money,
        what: String,
        source: &EventRef,
    ) -> Result<(), ProjectionError> {
        let Some(invoice) = self.invoices.get_mut(&number) else {
            return Ok(());
        };
        if part == SettledPart::Principal {
            invoice.principal_settled = invoice.principal_settled.checked_add(amount)?;
            if invoice.paid_in_full_by.is_none() && invoice.principal_settled == invoice.total {
                invoice.paid_in_full_by = Some(source.clone());
            }
        }
        if amount.is_zero() {
            return Ok(());
        }
        let terms = match part {
            SettledPart::Principal => &mut self.outstanding,
            SettledPart::Penalty => &mut self.penalties_owed,
            SettledPart::Fine => &mut self.fines_owed,
        };
        terms.push(term(
            negative(amount)?,
            what,
            Clause::ALLOCATION,
            Some(number),
            vec![source.clone()],
        ));
        Ok(())
    }

    /// One term per late invoice for what §5.9 lets accrue as of `as_of`.
    fn accruals(
        &mut self,
        position: &AgreementPosition,
        as_of: Date,
        reference: &ReferenceData,
    ) -> Result<(), ProjectionError> {
        for invoice in position.invoices.values() {
            let facts = invoice.delay_facts(&position.force_majeure);
            let penalty = late_payment::penalty(&facts, as_of)?;
            // Late, even when every day of delay was force majeure (§8.1).
            if penalty.days + penalty.force_majeure_days == 0 {
                continue;
            }
            // A pending fine (its MRP not yet published) has no figure to explain: the
            // balance lists it under `fines_pending` (BILLING.md 1).
            let fine = match invoice.fine_figure(&facts, as_of, reference)? {
                late_payment::FineFigure::Assessed(fine) => Some(fine),
                late_payment::FineFigure::Pending(_) => None,
            };
            let mut sources = Vec::new();
            if let Some(issued) = self.invoices.get(&invoice.number) {
                sources.push(issued.issued.clone());
                sources.extend(issued.paid_in_full_by.clone());
            }
            self.penalties_accrued.push(term(
                penalty.amount,
                penalty_words(&penalty),
                Clause::LATE_PAYMENT,
                Some(invoice.number),
                sources.clone(),
            ));
            if let Some(fine) = fine {
                self.fines_accrued.push(term(
                    fine.amount,
                    fine_words(&fine),
                    Clause::LATE_PAYMENT,
                    Some(invoice.number),
                    sources,
                ));
            }
        }
        Ok(())
    }
}

/// The §5.9 penalty arithmetic in words.
fn penalty_words(penalty: &PenaltyAccrual) -> String {
    let day = |date: Option<Date>| date.map(|d| d.to_string()).unwrap_or_default();
    let until = if penalty.paid_in_full {
        format!("paid in full on {} (§5.5)", day(penalty.to))
    } else {
        "not paid in full as of that day".to_owned()
    };
    let product = format!(
        "{} x {} x {} day(s)",
        money(penalty.base),
        penalty.rate_per_day,
        penalty.days
    );
    let raw = Money::rounded(
        penalty.base.amount() * penalty.rate_per_day * rust_decimal::Decimal::from(penalty.days),
        penalty.base.currency(),
    );
    let arithmetic = match (penalty.capped, raw) {
        (false, _) => format!("{product} = {}", money(penalty.amount)),
        (true, Ok(raw)) if raw != penalty.cap => format!(
            "{product} = {}, above the cap of {} x {} = {}: {}",
            money(raw),
            money(penalty.base),
            penalty.cap_rate,
            money(penalty.cap),
            money(penalty.amount),
        ),
        (true, _) => format!(
            "{product}, capped at {} x {} = {}: {}",
            money(penalty.base),
            penalty.cap_rate,
            money(penalty.cap),
            money(penalty.amount),
        ),
    };
    let words = format!(
        "penalty on invoice {number}, due on {due}, {until}: days of delay {from} to {to}; {arithmetic}",
        number = penalty.invoice_number,
        due = penalty.due_on,
        from = day(penalty.from),
        to = day(penalty.to),
    );
    if penalty.force_majeure_days > 0 {
        format!(
            "{words}; §8.1: {} day(s) of force majeure in that period are not counted",
            penalty.force_majeure_days
        )
    } else {
        words
    }
}

/// The §5.9 fine arithmetic in words.
fn fine_words(fine: &FineAssessment) -> String {
    let first_day = fine
        .first_day_of_delay
        .map(|d| d.to_string())
        .unwrap_or_default();
    let mrp = fine.mrp.map(|m| m.to_string()).unwrap_or_default();
    let table = fine.mrp_table_version.as_deref().unwrap_or("");
    let in_kzt = fine
        .mrp
        .map(|m| m * rust_decimal::Decimal::from(fine.mrp_count))
        .and_then(|kzt| Money::rounded(kzt, events::Currency::KZT).ok())
        .map(money)
        .unwrap_or_default();
    let head = format!(
        "fine on invoice {number}: {count} MRP x {mrp} KZT (the MRP in force on {first_day}, the first day of delay; table {table}) = {in_kzt} KZT",
        number = fine.invoice_number,
        count = fine.mrp_count,
    );
    match &fine.exchange_rate {
        None => head,
        Some(rate) => format!(
            "{head} / {} KZT per USD (National Bank rate of {}, from {}) = {} USD",
            rate.kzt_per_usd,
            rate.date,
            rate.source,
            money(fine.amount),
        ),
    }
}

impl crate::AgreementLedger {
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

#[cfg(test)]
mod tests {
    //! The worked example, checked by hand (KZT, VAT 16% and MRP 4,325 in 2026):
    //!
    //! | seq | date       | event                                                        |
    //! |-----|------------|--------------------------------------------------------------|
    //! | 1   | 2026-01-05 | registered                                                   |
    //! | 2   | 2026-01-06 | signed                                                       |
    //! | 3   | 2026-02-02 | invoice 1, subscription: 100000.00 + 16000.00 VAT = 116000.00, due Mon 02-09 (5 banking days, §5.4) |
    //! | 4   | 2026-02-05 | PAY-1 58000.00: half the principal, on time                  |
    //! | 5   | 2026-03-01 | PAY-2 58000.00: the rest, 20 days late (02-10 to 03-01)      |
    //! | 6   | 2026-03-02 | penalty charged: 116000.00 x 0.001 x 20 = 2320.00            |
    //! | 7   | 2026-03-03 | 500.00 of the penalty waived (all of it charged)             |
    //! | 8   | 2026-03-04 | PAY-3 2000.00: penalty 1820.00, advance 180.00               |
    //! | 9   | 2026-03-05 | fine charged: 2 x 4325 = 8650.00                             |
    //! | 10  | 2026-03-05 | the advance 180.00 applied to the fine                       |

    use std::sync::Arc;

    use cqrs_es::Aggregate;
    use time::macros::date;

    use aggregates::{AgreementServices, ParticipantAgreement};
    use commands::{
        AgreementCommand, ChargeLatePayment, InvoiceLineRequest, IssueInvoice, ReceivePayment,
        Register, SignAgreement, WaiveLatePayment,
    };
    use events::{
        Amount, Currency, EmailAddress, LineDescription, ParticipantId, ParticipantKind,
        ParticipantName, PaymentReference, Quantity, ReasonNote,
    };

    use super::*;
    use crate::AgreementLedger;

    fn kzt(text: &str) -> Money {
        Money::rounded(text.parse().unwrap(), Currency::KZT).unwrap()
    }

    fn number(n: u64) -> InvoiceNumber {
        InvoiceNumber::new(n).unwrap()
    }

    fn reference() -> Arc<ReferenceData> {
        Arc::new(ReferenceData::embedded().unwrap())
    }

    fn pay(reference: &str, on: Date, amount: &str) -> AgreementCommand {
        AgreementCommand::ReceivePayment(ReceivePayment {
            reference: PaymentReference::parse(reference).unwrap(),
            received_on: on,
            amount: Amount::parse(amount).unwrap(),
            currency: None,
            invoice_number: None,
        })
    }

    fn charge(kind: LateChargeKind, on: Date) -> AgreementCommand {
        AgreementCommand::ChargeLatePayment(ChargeLatePayment {
            invoice_number: number(1),
            kind,
            on,
        })
    }

    /// The history of the module comment, run through the aggregate's own `decide`.
    fn example() -> AgreementLedger {
        let reference = reference();
        let mut agreement = ParticipantAgreement::default();
        let mut events = Vec::new();
        let commands = [
            AgreementCommand::Register(Register {
                participant_id: ParticipantId::parse("150240008272").unwrap(),
                name: ParticipantName::parse("ТОО «Ромашка»").unwrap(),
                kind: ParticipantKind::LegalEntity,
                resident: true,
                currency: Currency::KZT,
                email: EmailAddress::parse("buh@romashka.kz").unwrap(),
                registered_on: date!(2026 - 01 - 05),
            }),
            AgreementCommand::Sign(SignAgreement {
                signed_on: date!(2026 - 01 - 06),
            }),
            AgreementCommand::IssueInvoice(IssueInvoice {
                kind: InvoiceKind::Subscription,
                issued_on: date!(2026 - 02 - 02),
                lines: vec![InvoiceLineRequest {
                    description: LineDescription::parse("E-DOC subscription").unwrap(),
                    quantity: Quantity::parse("1").unwrap(),
                    unit_price: Amount::parse("100000.00").unwrap(),
                }],
                period: None,
            }),
            pay("PAY-1", date!(2026 - 02 - 05), "58000.00"),
            pay("PAY-2", date!(2026 - 03 - 01), "58000.00"),
            charge(LateChargeKind::Penalty, date!(2026 - 03 - 02)),
            AgreementCommand::WaiveLatePayment(WaiveLatePayment {
                invoice_number: number(1),
                kind: LateChargeKind::Penalty,
                amount: Amount::parse("500.00").unwrap(),
                reason: ReasonNote::parse("goodwill: first delay").unwrap(),
                on: Some(date!(2026 - 03 - 03)),
            }),
            pay("PAY-3", date!(2026 - 03 - 04), "2000.00"),
            charge(LateChargeKind::Fine, date!(2026 - 03 - 05)),
        ];
        for command in commands {
            let services = AgreementServices {
                reference: reference.clone(),
                today: date!(2026 - 12 - 31),
                next_invoice_number: Some(number(1)),
            };
            let name = command.name();
            let decided = agreement
                .decide(command, &services)
                .unwrap_or_else(|e| panic!("{name}: {e:?}"));
            for event in decided {
                agreement.apply(event.clone());
                events.push((events.len() as u64 + 1, event));
            }
        }
        let types: Vec<_> = events.iter().map(|(_, e)| e.type_name()).collect();
        assert_eq!(
            types,
            [
                "Registered",
                "AgreementSigned",
                "InvoiceIssued",
                "PaymentReceived",
                "PaymentReceived",
                "PenaltyCharged",
                "LateChargeWaived",
                "PaymentReceived",
                "FineCharged",
                "AdvanceApplied",
            ]
        );
        AgreementLedger::from_events(events.iter().map(|(s, e)| (*s, e)))
    }

    /// A term as (amount, clause, invoice, source sequences).
    type Row = (&'static str, &'static str, Option<u64>, Vec<u64>);

    fn rows(figure: &FigureExplanation) -> Vec<(String, &'static str, Option<u64>, Vec<u64>)> {
        figure
            .terms
            .iter()
            .map(|t| {
                (
                    t.amount.to_json_string(),
                    t.clause,
                    t.invoice_number.map(InvoiceNumber::value),
                    t.sources.iter().map(|s| s.sequence).collect(),
                )
            })
            .collect()
    }

    fn check(figure: &FigureExplanation, amount: &str, clause: &str, expected: &[Row]) {
        assert_eq!(figure.amount, kzt(amount), "{}", figure.figure);
        assert_eq!(figure.clause, clause, "{}", figure.figure);
        let expected: Vec<_> = expected
            .iter()
            .map(|(a, c, i, s)| (a.to_string(), *c, *i, s.clone()))
            .collect();
        assert_eq!(rows(figure), expected, "{}", figure.figure);
        assert_eq!(figure.sum_of_terms().unwrap(), figure.amount);
    }

    #[test]
    fn every_figure_of_the_worked_example_is_its_terms() {
        let ledger = example();
        let reference = reference();
        let as_of = date!(2026 - 03 - 05);
        let explained = ledger.explain_balance(as_of, &reference).unwrap();
        assert_eq!(
            explained.balance,
            ledger.balance(as_of, &reference).unwrap()
        );
        let e = &explained.explanation;
        let one = Some(1);

        check(
            &e.invoiced,
            "116000.00",
            "5.11",
            &[("116000.00", "5.4", one, vec![3])],
        );
        assert_eq!(
            e.invoiced.terms[0].what,
            "invoice 1 (subscription) issued on 2026-02-02, due on 2026-02-09 (§5.4): net 100000.00 + VAT 16000.00 (§5.11) = 116000.00"
        );
        check(
            &e.paid,
            "118000.00",
            "5.5",
            &[
                ("58000.00", "5.5", None, vec![4]),
                ("58000.00", "5.5", None, vec![5]),
                ("2000.00", "5.5", None, vec![8]),
            ],
        );
        check(
            &e.outstanding,
            "0.00",
            "CC-282",
            &[
                ("116000.00", "5.4", one, vec![3]),
                ("-58000.00", "CC-282", one, vec![4]),
                ("-58000.00", "CC-282", one, vec![5]),
            ],
        );
        assert_eq!(
            e.outstanding.terms[2].what,
            "payment PAY-2 received on 2026-03-01 settled 58000.00 of the principal of invoice 1"
        );
        // Accrual stopped on the day PAY-2 completed the principal: its sources are the
        // invoice and that payment.
        check(
            &e.penalties_accrued,
            "2320.00",
            "5.9",
            &[("2320.00", "5.9", one, vec![3, 5])],
        );
        assert_eq!(
            e.penalties_accrued.terms[0].what,
            "penalty on invoice 1, due on 2026-02-09, paid in full on 2026-03-01 (§5.5): days of delay 2026-02-10 to 2026-03-01; 116000.00 x 0.001 x 20 day(s) = 2320.00"
        );
        check(
            &e.penalties_charged,
            "2320.00",
            "5.9",
            &[("2320.00", "5.9", one, vec![6])],
        );
        check(
            &e.penalties_waived,
            "500.00",
            "5.9",
            &[("500.00", "5.9", one, vec![7])],
        );
        check(
            &e.penalties_owed,
            "0.00",
            "5.9",
            &[
                ("2320.00", "5.9", one, vec![6]),
                ("-500.00", "5.9", one, vec![7]),
                ("-1820.00", "CC-282", one, vec![8]),
            ],
        );
        check(
            &e.fines_accrued,
            "8650.00",
            "5.9",
            &[("8650.00", "5.9", one, vec![3, 5])],
        );
        assert_eq!(
            e.fines_accrued.terms[0].what,
            format!(
                "fine on invoice 1: 2 MRP x 4325 KZT (the MRP in force on 2026-02-10, the first day of delay; table {}) = 8650.00 KZT",
                reference.mrp.version_for(2026).unwrap()
            )
        );
        check(
            &e.fines,
            "8650.00",
            "5.9",
            &[("8650.00", "5.9", one, vec![9])],
        );
        check(&e.fines_waived, "0.00", "5.9", &[]);
        check(
            &e.fines_owed,
            "8470.00",
            "5.9",
            &[
                ("8650.00", "5.9", one, vec![9]),
                ("-180.00", "CC-282", one, vec![10]),
            ],
        );
        check(
            &e.advance,
            "0.00",
            "CC-282",
            &[
                ("180.00", "CC-282", None, vec![8]),
                ("-180.00", "CC-282", one, vec![10]),
            ],
        );
        check(
            &e.total_due,
            "8470.00",
            "5.9",
            &[
                ("0.00", "CC-282", None, vec![]),
                ("0.00", "5.9", None, vec![]),
                ("8470.00", "5.9", None, vec![]),
            ],
        );
        let figures: Vec<_> = e.total_due.terms.iter().map(|t| t.figure).collect();
        assert_eq!(
            figures,
            [
                Some("outstanding"),
                Some("penalties_owed"),
                Some("fines_owed")
            ]
        );
        // The figure names are the balance's field names.
        let json = serde_json::to_value(&explained).unwrap();
        for figure in e.all() {
            assert_eq!(json[figure.figure], figure.amount.to_json_string());
            assert_eq!(json["explanation"][figure.figure]["figure"], figure.figure);
        }
    }

    #[test]
    fn while_unpaid_the_accrual_runs_to_the_date_from_the_invoice_alone() {
        let ledger = example();
        let reference = reference();
        let explained = ledger
            .explain_balance(date!(2026 - 02 - 20), &reference)
            .unwrap();
        let e = &explained.explanation;
        let one = Some(1);
        check(
            &e.outstanding,
            "58000.00",
            "CC-282",
            &[
                ("116000.00", "5.4", one, vec![3]),
                ("-58000.00", "CC-282", one, vec![4]),
            ],
        );
        // 11 days (02-10 to 02-20): 116000.00 x 0.001 x 11 = 1276.00.
        check(
            &e.penalties_accrued,
            "1276.00",
            "5.9",
            &[("1276.00", "5.9", one, vec![3])],
        );
        assert!(e.penalties_accrued.terms[0]
            .what
            .contains("not paid in full as of that day"));
        check(&e.penalties_owed, "0.00", "5.9", &[]);
        check(
            &e.total_due,
            "58000.00",
            "5.9",
            &[
                ("58000.00", "CC-282", None, vec![]),
                ("0.00", "5.9", None, vec![]),
                ("0.00", "5.9", None, vec![]),
            ],
        );
        // Before the due date nothing is late: no accrual terms.
        let early = ledger
            .explain_balance(date!(2026 - 02 - 09), &reference)
            .unwrap();
        check(&early.explanation.penalties_accrued, "0.00", "5.9", &[]);
        check(&early.explanation.fines_accrued, "0.00", "5.9", &[]);
    }

    #[test]
    fn a_capped_penalty_says_so() {
        let accrual = late_payment::penalty(
            &late_payment::InvoiceDelayFacts {
                number: number(7),
                total: kzt("11600.00"),
                due_on: date!(2026 - 02 - 09),
                paid_in_full_on: None,
                exchange_rate: None,
                force_majeure: &[],
            },
            date!(2026 - 04 - 10),
        )
        .unwrap();
        assert_eq!(
            penalty_words(&accrual),
            "penalty on invoice 7, due on 2026-02-09, not paid in full as of that day: days of delay 2026-02-10 to 2026-04-10; 11600.00 x 0.001 x 60 day(s) = 696.00, above the cap of 11600.00 x 0.05 = 580.00: 580.00"
        );
    }

    #[test]
    fn a_fine_in_usd_names_its_rate() {
        let rate = events::UsdRate {
            kzt_per_usd: "500.00".parse().unwrap(),
            date: date!(2026 - 02 - 02),
            table_version: "test".into(),
        };
        let assessed = late_payment::fine(
            &late_payment::InvoiceDelayFacts {
                number: number(9),
                total: Money::rounded("1000.00".parse().unwrap(), Currency::USD).unwrap(),
                due_on: date!(2026 - 02 - 09),
                paid_in_full_on: None,
                exchange_rate: Some(&rate),
                force_majeure: &[],
            },
            date!(2026 - 02 - 16),
            &reference(),
        )
        .unwrap();
        assert_eq!(
            fine_words(&assessed),
            format!(
                "fine on invoice 9: 2 MRP x 4325 KZT (the MRP in force on 2026-02-10, the first day of delay; table {}) = 8650.00 KZT / 500.00 KZT per USD (National Bank rate of 2026-02-02, from invoice) = 17.30 USD",
                reference().mrp.version_for(2026).unwrap()
            )
        );
    }

    #[test]
    fn hashes_are_filled_by_sequence_and_unknown_ones_stay_null() {
        let explained = example()
            .explain_balance(date!(2026 - 03 - 05), &reference())
            .unwrap();
        assert!(explained
            .explanation
            .all()
            .iter()
            .flat_map(|f| &f.terms)
            .flat_map(|t| &t.sources)
            .all(|s| s.hash.is_none()));
        let hashed =
            explained.with_hashes(|sequence| (sequence != 5).then(|| format!("hash-{sequence}")));
        let sources: Vec<_> = hashed
            .explanation
            .all()
            .iter()
            .flat_map(|f| &f.terms)
            .flat_map(|t| &t.sources)
            .cloned()
            .collect();
        assert!(!sources.is_empty());
        for source in sources {
            let expected = (source.sequence != 5).then(|| format!("hash-{}", source.sequence));
            assert_eq!(source.hash, expected);
        }
    }

    #[test]
    fn a_figure_whose_terms_do_not_add_up_is_an_error() {
        let error = FigureExplanation::new(
            "paid",
            kzt("10.00"),
            "test",
            Clause::PAYMENT_MOMENT,
            vec![term(
                kzt("9.99"),
                "one".into(),
                Clause::PAYMENT_MOMENT,
                None,
                vec![],
            )],
        )
        .unwrap_err();
        assert_eq!(
            error,
            ProjectionError::Unexplained {
                figure: "paid",
                amount: "10.00".into(),
                terms: "9.99".into(),
            }
        );
    }
}
