//! Given/when/then tests of the agreement (cqrs-es `TestFramework`): every command in
//! every state, accepted and refused, and the rules behind each figure.

use std::str::FromStr;
use std::sync::Arc;

use cqrs_es::test::TestFramework;
use rust_decimal::Decimal;
use time::macros::date;
use time::Date;

use commands::*;
use events::*;

use crate::reference::{ReferenceData, ReferenceSources};
use crate::{AgreementError, AgreementServices, ErrorKind, ParticipantAgreement};

type Framework = TestFramework<ParticipantAgreement>;

const RATES: &str = r#"
version = "test-rates"
source = "made up for tests"
[[usd_kzt]]
date = "2026-02-02"
rate = "503.15"
quant = 1
"#;

fn reference() -> Arc<ReferenceData> {
    let sources = ReferenceSources {
        exchange_rates: RATES,
        ..ReferenceSources::embedded()
    };
    Arc::new(ReferenceData::parse(&sources).expect("test reference data parses"))
}

fn services_on(today: Date, next: u64) -> AgreementServices {
    AgreementServices {
        reference: reference(),
        today,
        next_invoice_number: Some(InvoiceNumber::new(next).unwrap()),
    }
}

fn services() -> AgreementServices {
    services_on(date!(2026 - 12 - 31), 1)
}

fn framework() -> Framework {
    Framework::with(services())
}

fn kzt(text: &str) -> Money {
    Amount::parse(text).unwrap().in_currency(Currency::KZT)
}

fn usd(text: &str) -> Money {
    Amount::parse(text).unwrap().in_currency(Currency::USD)
}

fn participant() -> ParticipantId {
    ParticipantId::parse("150240008272").unwrap()
}

fn register_command(currency: Currency, resident: bool) -> Register {
    Register {
        participant_id: participant(),
        name: ParticipantName::parse("ТОО «Ромашка»").unwrap(),
        kind: ParticipantKind::LegalEntity,
        resident,
        currency,
        email: EmailAddress::parse("buh@romashka.kz").unwrap(),
        registered_on: date!(2026 - 01 - 05),
    }
}

fn registered_event(currency: Currency, resident: bool) -> AgreementEvent {
    let c = register_command(currency, resident);
    AgreementEvent::Registered(Registered {
        participant_id: c.participant_id,
        name: c.name,
        kind: c.kind,
        resident: c.resident,
        currency: c.currency,
        email: c.email,
        registered_on: c.registered_on,
    })
}

fn signed_event() -> AgreementEvent {
    AgreementEvent::AgreementSigned(AgreementSigned {
        signed_on: date!(2026 - 01 - 06),
        concluded_on: date!(2026 - 01 - 05),
        in_force_from: date!(2026 - 01 - 06),
    })
}

fn line(description: &str, quantity: &str, unit_price: &str) -> InvoiceLineRequest {
    InvoiceLineRequest {
        description: LineDescription::parse(description).unwrap(),
        quantity: Quantity::parse(quantity).unwrap(),
        unit_price: Amount::parse(unit_price).unwrap(),
    }
}

fn invoice_command(kind: InvoiceKind, issued_on: Date, unit_price: &str) -> IssueInvoice {
    IssueInvoice {
        kind,
        issued_on,
        lines: vec![line("Subscription", "1", unit_price)],
        period: None,
    }
}

fn payment_command(reference: &str, received_on: Date, amount: &str) -> ReceivePayment {
    ReceivePayment {
        reference: PaymentReference::parse(reference).unwrap(),
        received_on,
        amount: Amount::parse(amount).unwrap(),
        currency: None,
        invoice_number: None,
    }
}

/// Decides `command` after `given` and returns the events, or panics with the refusal.
fn decide(
    given: &[AgreementEvent],
    command: AgreementCommand,
    services: &AgreementServices,
) -> Result<Vec<AgreementEvent>, AgreementError> {
    let mut agreement = ParticipantAgreement::default();
    for event in given {
        agreement.apply_event(event.clone());
    }
    agreement.decide(command, services)
}

/// Events of a signed KZT agreement with invoice 1 of 10000.00 net (11600.00 with 16%
/// VAT) issued on Monday 2026-02-02, due Monday 2026-02-09.
fn with_invoice() -> Vec<AgreementEvent> {
    let mut given = vec![registered_event(Currency::KZT, true), signed_event()];
    given.extend(
        decide(
            &given,
            AgreementCommand::IssueInvoice(invoice_command(
                InvoiceKind::Subscription,
                date!(2026 - 02 - 02),
                "10000.00",
            )),
            &services(),
        )
        .unwrap(),
    );
    given
}

// ---------------------------------------------------------------------------------
// Registration and signing
// ---------------------------------------------------------------------------------

#[test]
fn registration_records_the_participant() {
    framework()
        .given_no_previous_events()
        .when(AgreementCommand::Register(register_command(
            Currency::KZT,
            true,
        )))
        .then_expect_events(vec![registered_event(Currency::KZT, true)]);
}

#[test]
fn a_resident_cannot_settle_in_usd() {
    framework()
        .given_no_previous_events()
        .when(AgreementCommand::Register(register_command(
            Currency::USD,
            true,
        )))
        .then_expect_error(AgreementError::ForeignCurrencyForResident {
            currency: Currency::USD,
        });
    framework()
        .given_no_previous_events()
        .when(AgreementCommand::Register(register_command(
            Currency::USD,
            false,
        )))
        .then_expect_events(vec![registered_event(Currency::USD, false)]);
}

#[test]
fn signing_concludes_on_the_earlier_date_and_enters_into_force_on_the_later() {
    // Signed after registration.
    framework()
        .given(vec![registered_event(Currency::KZT, true)])
        .when(AgreementCommand::Sign(SignAgreement {
            signed_on: date!(2026 - 01 - 06),
        }))
        .then_expect_events(vec![signed_event()]);
    // Signed before registration (§3.2): concluded on the signature, in force from registration.
    framework()
        .given(vec![registered_event(Currency::KZT, true)])
        .when(AgreementCommand::Sign(SignAgreement {
            signed_on: date!(2025 - 12 - 20),
        }))
        .then_expect_events(vec![AgreementEvent::AgreementSigned(AgreementSigned {
            signed_on: date!(2025 - 12 - 20),
            concluded_on: date!(2025 - 12 - 20),
            in_force_from: date!(2026 - 01 - 05),
        })]);
}

#[test]
fn dates_in_the_future_are_refused() {
    let today = date!(2026 - 11 - 25);
    let mut command = register_command(Currency::KZT, true);
    command.registered_on = date!(2026 - 11 - 26);
    let error = decide(
        &[],
        AgreementCommand::Register(command),
        &services_on(today, 1),
    )
    .unwrap_err();
    assert_eq!(
        error,
        AgreementError::InTheFuture {
            what: "the registration date",
            date: date!(2026 - 11 - 26),
            today
        }
    );
    let error = decide(
        &with_invoice(),
        AgreementCommand::ReceivePayment(payment_command("P", date!(2026 - 11 - 26), "1.00")),
        &services_on(today, 2),
    )
    .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::RuleViolation);
}

// ---------------------------------------------------------------------------------
// Invoices
// ---------------------------------------------------------------------------------

#[test]
fn an_invoice_adds_vat_by_its_issue_date_and_falls_due_by_its_kind() {
    let events = with_invoice();
    let AgreementEvent::InvoiceIssued(invoice) = &events[2] else {
        panic!("{events:?}")
    };
    assert_eq!(invoice.number, InvoiceNumber::new(1).unwrap());
    assert_eq!(invoice.net, kzt("10000.00"));
    assert_eq!(invoice.vat.rate, Decimal::from_str("0.16").unwrap());
    assert_eq!(invoice.vat.amount, kzt("1600.00"));
    assert_eq!(invoice.total, kzt("11600.00"));
    assert_eq!(
        invoice.due_on,
        date!(2026 - 02 - 09),
        "Monday + 5 banking days = next Monday (§5.4)"
    );
    assert_eq!(invoice.due_rule.clause, "5.4");
    assert_eq!(invoice.exchange_rate, None);
    assert_eq!(events.len(), 3, "no advance, so nothing else");
}

#[test]
fn vat_in_2025_is_twelve_percent() {
    let mut given = vec![registered_event(Currency::KZT, true), signed_event()];
    if let AgreementEvent::Registered(r) = &mut given[0] {
        r.registered_on = date!(2025 - 06 - 02);
    }
    if let AgreementEvent::AgreementSigned(s) = &mut given[1] {
        *s = AgreementSigned {
            signed_on: date!(2025 - 06 - 02),
            concluded_on: date!(2025 - 06 - 02),
            in_force_from: date!(2025 - 06 - 02),
        };
    }
    let events = decide(
        &given,
        AgreementCommand::IssueInvoice(invoice_command(
            InvoiceKind::Credit,
            date!(2025 - 12 - 31),
            "100.00",
        )),
        &services(),
    )
    .unwrap();
    let AgreementEvent::InvoiceIssued(invoice) = &events[0] else {
        panic!()
    };
    assert_eq!(invoice.vat.amount, kzt("12.00"));
    assert_eq!(invoice.total, kzt("112.00"));
    // Credit: 3 working days (§5.8) from Wednesday 2025-12-31: Jan 1, 2 are holidays,
    // Jan 3-4 a weekend: Jan 5 (1), Jan 6 (2), Jan 7 holiday, Jan 8 (3).
    assert_eq!(invoice.due_on, date!(2026 - 01 - 08));
    assert_eq!(invoice.due_rule.clause, "5.8");
}

fn due_on(kind: InvoiceKind, issued_on: Date) -> Date {
    let given = vec![registered_event(Currency::KZT, true), signed_event()];
    let events = decide(
        &given,
        AgreementCommand::IssueInvoice(invoice_command(kind, issued_on, "100.00")),
        &services(),
    )
    .unwrap();
    match &events[0] {
        AgreementEvent::InvoiceIssued(invoice) => invoice.due_on,
        other => panic!("{other:?}"),
    }
}

#[test]
fn due_dates_skip_the_2026_nauryz_and_may_holidays() {
    // Friday 2026-03-20: Mar 21-22 weekend, Mar 23-25 Nauryz days off.
    assert_eq!(
        due_on(InvoiceKind::Subscription, date!(2026 - 03 - 20)),
        date!(2026 - 04 - 01)
    );
    assert_eq!(
        due_on(InvoiceKind::Credit, date!(2026 - 03 - 20)),
        date!(2026 - 03 - 30)
    );
    assert_eq!(
        due_on(InvoiceKind::Usage, date!(2026 - 03 - 20)),
        date!(2026 - 03 - 30)
    );
    // Thursday 2026-04-30: May 1 (Fri), May 7 (Thu) and May 11 (Mon) are days off.
    assert_eq!(
        due_on(InvoiceKind::Subscription, date!(2026 - 04 - 30)),
        date!(2026 - 05 - 12)
    );
    assert_eq!(
        due_on(InvoiceKind::Credit, date!(2026 - 05 - 05)),
        date!(2026 - 05 - 12)
    );
}

#[test]
fn invoices_at_the_end_of_2026_fall_due_in_2027_by_the_provisional_calendar() {
    let given = vec![registered_event(Currency::KZT, true), signed_event()];
    // §5.4: Monday 2026-12-28 + 5 banking days: Dec 29, 30, 31, (Jan 1, 2-3 weekend,
    // Jan 4 moved day off) Jan 5, Jan 6.
    assert_eq!(
        due_on(InvoiceKind::Subscription, date!(2026 - 12 - 28)),
        date!(2027 - 01 - 06)
    );
    // §5.8: Tuesday 2026-12-29 + 3 working days: Dec 30, 31, Jan 5.
    assert_eq!(
        due_on(InvoiceKind::Credit, date!(2026 - 12 - 29)),
        date!(2027 - 01 - 05)
    );
    let events = decide(
        &given,
        AgreementCommand::IssueInvoice(invoice_command(
            InvoiceKind::Subscription,
            date!(2026 - 12 - 28),
            "100.00",
        )),
        &services(),
    )
    .unwrap();
    let AgreementEvent::InvoiceIssued(issued) = &events[0] else {
        panic!("an invoice")
    };
    assert_eq!(
        issued.due_rule.calendar_version, "kz-calendar-2026-1+kz-calendar-2027-1",
        "the due date names both years' calendar versions"
    );
}

