//! The parsers on hand-written fixtures (written from the standards, not copied), and
//! each kind of bad input.

use std::time::Instant;

use events::{Currency, InvoiceNumber, ParticipantId};
use rust_decimal::Decimal;
use time::macros::date;

use super::generate::{camt053_of_credits, round_robin_credits};
use super::*;

const CAMT_02: &str = include_str!("fixtures/camt053_001_02.xml");
const CAMT_08: &str = include_str!("fixtures/camt053_001_08.xml");
const ONE_C: &str = include_str!("fixtures/one_c_utf8.txt");

const ACCOUNT: &str = "KZ86125KZT5004100100";

fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

fn bin(text: &str) -> ParticipantId {
    ParticipantId::parse(text).unwrap()
}

fn invoice(n: u64) -> Option<InvoiceNumber> {
    Some(InvoiceNumber::new(n).unwrap())
}

fn windows_1251(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1251.encode(text);
    assert!(!unmappable, "the fixture is all Windows-1251");
    bytes.into_owned()
}

/// What both camt versions and the 1C file say alike.
fn assert_common(statement: &BankStatement) {
    assert_eq!(statement.account, ACCOUNT);
    assert_eq!(statement.currency.ledger(), Some(Currency::KZT));
    assert_eq!(statement.lines.len(), 4);
    let opening = statement.opening_balance.as_ref().unwrap();
    assert_eq!(opening.amount, dec("1000000.00"));
    assert_eq!(opening.date, Some(date!(2026 - 12 - 01)));
    let closing = statement.closing_balance.as_ref().unwrap();
    assert_eq!(closing.amount, dec("1158500.50"));
    assert_eq!(statement.stated_totals.credits_sum, Some(dec("160000.50")));
    assert_eq!(statement.stated_totals.debits_sum, Some(dec("1500.00")));
    statement.check_totals().unwrap();
    let totals = statement.line_totals();
    assert_eq!((totals.credits, totals.debits, totals.entries), (3, 1, 4));
    assert_eq!(totals.credits_sum, dec("160000.50"));

    let [first, second, third, fourth] = &statement.lines[..] else {
        panic!("four lines");
    };
    assert_eq!(
        statement.lines.iter().map(|l| l.index).collect::<Vec<_>>(),
        vec![0, 1, 2, 3]
    );
    assert!(first.credit && second.credit && !third.credit && fourth.credit);
    assert_eq!(first.amount.value(), dec("125000.00"));
    assert_eq!(second.amount.value(), dec("5000.50"));
    assert_eq!(first.currency.as_str(), "KZT");
    assert_eq!(first.value_date, date!(2026 - 12 - 01));
    assert_eq!(fourth.value_date, date!(2026 - 12 - 02));
    assert_eq!(first.payer_bin, Some(bin("120340001230")));
    assert_eq!(first.payer_name.as_deref(), Some("ТОО «Ромашка»"));
    assert_eq!(
        first.purpose.as_deref(),
        Some("Оплата по счёту №42 за услуги ЭДО")
    );
    assert_eq!(first.named_invoice(), invoice(42));
    assert_eq!(second.payer_bin, None, "the second payer names no BIN");
    assert_eq!(second.named_invoice(), None);
    assert_eq!(fourth.payer_bin, Some(bin("980511004560")), "an IIN");
    assert_eq!(fourth.named_invoice(), invoice(17));
}

#[test]
fn camt053_001_02_and_001_08_parse_the_same() {
    let old = parse_statement(CAMT_02.as_bytes()).unwrap();
    let new = parse_statement(CAMT_08.as_bytes()).unwrap();
    assert_eq!(old.format, StatementFormat::Camt053 { version: "001.02" });
    assert_eq!(new.format, StatementFormat::Camt053 { version: "001.08" });
    assert_common(&old);
    assert_common(&new);
    assert_eq!(old.lines, new.lines);
    assert_eq!(old.stated_totals, new.stated_totals);
    assert_eq!(old.statement_id.as_deref(), Some("STMT-20261202-001"));
    assert_eq!(old.stated_totals.credits, Some(3));
    assert_eq!(old.stated_totals.entries, Some(4));
    let references: Vec<&str> = old
        .lines
        .iter()
        .map(|l| l.bank_reference.as_str())
        .collect();
    // AcctSvcrRef (of the transaction), EndToEndId, NtryRef over AcctSvcrRef, NtryRef.
    assert_eq!(references, ["KZ2612010001", "E2E-77", "FEE-1201", "NR-4"]);
    assert_eq!(
        old.lines[3].purpose.as_deref(),
        Some("invoice 17 for EDO services & support"),
        "Ustrd joined, entities decoded"
    );
}

