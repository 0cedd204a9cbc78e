//! The act of completed work (акт выполненных работ, §4.1) of one agreement and month,
//! as a PDF in Russian (BILLING.md 6).
//!
//! What the act lists (decision, docs/domain.md "Acts and printed statements"): the
//! services rendered in the month, that is every invoice whose turnover date falls in it
//! (a subscription or usage month's last day, else the issue date), line by line, and
//! every credit note issued in it, as a negative correction; a voided invoice was issued
//! by mistake (BILLING.md 5.3) and is left out. Each line's VAT is the share the invoice's
//! ESF gives it ([`super::esf`]), so the act, the ESF and the JSON invoice carry the same
//! figures: the act's totals are the sums of the invoices' `net`, `vat` and `total`
//! less those of the credit notes.

use std::collections::{BTreeMap, HashSet};

use rust_decimal::Decimal;
use time::Date;

use events::{AgreementEvent, CalendarMonth, Currency, InvoiceNumber};

use super::esf::{Customer, EsfDocument, EsfKind, Seller};
use super::pdf::{self, amount, russian_date, Align, Column, Row, Sheet, Weight};

/// One line of the act.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActLine {
    /// The document the service was invoiced by: "Счёт № 3 от 30.11.2026".
    pub document: String,
    pub description: String,
    pub quantity: Decimal,
    pub unit_price: Decimal,
    pub net: Decimal,
    /// The VAT rate in percent.
    pub vat_rate: Decimal,
    pub vat: Decimal,
    pub total: Decimal,
}

/// The act of one agreement and month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActOfCompletedWork {
    pub month: CalendarMonth,
    pub customer: Customer,
    /// When the participant joined the offer (§3.2); `None` before it.
    pub concluded_on: Option<Date>,
    pub currency: Currency,
    pub lines: Vec<ActLine>,
    /// The invoices and credit notes the act draws on, by number.
    pub documents: Vec<InvoiceNumber>,
    pub net: Decimal,
    /// VAT by rate (percent), for "в т.ч. НДС 16%".
    pub vat_by_rate: BTreeMap<Decimal, Decimal>,
    pub vat: Decimal,
    pub total: Decimal,
}