#[test]
fn a_due_date_in_a_year_without_a_calendar_is_refused() {
    let given = vec![registered_event(Currency::KZT, true), signed_event()];
    let error = decide(
        &given,
        AgreementCommand::IssueInvoice(invoice_command(
            InvoiceKind::Subscription,
            date!(2027 - 12 - 30),
            "100.00",
        )),
        &services_on(date!(2027 - 12 - 31), 1),
    )
    .unwrap_err();
    assert_eq!(
        error,
        AgreementError::MissingReferenceData(crate::reference::ReferenceError::NoCalendarForYear(
            2028
        ))
    );
    assert_eq!(error.kind(), ErrorKind::RuleViolation);
}

#[test]
fn lines_are_rounded_once_each_and_vat_once() {
    let given = vec![registered_event(Currency::KZT, true), signed_event()];
    let command = IssueInvoice {
        kind: InvoiceKind::Usage,
        issued_on: date!(2026 - 02 - 02),
        lines: vec![
            line("Documents", "3", "33.33"),
            line("Storage", "0.125", "10.00"),
            line("Extra", "1.5", "0.05"),
        ],
        period: Some(ServicePeriod {
            from: date!(2026 - 01 - 01),
            to: date!(2026 - 01 - 31),
        }),
    };
    // 3 x 33.33 = 99.99; 0.125 x 10.00 = 1.25; 1.5 x 0.05 = 0.075 -> 0.08 (half away from zero)
    let events = decide(&given, AgreementCommand::IssueInvoice(command), &services()).unwrap();
    let AgreementEvent::InvoiceIssued(invoice) = &events[0] else {
        panic!()
    };
    let amounts: Vec<_> = invoice.lines.iter().map(|l| l.amount).collect();
    assert_eq!(amounts, vec![kzt("99.99"), kzt("1.25"), kzt("0.08")]);
    assert_eq!(invoice.net, kzt("101.32"));
    // 101.32 x 0.16 = 16.2112 -> 16.21
    assert_eq!(invoice.vat.amount, kzt("16.21"));
    assert_eq!(invoice.total, kzt("117.53"));
}

#[test]
fn invoice_rules_are_enforced() {
    let given = vec![registered_event(Currency::KZT, true), signed_event()];
    let check = |command: IssueInvoice, expected: AgreementError| {
        assert_eq!(
            decide(&given, AgreementCommand::IssueInvoice(command), &services()).unwrap_err(),
            expected
        );
    };
    let mut no_lines = invoice_command(InvoiceKind::Credit, date!(2026 - 02 - 02), "1.00");
    no_lines.lines.clear();
    check(no_lines, AgreementError::NoInvoiceLines);
    let mut many = invoice_command(InvoiceKind::Credit, date!(2026 - 02 - 02), "1.00");
    many.lines = (0..=INVOICE_LINES_MAX)
        .map(|_| line("x", "1", "1.00"))
        .collect();
    check(
        many,
        AgreementError::TooManyInvoiceLines {
            max: INVOICE_LINES_MAX,
            given: INVOICE_LINES_MAX + 1,
        },
    );
    check(
        invoice_command(InvoiceKind::Credit, date!(2026 - 02 - 02), "0.00"),
        AgreementError::ZeroInvoice,
    );
    check(
        invoice_command(InvoiceKind::Credit, date!(2026 - 01 - 05), "1.00"),
        AgreementError::InvoiceBeforeInForce {
            issued_on: date!(2026 - 01 - 05),
            in_force_from: date!(2026 - 01 - 06),
        },
    );
    check(
        invoice_command(InvoiceKind::Credit, date!(2026 - 01 - 02), "1.00"),
        AgreementError::BeforeRegistration {
            what: "the issue date",
            date: date!(2026 - 01 - 02),
            registered_on: date!(2026 - 01 - 05),
        },
    );
    let mut reversed = invoice_command(InvoiceKind::Credit, date!(2026 - 02 - 02), "1.00");
    reversed.period = Some(ServicePeriod {
        from: date!(2026 - 02 - 01),
        to: date!(2026 - 01 - 01),
    });
    check(
        reversed,
        AgreementError::PeriodReversed {
            from: date!(2026 - 02 - 01),
            to: date!(2026 - 01 - 01),
        },
    );
    let huge = IssueInvoice {
        lines: vec![line("x", "1000000", "999999999999.99")],
        ..invoice_command(InvoiceKind::Credit, date!(2026 - 02 - 02), "1.00")
    };
    check(huge, AgreementError::Money(MoneyError::Overflow));
}

#[test]
fn a_usd_invoice_records_the_national_bank_rate_of_its_date() {
    let given = vec![registered_event(Currency::USD, false), signed_event()];
    let events = decide(
        &given,
        AgreementCommand::IssueInvoice(invoice_command(
            InvoiceKind::Subscription,
            date!(2026 - 02 - 02),
            "250.00",
        )),
        &services(),
    )
    .unwrap();
    let AgreementEvent::InvoiceIssued(invoice) = &events[0] else {
        panic!()
    };
    assert_eq!(invoice.currency, Currency::USD);
    assert_eq!(invoice.total, usd("290.00"));
    let rate = invoice
        .exchange_rate
        .as_ref()
        .expect("a USD invoice records its rate");
    assert_eq!(rate.kzt_per_usd, Decimal::from_str("503.15").unwrap());
    assert_eq!(rate.date, date!(2026 - 02 - 02));
    // No rate loaded for the date: refused (§5.1).
    let error = decide(
        &given,
        AgreementCommand::IssueInvoice(invoice_command(
            InvoiceKind::Subscription,
            date!(2026 - 02 - 03),
            "250.00",
        )),
        &services(),
    )
    .unwrap_err();
    assert_eq!(error.clause(), Some(Clause::CURRENCY));
    assert_eq!(error.kind(), ErrorKind::RuleViolation);
}

// ---------------------------------------------------------------------------------
// Payments
// ---------------------------------------------------------------------------------

fn payment_event(events: Vec<AgreementEvent>) -> PaymentReceived {
    match events.as_slice() {
        [AgreementEvent::PaymentReceived(payment)] => payment.clone(),
        other => panic!("expected one payment, got {other:?}"),
    }
}

#[test]
fn a_partial_payment_settles_principal_and_keeps_no_advance() {
    let payment = payment_event(
        decide(
            &with_invoice(),
            AgreementCommand::ReceivePayment(payment_command(
                "BANK-1",
                date!(2026 - 02 - 05),
                "5000.00",
            )),
            &services(),
        )
        .unwrap(),
    );
    assert_eq!(
        payment.allocations,
        vec![PaymentAllocation {
            invoice_number: InvoiceNumber::new(1).unwrap(),
            principal: kzt("5000.00"),
            penalty: kzt("0"),
            fine: kzt("0")
        }]
    );
    assert_eq!(payment.advance, kzt("0"));
}

#[test]
fn an_overpayment_becomes_an_advance_that_settles_the_next_invoice() {
    let mut given = with_invoice();
    let payment = payment_event(
        decide(
            &given,
            AgreementCommand::ReceivePayment(payment_command(
                "BANK-1",
                date!(2026 - 02 - 05),
                "12000.00",
            )),
            &services(),
        )
        .unwrap(),
    );
    assert_eq!(payment.allocations[0].principal, kzt("11600.00"));
    assert_eq!(payment.advance, kzt("400.00"));
    given.push(AgreementEvent::PaymentReceived(payment));

    let events = decide(
        &given,
        AgreementCommand::IssueInvoice(invoice_command(
            InvoiceKind::Credit,
            date!(2026 - 03 - 02),
            "100.00",
        )),
        &services_on(date!(2026 - 12 - 31), 2),
    )
    .unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[1],
        AgreementEvent::AdvanceApplied(AdvanceApplied {
            part: events::SettledPart::Principal,
            invoice_number: InvoiceNumber::new(2).unwrap(),
            amount: kzt("116.00"),
            on: date!(2026 - 03 - 02),
            advance_remaining: kzt("284.00"),
        })
    );
    given.extend(events);
    let mut agreement = ParticipantAgreement::default();
    given.into_iter().for_each(|e| agreement.apply_event(e));
    assert!(agreement
        .invoice(InvoiceNumber::new(2).unwrap())
        .unwrap()
        .is_paid());
    assert_eq!(agreement.advance(), Some(kzt("284.00")));
}

#[test]
fn a_payment_that_would_take_the_advance_past_the_largest_amount_is_refused() {
    let mut given = with_invoice();
    let first = payment_event(
        decide(
            &given,
            AgreementCommand::ReceivePayment(payment_command(
                "BANK-1",
                date!(2026 - 02 - 05),
                "999999999999.99",
            )),
            &services(),
        )
        .unwrap(),
    );
    assert_eq!(first.advance, kzt("999999988399.99"));
    given.push(AgreementEvent::PaymentReceived(first));
    let refused = decide(
        &given,
        AgreementCommand::ReceivePayment(payment_command(
            "BANK-2",
            date!(2026 - 02 - 06),
            "999999999999.99",
        )),
        &services(),
    )
    .unwrap_err();
    assert_eq!(refused, AgreementError::Money(events::MoneyError::Overflow));
    // A smaller one still fits.
    decide(
        &given,
        AgreementCommand::ReceivePayment(payment_command(
            "BANK-3",
            date!(2026 - 02 - 06),
            "11600.00",
        )),
        &services(),
    )
    .unwrap();
}

#[test]
fn payments_go_to_the_oldest_open_invoice_unless_one_is_named() {
    let mut given = with_invoice();
    given.extend(
        decide(
            &given,
            AgreementCommand::IssueInvoice(invoice_command(
                InvoiceKind::Credit,
                date!(2026 - 02 - 03),
                "100.00",
            )),
            &services_on(date!(2026 - 12 - 31), 2),
        )
        .unwrap(),
    );
    let one = InvoiceNumber::new(1).unwrap();
    let two = InvoiceNumber::new(2).unwrap();

    let oldest = payment_event(
        decide(
            &given,
            AgreementCommand::ReceivePayment(payment_command(
                "P1",
                date!(2026 - 02 - 04),
                "11650.00",
            )),
            &services(),
        )
        .unwrap(),
    );
    assert_eq!(
        oldest
            .allocations
            .iter()
            .map(|a| (a.invoice_number, a.principal))
            .collect::<Vec<_>>(),
        vec![(one, kzt("11600.00")), (two, kzt("50.00"))]
    );

    let mut named = payment_command("P2", date!(2026 - 02 - 04), "200.00");
    named.invoice_number = Some(two);
    let named = payment_event(
        decide(&given, AgreementCommand::ReceivePayment(named), &services()).unwrap(),
    );
    assert_eq!(
        named
            .allocations
            .iter()
            .map(|a| (a.invoice_number, a.principal))
            .collect::<Vec<_>>(),
        vec![(two, kzt("116.00")), (one, kzt("84.00"))]
    );

    let mut unknown = payment_command("P3", date!(2026 - 02 - 04), "1.00");
    unknown.invoice_number = Some(InvoiceNumber::new(99).unwrap());
    assert_eq!(
        decide(
            &given,
            AgreementCommand::ReceivePayment(unknown),
            &services()
        )
        .unwrap_err(),
        AgreementError::UnknownInvoice(InvoiceNumber::new(99).unwrap())
    );
}

