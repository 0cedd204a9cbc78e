use time::macros::date;

use super::calendar::CALENDAR_FILE;
use super::*;

fn data() -> ReferenceData {
    ReferenceData::embedded().expect("the embedded reference data parses")
}

#[test]
fn the_embedded_tables_parse_and_cover_2025_to_2027() {
    let data = data();
    assert_eq!(
        data.calendar.years().collect::<Vec<_>>(),
        vec![2025, 2026, 2027]
    );
    assert_eq!(
        data.calendar.year_version(2026),
        Some(("kz-calendar-2026-1", false))
    );
    assert_eq!(
        data.calendar.year_version(2027),
        Some(("kz-calendar-2027-1", true)),
        "2027 is provisional until the decree on moved days off"
    );
    assert_eq!(
        data.mrp.for_year(2027),
        Err(ReferenceError::NoMrpForYear(2027)),
        "no 2027 MRP is shipped: the budget law sets it"
    );
    assert!(data.exchange_rates.is_empty());
    assert_eq!(data.mrp.for_year(2026).unwrap(), Decimal::from(4325));
    assert_eq!(
        data.mrp.on(date!(2025 - 12 - 31)).unwrap(),
        Decimal::from(3932)
    );
    assert_eq!(
        data.mrp.for_year(2022),
        Err(ReferenceError::NoMrpForYear(2022))
    );
}

#[test]
fn vat_is_twelve_percent_until_2025_and_sixteen_from_2026() {
    let vat = data().vat;
    assert_eq!(
        vat.rate_on(date!(2025 - 12 - 31)).unwrap().rate,
        Decimal::from_str("0.12").unwrap()
    );
    let rate = vat.rate_on(date!(2026 - 01 - 01)).unwrap();
    assert_eq!(rate.rate, Decimal::from_str("0.16").unwrap());
    assert_eq!(rate.effective_from, date!(2026 - 01 - 01));
    assert_eq!(
        vat.rate_on(date!(2008 - 12 - 31)),
        Err(ReferenceError::NoVatRate(date!(2008 - 12 - 31)))
    );
}

#[test]
fn working_days_follow_the_holidays_and_moved_days() {
    let calendar = data().calendar;
    assert!(
        !calendar.is_working_day(date!(2026 - 03 - 23)).unwrap(),
        "Nauryz"
    );
    assert!(
        !calendar.is_working_day(date!(2026 - 03 - 21)).unwrap(),
        "Saturday"
    );
    assert!(
        calendar.is_working_day(date!(2026 - 08 - 31)).unwrap(),
        "no Constitution Day in 2026"
    );
    assert!(
        calendar.is_working_day(date!(2025 - 01 - 05)).unwrap(),
        "working Sunday"
    );
    assert!(!calendar.is_working_day(date!(2025 - 09 - 01)).unwrap());
    assert!(
        !calendar.is_working_day(date!(2027 - 01 - 04)).unwrap(),
        "2 January 2027 is a Saturday: the day off moves to Monday"
    );
    assert!(
        !calendar.is_working_day(date!(2027 - 03 - 15)).unwrap(),
        "Constitution Day from 2027"
    );
    assert!(calendar.is_working_day(date!(2027 - 05 - 17)).unwrap());
    assert_eq!(
        calendar.is_working_day(date!(2028 - 01 - 04)),
        Err(ReferenceError::NoCalendarForYear(2028))
    );
    assert_eq!(
        calendar.is_working_day(date!(2024 - 12 - 31)),
        Err(ReferenceError::NoCalendarForYear(2024))
    );
}

