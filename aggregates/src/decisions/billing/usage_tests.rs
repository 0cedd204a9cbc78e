//! The usage invoice (BILLING.md 3, 4): the previous month's usage beyond what its tariff
//! version includes, at the price the month's subscription invoice recorded (§5.3); late
//! records on the next usage invoice with their month shown; every record counted once.

use std::collections::BTreeMap;

use proptest::prelude::*;

use crate::fixture::*;
use crate::tariffs::{TariffCatalog, TariffVersionRequest};
use crate::usage::usage_digest;

fn code() -> TariffCode {
    TariffCode::parse("metered").unwrap()
}

fn documents() -> MetricName {
    MetricName::parse("documents").unwrap()
}

fn signatures() -> MetricName {
    MetricName::parse("signatures").unwrap()
}

fn prices(kzt: &str) -> Prices {
    Prices {
        kzt: Amount::parse(kzt).unwrap(),
        usd: Amount::parse("0.05").unwrap(),
    }
}

/// `metered` v1 from 2026-01-01: 100 documents included, 10.00 KZT each beyond, and
/// signatures at 1.00 from the first; with `later`, v2 from 2027-01-01 (published on
/// 2026-12-10): 50 documents included, 25.00 beyond, signatures not priced.
fn catalog(later: bool) -> Arc<TariffCatalog> {
    let mut catalog = TariffCatalog::default();
    let v1 = TariffVersionRequest {
        name: TariffName::parse("Учёт").unwrap(),
        effective_from: date!(2026 - 01 - 01),
        fees: prices("5000.00"),
        included: BTreeMap::from([(documents(), 100)]),
        overage: BTreeMap::from([
            (documents(), prices("10.00")),
            (signatures(), prices("1.00")),
        ]),
    };
    let v1 = catalog.publish(code(), v1, date!(2025 - 12 - 01)).unwrap();
    catalog.apply(v1);
    if later {
        let v2 = TariffVersionRequest {
            name: TariffName::parse("Учёт").unwrap(),
            effective_from: date!(2027 - 01 - 01),
            fees: prices("6000.00"),
            included: BTreeMap::from([(documents(), 50)]),
            overage: BTreeMap::from([(documents(), prices("25.00"))]),
        };
        let v2 = catalog.publish(code(), v2, date!(2026 - 12 - 10)).unwrap();
        catalog.apply(v2);
    }
    Arc::new(catalog)
}

fn services_with(today: Date, later: bool) -> AgreementServices {
    AgreementServices {
        tariffs: catalog(later),
        ..services_on(today, 20)
    }
}

fn month(text: &str) -> CalendarMonth {
    CalendarMonth::parse(text).unwrap()
}

/// Subscribed to `metered` from 2026-03-01, December's subscription invoice issued on
/// 2026-11-30 while only v1 was published.
fn december_invoiced() -> Vec<AgreementEvent> {
    let mut given = vec![registered_event(Currency::KZT, true), signed_event()];
    given.push(AgreementEvent::SubscriptionStarted(SubscriptionStarted {
        tariff: code(),
        from: date!(2026 - 03 - 01),
        on: date!(2026 - 02 - 10),
    }));
    let today = date!(2026 - 11 - 30);
    let command = AgreementCommand::BillMonth(BillMonth {
        month: month("2026-12"),
        issued_on: today,
    });
    let events = decide(&given, command, &services_with(today, false)).unwrap();
    given.extend(events);
    given
}

fn record(position: u64, id: &str, metric: MetricName, quantity: u64, on: Date) -> MeteredUsage {
    MeteredUsage {
        position,
        id: id.to_owned(),
        metric,
        quantity,
        occurred_on: on,
    }
}

/// What the ledger passes the aggregate (the command loop's usage window): the records
/// up to `through`, of `month` or before, not counted by an earlier usage invoice.
fn bill_usage(
    given: &[AgreementEvent],
    stored: &[MeteredUsage],
    billed: &str,
    through: u64,
    issued_on: Date,
) -> AgreementCommand {
    let counted = state_of(given).subscription().counted_usage();
    let billed = month(billed);
    let through_now = through.max(counted.map_or(0, |c| c.through));
    AgreementCommand::BillUsage(BillUsage {
        month: billed,
        issued_on,
        through,
        records: stored
            .iter()
            .filter(|r| {
                r.position <= through_now
                    && r.occurred_on <= billed.last_day()
                    && !crate::usage::CountedUsage::counts(counted, r.position, r.occurred_on)
            })
            .cloned()
            .collect(),
    })
}

