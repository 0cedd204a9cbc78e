//! The billing run's decision for one agreement (BILLING.md 4): the month's subscription
//! invoice priced by the version in force (§4.1, §5.3), prorated from a start after the
//! first (BILLING.md 2), once per month; none for a blocked or terminated agreement.

use std::collections::BTreeMap;

use proptest::prelude::*;

use crate::fixture::*;
use crate::tariffs::{TariffCatalog, TariffVersionRequest};
use crate::AgreementStatus;

fn code(text: &str) -> TariffCode {
    TariffCode::parse(text).unwrap()
}

/// `standard`: 5,000.00 KZT from 2026-01-01, 6,000.00 from 2027-02-01.
fn catalog() -> Arc<TariffCatalog> {
    let mut catalog = TariffCatalog::default();
    for (from, fee) in [
        (date!(2026 - 01 - 01), "5000.00"),
        (date!(2027 - 02 - 01), "6000.00"),
    ] {
        let request = TariffVersionRequest {
            name: TariffName::parse("Стандарт").unwrap(),
            effective_from: from,
            fees: Prices {
                kzt: Amount::parse(fee).unwrap(),
                usd: Amount::parse("10.00").unwrap(),
            },
            included: BTreeMap::new(),
            overage: BTreeMap::new(),
        };
        let version = catalog
            .publish(code("standard"), request, date!(2025 - 12 - 01))
            .unwrap();
        catalog.apply(version);
    }
    Arc::new(catalog)
}

fn services_on_day(today: Date) -> AgreementServices {
    AgreementServices {
        tariffs: catalog(),
        ..services_on(today, 7)
    }
}

fn subscribed(from: Date) -> Vec<AgreementEvent> {
    let mut given = vec![registered_event(Currency::KZT, true), signed_event()];
    given.push(AgreementEvent::SubscriptionStarted(SubscriptionStarted {
        tariff: code("standard"),
        from,
        on: date!(2026 - 01 - 10),
    }));
    given
}

fn bill(month: &str, issued_on: Date) -> AgreementCommand {
    AgreementCommand::BillMonth(BillMonth {
        month: CalendarMonth::parse(month).unwrap(),
        issued_on,
    })
}

