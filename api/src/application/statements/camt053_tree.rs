//! The camt.053 reader as it was before the streaming one: a `roxmltree` document tree.
//! Kept for the tests only, to compare the two readers on the same files
//! (`camt053::tests`).

use roxmltree::{Document, Node, ParsingOptions};
use time::Date;

use super::camt053::version_of;
use super::{
    bank_reference, line_amount, payer_bin, stated_amount, Balance, BankStatement, CurrencyCode,
    StatedTotals, StatementError, StatementFormat, StatementLine, UTF8_BOM,
};

/// Parses a camt.053 file (the caller has checked the size limit).
pub fn parse(bytes: &[u8]) -> Result<BankStatement, StatementError> {
    let bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|error| {
        StatementError::MalformedXml(format!("the file is not UTF-8 ({error})"))
    })?;
    let options = ParsingOptions {
        allow_dtd: false,
        ..ParsingOptions::default()
    };
    let document = Document::parse_with_options(text, options).map_err(|error| match error {
        roxmltree::Error::UnclosedRootNode => {
            StatementError::Truncated("the XML ends before its root element closes".to_owned())
        }
        other => StatementError::MalformedXml(other.to_string()),
    })?;
    let root = document.root_element();
    let namespace = root.tag_name().namespace().unwrap_or("");
    let version = version_of(namespace)?;
    if root.tag_name().name() != "Document" {
        return Err(StatementError::NotAStatement(format!(
            "the root element is `{}`, not camt.053's `Document`",
            root.tag_name().name()
        )));
    }
    let message = child(root, "BkToCstmrStmt").ok_or_else(|| {
        StatementError::MalformedXml("no `BkToCstmrStmt` in `Document`".to_owned())
    })?;
    let statements: Vec<Node> = children(message, "Stmt").collect();
    let statement = match statements.as_slice() {
        [one] => *one,
        [] => {
            return Err(StatementError::MalformedXml(
                "no `Stmt` in the file".to_owned(),
            ))
        }
        many => {
            return Err(StatementError::BadStatement(format!(
                "the file holds {} statements (`Stmt`): load one account's statement per file",
                many.len()
            )))
        }
    };
    read_statement(statement, version)
}

fn read_statement(statement: Node, version: &'static str) -> Result<BankStatement, StatementError> {
    let account_node = child(statement, "Acct")
        .ok_or_else(|| StatementError::MalformedXml("`Stmt` has no `Acct`".to_owned()))?;
    let account = path_text(account_node, &["Id", "IBAN"])
        .or_else(|| path_text(account_node, &["Id", "Othr", "Id"]))
        .ok_or_else(|| StatementError::MalformedXml("`Acct` has no `Id`".to_owned()))?
        .to_owned();

    let mut opening_balance = None;
    let mut opening_previous = None;
    let mut closing_balance = None;
    for balance in children(statement, "Bal") {
        let code = path_text(balance, &["Tp", "CdOrPrtry", "Cd"]).unwrap_or("");
        let read = || read_balance(balance, code);
        match code {
            "OPBD" => opening_balance = Some(read()?),
            "PRCD" => opening_previous = Some(read()?),
            "CLBD" => closing_balance = Some(read()?),
            _ => {}
        }
    }
    let opening_balance = opening_balance.or(opening_previous);

    let entries: Vec<Node> = children(statement, "Ntry").collect();
    let currency = path_text(account_node, &["Ccy"])
        .and_then(CurrencyCode::parse)
        .or_else(|| opening_balance.as_ref().map(|b| b.currency.clone()))
        .or_else(|| closing_balance.as_ref().map(|b| b.currency.clone()))
        .or_else(|| {
            entries
                .first()
                .and_then(|entry| child(*entry, "Amt"))
                .and_then(|amount| amount.attribute("Ccy"))
                .and_then(CurrencyCode::parse)
        })
        .ok_or_else(|| {
            StatementError::MalformedXml(
                "the statement names no currency (`Acct/Ccy`, a balance or an entry)".to_owned(),
            )
        })?;

    let lines = entries
        .iter()
        .enumerate()
        .map(|(index, entry)| read_entry(index, *entry))
        .collect::<Result<Vec<_>, _>>()?;

    Ok(BankStatement {
        format: StatementFormat::Camt053 { version },
        statement_id: path_text(statement, &["Id"]).map(str::to_owned),
        account,
        currency,
        opening_balance,
        closing_balance,
        stated_totals: read_totals(statement)?,
        lines,
    })
}

