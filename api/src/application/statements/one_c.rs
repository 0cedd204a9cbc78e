//! The 1C client-bank exchange text (`1CClientBankExchange`), the export every Kazakh
//! bank's client offers: `key=value` lines; a header; sections `СекцияРасчСчет` ...
//! `КонецРасчСчет` (the account's balances and totals); documents `СекцияДокумент=...`
//! ... `КонецДокумента`; the end `КонецФайла` (missing: the file is truncated).
//!
//! Encoding: a file that is valid UTF-8 (with or without a BOM) is read as UTF-8;
//! otherwise it must declare itself `Кодировка=Windows` (Windows-1251) or `Кодировка=DOS`
//! (cp866), and is decoded with `encoding_rs`. (Windows-1251 Cyrillic text is never valid
//! UTF-8: its letters are bytes 0xC0-0xFF, which UTF-8 never has twice in a row.)
//!
//! The format names no currency: lines are in the statement's currency, KZT, unless a
//! `Валюта=` line (header or account section) names another.

use std::collections::HashMap;

use encoding_rs::{Encoding, IBM866, WINDOWS_1251};
use time::macros::format_description;
use time::Date;

use super::{
    bank_reference, line_amount, payer_bin, stated_amount, Balance, BankStatement, CurrencyCode,
    StatedTotals, StatementError, StatementFormat, StatementLine, UTF8_BOM,
};

/// The first line of every 1C exchange file.
pub const SIGNATURE: &str = "1CClientBankExchange";

/// Decodes the file's text: UTF-8 if it is valid UTF-8, else what its `Кодировка=` says.
pub fn decode(bytes: &[u8]) -> Result<String, StatementError> {
    let bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(text.to_owned());
    }
    let declared = |encoding: &'static Encoding, name: &str| -> Option<String> {
        let (text, _, had_errors) = encoding.decode(bytes);
        let says = text
            .lines()
            .take_while(|line| !line.trim().starts_with("Секция"))
            .any(|line| {
                line.split_once('=').is_some_and(|(key, value)| {
                    key.trim() == "Кодировка" && value.trim().eq_ignore_ascii_case(name)
                })
            });
        (says && !had_errors).then(|| text.into_owned())
    };
    declared(WINDOWS_1251, "Windows")
        .or_else(|| declared(IBM866, "DOS"))
        .ok_or(StatementError::UnknownEncoding)
}

/// Parses a 1C exchange file (the caller has checked the size limit).
pub fn parse(bytes: &[u8]) -> Result<BankStatement, StatementError> {
    let text = decode(bytes)?;
    parse_text(&text)
}

/// Where the reader is in the file.
enum Place {
    Header,
    Account(Fields),
    Document { start: usize, fields: Fields },
}

/// A section's `key=value` lines, the first value of each key (blank values left out).
type Fields = HashMap<String, String>;

