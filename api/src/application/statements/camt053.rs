//! ISO 20022 camt.053 (Bank-to-Customer Statement), versions 001.02 to 001.08, read in
//! one streaming pass with `quick-xml` (no document tree). The elements this ledger needs
//! have kept their names and places across those versions, with one exception handled
//! here: from 001.08 on, a party (`Dbtr`, `Cdtr`) wraps its name and id in `Pty`.
//!
//! One statement (`Stmt`) per file: a file with several (several accounts or pages) is
//! refused with a message that says so.
//!
//! The reading is in two steps. [`read_document`] streams the XML once and keeps the raw
//! texts of the elements read ([`Document`]). The XML's syntax is checked by quick-xml
//! (tags, matching end names, comments, attributes and their repeats, entity and
//! character references, namespace prefixes), not here; this module adds only what a
//! streaming reader leaves to its caller: one root element with nothing but blanks,
//! comments and processing instructions after it, a declaration only at the start, no
//! DTD, and a file that ends inside its root told apart as truncated (see
//! [`read_document`] for the errors). Each element is given a [`Role`] from its parent's
//! role, its local name and whether it is the first child of that name (the elements read
//! are "the first `Acct` of `Stmt`, its first `Id`, ..." as a tree walk would find them).
//! [`interpret`] then reads those texts in the order the checks have always been made, so
//! that a file both malformed and wrong in its content is refused as malformed, and of
//! several faults the same one is named.

use std::borrow::Cow;

use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;
use time::Date;

use super::{
    bank_reference, line_amount, payer_bin, stated_amount, Balance, BankStatement, CurrencyCode,
    StatedTotals, StatementError, StatementFormat, StatementLine, UTF8_BOM,
};

/// The namespace of camt.053 without its version (`001.NN`).
pub const NAMESPACE_PREFIX: &str = "urn:iso:std:iso:20022:tech:xsd:camt.053.";

/// The versions read.
pub const VERSIONS: [&str; 7] = [
    "001.02", "001.03", "001.04", "001.05", "001.06", "001.07", "001.08",
];

/// Parses a camt.053 file (the caller has checked the size limit).
pub fn parse(bytes: &[u8]) -> Result<BankStatement, StatementError> {
    let bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|error| {
        StatementError::MalformedXml(format!("the file is not UTF-8 ({error})"))
    })?;
    let document = read_document(text)?;
    interpret(&document)
}

/// The version a namespace names, if it is camt.053's and supported.
pub(super) fn version_of(namespace: &str) -> Result<&'static str, StatementError> {
    let Some(version) = namespace.strip_prefix(NAMESPACE_PREFIX) else {
        return Err(StatementError::NotAStatement(if namespace.is_empty() {
            "the XML has no namespace: a camt.053 file's is `urn:iso:std:iso:20022:tech:xsd:camt.053.001.NN`".to_owned()
        } else {
            format!("the XML's namespace `{namespace}` is not camt.053's")
        }));
    };
    VERSIONS
        .iter()
        .find(|known| **known == version)
        .copied()
        .ok_or_else(|| StatementError::UnsupportedCamtVersion {
            version: version.to_owned(),
        })
}

// ---------------------------------------------------------------------------------------
// The raw document: what the streaming pass keeps.
// ---------------------------------------------------------------------------------------

/// An element's text as a tree would give it: its first child when that is text (text,
/// CDATA and entity references up to the first child element, comment or processing
/// instruction), entities resolved, line ends normalized, not trimmed. `None` when the
/// element has no such text (or, for the fields below, is absent).
type RawText<'a> = Option<Cow<'a, str>>;

/// A text trimmed; `None` when absent or blank.
fn trimmed<'t>(text: &'t RawText<'_>) -> Option<&'t str> {
    text.as_deref()
        .map(str::trim)
        .filter(|text| !text.is_empty())
}

/// The file as read: its root element and its one statement's raw texts.
#[derive(Debug, Default)]
struct Document<'a> {
    /// The root element's local name and namespace (empty when none).
    root_name: String,
    root_namespace: String,
    /// Whether the root has a `BkToCstmrStmt`.
    message: bool,
    /// How many `Stmt` the (first) `BkToCstmrStmt` holds; only the first is kept.
    statements: usize,
    statement: RawStatement<'a>,
}

/// `Stmt`: its first `Id`, first `Acct`, every `Bal`, first `TxsSummry`, every `Ntry`.
#[derive(Debug, Default)]
struct RawStatement<'a> {
    id: RawText<'a>,
    account: Option<RawAccount<'a>>,
    balances: Vec<RawBalance<'a>>,
    summary: Option<RawSummary<'a>>,
    entries: Vec<RawEntry<'a>>,
}

/// `Acct`: `Id/IBAN`, `Id/Othr/Id`, `Ccy`.
#[derive(Debug, Default)]
struct RawAccount<'a> {
    iban: RawText<'a>,
    other_id: RawText<'a>,
    currency: RawText<'a>,
}

/// An `Amt` element: its text and its `Ccy` attribute.
#[derive(Debug, Default)]
struct RawAmount<'a> {
    text: RawText<'a>,
    currency: Option<String>,
}

/// A date element (`ValDt`, `BookgDt`, a balance's `Dt`): its `Dt` and `DtTm`.
#[derive(Debug, Default)]
struct RawDate<'a> {
    date: RawText<'a>,
    date_time: RawText<'a>,
}

impl RawDate<'_> {
    /// The day: `Dt` (`YYYY-MM-DD`), else `DtTm` (its date part).
    fn day(&self) -> Option<Date> {
        let text = trimmed(&self.date).or_else(|| trimmed(&self.date_time))?;
        events::business_date::parse(text.get(..10)?).ok()
    }
}

/// `Bal`: `Tp/CdOrPrtry/Cd`, `Amt`, `CdtDbtInd`, `Dt`.
#[derive(Debug, Default)]
struct RawBalance<'a> {
    code: RawText<'a>,
    amount: Option<RawAmount<'a>>,
    indicator: RawText<'a>,
    date: Option<RawDate<'a>>,
}

/// The totals of `TxsSummry`, in the order of [`TOTALS`].
const TOTALS: [&str; 3] = ["TtlNtries", "TtlCdtNtries", "TtlDbtNtries"];

/// `TxsSummry`: each total's `NbOfNtries` and `Sum`, indexed as [`TOTALS`].
#[derive(Debug, Default)]
struct RawSummary<'a> {
    counts: [RawText<'a>; 3],
    sums: [RawText<'a>; 3],
}

/// A party (`Dbtr`, or its `Pty` from 001.08): `Nm` and the `Id` of each `Othr` under
/// `Id/OrgId` and `Id/PrvtId`.
#[derive(Debug, Default)]
struct RawParty<'a> {
    name: RawText<'a>,
    organisation_ids: Vec<RawText<'a>>,
    private_ids: Vec<RawText<'a>>,
}

/// The debtor of an entry's first transaction: its own name and ids, and its `Pty`'s.
#[derive(Debug, Default)]
struct RawDebtor<'a> {
    direct: RawParty<'a>,
    party: Option<RawParty<'a>>,
}

