//! Read models: what billing staff, auditors and API consumers see, computed from the
//! agreement's events alone.
//!
//! Architecture invariant: pure like the crates below it. No I/O, no clock: a view is a
//! function of events (and, for time-based figures, of a date passed in).

mod explanation;
mod ledger;
mod views;

pub use explanation::{
    BalanceExplanation, EventRef, FigureExplanation, FigureExplanations, FigureTerm,
};

pub use ledger::{
    Account, AccountBalance, AgingBuckets, AgingReport, AgingRow, AgingTotals, AgreementLedger,
    AgreementPosition, BalanceView, DatedFact, DatedHeader, InvoicePosition, InvoiceStatus,
    InvoiceStatusView, JournalView, LateChargePosition, LedgerFact, PenaltyView, Posting,
    ProjectionError, StatementLine, StatementView, StoredLedgerError,
};

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