#[test]
fn camt053_every_version_from_02_to_08_is_read() {
    for version in camt053::VERSIONS {
        let text = CAMT_02.replace("camt.053.001.02", &format!("camt.053.{version}"));
        let statement = parse_statement(text.as_bytes()).unwrap();
        assert_eq!(statement.format, StatementFormat::Camt053 { version });
        assert_eq!(statement.lines.len(), 4);
    }
}

#[test]
fn one_c_in_utf8_and_windows_1251_parse_the_same() {
    let utf8 = parse_statement(ONE_C.as_bytes()).unwrap();
    let mut with_bom = UTF8_BOM.to_vec();
    with_bom.extend_from_slice(ONE_C.as_bytes());
    let bom = parse_statement(&with_bom).unwrap();
    let cp1251 = windows_1251(ONE_C);
    assert!(std::str::from_utf8(&cp1251).is_err(), "really not UTF-8");
    let windows = parse_statement(&cp1251).unwrap();
    let crlf = parse_statement(&windows_1251(&ONE_C.replace('\n', "\r\n"))).unwrap();
    assert_eq!(utf8.format, StatementFormat::OneC);
    assert_common(&utf8);
    assert_eq!(utf8, windows);
    assert_eq!(utf8, bom);
    assert_eq!(utf8, crlf);
    // A payment order's number and date, with its payer's account: the same number from
    // two payers is two payments.
    let references: Vec<&str> = utf8
        .lines
        .iter()
        .map(|l| l.bank_reference.as_str())
        .collect();
    assert_eq!(
        references,
        [
            "15 от 30.11.2026 KZ56722S000001234567",
            "77 от 01.12.2026 KZ12998BTB0000012345",
            "1201 от 01.12.2026 KZ86125KZT5004100100",
            "4 от 02.12.2026 KZ43601A871000123456"
        ]
    );
    assert_eq!(
        utf8.stated_totals.credits, None,
        "1C states sums, not counts"
    );
}

#[test]
fn one_c_in_dos_866_is_decoded_as_declared() {
    // cp866 has no guillemets.
    let text = ONE_C
        .replace("Кодировка=Windows", "Кодировка=DOS")
        .replace(['«', '»'], "\"");
    let (bytes, _, unmappable) = encoding_rs::IBM866.encode(&text);
    assert!(!unmappable && std::str::from_utf8(&bytes).is_err());
    let statement = parse_statement(&bytes).unwrap();
    assert_eq!(
        statement.lines[0].payer_name.as_deref(),
        Some("ТОО \"Ромашка\"")
    );
    assert_eq!(statement.lines[0].named_invoice(), invoice(42));
    assert_eq!(statement.line_totals().credits_sum, dec("160000.50"));
}

#[test]
fn a_windows_1251_file_that_does_not_say_so_is_refused() {
    let text = ONE_C.replace("Кодировка=Windows\n", "");
    assert_eq!(
        parse_statement(&windows_1251(&text)),
        Err(StatementError::UnknownEncoding)
    );
}

#[test]
fn the_invoice_number_finder() {
    for (purpose, expected) in [
        ("Оплата по счёту №42 за услуги ЭДО", Some(42)),
        ("оплата по счету № 123", Some(123)),
        ("ОПЛАТА ПО СЧЁТУ №7 ОТ 01.12.2026", Some(7)),
        ("Оплата счет №15 НДС не облагается", Some(15)),
        ("Оплата сч. 123", Some(123)),
        ("Сч.№88", Some(88)),
        ("invoice 123", Some(123)),
        ("Payment for Invoice No. 9", Some(9)),
        ("inv #123", Some(123)),
        ("INV#5 services", Some(5)),
        ("Пополнение аванса", None),
        ("Расчет 123 за услуги", None),
        ("investment 500", None),
        ("по счёту №0 и счёту №3", Some(3)),
        ("счёт №99999999999999999999999 (ошибка)", None),
    ] {
        assert_eq!(
            invoice_number_in(purpose).map(InvoiceNumber::value),
            expected,
            "{purpose}"
        );
    }
}

#[test]
fn truncated_xml_is_refused() {
    let cut = &CAMT_08[..CAMT_08.len() / 2];
    let error = parse_statement(cut.as_bytes()).unwrap_err();
    assert!(
        matches!(
            error,
            StatementError::Truncated(_) | StatementError::MalformedXml(_)
        ),
        "{error:?}"
    );
    let without_end = CAMT_08.trim_end().trim_end_matches("</Document>");
    assert!(matches!(
        parse_statement(without_end.as_bytes()),
        Err(StatementError::Truncated(_))
    ));
}

