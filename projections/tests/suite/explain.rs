//! The explained balance over random histories (proptest): for every agreement and every
//! date, each figure of `GET /v1/agreements/{id}/balance?explain=true` is exactly the sum
//! of its terms, the figures are the plain balance's, and every source names a real event
//! of the history (its sequence, type and business date), dated up to the as-of date.
//!
//! The histories are those of `properties.rs` (KZT and USD agreements, invoices of every
//! kind, named and unnamed payments, repeated bank messages, charges, waivers of charged
//! and uncharged parts, advances, restrictions, terminations, early signatures): the
//! generator is shared with it in `common/mod.rs`.

use std::collections::{BTreeSet, HashMap};

use proptest::prelude::*;
use time::Date;

use events::{AgreementEvent, Clause, InvoiceNumber, Money};
use projections::BalanceExplanation;

use crate::common::*;

// ---------------------------------------------------------------------------------------
// Properties

/// The clauses an explanation may name: the constants of `events::Clause` that apply to
/// money, nothing made up.
fn known_clauses() -> BTreeSet<&'static str> {
    [
        Clause::SUBSCRIPTION_DUE,
        Clause::CREDIT_DUE,
        Clause::PAYMENT_MOMENT,
        Clause::LATE_PAYMENT,
        Clause::VAT,
        Clause::ALLOCATION,
        Clause::REVERSAL,
        Clause::REFUND,
        Clause::CORRECTION,
    ]
    .map(Clause::as_str)
    .into()
}

/// Whether `event` is about invoice `number`.
fn concerns(event: &AgreementEvent, number: InvoiceNumber) -> bool {
    match event {
        AgreementEvent::InvoiceIssued(e) => e.number == number,
        AgreementEvent::PaymentReceived(e) => {
            e.allocations.iter().any(|a| a.invoice_number == number)
        }
        AgreementEvent::AdvanceApplied(e) => e.invoice_number == number,
        AgreementEvent::PenaltyCharged(e) => e.invoice_number == number,
        AgreementEvent::FineCharged(e) => e.invoice_number == number,
        AgreementEvent::LateChargeWaived(e) => e.invoice_number == number,
        AgreementEvent::LateChargeWithdrawn(e) => e.invoice_number == number,
        AgreementEvent::PaymentReversed(e) => {
            e.taken_back.iter().any(|a| a.invoice_number == number)
                || e.advance_undone.iter().any(|u| u.invoice_number == number)
        }
        AgreementEvent::InvoiceVoided(e) => e.number == number,
        AgreementEvent::CreditNoteIssued(e) => e.related_invoice == number,
        _ => false,
    }
}

