//! The National Bank's daily rates XML.

use super::*;

/// One rate read from the National Bank's daily rates XML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NbkRate {
    pub date: Date,
    /// KZT for one USD (the published rate divided by its `quant`, to 6 decimals).
    pub usd_kzt: Decimal,
}

/// A bound on the size of a rates file (the real one is a few KB).
pub const NBK_XML_BYTES_MAX: usize = 1 << 20;

/// Reads the USD rate from the National Bank's daily rates XML (BILLING.md 1):
/// `<rates><date>DD.MM.YYYY</date><item><title>USD</title><quant>1</quant>
/// <description>RATE</description></item>...</rates>`. Anything else is refused with
/// the reason; a file without a USD item is refused too (it would load nothing).
pub fn parse_nbk_rates(xml: &str) -> Result<NbkRate, ReferenceError> {
    let refuse = |field: &'static str, message: String| ReferenceError::InvalidVersion {
        table: ReferenceTable::ExchangeRates.code(),
        field,
        message,
    };
    if xml.len() > NBK_XML_BYTES_MAX {
        return Err(refuse(
            "body",
            format!("the file is over {NBK_XML_BYTES_MAX} bytes"),
        ));
    }
    let body = xml.trim_start_matches('\u{feff}').trim();
    let body = match body.strip_prefix("<?xml") {
        Some(rest) => rest
            .split_once("?>")
            .map(|(_, rest)| rest.trim())
            .ok_or_else(|| refuse("body", "an unterminated XML declaration".into()))?,
        None => body,
    };
    let inner = element(body, "rates")
        .filter(|(_, rest)| rest.trim().is_empty())
        .map(|(inner, _)| inner)
        .ok_or_else(|| {
            refuse(
                "body",
                "not the National Bank's rates file: no <rates> root element".into(),
            )
        })?;
    let (date_text, _) =
        element(inner, "date").ok_or_else(|| refuse("date", "the file has no <date>".into()))?;
    let date = parse_dotted_date(date_text.trim())
        .ok_or_else(|| refuse("date", format!("{date_text:?} is not a date DD.MM.YYYY")))?;
    let mut rest = inner;
    let mut items = 0;
    while let Some((item, after)) = element(rest, "item") {
        items += 1;
        if items > 1000 {
            return Err(refuse("item", "more than 1000 items".into()));
        }
        rest = after;
        let field = |name: &str| element(item, name).map(|(text, _)| text.trim());
        if field("title") != Some("USD") {
            continue;
        }
        let quant: u32 = field("quant")
            .and_then(|q| q.parse().ok())
            .filter(|q| *q > 0)
            .ok_or_else(|| refuse("quant", "the USD item has no positive <quant>".into()))?;
        let text = field("description")
            .ok_or_else(|| refuse("description", "the USD item has no <description>".into()))?;
        let rate = Decimal::from_str(text)
            .ok()
            .filter(|r| *r > Decimal::ZERO)
            .ok_or_else(|| refuse("description", format!("{text:?} is not a positive rate")))?;
        return Ok(NbkRate {
            date,
            usd_kzt: (rate / Decimal::from(quant)).round_dp(6).normalize(),
        });
    }
    Err(refuse("item", "the file has no USD item".into()))
}

/// The text inside the first `<name>...</name>` of `text` and what follows it. Only what
/// the rates file uses: no attributes on the elements read, no CDATA.
pub(super) fn element<'a>(text: &'a str, name: &str) -> Option<(&'a str, &'a str)> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = text.find(&open)? + open.len();
    let end = start + text[start..].find(&close)?;
    Some((&text[start..end], &text[end + close.len()..]))
}

pub(super) fn parse_dotted_date(text: &str) -> Option<Date> {
    let mut parts = text.split('.');
    let day: u8 = parts.next()?.parse().ok()?;
    let month: u8 = parts.next()?.parse().ok()?;
    let year: i32 = parts.next()?.parse().ok()?;
    if parts.next().is_some() {
        return None;
    }
    Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()
}
