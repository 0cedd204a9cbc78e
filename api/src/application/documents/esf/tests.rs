//! The ESF document of an invoice, a USD invoice and a credit note: well-formed XML,
//! its fields and sums those of the recorded event.

use quick_xml::events::Event;
use quick_xml::Reader;
use serde_json::json;

use super::*;

fn money(amount: &str, currency: &str) -> serde_json::Value {
    json!({"amount": amount, "currency": currency})
}

fn line(
    description: &str,
    quantity: &str,
    unit_price: &str,
    amount: &str,
    currency: &str,
) -> serde_json::Value {
    json!({
        "description": description,
        "quantity": quantity,
        "unit_price": money(unit_price, currency),
        "amount": money(amount, currency),
    })
}

/// An invoice as the aggregate records it: two lines, VAT 16% once over the net.
fn invoice(currency: &str, exchange_rate: Option<&str>) -> InvoiceIssued {
    let mut event = json!({
        "number": 42,
        "kind": "subscription",
        "issued_on": "2025-12-25",
        "due_on": "2026-01-05",
        "due_rule": {"days": 5, "day_kind": "banking", "clause": "5.4", "calendar_version": "kz-calendar-2025-1"},
        "period": {"from": "2026-01-01", "to": "2026-01-31"},
        "turnover_on": "2026-01-31",
        "lines": [
            line("Подписка E-DOC «Стандарт», январь 2026", "1", "10000.33", "10000.33", currency),
            line("Дополнительные пакеты документов", "3", "333.33", "999.99", currency),
        ],
        "net": money("11000.32", currency),
        "vat": {"rate": "0.16", "rate_effective_from": "2026-01-01", "amount": money("1760.05", currency), "table_version": "kz-vat-1"},
        "total": money("12760.37", currency),
        "currency": currency,
        "exchange_rate": null,
    });
    if let Some(rate) = exchange_rate {
        event["exchange_rate"] =
            json!({"kzt_per_usd": rate, "date": "2025-12-25", "table_version": "nbk-2025-12"});
    }
    serde_json::from_value(event).expect("an invoice as recorded")
}

fn seller() -> Seller {
    Seller {
        bin: ParticipantId::parse("120340001230").unwrap(),
        name: "ТОО «E-DOC Operator»".to_owned(),
        address: "г. Алматы, пр. Абая, 1".to_owned(),
        iik: "KZ86125KZT5004100100".to_owned(),
        bik: "HSBKKZKX".to_owned(),
        kbe: "17".to_owned(),
    }
}

fn customer() -> Customer {
    Customer {
        tin: ParticipantId::parse("980511004560").unwrap(),
        name: "ИП «Сериков & сыновья»".to_owned(),
        address: None,
    }
}

/// Every element's text by its path (`invoice/productSet/products/product/ndsAmount`),
/// in document order; fails on XML that is not well-formed.
fn texts(xml: &str) -> Vec<(String, String)> {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut found = Vec::new();
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(start) => {
                let name = String::from_utf8(start.local_name().as_ref().to_vec()).unwrap();
                path.push(name);
                text.clear();
            }
            Event::End(_) => {
                if !text.trim().is_empty() {
                    found.push((path.join("/"), text.trim().to_owned()));
                }
                text.clear();
                path.pop();
            }
            Event::Text(piece) => text.push_str(&piece.decode().unwrap()),
            Event::GeneralRef(entity) => {
                let name = entity.decode().unwrap();
                text.push_str(
                    quick_xml::escape::resolve_predefined_entity(&name)
                        .expect("a predefined entity"),
                );
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(path.is_empty(), "every element closed");
    found
}

fn all<'a>(texts: &'a [(String, String)], path: &str) -> Vec<&'a str> {
    texts
        .iter()
        .filter(|(p, _)| p == path)
        .map(|(_, t)| t.as_str())
        .collect()
}

fn one<'a>(texts: &'a [(String, String)], path: &str) -> &'a str {
    match all(texts, path).as_slice() {
        [one] => one,
        other => panic!("{path}: {other:?}"),
    }
}

fn sum(values: &[&str]) -> Decimal {
    values.iter().map(|v| v.parse::<Decimal>().unwrap()).sum()
}