fn reason(result: Result<Vec<AgreementEvent>, AgreementError>) -> String {
    match result {
        Err(AgreementError::NotBillable { reason, .. }) => reason,
        other => panic!("{other:?}"),
    }
}

fn december_records() -> Vec<MeteredUsage> {
    vec![
        record(1, "d-1", documents(), 60, date!(2026 - 12 - 01)),
        record(2, "d-2", documents(), 50, date!(2026 - 12 - 15)),
        record(3, "jan-1", documents(), 7, date!(2027 - 01 - 02)),
        record(4, "d-3", documents(), 40, date!(2026 - 12 - 31)),
    ]
}

#[test]
fn december_beyond_the_included_volume_is_billed_at_the_version_december_s_invoice_recorded() {
    let given = december_invoiced();
    let today = date!(2027 - 01 - 04);
    // v2 (50 included, 25.00 beyond) was published after December's invoice.
    let services = services_with(today, true);
    let command = bill_usage(&given, &december_records(), "2026-12", 4, today);
    let events = decide(&given, command, &services).unwrap();
    let invoice = issued(&events);
    assert_eq!(invoice.kind, InvoiceKind::Usage);
    // 150 documents, 100 included: 50 x 10.00 (v1), whatever v2 says.
    assert_eq!(invoice.net, kzt("500.00"));
    // §5.8: on credit, due 3 working days after the issue.
    assert_eq!(invoice.due_rule.clause, "5.8");
    assert_eq!(
        invoice.period,
        Some(ServicePeriod {
            from: date!(2026 - 12 - 01),
            to: date!(2026 - 12 - 31)
        })
    );
    let billing = invoice.billing.as_ref().unwrap();
    assert_eq!(
        (billing.month, billing.tariff.version),
        (month("2026-12"), 1)
    );
    assert_eq!(billing.usage_through, Some(4));
    let line = &billing.usage[0];
    assert_eq!(
        billing.usage.len(),
        1,
        "January's record waits for its month"
    );
    assert_eq!(
        (line.quantity, line.included, line.billed, line.records),
        (150, 100, 50, 3)
    );
    assert_eq!(
        (line.unit_price, line.amount),
        (kzt("10.00"), kzt("500.00"))
    );
    assert_eq!(
        line.digest,
        usage_digest(&mut [("d-1", 60), ("d-2", 50), ("d-3", 40)])
    );
    assert!(invoice.lines[0].description.as_str().contains("2026-12"));

    // A second run for January issues nothing more.
    let mut after = given.clone();
    after.extend(events);
    let again = bill_usage(&after, &december_records(), "2026-12", 4, today);
    assert!(decide(&after, again, &services).unwrap().is_empty());
}

