//! Force majeure declared and ended (§8.2, §8.3).

use crate::fixture::*;

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