#[test]
fn an_invoice_is_an_ordinary_invoice_whose_products_add_up_to_its_totals() {
    let invoice = invoice("KZT", None);
    let xml = EsfDocument::of_invoice(&invoice).to_xml(&seller(), &customer());
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    assert!(xml.contains("<v2:invoice xmlns:a=\"abstractInvoice.esf\" xmlns:v2=\"v2.esf\">"));
    let t = texts(&xml);
    assert_eq!(one(&t, "invoice/invoiceType"), "ORDINARY_INVOICE");
    assert_eq!(one(&t, "invoice/num"), "42");
    assert_eq!(one(&t, "invoice/date"), "25.12.2025");
    assert_eq!(one(&t, "invoice/turnoverDate"), "31.01.2026");
    assert!(all(&t, "invoice/relatedInvoice/num").is_empty());
    assert_eq!(one(&t, "invoice/sellers/seller/tin"), "120340001230");
    assert_eq!(
        one(&t, "invoice/sellers/seller/iik"),
        "KZ86125KZT5004100100"
    );
    assert_eq!(one(&t, "invoice/sellers/seller/kbe"), "17");
    assert_eq!(one(&t, "invoice/customers/customer/tin"), "980511004560");
    assert_eq!(
        one(&t, "invoice/customers/customer/name"),
        "ИП «Сериков & сыновья»",
        "escaped and read back"
    );
    assert!(xml.contains("&amp;"));
    assert_eq!(one(&t, "invoice/productSet/currencyCode"), "KZT");
    assert!(all(&t, "invoice/productSet/currencyRate").is_empty());

    // The figures are the recorded invoice's, to the tiyn.
    let product = "invoice/productSet/products/product";
    assert_eq!(
        all(&t, &format!("{product}/description")),
        [
            "Подписка E-DOC «Стандарт», январь 2026",
            "Дополнительные пакеты документов"
        ]
    );
    assert_eq!(all(&t, &format!("{product}/quantity")), ["1", "3"]);
    assert_eq!(
        all(&t, &format!("{product}/unitPrice")),
        ["10000.33", "333.33"]
    );
    assert_eq!(
        all(&t, &format!("{product}/priceWithoutTax")),
        ["10000.33", "999.99"]
    );
    assert_eq!(all(&t, &format!("{product}/ndsRate")), ["16", "16"]);
    // 16% of each line: 1600.0528 -> 1600.05 and 159.9984 -> 160.00 make 1760.05, the
    // invoice's VAT, with nothing left over.
    assert_eq!(
        all(&t, &format!("{product}/ndsAmount")),
        ["1600.05", "160.00"]
    );
    assert_eq!(
        all(&t, &format!("{product}/priceWithTax")),
        ["11600.38", "1159.99"]
    );
    assert_eq!(
        all(&t, &format!("{product}/turnoverSize")),
        ["10000.33", "999.99"]
    );
    assert_eq!(all(&t, &format!("{product}/truOriginCode")), ["6", "6"]);
    let net = sum(&all(&t, &format!("{product}/priceWithoutTax")));
    let vat = sum(&all(&t, &format!("{product}/ndsAmount")));
    let total = sum(&all(&t, &format!("{product}/priceWithTax")));
    assert_eq!(
        one(&t, "invoice/productSet/totalPriceWithoutTax"),
        "11000.32"
    );
    assert_eq!(one(&t, "invoice/productSet/totalNdsAmount"), "1760.05");
    assert_eq!(one(&t, "invoice/productSet/totalPriceWithTax"), "12760.37");
    assert_eq!(net, invoice.net.amount());
    assert_eq!(vat, invoice.vat.amount.amount());
    assert_eq!(total, invoice.total.amount());
}

#[test]
fn a_usd_invoice_names_its_currency_and_its_national_bank_rate() {
    let invoice = invoice("USD", Some("507.3200"));
    let xml = EsfDocument::of_invoice(&invoice).to_xml(&seller(), &customer());
    let t = texts(&xml);
    assert_eq!(one(&t, "invoice/productSet/currencyCode"), "USD");
    assert_eq!(one(&t, "invoice/productSet/currencyRate"), "507.32");
    assert_eq!(one(&t, "invoice/productSet/totalPriceWithTax"), "12760.37");
}

#[test]
fn the_rounding_difference_of_vat_goes_to_the_largest_line() {
    // Three lines of 0.03: 16% of each is 0.0048 -> 0.00, yet the VAT over the net of
    // 0.09 is 0.01 (0.0144): the largest line (the first of equals) carries it.
    let lines: Vec<InvoiceLine> = (0..3)
        .map(|_| serde_json::from_value(line("Пакет", "1", "0.03", "0.03", "KZT")).unwrap())
        .collect();
    let vat: VatApplied = serde_json::from_value(json!({
        "rate": "0.16", "rate_effective_from": "2026-01-01",
        "amount": money("0.01", "KZT"), "table_version": "kz-vat-1"
    }))
    .unwrap();
    let net: Money = serde_json::from_value(money("0.09", "KZT")).unwrap();
    let products = products(&lines, net, &vat, || None);
    let shares: Vec<Decimal> = products.iter().map(|p| p.nds_amount).collect();
    assert_eq!(
        shares,
        [Decimal::new(1, 2), Decimal::ZERO, Decimal::ZERO],
        "{products:?}"
    );
}

#[test]
fn a_credit_note_is_an_additional_invoice_related_to_its_invoice() {
    let invoice = invoice("KZT", None);
    let note: CreditNoteIssued = serde_json::from_value(json!({
        "number": 57,
        "related_invoice": 42,
        "issued_on": "2026-02-10",
        "lines": [],
        "net": money("1000.00", "KZT"),
        "vat": {"rate": "0.16", "rate_effective_from": "2026-01-01", "amount": money("160.00", "KZT"), "table_version": "kz-vat-1"},
        "total": money("1160.00", "KZT"),
        "currency": "KZT",
        "to_advance": money("0.00", "KZT"),
        "reason": "Перерасчёт за неоказанные услуги",
    }))
    .unwrap();
    let xml = EsfDocument::of_credit_note(&note, &invoice).to_xml(&seller(), &customer());
    let t = texts(&xml);
    assert_eq!(one(&t, "invoice/invoiceType"), "ADDITIONAL_INVOICE");
    assert_eq!(one(&t, "invoice/num"), "57");
    assert_eq!(one(&t, "invoice/date"), "10.02.2026");
    assert_eq!(one(&t, "invoice/relatedInvoice/num"), "42");
    assert_eq!(one(&t, "invoice/relatedInvoice/date"), "25.12.2025");
    assert_eq!(one(&t, "invoice/turnoverDate"), "10.02.2026");
    let product = "invoice/productSet/products/product";
    assert_eq!(
        one(&t, &format!("{product}/description")),
        "Корректировка стоимости услуг по счёту №42 от 25.12.2025"
    );
    assert_eq!(one(&t, &format!("{product}/priceWithoutTax")), "1000.00");
    assert_eq!(one(&t, &format!("{product}/ndsAmount")), "160.00");
    assert_eq!(one(&t, "invoice/productSet/totalPriceWithTax"), "1160.00");
}

#[test]
fn dates_are_day_month_year() {
    assert_eq!(esf_date(time::macros::date!(2026 - 03 - 07)), "07.03.2026");
}