#[test]
fn a_repeated_reference_records_nothing_and_a_reused_one_is_refused() {
    let mut given = with_invoice();
    let command = payment_command("BANK-1", date!(2026 - 02 - 05), "100.00");
    given.extend(
        decide(
            &given,
            AgreementCommand::ReceivePayment(command.clone()),
            &services(),
        )
        .unwrap(),
    );
    Framework::with(services())
        .given(given.clone())
        .when(AgreementCommand::ReceivePayment(command.clone()))
        .then_expect_events(vec![]);
    let mut other = command;
    other.amount = Amount::parse("200.00").unwrap();
    Framework::with(services())
        .given(given)
        .when(AgreementCommand::ReceivePayment(other))
        .then_expect_error(AgreementError::PaymentReferenceReused {
            reference: "BANK-1".into(),
        });
}

#[test]
fn payment_rules_are_enforced() {
    let given = with_invoice();
    let mut foreign = payment_command("P", date!(2026 - 02 - 05), "1.00");
    foreign.currency = Some(Currency::USD);
    let error = decide(
        &given,
        AgreementCommand::ReceivePayment(foreign),
        &services(),
    )
    .unwrap_err();
    assert_eq!(
        error,
        AgreementError::PaymentCurrency {
            given: Currency::USD,
            agreement: Currency::KZT
        }
    );
    assert_eq!(error.clause(), Some(Clause::CURRENCY));
    assert_eq!(
        decide(
            &given,
            AgreementCommand::ReceivePayment(payment_command("P", date!(2026 - 02 - 05), "0.00")),
            &services()
        )
        .unwrap_err(),
        AgreementError::ZeroPayment
    );
    assert_eq!(
        decide(
            &given,
            AgreementCommand::ReceivePayment(payment_command("P", date!(2026 - 02 - 01), "1.00")),
            &services()
        )
        .unwrap_err(),
        AgreementError::Backdated {
            what: "the payment date",
            date: date!(2026 - 02 - 01),
            latest: date!(2026 - 02 - 02)
        }
    );
    assert_eq!(
        decide(
            &given,
            AgreementCommand::ReceivePayment(payment_command("P", date!(2025 - 02 - 01), "1.00")),
            &services()
        )
        .unwrap_err(),
        AgreementError::BeforeRegistration {
            what: "the payment date",
            date: date!(2025 - 02 - 01),
            registered_on: date!(2026 - 01 - 05)
        }
    );
}

// ---------------------------------------------------------------------------------
// Termination
// ---------------------------------------------------------------------------------

fn termination(
    ground: TerminationGround,
    notice: Date,
    effective: Option<Date>,
) -> AgreementCommand {
    AgreementCommand::RequestTermination(RequestTermination {
        ground,
        notice_received_on: notice,
        effective_on: effective,
    })
}

#[test]
fn participant_notice_takes_effect_fifteen_calendar_days_later() {
    let given = with_invoice();
    let events = decide(
        &given,
        termination(
            TerminationGround::ParticipantNotice,
            date!(2026 - 02 - 20),
            None,
        ),
        &services(),
    )
    .unwrap();
    assert_eq!(
        events,
        vec![AgreementEvent::TerminationRequested(TerminationRequested {
            ground: TerminationGround::ParticipantNotice,
            notice_received_on: date!(2026 - 02 - 20),
            effective_on: date!(2026 - 03 - 07),
            settlement_due_on: None,
        })]
    );
    assert_eq!(events[0].clause(), Clause::TERMINATION_NOTICE);
    let error = decide(
        &given,
        termination(
            TerminationGround::ParticipantNotice,
            date!(2026 - 02 - 20),
            Some(date!(2026 - 03 - 06)),
        ),
        &services(),
    )
    .unwrap_err();
    assert_eq!(
        error,
        AgreementError::TerminationTooEarly {
            notice_received_on: date!(2026 - 02 - 20),
            earliest: date!(2026 - 03 - 07)
        }
    );
    assert!(decide(
        &given,
        termination(
            TerminationGround::ParticipantNotice,
            date!(2026 - 02 - 20),
            Some(date!(2026 - 04 - 01))
        ),
        &services()
    )
    .is_ok());
}

#[test]
fn mutual_and_court_terminations_take_the_named_date() {
    let given = with_invoice();
    let events = decide(
        &given,
        termination(TerminationGround::Mutual, date!(2026 - 02 - 20), None),
        &services(),
    )
    .unwrap();
    let AgreementEvent::TerminationRequested(t) = &events[0] else {
        panic!()
    };
    assert_eq!(t.effective_on, date!(2026 - 02 - 20));
    let error = decide(
        &given,
        termination(
            TerminationGround::Court,
            date!(2026 - 02 - 20),
            Some(date!(2026 - 02 - 19)),
        ),
        &services(),
    )
    .unwrap_err();
    assert_eq!(
        error,
        AgreementError::EffectiveBeforeNotice {
            effective_on: date!(2026 - 02 - 19),
            notice_received_on: date!(2026 - 02 - 20)
        }
    );
    let error = decide(
        &given,
        termination(
            TerminationGround::ForceMajeure,
            date!(2026 - 02 - 20),
            Some(date!(2026 - 03 - 20)),
        ),
        &services(),
    )
    .unwrap_err();
    assert_eq!(error, AgreementError::NoLongForceMajeure);
    assert_eq!(error.clause(), Some(Clause::FORCE_MAJEURE));
}

// ---------------------------------------------------------------------------------
// Every command in every state
// ---------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    New,
    Registered,
    Active,
    Suspended,
    Blocked,
    TerminationPending,
    Terminated,
}

fn history(state: State) -> Vec<AgreementEvent> {
    let mut events = Vec::new();
    if state == State::New {
        return events;
    }
    events.push(registered_event(Currency::KZT, true));
    if state == State::Registered {
        return events;
    }
    // Signed states carry invoice 1 (due 2026-02-09), late by the commands' date.
    events = with_invoice();
    let on = date!(2026 - 02 - 10);
    match state {
        State::Suspended => events.push(AgreementEvent::Suspended(Suspended {
            on,
            reason: RestrictionReason::Verification,
            imposed_by: Some(ImposedBy::Operator),
        })),
        State::Blocked => events.push(AgreementEvent::Blocked(Blocked {
            on,
            reason: RestrictionReason::Violation,
        })),
        State::TerminationPending | State::Terminated => {
            events.push(AgreementEvent::TerminationRequested(TerminationRequested {
                ground: TerminationGround::Mutual,
                notice_received_on: on,
                effective_on: on,
                settlement_due_on: None,
            }));
            if state == State::Terminated {
                events.push(AgreementEvent::Terminated(Terminated { on }));
            }
        }
        _ => {}
    }
    events
}

fn every_command() -> Vec<(&'static str, AgreementCommand)> {
    let on = date!(2026 - 03 - 02);
    let note = ReasonNote::parse("checked").unwrap();
    vec![
        (
            "register",
            AgreementCommand::Register(register_command(Currency::KZT, true)),
        ),
        (
            "sign",
            AgreementCommand::Sign(SignAgreement { signed_on: on }),
        ),
        (
            "invoice",
            AgreementCommand::IssueInvoice(invoice_command(InvoiceKind::Credit, on, "100.00")),
        ),
        (
            "pay",
            AgreementCommand::ReceivePayment(payment_command("P-1", on, "10.00")),
        ),
        (
            "suspend",
            AgreementCommand::Suspend(RestrictAccess {
                on,
                reason: RestrictionReason::TechnicalWorks,
            }),
        ),
        (
            "reinstate",
            AgreementCommand::Reinstate(LiftRestriction {
                on,
                reason: note.clone(),
            }),
        ),
        (
            "block",
            AgreementCommand::Block(RestrictAccess {
                on,
                reason: RestrictionReason::Violation,
            }),
        ),
        (
            "unblock",
            AgreementCommand::Unblock(LiftRestriction { on, reason: note }),
        ),
        (
            "terminate",
            termination(TerminationGround::ParticipantNotice, on, None),
        ),
        (
            "charge",
            AgreementCommand::ChargeLatePayment(ChargeLatePayment {
                invoice_number: InvoiceNumber::new(1).unwrap(),
                kind: LateChargeKind::Penalty,
                on,
            }),
        ),
        (
            "waive",
            AgreementCommand::WaiveLatePayment(WaiveLatePayment {
                invoice_number: InvoiceNumber::new(1).unwrap(),
                kind: LateChargeKind::Penalty,
                amount: Amount::parse("1.00").unwrap(),
                reason: ReasonNote::parse("goodwill").unwrap(),
                on: Some(on),
            }),
        ),
        (
            "charge fine",
            AgreementCommand::ChargeLatePayment(ChargeLatePayment {
                invoice_number: InvoiceNumber::new(1).unwrap(),
                kind: LateChargeKind::Fine,
                on,
            }),
        ),
        (
            // Undated: the waiver is dated today (services.today, 2026-12-31).
            "waive fine today",
            AgreementCommand::WaiveLatePayment(WaiveLatePayment {
                invoice_number: InvoiceNumber::new(1).unwrap(),
                kind: LateChargeKind::Fine,
                amount: Amount::parse("8650.00").unwrap(),
                reason: ReasonNote::parse("goodwill").unwrap(),
                on: None,
            }),
        ),
    ]
}

#[test]
fn every_command_in_every_state() {
    use State::*;
    // What each command gives in each state: the event type it records, or the refusal.
    let expected: &[(State, [&str; 13])] = &[
        // register, sign, invoice, pay, suspend, reinstate, block, unblock, terminate, charge,
        // waive, charge fine, waive fine today
        (
            New,
            [
                "Registered",
                "NotRegistered",
                "NotRegistered",
                "NotRegistered",
                "NotRegistered",
                "NotRegistered",
                "NotRegistered",
                "NotRegistered",
                "NotRegistered",
                "NotRegistered",
                "NotRegistered",
                "NotRegistered",
                "NotRegistered",
            ],
        ),
        (
            Registered,
            [
                "AlreadyRegistered",
                "AgreementSigned",
                "NotSigned",
                "PaymentReceived",
                "NotSigned",
                "NotSuspended",
                "NotSigned",
                "NotBlocked",
                "NotSigned",
                "NotSigned",
                "NotSigned",
                "NotSigned",
                "NotSigned",
            ],
        ),
        (
            Active,
            [
                "AlreadyRegistered",
                "AlreadySigned",
                "InvoiceIssued",
                "PaymentReceived",
                "Suspended",
                "NotSuspended",
                "Blocked",
                "NotBlocked",
                "TerminationRequested",
                "PenaltyCharged",
                "LateChargeWaived",
                "FineCharged",
                "LateChargeWaived",
            ],
        ),
        (
            Suspended,
            [
                "AlreadyRegistered",
                "AlreadySigned",
                "InvoiceIssued",
                "PaymentReceived",
                "AlreadySuspended",
                "Reinstated",
                "Blocked",
                "NotBlocked",
                "TerminationRequested",
                "PenaltyCharged",
                "LateChargeWaived",
                "FineCharged",
                "LateChargeWaived",
            ],
        ),
        (
            Blocked,
            [
                "AlreadyRegistered",
                "AlreadySigned",
                "InvoiceIssued",
                "PaymentReceived",
                "AlreadyBlocked",
                "NotSuspended",
                "AlreadyBlocked",
                "Unblocked",
                "TerminationRequested",
                "PenaltyCharged",
                "LateChargeWaived",
                "FineCharged",
                "LateChargeWaived",
            ],
        ),
        (
            TerminationPending,
            [
                "AlreadyRegistered",
                "AlreadySigned",
                // Effective on 2026-02-10: no invoice for a later day (§10.3, 2026-12-01).
                "InvoiceAfterTermination",
                "PaymentReceived",
                "Suspended",
                "NotSuspended",
                "Blocked",
                "NotBlocked",
                "TerminationPending",
                "PenaltyCharged",
                "LateChargeWaived",
                "FineCharged",
                "LateChargeWaived",
            ],
        ),
        (
            Terminated,
            [
                "AlreadyRegistered",
                "AlreadySigned",
                "AlreadyTerminated",
                "PaymentReceived",
                "AlreadyTerminated",
                "NotSuspended",
                "AlreadyTerminated",
                "NotBlocked",
                "AlreadyTerminated",
                "AlreadyTerminated",
                "AlreadyTerminated",
                "AlreadyTerminated",
                "AlreadyTerminated",
            ],
        ),
    ];
    let mut mismatches = Vec::new();
    // `zip` would silently drop a command with no expected outcome.
    assert!(expected
        .iter()
        .all(|(_, outcomes)| outcomes.len() == every_command().len()));
    for (state, outcomes) in expected {
        for ((name, command), want) in every_command().into_iter().zip(outcomes) {
            let got = match decide(&history(*state), command, &services()) {
                Ok(events) => events
                    .first()
                    .map(|e| e.type_name().to_owned())
                    .unwrap_or_else(|| "nothing".into()),
                Err(error) => format!("{error:?}")
                    .split([' ', '{', '('])
                    .next()
                    .unwrap()
                    .to_owned(),
            };
            if got != *want {
                mismatches.push(format!("{state:?} + {name}: expected {want}, got {got}"));
            }
        }
    }
    assert!(mismatches.is_empty(), "\n{}", mismatches.join("\n"));
}

