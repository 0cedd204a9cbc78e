//! The agreement page's money movements (INTEGRATION.md 3, "payments and allocations"):
//! every payment with what it settled (§5.5; the order of Civil Code art. 282), every
//! advance applied to a new invoice, every reversal and refund, read from the agreement's
//! events as recorded.

use maud::{html, Markup};
use time::Date;

use rust_decimal::Decimal;

use events::{AgreementEvent, PaymentAllocation, SettledPart};

use crate::application::documents::pdf::amount;

/// One movement of money on the agreement.
#[derive(Debug, Clone, PartialEq)]
pub struct Movement {
    /// The event that recorded it.
    pub sequence: i64,
    pub on: Date,
    /// The payment order, or what else moved the money.
    pub document: String,
    /// Money in (positive) or out (negative).
    pub amount: Decimal,
    /// What it settled or took back, in words.
    pub settled: Vec<String>,
    /// What went to (or came from) the advance.
    pub advance: Option<Decimal>,
    pub clause: &'static str,
    /// Set on a payment later reversed: the day of the reversal (BILLING.md 5.2).
    pub reversed_on: Option<Date>,
}

/// The money movements among `events` (sequence and payload, in order), oldest first. An
/// event that cannot be read is left out here; `GET /v1/audit/verify` reports it.
pub fn movements<'a>(
    events: impl IntoIterator<Item = (i64, &'a serde_json::Value)>,
) -> Vec<Movement> {
    let mut found: Vec<Movement> = Vec::new();
    for (sequence, payload) in events {
        let Ok(event) = serde_json::from_value::<AgreementEvent>(payload.clone()) else {
            continue;
        };
        let clause = event.clause().as_str();
        let movement =
            match event {
                AgreementEvent::PaymentReceived(payment) => Movement {
                    sequence,
                    on: payment.received_on,
                    document: format!("п/п {}", payment.reference.as_str()),
                    amount: payment.amount.amount(),
                    settled: payment.allocations.iter().map(allocation).collect(),
                    advance: (!payment.advance.is_zero()).then_some(payment.advance.amount()),
                    clause,
                    reversed_on: None,
                },
                AgreementEvent::AdvanceApplied(applied) => Movement {
                    sequence,
                    on: applied.on,
                    document: "зачёт аванса".to_owned(),
                    amount: applied.amount.amount(),
                    settled: vec![format!(
                        "счёт № {}: {} {}",
                        applied.invoice_number,
                        part_name(applied.part),
                        amount(applied.amount.amount())
                    )],
                    advance: Some(-applied.amount.amount()),
                    clause,
                    reversed_on: None,
                },
                AgreementEvent::PaymentReversed(reversal) => {
                    let reference = reversal.reference.as_str().to_owned();
                    if let Some(payment) = found.iter_mut().rev().find(|m| {
                        m.reversed_on.is_none() && m.document == format!("п/п {reference}")
                    }) {
                        payment.reversed_on = Some(reversal.on);
                    }
                    Movement {
                        sequence,
                        on: reversal.on,
                        document: format!("сторно п/п {reference}"),
                        amount: -reversal.amount.amount(),
                        settled: reversal
                            .taken_back
                            .iter()
                            .map(|a| format!("возвращено в долг: {}", allocation(a)))
                            .collect(),
                        advance: (!reversal.advance_removed.is_zero())
                            .then(|| -reversal.advance_removed.amount()),
                        clause,
                        reversed_on: None,
                    }
                }
                AgreementEvent::AdvanceRefunded(refund) => Movement {
                    sequence,
                    on: refund.on,
                    document: format!("возврат аванса, п/п {}", refund.reference.as_str()),
                    amount: -refund.amount.amount(),
                    settled: Vec::new(),
                    advance: Some(-refund.amount.amount()),
                    clause,
                    reversed_on: None,
                },
                _ => continue,
            };
        found.push(movement);
    }
    found
}

fn part_name(part: SettledPart) -> &'static str {
    match part {
        SettledPart::Principal => "долг",
        SettledPart::Penalty => "пеня",
        SettledPart::Fine => "штраф",
    }
}

/// "счёт № 3: долг 5 000,00, пеня 12,50", naming only the parts settled.
fn allocation(a: &PaymentAllocation) -> String {
    let mut parts = vec![];
    for (part, money) in [
        (SettledPart::Principal, a.principal),
        (SettledPart::Penalty, a.penalty),
        (SettledPart::Fine, a.fine),
    ] {
        if !money.is_zero() {
            parts.push(format!("{} {}", part_name(part), amount(money.amount())));
        }
    }
    format!("счёт № {}: {}", a.invoice_number, parts.join(", "))
}

/// The table of [`movements`], the latest first.
pub fn table(movements: &[Movement]) -> Markup {
    html! {
        div.table-wrap {
            table #payments {
                thead { tr {
                    th { "Дата" } th { "Документ" } th.money { "Сумма" } th { "Распределено (ГК ст. 282)" }
                    th.money { "Аванс" } th { "Пункт" } th { "Событие" }
                } }
                tbody {
                    @for movement in movements.iter().rev() {
                        tr.reversed[movement.reversed_on.is_some()] {
                            td { (movement.on) }
                            td {
                                (movement.document)
                                @if let Some(on) = movement.reversed_on { br; small { "сторнирован " (on) } }
                            }
                            td.money { (amount(movement.amount)) }
                            td { @for (index, line) in movement.settled.iter().enumerate() { @if index > 0 { br; } (line) } }
                            td.money { @if let Some(advance) = movement.advance { (amount(advance)) } }
                            td { "§" (movement.clause) }
                            td.money { (movement.sequence) }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kzt(text: &str) -> serde_json::Value {
        json!({"amount": text, "currency": "KZT"})
    }

    #[test]
    fn a_payment_shows_what_it_settled_and_its_reversal_marks_it() {
        let paid = json!({"PaymentReceived": {
            "reference": "PP-1", "received_on": "2026-03-02", "amount": kzt("6000.00"),
            "named_invoice": null,
            "allocations": [{"invoice_number": 1, "principal": kzt("5600.00"), "penalty": kzt("12.50"), "fine": kzt("0.00")}],
            "advance": kzt("387.50")
        }});
        let reversed = json!({"PaymentReversed": {
            "reference": "PP-1", "received_on": "2026-03-02", "amount": kzt("6000.00"),
            "taken_back": [{"invoice_number": 1, "principal": kzt("5600.00"), "penalty": kzt("12.50"), "fine": kzt("0.00")}],
            "advance_removed": kzt("387.50"), "advance_undone": [], "reason": "bank return", "on": "2026-03-05"
        }});
        let found = movements([(4, &paid), (5, &reversed)]);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(
            found[0].settled,
            ["счёт № 1: долг 5\u{a0}600,00, пеня 12,50"]
        );
        assert_eq!(
            found[0].reversed_on,
            Some(time::macros::date!(2026 - 03 - 05))
        );
        assert_eq!(found[1].amount.to_string(), "-6000.00");
        let page = table(&found).into_string();
        assert!(page.contains("сторнирован 2026-03-05"), "{page}");
    }

    #[test]
    fn other_events_are_not_money_movements() {
        let signed = json!({"AgreementSigned": {"signed_on": "2026-01-05"}});
        assert!(movements([(2, &signed)]).is_empty());
    }
}
