//! Why a query on the projection could not be answered.

use time::Date;

use aggregates::late_payment::LatePaymentError;
use events::MoneyError;

/// Why a query could not be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProjectionError {
    #[error("no agreement is registered for this participant as of {0}")]
    NotRegisteredAsOf(Date),
    #[error("the period runs backwards: from {from} to {to}")]
    PeriodReversed { from: Date, to: Date },
    #[error(transparent)]
    LatePayment(#[from] LatePaymentError),
    #[error("amounts do not add up: {0}")]
    Money(#[from] MoneyError),
    /// An explained figure whose terms do not add up to it: a bug, never an answer.
    #[error("the terms of `{figure}` add up to {terms}, not to its {amount}")]
    Unexplained {
        figure: &'static str,
        amount: String,
        terms: String,
    },
}
