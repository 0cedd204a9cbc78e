//! Bank statements (INTEGRATION.md 2), the parsing step: a statement file's bytes in, a
//! [`BankStatement`] out, or a [`StatementError`] that names what is wrong (and, where
//! there is one, the entry). Pure, but for `import`, which matches the lines to agreements,
//! records their payments, stores the statement and answers its reads.
//!
//! Two formats:
//! - ISO 20022 **camt.053** (`camt053`), namespaces `camt.053.001.02` to `.001.08`,
//!   read in one streaming pass with `quick-xml` (DTDs refused, so no entity expansion);
//! - the **1C client-bank exchange** text (`one_c`), in UTF-8 (with or without a BOM) or
//!   Windows-1251 / DOS (cp866) as its `Кодировка=` header says, decoded with
//!   `encoding_rs`.
//!
//! Which one a file is, is decided by its first bytes (after a BOM and blanks): `<` is
//! XML, `1CClientBankExchange` is 1C, anything else is not a statement. The size limit,
//! [`STATEMENT_BYTES_MAX`], is checked before anything else.
//!
//! Amounts are exact ([`Amount`]); an amount with more than 2 decimals refuses the whole
//! file, naming the entry. A file either parses whole or not at all.

pub mod camt053;
#[cfg(test)]
mod camt053_tree;
pub mod generate;
pub mod import;
pub mod one_c;

#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::LazyLock;

use events::{Amount, AmountError, Currency, InvoiceNumber, ParticipantId, PaymentReference};
use regex::Regex;
use rust_decimal::Decimal;
use time::Date;

/// The largest statement file accepted: 32 MiB.
///
/// 10,000 lines must fit in one request (INTEGRATION.md 2). A camt.053 entry as this
/// module's generator writes it (references, dates, a debtor with name and BIN, a
/// Cyrillic purpose) is about 0.8 KB: 7.6 MB for 10,000. A bank's richest entries
/// (addresses, agents, bank transaction codes, several references) reach about 3 KB, so
/// 10,000 of them are about 30 MB: 32 MiB holds them. A 1C document is about 0.6 KB, so
/// 10,000 of them are about 6 MB. The camt.053 reader streams the file and keeps only the
/// texts it reads, most of them borrowed from the file.
pub const STATEMENT_BYTES_MAX: usize = 32 * 1024 * 1024;

/// Why a statement file was refused. Nothing of a refused file is recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    #[error("the statement file is {size} bytes, over the limit of {max} bytes (32 MiB)")]
    TooLarge { size: usize, max: usize },
    #[error("not a bank statement: {0}")]
    NotAStatement(String),
    #[error("camt.053 version {version} is not supported: versions 001.02 to 001.08 are")]
    UnsupportedCamtVersion { version: String },
    #[error("malformed camt.053 XML: {0}")]
    MalformedXml(String),
    #[error("the statement file is truncated: {0}")]
    Truncated(String),
    #[error("the 1C exchange file, line {line}: {problem}")]
    MalformedOneC { line: usize, problem: String },
    #[error("the 1C exchange file is neither UTF-8 nor declared `Кодировка=Windows` (Windows-1251) or `Кодировка=DOS` (cp866)")]
    UnknownEncoding,
    #[error("entry {entry}: amount `{text}` has more than 2 decimals")]
    AmountTooPrecise { entry: usize, text: String },
    #[error("entry {entry}: {problem}")]
    BadEntry { entry: usize, problem: String },
    #[error("the statement: {0}")]
    BadStatement(String),
    #[error("the statement's lines do not add up to its own totals: {0}")]
    TotalsMismatch(String),
}

/// Which format a statement came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementFormat {
    /// ISO 20022 camt.053; `version` is the message version, `"001.02"` to `"001.08"`.
    Camt053 { version: &'static str },
    /// The 1C client-bank exchange text.
    OneC,
}

/// A three-letter ISO 4217 currency code as the bank wrote it. Kept even when the ledger
/// does not settle in it (such a line stays unmatched, INTEGRATION.md 2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CurrencyCode(String);

