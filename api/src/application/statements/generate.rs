//! Writes camt.053.001.08 statements of credit lines, for the bench and the tests (a
//! 10,000-line statement in one request, INTEGRATION.md 2). Not a parser: the output is
//! read back by [`super::parse_statement`] like any bank's file.

use std::fmt::Write as _;

use events::{business_date, Amount, Currency, InvoiceNumber, ParticipantId};
use rust_decimal::Decimal;
use time::Date;

/// One credit line to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedCredit {
    /// The bank's reference (`AcctSvcrRef`), unique in the statement.
    pub reference: String,
    pub payer: ParticipantId,
    pub payer_name: String,
    pub amount: Amount,
    /// Named in the purpose as `Оплата по счёту №N за услуги ЭДО` when given.
    pub invoice: Option<InvoiceNumber>,
    pub value_date: Date,
}

/// `count` credits of 1,000.00 + i tiyn each, value-dated `value_date`, the payers taken
/// in turn, each naming invoice i + 1, with references `{prefix}-{i}`.
pub fn round_robin_credits(
    prefix: &str,
    payers: &[ParticipantId],
    count: usize,
    value_date: Date,
) -> Vec<GeneratedCredit> {
    if payers.is_empty() {
        return Vec::new();
    }
    (0..count)
        .map(|i| GeneratedCredit {
            reference: format!("{prefix}-{i}"),
            payer: payers[i % payers.len()].clone(),
            payer_name: format!("ТОО «Плательщик {}»", i % payers.len()),
            amount: Amount::new(
                Decimal::new(100_000, 2) + Decimal::new(i64::try_from(i).unwrap_or(0), 2),
            )
            .unwrap_or_else(|_| Amount::new(Decimal::ONE).expect("1 is an amount")),
            invoice: InvoiceNumber::new(u64::try_from(i).unwrap_or(0) + 1).ok(),
            value_date,
        })
        .collect()
}

/// A camt.053.001.08 statement of `account` in `currency` holding `credits`, with its
/// transaction summary (count and sum of credits) and booked balances (opening zero).
pub fn camt053_of_credits(
    statement_id: &str,
    account: &str,
    currency: Currency,
    credits: &[GeneratedCredit],
) -> String {
    let total: Decimal = credits.iter().map(|c| c.amount.value()).sum();
    let day = credits.first().map_or_else(
        || "2026-12-01".to_owned(),
        |c| business_date::format(c.value_date),
    );
    let ccy = currency.code();
    let mut xml = String::with_capacity(1_200 * credits.len() + 2_000);
    let _ = write!(
        xml,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">
<BkToCstmrStmt>
<GrpHdr><MsgId>{id}</MsgId><CreDtTm>{day}T23:59:00</CreDtTm></GrpHdr>
<Stmt>
<Id>{id}</Id>
<CreDtTm>{day}T23:59:00</CreDtTm>
<Acct><Id><IBAN>{account}</IBAN></Id><Ccy>{ccy}</Ccy></Acct>
<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="{ccy}">0.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>{day}</Dt></Dt></Bal>
<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="{ccy}">{total}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>{day}</Dt></Dt></Bal>
<TxsSummry><TtlNtries><NbOfNtries>{count}</NbOfNtries></TtlNtries><TtlCdtNtries><NbOfNtries>{count}</NbOfNtries><Sum>{total}</Sum></TtlCdtNtries><TtlDbtNtries><NbOfNtries>0</NbOfNtries><Sum>0.00</Sum></TtlDbtNtries></TxsSummry>
"#,
        id = escape(statement_id),
        account = escape(account),
        count = credits.len(),
    );
    for credit in credits {
        let date = business_date::format(credit.value_date);
        let purpose = match credit.invoice {
            Some(invoice) => format!("Оплата по счёту №{invoice} за услуги ЭДО"),
            None => "Оплата за услуги ЭДО".to_owned(),
        };
        let _ = write!(
            xml,
            r#"<Ntry>
<Amt Ccy="{ccy}">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
<BookgDt><Dt>{date}</Dt></BookgDt><ValDt><Dt>{date}</Dt></ValDt>
<AcctSvcrRef>{reference}</AcctSvcrRef>
<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>DMCT</SubFmlyCd></Fmly></Domn></BkTxCd>
<NtryDtls><TxDtls>
<Refs><AcctSvcrRef>{reference}</AcctSvcrRef><EndToEndId>NOTPROVIDED</EndToEndId></Refs>
<Amt Ccy="{ccy}">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd>
<RltdPties><Dbtr><Pty><Nm>{name}</Nm><Id><OrgId><Othr><Id>{payer}</Id><SchmeNm><Prtry>BIN</Prtry></SchmeNm></Othr></OrgId></Id></Pty></Dbtr></RltdPties>
<RmtInf><Ustrd>{purpose}</Ustrd></RmtInf>
</TxDtls></NtryDtls>
</Ntry>
"#,
            amount = credit.amount,
            reference = escape(&credit.reference),
            name = escape(&credit.payer_name),
            payer = credit.payer.as_str(),
            purpose = escape(&purpose),
        );
    }
    xml.push_str("</Stmt>\n</BkToCstmrStmt>\n</Document>\n");
    xml
}

/// XML text escaping for element content and attribute values.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
