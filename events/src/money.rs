//! Money: exact decimal amounts with a currency, never a float.

use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The currencies of settlement (§5.1): KZT for everyone, USD for non-residents.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub enum Currency {
    KZT,
    USD,
}

impl Currency {
    /// Both currencies are kept to 2 decimals (tiyn and cents).
    pub const SCALE: u32 = 2;

    pub fn code(self) -> &'static str {
        match self {
            Self::KZT => "KZT",
            Self::USD => "USD",
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The largest magnitude the ledger accepts for any amount: 999,999,999,999.99.
/// Anything larger is refused as an error instead of risking an overflow further on.
pub fn amount_max() -> Decimal {
    Decimal::new(99_999_999_999_999, 2)
}

/// Rounds to 2 decimals, half away from zero: the one rounding rule of the ledger.
fn round_to_scale(value: Decimal) -> Decimal {
    let mut rounded =
        value.round_dp_with_strategy(Currency::SCALE, RoundingStrategy::MidpointAwayFromZero);
    rounded.rescale(Currency::SCALE);
    rounded
}

/// Why an amount could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("`{0}` is not a decimal amount such as \"12500.00\"")]
    NotADecimal(String),
    #[error("`{0}` is negative: amounts are never negative")]
    Negative(String),
    #[error("`{0}` has more than 2 decimals: amounts are kept to the tiyn or cent")]
    TooPrecise(String),
    #[error("`{0}` exceeds the largest amount the ledger accepts (999999999999.99)")]
    TooLarge(String),
}

/// A non-negative amount with at most 2 decimals and at most [`amount_max`], as it comes in
/// from a request: in JSON always a string (`"12500.00"`), never a number, so that no
/// client loses a tiyn to binary floating point on the way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(Decimal);

impl Amount {
    pub fn parse(text: &str) -> Result<Self, AmountError> {
        let trimmed = text.trim();
        let well_formed = !trimmed.is_empty()
            && trimmed
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.' || c == '-')
            && trimmed.chars().filter(|c| *c == '.').count() <= 1
            && !trimmed.starts_with('.')
            && !trimmed.ends_with('.');
        if !well_formed {
            return Err(AmountError::NotADecimal(text.to_owned()));
        }
        let value =
            Decimal::from_str(trimmed).map_err(|_| AmountError::NotADecimal(text.to_owned()))?;
        if value.is_sign_negative() && !value.is_zero() {
            return Err(AmountError::Negative(text.to_owned()));
        }
        if trimmed.starts_with('-') {
            return Err(AmountError::NotADecimal(text.to_owned()));
        }
        if value.scale() > Currency::SCALE && value.normalize().scale() > Currency::SCALE {
            return Err(AmountError::TooPrecise(text.to_owned()));
        }
        if value > amount_max() {
            return Err(AmountError::TooLarge(text.to_owned()));
        }
        Self::new(value).map_err(|_| AmountError::TooPrecise(text.to_owned()))
    }

    /// Wraps an exact value; refuses a negative, over-precise or too large one.
    pub fn new(value: Decimal) -> Result<Self, AmountError> {
        if value.is_sign_negative() && !value.is_zero() {
            return Err(AmountError::Negative(value.to_string()));
        }
        if value.normalize().scale() > Currency::SCALE {
            return Err(AmountError::TooPrecise(value.to_string()));
        }
        if value > amount_max() {
            return Err(AmountError::TooLarge(value.to_string()));
        }
        let mut scaled = value.abs();
        scaled.rescale(Currency::SCALE);
        Ok(Self(scaled))
    }

    pub fn value(self) -> Decimal {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }

    pub fn in_currency(self, currency: Currency) -> Money {
        Money {
            amount: self.0,
            currency,
        }
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(AmountVisitor)
    }
}

struct AmountVisitor;

impl serde::de::Visitor<'_> for AmountVisitor {
    type Value = Amount;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an amount as a JSON string with at most 2 decimals, such as \"12500.00\"")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Amount, E> {
        Amount::parse(text).map_err(E::custom)
    }

    fn visit_u64<E: serde::de::Error>(self, number: u64) -> Result<Amount, E> {
        Err(E::custom(format!(
            "amounts are JSON strings, not numbers: write \"{number}.00\", not {number}"
        )))
    }

    fn visit_i64<E: serde::de::Error>(self, number: i64) -> Result<Amount, E> {
        Err(E::custom(format!(
            "amounts are JSON strings, not numbers: got {number}"
        )))
    }

    fn visit_f64<E: serde::de::Error>(self, number: f64) -> Result<Amount, E> {
        Err(E::custom(format!(
            "amounts are JSON strings, not numbers: got {number}; write it as a string such as \"12500.00\""
        )))
    }
}

/// Money's amount as serde writes it: in JSON (events, the API) the decimal string
/// (`"12500.00"`); in compact binary forms (the stored projection) the exact decimal as
/// mantissa and scale, which needs no text formatting or parsing.
mod amount_form {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(amount: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            rust_decimal::serde::str::serialize(amount, serializer)
        } else {
            (amount.mantissa(), amount.scale()).serialize(serializer)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        if deserializer.is_human_readable() {
            rust_decimal::serde::str::deserialize(deserializer)
        } else {
            let (mantissa, scale) = <(i128, u32)>::deserialize(deserializer)?;
            Decimal::try_from_i128_with_scale(mantissa, scale).map_err(serde::de::Error::custom)
        }
    }
}

/// Why a money operation failed. Never a panic: a failed sum is reported, not wrapped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("cannot combine {left} with {right}: amounts in different currencies")]
    CurrencyMismatch { left: Currency, right: Currency },
    #[error("the amount overflows the largest the ledger accepts (999999999999.99)")]
    Overflow,
}

/// An exact amount in a currency, always kept to 2 decimals. It may be negative (a
/// balance), but its magnitude never exceeds [`amount_max`]: arithmetic past that is an
/// error, never a panic and never a silent wrap.
///
/// In events and JSON: `{"amount": "12500.00", "currency": "KZT"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    #[serde(with = "amount_form")]
    amount: Decimal,
    currency: Currency,
}

impl Money {
    pub fn zero(currency: Currency) -> Self {
        Self {
            amount: Decimal::new(0, Currency::SCALE),
            currency,
        }
    }

    /// Rounds `value` to 2 decimals, half away from zero (the offer's and DOMAIN.md's
    /// rule), and checks its magnitude.
    pub fn rounded(value: Decimal, currency: Currency) -> Result<Self, MoneyError> {
        let amount = round_to_scale(value);
        if amount.abs() > amount_max() {
            return Err(MoneyError::Overflow);
        }
        Ok(Self { amount, currency })
    }

    pub fn amount(self) -> Decimal {
        self.amount
    }

    pub fn currency(self) -> Currency {
        self.currency
    }

    pub fn is_zero(self) -> bool {
        self.amount.is_zero()
    }

    pub fn is_positive(self) -> bool {
        self.amount > Decimal::ZERO
    }

    pub fn is_negative(self) -> bool {
        self.amount < Decimal::ZERO
    }

