//! Who a participant is: its BIN or IIN and its legal kind.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A participant's 12-digit BIN (legal entities) or IIN (individuals, sole proprietors),
/// taken from its certificate (§1.11-1.13), with its control digit checked. It is also
/// the id of the participant's agreement. A number that fails the check is never stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParticipantId(String);

/// Why a text is not a valid BIN/IIN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParticipantIdError {
    #[error("`{0}` is not a BIN/IIN: it must be exactly 12 digits")]
    NotTwelveDigits(String),
    #[error("`{0}` is not a valid BIN/IIN: its control digit (the last) does not match")]
    ControlDigit(String),
}

impl ParticipantId {
    pub const LENGTH: usize = 12;

    pub fn parse(text: &str) -> Result<Self, ParticipantIdError> {
        let digits: Vec<u32> = text.chars().filter_map(|c| c.to_digit(10)).collect();
        if text.len() != Self::LENGTH || digits.len() != Self::LENGTH {
            return Err(ParticipantIdError::NotTwelveDigits(text.to_owned()));
        }
        match control_digit(&digits[..11]) {
            Some(expected) if expected == digits[11] => Ok(Self(text.to_owned())),
            _ => Err(ParticipantIdError::ControlDigit(text.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The BIN/IIN control digit: weights 1..11 over the first 11 digits, sum mod 11; if that
/// is 10, weights 3,4,...,11,1,2; if that is 10 again the number has no valid control
/// digit (`None`).
fn control_digit(first_eleven: &[u32]) -> Option<u32> {
    const FIRST: [u32; 11] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
    const SECOND: [u32; 11] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2];
    let weighted = |weights: &[u32; 11]| -> u32 {
        first_eleven
            .iter()
            .zip(weights)
            .map(|(digit, weight)| digit * weight)
            .sum::<u32>()
            % 11
    };
    match weighted(&FIRST) {
        10 => match weighted(&SECOND) {
            10 => None,
            digit => Some(digit),
        },
        digit => Some(digit),
    }
}

impl fmt::Display for ParticipantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for ParticipantId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ParticipantId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The legal kind of a participant (§1.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ParticipantKind {
    LegalEntity,
    SoleProprietor,
    Individual,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Result<(), ParticipantIdError>) {
        assert_eq!(ParticipantId::parse(text).map(|_| ()), expected, "{text}");
    }

    #[test]
    fn the_operators_bin_is_valid() {
        // The operator's own BIN, from DOMAIN.md: its first pass sums to 10, so it
        // exercises the second set of weights.
        check("150240008272", Ok(()));
    }

    #[test]
    fn control_digits_are_checked() {
        check(
            "150240008273",
            Err(ParticipantIdError::ControlDigit("150240008273".into())),
        );
        // 1*1+2*2+...: a first-pass digit.
        check("000000000000", Ok(()));
        check("123456789013", Ok(())); // first pass 10, second pass 3
        check(
            "123456789012",
            Err(ParticipantIdError::ControlDigit("123456789012".into())),
        );
    }

    #[test]
    fn shape_is_checked() {
        for text in [
            "15024000827",
            "1502400082722",
            "15024000827a",
            " 50240008272",
            "",
            "１５０２４０００８２７２",
        ] {
            check(text, Err(ParticipantIdError::NotTwelveDigits(text.into())));
        }
    }

    #[test]
    fn every_valid_eleven_digit_prefix_has_one_control_digit() {
        // Exhaustive over one varying digit: exactly one of the ten endings is valid,
        // unless the prefix has no valid control digit at all.
        for prefix in ["15024000827", "98010145012", "00000000001"] {
            let valid: Vec<_> = (0..10)
                .filter(|d| ParticipantId::parse(&format!("{prefix}{d}")).is_ok())
                .collect();
            assert!(valid.len() <= 1, "{prefix}: {valid:?}");
        }
    }
}