/// `Ntry`, with what its first `NtryDtls` says: the first `TxDtls`' references and
/// debtor, every `TxDtls`' `RmtInf/Ustrd`.
#[derive(Debug, Default)]
struct RawEntry<'a> {
    amount: Option<RawAmount<'a>>,
    indicator: RawText<'a>,
    value_date: Option<RawDate<'a>>,
    booking_date: Option<RawDate<'a>>,
    reference: RawText<'a>,
    servicer_reference: RawText<'a>,
    /// How many `TxDtls` the first `NtryDtls` holds (only the first's fields are kept).
    transactions: usize,
    transaction_servicer_reference: RawText<'a>,
    transaction_end_to_end: RawText<'a>,
    debtor: Option<RawDebtor<'a>>,
    /// The non-blank `Ustrd` texts, in document order.
    unstructured: Vec<Cow<'a, str>>,
    additional: RawText<'a>,
    reversal: RawText<'a>,
}

// ---------------------------------------------------------------------------------------
// The streaming pass.
// ---------------------------------------------------------------------------------------

/// The local names the reader tells apart; any other is [`Tag::Other`]. Each is a bit in
/// a frame's set of child names already seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    BkToCstmrStmt,
    Stmt,
    Acct,
    Id,
    Iban,
    Othr,
    Ccy,
    Bal,
    Tp,
    CdOrPrtry,
    Cd,
    Amt,
    CdtDbtInd,
    Dt,
    DtTm,
    TxsSummry,
    TtlNtries,
    TtlCdtNtries,
    TtlDbtNtries,
    NbOfNtries,
    Sum,
    Ntry,
    ValDt,
    BookgDt,
    NtryRef,
    AcctSvcrRef,
    NtryDtls,
    TxDtls,
    Refs,
    EndToEndId,
    RltdPties,
    Dbtr,
    Pty,
    Nm,
    OrgId,
    PrvtId,
    RmtInf,
    Ustrd,
    AddtlNtryInf,
    RvslInd,
    Other,
}

impl Tag {
    fn of(local_name: &[u8]) -> Self {
        match local_name {
            b"BkToCstmrStmt" => Self::BkToCstmrStmt,
            b"Stmt" => Self::Stmt,
            b"Acct" => Self::Acct,
            b"Id" => Self::Id,
            b"IBAN" => Self::Iban,
            b"Othr" => Self::Othr,
            b"Ccy" => Self::Ccy,
            b"Bal" => Self::Bal,
            b"Tp" => Self::Tp,
            b"CdOrPrtry" => Self::CdOrPrtry,
            b"Cd" => Self::Cd,
            b"Amt" => Self::Amt,
            b"CdtDbtInd" => Self::CdtDbtInd,
            b"Dt" => Self::Dt,
            b"DtTm" => Self::DtTm,
            b"TxsSummry" => Self::TxsSummry,
            b"TtlNtries" => Self::TtlNtries,
            b"TtlCdtNtries" => Self::TtlCdtNtries,
            b"TtlDbtNtries" => Self::TtlDbtNtries,
            b"NbOfNtries" => Self::NbOfNtries,
            b"Sum" => Self::Sum,
            b"Ntry" => Self::Ntry,
            b"ValDt" => Self::ValDt,
            b"BookgDt" => Self::BookgDt,
            b"NtryRef" => Self::NtryRef,
            b"AcctSvcrRef" => Self::AcctSvcrRef,
            b"NtryDtls" => Self::NtryDtls,
            b"TxDtls" => Self::TxDtls,
            b"Refs" => Self::Refs,
            b"EndToEndId" => Self::EndToEndId,
            b"RltdPties" => Self::RltdPties,
            b"Dbtr" => Self::Dbtr,
            b"Pty" => Self::Pty,
            b"Nm" => Self::Nm,
            b"OrgId" => Self::OrgId,
            b"PrvtId" => Self::PrvtId,
            b"RmtInf" => Self::RmtInf,
            b"Ustrd" => Self::Ustrd,
            b"AddtlNtryInf" => Self::AddtlNtryInf,
            b"RvslInd" => Self::RvslInd,
            _ => Self::Other,
        }
    }

    fn bit(self) -> u64 {
        1 << (self as u32)
    }
}

/// Which party of a debtor: `Dbtr` itself or its `Pty`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Party {
    Direct,
    Wrapped,
}

/// Which date of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EntryDate {
    Value,
    Booking,
}

/// What an open element is to the reader. Elements under an [`Role::Ignored`] one, or
/// under a text ([`Role::Text`]), are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Ignored,
    Root,
    Message,
    Statement,
    Account,
    AccountId,
    AccountOther,
    Balance,
    BalanceType,
    BalanceCodeOrProprietary,
    BalanceDate,
    Summary,
    /// One of [`TOTALS`], by index.
    SummaryTotal(usize),
    Entry,
    EntryDate(EntryDate),
    EntryDetails,
    /// A `TxDtls`; `first` for the first of its `NtryDtls`.
    Transaction {
        first: bool,
    },
    References,
    RelatedParties,
    Debtor,
    WrappedParty,
    PartyId(Party),
    /// `OrgId` (`organisation`) or `PrvtId` under a party's `Id`.
    PartyIdKind {
        party: Party,
        organisation: bool,
    },
    PartyIdOther {
        party: Party,
        organisation: bool,
    },
    Remittance,
    /// An element whose text is kept, and where.
    Text(Slot),
}

/// Where an element's text goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    StatementId,
    AccountIban,
    AccountOtherId,
    AccountCurrency,
    BalanceCode,
    BalanceAmount,
    BalanceIndicator,
    BalanceDate,
    BalanceDateTime,
    SummaryCount(usize),
    SummarySum(usize),
    EntryAmount,
    EntryIndicator,
    EntryDate(EntryDate),
    EntryDateTime(EntryDate),
    EntryReference,
    EntryServicerReference,
    TransactionServicerReference,
    TransactionEndToEnd,
    PartyName(Party),
    PartyOtherId { party: Party, organisation: bool },
    Unstructured,
    AdditionalInfo,
    Reversal,
}

/// An open element: its role and the names of its children seen so far.
struct Frame {
    role: Role,
    seen: u64,
}