#[test]
fn restrictions_are_lifted_with_the_reason_they_lift() {
    framework()
        .given(history(State::Blocked))
        .when(AgreementCommand::Unblock(LiftRestriction {
            on: date!(2026 - 03 - 01),
            reason: ReasonNote::parse("violation remedied").unwrap(),
        }))
        .then_expect_events(vec![AgreementEvent::Unblocked(Unblocked {
            on: date!(2026 - 03 - 01),
            reason: ReasonNote::parse("violation remedied").unwrap(),
            lifted: RestrictionReason::Violation,
        })]);
    let mut agreement = ParticipantAgreement::default();
    history(State::Suspended)
        .into_iter()
        .for_each(|e| agreement.apply_event(e));
    assert_eq!(agreement.status(), Some(crate::AgreementStatus::Suspended));
    agreement.apply_event(AgreementEvent::Blocked(Blocked {
        on: date!(2026 - 02 - 11),
        reason: RestrictionReason::Overdue,
    }));
    assert_eq!(agreement.status(), Some(crate::AgreementStatus::Blocked));
}

#[test]
fn refusals_name_their_clause_and_kind() {
    let error = AgreementError::NotSigned { action: "invoiced" };
    assert_eq!(error.kind(), ErrorKind::Conflict);
    assert_eq!(error.clause(), Some(Clause::ACCEPTANCE));
    assert!(error.to_string().contains("§1.5"));
    assert_eq!(AgreementError::NotRegistered.kind(), ErrorKind::NotFound);
}

// ---------------------------------------------------------------------------------
// Late payment: charges and waivers (§5.9)
// ---------------------------------------------------------------------------------

fn charge(kind: LateChargeKind, on: Date) -> AgreementCommand {
    AgreementCommand::ChargeLatePayment(ChargeLatePayment {
        invoice_number: InvoiceNumber::new(1).unwrap(),
        kind,
        on,
    })
}

fn waive(kind: LateChargeKind, amount: &str, on: Option<Date>) -> AgreementCommand {
    AgreementCommand::WaiveLatePayment(WaiveLatePayment {
        invoice_number: InvoiceNumber::new(1).unwrap(),
        kind,
        amount: Amount::parse(amount).unwrap(),
        reason: ReasonNote::parse("goodwill").unwrap(),
        on,
    })
}

/// `given` plus what `command` records (which must be accepted).
fn then(given: &[AgreementEvent], command: AgreementCommand) -> Vec<AgreementEvent> {
    let mut all = given.to_vec();
    all.extend(decide(given, command, &services()).expect("accepted"));
    all
}

fn state_of(given: &[AgreementEvent]) -> ParticipantAgreement {
    let mut agreement = ParticipantAgreement::default();
    for event in given {
        agreement.apply_event(event.clone());
    }
    agreement
}

#[test]
fn a_penalty_charge_takes_what_accrued_and_only_the_increment_later() {
    // Invoice 1: 11600.00 due 2026-02-09; as of 2026-02-19 ten days late: 116.00.
    let given = with_invoice();
    let events = decide(
        &given,
        charge(LateChargeKind::Penalty, date!(2026 - 02 - 19)),
        &services(),
    )
    .unwrap();
    let AgreementEvent::PenaltyCharged(charged) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(charged.amount, kzt("116.00"));
    assert_eq!(charged.accrual.days, 10);
    assert_eq!(charged.accrual.from, Some(date!(2026 - 02 - 10)));
    assert_eq!(charged.accrual.clause, "5.9");
    assert_eq!(events.len(), 1, "no advance held, nothing settled");
    let given = then(
        &given,
        charge(LateChargeKind::Penalty, date!(2026 - 02 - 19)),
    );
    // The same day again: nothing more to charge, nothing recorded.
    let refused = decide(
        &given,
        charge(LateChargeKind::Penalty, date!(2026 - 02 - 19)),
        &services(),
    )
    .unwrap_err();
    assert!(
        matches!(refused, AgreementError::NothingToCharge { .. }),
        "{refused:?}"
    );
    assert_eq!(refused.clause().unwrap().as_str(), "5.9");
    // 100 days late: capped at 580.00, of which 116.00 was charged: 464.00 more.
    let events = decide(
        &given,
        charge(LateChargeKind::Penalty, date!(2026 - 05 - 20)),
        &services(),
    )
    .unwrap();
    let AgreementEvent::PenaltyCharged(more) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(more.amount, kzt("464.00"));
    assert!(more.accrual.capped);
}

#[test]
fn charges_are_refused_when_nothing_is_late_or_the_date_is_wrong() {
    let given = with_invoice();
    let not_late = decide(
        &given,
        charge(LateChargeKind::Penalty, date!(2026 - 02 - 09)),
        &services(),
    )
    .unwrap_err();
    assert!(
        matches!(not_late, AgreementError::NotLate { .. }),
        "{not_late:?}"
    );
    let fine_not_late = decide(
        &given,
        charge(LateChargeKind::Fine, date!(2026 - 02 - 05)),
        &services(),
    )
    .unwrap_err();
    assert!(matches!(fine_not_late, AgreementError::NotLate { .. }));
    let unknown = decide(
        &given,
        AgreementCommand::ChargeLatePayment(ChargeLatePayment {
            invoice_number: InvoiceNumber::new(9).unwrap(),
            kind: LateChargeKind::Penalty,
            on: date!(2026 - 03 - 01),
        }),
        &services(),
    )
    .unwrap_err();
    assert_eq!(
        unknown,
        AgreementError::UnknownInvoice(InvoiceNumber::new(9).unwrap())
    );
    let future = decide(
        &given,
        charge(LateChargeKind::Penalty, date!(2027 - 03 - 01)),
        &services(),
    )
    .unwrap_err();
    assert!(
        matches!(future, AgreementError::InTheFuture { .. }),
        "{future:?}"
    );
    let backdated = decide(
        &given,
        charge(LateChargeKind::Penalty, date!(2026 - 02 - 01)),
        &services(),
    )
    .unwrap_err();
    assert!(
        matches!(backdated, AgreementError::Backdated { .. }),
        "{backdated:?}"
    );
}

#[test]
fn the_fine_is_two_mrp_once() {
    let given = with_invoice();
    let events = decide(
        &given,
        charge(LateChargeKind::Fine, date!(2026 - 02 - 10)),
        &services(),
    )
    .unwrap();
    let AgreementEvent::FineCharged(fine) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(fine.amount, kzt("8650.00"));
    assert_eq!(fine.assessment.mrp, Some(Decimal::from(4325)));
    let given = then(&given, charge(LateChargeKind::Fine, date!(2026 - 02 - 10)));
    let again = decide(
        &given,
        charge(LateChargeKind::Fine, date!(2026 - 04 - 10)),
        &services(),
    )
    .unwrap_err();
    assert!(
        matches!(again, AgreementError::NothingToCharge { .. }),
        "{again:?}"
    );
}

#[test]
fn payments_settle_principal_then_penalty_then_fine_and_advances_settle_charges() {
    let given = then(
        &with_invoice(),
        charge(LateChargeKind::Penalty, date!(2026 - 02 - 19)),
    );
    let given = then(&given, charge(LateChargeKind::Fine, date!(2026 - 02 - 19)));
    // 11600.00 principal + 116.00 penalty + 8650.00 fine = 20366.00; pay 20000.00.
    let given = then(
        &given,
        AgreementCommand::ReceivePayment(payment_command("P-1", date!(2026 - 02 - 20), "20000.00")),
    );
    let invoice = state_of(&given)
        .invoice(InvoiceNumber::new(1).unwrap())
        .unwrap()
        .clone();
    assert_eq!(invoice.principal_outstanding(), kzt("0.00"));
    assert_eq!(invoice.paid_in_full_on, Some(date!(2026 - 02 - 20)));
    assert_eq!(invoice.penalty_outstanding(), kzt("0.00"));
    assert_eq!(invoice.fine_outstanding(), kzt("366.00"));
    // Accrual stopped on the day of full payment: 11 days, 127.60; 11.60 more to charge.
    let events = decide(
        &given,
        charge(LateChargeKind::Penalty, date!(2026 - 06 - 01)),
        &services(),
    )
    .unwrap();
    let AgreementEvent::PenaltyCharged(more) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!((more.accrual.days, more.amount), (11, kzt("11.60")));
    // An overpayment is an advance; the next charge is settled from it at once.
    let given = then(
        &given,
        AgreementCommand::ReceivePayment(payment_command("P-2", date!(2026 - 02 - 21), "1000.00")),
    );
    assert_eq!(state_of(&given).advance(), Some(kzt("634.00")));
    let events = decide(
        &given,
        charge(LateChargeKind::Penalty, date!(2026 - 06 - 01)),
        &services(),
    )
    .unwrap();
    assert_eq!(
        events[1],
        AgreementEvent::AdvanceApplied(AdvanceApplied {
            invoice_number: InvoiceNumber::new(1).unwrap(),
            amount: kzt("11.60"),
            part: SettledPart::Penalty,
            on: date!(2026 - 06 - 01),
            advance_remaining: kzt("622.40"),
        })
    );
}

#[test]
fn waivers_lower_the_debt_first_then_what_may_be_charged() {
    let given = then(
        &with_invoice(),
        charge(LateChargeKind::Penalty, date!(2026 - 02 - 19)),
    );
    // 116.00 charged; as of 2026-02-24 174.00 accrued: at most 174.00 can be waived.
    let too_much = decide(
        &given,
        waive(
            LateChargeKind::Penalty,
            "174.01",
            Some(date!(2026 - 02 - 24)),
        ),
        &services(),
    )
    .unwrap_err();
    assert!(
        matches!(too_much, AgreementError::WaiverTooLarge { .. }),
        "{too_much:?}"
    );
    let zero = decide(
        &given,
        waive(LateChargeKind::Penalty, "0.00", Some(date!(2026 - 02 - 24))),
        &services(),
    )
    .unwrap_err();
    assert_eq!(zero, AgreementError::ZeroWaiver);
    let events = decide(
        &given,
        waive(
            LateChargeKind::Penalty,
            "150.00",
            Some(date!(2026 - 02 - 24)),
        ),
        &services(),
    )
    .unwrap();
    let AgreementEvent::LateChargeWaived(waived) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(
        (waived.charged_part, waived.uncharged_part),
        (kzt("116.00"), kzt("34.00"))
    );
    let given = then(
        &given,
        waive(
            LateChargeKind::Penalty,
            "150.00",
            Some(date!(2026 - 02 - 24)),
        ),
    );
    let invoice = state_of(&given)
        .invoice(InvoiceNumber::new(1).unwrap())
        .unwrap()
        .clone();
    assert_eq!(invoice.penalty_outstanding(), kzt("0.00"));
    // As of 2026-02-24: 174.00 accrued - 116.00 charged - 34.00 waived = 24.00 left.
    let events = decide(
        &given,
        charge(LateChargeKind::Penalty, date!(2026 - 02 - 24)),
        &services(),
    )
    .unwrap();
    let AgreementEvent::PenaltyCharged(rest) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(rest.amount, kzt("24.00"));
    // Without a date the waiver is dated today.
    let today = services_on(date!(2026 - 03 - 01), 2);
    let events = decide(&given, waive(LateChargeKind::Penalty, "1.00", None), &today).unwrap();
    let AgreementEvent::LateChargeWaived(dated) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(dated.on, date!(2026 - 03 - 01));
}

