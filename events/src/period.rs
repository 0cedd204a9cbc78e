//! The period stream: the months the operator closed (BILLING.md 5.4). Each close is an
//! event of one operator-wide stream, hash-chained like an agreement's: a seal with the
//! digest over every chain at that moment and the month's totals per currency, so an
//! auditor can tell that a closed month's figures never changed.

use serde::{Deserialize, Serialize};
use time::Date;

use crate::{business_date, Currency, Money};

/// The aggregate type of the period stream in the event store.
pub const PERIOD_AGGREGATE_TYPE: &str = "LedgerPeriods";
/// The id of the one period stream.
pub const PERIOD_STREAM_ID: &str = "periods";
/// The version of the period events' shape.
pub const PERIOD_EVENT_VERSION: &str = "1.0";
/// The event type of a close.
pub const PERIOD_CLOSED: &str = "PeriodClosed";

/// A month's totals in one currency, from the documents posted in it (BILLING.md 5.4):
/// what its statements and journals add up to, never changed once sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodTotals {
    pub currency: Currency,
    /// Invoice totals, less credit notes and voided invoices.
    pub invoiced: Money,
    /// VAT of the invoices, less that of credit notes and voided invoices (§5.11).
    pub vat: Money,
    /// Payments, less those the bank returned and the advance refunded.
    pub paid: Money,
    /// Penalties charged, less those withdrawn or cancelled (§5.9).
    pub penalties: Money,
    /// Fines charged, less those withdrawn or cancelled (§5.9).
    pub fines: Money,
}

impl PeriodTotals {
    pub fn zero(currency: Currency) -> Self {
        let zero = Money::zero(currency);
        Self {
            currency,
            invoiced: zero,
            vat: zero,
            paid: zero,
            penalties: zero,
            fines: zero,
        }
    }
}

/// The operator closed a month (BILLING.md 5.4): from then on no document dated on or
/// before `closed_through` is recorded (a bank payment received then is posted on the
/// first open day, with its true date).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeriodClosed {
    /// The month, `YYYY-MM`.
    pub period: String,
    #[serde(with = "business_date")]
    pub from: Date,
    /// The month's last day: everything up to it is sealed.
    #[serde(with = "business_date")]
    pub closed_through: Date,
    /// SHA-256 over every agreement's chain head at the close (hex), in id order.
    pub digest: String,
    /// How many chains the digest covers.
    pub chains: u64,
    /// The month's totals per currency.
    pub totals: Vec<PeriodTotals>,
}