impl ActOfCompletedWork {
    /// The act of `year`-`month` from an agreement's events: `None` before registration
    /// or when no service was rendered in the month.
    pub fn of<'a>(
        events: impl IntoIterator<Item = &'a AgreementEvent> + Clone,
        month: CalendarMonth,
    ) -> Option<Self> {
        let mut currency = None;
        let mut concluded_on = None;
        let mut voided: HashSet<InvoiceNumber> = HashSet::new();
        for event in events.clone() {
            match event {
                AgreementEvent::Registered(registered) => currency = Some(registered.currency),
                AgreementEvent::AgreementSigned(signed) => concluded_on = Some(signed.concluded_on),
                AgreementEvent::InvoiceVoided(void) => {
                    voided.insert(void.number);
                }
                _ => {}
            }
        }
        let (customer, documents) = super::esf_documents_of(events)?;
        let documents: Vec<EsfDocument> = documents
            .into_iter()
            .filter(|document| month.contains(document.turnover_date))
            .filter(|document| {
                !(document.kind == EsfKind::Ordinary && voided.contains(&document.number))
            })
            .collect();
        if documents.is_empty() {
            return None;
        }
        let mut lines = Vec::new();
        for document in &documents {
            let (sign, title) = match document.kind {
                EsfKind::Ordinary => (
                    Decimal::ONE,
                    format!(
                        "Счёт № {} от {}",
                        document.number,
                        russian_date(document.date)
                    ),
                ),
                EsfKind::Additional { related_number, .. } => (
                    Decimal::NEGATIVE_ONE,
                    format!(
                        "Кредит-нота № {} от {} к счёту № {related_number}",
                        document.number,
                        russian_date(document.date)
                    ),
                ),
            };
            for product in &document.products {
                lines.push(ActLine {
                    document: title.clone(),
                    description: product.description.clone(),
                    quantity: product.quantity,
                    unit_price: product.unit_price,
                    net: sign * product.price_without_tax,
                    vat_rate: document.nds_rate,
                    vat: sign * product.nds_amount,
                    total: sign * product.price_with_tax,
                });
            }
        }
        let mut vat_by_rate: BTreeMap<Decimal, Decimal> = BTreeMap::new();
        for line in &lines {
            *vat_by_rate.entry(line.vat_rate).or_default() += line.vat;
        }
        let net = lines.iter().map(|l| l.net).sum();
        let vat = lines.iter().map(|l| l.vat).sum();
        let total = lines.iter().map(|l| l.total).sum();
        let act = Self {
            month,
            customer,
            concluded_on,
            currency: currency?,
            lines,
            documents: documents.iter().map(|d| d.number).collect(),
            net,
            vat_by_rate,
            vat,
            total,
        };
        assert_eq!(act.net + act.vat, act.total, "the act adds up");
        Some(act)
    }

    /// The act's number: the agreement and the month, "050140000656-2026-11".
    pub fn number(&self) -> String {
        format!("{}-{}", self.customer.tin, self.month)
    }

    /// The month's last day, the act's date.
    pub fn date(&self) -> Date {
        self.month.last_day()
    }

    /// The act as a PDF in Russian: the parties, the lines, the totals, the places to
    /// sign. `None` if it would run past [`pdf::MAX_PAGES`].
    pub fn to_pdf(&self, seller: &Seller) -> Option<Vec<u8>> {
        let mut sheet = Sheet::new();
        sheet.paragraph(
            "АКТ ВЫПОЛНЕННЫХ РАБОТ (ОКАЗАННЫХ УСЛУГ)",
            13.0,
            Weight::Bold,
            Align::Center,
        );
        sheet.paragraph(
            &format!(
                "№ {} за {}, от {}",
                self.number(),
                pdf::russian_month(self.month.year(), self.month.month()),
                russian_date(self.date())
            ),
            10.0,
            Weight::Regular,
            Align::Center,
        );
        sheet.gap(10.0);
        sheet.paragraph(
            &format!(
                "Исполнитель: {}, БИН {}, {}; ИИК {}, БИК {}, КБе {}",
                seller.name, seller.bin, seller.address, seller.iik, seller.bik, seller.kbe
            ),
            9.5,
            Weight::Regular,
            Align::Left,
        );
        sheet.paragraph(
            &format!(
                "Заказчик: {}, БИН/ИИН {}",
                self.customer.name, self.customer.tin
            ),
            9.5,
            Weight::Regular,
            Align::Left,
        );
        let agreement = match self.concluded_on {
            Some(on) => format!(
                "Договор: публичная оферта E-DOC, присоединение {} (п. 4.1: учёт оказанных услуг; п. 5.7: ЭСФ)",
                russian_date(on)
            ),
            None => "Договор: публичная оферта E-DOC (п. 4.1: учёт оказанных услуг; п. 5.7: ЭСФ)"
                .to_owned(),
        };
        sheet.paragraph(&agreement, 9.5, Weight::Regular, Align::Left);
        sheet.paragraph(
            &format!("Валюта: {}", self.currency.code()),
            9.5,
            Weight::Regular,
            Align::Left,
        );
        sheet.gap(8.0);
        let columns = [
            column("№", 0.45, Align::Center),
            column("Наименование работ (услуг)", 1.95, Align::Left),
            column("Документ", 2.0, Align::Left),
            column("Кол.", 0.5, Align::Right),
            column("Цена без НДС", 1.0, Align::Right),
            column("Сумма без НДС", 1.05, Align::Right),
            column("НДС, %", 0.55, Align::Right),
            column("НДС", 0.9, Align::Right),
            column("Сумма с НДС", 1.05, Align::Right),
        ];
        let mut rows: Vec<Row> = self
            .lines
            .iter()
            .enumerate()
            .map(|(index, line)| {
                Row::regular(vec![
                    (index + 1).to_string(),
                    line.description.clone(),
                    line.document.clone(),
                    line.quantity.normalize().to_string(),
                    amount(line.unit_price),
                    amount(line.net),
                    line.vat_rate.normalize().to_string(),
                    amount(line.vat),
                    amount(line.total),
                ])
            })
            .collect();
        rows.push(Row::bold(vec![
            String::new(),
            "Итого".to_owned(),
            String::new(),
            String::new(),
            String::new(),
            amount(self.net),
            String::new(),
            amount(self.vat),
            amount(self.total),
        ]));
        sheet.table(&columns, &rows, 8.0);
        sheet.gap(8.0);
        let mut totals = vec![("Итого без НДС:".to_owned(), amount(self.net))];
        for (rate, vat) in &self.vat_by_rate {
            totals.push((format!("в т.ч. НДС {}%:", rate.normalize()), amount(*vat)));
        }
        totals.push((
            format!("Всего с НДС, {}:", self.currency.code()),
            amount(self.total),
        ));
        sheet.totals(&totals, 10.0);
        sheet.gap(10.0);
        sheet.paragraph(
            &format!(
                "Всего оказано услуг на сумму {} {}, в том числе НДС {}. Услуги оказаны полностью и в срок; Заказчик претензий по объёму, качеству и срокам оказания услуг не имеет.",
                amount(self.total),
                self.currency.code(),
                amount(self.vat)
            ),
            9.5,
            Weight::Regular,
            Align::Left,
        );
        sheet.gap(18.0);
        sheet.signatures(
            [
                ("Исполнитель", seller.name.as_str()),
                ("Заказчик", self.customer.name.as_str()),
            ],
            9.5,
        );
        let number = self.number();
        let documents = self
            .documents
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        sheet.into_pdf(&format!("Акт выполненных работ № {number}"), |page, pages| {
            format!(
                "Акт № {number}. Составлен edoc-ledger по событиям договора: счета и кредит-ноты № {documents}; суммы совпадают с ЭСФ (п. 5.7). Страница {page} из {pages}"
            )
        })
    }
}

fn column(heading: &str, share: f32, align: Align) -> Column<'_> {
    Column {
        heading,
        share,
        align,
    }
}