#[test]
fn a_signature_may_precede_registration_but_not_a_recorded_payment() {
    let given = then(
        &[registered_event(Currency::KZT, true)],
        AgreementCommand::ReceivePayment(payment_command("ADV-1", date!(2026 - 01 - 20), "100.00")),
    );
    let refused = decide(
        &given,
        AgreementCommand::Sign(SignAgreement {
            signed_on: date!(2026 - 01 - 10),
        }),
        &services(),
    )
    .unwrap_err();
    assert!(
        matches!(refused, AgreementError::Backdated { .. }),
        "{refused:?}"
    );
    let accepted = decide(
        &given,
        AgreementCommand::Sign(SignAgreement {
            signed_on: date!(2026 - 01 - 20),
        }),
        &services(),
    )
    .unwrap();
    assert_eq!(accepted.len(), 1);
}

// ---------------------------------------------------------------------------------
// The dunning sweep (§4.2, §5.9, §10.3)
// ---------------------------------------------------------------------------------

fn sweep(as_of: Date, charge_fines: bool) -> AgreementCommand {
    AgreementCommand::Sweep(SweepAgreement {
        as_of,
        charge_fines,
    })
}

fn types(events: &[AgreementEvent]) -> Vec<&'static str> {
    events.iter().map(AgreementEvent::type_name).collect()
}

#[test]
fn the_sweep_suspends_from_the_sixteenth_day_overdue() {
    // Invoice 1 is due 2026-02-09: day 15 overdue is 02-24, day 16 is 02-25.
    let given = with_invoice();
    let day_15 = decide(&given, sweep(date!(2026 - 02 - 24), false), &services()).unwrap();
    assert!(day_15.is_empty(), "{day_15:?}");
    let day_16 = decide(&given, sweep(date!(2026 - 02 - 25), false), &services()).unwrap();
    assert_eq!(
        day_16,
        vec![AgreementEvent::Suspended(Suspended {
            on: date!(2026 - 02 - 25),
            reason: RestrictionReason::Overdue,
            imposed_by: Some(ImposedBy::Sweep),
        })]
    );
    // With the policy on, the fine of 2 MRP is charged once, on the first sweep that
    // finds the invoice late.
    let with_fines = decide(&given, sweep(date!(2026 - 02 - 24), true), &services()).unwrap();
    assert_eq!(types(&with_fines), ["FineCharged"]);
    let given = then(&given, sweep(date!(2026 - 02 - 24), true));
    let again = decide(&given, sweep(date!(2026 - 02 - 24), true), &services()).unwrap();
    assert!(
        again.is_empty(),
        "a second sweep for the same date records nothing"
    );
}

#[test]
fn the_sweep_blocks_the_day_after_three_months_not_paid_in_full() {
    // Due 2026-02-09: three months after is 05-09, the block applies from 05-10.
    let given = with_invoice();
    let before = decide(&given, sweep(date!(2026 - 05 - 09), false), &services()).unwrap();
    assert_eq!(types(&before), ["Suspended"]);
    let on_the_day = decide(&given, sweep(date!(2026 - 05 - 10), false), &services()).unwrap();
    assert_eq!(
        types(&on_the_day),
        ["Suspended", "Blocked"],
        "never skips a step"
    );
    // Since 2026-12-01 a partial payment no longer keeps it from the block (§4.2: not
    // paid in full), see `block_not_paid_in_full`.
    let paid_some = then(
        &given,
        AgreementCommand::ReceivePayment(payment_command("P-1", date!(2026 - 03 - 01), "100.00")),
    );
    let partial = decide(&paid_some, sweep(date!(2026 - 05 - 10), false), &services()).unwrap();
    assert_eq!(types(&partial), ["Suspended", "Blocked"]);
}

#[test]
fn a_payment_lifts_at_once_and_the_sweep_lifts_what_the_facts_allow() {
    let given = then(&with_invoice(), sweep(date!(2026 - 05 - 10), true));
    assert_eq!(
        state_of(&given).status(),
        Some(crate::AgreementStatus::Blocked)
    );
    // Paying the principal leaves the fine: still blocked (the debt is not repaid).
    let principal = decide(
        &given,
        AgreementCommand::ReceivePayment(payment_command("P-1", date!(2026 - 05 - 11), "11600.00")),
        &services(),
    )
    .unwrap();
    assert_eq!(types(&principal), ["PaymentReceived"]);
    // Paying everything (11600.00 + 8650.00 fine) unblocks the same day.
    let everything = decide(
        &given,
        AgreementCommand::ReceivePayment(payment_command("P-1", date!(2026 - 05 - 11), "20250.00")),
        &services(),
    )
    .unwrap();
    assert_eq!(types(&everything), ["PaymentReceived", "Unblocked"]);
    // A suspension for overdue is lifted when nothing is overdue beyond 15 days.
    let suspended = then(&with_invoice(), sweep(date!(2026 - 02 - 25), false));
    let paid = decide(
        &suspended,
        AgreementCommand::ReceivePayment(payment_command("P-2", date!(2026 - 02 - 26), "11600.00")),
        &services(),
    )
    .unwrap();
    assert_eq!(types(&paid), ["PaymentReceived", "Reinstated"]);
}

#[test]
fn the_sweep_never_lifts_a_manual_restriction_and_terminates_only_when_settled() {
    let manual = then(
        &with_invoice(),
        AgreementCommand::Suspend(RestrictAccess {
            on: date!(2026 - 02 - 03),
            reason: RestrictionReason::Verification,
        }),
    );
    let swept = decide(&manual, sweep(date!(2026 - 06 - 01), false), &services()).unwrap();
    assert!(swept.is_empty(), "{swept:?}");

    let pending = then(
        &with_invoice(),
        termination(
            TerminationGround::Mutual,
            date!(2026 - 02 - 03),
            Some(date!(2026 - 02 - 05)),
        ),
    );
    let with_debt = decide(&pending, sweep(date!(2026 - 02 - 06), false), &services()).unwrap();
    assert!(
        with_debt.is_empty(),
        "debt keeps it pending (§10.3): {with_debt:?}"
    );
    let settled = then(
        &pending,
        AgreementCommand::ReceivePayment(payment_command("P-1", date!(2026 - 02 - 06), "11600.00")),
    );
    let ended = decide(&settled, sweep(date!(2026 - 02 - 06), false), &services()).unwrap();
    assert_eq!(types(&ended), ["Terminated"]);
}

// ---------------------------------------------------------------------------------
// Late payment: every figure in full, as an auditor checks it by hand (§5.9)
// ---------------------------------------------------------------------------------

/// Invoice 1 of [`with_invoice`]: 11600.00, due Monday 2026-02-09.
const DUE: Date = date!(2026 - 02 - 09);

fn number(n: u64) -> InvoiceNumber {
    InvoiceNumber::new(n).unwrap()
}

fn charge_invoice(n: u64, kind: LateChargeKind, on: Date) -> AgreementCommand {
    AgreementCommand::ChargeLatePayment(ChargeLatePayment {
        invoice_number: number(n),
        kind,
        on,
    })
}

fn waive_invoice(n: u64, kind: LateChargeKind, amount: &str, on: Option<Date>) -> AgreementCommand {
    AgreementCommand::WaiveLatePayment(WaiveLatePayment {
        invoice_number: number(n),
        kind,
        amount: Amount::parse(amount).unwrap(),
        reason: ReasonNote::parse("goodwill").unwrap(),
        on,
    })
}

fn pay(reference: &str, on: Date, amount: &str) -> AgreementCommand {
    AgreementCommand::ReceivePayment(payment_command(reference, on, amount))
}

fn invoice_one(given: &[AgreementEvent]) -> crate::InvoiceState {
    state_of(given).invoice(number(1)).unwrap().clone()
}

/// The penalty accrued on invoice 1 counted up to `to` (both days included):
/// 11600.00 x 0.001 x days, at most 11600.00 x 0.05 = 580.00.
fn accrual_on_invoice_one(
    to: Date,
    days: u32,
    amount: &str,
    capped: bool,
    paid_in_full: bool,
) -> PenaltyAccrual {
    assert_eq!(
        (to - DUE).whole_days(),
        i64::from(days),
        "days of delay counted by hand"
    );
    PenaltyAccrual {
        clause: "5.9".into(),
        invoice_number: number(1),
        base: kzt("11600.00"),
        rate_per_day: Decimal::from_str("0.001").unwrap(),
        cap_rate: Decimal::from_str("0.05").unwrap(),
        due_on: DUE,
        from: Some(date!(2026 - 02 - 10)),
        to: Some(to),
        days,
        force_majeure_days: 0,
        capped,
        cap: kzt("580.00"),
        amount: kzt(amount),
        paid_in_full,
    }
}

fn penalty_charged(on: Date, amount: &str, accrual: PenaltyAccrual) -> AgreementEvent {
    AgreementEvent::PenaltyCharged(PenaltyCharged {
        invoice_number: accrual.invoice_number,
        on,
        amount: kzt(amount),
        accrual,
        settlement: false,
    })
}

/// The fine on invoice 1: late from 2026-02-10, 2 x MRP 2026 (4,325) = 8650.00.
fn fine_on_invoice_one() -> FineAssessment {
    FineAssessment {
        clause: "5.9".into(),
        invoice_number: number(1),
        first_day_of_delay: Some(date!(2026 - 02 - 10)),
        mrp_count: 2,
        mrp: Some(Decimal::from(4325)),
        mrp_table_version: Some("kz-mrp-2026-1".to_owned()),
        exchange_rate: None,
        amount: kzt("8650.00"),
    }
}

fn fine_charged(on: Date, amount: &str, assessment: FineAssessment) -> AgreementEvent {
    AgreementEvent::FineCharged(FineCharged {
        invoice_number: assessment.invoice_number,
        on,
        amount: kzt(amount),
        assessment,
        settlement: false,
    })
}

fn waived(
    kind: LateChargeKind,
    on: Date,
    amount: &str,
    charged_part: &str,
    uncharged_part: &str,
) -> AgreementEvent {
    AgreementEvent::LateChargeWaived(LateChargeWaived {
        invoice_number: number(1),
        kind,
        on,
        amount: kzt(amount),
        charged_part: kzt(charged_part),
        uncharged_part: kzt(uncharged_part),
        reason: ReasonNote::parse("goodwill").unwrap(),
    })
}

fn nothing_to_charge(
    kind: LateChargeKind,
    on: Date,
    accrued: &str,
    charged: &str,
    waived: &str,
) -> AgreementError {
    AgreementError::NothingToCharge {
        invoice_number: number(1),
        kind,
        on,
        accrued: kzt(accrued),
        charged: kzt(charged),
        waived: kzt(waived),
    }
}

fn allocation(n: u64, principal: &str, penalty: &str, fine: &str) -> PaymentAllocation {
    PaymentAllocation {
        invoice_number: number(n),
        principal: kzt(principal),
        penalty: kzt(penalty),
        fine: kzt(fine),
    }
}

#[test]
fn a_penalty_charge_records_the_whole_accrual_explained() {
    use LateChargeKind::Penalty;
    // 15 days late (2026-02-10 .. 2026-02-24): 11600.00 x 0.001 x 15 = 174.00.
    let on = date!(2026 - 02 - 24);
    framework()
        .given(with_invoice())
        .when(charge(Penalty, on))
        .then_expect_events(vec![penalty_charged(
            on,
            "174.00",
            accrual_on_invoice_one(on, 15, "174.00", false, false),
        )]);
    let charged = &decide(&with_invoice(), charge(Penalty, on), &services()).unwrap()[0];
    assert_eq!(charged.clause(), Clause::LATE_PAYMENT);
}