#[test]
fn unknown_camt_versions_are_refused_naming_the_version() {
    for version in ["001.01", "001.09", "001.13"] {
        let text = CAMT_02.replace("camt.053.001.02", &format!("camt.053.{version}"));
        let error = parse_statement(text.as_bytes()).unwrap_err();
        assert_eq!(
            error,
            StatementError::UnsupportedCamtVersion {
                version: version.to_owned()
            }
        );
        assert!(error.to_string().contains(version));
    }
    let camt052 = CAMT_02.replace("camt.053.001.02", "camt.052.001.02");
    assert!(matches!(
        parse_statement(camt052.as_bytes()),
        Err(StatementError::NotAStatement(_))
    ));
}

#[test]
fn an_amount_of_more_than_2_decimals_is_refused_naming_the_entry() {
    let text = CAMT_08.replacen(
        "<Amt Ccy=\"KZT\">5000.50</Amt>",
        "<Amt Ccy=\"KZT\">5000.505</Amt>",
        1,
    );
    assert_eq!(
        parse_statement(text.as_bytes()),
        Err(StatementError::AmountTooPrecise {
            entry: 1,
            text: "5000.505".to_owned()
        })
    );
    let one_c = ONE_C.replace("Сумма=30000.00", "Сумма=30000.001");
    assert_eq!(
        parse_statement(one_c.as_bytes()),
        Err(StatementError::AmountTooPrecise {
            entry: 3,
            text: "30000.001".to_owned()
        })
    );
}

#[test]
fn a_1c_file_without_its_end_is_truncated() {
    let cut = ONE_C.replace("КонецФайла\n", "");
    assert!(matches!(
        parse_statement(cut.as_bytes()),
        Err(StatementError::Truncated(_))
    ));
    let mid_document = &ONE_C[..ONE_C.find("Номер=77").unwrap()];
    assert!(matches!(
        parse_statement(mid_document.as_bytes()),
        Err(StatementError::Truncated(_))
    ));
    let cp1251 = windows_1251(mid_document);
    assert!(matches!(
        parse_statement(&cp1251),
        Err(StatementError::Truncated(_))
    ));
}

#[test]
fn a_1c_document_left_open_is_refused_naming_the_line() {
    let text = ONE_C.replacen("КонецДокумента\n", "", 1);
    let error = parse_statement(text.as_bytes()).unwrap_err();
    assert!(
        matches!(error, StatementError::MalformedOneC { line: 31, .. }),
        "{error:?}"
    );
}

#[test]
fn a_file_over_the_size_limit_is_refused_before_reading() {
    let mut big = CAMT_08.as_bytes().to_vec();
    big.resize(STATEMENT_BYTES_MAX + 1, b' ');
    assert_eq!(
        parse_statement(&big),
        Err(StatementError::TooLarge {
            size: STATEMENT_BYTES_MAX + 1,
            max: STATEMENT_BYTES_MAX
        })
    );
}

#[test]
fn random_bytes_and_other_files_are_not_statements() {
    // A fixed pseudo-random sequence (xorshift), so the test is the same every run.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let bytes: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect();
    assert!(parse_statement(&bytes).is_err());
    assert!(matches!(
        parse_statement(b""),
        Err(StatementError::NotAStatement(_))
    ));
    assert!(matches!(
        parse_statement(b"{\"lines\": []}"),
        Err(StatementError::NotAStatement(_))
    ));
    assert!(matches!(
        parse_statement(b"<html><body>hello</body></html>"),
        Err(StatementError::NotAStatement(_))
    ));
    let mut xml_garbage = b"<".to_vec();
    xml_garbage.extend_from_slice(&bytes);
    assert!(parse_statement(&xml_garbage).is_err());
    let mut one_c_garbage = b"1CClientBankExchange\n".to_vec();
    one_c_garbage.extend_from_slice(&bytes);
    assert!(parse_statement(&one_c_garbage).is_err());
}

#[test]
fn a_dtd_is_refused() {
    let text = CAMT_08.replacen(
        "<Document",
        "<!DOCTYPE Document [<!ENTITY a \"aaaaaaaaaa\">]>\n<Document",
        1,
    );
    assert!(matches!(
        parse_statement(text.as_bytes()),
        Err(StatementError::MalformedXml(_))
    ));
}