/// The role of a child element from its parent's, its name, and whether it is the first
/// child of that name. Also records, in `document`, that the element is there (a new
/// balance, entry, debtor, ...). `None` means ignored.
fn role_of(parent: Role, tag: Tag, first: bool, document: &mut Document<'_>) -> Option<Role> {
    use Role as R;
    use Tag as T;
    let statement = &mut document.statement;
    let role = match (parent, tag) {
        (R::Root, T::BkToCstmrStmt) if first => {
            document.message = true;
            R::Message
        }
        (R::Message, T::Stmt) => {
            document.statements += 1;
            if document.statements > 1 {
                return None;
            }
            R::Statement
        }
        (R::Statement, T::Id) if first => R::Text(Slot::StatementId),
        (R::Statement, T::Acct) if first => {
            statement.account = Some(RawAccount::default());
            R::Account
        }
        (R::Statement, T::Bal) => {
            statement.balances.push(RawBalance::default());
            R::Balance
        }
        (R::Statement, T::TxsSummry) if first => {
            statement.summary = Some(RawSummary::default());
            R::Summary
        }
        (R::Statement, T::Ntry) => {
            statement.entries.push(RawEntry::default());
            R::Entry
        }
        (R::Account, T::Id) if first => R::AccountId,
        (R::Account, T::Ccy) if first => R::Text(Slot::AccountCurrency),
        (R::AccountId, T::Iban) if first => R::Text(Slot::AccountIban),
        (R::AccountId, T::Othr) if first => R::AccountOther,
        (R::AccountOther, T::Id) if first => R::Text(Slot::AccountOtherId),
        (R::Balance, T::Tp) if first => R::BalanceType,
        (R::Balance, T::Amt) if first => R::Text(Slot::BalanceAmount),
        (R::Balance, T::CdtDbtInd) if first => R::Text(Slot::BalanceIndicator),
        (R::Balance, T::Dt) if first => {
            if let Some(balance) = statement.balances.last_mut() {
                balance.date = Some(RawDate::default());
            }
            R::BalanceDate
        }
        (R::BalanceType, T::CdOrPrtry) if first => R::BalanceCodeOrProprietary,
        (R::BalanceCodeOrProprietary, T::Cd) if first => R::Text(Slot::BalanceCode),
        (R::BalanceDate, T::Dt) if first => R::Text(Slot::BalanceDate),
        (R::BalanceDate, T::DtTm) if first => R::Text(Slot::BalanceDateTime),
        (R::Summary, T::TtlNtries) if first => R::SummaryTotal(0),
        (R::Summary, T::TtlCdtNtries) if first => R::SummaryTotal(1),
        (R::Summary, T::TtlDbtNtries) if first => R::SummaryTotal(2),
        (R::SummaryTotal(total), T::NbOfNtries) if first => R::Text(Slot::SummaryCount(total)),
        (R::SummaryTotal(total), T::Sum) if first => R::Text(Slot::SummarySum(total)),
        (R::Entry, tag) if first => return entry_child(tag, statement.entries.last_mut()),
        (R::EntryDate(which), T::Dt) if first => R::Text(Slot::EntryDate(which)),
        (R::EntryDate(which), T::DtTm) if first => R::Text(Slot::EntryDateTime(which)),
        (R::EntryDetails, T::TxDtls) => {
            let entry = statement.entries.last_mut()?;
            entry.transactions += 1;
            R::Transaction {
                first: entry.transactions == 1,
            }
        }
        (R::Transaction { .. }, T::RmtInf) if first => R::Remittance,
        (R::Transaction { first: true }, T::Refs) if first => R::References,
        (R::Transaction { first: true }, T::RltdPties) if first => R::RelatedParties,
        (R::References, T::AcctSvcrRef) if first => R::Text(Slot::TransactionServicerReference),
        (R::References, T::EndToEndId) if first => R::Text(Slot::TransactionEndToEnd),
        (R::RelatedParties, T::Dbtr) if first => {
            statement.entries.last_mut()?.debtor = Some(RawDebtor::default());
            R::Debtor
        }
        (R::Debtor, T::Pty) if first => {
            statement.entries.last_mut()?.debtor.as_mut()?.party = Some(RawParty::default());
            R::WrappedParty
        }
        (R::Debtor, T::Nm) if first => R::Text(Slot::PartyName(Party::Direct)),
        (R::Debtor, T::Id) if first => R::PartyId(Party::Direct),
        (R::WrappedParty, T::Nm) if first => R::Text(Slot::PartyName(Party::Wrapped)),
        (R::WrappedParty, T::Id) if first => R::PartyId(Party::Wrapped),
        (R::PartyId(party), T::OrgId | T::PrvtId) if first => R::PartyIdKind {
            party,
            organisation: tag == T::OrgId,
        },
        (
            R::PartyIdKind {
                party,
                organisation,
            },
            T::Othr,
        ) => {
            let found = party_of(statement.entries.last_mut(), party)?;
            let ids = if organisation {
                &mut found.organisation_ids
            } else {
                &mut found.private_ids
            };
            ids.push(None);
            R::PartyIdOther {
                party,
                organisation,
            }
        }
        (
            R::PartyIdOther {
                party,
                organisation,
            },
            T::Id,
        ) if first => R::Text(Slot::PartyOtherId {
            party,
            organisation,
        }),
        (R::Remittance, T::Ustrd) => R::Text(Slot::Unstructured),
        _ => return None,
    };
    Some(role)
}

/// The role of the first child of its name of a `Ntry`.
fn entry_child(tag: Tag, entry: Option<&mut RawEntry<'_>>) -> Option<Role> {
    let entry = entry?;
    Some(match tag {
        Tag::Amt => Role::Text(Slot::EntryAmount),
        Tag::CdtDbtInd => Role::Text(Slot::EntryIndicator),
        Tag::ValDt => {
            entry.value_date = Some(RawDate::default());
            Role::EntryDate(EntryDate::Value)
        }
        Tag::BookgDt => {
            entry.booking_date = Some(RawDate::default());
            Role::EntryDate(EntryDate::Booking)
        }
        Tag::NtryRef => Role::Text(Slot::EntryReference),
        Tag::AcctSvcrRef => Role::Text(Slot::EntryServicerReference),
        Tag::NtryDtls => Role::EntryDetails,
        Tag::AddtlNtryInf => Role::Text(Slot::AdditionalInfo),
        Tag::RvslInd => Role::Text(Slot::Reversal),
        _ => return None,
    })
}

/// The debtor's party `party` of an entry, if its debtor is there.
fn party_of<'e, 'a>(
    entry: Option<&'e mut RawEntry<'a>>,
    party: Party,
) -> Option<&'e mut RawParty<'a>> {
    let debtor = entry?.debtor.as_mut()?;
    match party {
        Party::Direct => Some(&mut debtor.direct),
        Party::Wrapped => debtor.party.as_mut(),
    }
}

/// Keeps the `Ccy` attribute of an `Amt` element (the element's presence is kept too).
fn keep_amount<'a>(document: &mut Document<'a>, slot: Slot, currency: Option<String>) {
    let statement = &mut document.statement;
    let amount = match slot {
        Slot::BalanceAmount => statement.balances.last_mut().map(|b| &mut b.amount),
        Slot::EntryAmount => statement.entries.last_mut().map(|e| &mut e.amount),
        _ => None,
    };
    if let Some(amount) = amount {
        *amount = Some(RawAmount {
            text: None,
            currency,
        });
    }
}

