//! The vocabulary of edoc-ledger and the events of a participant's agreement.
//!
//! This is the lowest crate of the workspace: everything above it speaks these types.
//! It does no I/O and never reads the clock. Every type here parses its input and keeps
//! its invariant for life ("parse, don't validate"), so code above never re-checks a
//! participant id, an amount's scale or a currency.

mod agreement_event;
mod clause;
mod invoice;
mod late_payment;
mod money;
mod month;
mod participant;
mod period;
mod reference;
mod schema;
mod tariff;
mod text;
pub mod upcast;

pub use agreement_event::{
    AdvanceApplied, AdvanceRefunded, AdvanceUndone, AgreementEvent, AgreementSigned, Blocked,
    CreditNoteIssued, DayKind, DueRule, ForceMajeureDeclared, ForceMajeureEnded, InvoiceBilling,
    InvoiceIssued, InvoiceLine, InvoiceVoided, LateChargeWithdrawn, PaymentAllocation,
    PaymentReceived, PaymentReversed, Proration, Registered, Reinstated, ServicePeriod,
    SettledPart, SubscriptionChanged, SubscriptionEnded, SubscriptionExtended, SubscriptionStarted,
    Suspended, TariffApplied, Terminated, TerminationGround, TerminationRequested, Unblocked,
    UsageBilled, UsdRate, VatApplied, AGREEMENT_EVENT_TYPES, EVENT_VERSION,
};
pub use clause::Clause;
pub use invoice::{InvoiceKind, InvoiceNumber, InvoiceNumberError, Quantity, QuantityError};
pub use late_payment::{
    FineAssessment, FineCharged, FineExchangeRate, LateChargeKind, LateChargeWaived,
    PenaltyAccrual, PenaltyCharged,
};
pub use money::{amount_max, Amount, AmountError, Currency, Money, MoneyError};
pub use month::{CalendarMonth, CalendarMonthError};
pub use participant::{ParticipantId, ParticipantIdError, ParticipantKind};
pub use period::{
    PeriodClosed, PeriodTotals, PERIOD_AGGREGATE_TYPE, PERIOD_CLOSED, PERIOD_EVENT_VERSION,
    PERIOD_STREAM_ID,
};
pub use reference::{
    ReferenceContent, ReferenceTable, ReferenceVersionPublished, REFERENCE_AGGREGATE_TYPE,
    REFERENCE_EVENT_VERSION, REFERENCE_STREAM_ID, REFERENCE_VERSION_PUBLISHED,
};
pub use tariff::{
    Prices, TariffVersionPublished, TARIFF_AGGREGATE_TYPE, TARIFF_EVENT_VERSION, TARIFF_STREAM_ID,
    TARIFF_VERSION_PUBLISHED,
};
pub use text::{
    EmailAddress, LineDescription, MetricName, ParticipantName, PaymentReference, ReasonNote,
    TariffCode, TariffName, TextError,
};

/// Why access was suspended or blocked (§4.2). Only `Overdue` is ever applied or lifted
/// automatically; the others are operator decisions and stay until an operator lifts them.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    PartialOrd,
    Ord,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RestrictionReason {
    /// An invoice is overdue (§4.2, §5.9).
    Overdue,
    /// Registration data is doubtful and under verification (§4.2).
    Verification,
    /// A violation of law or of the portal rules (§4.2).
    Violation,
    /// Announced technical works (§4.2).
    TechnicalWorks,
    /// Force majeure (§4.2, §8).
    ForceMajeure,
}

impl RestrictionReason {
    /// The clause that allows a restriction for this reason.
    pub fn clause(self) -> Clause {
        match self {
            Self::Overdue => Clause::LATE_PAYMENT,
            Self::ForceMajeure => Clause::FORCE_MAJEURE,
            Self::Verification | Self::Violation | Self::TechnicalWorks => Clause::RESTRICTION,
        }
    }

    /// The code as it appears in JSON.
    pub fn code(self) -> &'static str {
        match self {
            Self::Overdue => "overdue",
            Self::Verification => "verification",
            Self::Violation => "violation",
            Self::TechnicalWorks => "technical_works",
            Self::ForceMajeure => "force_majeure",
        }
    }
}

/// Who imposed a suspension (§5.9, DOMAIN.md "Changed on 2026-12-01" item 2): the
/// operator by hand, or the dunning sweep by the rule of the 16th day (§4.2). Neither the
/// sweep nor a payment lifts a suspension for `overdue` the operator imposed while
/// anything is overdue.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ImposedBy {
    /// By hand (`POST .../suspension`).
    Operator,
    /// By the dunning sweep (§4.2: from the 16th day overdue).
    Sweep,
}

/// Serializes and parses business dates as `YYYY-MM-DD`.
///
/// `time`'s own serde format is used for events; this module exists so that a request
/// with a bad date gets a message a person understands.
pub mod business_date {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::macros::format_description;
    use time::Date;

    const FORMAT: &[time::format_description::FormatItem<'static>] =
        format_description!("[year]-[month]-[day]");

    /// Parses `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Result<Date, String> {
        Date::parse(text, FORMAT)
            .map_err(|_| format!("`{text}` is not a calendar date written as YYYY-MM-DD"))
    }

    /// Formats as `YYYY-MM-DD`.
    pub fn format(date: Date) -> String {
        date.format(FORMAT).unwrap_or_else(|_| date.to_string())
    }

    pub fn serialize<S: Serializer>(date: &Date, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format(*date))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Date, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse(&text).map_err(serde::de::Error::custom)
    }

    /// The same for `Option<Date>`.
    pub mod option {
        use serde::{Deserialize, Deserializer, Serializer};
        use time::Date;

        pub fn serialize<S: Serializer>(date: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
            match date {
                // `serialize_some`, not the bare string: the same JSON, and what a
                // compact binary form (the stored projection) needs to read it back.
                Some(date) => s.serialize_some(&super::format(*date)),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Date>, D::Error> {
            match Option::<String>::deserialize(d)? {
                Some(text) => super::parse(&text)
                    .map(Some)
                    .map_err(serde::de::Error::custom),
                None => Ok(None),
            }
        }
    }

    /// The same for `Vec<Date>`.
    pub mod vec {
        use serde::{Deserialize, Deserializer, Serializer};
        use time::Date;

        pub fn serialize<S: Serializer>(dates: &[Date], s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(dates.iter().map(|d| super::format(*d)))
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Date>, D::Error> {
            Vec::<String>::deserialize(d)?
                .iter()
                .map(|text| super::parse(text).map_err(serde::de::Error::custom))
                .collect()
        }
    }
}
