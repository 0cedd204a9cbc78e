//! Subscriptions (BILLING.md 2): start, change from a month's first day, end on a month's
//! last day, end by termination; bad input refused with nothing recorded.

use std::collections::BTreeMap;

use crate::fixture::*;
use crate::tariffs::{TariffCatalog, TariffVersionRequest};

const TODAY: Date = date!(2026 - 12 - 02);

fn prices(kzt: &str, usd: &str) -> Prices {
    Prices {
        kzt: Amount::parse(kzt).unwrap(),
        usd: Amount::parse(usd).unwrap(),
    }
}

fn code(text: &str) -> TariffCode {
    TariffCode::parse(text).unwrap()
}

/// `standard` from 2026-01-01 (published long ago) and `business` from 2027-01-01.
fn catalog() -> Arc<TariffCatalog> {
    let mut catalog = TariffCatalog::default();
    for (tariff, from, fee) in [
        ("standard", date!(2026 - 01 - 01), "5000.00"),
        ("business", date!(2027 - 01 - 01), "15000.00"),
    ] {
        let request = TariffVersionRequest {
            name: TariffName::parse(tariff).unwrap(),
            effective_from: from,
            fees: prices(fee, "10.00"),
            included: BTreeMap::new(),
            overage: BTreeMap::new(),
        };
        let version = catalog
            .publish(code(tariff), request, from.previous_day().unwrap())
            .unwrap();
        catalog.apply(version);
    }
    Arc::new(catalog)
}

fn services_today() -> AgreementServices {
    AgreementServices {
        tariffs: catalog(),
        ..services_on(TODAY, 1)
    }
}

fn subscribe(tariff: &str, from: Date) -> AgreementCommand {
    AgreementCommand::Subscribe(Subscribe {
        tariff: code(tariff),
        from,
    })
}

fn end(on: Date) -> AgreementCommand {
    AgreementCommand::EndSubscription(EndSubscription { on })
}

fn signed() -> Vec<AgreementEvent> {
    vec![registered_event(Currency::KZT, true), signed_event()]
}

fn after(given: &[AgreementEvent], command: AgreementCommand) -> Vec<AgreementEvent> {
    let mut events = given.to_vec();
    events.extend(decide(given, command, &services_today()).unwrap());
    events
}

fn refused(given: &[AgreementEvent], command: AgreementCommand) -> AgreementError {
    decide(given, command, &services_today()).unwrap_err()
}

#[test]
fn a_start_counts_from_its_day() {
    let events = decide(
        &signed(),
        subscribe("standard", date!(2026 - 12 - 15)),
        &services_today(),
    )
    .unwrap();
    assert_eq!(
        events,
        vec![AgreementEvent::SubscriptionStarted(SubscriptionStarted {
            tariff: code("standard"),
            from: date!(2026 - 12 - 15),
            on: TODAY,
        })]
    );
    assert_eq!(events[0].clause(), Clause::SUBSCRIPTION);
}

#[test]
fn a_change_takes_effect_on_the_first_day_of_the_next_month() {
    let subscribed = after(&signed(), subscribe("standard", date!(2026 - 06 - 01)));
    let changed = decide(
        &subscribed,
        subscribe("business", date!(2026 - 12 - 10)),
        &services_today(),
    )
    .unwrap();
    assert_eq!(
        changed,
        vec![AgreementEvent::SubscriptionChanged(SubscriptionChanged {
            tariff: code("business"),
            previous: code("standard"),
            from: date!(2027 - 01 - 01),
            on: TODAY,
        })]
    );
    let state = state_of(&[subscribed.clone(), changed].concat());
    let spans = &state.subscription().spans;
    assert_eq!(spans.len(), 2);
    assert_eq!(spans[0].last_day, Some(date!(2026 - 12 - 31)));
    assert_eq!(
        state
            .subscription()
            .on(date!(2027 - 01 - 01))
            .unwrap()
            .tariff,
        code("business")
    );
    // The same tariff again records nothing.
    assert!(decide(
        &subscribed,
        subscribe("standard", date!(2026 - 12 - 20)),
        &services_today()
    )
    .unwrap()
    .is_empty());
}

#[test]
fn an_end_falls_on_a_month_end_ahead() {
    let subscribed = after(&signed(), subscribe("standard", date!(2026 - 06 - 01)));
    assert!(matches!(
        refused(&subscribed, end(date!(2027 - 01 - 15))),
        AgreementError::SubscriptionEndNotMonthEnd { .. }
    ));
    assert!(matches!(
        refused(&subscribed, end(date!(2026 - 11 - 30))),
        AgreementError::SubscriptionEndInThePast { .. }
    ));
    let ended = after(&subscribed, end(date!(2027 - 01 - 31)));
    let state = state_of(&ended);
    assert_eq!(
        state.subscription().current().unwrap().last_day,
        Some(date!(2027 - 01 - 31))
    );
    assert!(state.subscription().on(date!(2027 - 02 - 01)).is_none());
    assert!(matches!(
        refused(&signed(), end(date!(2027 - 01 - 31))),
        AgreementError::NoSubscription
    ));
}

#[test]
fn bad_subscriptions_are_refused() {
    let cases = [
        (subscribe("premium", date!(2026 - 12 - 15)), "UnknownTariff"),
        // `business` takes effect only from 2027-01-01.
        (
            subscribe("business", date!(2026 - 12 - 15)),
            "NoTariffVersion",
        ),
        // Before the agreement is in force (2026-01-06, §10.1).
        (
            subscribe("standard", date!(2026 - 01 - 02)),
            "SubscriptionBeforeInForce",
        ),
        (
            subscribe("standard", date!(2028 - 01 - 01)),
            "SubscriptionTooFarAhead",
        ),
    ];
    for (command, expected) in cases {
        let error = refused(&signed(), command);
        assert!(format!("{error:?}").starts_with(expected), "{error:?}");
        assert_eq!(error.kind(), ErrorKind::RuleViolation);
    }
    assert!(matches!(
        refused(
            &history(State::Terminated),
            subscribe("standard", date!(2026 - 12 - 15))
        ),
        AgreementError::AlreadyTerminated { .. }
    ));
    assert!(matches!(
        refused(
            &history(State::Registered),
            subscribe("standard", date!(2026 - 12 - 15))
        ),
        AgreementError::NotSigned { .. }
    ));
}

#[test]
fn a_termination_ends_the_subscription_on_its_day() {
    let subscribed = after(&signed(), subscribe("standard", date!(2026 - 06 - 01)));
    let state = state_of(&subscribed);
    let ended = state
        .subscription_ended_by_termination(date!(2026 - 12 - 02))
        .unwrap();
    assert_eq!(
        ended,
        AgreementEvent::SubscriptionEnded(SubscriptionEnded {
            tariff: code("standard"),
            last_day: date!(2026 - 12 - 02),
            on: date!(2026 - 12 - 02),
            by_termination: true,
        })
    );
}
