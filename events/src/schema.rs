//! OpenAPI schemas of the vocabulary types (utoipa): each says what it is on the wire,
//! a string in a fixed format, so the API document tells API consumers the truth.

use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::RefOr;

/// A string schema with a description, an optional pattern and an example.
fn string(description: &str, pattern: Option<&str>, example: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .pattern(pattern)
        .examples([serde_json::Value::from(example)])
        .into()
}

macro_rules! string_schema {
    ($type:ty, $description:expr, $pattern:expr, $example:expr) => {
        impl utoipa::PartialSchema for $type {
            fn schema() -> RefOr<Schema> {
                string($description, $pattern, $example)
            }
        }
        impl utoipa::ToSchema for $type {}
    };
}

const MONEY_PATTERN: &str = r"^-?[0-9]{1,12}\.[0-9]{2}$";

string_schema!(
    crate::Money,
    "An exact amount with exactly 2 decimals, as a JSON string (never a number); its currency is the agreement's",
    Some(MONEY_PATTERN),
    "12500.00"
);
string_schema!(
    crate::Amount,
    "A non-negative amount with at most 2 decimals, as a JSON string (never a number)",
    Some(r"^[0-9]{1,12}(\.[0-9]{1,2})?$"),
    "12500.00"
);
string_schema!(
    crate::ParticipantId,
    "A 12-digit BIN or IIN whose last digit is its control digit",
    Some(r"^[0-9]{12}$"),
    "150240008272"
);
string_schema!(
    crate::InvoiceNumber,
    "An operator-wide, gapless invoice number",
    Some(r"^[1-9][0-9]*$"),
    "1"
);
/// A quantity is read from a whole JSON number (`2`) or a decimal string (`"1.5"`), and
/// written as a string.
impl utoipa::PartialSchema for crate::Quantity {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1))
                    .maximum(Some(crate::Quantity::MAX))
                    .description(Some("A whole quantity as a JSON number")),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(r"^[0-9]+(\.[0-9]{1,3})?$"))
                    .description(Some("A quantity with at most 3 decimals as a JSON string")),
            )
            .description(Some(
                "A positive quantity of at most 1000000: a whole JSON number such as 2, or a decimal string with at most 3 decimals such as \"1.5\" (fractional JSON numbers are refused)",
            ))
            .examples([serde_json::Value::from(1), serde_json::Value::from("1.5")])
            .into()
    }
}
impl utoipa::ToSchema for crate::Quantity {}
string_schema!(
    crate::ParticipantName,
    "The participant's name",
    None,
    "ТОО «MITWORK»"
);
string_schema!(
    crate::LineDescription,
    "What an invoice line is for",
    None,
    "E-DOC subscription, February"
);
string_schema!(
    crate::PaymentReference,
    "The bank's unique reference of a payment",
    None,
    "KASPI-0001"
);
string_schema!(crate::ReasonNote, "A reason in words", None, "debt repaid");
string_schema!(
    crate::EmailAddress,
    "An e-mail address",
    None,
    "buh@example.kz"
);
