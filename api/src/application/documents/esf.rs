//! IS ESF `InvoiceV2` XML (BILLING.md 6; the offer's §5.7: the operator issues an
//! electronic invoice in IS ESF after the service): one document per invoice
//! (`ORDINARY_INVOICE`) or credit note (`ADDITIONAL_INVOICE`, related to its invoice),
//! written with quick-xml's writer from the recorded event alone, so that its figures are
//! the invoice's own: the products are the invoice's lines, their sums add up to the
//! totals exactly.
//!
//! Decisions (docs/domain.md, "ESF"):
//! - the root is `v2:invoice` in namespace `v2.esf`; its children are unqualified, as
//!   the state system's schema has them;
//! - dates are `dd.MM.yyyy`; amounts have 2 decimals, in the invoice's currency; a USD
//!   invoice names `currencyCode` USD and its recorded National Bank rate (§5.1) as
//!   `currencyRate`;
//! - VAT is recorded once over the net (§5.11): each product's `ndsAmount` is its line's
//!   share, rounded half away from zero, the rounding difference put on the largest line,
//!   so that the products' VAT adds up to the invoice's exactly;
//! - `ndsRate` is the rate in percent (16, 12), the one the invoice recorded (by its
//!   turnover date); `turnoverSize` is the line's price without tax;
//! - services: `truOriginCode` 6 ("работы, услуги"), `unitNomenclature` "услуга";
//! - a credit note's `turnoverDate` is its own issue date (the day the turnover is
//!   corrected); a credit note given by a net amount, without lines, is one product
//!   naming the invoice it corrects; its amounts are written as recorded (positive: the
//!   document type says they reduce).

use std::io;

use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::Writer;
use rust_decimal::{Decimal, RoundingStrategy};
use time::Date;

use crate::settings::OperatorSettings;
use events::{
    CreditNoteIssued, Currency, InvoiceIssued, InvoiceLine, InvoiceNumber, Money, ParticipantId,
    VatApplied,
};

/// The namespace of `InvoiceV2`'s root element.
pub const NAMESPACE: &str = "v2.esf";
/// The namespace of the abstract invoice the schema derives it from.
pub const ABSTRACT_NAMESPACE: &str = "abstractInvoice.esf";
/// ESF's origin code of works and services (truOriginCode).
pub const SERVICES_ORIGIN_CODE: &str = "6";
/// The unit a service line is counted in.
pub const SERVICE_UNIT: &str = "услуга";

/// `invoiceType` of an invoice.
pub const ORDINARY_INVOICE: &str = "ORDINARY_INVOICE";
/// `invoiceType` of a credit note, related to its invoice.
pub const ADDITIONAL_INVOICE: &str = "ADDITIONAL_INVOICE";

/// A credit note's turnover date (decision, docs/domain.md "ESF"): its own issue date,
/// the day the turnover is corrected.
pub fn credit_note_turnover_date(note: &CreditNoteIssued) -> Date {
    note.issued_on
}

/// The operator's own details as a seller (configuration, not code: `--operator-*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seller {
    pub bin: ParticipantId,
    pub name: String,
    pub address: String,
    /// The account (ИИК), an IBAN.
    pub iik: String,
    /// The bank's code (БИК).
    pub bik: String,
    /// The beneficiary code (КБе).
    pub kbe: String,
}

impl Seller {
    /// The seller the operator's settings configure, when every detail is given and
    /// valid; `None` when none is given; else which are missing or malformed.
    pub fn configured(settings: &OperatorSettings) -> Result<Option<Self>, String> {
        let fields = [
            ("EDOC_OPERATOR_BIN", &settings.operator_bin),
            ("EDOC_OPERATOR_NAME", &settings.operator_name),
            ("EDOC_OPERATOR_ADDRESS", &settings.operator_address),
            ("EDOC_OPERATOR_IIK", &settings.operator_iik),
            ("EDOC_OPERATOR_BIK", &settings.operator_bik),
            ("EDOC_OPERATOR_KBE", &settings.operator_kbe),
        ];
        let given: Vec<&str> = fields
            .iter()
            .filter(|(_, value)| value.as_deref().is_some_and(|v| !v.trim().is_empty()))
            .map(|(name, _)| *name)
            .collect();
        if given.is_empty() {
            return Ok(None);
        }
        if given.len() < fields.len() {
            let missing: Vec<&str> = fields
                .iter()
                .map(|(name, _)| *name)
                .filter(|name| !given.contains(name))
                .collect();
            return Err(format!(
                "the operator's details are all or none: {} given, {} missing",
                given.join(", "),
                missing.join(", ")
            ));
        }
        let text = |value: &Option<String>| value.as_deref().unwrap_or("").trim().to_owned();
        let bin = events::ParticipantId::parse(&text(&settings.operator_bin))
            .map_err(|error| format!("EDOC_OPERATOR_BIN: {error}"))?;
        let iik = text(&settings.operator_iik).to_uppercase();
        if !(iik.len() == 20
            && iik.starts_with("KZ")
            && iik.chars().all(|c| c.is_ascii_alphanumeric()))
        {
            return Err(format!(
                "EDOC_OPERATOR_IIK: `{iik}` is not a Kazakh IBAN (KZ and 18 letters or digits)"
            ));
        }
        let bik = text(&settings.operator_bik).to_uppercase();
        if !((8..=11).contains(&bik.len()) && bik.chars().all(|c| c.is_ascii_alphanumeric())) {
            return Err(format!(
                "EDOC_OPERATOR_BIK: `{bik}` is not a bank code (8 to 11 letters or digits)"
            ));
        }
        let kbe = text(&settings.operator_kbe);
        if !(kbe.len() == 2 && kbe.chars().all(|c| c.is_ascii_digit())) {
            return Err(format!("EDOC_OPERATOR_KBE: `{kbe}` is not 2 digits"));
        }
        Ok(Some(Self {
            bin,
            name: text(&settings.operator_name),
            address: text(&settings.operator_address),
            iik,
            bik,
            kbe,
        }))
    }
}

