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
//!
//! An act is drawn from a closed month (BILLING.md 5.4), from the events recorded by its
//! close: the billing run and the corrections of the month are in, and nothing recorded
//! later (a void, a credit note posted in a later month) changes an act once issued.

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
    /// When the month was closed (BILLING.md 5.4, RFC 3339): the act is drawn from the
    /// events recorded by then, so it never changes once issued.
    pub closed_at: String,
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
    /// The act of `month` from an agreement's events recorded by the month's close
    /// (`closed_at`): `None` before registration or when no service was rendered in
    /// the month.
    pub fn of<'a>(
        events: impl IntoIterator<Item = &'a AgreementEvent> + Clone,
        month: CalendarMonth,
        closed_at: &str,
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
                    quantity: sign * product.quantity,
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
            closed_at: closed_at.to_owned(),
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
                "№ {} от {} за {}",
                self.number(),
                russian_date(self.date()),
                pdf::russian_month(self.month.year(), self.month.month())
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
            Column::new("№", 0.45, Align::Center),
            Column::new("Наименование работ (услуг)", 1.95, Align::Left),
            Column::new("Документ", 2.0, Align::Left),
            Column::new("Кол.", 0.5, Align::Right),
            Column::new("Цена без НДС", 1.0, Align::Right),
            Column::new("Сумма без НДС", 1.05, Align::Right),
            Column::new("НДС, %", 0.55, Align::Right),
            Column::new("НДС", 0.9, Align::Right),
            Column::new("Сумма с НДС", 1.05, Align::Right),
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
                    line.quantity.normalize().to_string().replace('.', ","),
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
        let corrected = self.lines.iter().any(|line| line.net.is_sign_negative());
        let summary = if corrected {
            format!(
                "Стоимость услуг, оказанных за месяц, с учётом корректировок (кредит-нот) составляет {} {}, в том числе НДС {}.",
                amount(self.total),
                self.currency.code(),
                amount(self.vat)
            )
        } else {
            format!(
                "Всего оказано услуг на сумму {} {}, в том числе НДС {}.",
                amount(self.total),
                self.currency.code(),
                amount(self.vat)
            )
        };
        sheet.paragraph(
            &format!(
                "{summary} Услуги оказаны полностью и в срок; Заказчик претензий по объёму, качеству и срокам оказания услуг не имеет."
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
        let documents = match self.documents.as_slice() {
            many @ [first, .., last] if many.len() > 8 => {
                format!("№ {first} … № {last}, всего {}", many.len())
            }
            few => few
                .iter()
                .map(|number| format!("№ {number}"))
                .collect::<Vec<_>>()
                .join(", "),
        };
        let closed = self.closed_at.clone();
        sheet.into_pdf(&format!("Акт выполненных работ № {number}"), |page, pages| {
            format!(
                "Акт № {number}. Составлен edoc-ledger по событиям договора, записанным до закрытия месяца ({closed}): счета и кредит-ноты {documents}; суммы совпадают с ЭСФ (п. 5.7). Страница {page} из {pages}"
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn money(amount: &str) -> Value {
        json!({"amount": amount, "currency": "KZT"})
    }

    /// An invoice as recorded: one line per (description, quantity, unit price, amount),
    /// VAT 16% of the net as recorded.
    fn invoice(
        number: u64,
        issued_on: &str,
        period: Option<(&str, &str)>,
        lines: &[(&str, &str, &str, &str)],
        vat: &str,
    ) -> AgreementEvent {
        let net: Decimal = lines.iter().map(|l| l.3.parse::<Decimal>().unwrap()).sum();
        let total = net + vat.parse::<Decimal>().unwrap();
        let mut event = json!({
            "number": number,
            "kind": "subscription",
            "issued_on": issued_on,
            "due_on": issued_on,
            "due_rule": {"days": 5, "day_kind": "banking", "clause": "5.4", "calendar_version": "kz-calendar-2026-1"},
            "period": null,
            "lines": lines.iter().map(|(d, q, p, a)| json!({"description": d, "quantity": q, "unit_price": money(p), "amount": money(a)})).collect::<Vec<_>>(),
            "net": money(&format!("{net:.2}")),
            "vat": {"rate": "0.16", "rate_effective_from": "2026-01-01", "amount": money(vat), "table_version": "kz-vat-1"},
            "total": money(&format!("{total:.2}")),
            "currency": "KZT",
            "exchange_rate": null,
        });
        if let Some((from, to)) = period {
            event["period"] = json!({"from": from, "to": to});
            event["turnover_on"] = json!(to);
        }
        serde_json::from_value(json!({ "InvoiceIssued": event })).unwrap()
    }

    fn history() -> Vec<AgreementEvent> {
        let event = |value: Value| -> AgreementEvent { serde_json::from_value(value).unwrap() };
        vec![
            event(
                json!({"Registered": {"participant_id": "120340001230", "name": "ТОО «Ромашка»",
                "kind": "legal_entity", "resident": true, "currency": "KZT",
                "email": "buh@romashka.kz", "registered_on": "2026-01-05"}}),
            ),
            event(json!({"AgreementSigned": {"signed_on": "2026-01-06",
                "concluded_on": "2026-01-05", "in_force_from": "2026-01-06"}})),
            // January's subscription, issued in January: not February's.
            invoice(
                1,
                "2026-01-02",
                Some(("2026-01-01", "2026-01-31")),
                &[("Январь", "1", "10000.00", "10000.00")],
                "1600.00",
            ),
            // February's subscription issued in January: February's (its turnover date).
            invoice(
                2,
                "2026-01-25",
                Some(("2026-02-01", "2026-02-28")),
                &[("Февраль", "1", "10000.00", "10000.00")],
                "1600.00",
            ),
            // Two lines, the VAT's rounding difference on the larger.
            invoice(
                3,
                "2026-02-10",
                None,
                &[
                    ("Пакеты", "3", "1234.57", "3703.71"),
                    ("Подпись", "1", "500.01", "500.01"),
                ],
                "672.60",
            ),
            // Issued by mistake and voided: no service.
            invoice(
                4,
                "2026-02-12",
                None,
                &[("Ошибка", "1", "777.00", "777.00")],
                "124.32",
            ),
            event(
                json!({"InvoiceVoided": {"number": 4, "total": money("901.32"),
                "penalty_cancelled": money("0.00"), "fine_cancelled": money("0.00"),
                "reason": "issued twice", "on": "2026-02-13"}}),
            ),
            // A credit note on January's invoice, issued in February: February's correction.
            event(
                json!({"CreditNoteIssued": {"number": 5, "related_invoice": 1,
                "issued_on": "2026-02-20", "lines": [], "net": money("2500.00"),
                "vat": {"rate": "0.16", "rate_effective_from": "2026-01-01", "amount": money("400.00"), "table_version": "kz-vat-1"},
                "total": money("2900.00"), "currency": "KZT", "to_advance": money("0.00"),
                "reason": "the service was down"}}),
            ),
        ]
    }

    #[test]
    fn a_month_s_act_is_its_services_by_turnover_date_less_its_credit_notes() {
        let events = history();
        let february = CalendarMonth::parse("2026-02").unwrap();
        let act = ActOfCompletedWork::of(&events, february, "2026-03-02T09:00:00Z").unwrap();
        assert_eq!(
            act.documents.iter().map(|n| n.value()).collect::<Vec<_>>(),
            [2, 3, 5]
        );
        let lines: Vec<(&str, Decimal, Decimal, Decimal)> = act
            .lines
            .iter()
            .map(|l| (l.description.as_str(), l.quantity, l.net, l.vat))
            .collect();
        let d = |text: &str| text.parse::<Decimal>().unwrap();
        assert_eq!(
            lines,
            [
                ("Февраль", d("1"), d("10000.00"), d("1600.00")),
                ("Пакеты", d("3"), d("3703.71"), d("592.60")),
                ("Подпись", d("1"), d("500.01"), d("80.00")),
                (
                    "Корректировка стоимости услуг по счёту №1 от 02.01.2026",
                    d("-1"),
                    d("-2500.00"),
                    d("-400.00")
                ),
            ]
        );
        // The totals: invoices 2 and 3 less credit note 5, as recorded.
        assert_eq!(act.net, d("11703.72"));
        assert_eq!(act.vat, d("1872.60"));
        assert_eq!(act.total, d("13576.32"));
        assert_eq!(act.vat_by_rate.get(&d("16")), Some(&d("1872.60")));
        assert_eq!(act.number(), "120340001230-2026-02");
        assert_eq!(act.date(), time::macros::date!(2026 - 02 - 28));

        // January: invoice 1 alone (its credit note is February's); March: nothing.
        let january =
            ActOfCompletedWork::of(&events, CalendarMonth::parse("2026-01").unwrap(), "").unwrap();
        assert_eq!(january.total, d("11600.00"));
        assert!(
            ActOfCompletedWork::of(&events, CalendarMonth::parse("2026-03").unwrap(), "").is_none()
        );
        // Before registration there is no act.
        assert!(ActOfCompletedWork::of(&events[2..], february, "").is_none());
    }

    #[test]
    fn the_act_is_a_pdf_that_names_both_parties() {
        let events = history();
        let act = ActOfCompletedWork::of(
            &events,
            CalendarMonth::parse("2026-02").unwrap(),
            "2026-03-02T09:00:00Z",
        )
        .unwrap();
        let seller = Seller {
            bin: events::ParticipantId::parse("050140000656").unwrap(),
            name: "ТОО «Оператор E-DOC»".into(),
            address: "г. Астана".into(),
            iik: "KZ926010131000112233".into(),
            bik: "HSBKKZKX".into(),
            kbe: "17".into(),
        };
        let pdf = act.to_pdf(&seller).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        assert_eq!(
            act.to_pdf(&seller).unwrap(),
            pdf,
            "the same bytes each time"
        );
    }
}