/// Keeps an element's text where its slot says.
fn keep_text<'a>(document: &mut Document<'a>, slot: Slot, text: Cow<'a, str>) {
    let statement = &mut document.statement;
    let text = Some(text);
    let target: Option<&mut RawText<'a>> = match slot {
        Slot::StatementId => Some(&mut statement.id),
        Slot::AccountIban => statement.account.as_mut().map(|a| &mut a.iban),
        Slot::AccountOtherId => statement.account.as_mut().map(|a| &mut a.other_id),
        Slot::AccountCurrency => statement.account.as_mut().map(|a| &mut a.currency),
        Slot::BalanceCode
        | Slot::BalanceAmount
        | Slot::BalanceIndicator
        | Slot::BalanceDate
        | Slot::BalanceDateTime => statement.balances.last_mut().and_then(|b| match slot {
            Slot::BalanceCode => Some(&mut b.code),
            Slot::BalanceAmount => b.amount.as_mut().map(|a| &mut a.text),
            Slot::BalanceIndicator => Some(&mut b.indicator),
            Slot::BalanceDate => b.date.as_mut().map(|d| &mut d.date),
            _ => b.date.as_mut().map(|d| &mut d.date_time),
        }),
        Slot::SummaryCount(total) => statement
            .summary
            .as_mut()
            .and_then(|s| s.counts.get_mut(total)),
        Slot::SummarySum(total) => statement
            .summary
            .as_mut()
            .and_then(|s| s.sums.get_mut(total)),
        Slot::Unstructured => {
            if let Some(entry) = statement.entries.last_mut() {
                if !text.as_deref().unwrap_or("").trim().is_empty() {
                    entry.unstructured.extend(text);
                }
            }
            return;
        }
        Slot::PartyName(party) => {
            party_of(statement.entries.last_mut(), party).map(|p| &mut p.name)
        }
        Slot::PartyOtherId {
            party,
            organisation,
        } => party_of(statement.entries.last_mut(), party).and_then(|p| {
            if organisation {
                p.organisation_ids.last_mut()
            } else {
                p.private_ids.last_mut()
            }
        }),
        _ => statement.entries.last_mut().and_then(|entry| match slot {
            Slot::EntryAmount => entry.amount.as_mut().map(|a| &mut a.text),
            Slot::EntryIndicator => Some(&mut entry.indicator),
            Slot::EntryDate(which) | Slot::EntryDateTime(which) => {
                let date = match which {
                    EntryDate::Value => entry.value_date.as_mut(),
                    EntryDate::Booking => entry.booking_date.as_mut(),
                }?;
                Some(if matches!(slot, Slot::EntryDate(_)) {
                    &mut date.date
                } else {
                    &mut date.date_time
                })
            }
            Slot::EntryReference => Some(&mut entry.reference),
            Slot::EntryServicerReference => Some(&mut entry.servicer_reference),
            Slot::TransactionServicerReference => Some(&mut entry.transaction_servicer_reference),
            Slot::TransactionEndToEnd => Some(&mut entry.transaction_end_to_end),
            Slot::AdditionalInfo => Some(&mut entry.additional),
            Slot::Reversal => Some(&mut entry.reversal),
            _ => None,
        }),
    };
    if let Some(target) = target {
        *target = text;
    }
}

/// An XML error, as `MalformedXml`, with its line and column.
fn malformed_at(text: &str, offset: u64, problem: impl std::fmt::Display) -> StatementError {
    let offset = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before, |at| &before[at + 1..])
        .chars()
        .count()
        + 1;
    StatementError::MalformedXml(format!("{problem} at {line}:{column}"))
}

/// Whether a reader error is the input ending inside a markup (a tag, comment, CDATA,
/// processing instruction or reference not closed): quick-xml reports these only at the
/// end of the input.
fn ends_early(error: &quick_xml::Error) -> bool {
    use quick_xml::errors::{IllFormedError, SyntaxError};
    matches!(
        error,
        quick_xml::Error::Syntax(
            SyntaxError::UnclosedTag
                | SyntaxError::UnclosedComment
                | SyntaxError::UnclosedCData
                | SyntaxError::UnclosedPIOrXmlDecl
                | SyntaxError::UnclosedDoctype
        ) | quick_xml::Error::IllFormed(IllFormedError::UnclosedReference)
    )
}