#[test]
fn the_penalty_is_capped_at_five_percent_from_day_fifty() {
    use LateChargeKind::Penalty;
    let day_49 = date!(2026 - 03 - 30);
    let day_50 = date!(2026 - 03 - 31);
    // Day 49: 11600.00 x 0.001 x 49 = 568.40, under the cap.
    framework()
        .given(with_invoice())
        .when(charge(Penalty, day_49))
        .then_expect_events(vec![penalty_charged(
            day_49,
            "568.40",
            accrual_on_invoice_one(day_49, 49, "568.40", false, false),
        )]);
    // Day 50: 580.00, exactly the cap, in one charge.
    framework()
        .given(with_invoice())
        .when(charge(Penalty, day_50))
        .then_expect_events(vec![penalty_charged(
            day_50,
            "580.00",
            accrual_on_invoice_one(day_50, 50, "580.00", true, false),
        )]);
    // Day 49 charged, then day 50: 580.00 - 568.40 = 11.60 more.
    let given = then(&with_invoice(), charge(Penalty, day_49));
    framework()
        .given(given.clone())
        .when(charge(Penalty, day_50))
        .then_expect_events(vec![penalty_charged(
            day_50,
            "11.60",
            accrual_on_invoice_one(day_50, 50, "580.00", true, false),
        )]);
    // Past the cap nothing more ever accrues.
    let given = then(&given, charge(Penalty, day_50));
    let year_end = date!(2026 - 12 - 31);
    framework()
        .given(given)
        .when(charge(Penalty, year_end))
        .then_expect_error(nothing_to_charge(
            Penalty, year_end, "580.00", "580.00", "0.00",
        ));
}

#[test]
fn a_second_penalty_charge_the_same_day_is_refused_and_a_later_one_takes_the_increment() {
    use LateChargeKind::Penalty;
    let first = date!(2026 - 02 - 19);
    let given = then(&with_invoice(), charge(Penalty, first));
    framework()
        .given(given.clone())
        .when(charge(Penalty, first))
        .then_expect_error(nothing_to_charge(
            Penalty, first, "116.00", "116.00", "0.00",
        ));
    // 2026-03-01: 20 days, 232.00 accrued, of which 116.00 charged already.
    let later = date!(2026 - 03 - 01);
    framework()
        .given(given.clone())
        .when(charge(Penalty, later))
        .then_expect_events(vec![penalty_charged(
            later,
            "116.00",
            accrual_on_invoice_one(later, 20, "232.00", false, false),
        )]);
    let given = then(&given, charge(Penalty, later));
    let invoice = invoice_one(&given);
    assert_eq!(invoice.penalty_charged, kzt("232.00"));
    assert_eq!(invoice.penalty_outstanding(), kzt("232.00"));
    assert_eq!(invoice.principal_outstanding(), kzt("11600.00"));
}

#[test]
fn a_charge_is_refused_while_the_invoice_is_not_late() {
    use LateChargeKind::{Fine, Penalty};
    // On the due date itself: no day of delay yet.
    for kind in [Penalty, Fine] {
        framework()
            .given(with_invoice())
            .when(charge(kind, DUE))
            .then_expect_error(AgreementError::NotLate {
                invoice_number: number(1),
                kind,
                on: DUE,
                due_on: DUE,
            });
    }
    // Paid in full on its due date: never late, however long after.
    let paid = then(&with_invoice(), pay("P-1", DUE, "11600.00"));
    assert_eq!(invoice_one(&paid).paid_in_full_on, Some(DUE));
    let later = date!(2026 - 06 - 01);
    for kind in [Penalty, Fine] {
        framework()
            .given(paid.clone())
            .when(charge(kind, later))
            .then_expect_error(AgreementError::NotLate {
                invoice_number: number(1),
                kind,
                on: later,
                due_on: DUE,
            });
    }
    // Settled on issue by an advance: never late either.
    let given = then(
        &[registered_event(Currency::KZT, true), signed_event()],
        pay("ADV-1", date!(2026 - 01 - 20), "20000.00"),
    );
    let given = then(
        &given,
        AgreementCommand::IssueInvoice(invoice_command(
            InvoiceKind::Subscription,
            date!(2026 - 02 - 02),
            "10000.00",
        )),
    );
    assert_eq!(
        invoice_one(&given).paid_in_full_on,
        Some(date!(2026 - 02 - 02))
    );
    let error = decide(&given, charge(Penalty, later), &services()).unwrap_err();
    assert!(matches!(error, AgreementError::NotLate { .. }), "{error:?}");
    assert_eq!(error.kind(), ErrorKind::RuleViolation);
    assert_eq!(error.clause(), Some(Clause::LATE_PAYMENT));
}

#[test]
fn a_charge_is_refused_on_an_unknown_invoice_before_signing_after_termination_and_out_of_order() {
    use LateChargeKind::Penalty;
    let on = date!(2026 - 03 - 02);
    framework()
        .given(with_invoice())
        .when(charge_invoice(9, Penalty, on))
        .then_expect_error(AgreementError::UnknownInvoice(number(9)));
    // Nothing can be charged before signing (§1.5), whatever the invoice.
    framework()
        .given(vec![registered_event(Currency::KZT, true)])
        .when(charge(Penalty, on))
        .then_expect_error(AgreementError::NotSigned { action: "charged" });
    // Nor after termination (§10.3).
    let mut terminated = with_invoice();
    terminated.push(AgreementEvent::TerminationRequested(TerminationRequested {
        ground: TerminationGround::Mutual,
        notice_received_on: date!(2026 - 03 - 01),
        effective_on: date!(2026 - 03 - 01),
        settlement_due_on: None,
    }));
    terminated.push(AgreementEvent::Terminated(Terminated {
        on: date!(2026 - 03 - 01),
    }));
    framework()
        .given(terminated)
        .when(charge(Penalty, on))
        .then_expect_error(AgreementError::AlreadyTerminated {
            terminated_on: date!(2026 - 03 - 01),
            action: "charged",
        });
    // Backdated: a payment was recorded on 2026-02-20.
    framework()
        .given(then(
            &with_invoice(),
            pay("P-1", date!(2026 - 02 - 20), "100.00"),
        ))
        .when(charge(Penalty, date!(2026 - 02 - 19)))
        .then_expect_error(AgreementError::Backdated {
            what: "the charge date",
            date: date!(2026 - 02 - 19),
            latest: date!(2026 - 02 - 20),
        });
    // In the future.
    Framework::with(services_on(date!(2026 - 03 - 01), 2))
        .given(with_invoice())
        .when(charge(Penalty, on))
        .then_expect_error(AgreementError::InTheFuture {
            what: "the charge date",
            date: on,
            today: date!(2026 - 03 - 01),
        });
    // Before the registration.
    framework()
        .given(with_invoice())
        .when(charge(Penalty, date!(2025 - 12 - 31)))
        .then_expect_error(AgreementError::BeforeRegistration {
            what: "the charge date",
            date: date!(2025 - 12 - 31),
            registered_on: date!(2026 - 01 - 05),
        });
}

#[test]
fn the_fine_is_two_mrp_of_2026_charged_once() {
    use LateChargeKind::Fine;
    let on = date!(2026 - 03 - 02);
    framework()
        .given(with_invoice())
        .when(charge(Fine, on))
        .then_expect_events(vec![fine_charged(on, "8650.00", fine_on_invoice_one())]);
    let given = then(&with_invoice(), charge(Fine, on));
    assert_eq!(invoice_one(&given).fine_outstanding(), kzt("8650.00"));
    // Once per late invoice: it does not grow with time.
    let year_end = date!(2026 - 12 - 31);
    framework()
        .given(given.clone())
        .when(charge(Fine, year_end))
        .then_expect_error(nothing_to_charge(
            Fine, year_end, "8650.00", "8650.00", "0.00",
        ));
    // Nor does paying it (11600.00 + 8650.00) make room for another.
    let given = then(&given, pay("P-1", date!(2026 - 03 - 03), "20250.00"));
    let invoice = invoice_one(&given);
    assert_eq!(
        (invoice.fine_paid, invoice.fine_outstanding()),
        (kzt("8650.00"), kzt("0.00"))
    );
    framework()
        .given(given)
        .when(charge(Fine, year_end))
        .then_expect_error(nothing_to_charge(
            Fine, year_end, "8650.00", "8650.00", "0.00",
        ));
}

#[test]
fn an_invoice_paid_one_day_late_owes_the_whole_fine_and_one_day_of_penalty() {
    use LateChargeKind::{Fine, Penalty};
    let given = then(
        &with_invoice(),
        pay("P-1", date!(2026 - 02 - 10), "11600.00"),
    );
    let on = date!(2026 - 06 - 01);
    framework()
        .given(given.clone())
        .when(charge(Fine, on))
        .then_expect_events(vec![fine_charged(on, "8650.00", fine_on_invoice_one())]);
    framework()
        .given(given)
        .when(charge(Penalty, on))
        .then_expect_events(vec![penalty_charged(
            on,
            "11.60",
            accrual_on_invoice_one(date!(2026 - 02 - 10), 1, "11.60", false, true),
        )]);
}