fn read_balance(balance: Node, code: &str) -> Result<Balance, StatementError> {
    let what = format!("the balance {code}");
    let amount_node = child(balance, "Amt")
        .ok_or_else(|| StatementError::MalformedXml(format!("{what} has no `Amt`")))?;
    let mut amount = stated_amount(&what, amount_node.text().unwrap_or(""))?;
    if text_of(child(balance, "CdtDbtInd")) == Some("DBIT") {
        amount = -amount;
    }
    let currency = amount_node
        .attribute("Ccy")
        .and_then(CurrencyCode::parse)
        .ok_or_else(|| StatementError::MalformedXml(format!("{what} has no currency (`Ccy`)")))?;
    let date = child(balance, "Dt").and_then(date_of);
    Ok(Balance {
        amount,
        currency,
        date,
    })
}

fn read_totals(statement: Node) -> Result<StatedTotals, StatementError> {
    let Some(summary) = child(statement, "TxsSummry") else {
        return Ok(StatedTotals::default());
    };
    let count = |path: &[&str]| -> Result<Option<u64>, StatementError> {
        path_text(summary, path)
            .map(|text| {
                text.parse::<u64>().map_err(|_| {
                    StatementError::MalformedXml(format!(
                        "`TxsSummry/{}` is `{text}`, not a count",
                        path.join("/")
                    ))
                })
            })
            .transpose()
    };
    let sum = |path: &[&str]| {
        path_text(summary, path)
            .map(|text| stated_amount(&format!("`TxsSummry/{}`", path.join("/")), text))
            .transpose()
    };
    Ok(StatedTotals {
        entries: count(&["TtlNtries", "NbOfNtries"])?,
        credits: count(&["TtlCdtNtries", "NbOfNtries"])?,
        credits_sum: sum(&["TtlCdtNtries", "Sum"])?,
        debits: count(&["TtlDbtNtries", "NbOfNtries"])?,
        debits_sum: sum(&["TtlDbtNtries", "Sum"])?,
    })
}