    fn same_currency(self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            })
        }
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let sum = self
            .amount
            .checked_add(other.amount)
            .ok_or(MoneyError::Overflow)?;
        Money::rounded(sum, self.currency)
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let difference = self
            .amount
            .checked_sub(other.amount)
            .ok_or(MoneyError::Overflow)?;
        Money::rounded(difference, self.currency)
    }

    /// `self x factor`, rounded once to 2 decimals half away from zero.
    pub fn checked_mul(self, factor: Decimal) -> Result<Money, MoneyError> {
        let product = self
            .amount
            .checked_mul(factor)
            .ok_or(MoneyError::Overflow)?;
        Money::rounded(product, self.currency)
    }

    /// The smaller of two amounts of the same currency.
    pub fn min(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        Ok(if other.amount < self.amount {
            other
        } else {
            self
        })
    }

    /// The larger of two amounts of the same currency.
    pub fn max(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        Ok(if other.amount > self.amount {
            other
        } else {
            self
        })
    }

    /// The amount as it is written in JSON: `"12500.00"`.
    pub fn to_json_string(self) -> String {
        self.amount.to_string()
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kzt(text: &str) -> Money {
        Amount::parse(text).unwrap().in_currency(Currency::KZT)
    }

    #[test]
    fn amounts_parse_to_two_decimals() {
        for (text, expected) in [
            ("12500", "12500.00"),
            ("12500.5", "12500.50"),
            ("0.01", "0.01"),
            ("1.10", "1.10"),
            ("1.000", "1.00"),
        ] {
            assert_eq!(Amount::parse(text).unwrap().to_string(), expected, "{text}");
        }
    }

    #[test]
    fn bad_amounts_are_refused_with_their_reason() {
        assert_eq!(
            Amount::parse("1.001"),
            Err(AmountError::TooPrecise("1.001".into()))
        );
        assert_eq!(
            Amount::parse("-5.00"),
            Err(AmountError::Negative("-5.00".into()))
        );
        assert_eq!(
            Amount::parse("1e5"),
            Err(AmountError::NotADecimal("1e5".into()))
        );
        assert_eq!(Amount::parse(""), Err(AmountError::NotADecimal("".into())));
        assert_eq!(
            Amount::parse("1,5"),
            Err(AmountError::NotADecimal("1,5".into()))
        );
        assert!(matches!(
            Amount::parse("1000000000000.00"),
            Err(AmountError::TooLarge(_))
        ));
        assert!(Amount::parse("999999999999.99").is_ok());
    }

    #[test]
    fn json_numbers_are_refused_for_amounts() {
        let error = serde_json::from_str::<Amount>("12500")
            .unwrap_err()
            .to_string();
        assert!(error.contains("strings, not numbers"), "{error}");
        let error = serde_json::from_str::<Amount>("12.5")
            .unwrap_err()
            .to_string();
        assert!(error.contains("strings, not numbers"), "{error}");
        assert_eq!(
            serde_json::from_str::<Amount>("\"12.5\"")
                .unwrap()
                .to_string(),
            "12.50"
        );
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        let cases = [
            ("0.005", "0.01"),
            ("0.004", "0.00"),
            ("-0.005", "-0.01"),
            ("2.675", "2.68"),
            ("1.125", "1.13"),
        ];
        for (input, expected) in cases {
            let money = Money::rounded(Decimal::from_str(input).unwrap(), Currency::KZT).unwrap();
            assert_eq!(money.to_json_string(), expected, "{input}");
        }
    }

    #[test]
    fn arithmetic_checks_currency_and_overflow() {
        let usd = Amount::parse("1.00").unwrap().in_currency(Currency::USD);
        assert_eq!(
            kzt("1.00").checked_add(usd),
            Err(MoneyError::CurrencyMismatch {
                left: Currency::KZT,
                right: Currency::USD
            })
        );
        assert_eq!(
            kzt("999999999999.99").checked_add(kzt("0.01")),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            kzt("10.00")
                .checked_sub(kzt("12.50"))
                .unwrap()
                .to_json_string(),
            "-2.50"
        );
        assert_eq!(
            kzt("100.00")
                .checked_mul(Decimal::new(16, 2))
                .unwrap()
                .to_json_string(),
            "16.00"
        );
        assert_eq!(
            Money::rounded(Decimal::MAX, Currency::KZT),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            kzt("1.00").checked_mul(Decimal::MAX),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn money_serializes_amount_as_a_string() {
        let json = serde_json::to_string(&kzt("12500")).unwrap();
        assert_eq!(json, r#"{"amount":"12500.00","currency":"KZT"}"#);
        let back: Money = serde_json::from_str(&json).unwrap();
        assert_eq!(back, kzt("12500"));
    }
}
