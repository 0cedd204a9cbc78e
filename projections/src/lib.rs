//! Read models: what billing staff, auditors and API consumers see, computed from the
//! agreement's events alone.
//!
//! Architecture invariant: pure like the crates below it. No I/O, no clock: a view is a
//! function of events (and, for time-based figures, of a date passed in).
//!
//! The modules, by subject: `ledger` (the stored per-agreement projection, a cqrs-es
//! `View`) keeps the agreement's `facts` and header versions, and folds the facts up to a
//! date into a `position`; the answers built on them each have their module (`balance`,
//! `invoices`, `penalties`, `statement`, `journal`, `aging`, `explanation`); `stored` is
//! the ledger's stored form, `views` the answers of commands, `error` why a query fails.
//! Each points one way, towards `ledger`, `position` and `facts`, never back.

mod aging;
mod balance;
mod error;
mod explanation;
mod facts;
mod invoices;
mod journal;
mod ledger;
mod penalties;
mod period;
mod position;
mod recording;
mod statement;
mod stored;
mod views;

pub use aging::{AgingBuckets, AgingReport, AgingRow, AgingTotals};
pub use balance::BalanceView;
pub use error::ProjectionError;
pub use explanation::{
    BalanceExplanation, EventRef, FigureExplanation, FigureExplanations, FigureTerm,
};
pub use facts::{DatedFact, LedgerFact};
pub use invoices::{InvoiceStatus, InvoiceStatusView};
pub use journal::{Account, AccountBalance, JournalView, Posting};
pub use ledger::{AgreementLedger, DatedHeader};
pub use penalties::PenaltyView;
pub use period::add_period_totals;
pub use position::{AgreementPosition, InvoicePosition, LateChargePosition};
pub use statement::{StatementEntry, StatementLine, StatementView};
pub use stored::StoredLedgerError;

pub use views::{
    AgreementHeader, AgreementView, AllocationView, DueRuleView, InvoiceLineView, InvoiceView,
    PaymentView, RestrictionView, TerminationView,
};

/// Serializes money as API.md wants it: a JSON string with exactly 2 decimals.
pub mod money_string {
    use events::Money;
    use serde::Serializer;

    pub fn serialize<S: Serializer>(money: &Money, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&money.to_json_string())
    }

    /// The same for a figure that may be missing (a pending fine): `null` then.
    pub mod option {
        use events::Money;
        use serde::Serializer;

        pub fn serialize<S: Serializer>(
            money: &Option<Money>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match money {
                Some(money) => serializer.serialize_some(&money.to_json_string()),
                None => serializer.serialize_none(),
            }
        }
    }
}

/// The sum of `amounts`, from `zero` (the currency's zero).
pub(crate) fn sum(
    zero: events::Money,
    amounts: impl Iterator<Item = events::Money>,
) -> Result<events::Money, events::MoneyError> {
    amounts
        .into_iter()
        .try_fold(zero, |total, amount| total.checked_add(amount))
}
