//! Bounded texts: names, e-mail addresses, references and notes.
//!
//! Every text the ledger stores has a length limit and no control characters, so that a
//! request can never put a megabyte or a terminal escape into the permanent record.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("{what} must not be empty")]
    Empty { what: &'static str },
    #[error("{what} is longer than {max} characters")]
    TooLong { what: &'static str, max: usize },
    #[error("{what} contains a control character")]
    ControlCharacter { what: &'static str },
    #[error("`{0}` is not an e-mail address")]
    NotAnEmail(String),
    #[error("{what} `{text}` must start with a lowercase letter and hold only lowercase letters, digits, `-` and `_`")]
    NotACode { what: &'static str, text: String },
}

fn bounded(text: &str, what: &'static str, max: usize) -> Result<String, TextError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(TextError::Empty { what });
    }
    if trimmed.chars().count() > max {
        return Err(TextError::TooLong { what, max });
    }
    if trimmed.chars().any(char::is_control) {
        return Err(TextError::ControlCharacter { what });
    }
    Ok(trimmed.to_owned())
}

macro_rules! bounded_text {
    ($(#[$doc:meta])* $name:ident, $what:literal, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub const MAX_CHARS: usize = $max;

            pub fn parse(text: &str) -> Result<Self, TextError> {
                Self::check(text).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

bounded_text!(
    /// A participant's name as registered.
    ParticipantName, "the name", 500
);
bounded_text!(
    /// A description on an invoice line.
    LineDescription, "a line description", 500
);
bounded_text!(
    /// A bank payment's reference: unique per agreement, it is the payment's own
    /// idempotency key (a second payment with the same reference records nothing).
    PaymentReference, "the payment reference", 100
);
bounded_text!(
    /// Free text an operator gives for lifting a restriction or waiving a charge.
    ReasonNote, "the reason", 1000
);
bounded_text!(
    /// A participant's e-mail address, checked for its shape only.
    EmailAddress, "the e-mail address", 254
);

bounded_text!(
    /// A tariff's code (`standard`, `business`): what subscriptions and invoices name.
    TariffCode, "the tariff code", 40
);
bounded_text!(
    /// A usage metric (`documents`, `signatures`): what the portal counts (BILLING.md 3).
    MetricName, "the metric", 40
);
bounded_text!(
    /// A tariff's name as shown to participants ("Стандарт").
    TariffName, "the tariff name", 200
);

/// A code: a lowercase letter, then lowercase letters, digits, `-` and `_`.
fn code(text: &str, what: &'static str, max: usize) -> Result<String, TextError> {
    let text = bounded(text, what, max)?;
    let mut chars = text.chars();
    let well_formed = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if well_formed {
        Ok(text)
    } else {
        Err(TextError::NotACode { what, text })
    }
}

impl TariffCode {
    fn check(text: &str) -> Result<String, TextError> {
        code(text, "the tariff code", Self::MAX_CHARS)
    }
}
impl MetricName {
    fn check(text: &str) -> Result<String, TextError> {
        code(text, "the metric", Self::MAX_CHARS)
    }
}
impl TariffName {
    fn check(text: &str) -> Result<String, TextError> {
        bounded(text, "the tariff name", Self::MAX_CHARS)
    }
}

impl ParticipantName {
    fn check(text: &str) -> Result<String, TextError> {
        bounded(text, "the name", Self::MAX_CHARS)
    }
}
impl LineDescription {
    fn check(text: &str) -> Result<String, TextError> {
        bounded(text, "a line description", Self::MAX_CHARS)
    }
}
impl PaymentReference {
    fn check(text: &str) -> Result<String, TextError> {
        bounded(text, "the payment reference", Self::MAX_CHARS)
    }
}
impl ReasonNote {
    fn check(text: &str) -> Result<String, TextError> {
        bounded(text, "the reason", Self::MAX_CHARS)
    }
}
impl EmailAddress {
    fn check(text: &str) -> Result<String, TextError> {
        let text = bounded(text, "the e-mail address", Self::MAX_CHARS)?;
        let well_formed = match text.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains('@')
                    && !text.chars().any(char::is_whitespace)
            }
            None => false,
        };
        if well_formed {
            Ok(text)
        } else {
            Err(TextError::NotAnEmail(text))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_trimmed_and_bounded() {
        assert_eq!(
            ParticipantName::parse("  ТОО «Ромашка» ").unwrap().as_str(),
            "ТОО «Ромашка»"
        );
        assert_eq!(
            ParticipantName::parse("   "),
            Err(TextError::Empty { what: "the name" })
        );
        assert!(matches!(
            PaymentReference::parse(&"x".repeat(101)),
            Err(TextError::TooLong { .. })
        ));
        assert!(matches!(
            ReasonNote::parse("a\u{1b}[31m"),
            Err(TextError::ControlCharacter { .. })
        ));
    }

    #[test]
    fn codes_are_lowercase_identifiers() {
        assert_eq!(TariffCode::parse("standard").unwrap().as_str(), "standard");
        assert!(MetricName::parse("e_signatures-2").is_ok());
        for bad in ["Standard", "1st", "-x", "a b", "тариф", ""] {
            assert!(TariffCode::parse(bad).is_err(), "{bad}");
        }
        assert!(matches!(
            MetricName::parse(&"d".repeat(41)),
            Err(TextError::TooLong { .. })
        ));
    }

    #[test]
    fn emails_have_a_shape() {
        assert!(EmailAddress::parse("buh@romashka.kz").is_ok());
        for bad in ["romashka.kz", "@romashka.kz", "a@b", "a b@c.kz", "a@@c.kz"] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad}");
        }
    }
}