#[test]
fn a_late_record_goes_on_the_next_usage_invoice_with_its_month_shown() {
    let mut given = december_invoiced();
    let today = date!(2027 - 01 - 04);
    let services = services_with(today, true);
    let mut stored = december_records();
    let command = bill_usage(&given, &stored, "2026-12", 4, today);
    given.extend(decide(&given, command, &services).unwrap());
    // After January's run: December reported late, and more of January.
    stored.push(record(5, "d-late", documents(), 30, date!(2026 - 12 - 20)));
    stored.push(record(6, "jan-2", documents(), 113, date!(2027 - 01 - 31)));
    stored.push(record(7, "feb-1", documents(), 500, date!(2027 - 02 - 01)));
    let today = date!(2027 - 02 - 01);
    let services = services_with(today, true);
    let command = bill_usage(&given, &stored, "2027-01", 7, today);
    let events = decide(&given, command, &services).unwrap();
    let invoice = issued(&events);
    let billing = invoice.billing.as_ref().unwrap();
    let lines: Vec<_> = billing
        .usage
        .iter()
        .map(|l| {
            (
                l.month.to_string(),
                l.quantity,
                l.included,
                l.billed,
                l.amount,
                l.records,
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            // December at v1: 180 used, 100 included, 50 billed before: 30 more.
            ("2026-12".to_owned(), 180, 100, 30, kzt("300.00"), 1),
            // January at v2 (no January subscription invoice here): 120 - 50 = 70.
            ("2027-01".to_owned(), 120, 50, 70, kzt("1750.00"), 2),
        ]
    );
    assert_eq!(invoice.net, kzt("2050.00"));
    assert_eq!(billing.month, month("2027-01"));
    assert_eq!(billing.tariff.version, 2);
    assert!(invoice
        .lines
        .iter()
        .any(|l| l.description.as_str().contains("2026-12")));
}

#[test]
fn usage_within_the_included_volume_is_not_invoiced_and_counts_towards_the_next() {
    let mut given = december_invoiced();
    let today = date!(2027 - 01 - 04);
    let services = services_with(today, false);
    let stored = vec![record(1, "d-1", documents(), 80, date!(2026 - 12 - 03))];
    let command = bill_usage(&given, &stored, "2026-12", 1, today);
    assert!(matches!(
        decide(&given, command, &services),
        Err(AgreementError::NoUsageBeyondIncluded { records: 1, .. })
    ));
    let nothing = bill_usage(&given, &[], "2026-12", 0, today);
    assert!(matches!(
        decide(&given, nothing, &services),
        Err(AgreementError::NoUsageBeyondIncluded { records: 0, .. })
    ));

    // December's 80 are counted by the next usage invoice, with December's 30 late ones.
    let mut stored = stored;
    stored.push(record(2, "d-2", documents(), 30, date!(2026 - 12 - 30)));
    let command = bill_usage(&given, &stored, "2027-01", 2, date!(2027 - 02 - 01));
    let events = decide(
        &given,
        command,
        &services_with(date!(2027 - 02 - 01), false),
    )
    .unwrap();
    let line = &issued(&events).billing.as_ref().unwrap().usage[0];
    assert_eq!((line.quantity, line.billed, line.records), (110, 10, 2));
    given.extend(events);
    // December cannot be invoiced after January's usage was.
    let late = bill_usage(&given, &stored, "2026-12", 2, date!(2027 - 02 - 01));
    assert!(reason(decide(&given, late, &services)).contains("2027-01 is invoiced already"));
}

#[test]
fn a_month_is_usage_invoiced_only_once_it_is_over() {
    let given = december_invoiced();
    let today = date!(2026 - 12 - 28);
    let command = bill_usage(&given, &december_records(), "2026-12", 4, today);
    assert!(reason(decide(&given, command, &services_with(today, true))).contains("is not over"));
}

#[test]
fn a_blocked_agreement_s_usage_waits() {
    let mut given = december_invoiced();
    given.push(AgreementEvent::Blocked(Blocked {
        on: date!(2026 - 12 - 20),
        reason: RestrictionReason::Violation,
    }));
    let today = date!(2027 - 01 - 04);
    let command = bill_usage(&given, &december_records(), "2026-12", 4, today);
    assert!(reason(decide(&given, command, &services_with(today, true))).contains("blocked"));
}

/// One record: its month (0 = 2026-12 .. 3 = 2027-03), metric, quantity.
fn records_strategy() -> impl Strategy<Value = Vec<(u8, bool, u64)>> {
    prop::collection::vec((0u8..4, any::<bool>(), 1u64..80), 0..40)
}

proptest! {
    /// Over any arrival of records and any runs (each month's run counting through some
    /// later position), every record is counted by at most one usage invoice, and once
    /// all are counted each month's billed units add up to its usage beyond what is
    /// included: nothing counted twice, nothing lost.
    #[test]
    fn every_record_is_counted_once_and_billed_units_add_up(
        records in records_strategy(),
        cuts in prop::collection::vec(0usize..40, 4),
    ) {
        let months = ["2026-12", "2027-01", "2027-02", "2027-03"];
        let stored: Vec<MeteredUsage> = records
            .iter()
            .enumerate()
            .map(|(i, (m, is_documents, quantity))| {
                let on = month(months[usize::from(*m)]).first_day();
                let metric = if *is_documents { documents() } else { signatures() };
                record(i as u64 + 1, &format!("r{i}"), metric, *quantity, on)
            })
            .collect();
        let mut cuts = cuts;
        cuts.sort_unstable();
        let mut given = december_invoiced();
        let mut billed: BTreeMap<(CalendarMonth, MetricName), u64> = BTreeMap::new();
        let mut counted_ids: Vec<String> = Vec::new();
        // Each month's run, then a last one (June) counting everything.
        let runs = months
            .iter()
            .zip(cuts.iter().map(|c| (*c).min(stored.len()) as u64))
            .map(|(m, cut)| (month(m), cut))
            .chain([(month("2027-06"), stored.len() as u64)]);
        for (billed_month, through) in runs {
            let today = billed_month.next().first_day();
            let services = services_with(today, true);
            let command = bill_usage(&given, &stored, &billed_month.to_string(), through, today);
            let AgreementCommand::BillUsage(bill) = &command else { unreachable!() };
            let ids: Vec<String> = bill.records.iter().map(|r| r.id.clone()).collect();
            match decide(&given, command, &services) {
                Ok(events) => {
                    let billing = issued(&events).billing.clone().unwrap();
                    for line in &billing.usage {
                        *billed.entry((line.month, line.metric.clone())).or_default() += line.billed;
                    }
                    counted_ids.extend(ids);
                    given.extend(events);
                }
                Err(AgreementError::NotBillable { .. } | AgreementError::NoUsageBeyondIncluded { .. }) => {}
                Err(other) => panic!("{other:?}"),
            }
        }
        let mut unique = counted_ids.clone();
        unique.sort();
        unique.dedup();
        prop_assert_eq!(unique.len(), counted_ids.len(), "a record counted twice");
        let mut used: BTreeMap<(CalendarMonth, MetricName), u64> = BTreeMap::new();
        for r in &stored {
            *used.entry((CalendarMonth::of(r.occurred_on), r.metric.clone())).or_default() += r.quantity;
        }
        for ((m, metric), quantity) in used {
            // December: v1 (its subscription invoice); later months: v2 in force.
            let december = m == month("2026-12");
            let expected = match (metric.as_str(), december) {
                ("documents", true) => quantity.saturating_sub(100),
                ("documents", false) => quantity.saturating_sub(50),
                (_, true) => quantity,
                (_, false) => 0,
            };
            prop_assert_eq!(billed.get(&(m, metric.clone())).copied().unwrap_or(0), expected, "{} {}", m, metric);
        }
    }
}

/// One command of a billing run: the run's period (0 = 2027-01 .. 2 = 2027-03), whether
/// it is the usage command, and how many days after the period's first day it is issued.
fn run_commands_strategy() -> impl Strategy<Value = Vec<(u8, bool, u8)>> {
    prop::collection::vec((0u8..3, any::<bool>(), 0u8..20), 1..30)
}

proptest! {
    /// BILLING.md 4: whatever the interleaving of runs (repeated, racing, out of order,
    /// each one's commands reaching the agreement in any order), each (month, kind) is
    /// invoiced at most once, each month run at least once gets its subscription invoice,
    /// and the invoice numbers the agreement takes are the ones handed to it, in order.
    #[test]
    fn each_month_and_kind_is_invoiced_once_over_any_interleaving_of_runs(
        commands in run_commands_strategy(),
    ) {
        let periods = ["2027-01", "2027-02", "2027-03"];
        let mut given = december_invoiced();
        // Usage beyond the included volume in every month from December to February.
        let stored: Vec<MeteredUsage> = ["2026-12-10", "2027-01-10", "2027-02-10"]
            .iter()
            .enumerate()
            .map(|(i, on)| {
                let on = time::Date::parse(on, &time::format_description::well_known::Iso8601::DATE).unwrap();
                record(i as u64 + 1, &format!("u{i}"), documents(), 500, on)
            })
            .collect();
        let mut next_number = 20u64;
        let mut invoiced: BTreeMap<(CalendarMonth, &str), u32> = BTreeMap::new();
        let mut run_periods = std::collections::BTreeSet::new();
        for (period, usage, days) in commands {
            let period = month(periods[usize::from(period)]);
            let issued_on = period.first_day() + time::Duration::days(i64::from(days));
            let services = AgreementServices {
                tariffs: catalog(true),
                ..services_on(issued_on, next_number)
            };
            let command = if usage {
                let billed = period.previous().min(CalendarMonth::of(issued_on).previous());
                bill_usage(&given, &stored, &billed.to_string(), stored.len() as u64, issued_on)
            } else {
                AgreementCommand::BillMonth(BillMonth { month: period, issued_on })
            };
            match decide(&given, command, &services) {
                Ok(events) => {
                    for event in &events {
                        if let AgreementEvent::InvoiceIssued(issued) = event {
                            prop_assert_eq!(issued.number.value(), next_number);
                            next_number += 1;
                            let billing = issued.billing.as_ref().unwrap();
                            *invoiced.entry((billing.month, issued.kind.as_str())).or_default() += 1;
                        }
                    }
                    given.extend(events);
                }
                Err(AgreementError::NotBillable { .. } | AgreementError::NoUsageBeyondIncluded { .. }) => {}
                // A run issued on a date before a document already recorded is refused
                // (nothing recorded); it is not a run of the month that counts.
                Err(AgreementError::Backdated { .. }) => continue,
                Err(other) => panic!("{other:?}"),
            }
            if !usage {
                run_periods.insert(period);
            }
        }
        for (key, count) in &invoiced {
            prop_assert_eq!(*count, 1, "{:?} invoiced {} times", key, count);
        }
        for period in run_periods {
            prop_assert!(invoiced.contains_key(&(period, "subscription")), "{} not invoiced", period);
        }
    }
}