fn parse_text(text: &str) -> Result<BankStatement, StatementError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(at, line)| (at + 1, line.trim()));
    match lines.find(|(_, line)| !line.is_empty()) {
        Some((_, SIGNATURE)) => {}
        _ => {
            return Err(StatementError::NotAStatement(format!(
                "a 1C exchange file starts with `{SIGNATURE}`"
            )))
        }
    }
    let mut header = Fields::new();
    let mut accounts: Vec<Fields> = Vec::new();
    let mut documents: Vec<(usize, Fields)> = Vec::new();
    let mut place = Place::Header;
    let mut ended = false;
    for (number, line) in lines {
        if line.is_empty() {
            continue;
        }
        if ended {
            return Err(malformed(number, "text after `КонецФайла`"));
        }
        let (key, value) = match line.split_once('=') {
            Some((key, value)) => (key.trim(), Some(value.trim())),
            None => (line, None),
        };
        place = match (place, key, value) {
            (Place::Header, "СекцияРасчСчет", None) => Place::Account(Fields::new()),
            (Place::Header, "СекцияДокумент", _) => Place::Document {
                start: number,
                fields: Fields::new(),
            },
            (Place::Header, "КонецФайла", None) => {
                ended = true;
                Place::Header
            }
            (Place::Account(fields), "КонецРасчСчет", None) => {
                accounts.push(fields);
                Place::Header
            }
            (Place::Document { start, fields }, "КонецДокумента", None) => {
                documents.push((start, fields));
                Place::Header
            }
            (Place::Header, key, Some(value)) => {
                keep(&mut header, key, value);
                Place::Header
            }
            (Place::Account(mut fields), key, Some(value)) if !is_marker(key) => {
                keep(&mut fields, key, value);
                Place::Account(fields)
            }
            (Place::Document { start, mut fields }, key, Some(value)) if !is_marker(key) => {
                keep(&mut fields, key, value);
                Place::Document { start, fields }
            }
            (Place::Account(_), key, _) if is_marker(key) => {
                return Err(malformed(
                    number,
                    &format!("`{key}` before `КонецРасчСчет`"),
                ))
            }
            (Place::Document { .. }, key, _) if is_marker(key) => {
                return Err(malformed(
                    number,
                    &format!("`{key}` before `КонецДокумента`"),
                ))
            }
            (_, key, _) => {
                return Err(malformed(
                    number,
                    &format!("`{key}` is neither `key=value` nor a section marker"),
                ))
            }
        };
    }
    if !ended {
        return Err(StatementError::Truncated(
            "the 1C exchange file has no `КонецФайла`".to_owned(),
        ));
    }
    build(header, accounts, documents)
}

fn is_marker(key: &str) -> bool {
    matches!(
        key,
        "СекцияРасчСчет"
            | "КонецРасчСчет"
            | "СекцияДокумент"
            | "КонецДокумента"
            | "КонецФайла"
    )
}

fn keep(fields: &mut Fields, key: &str, value: &str) {
    if !value.is_empty() {
        fields
            .entry(key.to_owned())
            .or_insert_with(|| value.to_owned());
    }
}

fn malformed(line: usize, problem: &str) -> StatementError {
    StatementError::MalformedOneC {
        line,
        problem: problem.to_owned(),
    }
}

fn build(
    header: Fields,
    accounts: Vec<Fields>,
    documents: Vec<(usize, Fields)>,
) -> Result<BankStatement, StatementError> {
    let account = accounts
        .iter()
        .find_map(|fields| fields.get("РасчСчет"))
        .or_else(|| header.get("РасчСчет"))
        .ok_or_else(|| {
            StatementError::BadStatement("the 1C file names no account (`РасчСчет`)".to_owned())
        })?
        .clone();
    if let Some(other) = accounts
        .iter()
        .filter_map(|fields| fields.get("РасчСчет"))
        .find(|other| !same_account(other, &account))
    {
        return Err(StatementError::BadStatement(format!(
            "the file holds the accounts {account} and {other}: load one account's statement per file"
        )));
    }
    let currency_text = accounts
        .iter()
        .find_map(|fields| fields.get("Валюта"))
        .or_else(|| header.get("Валюта"));
    let currency = match currency_text {
        None => CurrencyCode::from(events::Currency::KZT),
        Some(text) => CurrencyCode::parse(text).ok_or_else(|| {
            StatementError::BadStatement(format!("`Валюта={text}` is not a currency code"))
        })?,
    };

    let balance = |fields: &Fields, key: &str, date_key: &str| -> Result<_, StatementError> {
        fields
            .get(key)
            .map(|text| {
                Ok(Balance {
                    amount: signed_amount(key, text)?,
                    currency: currency.clone(),
                    date: fields.get(date_key).and_then(|d| date(d).ok()),
                })
            })
            .transpose()
    };
    let opening_balance = match accounts.first() {
        Some(first) => balance(first, "НачальныйОстаток", "ДатаНачала")?,
        None => None,
    };
    let closing_balance = match accounts.last() {
        Some(last) => balance(last, "КонечныйОстаток", "ДатаКонца")?,
        None => None,
    };
    let sum_of = |key: &str| -> Result<Option<rust_decimal::Decimal>, StatementError> {
        let mut total = None;
        for text in accounts.iter().filter_map(|fields| fields.get(key)) {
            let value = stated_amount(key, &text.replace(',', "."))?;
            total = Some(total.unwrap_or_default() + value);
        }
        Ok(total)
    };
    let stated_totals = StatedTotals {
        credits_sum: sum_of("ВсегоПоступило")?,
        debits_sum: sum_of("ВсегоСписано")?,
        ..StatedTotals::default()
    };

    let lines = documents
        .into_iter()
        .enumerate()
        .map(|(index, (start, fields))| read_document(index, start, &fields, &account, &currency))
        .collect::<Result<Vec<_>, _>>()?;

    Ok(BankStatement {
        format: StatementFormat::OneC,
        statement_id: None,
        account,
        currency,
        opening_balance,
        closing_balance,
        stated_totals,
        lines,
    })
}

