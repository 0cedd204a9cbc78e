//! Benchmark (not a test): drawing the printed documents (BILLING.md 6), no database.
//!
//! ```text
//! cargo bench -p ledger-bench --bench documents
//! ```
//!
//! Times the act of completed work and the reconciliation statement as PDF (krilla, the
//! font subset into each) for a typical month (3 lines), a busy one (100 lines) and
//! the longest statement a participant asks for (10,000 lines, some 230 pages), and
//! prints the time per document, its size, its pages and the peak RSS.

mod common;

use std::time::Instant;

use api::application::documents::act::{ActLine, ActOfCompletedWork};
use api::application::documents::esf::{Customer, Seller};
use api::application::documents::reconciliation::reconciliation_pdf;
use events::{CalendarMonth, Currency, InvoiceNumber, Money, ParticipantId};
use projections::{StatementEntry, StatementLine, StatementView};
use rust_decimal::Decimal;

use common::{mib, proc_status_kb, reset_peak_rss};

fn seller() -> Seller {
    Seller {
        bin: ParticipantId::parse("050140000656").unwrap(),
        name: "ТОО «Оператор E-DOC»".to_owned(),
        address: "г. Астана, пр. Мангилик Ел, 55".to_owned(),
        iik: "KZ926010131000112233".to_owned(),
        bik: "HSBKKZKX".to_owned(),
        kbe: "17".to_owned(),
    }
}

fn customer() -> Customer {
    Customer {
        tin: ParticipantId::parse("120340001230").unwrap(),
        name: "ТОО «Ромашка»".to_owned(),
        address: None,
    }
}

fn act(lines: usize) -> ActOfCompletedWork {
    let line = |n: usize| {
        let net = Decimal::new(1_000_000 + n as i64 * 17, 2);
        let vat = (net * Decimal::new(16, 2)).round_dp(2);
        ActLine {
            document: format!("Счёт № {} от 28.02.2026", n + 1),
            description: "Доступ к электронным сервисам портала E-DOC по тарифу «Бизнес»"
                .to_owned(),
            quantity: Decimal::ONE,
            unit_price: net,
            net,
            vat_rate: Decimal::new(16, 0),
            vat,
            total: net + vat,
        }
    };
    let lines: Vec<ActLine> = (0..lines).map(line).collect();
    let net = lines.iter().map(|l| l.net).sum();
    let vat = lines.iter().map(|l| l.vat).sum();
    ActOfCompletedWork {
        month: CalendarMonth::parse("2026-02").unwrap(),
        customer: customer(),
        concluded_on: Some(time::macros::date!(2026 - 01 - 05)),
        closed_at: "2026-03-02T09:00:00Z".to_owned(),
        currency: Currency::KZT,
        documents: (1..=lines.len() as u64)
            .map(|n| InvoiceNumber::new(n).unwrap())
            .collect(),
        vat_by_rate: [(Decimal::new(16, 0), vat)].into_iter().collect(),
        total: net + vat,
        net,
        vat,
        lines,
    }
}

fn statement(lines: usize) -> StatementView {
    let kzt = |cents: i64| Money::rounded(Decimal::new(cents, 2), Currency::KZT).unwrap();
    let zero = kzt(0);
    let lines: Vec<StatementLine> = (0..lines)
        .map(|n| {
            let invoice = n % 2 == 0;
            let entry = if invoice {
                StatementEntry::Invoice {
                    number: InvoiceNumber::new(n as u64 + 1).unwrap(),
                }
            } else {
                StatementEntry::Payment {
                    reference: format!("PP-{n:06}"),
                    received_on: None,
                }
            };
            StatementLine {
                date: time::macros::date!(2026 - 01 - 01) + time::Duration::days((n / 30) as i64),
                document: entry.english(),
                sequence: n as u64 + 3,
                debit: if invoice { kzt(1_160_000) } else { zero },
                credit: if invoice { zero } else { kzt(1_160_000) },
                clause: "5.4",
                entry,
            }
        })
        .collect();
    let debits = lines
        .iter()
        .fold(zero, |s, l| s.checked_add(l.debit).unwrap());
    let credits = lines
        .iter()
        .fold(zero, |s, l| s.checked_add(l.credit).unwrap());
    StatementView {
        currency: Currency::KZT,
        from: time::macros::date!(2026 - 01 - 01),
        to: time::macros::date!(2026 - 12 - 31),
        opening: zero,
        closing: debits.checked_sub(credits).unwrap(),
        debits,
        credits,
        lines,
    }
}

/// The page count the page tree records (`/Count n`).
fn pages(pdf: &[u8]) -> usize {
    let text = String::from_utf8_lossy(pdf);
    text.split("/Count ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn measure(name: &str, rounds: u32, draw: impl Fn() -> Option<Vec<u8>>) {
    reset_peak_rss();
    let started = Instant::now();
    let mut pdf = Vec::new();
    for _ in 0..rounds {
        pdf = draw().expect("the document is drawn");
    }
    let each = started.elapsed() / rounds;
    println!(
        "{name:<34} {:>9.2?}  {:>9} bytes  {:>4} pages  peak RSS {}",
        each,
        pdf.len(),
        pages(&pdf),
        mib(proc_status_kb("VmHWM:"))
    );
}

fn main() {
    if cfg!(debug_assertions) {
        eprintln!("a debug build: figures mean little (cargo bench)");
    }
    let seller = seller();
    let customer = customer();
    println!("--- printed documents (krilla, DejaVu Sans Condensed subset) ---");
    for lines in [3, 100] {
        let act = act(lines);
        measure(&format!("act, {lines} lines"), 20, || act.to_pdf(&seller));
    }
    for lines in [12, 1_000, 10_000] {
        let view = statement(lines);
        let rounds = if lines > 1_000 { 3 } else { 20 };
        measure(&format!("statement, {lines} lines"), rounds, || {
            reconciliation_pdf(&view, &seller, &customer)
        });
    }
}