fn read_entry(index: usize, entry: Node) -> Result<StatementLine, StatementError> {
    let bad = |problem: &str| StatementError::BadEntry {
        entry: index,
        problem: problem.to_owned(),
    };
    let amount_node = child(entry, "Amt").ok_or_else(|| bad("no `Amt`"))?;
    let amount = line_amount(index, amount_node.text().unwrap_or(""))?;
    let currency = amount_node
        .attribute("Ccy")
        .and_then(CurrencyCode::parse)
        .ok_or_else(|| bad("`Amt` has no currency (`Ccy`)"))?;
    let credit = match text_of(child(entry, "CdtDbtInd")) {
        Some("CRDT") => true,
        Some("DBIT") => false,
        Some(other) => return Err(bad(&format!("`CdtDbtInd` is `{other}`, not CRDT or DBIT"))),
        None => return Err(bad("no `CdtDbtInd`")),
    };
    let value_date = child(entry, "ValDt")
        .and_then(date_of)
        .or_else(|| child(entry, "BookgDt").and_then(date_of))
        .ok_or_else(|| bad("no value date (`ValDt`) or booking date (`BookgDt`)"))?;

    let transactions: Vec<Node> = child(entry, "NtryDtls")
        .into_iter()
        .flat_map(|details| children(details, "TxDtls"))
        .collect();
    let first = transactions.first().copied();
    let reference = text_of(child(entry, "NtryRef"))
        .or_else(|| text_of(child(entry, "AcctSvcrRef")))
        .or_else(|| first.and_then(|tx| path_text(tx, &["Refs", "AcctSvcrRef"])))
        .or_else(|| {
            first
                .and_then(|tx| path_text(tx, &["Refs", "EndToEndId"]))
                .filter(|id| *id != "NOTPROVIDED")
        })
        .ok_or_else(|| {
            bad("no bank reference (`NtryRef`, `AcctSvcrRef` or `EndToEndId`): the reference keeps a statement loaded twice from recording twice")
        })?;
    let bank_reference = bank_reference(index, reference)?;

    // From 001.08 a party's name and id are in `Pty`; before, directly in `Dbtr`.
    let debtor = first
        .and_then(|tx| path(tx, &["RltdPties", "Dbtr"]))
        .map(|debtor| child(debtor, "Pty").unwrap_or(debtor));
    let payer_name = debtor
        .and_then(|d| path_text(d, &["Nm"]))
        .map(str::to_owned);
    let payer_ids: Vec<&str> = debtor
        .and_then(|d| child(d, "Id"))
        .into_iter()
        .flat_map(|id| {
            ["OrgId", "PrvtId"]
                .into_iter()
                .filter_map(move |kind| child(id, kind))
        })
        .flat_map(|kind| children(kind, "Othr"))
        .filter_map(|other| path_text(other, &["Id"]))
        .collect();
    let payer_bin = payer_ids.iter().find_map(|id| payer_bin(Some(id)));
    let payer_id_text = payer_bin
        .as_ref()
        .map(|bin| bin.as_str().to_owned())
        .or_else(|| payer_ids.first().map(|id| (*id).to_owned()));

    let unstructured: Vec<&str> = transactions
        .iter()
        .filter_map(|tx| child(*tx, "RmtInf"))
        .flat_map(|remittance| children(remittance, "Ustrd"))
        .filter_map(|ustrd| text_of(Some(ustrd)))
        .collect();
    let purpose = if unstructured.is_empty() {
        text_of(child(entry, "AddtlNtryInf")).map(str::to_owned)
    } else {
        Some(unstructured.join(" "))
    };

    Ok(StatementLine {
        index,
        bank_reference,
        value_date,
        amount,
        currency,
        credit,
        reversal: matches!(text_of(child(entry, "RvslInd")), Some("true" | "1")),
        payer_bin,
        payer_id_text,
        payer_name,
        purpose,
    })
}

/// A date element's day: `Dt` (`YYYY-MM-DD`) or `DtTm` (its date part).
fn date_of(node: Node) -> Option<Date> {
    let text = text_of(child(node, "Dt")).or_else(|| text_of(child(node, "DtTm")))?;
    events::business_date::parse(text.get(..10)?).ok()
}

fn child<'a, 'input>(node: Node<'a, 'input>, name: &str) -> Option<Node<'a, 'input>> {
    node.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

fn children<'a, 'input: 'a>(
    node: Node<'a, 'input>,
    name: &'static str,
) -> impl Iterator<Item = Node<'a, 'input>> {
    node.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}

fn path<'a, 'input>(node: Node<'a, 'input>, names: &[&str]) -> Option<Node<'a, 'input>> {
    names.iter().try_fold(node, |node, name| child(node, name))
}

fn path_text<'a>(node: Node<'a, '_>, names: &[&str]) -> Option<&'a str> {
    text_of(path(node, names))
}

/// An element's text, trimmed; `None` when absent or blank.
fn text_of<'a>(node: Option<Node<'a, '_>>) -> Option<&'a str> {
    node.and_then(|n| n.text())
        .map(str::trim)
        .filter(|text| !text.is_empty())
}
