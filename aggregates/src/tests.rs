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
fn a_due_date_in_a_year_without_a_calendar_is_refused() {
    let given = vec![registered_event(Currency::KZT, true), signed_event()];
    let error = decide(
        &given,
        AgreementCommand::IssueInvoice(invoice_command(
            InvoiceKind::Subscription,
            date!(2026 - 12 - 30),
            "100.00",
        )),
        &services(),
    )
    .unwrap_err();
    assert_eq!(
        error,
        AgreementError::MissingReferenceData(crate::reference::ReferenceError::NoCalendarForYear(
            2027
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
                "InvoiceIssued",
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
fn the_sweep_blocks_the_day_after_three_months_with_nothing_paid() {
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
    // Anything paid on the invoice keeps it from the block (suspended only).
    let paid_some = then(
        &given,
        AgreementCommand::ReceivePayment(payment_command("P-1", date!(2026 - 03 - 01), "100.00")),
    );
    let partial = decide(&paid_some, sweep(date!(2026 - 05 - 10), false), &services()).unwrap();
    assert_eq!(types(&partial), ["Suspended"]);
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
