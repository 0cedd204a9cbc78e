//! The example's double-entry journal.

use super::*;

#[test]
fn the_journal_balances_and_its_accounts_match_the_balance() {
    let ledger = example().ledger();
    let reference = reference();
    for on in [
        date!(2026 - 01 - 05),
        date!(2026 - 02 - 02),
        date!(2026 - 02 - 15),
        date!(2026 - 03 - 05),
        date!(2026 - 03 - 31),
        date!(2026 - 04 - 01),
        date!(2026 - 06 - 01),
        date!(2026 - 07 - 31),
    ] {
        let journal = ledger.journal(on).unwrap();
        let balance = ledger.balance(on, &reference).unwrap();
        assert_eq!(journal.as_of, on);
        assert_eq!(journal.debits, journal.credits, "{on}");
        assert_eq!(
            journal.account(Account::Receivable),
            balance.total_due,
            "{on}"
        );
        assert_eq!(
            journal.account(Account::Advance),
            zero().checked_sub(balance.advance).unwrap(),
            "{on}"
        );
        let sum = journal
            .accounts
            .iter()
            .try_fold(zero(), |s, a| s.checked_add(a.balance))
            .unwrap();
        assert_eq!(sum, zero(), "{on}");
        for account in &journal.accounts {
            assert_eq!(
                account.balance,
                account.debit.checked_sub(account.credit).unwrap()
            );
        }
    }

    let settled = ledger.journal(date!(2026 - 03 - 31)).unwrap();
    assert_eq!(settled.account(Account::Bank), kzt("21600.00"));
    assert_eq!(settled.account(Account::Receivable), zero());
    assert_eq!(settled.account(Account::Advance), minus("1250.00"));
    assert_eq!(settled.account(Account::Revenue), minus("10000.00"));
    assert_eq!(settled.account(Account::VatPayable), minus("1600.00"));
    // 139.20 charged, 39.20 waived.
    assert_eq!(settled.account(Account::PenaltyIncome), minus("100.00"));
    assert_eq!(settled.account(Account::FineIncome), minus("8650.00"));

    let end = ledger.journal(date!(2026 - 07 - 31)).unwrap();
    assert_eq!(end.account(Account::Receivable), kzt("5950.00"));
    assert_eq!(end.account(Account::Advance), zero());
    assert_eq!(end.account(Account::Revenue), minus("16000.00"));
    assert_eq!(end.account(Account::VatPayable), minus("2560.00"));
    assert_eq!(end.account(Account::PenaltyIncome), minus("340.00"));
    // Invoice 1's postings: receivable 11600.00 = revenue 10000.00 + VAT 1600.00.
    let first: Vec<_> = end
        .entries
        .iter()
        .filter(|p| p.document == "invoice 1")
        .map(|p| (p.account, p.debit, p.credit))
        .collect();
    assert_eq!(
        first,
        vec![
            (Account::Receivable, kzt("11600.00"), zero()),
            (Account::Revenue, zero(), kzt("10000.00")),
            (Account::VatPayable, zero(), kzt("1600.00")),
        ]
    );
    // PAY-3: the bank receives 10000.00, 8750.00 settles charges, 1250.00 is held.
    let pay_3: Vec<_> = end
        .entries
        .iter()
        .filter(|p| p.document == "payment PAY-3")
        .map(|p| (p.account, p.debit, p.credit))
        .collect();
    assert_eq!(
        pay_3,
        vec![
            (Account::Bank, kzt("10000.00"), zero()),
            (Account::Receivable, zero(), kzt("8750.00")),
            (Account::Advance, zero(), kzt("1250.00")),
        ]
    );
    // The uncharged waiver posts nothing.
    assert!(!end
        .entries
        .iter()
        .any(|p| p.document.contains("waiver of penalty on invoice 3")));
    assert_eq!(
        ledger.journal(date!(2026 - 01 - 04)).unwrap_err(),
        ProjectionError::NotRegisteredAsOf(date!(2026 - 01 - 04))
    );
}