#[test]
fn a_delay_from_new_years_eve_takes_the_mrp_of_2025() {
    use LateChargeKind::{Fine, Penalty};
    let mut given = vec![registered_event(Currency::KZT, true), signed_event()];
    if let AgreementEvent::Registered(r) = &mut given[0] {
        r.registered_on = date!(2025 - 12 - 01);
    }
    given[1] = AgreementEvent::AgreementSigned(AgreementSigned {
        signed_on: date!(2025 - 12 - 01),
        concluded_on: date!(2025 - 12 - 01),
        in_force_from: date!(2025 - 12 - 01),
    });
    // Tuesday 2025-12-23, 1000.00 + 12% = 1120.00; 5 banking days: Dec 24, 25, 26, 29, 30.
    let given = then(
        &given,
        AgreementCommand::IssueInvoice(invoice_command(
            InvoiceKind::Subscription,
            date!(2025 - 12 - 23),
            "1000.00",
        )),
    );
    let invoice = invoice_one(&given);
    assert_eq!(
        (invoice.total, invoice.due_on),
        (kzt("1120.00"), date!(2025 - 12 - 30))
    );
    let on = date!(2026 - 01 - 10);
    // First day of delay 2025-12-31: 2 x 3,932 = 7864.00.
    framework()
        .given(given.clone())
        .when(charge(Fine, on))
        .then_expect_events(vec![fine_charged(
            on,
            "7864.00",
            FineAssessment {
                clause: "5.9".into(),
                invoice_number: number(1),
                first_day_of_delay: Some(date!(2025 - 12 - 31)),
                mrp_count: 2,
                mrp: Some(Decimal::from(3932)),
                mrp_table_version: Some("kz-mrp-2026-1".to_owned()),
                exchange_rate: None,
                amount: kzt("7864.00"),
            },
        )]);
    // 11 days (2025-12-31 .. 2026-01-10): 1120.00 x 0.011 = 12.32.
    let events = decide(&given, charge(Penalty, on), &services()).unwrap();
    let [AgreementEvent::PenaltyCharged(charged)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(
        (charged.accrual.days, charged.amount, charged.accrual.cap),
        (11, kzt("12.32"), kzt("56.00"))
    );
}

#[test]
fn a_usd_agreement_is_charged_in_usd_and_its_fine_converted_at_the_national_bank_rate() {
    use LateChargeKind::{Fine, Penalty};
    let given = then(
        &[registered_event(Currency::USD, false), signed_event()],
        AgreementCommand::IssueInvoice(invoice_command(
            InvoiceKind::Subscription,
            date!(2026 - 02 - 02),
            "250.00",
        )),
    );
    assert_eq!(invoice_one(&given).total, usd("290.00"));
    let on = date!(2026 - 02 - 19);
    // 290.00 x 0.001 x 10 = 2.90 USD.
    let events = decide(&given, charge(Penalty, on), &services()).unwrap();
    let [AgreementEvent::PenaltyCharged(penalty)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(
        (penalty.amount, penalty.accrual.cap),
        (usd("2.90"), usd("14.50"))
    );
    // 8650 KZT at 503.15 (the rate of 2026-02-02, the latest on or before the first day
    // of delay 2026-02-10) = 17.1917... -> 17.19 USD.
    let events = decide(&given, charge(Fine, on), &services()).unwrap();
    let [AgreementEvent::FineCharged(fine)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(fine.amount, usd("17.19"));
    assert_eq!(fine.assessment.amount, usd("17.19"));
    assert_eq!(
        fine.assessment.exchange_rate,
        Some(FineExchangeRate {
            kzt_per_usd: Decimal::from_str("503.15").unwrap(),
            date: date!(2026 - 02 - 02),
            source: "exchange_rates".into(),
        })
    );
}

#[test]
fn an_advance_held_settles_a_charge_at_once() {
    use LateChargeKind::{Fine, Penalty};
    // 20000.00 on 2026-02-20: 11600.00 principal (paid in full that day), 8400.00 advance.
    let paid = date!(2026 - 02 - 20);
    let given = then(&with_invoice(), pay("P-1", paid, "20000.00"));
    assert_eq!(state_of(&given).advance(), Some(kzt("8400.00")));
    // The fine (8650.00) takes the whole advance and leaves 250.00 owed.
    framework()
        .given(given.clone())
        .when(charge(Fine, paid))
        .then_expect_events(vec![
            fine_charged(paid, "8650.00", fine_on_invoice_one()),
            AgreementEvent::AdvanceApplied(AdvanceApplied {
                invoice_number: number(1),
                amount: kzt("8400.00"),
                part: SettledPart::Fine,
                on: paid,
                advance_remaining: kzt("0.00"),
            }),
        ]);
    let given = then(&given, charge(Fine, paid));
    let invoice = invoice_one(&given);
    assert_eq!(
        (
            invoice.fine_charged,
            invoice.fine_paid,
            invoice.fine_outstanding()
        ),
        (kzt("8650.00"), kzt("8400.00"), kzt("250.00"))
    );
    assert_eq!(
        invoice.principal_paid,
        kzt("11600.00"),
        "principal untouched"
    );
    assert_eq!(state_of(&given).advance(), Some(kzt("0.00")));
    // No advance left: the penalty (11 days up to the payment, 127.60) stays owed.
    let on = date!(2026 - 02 - 25);
    let accrual = accrual_on_invoice_one(paid, 11, "127.60", false, true);
    framework()
        .given(given)
        .when(charge(Penalty, on))
        .then_expect_events(vec![penalty_charged(on, "127.60", accrual.clone())]);
    // An advance larger than the charge settles it in full and keeps the rest.
    let given = then(&with_invoice(), pay("P-1", paid, "12000.00"));
    framework()
        .given(given.clone())
        .when(charge(Penalty, on))
        .then_expect_events(vec![
            penalty_charged(on, "127.60", accrual),
            AgreementEvent::AdvanceApplied(AdvanceApplied {
                invoice_number: number(1),
                amount: kzt("127.60"),
                part: SettledPart::Penalty,
                on,
                advance_remaining: kzt("272.40"),
            }),
        ]);
    let given = then(&given, charge(Penalty, on));
    let invoice = invoice_one(&given);
    assert_eq!(
        (invoice.penalty_paid, invoice.penalty_outstanding()),
        (kzt("127.60"), kzt("0.00"))
    );
    assert_eq!(state_of(&given).advance(), Some(kzt("272.40")));
}

#[test]
fn a_payment_after_charges_settles_principal_then_penalty_then_fine() {
    use LateChargeKind::{Fine, Penalty};
    let given = then(&with_invoice(), charge(Penalty, date!(2026 - 02 - 19)));
    let given = then(&given, charge(Fine, date!(2026 - 02 - 19)));
    // Owed: 11600.00 principal, 116.00 penalty, 8650.00 fine.
    // 5000.00: all principal while principal is owed.
    let first = pay("P-1", date!(2026 - 02 - 20), "5000.00");
    let payment = payment_event(decide(&given, first.clone(), &services()).unwrap());
    assert_eq!(
        payment.allocations,
        vec![allocation(1, "5000.00", "0.00", "0.00")]
    );
    let given = then(&given, first);
    // 6700.00: the last 6600.00 of principal, then 100.00 of the penalty.
    let second = pay("P-2", date!(2026 - 02 - 21), "6700.00");
    let payment = payment_event(decide(&given, second.clone(), &services()).unwrap());
    assert_eq!(
        (payment.allocations, payment.advance),
        (
            vec![allocation(1, "6600.00", "100.00", "0.00")],
            kzt("0.00")
        )
    );
    let given = then(&given, second);
    let invoice = invoice_one(&given);
    assert_eq!(invoice.paid_in_full_on, Some(date!(2026 - 02 - 21)));
    assert_eq!(
        (invoice.penalty_outstanding(), invoice.fine_outstanding()),
        (kzt("16.00"), kzt("8650.00"))
    );
    // 9000.00: the last 16.00 of penalty, the 8650.00 fine, 334.00 left as an advance.
    let third = pay("P-3", date!(2026 - 02 - 22), "9000.00");
    let payment = payment_event(decide(&given, third.clone(), &services()).unwrap());
    assert_eq!(
        (payment.allocations, payment.advance),
        (
            vec![allocation(1, "0.00", "16.00", "8650.00")],
            kzt("334.00")
        )
    );
    let given = then(&given, third);
    let invoice = invoice_one(&given);
    assert_eq!(
        (invoice.penalty_outstanding(), invoice.fine_outstanding()),
        (kzt("0.00"), kzt("0.00"))
    );
    assert_eq!(state_of(&given).advance(), Some(kzt("334.00")));
}

#[test]
fn all_principal_is_settled_before_any_penalty_across_invoices() {
    use LateChargeKind::Penalty;
    // Invoice 2: 100.00 + 16% = 116.00 on credit, issued Tuesday 2026-02-03, due Friday
    // 2026-02-06 (3 working days, §5.8).
    let mut given = with_invoice();
    given.extend(
        decide(
            &given,
            AgreementCommand::IssueInvoice(invoice_command(
                InvoiceKind::Credit,
                date!(2026 - 02 - 03),
                "100.00",
            )),
            &services_on(date!(2026 - 12 - 31), 2),
        )
        .unwrap(),
    );
    let on = date!(2026 - 02 - 19);
    // Invoice 2, 13 days late: 116.00 x 0.013 = 1.508 -> 1.51.
    let events = decide(&given, charge_invoice(2, Penalty, on), &services()).unwrap();
    let [AgreementEvent::PenaltyCharged(charged)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!((charged.accrual.days, charged.amount), (13, kzt("1.51")));
    let given = then(&given, charge_invoice(2, Penalty, on));
    let given = then(&given, charge(Penalty, on));
    // 11800.00: principal of 1 (the oldest), principal of 2, then 84.00 of 1's penalty.
    let payment = payment_event(
        decide(
            &given,
            pay("P-1", date!(2026 - 02 - 20), "11800.00"),
            &services(),
        )
        .unwrap(),
    );
    assert_eq!(
        payment.allocations,
        vec![
            allocation(1, "11600.00", "84.00", "0.00"),
            allocation(2, "116.00", "0.00", "0.00"),
        ]
    );
}

#[test]
fn penalty_accrual_stops_the_day_the_invoice_is_paid_in_full() {
    use LateChargeKind::Penalty;
    // 5000.00 three days late, the remaining 6600.00 twelve days late (2026-02-21).
    let given = then(
        &with_invoice(),
        pay("P-1", date!(2026 - 02 - 12), "5000.00"),
    );
    assert_eq!(invoice_one(&given).paid_in_full_on, None);
    let given = then(&given, pay("P-2", date!(2026 - 02 - 21), "6600.00"));
    assert_eq!(
        invoice_one(&given).paid_in_full_on,
        Some(date!(2026 - 02 - 21))
    );
    // Charged months later: 12 days on the whole total (the base stays the total).
    let on = date!(2026 - 06 - 01);
    framework()
        .given(given.clone())
        .when(charge(Penalty, on))
        .then_expect_events(vec![penalty_charged(
            on,
            "139.20",
            accrual_on_invoice_one(date!(2026 - 02 - 21), 12, "139.20", false, true),
        )]);
    let given = then(&given, charge(Penalty, on));
    assert_eq!(invoice_one(&given).penalty_outstanding(), kzt("139.20"));
    // Paid, it is cleared, and nothing more accrues however late the next charge.
    let given = then(&given, pay("P-3", date!(2026 - 06 - 02), "139.20"));
    let invoice = invoice_one(&given);
    assert_eq!(
        (invoice.penalty_paid, invoice.penalty_outstanding()),
        (kzt("139.20"), kzt("0.00"))
    );
    let year_end = date!(2026 - 12 - 31);
    framework()
        .given(given)
        .when(charge(Penalty, year_end))
        .then_expect_error(nothing_to_charge(
            Penalty, year_end, "139.20", "139.20", "0.00",
        ));
}

#[test]
fn a_waiver_beyond_what_is_waivable_or_of_zero_is_refused() {
    use LateChargeKind::{Fine, Penalty};
    let given = then(&with_invoice(), charge(Penalty, date!(2026 - 02 - 19)));
    // As of 2026-02-24: 116.00 charged and owed + 58.00 accrued since = 174.00.
    let on = date!(2026 - 02 - 24);
    framework()
        .given(given.clone())
        .when(waive(Penalty, "174.01", Some(on)))
        .then_expect_error(AgreementError::WaiverTooLarge {
            invoice_number: number(1),
            kind: Penalty,
            on,
            requested: kzt("174.01"),
            waivable: kzt("174.00"),
        });
    framework()
        .given(given.clone())
        .when(waive(Penalty, "174.00", Some(on)))
        .then_expect_events(vec![waived(Penalty, on, "174.00", "116.00", "58.00")]);
    framework()
        .given(given.clone())
        .when(waive(Penalty, "0.00", Some(on)))
        .then_expect_error(AgreementError::ZeroWaiver);
    // What was paid can no longer be waived: principal and 100.00 of the penalty paid on
    // 2026-02-20 leave 16.00 owed, and accrual stopped that day (127.60 - 116.00 = 11.60).
    let paid = then(&given, pay("P-1", date!(2026 - 02 - 20), "11700.00"));
    framework()
        .given(paid)
        .when(waive(Penalty, "27.61", Some(on)))
        .then_expect_error(AgreementError::WaiverTooLarge {
            invoice_number: number(1),
            kind: Penalty,
            on,
            requested: kzt("27.61"),
            waivable: kzt("27.60"),
        });
    // Nothing late, nothing to waive.
    framework()
        .given(with_invoice())
        .when(waive(Fine, "1.00", Some(DUE)))
        .then_expect_error(AgreementError::WaiverTooLarge {
            invoice_number: number(1),
            kind: Fine,
            on: DUE,
            requested: kzt("1.00"),
            waivable: kzt("0.00"),
        });
}

#[test]
fn waiving_a_charged_penalty_lowers_the_debt() {
    use LateChargeKind::Penalty;
    let on = date!(2026 - 02 - 19);
    let given = then(&with_invoice(), charge(Penalty, on));
    framework()
        .given(given.clone())
        .when(waive(Penalty, "16.00", Some(on)))
        .then_expect_events(vec![waived(Penalty, on, "16.00", "16.00", "0.00")]);
    let given = then(&given, waive(Penalty, "16.00", Some(on)));
    let invoice = invoice_one(&given);
    assert_eq!(
        (
            invoice.penalty_waived_charged,
            invoice.penalty_waived_uncharged,
            invoice.penalty_outstanding()
        ),
        (kzt("16.00"), kzt("0.00"), kzt("100.00"))
    );
    // Waiving what was charged does not make it chargeable again.
    framework()
        .given(given.clone())
        .when(charge(Penalty, on))
        .then_expect_error(nothing_to_charge(Penalty, on, "116.00", "116.00", "0.00"));
    // A payment now settles the principal, then only the 100.00 still owed.
    let payment = payment_event(
        decide(
            &given,
            pay("P-1", date!(2026 - 02 - 20), "11750.00"),
            &services(),
        )
        .unwrap(),
    );
    assert_eq!(
        (payment.allocations, payment.advance),
        (
            vec![allocation(1, "11600.00", "100.00", "0.00")],
            kzt("50.00")
        )
    );
}

#[test]
fn waiving_before_charging_lowers_what_a_later_charge_takes() {
    use LateChargeKind::{Fine, Penalty};
    let on = date!(2026 - 02 - 19);
    // Nothing charged yet: 50.00 of the 116.00 accrued is waived.
    framework()
        .given(with_invoice())
        .when(waive(Penalty, "50.00", Some(on)))
        .then_expect_events(vec![waived(Penalty, on, "50.00", "0.00", "50.00")]);
    let given = then(&with_invoice(), waive(Penalty, "50.00", Some(on)));
    let invoice = invoice_one(&given);
    assert_eq!(
        (
            invoice.penalty_waived_uncharged,
            invoice.penalty_outstanding()
        ),
        (kzt("50.00"), kzt("0.00"))
    );
    // The same day: 116.00 - 50.00 = 66.00.
    framework()
        .given(given.clone())
        .when(charge(Penalty, on))
        .then_expect_events(vec![penalty_charged(
            on,
            "66.00",
            accrual_on_invoice_one(on, 10, "116.00", false, false),
        )]);
    // A day later: 127.60 accrued - 66.00 charged - 50.00 waived = 11.60.
    let given = then(&given, charge(Penalty, on));
    let next = date!(2026 - 02 - 20);
    framework()
        .given(given)
        .when(charge(Penalty, next))
        .then_expect_events(vec![penalty_charged(
            next,
            "11.60",
            accrual_on_invoice_one(next, 11, "127.60", false, false),
        )]);
    // The fine waived in part before it is charged: the rest is charged.
    let given = then(&with_invoice(), waive(Fine, "650.00", Some(on)));
    let events = decide(&given, charge(Fine, on), &services()).unwrap();
    let [AgreementEvent::FineCharged(fine)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(
        (fine.amount, fine.assessment.amount),
        (kzt("8000.00"), kzt("8650.00"))
    );
    // Waived in full: nothing is left to charge.
    let given = then(&with_invoice(), waive(Fine, "8650.00", Some(on)));
    framework()
        .given(given)
        .when(charge(Fine, next))
        .then_expect_error(nothing_to_charge(Fine, next, "8650.00", "0.00", "8650.00"));
}

#[test]
fn a_fine_partly_settled_by_an_advance_can_be_waived_only_for_what_is_owed() {
    use LateChargeKind::Fine;
    let on = date!(2026 - 02 - 20);
    // 8650.00 charged, 8400.00 of it settled from the advance: 250.00 owed.
    let given = then(&with_invoice(), pay("P-1", on, "20000.00"));
    let given = then(&given, charge(Fine, on));
    framework()
        .given(given.clone())
        .when(waive(Fine, "250.01", Some(on)))
        .then_expect_error(AgreementError::WaiverTooLarge {
            invoice_number: number(1),
            kind: Fine,
            on,
            requested: kzt("250.01"),
            waivable: kzt("250.00"),
        });
    let given = then(&given, waive(Fine, "250.00", Some(on)));
    let invoice = invoice_one(&given);
    assert_eq!(
        (invoice.fine_waived_charged, invoice.fine_outstanding()),
        (kzt("250.00"), kzt("0.00"))
    );
}

#[test]
fn an_undated_waiver_is_dated_today() {
    use LateChargeKind::Penalty;
    let given = then(&with_invoice(), charge(Penalty, date!(2026 - 02 - 19)));
    let today = date!(2026 - 03 - 01);
    Framework::with(services_on(today, 2))
        .given(given.clone())
        .when(waive(Penalty, "10.00", None))
        .then_expect_events(vec![waived(Penalty, today, "10.00", "10.00", "0.00")]);
    // What may be waived is then counted as of today: 116.00 owed + 116.00 accrued since.
    Framework::with(services_on(today, 2))
        .given(given.clone())
        .when(waive(Penalty, "232.01", None))
        .then_expect_error(AgreementError::WaiverTooLarge {
            invoice_number: number(1),
            kind: Penalty,
            on: today,
            requested: kzt("232.01"),
            waivable: kzt("232.00"),
        });
    // A named date after today is refused.
    Framework::with(services_on(today, 2))
        .given(given)
        .when(waive(Penalty, "10.00", Some(date!(2026 - 03 - 02))))
        .then_expect_error(AgreementError::InTheFuture {
            what: "the waiver date",
            date: date!(2026 - 03 - 02),
            today,
        });
}

#[test]
fn a_waiver_is_refused_on_an_unknown_invoice_before_signing_after_termination_and_out_of_order() {
    use LateChargeKind::Penalty;
    let on = date!(2026 - 03 - 02);
    framework()
        .given(with_invoice())
        .when(waive_invoice(9, Penalty, "1.00", Some(on)))
        .then_expect_error(AgreementError::UnknownInvoice(number(9)));
    framework()
        .given(vec![registered_event(Currency::KZT, true)])
        .when(waive(Penalty, "1.00", Some(on)))
        .then_expect_error(AgreementError::NotSigned { action: "waived" });
    framework()
        .given_no_previous_events()
        .when(waive(Penalty, "1.00", Some(on)))
        .then_expect_error(AgreementError::NotRegistered);
    let mut terminated = with_invoice();
    terminated.push(AgreementEvent::Terminated(Terminated {
        on: date!(2026 - 03 - 01),
    }));
    framework()
        .given(terminated)
        .when(waive(Penalty, "1.00", Some(on)))
        .then_expect_error(AgreementError::AlreadyTerminated {
            terminated_on: date!(2026 - 03 - 01),
            action: "waived",
        });
    framework()
        .given(then(
            &with_invoice(),
            pay("P-1", date!(2026 - 02 - 20), "100.00"),
        ))
        .when(waive(Penalty, "1.00", Some(date!(2026 - 02 - 19))))
        .then_expect_error(AgreementError::Backdated {
            what: "the waiver date",
            date: date!(2026 - 02 - 19),
            latest: date!(2026 - 02 - 20),
        });
}

// ---------------------------------------------------------------------------------
// Force majeure (§8)
// ---------------------------------------------------------------------------------

fn declare(started_on: Date, notice: Date) -> AgreementCommand {
    AgreementCommand::DeclareForceMajeure(DeclareForceMajeure {
        started_on,
        notice_received_on: notice,
        description: ReasonNote::parse("flood at the data centre").unwrap(),
    })
}

fn end(ended_on: Date) -> AgreementCommand {
    AgreementCommand::EndForceMajeure(EndForceMajeure { ended_on })
}

#[test]
fn force_majeure_is_notified_within_five_days() {
    let given = with_invoice();
    let day_5 = decide(
        &given,
        declare(date!(2026 - 03 - 02), date!(2026 - 03 - 07)),
        &services(),
    );
    assert_eq!(types(&day_5.unwrap()), ["ForceMajeureDeclared"]);
    let day_6 = decide(
        &given,
        declare(date!(2026 - 03 - 02), date!(2026 - 03 - 08)),
        &services(),
    )
    .unwrap_err();
    assert!(
        matches!(day_6, AgreementError::ForceMajeureNoticeLate { .. }),
        "{day_6:?}"
    );
    assert_eq!(day_6.clause().unwrap().as_str(), "8.2");
    let given = then(
        &given,
        declare(date!(2026 - 03 - 02), date!(2026 - 03 - 07)),
    );
    let twice = decide(
        &given,
        declare(date!(2026 - 03 - 08), date!(2026 - 03 - 09)),
        &services(),
    )
    .unwrap_err();
    assert!(matches!(
        twice,
        AgreementError::ForceMajeureInProgress { .. }
    ));
}

#[test]
fn the_end_of_force_majeure_extends_overlapping_subscription_periods() {
    let mut given = vec![registered_event(Currency::KZT, true), signed_event()];
    let mut command = invoice_command(InvoiceKind::Subscription, date!(2026 - 02 - 27), "5000.00");
    command.period = Some(ServicePeriod {
        from: date!(2026 - 03 - 01),
        to: date!(2026 - 03 - 31),
    });
    given = then(&given, AgreementCommand::IssueInvoice(command));
    given = then(
        &given,
        declare(date!(2026 - 03 - 10), date!(2026 - 03 - 12)),
    );
    // 2026-03-10 to 2026-03-19, both included: 10 days.
    let events = decide(&given, end(date!(2026 - 03 - 19)), &services()).unwrap();
    assert_eq!(
        types(&events),
        ["ForceMajeureEnded", "SubscriptionExtended"]
    );
    let AgreementEvent::SubscriptionExtended(extended) = &events[1] else {
        unreachable!()
    };
    assert_eq!(extended.days, 10);
    assert_eq!(extended.period_to, date!(2026 - 04 - 10));
    assert_eq!(events[1].clause().as_str(), "8.3");
}

#[test]
fn termination_for_force_majeure_needs_more_than_ninety_days_and_a_named_date() {
    let given = then(
        &with_invoice(),
        declare(date!(2026 - 03 - 02), date!(2026 - 03 - 03)),
    );
    // Day 90 (2026-05-30) is not enough; day 91 (2026-05-31) is.
    let day_90 = decide(
        &given,
        termination(
            TerminationGround::ForceMajeure,
            date!(2026 - 05 - 30),
            Some(date!(2026 - 06 - 30)),
        ),
        &services(),
    )
    .unwrap_err();
    assert_eq!(day_90, AgreementError::NoLongForceMajeure);
    let unnamed = decide(
        &given,
        termination(TerminationGround::ForceMajeure, date!(2026 - 05 - 31), None),
        &services(),
    )
    .unwrap_err();
    assert_eq!(unnamed, AgreementError::EffectiveDateRequired);
    let events = decide(
        &given,
        termination(
            TerminationGround::ForceMajeure,
            date!(2026 - 05 - 31),
            Some(date!(2026 - 06 - 30)),
        ),
        &services(),
    )
    .unwrap();
    let AgreementEvent::TerminationRequested(requested) = &events[0] else {
        unreachable!()
    };
    assert_eq!(requested.effective_on, date!(2026 - 06 - 30));
    // 5 working days before Tuesday 2026-06-30: Tuesday 2026-06-23.
    assert_eq!(requested.settlement_due_on, Some(date!(2026 - 06 - 23)));
}

// The rules changed on 2026-12-01 (DOMAIN.md, "Changed on 2026-12-01", items 1-4).
mod block_not_paid_in_full;
mod force_majeure_exemption;
mod manual_overdue_suspension;
mod termination_settlement;

/// BILLING.md 1 (issue 13 review): a fine once charged keeps the MRP version its charge
/// names; an MRP published later for the same year never charges it again nor changes
/// what may be waived.
#[test]
fn a_charged_fine_is_never_repriced_by_a_later_mrp_version() {
    use LateChargeKind::Fine;
    let on = date!(2026 - 02 - 20);
    let given = then(&with_invoice(), charge(Fine, on));
    let mut republished = (*reference()).clone();
    republished
        .apply(&events::ReferenceVersionPublished {
            version: "kz-mrp-2026-2".into(),
            source: "a corrected budget law".into(),
            content: events::ReferenceContent::Mrp {
                year: 2026,
                mrp: Decimal::from(5000),
            },
        })
        .unwrap();
    let later = AgreementServices {
        reference: Arc::new(republished),
        ..services()
    };
    let error = decide(&given, charge(Fine, date!(2026 - 02 - 21)), &later).unwrap_err();
    assert!(
        matches!(error, AgreementError::NothingToCharge { .. }),
        "{error:?}"
    );
    let too_much = decide(&given, waive(Fine, "8650.01", None), &later).unwrap_err();
    assert!(
        matches!(too_much, AgreementError::WaiverTooLarge { .. }),
        "{too_much:?}"
    );
}