fn read_document(
    index: usize,
    start: usize,
    fields: &Fields,
    account: &str,
    currency: &CurrencyCode,
) -> Result<StatementLine, StatementError> {
    let bad = |problem: String| StatementError::BadEntry {
        entry: index,
        problem: format!("(the document from line {start}) {problem}"),
    };
    let field = |key: &str| fields.get(key).map(String::as_str);
    let required = |key: &str| field(key).ok_or_else(|| bad(format!("no `{key}`")));
    let amount = line_amount(index, &required("Сумма")?.replace(',', "."))?;
    let number = required("Номер")?;
    let date_text = required("Дата")?;
    let issued = date(date_text).map_err(&bad)?;
    let value_date = match field("ДатаПоступило") {
        Some(text) => date(text).map_err(&bad)?,
        None => issued,
    };
    let credit = field("ПолучательСчет").is_some_and(|to| same_account(to, account));
    let payer_id_text = [
        "ПлательщикБИН_ИИН",
        "ПлательщикИИН",
        "ПлательщикБИН",
        "ПлательщикИНН",
    ]
    .into_iter()
    .find_map(field);
    // A payment order's number and date are unique only for its payer: the payer's
    // account (else BIN/IIN) makes the reference the bank's document, not any payer's
    // order that happens to share a number (INTEGRATION.md 2: a statement loaded twice
    // records nothing twice, and two payments are never taken for one).
    let payer_account = ["ПлательщикСчет", "ПлательщикИИК", "ПлательщикРасчСчет"]
        .into_iter()
        .find_map(field)
        .or(payer_id_text);
    let reference = match payer_account {
        Some(payer) => format!("{number} от {date_text} {payer}"),
        None => format!("{number} от {date_text}"),
    };
    Ok(StatementLine {
        index,
        bank_reference: bank_reference(index, &reference)?,
        value_date,
        amount,
        currency: currency.clone(),
        credit,
        reversal: false,
        payer_bin: payer_bin(payer_id_text),
        payer_id_text: payer_id_text.map(str::to_owned),
        payer_name: field("Плательщик1")
            .or_else(|| field("Плательщик"))
            .map(str::to_owned),
        purpose: field("НазначениеПлатежа").map(str::to_owned),
    })
}

fn same_account(left: &str, right: &str) -> bool {
    left.trim().eq_ignore_ascii_case(right.trim())
}

/// A balance: exact, at most 2 decimals, possibly negative (`-` in front).
fn signed_amount(key: &str, text: &str) -> Result<rust_decimal::Decimal, StatementError> {
    let text = text.replace(',', ".");
    match text.strip_prefix('-') {
        Some(magnitude) => stated_amount(key, magnitude).map(|value| -value),
        None => stated_amount(key, &text),
    }
}

/// A 1C date: `DD.MM.YYYY`.
fn date(text: &str) -> Result<Date, String> {
    Date::parse(text, format_description!("[day].[month].[year]"))
        .map_err(|_| format!("`{text}` is not a date written as DD.MM.YYYY"))
}