impl CurrencyCode {
    /// Three ASCII letters, upper-cased.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        (text.len() == 3 && text.chars().all(|c| c.is_ascii_alphabetic()))
            .then(|| Self(text.to_ascii_uppercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The ledger's currency of the same code, if the ledger settles in it.
    pub fn ledger(&self) -> Option<Currency> {
        match self.0.as_str() {
            "KZT" => Some(Currency::KZT),
            "USD" => Some(Currency::USD),
            _ => None,
        }
    }
}

impl From<Currency> for CurrencyCode {
    fn from(currency: Currency) -> Self {
        Self(currency.code().to_owned())
    }
}

impl fmt::Display for CurrencyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A balance the statement states: signed (an overdraft is negative), exact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    pub amount: Decimal,
    pub currency: CurrencyCode,
    pub date: Option<Date>,
}

/// Totals the file states about itself, each only where the format states it
/// (camt.053 `TxsSummry`; 1C `ВсегоПоступило`/`ВсегоСписано`, sums without counts).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatedTotals {
    pub entries: Option<u64>,
    pub credits: Option<u64>,
    pub credits_sum: Option<Decimal>,
    pub debits: Option<u64>,
    pub debits_sum: Option<Decimal>,
}

/// Totals computed from the parsed lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineTotals {
    pub entries: u64,
    pub credits: u64,
    pub credits_sum: Decimal,
    pub debits: u64,
    pub debits_sum: Decimal,
}

/// One line (camt.053 `Ntry`, 1C `СекцияДокумент`) of a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementLine {
    /// 0-based, in file order.
    pub index: usize,
    /// The bank's own reference: camt.053 `NtryRef`, else `AcctSvcrRef` (the entry's,
    /// else its first transaction's), else `EndToEndId` (not `NOTPROVIDED`); 1C
    /// `"{Номер} от {Дата}"`.
    pub bank_reference: PaymentReference,
    /// camt.053 `ValDt` (else `BookgDt`); 1C `ДатаПоступило`, else `Дата`.
    pub value_date: Date,
    pub amount: Amount,
    pub currency: CurrencyCode,
    /// Money in to the statement's account (camt.053 `CRDT`; 1C: `ПолучательСчет` is the
    /// statement's account).
    pub credit: bool,
    /// camt.053 `RvslInd`: the entry undoes an earlier one (a credit that reverses a
    /// debit, or a debit that takes back a credit); never set for 1C. The later step keeps
    /// a reversing credit for billing staff rather than recording it as a payment.
    pub reversal: bool,
    /// The payer's BIN/IIN when the file names one that passes its control digit.
    pub payer_bin: Option<ParticipantId>,
    /// The payer's identification as written, valid or not (for billing staff).
    pub payer_id_text: Option<String>,
    pub payer_name: Option<String>,
    /// The payment's purpose (camt.053 `RmtInf/Ustrd` joined by a space; 1C
    /// `НазначениеПлатежа`).
    pub purpose: Option<String>,
}

impl StatementLine {
    /// The invoice the purpose names, if any ([`invoice_number_in`]).
    pub fn named_invoice(&self) -> Option<InvoiceNumber> {
        self.purpose.as_deref().and_then(invoice_number_in)
    }
}

/// A parsed statement of one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankStatement {
    pub format: StatementFormat,
    /// The statement's own id where the format has one (camt.053 `Stmt/Id`).
    pub statement_id: Option<String>,
    /// The operator's account the statement is of (IBAN or the bank's account number).
    pub account: String,
    pub currency: CurrencyCode,
    pub opening_balance: Option<Balance>,
    pub closing_balance: Option<Balance>,
    pub stated_totals: StatedTotals,
    pub lines: Vec<StatementLine>,
}

impl BankStatement {
    /// The totals of the parsed lines.
    pub fn line_totals(&self) -> LineTotals {
        let mut totals = LineTotals::default();
        for line in &self.lines {
            totals.entries += 1;
            if line.credit {
                totals.credits += 1;
                totals.credits_sum += line.amount.value();
            } else {
                totals.debits += 1;
                totals.debits_sum += line.amount.value();
            }
        }
        totals
    }