/// The participant as a customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    pub tin: ParticipantId,
    pub name: String,
    /// Not recorded by registration today: left out when unknown.
    pub address: Option<String>,
}

/// An ORDINARY_INVOICE, or an ADDITIONAL_INVOICE correcting an earlier one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EsfKind {
    Ordinary,
    Additional {
        related_number: InvoiceNumber,
        related_date: Date,
    },
}

/// One product (line) of the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EsfProduct {
    pub description: String,
    pub quantity: Decimal,
    pub unit_price: Decimal,
    pub price_without_tax: Decimal,
    pub nds_amount: Decimal,
    pub price_with_tax: Decimal,
}

/// What one ESF document says, from one recorded invoice or credit note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EsfDocument {
    pub kind: EsfKind,
    pub number: InvoiceNumber,
    pub date: Date,
    pub turnover_date: Date,
    pub currency: Currency,
    /// KZT per unit of a foreign currency (§5.1), `None` for KZT.
    pub currency_rate: Option<Decimal>,
    /// The VAT rate in percent (16, 12).
    pub nds_rate: Decimal,
    pub products: Vec<EsfProduct>,
    pub total_without_tax: Decimal,
    pub total_nds: Decimal,
    pub total_with_tax: Decimal,
}

impl EsfDocument {
    /// The document of an invoice as recorded.
    pub fn of_invoice(invoice: &InvoiceIssued) -> Self {
        Self::new(
            EsfKind::Ordinary,
            invoice.number,
            invoice.issued_on,
            invoice.turnover_date(),
            invoice.currency,
            invoice.exchange_rate.as_ref().map(|rate| rate.kzt_per_usd),
            products(&invoice.lines, invoice.net, &invoice.vat, || None),
            (invoice.net, &invoice.vat, invoice.total),
        )
    }

