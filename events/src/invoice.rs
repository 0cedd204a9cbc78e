//! Invoice numbers, kinds and line quantities.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Clause;

/// An invoice number: unique and gapless across the whole operator (an accounting
/// requirement, DOMAIN.md), handed out by the event store in the same transaction that
/// records the invoice. In JSON a string of digits (`"42"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InvoiceNumber(u64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not an invoice number: invoice numbers are positive whole numbers such as \"42\""
)]
pub struct InvoiceNumberError(pub String);

impl InvoiceNumber {
    /// The first number the operator hands out.
    pub const FIRST: InvoiceNumber = InvoiceNumber(1);

    pub fn new(value: u64) -> Result<Self, InvoiceNumberError> {
        if value == 0 {
            Err(InvoiceNumberError(value.to_string()))
        } else {
            Ok(Self(value))
        }
    }

    pub fn parse(text: &str) -> Result<Self, InvoiceNumberError> {
        if text.is_empty() || text.len() > 19 || !text.chars().all(|c| c.is_ascii_digit()) {
            return Err(InvoiceNumberError(text.to_owned()));
        }
        let value = text
            .parse()
            .map_err(|_| InvoiceNumberError(text.to_owned()))?;
        Self::new(value)
    }

    pub fn value(self) -> u64 {
        self.0
    }

    /// The number after this one.
    pub fn next(self) -> Option<Self> {
        self.0.checked_add(1).map(Self)
    }
}

impl fmt::Display for InvoiceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// In JSON (events, the API) a string such as `"42"`; in compact binary forms (the stored
/// projection) the bare number.
impl Serialize for InvoiceNumber {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(&self.0)
        } else {
            serializer.serialize_u64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for InvoiceNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = InvoiceNumber;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an invoice number such as \"42\"")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<InvoiceNumber, E> {
                InvoiceNumber::parse(text).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<InvoiceNumber, E> {
                InvoiceNumber::new(value).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<InvoiceNumber, E> {
                u64::try_from(value)
                    .map_err(|_| E::custom(InvoiceNumberError(value.to_string())))
                    .and_then(|value| InvoiceNumber::new(value).map_err(E::custom))
            }
        }
        if deserializer.is_human_readable() {
            deserializer.deserialize_any(Visitor)
        } else {
            deserializer.deserialize_u64(Visitor)
        }
    }
}

/// What an invoice is for, which decides when it falls due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceKind {
    /// Prepayment for a volume of services over a period (§1.15); due in 5 banking days (§5.4).
    Subscription,
    /// Services rendered first and paid after; due in 3 working days (§5.8).
    Credit,
    /// Consumption beyond the plan's volume (§4.1), billed after the fact and so due like
    /// services on credit: 3 working days (§5.8).
    Usage,
}

impl InvoiceKind {
    /// The clause that sets this kind's payment term.
    pub fn due_clause(self) -> Clause {
        match self {
            Self::Subscription => Clause::SUBSCRIPTION_DUE,
            Self::Credit | Self::Usage => Clause::CREDIT_DUE,
        }
    }

    /// As in JSON: `subscription`, `credit`, `usage`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Subscription => "subscription",
            Self::Credit => "credit",
            Self::Usage => "usage",
        }
    }
}

impl std::fmt::Display for InvoiceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A positive quantity on an invoice line, with at most 3 decimals and at most
/// [`Quantity::MAX`]. In JSON a whole number or a decimal string (`2`, `"1.5"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quantity(Decimal);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a quantity: a positive number with at most 3 decimals, at most 1000000")]
pub struct QuantityError(pub String);

impl Quantity {
    pub const SCALE_MAX: u32 = 3;
    pub const MAX: u32 = 1_000_000;

    pub fn new(value: Decimal) -> Result<Self, QuantityError> {
        let value = value.normalize();
        if value <= Decimal::ZERO
            || value.scale() > Self::SCALE_MAX
            || value > Decimal::from(Self::MAX)
        {
            return Err(QuantityError(value.to_string()));
        }
        Ok(Self(value))
    }

    pub fn parse(text: &str) -> Result<Self, QuantityError> {
        if !text.chars().all(|c| c.is_ascii_digit() || c == '.') {
            return Err(QuantityError(text.to_owned()));
        }
        Decimal::from_str(text)
            .map_err(|_| QuantityError(text.to_owned()))
            .and_then(Self::new)
    }

    pub fn value(self) -> Decimal {
        self.0
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Quantity;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a quantity: a whole number such as 2, or a decimal string such as \"1.5\"",
                )
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Quantity, E> {
                Quantity::parse(text).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<Quantity, E> {
                Quantity::new(Decimal::from(value)).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<Quantity, E> {
                Quantity::new(Decimal::from(value)).map_err(E::custom)
            }
            fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<Quantity, E> {
                Err(E::custom(format!(
                    "fractional quantities are written as strings (\"{value}\"), not JSON numbers"
                )))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoice_numbers_are_positive_digits() {
        assert_eq!(InvoiceNumber::parse("42").unwrap().value(), 42);
        for bad in ["0", "", "-1", "4 2", "x", "99999999999999999999"] {
            assert!(InvoiceNumber::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            serde_json::to_string(&InvoiceNumber::new(7).unwrap()).unwrap(),
            "\"7\""
        );
        assert_eq!(
            serde_json::from_str::<InvoiceNumber>("7").unwrap().value(),
            7
        );
    }

    #[test]
    fn quantities() {
        assert_eq!(
            serde_json::from_str::<Quantity>("2").unwrap().to_string(),
            "2"
        );
        assert_eq!(
            serde_json::from_str::<Quantity>("\"1.500\"")
                .unwrap()
                .to_string(),
            "1.5"
        );
        for bad in ["0", "-1", "\"1.0001\"", "1.5", "2000000", "\"abc\""] {
            assert!(serde_json::from_str::<Quantity>(bad).is_err(), "{bad}");
        }
    }
}