#[test]
fn totals_that_do_not_add_up_are_named() {
    let text = CAMT_08.replace(
        "<TtlCdtNtries><NbOfNtries>3</NbOfNtries><Sum>160000.50</Sum>",
        "<TtlCdtNtries><NbOfNtries>3</NbOfNtries><Sum>160000.49</Sum>",
    );
    let statement = parse_statement(text.as_bytes()).unwrap();
    let error = statement.check_totals().unwrap_err();
    assert!(error.to_string().contains("credits sum"), "{error}");
}

#[test]
fn a_generated_statement_of_10000_lines_parses() {
    let payers = [
        bin("120340001230"),
        bin("980511004560"),
        bin("870102500126"),
    ];
    let credits = round_robin_credits("GEN", &payers, 10_000, date!(2026 - 12 - 01));
    let xml = camt053_of_credits("GEN-STMT", ACCOUNT, Currency::KZT, &credits);
    assert!(xml.len() < STATEMENT_BYTES_MAX);
    let started = Instant::now();
    let statement = parse_statement(xml.as_bytes()).unwrap();
    let took = started.elapsed();
    println!(
        "parsed a camt.053.001.08 statement of 10,000 lines ({} bytes, {} bytes a line) in {took:?}",
        xml.len(),
        xml.len() / 10_000
    );
    assert_eq!(statement.lines.len(), 10_000);
    statement.check_totals().unwrap();
    let line = &statement.lines[9_999];
    assert_eq!(line.bank_reference.as_str(), "GEN-9999");
    assert_eq!(line.payer_bin, Some(payers[9_999 % 3].clone()));
    assert_eq!(line.named_invoice(), invoice(10_000));
    assert_eq!(line.amount.value(), dec("1099.99"));
}

#[test]
fn an_entry_without_any_bank_reference_is_refused_naming_it() {
    let text = CAMT_02.replacen("<EndToEndId>E2E-77</EndToEndId>", "", 1);
    let error = parse_statement(text.as_bytes()).unwrap_err();
    assert!(
        matches!(error, StatementError::BadEntry { entry: 1, .. }),
        "{error:?}"
    );
    let not_provided = CAMT_02.replacen(
        "<EndToEndId>E2E-77</EndToEndId>",
        "<EndToEndId>NOTPROVIDED</EndToEndId>",
        1,
    );
    assert!(matches!(
        parse_statement(not_provided.as_bytes()),
        Err(StatementError::BadEntry { entry: 1, .. })
    ));
}

#[test]
fn one_statement_of_one_account_per_file() {
    let start = CAMT_08.find("<Stmt>").unwrap();
    let end = CAMT_08.find("</Stmt>").unwrap() + "</Stmt>".len();
    let mut two = CAMT_08.to_owned();
    two.insert_str(end, &CAMT_08[start..end]);
    let error = parse_statement(two.as_bytes()).unwrap_err();
    assert!(
        matches!(error, StatementError::BadStatement(ref text) if text.contains("2 statements")),
        "{error:?}"
    );
    let other_account = ONE_C.replacen(
        "КонецРасчСчет\n",
        "КонецРасчСчет\nСекцияРасчСчет\nРасчСчет=KZ75125KZT1001300335\nКонецРасчСчет\n",
        1,
    );
    assert!(matches!(
        parse_statement(other_account.as_bytes()),
        Err(StatementError::BadStatement(_))
    ));
}

#[test]
fn a_1c_line_in_another_currency_and_a_comma_decimal_are_kept() {
    let text = ONE_C
        .replace("КонецРасчСчет\n", "Валюта=USD\nКонецРасчСчет\n")
        .replace("Сумма=5000.50", "Сумма=5000,50");
    let statement = parse_statement(text.as_bytes()).unwrap();
    assert_eq!(statement.currency.ledger(), Some(Currency::USD));
    assert_eq!(statement.lines[1].amount.value(), dec("5000.50"));
    assert_eq!(statement.lines[1].currency.as_str(), "USD");
}

#[test]
fn a_camt_reversal_is_marked() {
    assert!(!parse_statement(CAMT_08.as_bytes()).unwrap().lines[2].reversal);
    let text = CAMT_08.replacen(
        "<CdtDbtInd>DBIT</CdtDbtInd>",
        "<CdtDbtInd>DBIT</CdtDbtInd>\n      <RvslInd>true</RvslInd>",
        1,
    );
    let statement = parse_statement(text.as_bytes()).unwrap();
    assert!(statement.lines[2].reversal && !statement.lines[2].credit);
    assert!(!statement.lines[0].reversal);
}