    /// The document of a credit note, related to the invoice it credits.
    pub fn of_credit_note(note: &CreditNoteIssued, invoice: &InvoiceIssued) -> Self {
        Self::new(
            EsfKind::Additional {
                related_number: invoice.number,
                related_date: invoice.issued_on,
            },
            note.number,
            note.issued_on,
            credit_note_turnover_date(note),
            note.currency,
            invoice.exchange_rate.as_ref().map(|rate| rate.kzt_per_usd),
            products(&note.lines, note.net, &note.vat, || {
                Some(format!(
                    "Корректировка стоимости услуг по счёту №{} от {}",
                    invoice.number,
                    esf_date(invoice.issued_on)
                ))
            }),
            (note.net, &note.vat, note.total),
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn new(
        kind: EsfKind,
        number: InvoiceNumber,
        date: Date,
        turnover_date: Date,
        currency: Currency,
        currency_rate: Option<Decimal>,
        products: Vec<EsfProduct>,
        (net, vat, total): (Money, &VatApplied, Money),
    ) -> Self {
        let document = Self {
            kind,
            number,
            date,
            turnover_date,
            currency,
            currency_rate,
            nds_rate: (vat.rate * Decimal::ONE_HUNDRED).normalize(),
            products,
            total_without_tax: net.amount(),
            total_nds: vat.amount.amount(),
            total_with_tax: total.amount(),
        };
        document.assert_adds_up();
        document
    }

    /// Invariant: the products add up to the totals exactly, and each product's price
    /// with tax is its price without tax plus its VAT.
    fn assert_adds_up(&self) {
        let sum = |field: fn(&EsfProduct) -> Decimal| -> Decimal {
            self.products.iter().map(field).sum()
        };
        assert_eq!(
            sum(|p| p.price_without_tax),
            self.total_without_tax,
            "ESF net"
        );
        assert_eq!(sum(|p| p.nds_amount), self.total_nds, "ESF VAT");
        assert_eq!(sum(|p| p.price_with_tax), self.total_with_tax, "ESF total");
        for product in &self.products {
            assert_eq!(
                product.price_without_tax + product.nds_amount,
                product.price_with_tax
            );
        }
    }

    /// `ORDINARY_INVOICE` or `ADDITIONAL_INVOICE` (`invoiceType`).
    pub fn document_type(&self) -> &'static str {
        match self.kind {
            EsfKind::Ordinary => ORDINARY_INVOICE,
            EsfKind::Additional { .. } => ADDITIONAL_INVOICE,
        }
    }

    /// The document as IS ESF `InvoiceV2` XML (UTF-8).
    pub fn to_xml(&self, seller: &Seller, customer: &Customer) -> String {
        let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
        self.write(&mut writer, seller, customer)
            .expect("writing to memory does not fail");
        String::from_utf8(writer.into_inner()).expect("quick-xml writes the UTF-8 it is given")
    }

    fn write(
        &self,
        writer: &mut Writer<Vec<u8>>,
        seller: &Seller,
        customer: &Customer,
    ) -> io::Result<()> {
        writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        writer
            .create_element("v2:invoice")
            .with_attribute(("xmlns:a", ABSTRACT_NAMESPACE))
            .with_attribute(("xmlns:v2", NAMESPACE))
            .write_inner_content(|w| {
                text(w, "date", &esf_date(self.date))?;
                text(w, "invoiceType", self.document_type())?;
                text(w, "num", &self.number.to_string())?;
                if let EsfKind::Additional {
                    related_number,
                    related_date,
                } = self.kind
                {
                    w.create_element("relatedInvoice")
                        .write_inner_content(|w| {
                            text(w, "date", &esf_date(related_date))?;
                            text(w, "num", &related_number.to_string())
                        })?;
                }
                text(w, "turnoverDate", &esf_date(self.turnover_date))?;
                w.create_element("sellers").write_inner_content(|w| {
                    w.create_element("seller").write_inner_content(|w| {
                        text(w, "tin", seller.bin.as_str())?;
                        text(w, "name", &seller.name)?;
                        text(w, "address", &seller.address)?;
                        text(w, "iik", &seller.iik)?;
                        text(w, "bik", &seller.bik)?;
                        text(w, "kbe", &seller.kbe)
                    })?;
                    Ok(())
                })?;
                w.create_element("customers").write_inner_content(|w| {
                    w.create_element("customer").write_inner_content(|w| {
                        text(w, "tin", customer.tin.as_str())?;
                        text(w, "name", &customer.name)?;
                        if let Some(address) = &customer.address {
                            text(w, "address", address)?;
                        }
                        Ok(())
                    })?;
                    Ok(())
                })?;
                w.create_element("productSet").write_inner_content(|w| {
                    text(w, "currencyCode", self.currency.code())?;
                    if let Some(rate) = self.currency_rate {
                        text(w, "currencyRate", &rate.normalize().to_string())?;
                    }
                    w.create_element("products").write_inner_content(|w| {
                        for product in &self.products {
                            self.write_product(w, product)?;
                        }
                        Ok(())
                    })?;
                    text(w, "totalPriceWithoutTax", &amount(self.total_without_tax))?;
                    text(w, "totalNdsAmount", &amount(self.total_nds))?;
                    text(w, "totalPriceWithTax", &amount(self.total_with_tax))
                })?;
                Ok(())
            })?;
        Ok(())
    }

    fn write_product(&self, w: &mut Writer<Vec<u8>>, product: &EsfProduct) -> io::Result<()> {
        w.create_element("product").write_inner_content(|w| {
            text(w, "description", &product.description)?;
            text(w, "unitNomenclature", SERVICE_UNIT)?;
            text(w, "quantity", &product.quantity.normalize().to_string())?;
            text(w, "unitPrice", &amount(product.unit_price))?;
            text(w, "priceWithoutTax", &amount(product.price_without_tax))?;
            text(w, "ndsRate", &self.nds_rate.to_string())?;
            text(w, "ndsAmount", &amount(product.nds_amount))?;
            text(w, "priceWithTax", &amount(product.price_with_tax))?;
            text(w, "turnoverSize", &amount(product.price_without_tax))?;
            text(w, "truOriginCode", SERVICES_ORIGIN_CODE)
        })?;
        Ok(())
    }
}

/// The products of recorded lines (or of a net amount without lines, described by
/// `without_lines`), each with its share of the VAT recorded once over the net.
fn products(
    lines: &[InvoiceLine],
    net: Money,
    vat: &VatApplied,
    without_lines: impl FnOnce() -> Option<String>,
) -> Vec<EsfProduct> {
    let mut products: Vec<EsfProduct> = if lines.is_empty() {
        let description = without_lines().unwrap_or_default();
        vec![EsfProduct {
            description,
            quantity: Decimal::ONE,
            unit_price: net.amount(),
            price_without_tax: net.amount(),
            nds_amount: Decimal::ZERO,
            price_with_tax: Decimal::ZERO,
        }]
    } else {
        lines
            .iter()
            .map(|line| EsfProduct {
                description: line.description.to_string(),
                quantity: line.quantity.value(),
                unit_price: line.unit_price.amount(),
                price_without_tax: line.amount.amount(),
                nds_amount: Decimal::ZERO,
                price_with_tax: Decimal::ZERO,
            })
            .collect()
    };
    let shares: Vec<Decimal> = products
        .iter()
        .map(|p| {
            (p.price_without_tax * vat.rate)
                .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
        })
        .collect();
    let difference = vat.amount.amount() - shares.iter().copied().sum::<Decimal>();
    // The rounding difference goes to the largest line (the first of equals).
    let largest = products
        .iter()
        .enumerate()
        .max_by(|(i, a), (j, b)| {
            a.price_without_tax
                .cmp(&b.price_without_tax)
                .then_with(|| j.cmp(i))
        })
        .map_or(0, |(at, _)| at);
    for (at, (product, share)) in products.iter_mut().zip(shares).enumerate() {
        product.nds_amount = if at == largest {
            share + difference
        } else {
            share
        };
        product.price_with_tax = product.price_without_tax + product.nds_amount;
    }
    products
}

fn text(w: &mut Writer<Vec<u8>>, name: &str, value: &str) -> io::Result<()> {
    w.create_element(name)
        .write_text_content(BytesText::new(value))?;
    Ok(())
}

/// An amount with 2 decimals.
fn amount(value: Decimal) -> String {
    format!("{value:.2}")
}

/// `dd.MM.yyyy`.
pub fn esf_date(date: Date) -> String {
    format!(
        "{:02}.{:02}.{:04}",
        date.day(),
        u8::from(date.month()),
        date.year()
    )
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod configured_tests {
    use super::Seller;
    use crate::settings::OperatorSettings;

    fn complete() -> OperatorSettings {
        OperatorSettings {
            operator_bin: Some("050140000656".to_owned()),
            operator_name: Some("ТОО «Оператор E-DOC»".to_owned()),
            operator_address: Some("г. Астана".to_owned()),
            operator_iik: Some("kz926010131000112233".to_owned()),
            operator_bik: Some("HSBKKZKX".to_owned()),
            operator_kbe: Some("17".to_owned()),
        }
    }

    #[test]
    fn the_operators_details_are_all_or_none() {
        assert_eq!(Seller::configured(&OperatorSettings::default()), Ok(None));
        let seller = Seller::configured(&complete()).unwrap().unwrap();
        assert_eq!(seller.bin.as_str(), "050140000656");
        assert_eq!(seller.iik, "KZ926010131000112233", "upper-cased");
        let partial = OperatorSettings {
            operator_kbe: None,
            operator_address: Some("  ".to_owned()),
            ..complete()
        };
        let error = Seller::configured(&partial).unwrap_err();
        assert!(
            error.contains("EDOC_OPERATOR_ADDRESS, EDOC_OPERATOR_KBE missing"),
            "{error}"
        );
    }

    #[test]
    fn a_malformed_detail_is_refused_by_name() {
        for (settings, named) in [
            (
                OperatorSettings {
                    operator_bin: Some("050140000657".to_owned()),
                    ..complete()
                },
                "EDOC_OPERATOR_BIN",
            ),
            (
                OperatorSettings {
                    operator_iik: Some("DE926010131000112233".to_owned()),
                    ..complete()
                },
                "EDOC_OPERATOR_IIK",
            ),
            (
                OperatorSettings {
                    operator_bik: Some("HSB".to_owned()),
                    ..complete()
                },
                "EDOC_OPERATOR_BIK",
            ),
            (
                OperatorSettings {
                    operator_kbe: Some("1x".to_owned()),
                    ..complete()
                },
                "EDOC_OPERATOR_KBE",
            ),
        ] {
            let error = Seller::configured(&settings).unwrap_err();
            assert!(error.starts_with(named), "{error}");
        }
    }
}
