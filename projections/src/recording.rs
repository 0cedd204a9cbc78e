//! How an event becomes the ledger's dated facts: most record one fact on their business
//! date; a payment recorded late and a withdrawal of a paid charge are placed by folding
//! the facts recorded before them, so that no as-of view ever shows money paid beyond
//! what is owed (BILLING.md 5.1).

use time::Date;

use aggregates::ParticipantAgreement;
use events::{
    AgreementEvent, InvoiceNumber, LateChargeKind, Money, MoneyError, PaymentAllocation,
    SettledPart,
};

use crate::facts::{DatedFact, LedgerFact, WithdrawalReason};
use crate::position::AgreementPosition;

/// The facts `event` records, each with its effective date, given the agreement as it
/// was before the event and the facts recorded before it. Most events record one fact on
/// their business date; two split:
/// - a payment recorded late (BILLING.md 5.1) is allocated to what is open when it is
///   recorded, which may have opened after the day it is posted: an invoice issued
///   later, a charge dated later, a principal reopened by a later reversal. That part of
///   it is advance until the day it opened, when an `AdvanceApplied` fact applies it (see
///   [`payment_facts`]);
/// - a withdrawal is effective on the charge's date, and what had been paid of the
///   charge returns to the advance as of each day it was paid (see [`releases`]).
pub(crate) fn facts_of(
    event: &AgreementEvent,
    before: &ParticipantAgreement,
    recorded: &[DatedFact],
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
        AgreementEvent::PaymentReceived(e) => return payment_facts(e, recorded),
        AgreementEvent::AdvanceApplied(e) => LedgerFact::AdvanceApplied {
            invoice_number: e.invoice_number,
            part: e.part,
            amount: e.amount,
            payment: None,
            received_on: None,
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
            let withdrawn_on = e.posted_on.unwrap_or(event.business_date());
            let mut facts = vec![(
                withdrawn_on,
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
                    event_on: event.business_date(),
                },
            )];
            for (on, amount) in releases(e, withdrawn_on, recorded)? {
                facts.push((
                    on,
                    LedgerFact::ChargePaymentReleased {
                        invoice_number: e.invoice_number,
                        kind: e.kind,
                        amount,
                        event_on: event.business_date(),
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

/// A payment's facts (BILLING.md 5.1). Its allocation was decided on what is open when it
/// was recorded; folded in effective-date order, each part settles on the posting date
/// only what is open then *and stays open on every later date* (as the facts recorded so
/// far have it), so that no as-of view ever shows a part paid beyond what it owes. The
/// rest is advance until the first date from which it can settle without that, where an
/// `AdvanceApplied` fact naming the payment applies it. By the last recorded date every
/// part is applied whole: the fold then equals the agreement as the aggregate has it.
///
/// A payment posted on or after every recorded fact (the usual case) needs no fold.
fn payment_facts(
    e: &events::PaymentReceived,
    recorded: &[DatedFact],
) -> Result<Vec<(Date, LedgerFact)>, MoneyError> {
    let posted_on = e.posted_on.unwrap_or(e.received_on);
    let reference = e.reference.as_str();
    let payment = |allocations, advance| LedgerFact::Payment {
        reference: reference.to_owned(),
        received_on: e.received_on,
        amount: e.amount,
        allocations,
        advance,
    };
    let later_from = recorded.partition_point(|f| f.on <= posted_on);
    let currency = e.amount.currency();
    if later_from == recorded.len() {
        return Ok(vec![(posted_on, payment(e.allocations.clone(), e.advance))]);
    }

    // Each part the payment settles, with what is open of it on the posting date and on
    // each later fact date.
    let parts: Vec<(InvoiceNumber, SettledPart, Money)> = e
        .allocations
        .iter()
        .flat_map(|a| {
            [
                (a.invoice_number, SettledPart::Principal, a.principal),
                (a.invoice_number, SettledPart::Penalty, a.penalty),
                (a.invoice_number, SettledPart::Fine, a.fine),
            ]
        })
        .filter(|(_, _, amount)| amount.is_positive())
        .collect();
    let open_on = least_from_each_date(currency, recorded, posted_on, |position| {
        parts
            .iter()
            .map(|(number, part, _)| position.open(*number, *part))
            .collect()
    })?;
    // On the posting date, what can be settled then; on each later date, what more can;
    // on the last, the rest (the allocation stands whole, as recorded).
    let mut applied = parts
        .iter()
        .zip(&open_on[0].1)
        .map(|((_, _, amount), settleable)| amount.min(*settleable))
        .collect::<Result<Vec<_>, _>>()?;
    let mut advance = e.advance;
    for ((_, _, amount), settled) in parts.iter().zip(&applied) {
        advance = advance.checked_add(amount.checked_sub(*settled)?)?;
    }
    let allocations = e
        .allocations
        .iter()
        .map(|a| {
            let settled = |part| {
                parts
                    .iter()
                    .zip(&applied)
                    .find(|((number, p, _), _)| *number == a.invoice_number && *p == part)
                    .map_or(Money::zero(currency), |(_, settled)| *settled)
            };
            PaymentAllocation {
                invoice_number: a.invoice_number,
                principal: settled(SettledPart::Principal),
                penalty: settled(SettledPart::Penalty),
                fine: settled(SettledPart::Fine),
            }
        })
        .filter(|a| !(a.principal.is_zero() && a.penalty.is_zero() && a.fine.is_zero()))
        .collect();
    let mut later = Vec::new();
    let last = open_on.len() - 1;
    for (day, (on, settleable)) in open_on.iter().enumerate().skip(1) {
        for (i, (number, part, amount)) in parts.iter().enumerate() {
            let target = if day == last {
                *amount
            } else {
                amount.min(settleable[i])?
            };
            let now = target.checked_sub(applied[i])?;
            if now.is_positive() {
                applied[i] = target;
                later.push((
                    *on,
                    LedgerFact::AdvanceApplied {
                        invoice_number: *number,
                        part: *part,
                        amount: now,
                        payment: Some(reference.to_owned()),
                        received_on: Some(e.received_on),
                    },
                ));
            }
        }
    }
    let mut facts = vec![(posted_on, payment(allocations, advance))];
    facts.extend(later);
    Ok(facts)
}

/// For `from` and each later date of the recorded facts: the least that `measure` (some
/// figures of the position) gives after the facts of that date or of any later one. What
/// an entry dated `from` may take from those figures without any later as-of view going
/// below zero. Folds the agreement's facts once.
fn least_from_each_date(
    currency: events::Currency,
    recorded: &[DatedFact],
    from: Date,
    measure: impl Fn(&AgreementPosition) -> Result<Vec<Money>, MoneyError>,
) -> Result<Vec<(Date, Vec<Money>)>, MoneyError> {
    let mut figures = figures_on_each_date(currency, recorded, from, measure)?;
    for day in (0..figures.len() - 1).rev() {
        let (head, tail) = figures.split_at_mut(day + 1);
        for (figure, later) in head[day].1.iter_mut().zip(&tail[0].1) {
            *figure = figure.min(*later)?;
        }
    }
    Ok(figures)
}

/// For `from` and each later date of the recorded facts: what `measure` gives after the
/// facts of that date. Folds the agreement's facts once.
fn figures_on_each_date(
    currency: events::Currency,
    recorded: &[DatedFact],
    from: Date,
    measure: impl Fn(&AgreementPosition) -> Result<Vec<Money>, MoneyError>,
) -> Result<Vec<(Date, Vec<Money>)>, MoneyError> {
    let later_from = recorded.partition_point(|f| f.on <= from);
    let mut position = AgreementPosition::empty(currency);
    for dated in &recorded[..later_from] {
        // A fact that does not fold was left out of the ledger's views too.
        let _ = position.apply(dated);
    }
    let mut figures = vec![(from, measure(&position)?)];
    let mut index = later_from;
    while index < recorded.len() {
        let on = recorded[index].on;
        while index < recorded.len() && recorded[index].on == on {
            let _ = position.apply(&recorded[index]);
            index += 1;
        }
        figures.push((on, measure(&position)?));
    }
    Ok(figures)
}

/// What had been paid of a withdrawn charge returns to the advance (§5.5, BILLING.md
/// 5.1, 5.3): as of each date from the withdrawal's effective date on, what is paid of the
/// invoice's charges of that kind beyond what stays charged once the charge is withdrawn.
/// That changes with the facts dated after the withdrawal's effective date: the money
/// that paid the charge may have been applied later, or taken back later by a reversal.
/// Each change is a `ChargePaymentReleased` fact on its date (negative when money
/// released is taken back), so that no as-of view shows a charge paid beyond what is
/// charged; on the day the withdrawal was recorded the release is what the aggregate
/// moved to the advance.
fn releases(
    e: &events::LateChargeWithdrawn,
    withdrawn_on: Date,
    recorded: &[DatedFact],
) -> Result<Vec<(Date, Money)>, MoneyError> {
    let currency = e.amount.currency();
    let zero = Money::zero(currency);
    let excess = figures_on_each_date(currency, recorded, withdrawn_on, |position| {
        let Some(invoice) = position.invoices.get(&e.invoice_number) else {
            return Ok(vec![zero]);
        };
        let charge = match e.kind {
            LateChargeKind::Penalty => &invoice.penalty,
            LateChargeKind::Fine => &invoice.fine,
        };
        let stays = charge
            .charged
            .checked_sub(e.amount)?
            .checked_sub(charge.waived_charged)?
            .max(zero)?;
        Ok(vec![charge.paid.checked_sub(stays)?.max(zero)?])
    })?;
    let mut released = zero;
    let mut facts = Vec::new();
    for (on, figures) in excess {
        let target = if on >= e.on {
            e.moved_to_advance
        } else {
            figures[0]
        };
        let change = target.checked_sub(released)?;
        if !change.is_zero() {
            facts.push((on, change));
            released = target;
        }
    }
    // Recorded after every fact: the aggregate's release stands from then on.
    let change = e.moved_to_advance.checked_sub(released)?;
    if !change.is_zero() {
        facts.push((e.on.max(withdrawn_on), change));
    }
    Ok(facts)
}
