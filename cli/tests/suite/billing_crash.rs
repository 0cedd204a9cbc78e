//! Crash test of the billing run (issue 16, BILLING.md 4), on PostgreSQL: `edoc-ledger
//! bill` over 2,000 subscribed agreements is killed with SIGKILL midway; the same run
//! again completes it. Every agreement is then invoiced exactly once for the month, the
//! invoice numbers are gapless, the hash chains verify and the stored projections equal
//! a replay of the events.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;

use crate::common::{cli, drop_database, fresh_database, participant_ids};

const BINARY: &str = env!("CARGO_BIN_EXE_edoc-ledger");
const AGREEMENTS: usize = 2_000;
/// The kill comes once this many invoices are recorded.
const KILL_AFTER_INVOICES: i64 = 300;

/// 2,000 agreements registered, signed and subscribed to `standard` from January, with
/// the ledger itself (as the server would record them).
async fn subscribed_agreements(database_url: &str) -> Vec<String> {
    let location = api::store::StoreLocation::Postgres(database_url.to_owned());
    let repository = api::store::LedgerEventRepository::connect(&location)
        .await
        .unwrap();
    let (shipped, _) = api::reference_files::shipped_versions(None).unwrap();
    let ledger = api::application::commands::Ledger::on_store(repository.clone(), &shipped)
        .await
        .unwrap();
    let today = ledger.today();
    let january = events::CalendarMonth::of(today).next();
    let prices = |kzt: &str| events::Prices {
        kzt: events::Amount::parse(kzt).unwrap(),
        usd: events::Amount::parse("10.00").unwrap(),
    };
    ledger
        .tariffs()
        .publish(
            events::TariffCode::parse("standard").unwrap(),
            aggregates::tariffs::TariffVersionRequest {
                name: events::TariffName::parse("Стандарт").unwrap(),
                effective_from: january.first_day(),
                fees: prices("5000.00"),
                included: BTreeMap::new(),
                overage: BTreeMap::new(),
            },
            today,
            &api::application::tariff_book::TariffPublisher {
                actor: "crash test".to_owned(),
                request_id: "tariff".to_owned(),
            },
            ledger.now_utc(),
            |_| None,
        )
        .await
        .unwrap();
    let ids = participant_ids(77_000_000_000, AGREEMENTS);
    let context = api::application::commands::CommandContext {
        actor: "crash test".to_owned(),
        request_id: "setup".to_owned(),
        sweep: None,
        idempotency: None,
    };
    let signed_on = today - time::Duration::days(30);
    futures::stream::iter(ids.iter().map(|id| {
        let (ledger, context) = (&ledger, &context);
        async move {
            let participant = events::ParticipantId::parse(id).unwrap();
            for command in [
                commands::AgreementCommand::Register(commands::Register {
                    participant_id: participant.clone(),
                    name: events::ParticipantName::parse("ТОО «Ромашка»").unwrap(),
                    kind: events::ParticipantKind::LegalEntity,
                    resident: true,
                    currency: events::Currency::KZT,
                    email: events::EmailAddress::parse("buh@romashka.kz").unwrap(),
                    registered_on: signed_on,
                }),
                commands::AgreementCommand::Sign(commands::SignAgreement { signed_on }),
                commands::AgreementCommand::Subscribe(commands::Subscribe {
                    tariff: events::TariffCode::parse("standard").unwrap(),
                    from: january.first_day(),
                }),
            ] {
                ledger
                    .execute(&participant, command, context)
                    .await
                    .unwrap();
            }
        }
    }))
    .buffer_unordered(8)
    .collect::<Vec<()>>()
    .await;
    repository.close().await;
    ids
}

async fn invoices(pool: &sqlx::PgPool) -> Vec<(String, i64)> {
    sqlx::query_as(
        "SELECT aggregate_id, (COALESCE(payload->'InvoiceIssued'->>'number', payload->>'number'))::bigint FROM events
         WHERE aggregate_type = 'ParticipantAgreement' AND event_type = 'InvoiceIssued'",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_billing_run_killed_midway_and_run_again_invoices_everyone_once() {
    let (database_url, name) = fresh_database().await;
    let ids = subscribed_agreements(&database_url).await;
    let pool = sqlx::PgPool::connect(&database_url).await.unwrap();
    let period = {
        let today = time::OffsetDateTime::now_utc()
            .to_offset(time::UtcOffset::from_hms(5, 0, 0).unwrap())
            .date();
        events::CalendarMonth::of(today).next().to_string()
    };

    let mut child = Command::new(BINARY)
        .args(["bill", "--period", &period])
        .env("DATABASE_URL", &database_url)
        .env("EDOC_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("edoc-ledger bill runs");
    let started = Instant::now();
    loop {
        let recorded = invoices(&pool).await.len() as i64;
        if recorded >= KILL_AFTER_INVOICES {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the run recorded {recorded} invoices in 2 minutes"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it was killed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = invoices(&pool).await.len();
    assert!(
        before < AGREEMENTS,
        "killed after the run had finished ({before} invoices): the test proves nothing"
    );

    let (status, output) = cli(&database_url, &["bill", "--period", &period]);
    assert_eq!(status, 0, "{output}");
    assert!(output.contains("already invoiced"), "{output}");

    let issued = invoices(&pool).await;
    let mut per_agreement: BTreeMap<&str, usize> = BTreeMap::new();
    for (id, _) in &issued {
        *per_agreement.entry(id.as_str()).or_default() += 1;
    }
    assert_eq!(per_agreement.len(), AGREEMENTS, "every agreement invoiced");
    assert!(
        per_agreement.values().all(|count| *count == 1),
        "each once: {:?}",
        per_agreement.iter().find(|(_, c)| **c != 1)
    );
    let numbers: BTreeSet<i64> = issued.iter().map(|(_, n)| *n).collect();
    assert_eq!(numbers.len(), AGREEMENTS);
    assert_eq!(
        numbers.into_iter().collect::<Vec<_>>(),
        (1..=AGREEMENTS as i64).collect::<Vec<_>>(),
        "gapless numbers"
    );
    assert_eq!(ids.len(), AGREEMENTS);
    let (status, output) = cli(&database_url, &["verify"]);
    assert_eq!(status, 0, "{output}");
    let (status, output) = cli(&database_url, &["replay", "--check"]);
    assert_eq!(status, 0, "{output}");
    pool.close().await;
    drop_database(&name).await;
}
