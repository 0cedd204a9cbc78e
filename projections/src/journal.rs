//! `GET /v1/agreements/{id}/journal`: the double-entry postings behind the balance, and
//! the trial balance of the ledger's accounts.

use std::collections::BTreeMap;

use serde::Serialize;
use time::Date;

use events::{Currency, LateChargeKind, Money, MoneyError};

use crate::error::ProjectionError;
use crate::facts::{DatedFact, LedgerFact};
use crate::ledger::AgreementLedger;
use crate::money_string;
use crate::sum;

/// The ledger's accounts, seen from the operator's books.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Account {
    /// Money in the operator's bank account.
    Bank,
    /// What the participant owes (invoices, penalties and fines charged).
    Receivable,
    /// Services sold, net of VAT (§5.11).
    Revenue,
    /// VAT charged, owed to the state (§5.11).
    VatPayable,
    /// Penalties charged (§5.9).
    PenaltyIncome,
    /// Fines charged (§5.9).
    FineIncome,
    /// Money held for the participant (an advance).
    Advance,
}

/// One posting: a debit or a credit to one account.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Posting {
    pub sequence: u64,
    #[serde(with = "events::business_date")]
    pub date: Date,
    pub document: String,
    pub account: Account,
    #[serde(with = "money_string")]
    pub debit: Money,
    #[serde(with = "money_string")]
    pub credit: Money,
}

/// An account's totals.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AccountBalance {
    pub account: Account,
    #[serde(with = "money_string")]
    pub debit: Money,
    #[serde(with = "money_string")]
    pub credit: Money,
    /// `debit - credit`.
    #[serde(with = "money_string")]
    pub balance: Money,
}

/// `GET /v1/agreements/{id}/journal`: every posting up to a date and the trial balance.
/// Debits always equal credits; the receivable equals the balance's `total_due` and the
/// advance account (a credit) the balance's `advance`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct JournalView {
    pub currency: Currency,
    #[serde(with = "events::business_date")]
    pub as_of: Date,
    pub entries: Vec<Posting>,
    pub accounts: Vec<AccountBalance>,
    #[serde(with = "money_string")]
    pub debits: Money,
    #[serde(with = "money_string")]
    pub credits: Money,
}

impl JournalView {
    fn new(
        currency: Currency,
        as_of: Date,
        entries: Vec<Posting>,
    ) -> Result<Self, ProjectionError> {
        let zero = Money::zero(currency);
        let mut accounts: BTreeMap<Account, (Money, Money)> = BTreeMap::new();
        for posting in &entries {
            let (debit, credit) = accounts.entry(posting.account).or_insert((zero, zero));
            *debit = debit.checked_add(posting.debit)?;
            *credit = credit.checked_add(posting.credit)?;
        }
        let debits = sum(zero, entries.iter().map(|p| p.debit))?;
        let credits = sum(zero, entries.iter().map(|p| p.credit))?;
        debug_assert_eq!(debits, credits, "a journal always balances");
        let accounts = accounts
            .into_iter()
            .map(|(account, (debit, credit))| {
                Ok(AccountBalance {
                    account,
                    debit,
                    credit,
                    balance: debit.checked_sub(credit)?,
                })
            })
            .collect::<Result<_, MoneyError>>()?;
        Ok(Self {
            currency,
            as_of,
            entries,
            accounts,
            debits,
            credits,
        })
    }

    /// The balance (`debit - credit`) of one account; zero when never posted to.
    pub fn account(&self, account: Account) -> Money {
        self.accounts
            .iter()
            .find(|a| a.account == account)
            .map(|a| a.balance)
            .unwrap_or(Money::zero(self.currency))
    }
}

