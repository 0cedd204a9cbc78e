//! The example's reconciliation statement.

use super::*;

#[test]
fn the_statement_of_a_middle_period_opens_on_the_debt_before_it() {
    let ledger = example().ledger();
    let statement = ledger
        .statement(date!(2026 - 02 - 10), date!(2026 - 03 - 31))
        .unwrap();
    assert_eq!(statement.currency, Currency::KZT);
    assert_eq!(
        (statement.from, statement.to),
        (date!(2026 - 02 - 10), date!(2026 - 03 - 31))
    );
    // Before the period: invoice 1 (11600.00) less PAY-1 (5000.00).
    assert_eq!(statement.opening, kzt("6600.00"));
    let lines: Vec<(Date, &str, Money, Money)> = statement
        .lines
        .iter()
        .map(|l| (l.date, l.document.as_str(), l.debit, l.credit))
        .collect();
    assert_eq!(
        lines,
        vec![
            (
                date!(2026 - 02 - 21),
                "payment PAY-2",
                zero(),
                kzt("6600.00")
            ),
            (
                date!(2026 - 03 - 02),
                "penalty on invoice 1",
                kzt("139.20"),
                zero()
            ),
            (
                date!(2026 - 03 - 02),
                "fine on invoice 1",
                kzt("8650.00"),
                zero()
            ),
            (
                date!(2026 - 03 - 10),
                "waiver of penalty on invoice 1",
                zero(),
                kzt("39.20")
            ),
            (
                date!(2026 - 03 - 16),
                "payment PAY-3",
                zero(),
                kzt("10000.00")
            ),
        ]
    );
    let clauses: Vec<&str> = statement.lines.iter().map(|l| l.clause).collect();
    assert_eq!(clauses, vec!["5.5", "5.9", "5.9", "5.9", "5.5"]);
    assert!(statement
        .lines
        .windows(2)
        .all(|w| w[0].sequence < w[1].sequence));
    assert_eq!(statement.debits, kzt("8789.20"));
    assert_eq!(statement.credits, kzt("16639.20"));
    // 6600.00 + 8789.20 - 16639.20: the participant is 1250.00 in credit (the advance).
    assert_eq!(statement.closing, minus("1250.00"));
}

#[test]
fn the_statement_of_the_whole_history_closes_on_the_debt_net_of_the_advance() {
    let ledger = example().ledger();
    let reference = reference();
    let whole = ledger
        .statement(date!(2026 - 01 - 01), date!(2026 - 07 - 31))
        .unwrap();
    assert_eq!(whole.opening, zero());
    // Invoices 11600.00 + 1160.00 + 5800.00, penalties 139.20 + 240.00, fine 8650.00.
    assert_eq!(whole.debits, kzt("27589.20"));
    // Payments 21600.00 and the waiver of a charged 39.20; the advance applied and the
    // waiver of an uncharged 50.00 are no documents of the statement.
    assert_eq!(whole.credits, kzt("21639.20"));
    assert_eq!(whole.lines.len(), 10);
    assert!(whole
        .lines
        .iter()
        .all(|l| !l.document.starts_with("advance")
            && l.document != "waiver of penalty on invoice 3"));
    assert_eq!(whole.closing, kzt("5950.00"));
    let balance = ledger.balance(date!(2026 - 07 - 31), &reference).unwrap();
    assert_eq!(
        whole.closing,
        balance.total_due.checked_sub(balance.advance).unwrap()
    );

    // Consecutive periods chain: each one's closing is the next one's opening.
    let first = ledger
        .statement(date!(2026 - 01 - 01), date!(2026 - 03 - 15))
        .unwrap();
    let second = ledger
        .statement(date!(2026 - 03 - 16), date!(2026 - 07 - 31))
        .unwrap();
    assert_eq!(first.closing, second.opening);
    assert_eq!(second.closing, whole.closing);
    assert_eq!(first.lines.len() + second.lines.len(), whole.lines.len());

    // A single day, and a reversed period.
    let day = ledger
        .statement(date!(2026 - 03 - 02), date!(2026 - 03 - 02))
        .unwrap();
    assert_eq!(day.lines.len(), 2);
    assert_eq!(day.closing, kzt("8789.20"));
    assert_eq!(
        ledger
            .statement(date!(2026 - 03 - 02), date!(2026 - 03 - 01))
            .unwrap_err(),
        ProjectionError::PeriodReversed {
            from: date!(2026 - 03 - 02),
            to: date!(2026 - 03 - 01)
        }
    );
    // Before registration there is no agreement to reconcile.
    assert_eq!(
        ledger
            .statement(date!(2025 - 12 - 01), date!(2026 - 01 - 04))
            .unwrap_err(),
        ProjectionError::NotRegisteredAsOf(date!(2026 - 01 - 04))
    );
}
