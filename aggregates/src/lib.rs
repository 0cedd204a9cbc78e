//! The `ParticipantAgreement` aggregate: one per participant, the only place where the
//! offer's rules decide whether a command becomes events.
//!
//! Architecture invariant: this crate does no I/O and never reads the clock. Today's
//! date, the reference data and the next invoice number reach it in
//! [`AgreementServices`], built per command by the caller.

mod agreement;
mod decisions;
pub mod dunning;
mod error;
#[cfg(test)]
mod fixture;
mod force_majeure;
pub mod late_payment;
pub mod reference;
pub mod subscription;
pub mod tariffs;
pub mod usage;

use std::sync::Arc;

use time::Date;

pub use agreement::{
    AccessRestriction, AgreementStatus, Credited, ForceMajeurePeriod, InvoiceState,
    ParticipantAgreement, RecordedPayment, RecordedRefund, Registration, RestrictionKind,
    Settlement, Signing, TerminationState,
};
pub use decisions::prorated_fee;
pub use error::{AgreementError, ErrorKind};
pub use reference::ReferenceData;

/// What a command needs from outside the aggregate, passed in so that handling stays
/// pure (the cqrs-es "services" port).
#[derive(Debug, Clone)]
pub struct AgreementServices {
    /// The calendar, MRP, VAT and exchange-rate tables.
    pub reference: Arc<ReferenceData>,
    /// Today's date in Kazakhstan: business dates after it are refused.
    pub today: Date,
    /// The invoice number the event store will hand out if this command commits. Only
    /// an `IssueInvoice` or `IssueCreditNote` command needs one (one gapless series); the store refuses the commit if another
    /// invoice took it meanwhile, and the command is retried with the next.
    pub next_invoice_number: Option<events::InvoiceNumber>,
    /// The last day of the latest month the operator closed (BILLING.md 5.4): no entry
    /// dated on or before it is recorded, except a bank payment, posted on the day after.
    pub closed_through: Option<Date>,
    /// The tariff catalog (BILLING.md 2): what subscriptions name and the billing run
    /// prices with. Only the subscription and billing commands read it; others may get
    /// an empty or stale one.
    pub tariffs: Arc<tariffs::TariffCatalog>,
}

impl AgreementServices {
    /// The first day not in a closed month, when a month is closed.
    pub fn first_open_day(&self) -> Option<Date> {
        self.closed_through.and_then(|day| day.next_day())
    }
}