#[test]
fn adding_working_days_skips_weekends_and_holidays() {
    let calendar = data().calendar;
    let cases = [
        (date!(2026 - 02 - 02), 5, date!(2026 - 02 - 09)),
        (date!(2026 - 03 - 20), 5, date!(2026 - 04 - 01)),
        (date!(2026 - 03 - 20), 3, date!(2026 - 03 - 30)),
        (date!(2026 - 04 - 30), 5, date!(2026 - 05 - 12)),
        (date!(2025 - 12 - 29), 5, date!(2026 - 01 - 08)),
        (date!(2025 - 12 - 31), 3, date!(2026 - 01 - 08)),
        (date!(2025 - 01 - 03), 1, date!(2025 - 01 - 05)),
        (date!(2026 - 03 - 21), 0, date!(2026 - 03 - 21)),
        // Across New Year 2027 (§5.4 subscription, §5.8 credit).
        (date!(2026 - 12 - 28), 5, date!(2027 - 01 - 06)),
        (date!(2026 - 12 - 29), 3, date!(2027 - 01 - 05)),
        (date!(2026 - 12 - 30), 5, date!(2027 - 01 - 11)),
    ];
    for (from, days, expected) in cases {
        assert_eq!(
            calendar.add_working_days(from, days).unwrap(),
            expected,
            "{from} + {days}"
        );
    }
    assert_eq!(
        calendar.add_working_days(date!(2027 - 12 - 30), 5),
        Err(ReferenceError::NoCalendarForYear(2028))
    );
    assert_eq!(
        calendar.versions_between(date!(2026 - 12 - 28), date!(2027 - 01 - 06)),
        "kz-calendar-2026-1+kz-calendar-2027-1"
    );
    assert_eq!(
        calendar.versions_between(date!(2026 - 02 - 02), date!(2026 - 02 - 09)),
        "kz-calendar-2026-1"
    );
}

#[test]
fn exchange_rates_divide_by_the_quant_and_are_exact_to_the_date() {
    let rates = ExchangeRates::parse(
        "version = \"v\"\nsource = \"s\"\n[[usd_kzt]]\ndate = 2026-02-02\nrate = \"50315\"\nquant = 100\n",
    )
    .unwrap();
    assert_eq!(
        rates
            .usd_kzt_on(date!(2026 - 02 - 02))
            .unwrap()
            .kzt_per_unit,
        Decimal::from_str("503.15").unwrap()
    );
    assert_eq!(
        rates.usd_kzt_on(date!(2026 - 02 - 03)),
        Err(ReferenceError::NoExchangeRate(date!(2026 - 02 - 03)))
    );
}

fn calendar_error(body: &str) -> String {
    let text = format!("version = \"v\"\nsource = \"s\"\n{body}");
    match BusinessCalendar::parse(&text) {
        Err(ReferenceError::Invalid { file, message }) => {
            assert_eq!(file, CALENDAR_FILE);
            message
        }
        other => panic!("expected an invalid calendar, got {other:?}"),
    }
}

#[test]
fn a_calendar_with_mistakes_is_refused_with_the_reason() {
    assert!(
        calendar_error("[[year]]\nyear = 2026\nnon_working_weekdays = [2026-03-21]")
            .contains("Saturday")
    );
    assert!(calendar_error(
        "[[year]]\nyear = 2026\nnon_working_weekdays = []\nworking_weekend_days = [2026-03-23]"
    )
    .contains("Monday"));
    assert!(
        calendar_error("[[year]]\nyear = 2026\nnon_working_weekdays = [2025-03-24]")
            .contains("not in 2026")
    );
    assert!(calendar_error(
        "[[year]]\nyear = 2026\nnon_working_weekdays = [2026-03-23, 2026-03-23]"
    )
    .contains("twice"));
    assert!(calendar_error(
        "[[year]]\nyear = 2026\nnon_working_weekdays = []\n[[year]]\nyear = 2026\nnon_working_weekdays = []"
    )
    .contains("twice"));
    assert!(
        calendar_error("[[year]]\nyear = 2026\nnon_working_weekdays = [\"2026-02-30\"]")
            .contains("not a date")
    );
    assert!(
        calendar_error("[[year]]\nyear = 2026\nnon_working_weekdays = []\nholidays = []")
            .contains("unknown field")
    );
    assert!(calendar_error("").contains("no [[year]]"));
}

#[test]
fn other_tables_with_mistakes_are_refused() {
    assert!(MrpTable::parse(
        "version = \"v\"\nsource = \"s\"\n[[year]]\nyear = 2026\nmrp = \"-1\""
    )
    .is_err());
    assert!(MrpTable::parse("version = \"v\"\nsource = \"s\"\n[[year]]\nyear = 2026\nmrp = \"1\"\n[[year]]\nyear = 2026\nmrp = \"2\"").is_err());
    assert!(VatTable::parse("version = \"v\"\nsource = \"s\"\n[[rate]]\neffective_from = 2026-01-01\nrate_percent = \"160\"").is_err());
    assert!(VatTable::parse("version = \"v\"\nsource = \"s\"").is_err());
    assert!(ExchangeRates::parse("version = \"v\"\nsource = \"s\"\n[[usd_kzt]]\ndate = 2026-01-05\nrate = \"500\"\nquant = 0").is_err());
    assert!(ExchangeRates::parse("version = \"\"\nsource = \"s\"").is_err());
}