/// Everything the explained balance promises, for one history and one date.
fn explained_balance_holds(recorded: &Recorded, as_of: Date) -> Result<(), TestCaseError> {
    let ledger = ledger_of(&recorded.events);
    let reference = reference();
    let (plain, explained) = match (
        ledger.balance(as_of, &reference),
        ledger.explain_balance(as_of, &reference),
    ) {
        (Ok(plain), Ok(explained)) => (plain, explained),
        (Err(plain), Err(explained)) => {
            prop_assert_eq!(plain, explained);
            prop_assert!(as_of < registered_on(&recorded.events));
            return Ok(());
        }
        (plain, explained) => {
            return Err(TestCaseError::fail(format!(
                "plain {plain:?} but explained {explained:?}"
            )))
        }
    };
    prop_assert_eq!(&explained.balance, &plain);

    // On the wire: the plain answer's fields, in its order, then `explanation`.
    let plain_text = serde_json::to_string(&plain).unwrap();
    let explained_text = serde_json::to_string(&explained).unwrap();
    let open = &plain_text[..plain_text.len() - 1];
    prop_assert!(explained_text.starts_with(open), "{}", explained_text);
    let rest = &explained_text[open.len()..];
    prop_assert!(rest.starts_with(",\"explanation\":{"), "{}", rest);
    let plain_json = serde_json::to_value(&plain).unwrap();

    let events: HashMap<u64, &AgreementEvent> =
        recorded.events.iter().map(|(s, e)| (*s, e)).collect();
    let known = known_clauses();
    let zero = Money::zero(recorded.currency);
    let figures = explained.explanation.all();
    for figure in figures {
        // The invariant: the terms add up exactly to the figure, which is the balance's.
        let sum = figure.terms.iter().fold(zero, |sum, t| add(sum, t.amount));
        prop_assert_eq!(sum, figure.amount, "{}", figure.figure);
        prop_assert_eq!(
            &plain_json[figure.figure],
            &serde_json::Value::from(figure.amount.to_json_string())
        );
        prop_assert!(known.contains(figure.clause), "{}", figure.clause);
        for term in &figure.terms {
            prop_assert!(known.contains(term.clause), "{:?}", term);
            prop_assert_eq!(term.amount.currency(), recorded.currency);
            prop_assert!(!term.what.is_empty());
            if figure.figure == "total_due" {
                prop_assert!(term.figure.is_some() && term.sources.is_empty());
                continue;
            }
            prop_assert!(term.figure.is_none());
            prop_assert!(!term.sources.is_empty(), "{:?}", term);
            let sequences: Vec<u64> = term.sources.iter().map(|s| s.sequence).collect();
            prop_assert!(sequences.windows(2).all(|w| w[0] < w[1]), "{:?}", term);
            for source in &term.sources {
                let Some(event) = events.get(&source.sequence) else {
                    return Err(TestCaseError::fail(format!("no event {}", source.sequence)));
                };
                prop_assert_eq!(source.event_type, event.type_name());
                prop_assert_eq!(
                    source.on,
                    event.business_date(),
                    "{:?} in {:?}",
                    source,
                    term
                );
                prop_assert!(source.on <= as_of);
                prop_assert!(source.hash.is_none());
            }
            if let Some(number) = term.invoice_number {
                prop_assert!(
                    concerns(events[&term.sources[0].sequence], number),
                    "{:?}",
                    term
                );
            }
        }
    }

    // total_due is the three figures it sums.
    let named: Vec<_> = explained
        .explanation
        .total_due
        .terms
        .iter()
        .map(|t| (t.figure, t.amount))
        .collect();
    prop_assert_eq!(
        named,
        vec![
            (Some("outstanding"), plain.outstanding),
            (Some("penalties_owed"), plain.penalties_owed),
            (Some("fines_owed"), plain.fines_owed),
        ]
    );

    // One accrual term per late invoice, from its issue and, once paid in full, the
    // event that completed its principal (dated the day it was paid in full).
    let invoices = ledger.invoices(as_of, &reference).unwrap();
    let late: Vec<_> = invoices.iter().filter(|v| v.days_late > 0).collect();
    for accrued in [
        &explained.explanation.penalties_accrued,
        &explained.explanation.fines_accrued,
    ] {
        prop_assert_eq!(accrued.terms.len(), late.len());
        for (term, view) in accrued.terms.iter().zip(&late) {
            prop_assert_eq!(term.invoice_number, Some(view.number));
            prop_assert_eq!(term.sources[0].event_type, "InvoiceIssued");
            let paid = view.paid_in_full_on.filter(|paid| *paid <= as_of);
            prop_assert_eq!(term.sources.len(), 1 + usize::from(paid.is_some()));
            if let Some(paid) = paid {
                // Paid in full on the money that completed it, or (owing nothing after
                // its credit notes) on its issue, by the credit note (BILLING.md 5.3).
                if term.sources[1].event_type != "CreditNoteIssued" {
                    prop_assert_eq!(term.sources[1].on, paid);
                }
            }
        }
    }

    // Hashes are filled by sequence.
    let hashed: BalanceExplanation = explained
        .clone()
        .with_hashes(|sequence| Some(format!("h{sequence}")));
    for figure in hashed.explanation.all() {
        for source in figure.terms.iter().flat_map(|t| &t.sources) {
            prop_assert_eq!(source.hash.clone(), Some(format!("h{}", source.sequence)));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        .. ProptestConfig::default()
    })]

    /// Every figure is exactly the sum of its terms, for random histories and dates.
    #[test]
    fn every_figure_is_the_sum_of_its_terms(plan in plan(), pick in as_of()) {
        let recorded = record(&plan);
        let as_of = pick.on(&recorded.events);
        explained_balance_holds(&recorded, as_of)?;
    }

    /// The same with payments recorded late (BILLING.md 5.1): a part held as advance
    /// until what it settles opened is a term of its own.
    #[test]
    fn every_figure_is_the_sum_of_its_terms_with_late_payments(
        plan in plan_with_late_payments(),
        pick in as_of(),
    ) {
        let recorded = record(&plan);
        let as_of = pick.on(&recorded.events);
        explained_balance_holds(&recorded, as_of)?;
    }

    /// The same with the signature recorded after other commands.
    #[test]
    fn every_figure_is_the_sum_of_its_terms_with_signing_anywhere(
        plan in plan_signing_anywhere(),
        pick in as_of(),
    ) {
        let recorded = record(&plan);
        let as_of = pick.on(&recorded.events);
        explained_balance_holds(&recorded, as_of)?;
    }
}

/// The histories explained are worth it: late invoices paid in full and not, charges,
/// waivers and advances appear in the explanations of the generated cases.
#[test]
fn explanations_cover_every_kind_of_term() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut seen: BTreeSet<&'static str> = BTreeSet::new();
    for _ in 0..64 {
        let plan = plan().new_tree(&mut runner).unwrap().current();
        let pick = as_of().new_tree(&mut runner).unwrap().current();
        let recorded = record(&plan);
        let Ok(explained) =
            ledger_of(&recorded.events).explain_balance(pick.on(&recorded.events), &reference())
        else {
            continue;
        };
        for figure in explained.explanation.all() {
            for term in &figure.terms {
                for source in &term.sources {
                    seen.insert(source.event_type);
                }
                if term.amount.is_negative() {
                    seen.insert("a negative term");
                }
                if term.sources.len() == 2 {
                    seen.insert("an accrual stopped by full payment");
                }
                if figure.figure == "penalties_accrued" && term.sources.len() == 1 {
                    seen.insert("an accrual still running");
                }
            }
        }
    }
    for kind in [
        "InvoiceIssued",
        "PaymentReceived",
        "AdvanceApplied",
        "PenaltyCharged",
        "FineCharged",
        "LateChargeWaived",
        "a negative term",
        "an accrual stopped by full payment",
        "an accrual still running",
    ] {
        assert!(seen.contains(kind), "{kind} never seen: {seen:?}");
    }
}
