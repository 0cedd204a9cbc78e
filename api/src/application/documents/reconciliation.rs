//! The reconciliation statement (акт сверки взаимных расчётов) as a PDF in Russian
//! (BILLING.md 6): the JSON statement (`GET /v1/agreements/{id}/statement`) drawn as
//! it is, so every figure on paper is the JSON answer's. Debit is what raises the
//! participant's debt to the operator, credit what lowers it; a balance on the debit side
//! is owed by the participant, on the credit side it is the participant's advance.

use rust_decimal::Decimal;

use projections::StatementView;

use super::esf::{Customer, Seller};
use super::pdf::{amount, russian_date, Align, Column, Row, Sheet, Weight};

/// A balance in its column: (debit, credit), the other left empty.
fn sides(balance: Decimal) -> (String, String) {
    if balance.is_sign_negative() && !balance.is_zero() {
        (String::new(), amount(-balance))
    } else {
        (amount(balance), String::new())
    }
}

/// The statement as a PDF: the parties, opening balance, one line per document with its
/// clause, the turnover, the closing balance in words of who owes whom, the places to
/// sign. `None` if it would run past [`super::pdf::MAX_PAGES`].
pub fn reconciliation_pdf(
    statement: &StatementView,
    seller: &Seller,
    customer: &Customer,
) -> Option<Vec<u8>> {
    let currency = statement.currency.code();
    let (from, to) = (russian_date(statement.from), russian_date(statement.to));
    let mut sheet = Sheet::new();
    sheet.paragraph(
        "АКТ СВЕРКИ ВЗАИМНЫХ РАСЧЁТОВ",
        13.0,
        Weight::Bold,
        Align::Center,
    );
    sheet.paragraph(
        &format!("за период с {from} по {to}"),
        10.0,
        Weight::Regular,
        Align::Center,
    );
    sheet.gap(10.0);
    sheet.paragraph(
        &format!(
            "Мы, нижеподписавшиеся, {} (БИН {}), далее Исполнитель, и {} (БИН/ИИН {}), далее Заказчик, составили настоящий акт о том, что состояние взаимных расчётов по договору публичной оферты E-DOC по данным учёта Исполнителя следующее. Валюта: {currency}.",
            seller.name, seller.bin, customer.name, customer.tin
        ),
        9.5,
        Weight::Regular,
        Align::Left,
    );
    sheet.gap(8.0);
    // The participant's own figures are written in by its accountant: the usual form of
    // the statement has both parties' columns.
    let columns = [
        Column::new("№", 0.55, Align::Center),
        Column::new("Дата", 0.95, Align::Center),
        Column::new("Документ", 3.2, Align::Left),
        Column::new("Дебет, данные Исполнителя", 1.1, Align::Right),
        Column::new("Кредит, данные Исполнителя", 1.1, Align::Right),
        Column::new("Основание", 0.9, Align::Center),
        Column::new("Дебет, данные Заказчика", 1.0, Align::Right),
        Column::new("Кредит, данные Заказчика", 1.0, Align::Right),
    ];
    let blank = || [String::new(), String::new()];
    let (opening_debit, opening_credit) = sides(statement.opening.amount());
    let mut rows = vec![Row::bold(
        [
            String::new(),
            from.clone(),
            "Сальдо на начало периода".to_owned(),
            opening_debit,
            opening_credit,
            String::new(),
        ]
        .into_iter()
        .chain(blank())
        .collect(),
    )];
    for (index, line) in statement.lines.iter().enumerate() {
        let cell = |value: Decimal| {
            if value.is_zero() {
                String::new()
            } else {
                amount(value)
            }
        };
        rows.push(Row::regular(
            [
                (index + 1).to_string(),
                russian_date(line.date),
                line.entry.russian(),
                cell(line.debit.amount()),
                cell(line.credit.amount()),
                line.clause.to_owned(),
            ]
            .into_iter()
            .chain(blank())
            .collect(),
        ));
    }
    rows.push(Row::bold(
        [
            String::new(),
            String::new(),
            "Обороты за период".to_owned(),
            amount(statement.debits.amount()),
            amount(statement.credits.amount()),
            String::new(),
        ]
        .into_iter()
        .chain(blank())
        .collect(),
    ));
    let (closing_debit, closing_credit) = sides(statement.closing.amount());
    rows.push(Row::bold(
        [
            String::new(),
            to.clone(),
            "Сальдо на конец периода".to_owned(),
            closing_debit,
            closing_credit,
            String::new(),
        ]
        .into_iter()
        .chain(blank())
        .collect(),
    ));
    sheet.table(&columns, &rows, 8.0);
    sheet.gap(10.0);
    let closing = statement.closing.amount();
    let conclusion = if closing.is_zero() {
        format!("На {to} задолженность между сторонами отсутствует.")
    } else if closing.is_sign_positive() {
        format!(
            "На {to} задолженность Заказчика ({}) перед Исполнителем ({}) составляет {} {currency}.",
            customer.name,
            seller.name,
            amount(closing)
        )
    } else {
        format!(
            "На {to} задолженность Исполнителя ({}) перед Заказчиком ({}) (аванс Заказчика) составляет {} {currency}.",
            seller.name,
            customer.name,
            amount(-closing)
        )
    };
    sheet.paragraph(&conclusion, 10.0, Weight::Bold, Align::Left);
    sheet.gap(18.0);
    sheet.signatures(
        [
            ("От Исполнителя", seller.name.as_str()),
            ("От Заказчика", customer.name.as_str()),
        ],
        9.5,
    );
    let participant = customer.tin.to_string();
    sheet.into_pdf(
        &format!("Акт сверки {participant} с {from} по {to}"),
        |page, pages| {
            format!(
                "Акт сверки по договору {participant} с {from} по {to}. Составлен edoc-ledger по событиям договора; те же цифры отдаёт GET /v1/agreements/{participant}/statement. Страница {page} из {pages}"
            )
        },
    )
}