#[test]
fn a_whole_month_is_billed_at_the_version_in_force_on_its_first_day() {
    let given = subscribed(date!(2026 - 03 - 01));
    let today = date!(2027 - 01 - 28);
    let events = decide(&given, bill("2027-02", today), &services_on_day(today)).unwrap();
    let invoice = issued(&events);
    assert_eq!(invoice.kind, InvoiceKind::Subscription);
    assert_eq!(invoice.net, kzt("6000.00"));
    assert_eq!(invoice.number, InvoiceNumber::new(7).unwrap());
    let billing = invoice.billing.as_ref().unwrap();
    assert_eq!(billing.month.to_string(), "2027-02");
    assert_eq!(
        (billing.tariff.version, billing.proration.clone()),
        (2, None)
    );
    assert_eq!(
        invoice.period,
        Some(ServicePeriod {
            from: date!(2027 - 02 - 01),
            to: date!(2027 - 02 - 28)
        })
    );
    assert!(invoice.lines[0]
        .description
        .as_str()
        .contains("standard-v2"));
    // §5.4: prepaid, due 5 banking days after the issue.
    assert_eq!(invoice.due_rule.clause, "5.4");

    // A second run for the month issues nothing.
    let mut after = given.clone();
    after.extend(events);
    assert!(
        decide(&after, bill("2027-02", today), &services_on_day(today))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_month_started_after_its_first_day_is_prorated() {
    let given = subscribed(date!(2026 - 12 - 17));
    let today = date!(2026 - 12 - 17);
    let events = decide(&given, bill("2026-12", today), &services_on_day(today)).unwrap();
    let invoice = issued(&events);
    // 5,000.00 x 15 / 31 = 2,419.354... -> 2,419.35.
    assert_eq!(invoice.net, kzt("2419.35"));
    let proration = invoice.billing.as_ref().unwrap().proration.clone().unwrap();
    assert_eq!((proration.days, proration.days_in_month), (15, 31));
    assert_eq!(invoice.period.unwrap().from, date!(2026 - 12 - 17));
}

#[test]
fn who_gets_no_invoice_and_why() {
    let today = date!(2026 - 12 - 28);
    let services = services_on_day(today);
    let not_billable =
        |given: &[AgreementEvent], month: &str| match decide(given, bill(month, today), &services)
            .unwrap_err()
        {
            AgreementError::NotBillable { reason, .. } => reason,
            other => panic!("{other:?}"),
        };
    // No subscription.
    let signed = vec![registered_event(Currency::KZT, true), signed_event()];
    assert!(not_billable(&signed, "2027-01").contains("no subscription"));
    // Blocked (decision, BILLING.md 4).
    let mut blocked = subscribed(date!(2026 - 03 - 01));
    blocked.push(AgreementEvent::Blocked(Blocked {
        on: date!(2026 - 12 - 01),
        reason: RestrictionReason::Violation,
    }));
    assert_eq!(state_of(&blocked).status(), Some(AgreementStatus::Blocked));
    assert!(not_billable(&blocked, "2027-01").contains("blocked"));
    // A subscription that ended before the month.
    let mut ended = subscribed(date!(2026 - 03 - 01));
    ended.push(AgreementEvent::SubscriptionEnded(SubscriptionEnded {
        tariff: code("standard"),
        last_day: date!(2026 - 12 - 31),
        on: date!(2026 - 12 - 01),
        by_termination: false,
    }));
    assert!(not_billable(&ended, "2027-01").contains("no subscription"));
    // Suspended: billed (BILLING.md 4).
    let mut suspended = subscribed(date!(2026 - 03 - 01));
    suspended.push(AgreementEvent::Suspended(Suspended {
        on: date!(2026 - 12 - 01),
        reason: RestrictionReason::Verification,
        imposed_by: Some(ImposedBy::Operator),
    }));
    assert!(decide(&suspended, bill("2027-01", today), &services).is_ok());
}

proptest! {
    /// BILLING.md 2: a month split at any day costs at most the month's fee plus one
    /// tiyn of rounding (the two parts, each rounded once), and a prorated part never
    /// costs more than the whole month.
    #[test]
    fn prorations_add_up(cents in 1u64..10_000_000_000, split in 2u8..=31, days_in_month in 28u8..=31) {
        let split = split.min(days_in_month);
        let fee = Money::rounded(Decimal::new(i64::try_from(cents).unwrap(), 2), Currency::KZT).unwrap();
        let after = crate::prorated_fee(fee, days_in_month - split + 1, days_in_month).unwrap();
        let before = crate::prorated_fee(fee, split - 1, days_in_month).unwrap();
        let total = after.checked_add(before).unwrap();
        let tiyn = Decimal::new(1, 2);
        prop_assert!(total.amount() <= fee.amount() + tiyn, "{} + {} > {} + 0.01", before, after, fee);
        prop_assert!(total.amount() >= fee.amount() - tiyn, "{} + {} < {} - 0.01", before, after, fee);
        prop_assert!(after.amount() <= fee.amount());
        prop_assert_eq!(crate::prorated_fee(fee, days_in_month, days_in_month).unwrap(), fee);
    }
}

#[test]
fn a_version_published_later_never_changes_an_issued_invoice() {
    let given = subscribed(date!(2026 - 03 - 01));
    let today = date!(2027 - 01 - 28);
    let events = decide(&given, bill("2027-02", today), &services_on_day(today)).unwrap();
    let mut after = given.clone();
    after.extend(events.clone());
    // A third version for the same month, recorded after the invoice.
    let mut catalog = (*catalog()).clone();
    let request = TariffVersionRequest {
        name: TariffName::parse("Стандарт").unwrap(),
        effective_from: date!(2027 - 02 - 01),
        fees: Prices {
            kzt: Amount::parse("9000.00").unwrap(),
            usd: Amount::parse("20.00").unwrap(),
        },
        included: BTreeMap::new(),
        overage: BTreeMap::new(),
    };
    let third = catalog
        .publish(code("standard"), request, date!(2027 - 01 - 20))
        .unwrap();
    catalog.apply(third);
    let services = AgreementServices {
        tariffs: Arc::new(catalog),
        ..services_on_day(today)
    };
    // The month is invoiced: nothing new, and the invoice keeps its version and amount.
    assert!(decide(&after, bill("2027-02", today), &services)
        .unwrap()
        .is_empty());
    let state = state_of(&after);
    let billed = state
        .subscription()
        .billed(
            CalendarMonth::parse("2027-02").unwrap(),
            InvoiceKind::Subscription,
        )
        .unwrap();
    assert_eq!(billed.tariff.version, 2);
    assert_eq!(state.invoice(billed.number).unwrap().net, kzt("6000.00"));
    // The next month is priced with the newest version in force.
    let march = decide(
        &after,
        bill("2027-03", date!(2027 - 02 - 27)),
        &AgreementServices {
            today: date!(2027 - 02 - 27),
            ..services
        },
    )
    .unwrap();
    assert_eq!(issued(&march).net, kzt("9000.00"));
}