/// The balanced postings of one fact.
fn postings(fact: &DatedFact) -> Result<Vec<Posting>, MoneyError> {
    let posting = |document: &str, account, debit: Money, credit: Money| Posting {
        sequence: fact.sequence,
        date: fact.on,
        document: document.to_owned(),
        account,
        debit,
        credit,
    };
    let postings = match &fact.fact {
        LedgerFact::Invoice {
            number,
            net,
            vat,
            total,
            ..
        } => {
            let zero = Money::zero(total.currency());
            let document = format!("invoice {number}");
            vec![
                posting(&document, Account::Receivable, *total, zero),
                posting(&document, Account::Revenue, zero, *net),
                posting(&document, Account::VatPayable, zero, *vat),
            ]
        }
        LedgerFact::Payment {
            reference,
            amount,
            allocations,
            advance,
            ..
        } => {
            let zero = Money::zero(amount.currency());
            let document = format!("payment {reference}");
            let settled = allocations.iter().try_fold(zero, |total, a| {
                total
                    .checked_add(a.principal)?
                    .checked_add(a.penalty)?
                    .checked_add(a.fine)
            })?;
            let mut postings = vec![posting(&document, Account::Bank, *amount, zero)];
            if settled.is_positive() {
                postings.push(posting(&document, Account::Receivable, zero, settled));
            }
            if advance.is_positive() {
                postings.push(posting(&document, Account::Advance, zero, *advance));
            }
            postings
        }
        LedgerFact::AdvanceApplied {
            invoice_number,
            amount,
            ..
        } => {
            let zero = Money::zero(amount.currency());
            let document = format!("advance applied to invoice {invoice_number}");
            vec![
                posting(&document, Account::Advance, *amount, zero),
                posting(&document, Account::Receivable, zero, *amount),
            ]
        }
        LedgerFact::Charged {
            invoice_number,
            kind,
            amount,
            ..
        } => {
            let zero = Money::zero(amount.currency());
            let document = format!("{} on invoice {invoice_number}", kind.code());
            vec![
                posting(&document, Account::Receivable, *amount, zero),
                posting(&document, income_account(*kind), zero, *amount),
            ]
        }
        LedgerFact::Waived {
            invoice_number,
            kind,
            charged_part,
            ..
        } => {
            if !charged_part.is_positive() {
                Vec::new()
            } else {
                let zero = Money::zero(charged_part.currency());
                let document = format!("waiver of {} on invoice {invoice_number}", kind.code());
                vec![
                    posting(&document, income_account(*kind), *charged_part, zero),
                    posting(&document, Account::Receivable, zero, *charged_part),
                ]
            }
        }
        LedgerFact::Withdrawn {
            invoice_number,
            kind,
            amount,
            because,
            ..
        } => {
            let zero = Money::zero(amount.currency());
            let document = format!(
                "withdrawal of {} on invoice {invoice_number} ({})",
                kind.code(),
                because.words()
            );
            vec![
                posting(&document, income_account(*kind), *amount, zero),
                posting(&document, Account::Receivable, zero, *amount),
            ]
        }
        // The bank took the money back (BILLING.md 5.2): what it settled is owed again,
        // what it left as advance is no longer held.
        LedgerFact::PaymentReversed {
            reference,
            amount,
            taken_back,
            advance_removed,
            advance_undone,
            ..
        } => {
            let zero = Money::zero(amount.currency());
            let document = format!("reversal of payment {reference}");
            let mut reopened = zero;
            for taken in taken_back {
                reopened = reopened
                    .checked_add(taken.principal)?
                    .checked_add(taken.penalty)?
                    .checked_add(taken.fine)?;
            }
            for undone in advance_undone {
                reopened = reopened.checked_add(undone.amount)?;
            }
            let mut postings = vec![posting(&document, Account::Bank, zero, *amount)];
            if reopened.is_positive() {
                postings.push(posting(&document, Account::Receivable, reopened, zero));
            }
            if advance_removed.is_positive() {
                postings.push(posting(&document, Account::Advance, *advance_removed, zero));
            }
            postings
        }
        LedgerFact::AdvanceRefunded {
            reference, amount, ..
        } => {
            let zero = Money::zero(amount.currency());
            let document = format!("refund {reference} of advance");
            vec![
                posting(&document, Account::Advance, *amount, zero),
                posting(&document, Account::Bank, zero, *amount),
            ]
        }
        // The invoice's entries reversed, and the charges on it cancelled.
        LedgerFact::InvoiceVoided {
            number,
            net,
            vat,
            total,
            penalty_cancelled,
            fine_cancelled,
            ..
        } => {
            let zero = Money::zero(total.currency());
            let document = format!("cancellation of invoice {number}");
            let mut postings = vec![
                posting(&document, Account::Revenue, *net, zero),
                posting(&document, Account::VatPayable, *vat, zero),
                posting(&document, Account::Receivable, zero, *total),
            ];
            for (kind, amount) in [
                (LateChargeKind::Penalty, penalty_cancelled),
                (LateChargeKind::Fine, fine_cancelled),
            ] {
                if amount.is_positive() {
                    postings.push(posting(&document, income_account(kind), *amount, zero));
                    postings.push(posting(&document, Account::Receivable, zero, *amount));
                }
            }
            postings
        }
        // Revenue and VAT reduced; what the invoice had been paid beyond what it owes
        // now is held as advance.
        LedgerFact::CreditNote {
            number,
            related_invoice,
            net,
            vat,
            total,
            to_advance,
            ..
        } => {
            let zero = Money::zero(total.currency());
            let document = format!("credit note {number} to invoice {related_invoice}");
            let mut postings = vec![
                posting(&document, Account::Revenue, *net, zero),
                posting(&document, Account::VatPayable, *vat, zero),
            ];
            let receivable = total.checked_sub(*to_advance)?;
            if receivable.is_positive() {
                postings.push(posting(&document, Account::Receivable, zero, receivable));
            }
            if to_advance.is_positive() {
                postings.push(posting(&document, Account::Advance, zero, *to_advance));
            }
            postings
        }
        LedgerFact::ChargePaymentReleased {
            invoice_number,
            kind,
            amount,
            ..
        } => {
            let zero = Money::zero(amount.currency());
            let document = format!(
                "paid {} on invoice {invoice_number} withdrawn, returned to the advance",
                kind.code()
            );
            vec![
                posting(&document, Account::Receivable, *amount, zero),
                posting(&document, Account::Advance, zero, *amount),
            ]
        }
        // Force majeure moves no money: it only stops penalties accruing (§8.1).
        LedgerFact::ForceMajeureDeclared { .. } | LedgerFact::ForceMajeureEnded { .. } => {
            Vec::new()
        }
    };
    Ok(postings)
}

fn income_account(kind: LateChargeKind) -> Account {
    match kind {
        LateChargeKind::Penalty => Account::PenaltyIncome,
        LateChargeKind::Fine => Account::FineIncome,
    }
}

impl AgreementLedger {
    /// `GET /v1/agreements/{id}/journal`: the double-entry postings behind the balance.
    pub fn journal(&self, as_of: Date) -> Result<JournalView, ProjectionError> {
        let currency = self.registered_currency(as_of)?;
        let mut entries = Vec::new();
        for fact in self.facts.iter().take_while(|fact| fact.on <= as_of) {
            entries.extend(postings(fact)?);
        }
        JournalView::new(currency, as_of, entries)
    }
}