/// The text of an entity or character reference (`&amp;`, `&#x41;`), by quick-xml; a DTD
/// is refused, so only XML's five named entities exist.
fn resolve_reference(reference: &BytesRef<'_>) -> Result<Cow<'static, str>, String> {
    if let Some(c) = reference
        .resolve_char_ref()
        .map_err(|error| error.to_string())?
    {
        return Ok(Cow::Owned(c.to_string()));
    }
    let name = reference.decode().map_err(|error| error.to_string())?;
    quick_xml::escape::resolve_predefined_entity(&name)
        .map(Cow::Borrowed)
        .ok_or_else(|| format!("unknown entity reference '{name}'"))
}

/// What a start tag says beyond its name.
struct TagFacts {
    /// The `Ccy` attribute, when asked for.
    currency: Option<String>,
    /// The element's namespace, for the root only (empty when none).
    namespace: String,
}

/// Reads a start tag at `depth` (0 for the root) with quick-xml: its attributes (each
/// well-formed, none repeated, values unescaped, unknown entities refused) and its
/// namespace prefix (declared here or by an open element).
fn read_tag(
    reader: &NsReader<&[u8]>,
    start: &BytesStart<'_>,
    depth: usize,
    want_currency: bool,
) -> Result<TagFacts, String> {
    let mut facts = TagFacts {
        currency: None,
        namespace: String::new(),
    };
    for attribute in start.attributes().with_checks(true) {
        let attribute = attribute.map_err(|error| error.to_string())?;
        let value = attribute
            .unescape_value()
            .map_err(|error| error.to_string())?;
        if want_currency && attribute.key.as_ref() == b"Ccy" {
            facts.currency = Some(value.into_owned());
        }
    }
    if depth == 0 || start.name().prefix().is_some() {
        match reader.resolve_element(start.name()).0 {
            ResolveResult::Bound(namespace) if depth == 0 => {
                facts.namespace = String::from_utf8_lossy(namespace.as_ref()).into_owned();
            }
            ResolveResult::Unknown(prefix) => {
                let prefix = String::from_utf8_lossy(&prefix).into_owned();
                return Err(format!("an unknown namespace prefix '{prefix}'"));
            }
            _ => {}
        }
    }
    Ok(facts)
}

/// Streams the XML once and keeps the texts [`role_of`] points at.
///
/// Well-formedness is quick-xml's: tags, end names (`check_end_names`), comments
/// (`check_comments`), attributes (repeats refused), references (unknown entities
/// refused), namespace prefixes (`NsReader`). This function adds only what a streaming
/// reader cannot see: one root element, nothing but blanks, comments and processing
/// instructions after it (a depth counter), a declaration only at the start, no DTD.
///
/// Errors: a file that ends while the root element is open (the end of the input, or
/// quick-xml's "not closed" error for a markup cut by the end) is `Truncated`; any other
/// error is `MalformedXml`, with quick-xml's message and the line and column.
fn read_document(text: &str) -> Result<Document<'_>, StatementError> {
    let mut reader = NsReader::from_str(text);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.check_comments = true;

    let truncated =
        || StatementError::Truncated("the XML ends before its root element closes".to_owned());
    let mut document = Document::default();
    let mut stack: Vec<Frame> = Vec::with_capacity(16);
    // The element whose first text is being collected, and that text so far.
    let mut collecting: Option<(Slot, RawText<'_>)> = None;
    let mut root_seen = false;
    loop {
        let position = reader.buffer_position();
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(error) if !stack.is_empty() && ends_early(&error) => return Err(truncated()),
            Err(error) => return Err(malformed_at(text, reader.error_position(), error)),
        };
        let at = |problem: &dyn std::fmt::Display| malformed_at(text, position, problem);

        // Text, CDATA and references: part of a text (or blanks between elements).
        let piece: Option<Cow<'_, str>> = match &event {
            Event::Text(content) => {
                if stack.is_empty() {
                    if !content
                        .iter()
                        .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
                    {
                        return Err(at(&"text outside the root element"));
                    }
                    continue;
                }
                if collecting.is_none() {
                    continue;
                }
                Some(content.xml10_content().map_err(|e| at(&e))?)
            }
            Event::CData(content) => Some(content.xml10_content().map_err(|e| at(&e))?),
            Event::GeneralRef(reference) => {
                Some(resolve_reference(reference).map_err(|problem| at(&problem))?)
            }
            _ => None,
        };
        if let Some(piece) = piece {
            if stack.is_empty() {
                return Err(at(&"text outside the root element"));
            }
            if let Some((_, collected)) = &mut collecting {
                match collected {
                    Some(so_far) => so_far.to_mut().push_str(&piece),
                    None => *collected = Some(piece),
                }
            }
            continue;
        }

        // Anything else ends the text being collected.
        let empty_tag = matches!(event, Event::Empty(_));
        if let Some((slot, Some(collected))) = collecting.take() {
            keep_text(&mut document, slot, collected);
        }
        match event {
            Event::Start(start) | Event::Empty(start) => {
                if stack.is_empty() && root_seen {
                    return Err(at(&"a second root element"));
                }
                let amount_wanted = matches!(
                    stack.last().map(|frame| frame.role),
                    Some(Role::Balance | Role::Entry)
                );
                let facts = read_tag(&reader, &start, stack.len(), amount_wanted)
                    .map_err(|problem| at(&problem))?;
                let role = match stack.last_mut() {
                    None => {
                        root_seen = true;
                        document.root_name =
                            String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                        document.root_namespace = facts.namespace;
                        Some(Role::Root)
                    }
                    Some(parent) if matches!(parent.role, Role::Ignored | Role::Text(_)) => None,
                    Some(parent) => {
                        let tag = Tag::of(start.local_name().as_ref());
                        let first = parent.seen & tag.bit() == 0;
                        parent.seen |= tag.bit();
                        role_of(parent.role, tag, first, &mut document)
                    }
                }
                .unwrap_or(Role::Ignored);
                if let Role::Text(slot @ (Slot::BalanceAmount | Slot::EntryAmount)) = role {
                    keep_amount(&mut document, slot, facts.currency);
                }
                // An empty element (`<a/>`) has no text and closes at once.
                if empty_tag {
                    continue;
                }
                if let Role::Text(slot) = role {
                    collecting = Some((slot, None));
                }
                stack.push(Frame { role, seen: 0 });
            }
            Event::End(_) => {
                stack.pop();
            }
            Event::Decl(_) if position != 0 => {
                return Err(at(&"an XML declaration not at the start"));
            }
            Event::DocType(_) => {
                return Err(StatementError::MalformedXml(
                    "XML with DTD detected: a DTD is not allowed".to_owned(),
                ))
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(truncated());
    }
    if !root_seen {
        return Err(StatementError::MalformedXml(
            "the document does not have a root node".to_owned(),
        ));
    }
    Ok(document)
}

// ---------------------------------------------------------------------------------------
// Reading the kept texts, in the order the checks have always been made.
// ---------------------------------------------------------------------------------------

/// The statement a well-formed document holds, or what is wrong with it.
fn interpret(document: &Document<'_>) -> Result<BankStatement, StatementError> {
    let version = version_of(&document.root_namespace)?;
    if document.root_name != "Document" {
        return Err(StatementError::NotAStatement(format!(
            "the root element is `{}`, not camt.053's `Document`",
            document.root_name
        )));
    }
    if !document.message {
        return Err(StatementError::MalformedXml(
            "no `BkToCstmrStmt` in `Document`".to_owned(),
        ));
    }
    match document.statements {
        1 => read_statement(&document.statement, version),
        0 => Err(StatementError::MalformedXml(
            "no `Stmt` in the file".to_owned(),
        )),
        many => Err(StatementError::BadStatement(format!(
            "the file holds {many} statements (`Stmt`): load one account's statement per file"
        ))),
    }
}

fn read_statement(
    statement: &RawStatement<'_>,
    version: &'static str,
) -> Result<BankStatement, StatementError> {
    let account_node = statement
        .account
        .as_ref()
        .ok_or_else(|| StatementError::MalformedXml("`Stmt` has no `Acct`".to_owned()))?;
    let account = trimmed(&account_node.iban)
        .or_else(|| trimmed(&account_node.other_id))
        .ok_or_else(|| StatementError::MalformedXml("`Acct` has no `Id`".to_owned()))?
        .to_owned();

    let mut opening_balance = None;
    let mut opening_previous = None;
    let mut closing_balance = None;
    for balance in &statement.balances {
        let code = trimmed(&balance.code).unwrap_or("");
        let read = || read_balance(balance, code);
        match code {
            "OPBD" => opening_balance = Some(read()?),
            "PRCD" => opening_previous = Some(read()?),
            "CLBD" => closing_balance = Some(read()?),
            _ => {}
        }
    }
    let opening_balance = opening_balance.or(opening_previous);

    let currency = trimmed(&account_node.currency)
        .and_then(CurrencyCode::parse)
        .or_else(|| opening_balance.as_ref().map(|b| b.currency.clone()))
        .or_else(|| closing_balance.as_ref().map(|b| b.currency.clone()))
        .or_else(|| {
            statement
                .entries
                .first()
                .and_then(|entry| entry.amount.as_ref())
                .and_then(|amount| amount.currency.as_deref())
                .and_then(CurrencyCode::parse)
        })
        .ok_or_else(|| {
            StatementError::MalformedXml(
                "the statement names no currency (`Acct/Ccy`, a balance or an entry)".to_owned(),
            )
        })?;

    let lines = statement
        .entries
        .iter()
        .enumerate()
        .map(|(index, entry)| read_entry(index, entry))
        .collect::<Result<Vec<_>, _>>()?;

    Ok(BankStatement {
        format: StatementFormat::Camt053 { version },
        statement_id: trimmed(&statement.id).map(str::to_owned),
        account,
        currency,
        opening_balance,
        closing_balance,
        stated_totals: read_totals(statement.summary.as_ref())?,
        lines,
    })
}

fn read_balance(balance: &RawBalance<'_>, code: &str) -> Result<Balance, StatementError> {
    let what = format!("the balance {code}");
    let amount_node = balance
        .amount
        .as_ref()
        .ok_or_else(|| StatementError::MalformedXml(format!("{what} has no `Amt`")))?;
    let mut amount = stated_amount(&what, amount_node.text.as_deref().unwrap_or(""))?;
    if trimmed(&balance.indicator) == Some("DBIT") {
        amount = -amount;
    }
    let currency = amount_node
        .currency
        .as_deref()
        .and_then(CurrencyCode::parse)
        .ok_or_else(|| StatementError::MalformedXml(format!("{what} has no currency (`Ccy`)")))?;
    let date = balance.date.as_ref().and_then(RawDate::day);
    Ok(Balance {
        amount,
        currency,
        date,
    })
}

fn read_totals(summary: Option<&RawSummary<'_>>) -> Result<StatedTotals, StatementError> {
    let Some(summary) = summary else {
        return Ok(StatedTotals::default());
    };
    let count = |total: usize| -> Result<Option<u64>, StatementError> {
        trimmed(&summary.counts[total])
            .map(|text| {
                text.parse::<u64>().map_err(|_| {
                    StatementError::MalformedXml(format!(
                        "`TxsSummry/{}/NbOfNtries` is `{text}`, not a count",
                        TOTALS[total]
                    ))
                })
            })
            .transpose()
    };
    let sum = |total: usize| {
        trimmed(&summary.sums[total])
            .map(|text| stated_amount(&format!("`TxsSummry/{}/Sum`", TOTALS[total]), text))
            .transpose()
    };
    Ok(StatedTotals {
        entries: count(0)?,
        credits: count(1)?,
        credits_sum: sum(1)?,
        debits: count(2)?,
        debits_sum: sum(2)?,
    })
}

fn read_entry(index: usize, entry: &RawEntry<'_>) -> Result<StatementLine, StatementError> {
    let bad = |problem: &str| StatementError::BadEntry {
        entry: index,
        problem: problem.to_owned(),
    };
    let amount_node = entry.amount.as_ref().ok_or_else(|| bad("no `Amt`"))?;
    let amount = line_amount(index, amount_node.text.as_deref().unwrap_or(""))?;
    let currency = amount_node
        .currency
        .as_deref()
        .and_then(CurrencyCode::parse)
        .ok_or_else(|| bad("`Amt` has no currency (`Ccy`)"))?;
    let credit = match trimmed(&entry.indicator) {
        Some("CRDT") => true,
        Some("DBIT") => false,
        Some(other) => return Err(bad(&format!("`CdtDbtInd` is `{other}`, not CRDT or DBIT"))),
        None => return Err(bad("no `CdtDbtInd`")),
    };
    let value_date = entry
        .value_date
        .as_ref()
        .and_then(RawDate::day)
        .or_else(|| entry.booking_date.as_ref().and_then(RawDate::day))
        .ok_or_else(|| bad("no value date (`ValDt`) or booking date (`BookgDt`)"))?;

    let reference = trimmed(&entry.reference)
        .or_else(|| trimmed(&entry.servicer_reference))
        .or_else(|| trimmed(&entry.transaction_servicer_reference))
        .or_else(|| trimmed(&entry.transaction_end_to_end).filter(|id| *id != "NOTPROVIDED"))
        .ok_or_else(|| {
            bad("no bank reference (`NtryRef`, `AcctSvcrRef` or `EndToEndId`): the reference keeps a statement loaded twice from recording twice")
        })?;
    let bank_reference = bank_reference(index, reference)?;

    // From 001.08 a party's name and id are in `Pty`; before, directly in `Dbtr`.
    let debtor = entry
        .debtor
        .as_ref()
        .map(|debtor| debtor.party.as_ref().unwrap_or(&debtor.direct));
    let payer_name = debtor.and_then(|d| trimmed(&d.name)).map(str::to_owned);
    let payer_ids: Vec<&str> = debtor
        .into_iter()
        .flat_map(|d| d.organisation_ids.iter().chain(&d.private_ids))
        .filter_map(trimmed)
        .collect();
    let payer_bin = payer_ids.iter().find_map(|id| payer_bin(Some(id)));
    let payer_id_text = payer_bin
        .as_ref()
        .map(|bin| bin.as_str().to_owned())
        .or_else(|| payer_ids.first().map(|id| (*id).to_owned()));

    let purpose = if entry.unstructured.is_empty() {
        trimmed(&entry.additional).map(str::to_owned)
    } else {
        Some(
            entry
                .unstructured
                .iter()
                .map(|text| text.trim())
                .collect::<Vec<_>>()
                .join(" "),
        )
    };

    Ok(StatementLine {
        index,
        bank_reference,
        value_date,
        amount,
        currency,
        credit,
        reversal: matches!(trimmed(&entry.reversal), Some("true" | "1")),
        payer_bin,
        payer_id_text,
        payer_name,
        purpose,
    })
}

#[cfg(test)]
mod tests {
    //! What a streaming reader could get wrong; the streaming reader against the tree
    //! reader it replaced (`camt053_tree`) on the fixtures and a generated statement; files
    //! cut anywhere and broken XML refused.

    use std::mem::discriminant;
    use std::time::{Duration, Instant};

    use events::{Currency, ParticipantId};
    use time::macros::date;

    use super::super::camt053_tree;
    use super::super::generate::{camt053_of_credits, round_robin_credits};
    use super::*;

    const CAMT_02: &str = include_str!("fixtures/camt053_001_02.xml");
    const CAMT_08: &str = include_str!("fixtures/camt053_001_08.xml");

    /// A 001.08 statement of one entry whose `TxDtls` (one or more) are `details`.
    fn one_entry(details: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">
  <BkToCstmrStmt><Stmt><Id>S-1</Id>
    <Acct><Id><IBAN>KZ86125KZT5004100100</IBAN></Id><Ccy>KZT</Ccy></Acct>
    <Ntry><Amt Ccy="KZT">10.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>
      <ValDt><Dt>2026-12-01</Dt></ValDt><NtryRef>R-1</NtryRef>
      <NtryDtls>{details}</NtryDtls>
    </Ntry>
  </Stmt></BkToCstmrStmt>
</Document>"#
        )
    }

    /// Both readers give `text` the same statement, or errors of the same kind.
    fn assert_same(text: &str) {
        let new = parse(text.as_bytes());
        let old = camt053_tree::parse(text.as_bytes());
        let same = match (&new, &old) {
            (Ok(new), Ok(old)) => new == old,
            (Err(new), Err(old)) => discriminant(new) == discriminant(old),
            _ => false,
        };
        assert!(
            same,
            "the readers differ on\n{text}\nstreaming: {new:?}\ntree:      {old:?}"
        );
    }

    fn line(text: &str) -> StatementLine {
        let mut statement = parse(text.as_bytes()).unwrap();
        assert_eq!(statement.lines.len(), 1);
        statement.lines.remove(0)
    }

    #[test]
    fn the_fixtures_and_a_generated_statement_read_as_the_tree_reader_read_them() {
        assert_same(CAMT_02);
        assert_same(CAMT_08);
        let payers = [
            ParticipantId::parse("120340001230").unwrap(),
            ParticipantId::parse("980511004560").unwrap(),
        ];
        let credits = round_robin_credits("GEN", &payers, 50, date!(2026 - 12 - 01));
        assert_same(&camt053_of_credits(
            "G-1",
            "KZ86125KZT5004100100",
            Currency::KZT,
            &credits,
        ));
        let statement = parse(CAMT_08.as_bytes()).unwrap();
        assert_eq!(statement.lines.len(), 4);
        assert_eq!(
            statement.lines[3].purpose.as_deref(),
            Some("invoice 17 for EDO services & support")
        );
    }

    #[test]
    fn a_prefixed_namespace_is_read_like_a_default_one() {
        let prefixed = CAMT_08
            .replace("<Document xmlns=", "<c:Document xmlns:c=")
            .replace("</Document>", "</c:Document>")
            .replace("<Stmt>", "<c:Stmt>")
            .replace("</Stmt>", "</c:Stmt>");
        assert_same(&prefixed);
        let read = parse(prefixed.as_bytes()).unwrap();
        assert_eq!(read, parse(CAMT_08.as_bytes()).unwrap());
        assert_eq!(read.format, StatementFormat::Camt053 { version: "001.08" });
        // The version comes from the root's own namespace, not another one declared.
        let other = CAMT_08.replace(
            "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.08\"",
            "<Document xmlns:c=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.08\"",
        );
        assert_same(&other);
        assert!(matches!(
            parse(other.as_bytes()),
            Err(StatementError::NotAStatement(_))
        ));
        // A prefix nobody declared is malformed.
        let undeclared = CAMT_08
            .replace("<Ntry>", "<x:Ntry>")
            .replace("</Ntry>", "</x:Ntry>");
        assert_same(&undeclared);
        assert!(matches!(
            parse(undeclared.as_bytes()),
            Err(StatementError::MalformedXml(_))
        ));
    }

    #[test]
    fn entities_and_cdata_in_a_purpose_are_read_as_text() {
        let text = one_entry(
            "<TxDtls><RmtInf><Ustrd> A &amp; B &lt;&#x41;&#66;&gt; <![CDATA[<C> & D]]>\r\n</Ustrd></RmtInf></TxDtls>",
        );
        assert_same(&text);
        assert_eq!(line(&text).purpose.as_deref(), Some("A & B <AB> <C> & D"));
        let unknown = text.replace("&amp;", "&nbsp;");
        assert_same(&unknown);
        assert!(matches!(
            parse(unknown.as_bytes()),
            Err(StatementError::MalformedXml(_))
        ));
    }

    #[test]
    fn two_transactions_join_their_purposes_and_the_first_names_the_payer() {
        let text = one_entry(
            "<TxDtls><RltdPties><Dbtr><Pty><Nm>First</Nm><Id><OrgId><Othr><Id>120340001230</Id></Othr></OrgId></Id></Pty></Dbtr></RltdPties>\
               <RmtInf><Ustrd>one</Ustrd><Ustrd>  </Ustrd><Ustrd>two</Ustrd></RmtInf><RmtInf><Ustrd>not read</Ustrd></RmtInf></TxDtls>\
             <TxDtls><Refs><AcctSvcrRef>NOT-READ</AcctSvcrRef></Refs><RltdPties><Dbtr><Pty><Nm>Second</Nm><Id><OrgId><Othr><Id>980511004560</Id></Othr></OrgId></Id></Pty></Dbtr></RltdPties>\
               <RmtInf><Ustrd>three</Ustrd></RmtInf></TxDtls>",
        );
        assert_same(&text);
        let line = line(&text);
        assert_eq!(line.purpose.as_deref(), Some("one two three"));
        assert_eq!(line.payer_name.as_deref(), Some("First"));
        assert_eq!(
            line.payer_bin,
            Some(ParticipantId::parse("120340001230").unwrap())
        );
        assert_eq!(line.bank_reference.as_str(), "R-1");
    }

    #[test]
    fn names_at_other_depths_are_not_read() {
        // An `Id` under `Acct/Svcr` or `Acct/Ownr`, a `Ccy` in `Acct/Ownr`, an `Amt` in
        // `TxDtls`, a `Nm` in the debtor's address, the creditor's party: none is read.
        let text = CAMT_08
            .replacen(
                "<Acct>",
                "<Acct><Ownr><Id><OrgId><Othr><Id>OWNER</Id></Othr></OrgId></Id><Ccy>USD</Ccy></Ownr>\
                 <Svcr><FinInstnId><Othr><Id>SERVICER</Id></Othr></FinInstnId></Svcr>",
                1,
            )
            .replacen("<Id><IBAN>", "<Id><Othr><Id>OTHER</Id></Othr><IBAN>", 1)
            .replacen(
                "<Dbtr><Pty><Nm>ТОО «Ромашка»</Nm>",
                "<Cdtr><Pty><Nm>Creditor</Nm><Id><OrgId><Othr><Id>870102500126</Id></Othr></OrgId></Id></Pty></Cdtr>\
                 <Dbtr><Pty><PstlAdr><Nm>Street</Nm></PstlAdr><Nm>ТОО «Ромашка»</Nm>",
                1,
            )
            .replacen("<Stmt>", "<Stmt><GrpHdr><Id>NOT-THE-ID</Id></GrpHdr>", 1);
        assert_same(&text);
        let statement = parse(text.as_bytes()).unwrap();
        assert_eq!(statement.account, "KZ86125KZT5004100100");
        assert_eq!(statement.currency.as_str(), "KZT");
        assert_eq!(statement.statement_id.as_deref(), Some("STMT-20261202-001"));
        assert_eq!(
            statement.lines[0].payer_name.as_deref(),
            Some("ТОО «Ромашка»")
        );
        assert_eq!(
            statement.lines[0].payer_bin,
            Some(ParticipantId::parse("120340001230").unwrap())
        );
        // Only the first `Id` of `Acct` is looked into, as the tree reader did.
        let second_id = CAMT_08.replacen(
            "<Id><IBAN>KZ86125KZT5004100100</IBAN></Id>",
            "<Id><Prtry>X</Prtry></Id><Id><IBAN>KZ86125KZT5004100100</IBAN></Id>",
            1,
        );
        assert_same(&second_id);
        assert!(matches!(
            parse(second_id.as_bytes()),
            Err(StatementError::MalformedXml(_))
        ));
    }

    #[test]
    fn comments_and_processing_instructions_are_skipped_between_elements() {
        let text = CAMT_08
            .replace(
                "<Ntry>",
                "<!-- an entry --><?bank note?><Ntry><!-- its amount -->",
            )
            .replace("</Ntry>", "<?end?></Ntry><!-- done -->")
            .replacen("</Document>", "</Document>\n<!-- trailer -->\n<?pi?>\n", 1);
        assert_same(&text);
        assert_eq!(
            parse(text.as_bytes()).unwrap(),
            parse(CAMT_08.as_bytes()).unwrap()
        );
        // Inside a text, a comment ends it, as in the tree (its first text node).
        let split =
            one_entry("<TxDtls><RmtInf><Ustrd>before<!-- c -->after</Ustrd></RmtInf></TxDtls>");
        assert_same(&split);
        assert_eq!(line(&split).purpose.as_deref(), Some("before"));
    }

    #[test]
    fn a_truncated_file_is_truncated_at_any_element_boundary() {
        let without_end = CAMT_08.trim_end().trim_end_matches("</Document>");
        assert!(matches!(
            parse(without_end.as_bytes()),
            Err(StatementError::Truncated(_))
        ));
        let at_an_entry = &CAMT_08[..CAMT_08.find("</Ntry>").unwrap()];
        assert!(matches!(
            parse(at_an_entry.as_bytes()),
            Err(StatementError::Truncated(_))
        ));
    }

    #[test]
    fn the_party_wrapper_of_001_08_and_the_direct_name_before() {
        let direct = one_entry("<TxDtls><RltdPties><Dbtr><Nm>Direct</Nm><Id><PrvtId><Othr><Id>980511004560</Id></Othr></PrvtId></Id></Dbtr></RltdPties></TxDtls>");
        assert_same(&direct);
        assert_eq!(line(&direct).payer_name.as_deref(), Some("Direct"));
        assert_eq!(
            line(&direct).payer_bin,
            Some(ParticipantId::parse("980511004560").unwrap())
        );
        // With a `Pty`, only the `Pty` counts, even when it has no name.
        let wrapped = one_entry("<TxDtls><RltdPties><Dbtr><Nm>Direct</Nm><Pty><Id><OrgId><Othr><Id>NOT-A-BIN</Id></Othr></OrgId></Id></Pty></Dbtr></RltdPties></TxDtls>");
        assert_same(&wrapped);
        assert_eq!(line(&wrapped).payer_name, None);
        assert_eq!(line(&wrapped).payer_bin, None);
        assert_eq!(line(&wrapped).payer_id_text.as_deref(), Some("NOT-A-BIN"));
        // Ids: `OrgId`'s before `PrvtId`'s, the first that is a BIN picked.
        let ids = one_entry("<TxDtls><RltdPties><Dbtr><Pty><Id><PrvtId><Othr><Id>980511004560</Id></Othr></PrvtId><OrgId><Othr><Id>X</Id></Othr><Othr><Id>120340001230</Id></Othr></OrgId></Id></Pty></Dbtr></RltdPties></TxDtls>");
        assert_same(&ids);
        assert_eq!(
            line(&ids).payer_bin,
            Some(ParticipantId::parse("120340001230").unwrap())
        );
    }

    /// Whether `text` is refused as malformed or truncated (a panic fails the test).
    fn refused(text: &[u8]) -> bool {
        matches!(
            parse(text),
            Err(StatementError::MalformedXml(_) | StatementError::Truncated(_))
        )
    }

    #[test]
    fn a_file_cut_anywhere_is_refused() {
        for fixture in [CAMT_02, CAMT_08] {
            // Up to its last `>` (what follows is a line end).
            for at in 0..=fixture.rfind('>').unwrap() {
                let cut = &fixture.as_bytes()[..at];
                assert!(
                    refused(cut),
                    "cut at {at}: {:?}\n{}",
                    parse(cut),
                    String::from_utf8_lossy(cut)
                );
            }
        }
        // Cut inside the root, at the end of the input or of a markup: truncated.
        for cut in [
            "<Amt",
            "<Amt Ccy=\"KZT\"",
            "<Amt Ccy=\"K",
            "</Ntry",
            "<!-- c",
            "<![CDATA[x",
            "<?pi",
            "&am",
        ] {
            let at = CAMT_08.find("<Amt").unwrap();
            let text = format!("{}{cut}", &CAMT_08[..at]);
            assert!(
                matches!(parse(text.as_bytes()), Err(StatementError::Truncated(_))),
                "{cut}: {:?}",
                parse(text.as_bytes())
            );
        }
    }

    /// Broken inputs, each a replacement (of the first occurrence) in the 001.08 fixture.
    const BROKEN: [(&str, &str); 33] = [
        ("</Ntry>", "</Ntri>"),
        ("</Amt>", "</Ccy>"),
        ("</Document>", "</document>"),
        ("<Stmt>", "<Stmt><Stmt>"),
        ("</Stmt>", "</Stmt></Stmt>"),
        ("EDO services &amp; support", "EDO services &nbsp; support"),
        ("EDO services &amp; support", "EDO services & support"),
        ("EDO services &amp; support", "EDO services &#0; support"),
        ("EDO services &amp; support", "EDO services &#xZZ; support"),
        ("EDO services &amp; support", "EDO services < support"),
        ("Ccy=\"KZT\"", "Ccy=\"&bad;\""),
        ("Ccy=\"KZT\"", "Ccy=\"KZT\" Ccy=\"USD\""),
        ("Ccy=\"KZT\"", "Ccy=KZT"),
        ("Ccy=\"KZT\"", "Ccy"),
        ("<Document", "<!DOCTYPE Document><Document"),
        (
            "<Document",
            "<!DOCTYPE Document [<!ENTITY e \"x\">]><Document",
        ),
        ("<Document", "<Document xmlns:a=\"x\" xmlns:a=\"y\""),
        ("<Ntry>", "<x:Ntry>"),
        ("<Ntry>", "<!-- unclosed <Ntry>"),
        ("<Ntry>", "<!-- a -- b --><Ntry>"),
        ("<Ntry>", "<![CDATA[x<Ntry>"),
        ("</Document>", "</Document>x"),
        ("</Document>", "</Document>&amp;"),
        ("</Document>", "</Document><![CDATA[x]]>"),
        ("</Document>", "</Document><Document/>"),
        ("</Document>", "</Document><Document></Document>"),
        ("</Document>", "</Document>\n<Other/>"),
        ("</Document>", ""),
        ("<Document", "x<Document"),
        ("<Document", "<?xml version=\"1.0\"?><Document"),
        ("<BkToCstmrStmt>", "<BkToCstmrStmt"),
        ("</Ntry>", "</Ntry"),
        ("<Ntry>", "<Ntry></Ntry></Ntry>"),
    ];

    #[test]
    fn broken_xml_is_refused_as_malformed_or_truncated() {
        for (from, to) in BROKEN {
            let text = CAMT_08.replacen(from, to, 1);
            assert_ne!(text, CAMT_08, "{from} is in the fixture");
            assert!(
                refused(text.as_bytes()),
                "{from:?} as {to:?}: {:?}",
                parse(text.as_bytes())
            );
        }
        for text in [
            "",
            "   ",
            "<!-- only a comment -->",
            "<a>",
            "<a></b>",
            "<a/><b/>",
            "<a/>x",
            "\u{FEFF}",
        ] {
            assert!(
                refused(text.as_bytes()),
                "{text:?}: {:?}",
                parse(text.as_bytes())
            );
        }
        assert!(matches!(
            parse(b"\xFF<a/>"),
            Err(StatementError::MalformedXml(_))
        ));
        let dtd = CAMT_08.replacen("<Document", "<!DOCTYPE Document><Document", 1);
        assert!(matches!(
            parse(dtd.as_bytes()),
            Err(StatementError::MalformedXml(message)) if message.contains("DTD")
        ));
        let mismatched = CAMT_08.replacen("</Ntry>", "</Ntri>", 1);
        assert!(matches!(
            parse(mismatched.as_bytes()),
            Err(StatementError::MalformedXml(message)) if message.contains(':')
        ));
    }

    /// The parse time of the bench's 10,000-line statement, both readers, best of 5:
    /// `cargo test --release -p api --lib -- --ignored --nocapture parse_timing`.
    #[test]
    #[ignore = "a measurement, run by hand in release"]
    fn parse_timing() {
        let payers: Vec<ParticipantId> = ["120340001230", "980511004560", "870102500126"]
            .iter()
            .map(|bin| ParticipantId::parse(bin).unwrap())
            .collect();
        let credits = round_robin_credits("BENCH-STMT", &payers, 10_000, date!(2026 - 12 - 01));
        let file = camt053_of_credits(
            "BENCH-STMT-1",
            "KZ86125KZT5004100100",
            Currency::KZT,
            &credits,
        );
        let best = |read: &dyn Fn(&[u8]) -> Result<BankStatement, StatementError>| {
            (0..5)
                .map(|_| {
                    let started = Instant::now();
                    let statement = read(file.as_bytes()).unwrap();
                    let took = started.elapsed();
                    assert_eq!(statement.lines.len(), 10_000);
                    took
                })
                .min()
                .unwrap_or(Duration::ZERO)
        };
        assert_eq!(parse(file.as_bytes()), camt053_tree::parse(file.as_bytes()));
        let tree = best(&camt053_tree::parse);
        let streaming = best(&parse);
        println!(
            "10,000 lines, {} bytes: tree (roxmltree) {tree:?}, streaming (quick-xml) {streaming:?}, best of 5",
            file.len()
        );
        // Where the streaming reader's time goes.
        let best_of = |step: &dyn Fn() -> usize| {
            (0..5)
                .map(|_| {
                    let started = Instant::now();
                    std::hint::black_box(step());
                    started.elapsed()
                })
                .min()
                .unwrap_or(Duration::ZERO)
        };
        let events = best_of(&|| {
            let mut reader = NsReader::from_str(&file);
            let mut count = 0;
            while !matches!(reader.read_event(), Ok(Event::Eof) | Err(_)) {
                count += 1;
            }
            count
        });
        let read = best_of(&|| read_document(&file).map_or(0, |d| d.statement.entries.len()));
        let document = read_document(&file).unwrap();
        let interpreted = best_of(&|| interpret(&document).map_or(0, |s| s.lines.len()));
        let utf8 = best_of(&|| std::str::from_utf8(file.as_bytes()).map_or(0, str::len));
        println!(
            "streaming: UTF-8 check {utf8:?}, bare NsReader events {events:?}, read_document {read:?}, interpret {interpreted:?}"
        );
    }
}