fn published(version: &str, content: ReferenceContent) -> ReferenceVersionPublished {
    ReferenceVersionPublished {
        version: version.into(),
        source: "test".into(),
        content,
    }
}

#[test]
fn a_newer_version_of_a_range_replaces_the_older_and_only_that_range() {
    let mut data = data();
    data.apply(&published(
        "kz-calendar-2027-2",
        ReferenceContent::Calendar {
            year: 2027,
            non_working: vec![date!(2027 - 01 - 01), date!(2027 - 01 - 05)],
            working_weekends: vec![date!(2027 - 01 - 09)],
            provisional: false,
        },
    ))
    .unwrap();
    let calendar = &data.calendar;
    assert_eq!(
        calendar.year_version(2027),
        Some(("kz-calendar-2027-2", false))
    );
    assert!(calendar.is_working_day(date!(2027 - 01 - 04)).unwrap());
    assert!(!calendar.is_working_day(date!(2027 - 01 - 05)).unwrap());
    assert!(calendar.is_working_day(date!(2027 - 01 - 09)).unwrap());
    assert_eq!(
        calendar.year_version(2026),
        Some(("kz-calendar-2026-1", false))
    );
    data.apply(&published(
        "kz-mrp-2027-1",
        ReferenceContent::Mrp {
            year: 2027,
            mrp: Decimal::from(4500),
        },
    ))
    .unwrap();
    assert_eq!(data.mrp.for_year(2027), Ok(Decimal::from(4500)));
    assert_eq!(data.mrp.version_for(2027), Some("kz-mrp-2027-1"));
}

#[test]
fn a_version_breaking_its_tables_rules_is_refused_naming_the_field() {
    let refused = |content| match check_version(&published("v", content)) {
        Err(ReferenceError::InvalidVersion { field, .. }) => field,
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert_eq!(
        refused(ReferenceContent::Calendar {
            year: 2027,
            non_working: vec![date!(2026 - 12 - 31)],
            working_weekends: vec![],
            provisional: false
        }),
        "non_working"
    );
    assert_eq!(
        refused(ReferenceContent::Mrp {
            year: 2027,
            mrp: Decimal::from(-1)
        }),
        "mrp"
    );
    assert_eq!(
        refused(ReferenceContent::Vat {
            effective_from: date!(2027 - 01 - 01),
            rate: Decimal::from(16)
        }),
        "rate"
    );
    assert_eq!(
        refused(ReferenceContent::ExchangeRate {
            date: date!(2027 - 01 - 05),
            usd_kzt: Decimal::ZERO
        }),
        "USD"
    );
    assert_eq!(
        refused(ReferenceContent::Mrp {
            year: 1999,
            mrp: Decimal::from(1)
        }),
        "range"
    );
}

#[test]
fn the_national_banks_rates_file_gives_the_usd_rate_per_unit() {
    let xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rates><generator>NBK</generator><title>rates</title><date>30.12.2026</date>\n<item><fullname>EURO</fullname><title>EUR</title><description>590.1</description><quant>1</quant></item>\n<item><fullname>US DOLLAR</fullname><title>USD</title><description>51234</description><quant>100</quant><index>UP</index></item></rates>";
    assert_eq!(
        parse_nbk_rates(xml).unwrap(),
        NbkRate {
            date: date!(2026 - 12 - 30),
            usd_kzt: Decimal::from_str("512.34").unwrap()
        }
    );
    let field = |xml: &str| match parse_nbk_rates(xml) {
        Err(ReferenceError::InvalidVersion { field, .. }) => field,
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert_eq!(field("<html>no</html>"), "body");
    assert_eq!(field("<rates><item></item></rates>"), "date");
    assert_eq!(field("<rates><date>31.02.2026</date></rates>"), "date");
    assert_eq!(
        field("<rates><date>30.12.2026</date><item><title>EUR</title></item></rates>"),
        "item"
    );
    assert_eq!(
        field("<rates><date>30.12.2026</date><item><title>USD</title><quant>1</quant><description>-5</description></item></rates>"),
        "description"
    );
}
