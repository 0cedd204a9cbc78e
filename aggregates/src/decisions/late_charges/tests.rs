//! Penalties and fines charged and waived (§5.9). The figures in full, as an auditor
//! checks them by hand, are in `charges` and `waivers`, which share the helpers at the
//! end of this file.

use crate::fixture::*;

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
        tariffs: Default::default(),
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

// ---------------------------------------------------------------------------------
// Late payment: every figure in full, as an auditor checks it by hand (§5.9)
// ---------------------------------------------------------------------------------

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

mod charges;
mod waivers;