    /// Checks the lines against every total the file states; names each that differs.
    pub fn check_totals(&self) -> Result<(), StatementError> {
        let lines = self.line_totals();
        let stated = &self.stated_totals;
        let mut differences = Vec::new();
        let mut count = |what: &str, stated: Option<u64>, computed: u64| {
            if let Some(stated) = stated.filter(|s| *s != computed) {
                differences.push(format!(
                    "{what}: the file says {stated}, the lines {computed}"
                ));
            }
        };
        count("entries", stated.entries, lines.entries);
        count("credits", stated.credits, lines.credits);
        count("debits", stated.debits, lines.debits);
        for (what, stated, computed) in [
            ("credits sum", stated.credits_sum, lines.credits_sum),
            ("debits sum", stated.debits_sum, lines.debits_sum),
        ] {
            if let Some(stated) = stated.filter(|s| *s != computed) {
                differences.push(format!(
                    "{what}: the file says {stated}, the lines {computed}"
                ));
            }
        }
        if differences.is_empty() {
            Ok(())
        } else {
            Err(StatementError::TotalsMismatch(differences.join("; ")))
        }
    }
}

/// Parses a statement file: the size limit first, then the format by its first bytes.
pub fn parse_statement(bytes: &[u8]) -> Result<BankStatement, StatementError> {
    if bytes.len() > STATEMENT_BYTES_MAX {
        return Err(StatementError::TooLarge {
            size: bytes.len(),
            max: STATEMENT_BYTES_MAX,
        });
    }
    let body = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map_or(&[][..], |at| &body[at..]);
    if start.is_empty() {
        return Err(StatementError::NotAStatement(
            "the file is empty".to_owned(),
        ));
    }
    if start.starts_with(b"<") {
        camt053::parse(bytes)
    } else if start.starts_with(one_c::SIGNATURE.as_bytes()) {
        one_c::parse(bytes)
    } else {
        Err(StatementError::NotAStatement(
            "neither camt.053 XML nor a 1C exchange file (`1CClientBankExchange`)".to_owned(),
        ))
    }
}

pub(crate) const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Reads a line's amount: exact, at most 2 decimals, non-negative.
pub(crate) fn line_amount(entry: usize, text: &str) -> Result<Amount, StatementError> {
    Amount::parse(text).map_err(|error| match error {
        AmountError::TooPrecise(text) => StatementError::AmountTooPrecise { entry, text },
        other => StatementError::BadEntry {
            entry,
            problem: other.to_string(),
        },
    })
}

/// Reads a stated total or balance: exact, at most 2 decimals (sign handled by the caller).
pub(crate) fn stated_amount(what: &str, text: &str) -> Result<Decimal, StatementError> {
    Amount::parse(text)
        .map(Amount::value)
        .map_err(|error| StatementError::BadStatement(format!("{what}: {error}")))
}

/// The payer's BIN/IIN if the text is one; never an error (the line stays unmatched).
pub(crate) fn payer_bin(text: Option<&str>) -> Option<ParticipantId> {
    text.and_then(|text| ParticipantId::parse(text.trim()).ok())
}

pub(crate) fn bank_reference(entry: usize, text: &str) -> Result<PaymentReference, StatementError> {
    PaymentReference::parse(text).map_err(|error| StatementError::BadEntry {
        entry,
        problem: format!("the bank reference `{text}`: {error}"),
    })
}

/// The invoice number a payment's purpose names: `счёт №123`, `счет № 123`, `по счёту
/// №42`, `сч. 123`, `invoice 123`, `inv #123`, `Invoice No. 7` (case-insensitive, `ё` or
/// `е`). The first such mention counts; a number that is no invoice number (0, more than
/// 19 digits) is skipped.
pub fn invoice_number_in(purpose: &str) -> Option<InvoiceNumber> {
    static PATTERN: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"(?i)\b(?:сч[её]т[а-яё]*|сч\.|invoice|inv\.?)[\s:.]*(?:№|#|no\.|no\b|n\b)?[\s:.]*(\d+)",
        )
        .expect("the invoice pattern is valid")
    });
    PATTERN
        .captures_iter(purpose)
        .filter_map(|found| found.get(1))
        .find_map(|digits| InvoiceNumber::parse(digits.as_str()).ok())
}
