//! The phases of `edoc-ledger bench` other than the HTTP payments and reads of
//! `http_load`: in process, the raw read the rebuild is compared with, the limit
//! (single-row INSERTs), the command path, the period close and the billing run; through
//! the server, usage ingestion in batches (BILLING.md 3).

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, Executor, Row};

use api::application::commands::{Clock, CommandContext, Ledger, LedgerError, SystemClock};
use api::application::usage::BATCH_RECORDS_MAX;
use api::store::LedgerEventRepository;
use events::CalendarMonth;

use super::{rate, BenchSettings, Throughput};
use crate::history::Rng;
use crate::{iso, BoxError, LatencySummary};

async fn connect(url: &str) -> Result<sqlx::PgConnection, BoxError> {
    let options = PgConnectOptions::from_str(url)?.disable_statement_logging();
    Ok(sqlx::PgConnection::connect_with(&options).await?)
}

pub(super) async fn count_events(url: &str) -> Result<u64, BoxError> {
    let mut connection = connect(url).await?;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&mut connection)
        .await?;
    Ok(count as u64)
}

/// The rebuild's read alone: the same query, each payload decoded into its event (through
/// the upcasters, as the rebuild does), nothing folded or written.
pub(super) async fn raw_read(url: &str) -> Result<Throughput, BoxError> {
    let mut connection = connect(url).await?;
    let started = Instant::now();
    let mut rows = sqlx::query(
        "SELECT aggregate_id, sequence, event_type, event_version, payload FROM events
         WHERE aggregate_type = 'ParticipantAgreement' ORDER BY aggregate_id, sequence",
    )
    .fetch(&mut connection);
    let mut decoded = 0u64;
    while let Some(row) = rows.try_next().await? {
        let _id: String = row.get("aggregate_id");
        let _sequence: i64 = row.get("sequence");
        let event_type: String = row.get("event_type");
        let event_version: String = row.get("event_version");
        let payload: Value = row.get("payload");
        let event = events::upcast::decode(&event_type, &event_version, payload)?;
        std::hint::black_box(&event);
        decoded += 1;
    }
    let elapsed = started.elapsed();
    Ok(Throughput {
        operations: decoded,
        seconds: elapsed.as_secs_f64(),
        per_second: rate(decoded, elapsed),
        latency: None,
        errors: 0,
    })
}

/// Single-row autocommit INSERTs of a recorded payment's row into a scratch copy of the
/// events table (same columns, key and indexes), one connection per client.
pub(super) async fn limit_insert(
    url: &str,
    clients: usize,
    phase: Duration,
) -> Result<Throughput, BoxError> {
    // Checked out like the ledger's own pool (no ping before each checkout), so the
    // limit and the command path pay the same pool costs.
    let pool = PgPoolOptions::new()
        .max_connections(clients as u32)
        .min_connections(clients as u32)
        .test_before_acquire(false)
        .connect_with(PgConnectOptions::from_str(url)?.disable_statement_logging())
        .await?;
    pool.execute("DROP TABLE IF EXISTS bench_limit").await?;
    pool.execute("CREATE TABLE bench_limit (LIKE events INCLUDING ALL)")
        .await?;
    let (payload, metadata): (Value, Value) = sqlx::query_as(
        "SELECT payload, metadata FROM events WHERE event_type = 'PaymentReceived' LIMIT 1",
    )
    .fetch_one(&pool)
    .await?;
    println!(
        "row: {} bytes of payload and metadata JSON",
        payload.to_string().len() + metadata.to_string().len()
    );
    let started = Instant::now();
    let deadline = started + phase;
    let mut tasks = Vec::new();
    for client in 0..clients {
        let (pool, payload, metadata) = (pool.clone(), payload.clone(), metadata.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut sequence = 0i64;
            while Instant::now() < deadline {
                sequence += 1;
                let one = Instant::now();
                sqlx::query(
                    "INSERT INTO bench_limit (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
                     VALUES ('ParticipantAgreement', $1, $2, 'PaymentReceived', '1.0', $3, $4)",
                )
                .bind(format!("limit-{client}"))
                .bind(sequence)
                .bind(&payload)
                .bind(&metadata)
                .execute(&pool)
                .await?;
                latencies.push(one.elapsed());
            }
            Ok::<_, sqlx::Error>(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let elapsed = started.elapsed();
    pool.execute("DROP TABLE bench_limit").await?;
    pool.close().await;
    Ok(Throughput::timed(latencies, elapsed, 0))
}

/// Payments through `Ledger::execute` from `clients` concurrent callers, each on a
/// random agreement: dated today (`days_back` = 0), or 1..=`days_back` days back, which
/// on an agreement already paid today is a payment recorded late (§5.5, BILLING.md 5.1).
/// Returns the throughput and the agreements a payment reached.
pub(super) async fn commands_in_process(
    repository: &LedgerEventRepository,
    agreements: &Arc<Vec<String>>,
    settings: &BenchSettings,
    days_back: u64,
    tag: &'static str,
) -> Result<(Throughput, Vec<String>), BoxError> {
    // The reference tables come from the store's reference stream, as a server's do:
    // each command reads the stream's last sequence first (issue 13).
    let (shipped, _) = api::reference_files::shipped_versions(None)?;
    let ledger = Arc::new(Ledger::on_store(repository.clone(), &shipped).await?);
    let today = SystemClock.today();
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + settings.phase;
    let mut tasks = Vec::new();
    for client in 0..settings.clients {
        let (ledger, agreements, errors) = (ledger.clone(), agreements.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng(0xC0DE_0000 + client as u64);
            let mut latencies = Vec::new();
            let mut reached = Vec::new();
            let mut sent = 0u64;
            while Instant::now() < deadline {
                sent += 1;
                let id = &agreements[rng.below(agreements.len() as u64) as usize];
                let participant = events::ParticipantId::parse(id).expect("a stored BIN/IIN");
                let received_on = if days_back == 0 {
                    today
                } else {
                    today - time::Duration::days(rng.between(1, days_back) as i64)
                };
                let payment: commands::ReceivePayment = serde_json::from_value(json!({
                    "reference": format!("{tag}-C{client}-{sent}"),
                    "received_on": iso(received_on),
                    "amount": format!("{}.{:02}", rng.between(100, 50_000), rng.below(100)),
                }))
                .expect("a valid payment");
                let context = CommandContext {
                    actor: "bench".to_owned(),
                    request_id: format!("bench-{client}-{sent}"),
                    sweep: None,
                    idempotency: None,
                };
                let one = Instant::now();
                match ledger
                    .execute(
                        &participant,
                        commands::AgreementCommand::ReceivePayment(payment),
                        &context,
                    )
                    .await
                {
                    Ok(_) => {
                        latencies.push(one.elapsed());
                        reached.push(id.clone());
                    }
                    Err(error) => {
                        if errors.fetch_add(1, Ordering::Relaxed) < 5 {
                            eprintln!("command failed on {id}: {error}");
                        }
                    }
                }
            }
            (latencies, reached)
        }));
    }
    let mut latencies = Vec::new();
    let mut reached = Vec::new();
    for task in tasks {
        let (timed, ids) = task.await?;
        latencies.extend(timed);
        reached.extend(ids);
    }
    reached.sort();
    reached.dedup();
    Ok((
        Throughput::timed(latencies, started.elapsed(), errors.load(Ordering::Relaxed)),
        reached,
    ))
}

/// What closing a month cost (BILLING.md 5.4).
#[derive(Debug, Clone, serde::Serialize)]
pub struct PeriodCloseFigures {
    /// The month closed: the history's first with documents.
    pub period: String,
    /// `GET /v1/periods` in process: every stored ledger read once.
    pub list_seconds: f64,
    /// The close: every agreement's month summed under the lock, the digest, the seal.
    pub close_seconds: f64,
    /// Chains the seal's digest covers (the agreements and the operator's streams).
    pub chains: u64,
    pub agreements_per_second: f64,
}

/// Closes the history's first month with documents, timing the list and the close.
pub(super) async fn period_close(
    repository: &LedgerEventRepository,
) -> Result<PeriodCloseFigures, BoxError> {
    let (shipped, _) = api::reference_files::shipped_versions(None)?;
    let ledger = Ledger::on_store(repository.clone(), &shipped).await?;
    let started = Instant::now();
    let periods = api::application::periods::periods(&ledger, None).await?;
    let list_seconds = started.elapsed().as_secs_f64();
    let period = periods
        .months
        .first()
        .map(|m| m.period.clone())
        .ok_or("the history has no document")?;
    let closer = api::application::periods::Closer {
        actor: "bench".to_owned(),
        request_id: "bench-period-close".to_owned(),
        note: None,
    };
    let started = Instant::now();
    let seal = api::application::periods::close_period(&ledger, &period, &closer).await?;
    let elapsed = started.elapsed();
    Ok(PeriodCloseFigures {
        period,
        list_seconds,
        close_seconds: elapsed.as_secs_f64(),
        chains: seal.chains,
        agreements_per_second: rate(seal.chains, elapsed),
    })
}

/// The metric usage is reported in: the one the benchmark's tariff includes a volume of.
const USAGE_METRIC: &str = "documents";

/// One usage record as `POST /v1/usage` takes it (BILLING.md 3).
#[derive(Serialize)]
struct UsageRecordSent<'a> {
    id: String,
    participant_id: &'a str,
    metric: &'static str,
    quantity: u64,
    occurred_on: &'a str,
}

#[derive(Serialize)]
struct UsageBatchSent<'a> {
    records: Vec<UsageRecordSent<'a>>,
}

/// The body of a batch of [`BATCH_RECORDS_MAX`] records numbered from `first`: ids
/// `b{client}-{n}` (short, so that a full batch stays well under the server's body
/// limit), each on a random agreement of `agreements`, 1-50 documents, on a random date
/// of `dates`.
fn usage_batch(
    client: usize,
    first: u64,
    rng: &mut Rng,
    agreements: &[String],
    dates: &[String],
) -> Vec<u8> {
    let records = (first..first + BATCH_RECORDS_MAX as u64)
        .map(|n| UsageRecordSent {
            id: format!("b{client}-{n}"),
            participant_id: &agreements[rng.below(agreements.len() as u64) as usize],
            metric: USAGE_METRIC,
            quantity: rng.between(1, 50),
            occurred_on: &dates[rng.below(dates.len() as u64) as usize],
        })
        .collect();
    serde_json::to_vec(&UsageBatchSent { records }).expect("a usage batch serializes")
}

/// The business dates usage is reported on: the previous month's first day to `today`
/// (never after it: the server refuses usage from the future).
fn usage_dates(today: time::Date) -> Vec<String> {
    let from = CalendarMonth::of(today).previous().first_day();
    (0..=(today - from).whole_days())
        .map(|day| iso(from + time::Duration::days(day)))
        .collect()
}

/// What usage ingestion measured: `POST /v1/usage` batches through the server.
#[derive(Debug, Clone, Serialize)]
pub struct UsageIngestionFigures {
    /// Records in every batch: the most one batch may hold.
    pub records_per_batch: usize,
    /// The largest body sent, in bytes, and the most the server takes.
    pub largest_body_bytes: usize,
    pub body_bytes_max: usize,
    /// Batches answered 200.
    pub batches: u64,
    /// Records the server wrote (the sum of its `accepted`).
    pub records: u64,
    /// Records it counted as already recorded: none expected, every id is new.
    pub duplicates: u64,
    pub seconds: f64,
    pub records_per_second: f64,
    pub batches_per_second: f64,
    /// Of the batches answered 200, from send to the end of the answer.
    pub latency: LatencySummary,
    /// Batches not answered 200 (0: the connection failed), the first few of them shown.
    pub errors: u64,
    pub failures: Vec<String>,
}

#[derive(Default)]
struct UsageTally {
    latencies: Vec<Duration>,
    largest_body: usize,
    records: u64,
    duplicates: u64,
    errors: u64,
    failures: Vec<String>,
}

/// `clients` concurrent clients, each posting its next batch of [`BATCH_RECORDS_MAX`]
/// usage records to `POST /v1/usage` as soon as the last is answered, for `phase`
/// (BILLING.md 3): records on random `agreements`, dated in `today`'s month or the one
/// before.
pub(super) async fn usage_ingestion(
    base: &str,
    token: &str,
    agreements: &Arc<Vec<String>>,
    clients: usize,
    phase: Duration,
    today: time::Date,
) -> Result<UsageIngestionFigures, BoxError> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .timeout(Duration::from_secs(60))
        .build()?;
    let dates = Arc::new(usage_dates(today));
    let url = format!("{base}/v1/usage");
    let started = Instant::now();
    let deadline = started + phase;
    let mut tasks = Vec::with_capacity(clients);
    for number in 0..clients {
        let (client, agreements, dates) = (client.clone(), agreements.clone(), dates.clone());
        let (url, token) = (url.clone(), token.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng(0x05A6_E000 + number as u64);
            let mut tally = UsageTally::default();
            let mut first = 1u64;
            while Instant::now() < deadline {
                let body = usage_batch(number, first, &mut rng, &agreements, &dates);
                first += BATCH_RECORDS_MAX as u64;
                tally.largest_body = tally.largest_body.max(body.len());
                let one = Instant::now();
                let (status, text) = match client
                    .post(&url)
                    .bearer_auth(&token)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body)
                    .send()
                    .await
                {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        (status, response.text().await.unwrap_or_default())
                    }
                    Err(error) => (0, error.to_string()),
                };
                let elapsed = one.elapsed();
                let answer = serde_json::from_str::<Value>(&text).ok();
                let counts = answer
                    .filter(|_| status == 200)
                    .and_then(|a| Some((a["accepted"].as_u64()?, a["duplicates"].as_u64()?)));
                match counts {
                    Some((accepted, duplicates)) => {
                        tally.latencies.push(elapsed);
                        tally.records += accepted;
                        tally.duplicates += duplicates;
                    }
                    None => {
                        tally.errors += 1;
                        if tally.failures.len() < 5 {
                            let text: String = text.chars().take(300).collect();
                            tally.failures.push(format!("{status} {text}"));
                        }
                    }
                }
            }
            tally
        }));
    }
    let mut all = UsageTally::default();
    for task in tasks {
        let tally = task.await?;
        all.latencies.extend(tally.latencies);
        all.largest_body = all.largest_body.max(tally.largest_body);
        all.records += tally.records;
        all.duplicates += tally.duplicates;
        all.errors += tally.errors;
        all.failures.extend(tally.failures);
    }
    let elapsed = started.elapsed();
    all.failures.truncate(10);
    let batches = all.latencies.len() as u64;
    Ok(UsageIngestionFigures {
        records_per_batch: BATCH_RECORDS_MAX,
        largest_body_bytes: all.largest_body,
        body_bytes_max: api::http::extract::REQUEST_BODY_BYTES_MAX,
        batches,
        records: all.records,
        duplicates: all.duplicates,
        seconds: elapsed.as_secs_f64(),
        records_per_second: rate(all.records, elapsed),
        batches_per_second: rate(batches, elapsed),
        latency: LatencySummary::of(&mut all.latencies),
        errors: all.errors,
        failures: all.failures,
    })
}

/// The tariff the billing run's agreements subscribe to.
const BENCH_TARIFF: &str = "standard";

/// Publishes a version of [`BENCH_TARIFF`] that prices from `effective_from` (after
/// today, BILLING.md 2) through `PUT /v1/tariffs/{code}` on the server; returns the
/// version's id (`standard-v1`).
pub(super) async fn publish_tariff(
    base: &str,
    token: &str,
    effective_from: time::Date,
) -> Result<String, BoxError> {
    let response = reqwest::Client::new()
        .put(format!("{base}/v1/tariffs/{BENCH_TARIFF}"))
        .bearer_auth(token)
        .json(&json!({
            "name": "Стандарт",
            "effective_from": iso(effective_from),
            "fees": {"KZT": "5000.00", "USD": "10.00"},
            "included": {USAGE_METRIC: 100},
            "overage": {USAGE_METRIC: {"KZT": "50.00", "USD": "0.10"}},
        }))
        .send()
        .await?;
    let status = response.status();
    let body: Value = response.json().await?;
    match body["version"]["id"].as_str() {
        Some(id) if status == reqwest::StatusCode::CREATED => Ok(id.to_owned()),
        _ => Err(format!("PUT /v1/tariffs/{BENCH_TARIFF} answered {status}: {body}").into()),
    }
}

/// What the billing run measured (BILLING.md 4).
#[derive(Debug, Clone, Serialize)]
pub struct BillingRunFigures {
    /// The month billed: the next one, the first the tariff version prices.
    pub period: String,
    pub issued_on: String,
    /// The tariff version the agreements subscribed to from the month's first day.
    pub tariff: String,
    /// Agreements subscribed (`Ledger::execute` with `Subscribe`), and the others by
    /// the reason the subscription was refused (unsigned, terminated).
    pub subscribed: u64,
    pub not_subscribed: BTreeMap<String, u64>,
    /// Publishing the tariff and subscribing the agreements: the run's setup, not timed
    /// in the figure.
    pub setup_seconds: f64,
    /// Agreements the run went over: every stored one.
    pub agreements: u64,
    /// Subscription invoices issued.
    pub invoices: u64,
    /// Agreements not invoiced, by the run's reason (blocked, terminated, no
    /// subscription), and how many of them were subscribed.
    pub skipped: BTreeMap<String, u64>,
    pub skipped_subscribed: u64,
    pub already_invoiced: u64,
    pub refused: u64,
    pub seconds: f64,
    pub invoices_per_second: f64,
    /// Write conflicts retried during the run: races lost for the operator-wide next
    /// invoice number (or an agreement), each decided again after a pause.
    pub conflicts_retried: u64,
    /// What does not add up: empty when every subscribed agreement the run may bill got
    /// exactly one invoice and nothing was refused.
    pub errors: Vec<String>,
}

/// Subscribes every stored agreement to `tariff` from `period`'s first day (in
/// process, `clients` at a time), then times the billing run of `period` issued today,
/// in process as `edoc-ledger bill` runs it. `publish_seconds`: the tariff's
/// publication, counted in the setup.
pub(super) async fn billing_run(
    repository: &LedgerEventRepository,
    tariff: &str,
    period: CalendarMonth,
    clients: usize,
    publish_seconds: f64,
) -> Result<BillingRunFigures, BoxError> {
    let (shipped, _) = api::reference_files::shipped_versions(None)?;
    let ledger = Arc::new(Ledger::on_store(repository.clone(), &shipped).await?);
    let issued_on = ledger.today();
    let ids = repository.participant_ids().await?;
    let code = events::TariffCode::parse(BENCH_TARIFF).expect("a valid tariff code");

    let started = Instant::now();
    let progress = super::progress_bar(ids.len() as u64, "subscribe", "agreements");
    let mut subscriptions = futures::stream::iter(ids.iter().map(|id| {
        let (ledger, code) = (&ledger, code.clone());
        async move {
            let participant = events::ParticipantId::parse(id).expect("a stored BIN/IIN");
            let context = CommandContext {
                actor: "bench".to_owned(),
                request_id: format!("bench-subscription-{id}"),
                sweep: None,
                idempotency: None,
            };
            let subscribe = commands::Subscribe {
                tariff: code,
                from: period.first_day(),
            };
            let outcome = ledger
                .execute(
                    &participant,
                    commands::AgreementCommand::Subscribe(subscribe),
                    &context,
                )
                .await;
            (id, outcome)
        }
    }))
    .buffer_unordered(clients);
    let mut subscribed = BTreeSet::new();
    let mut not_subscribed: BTreeMap<String, u64> = BTreeMap::new();
    let mut errors = Vec::new();
    while let Some((id, outcome)) = subscriptions.next().await {
        progress.inc(1);
        let reason = match outcome {
            Ok(_) => {
                subscribed.insert(id.as_str());
                continue;
            }
            Err(LedgerError::Refused(aggregates::AgreementError::NotSigned { .. })) => {
                "not signed".to_owned()
            }
            Err(LedgerError::Refused(aggregates::AgreementError::AlreadyTerminated { .. })) => {
                "terminated".to_owned()
            }
            Err(other) => {
                if errors.len() < 10 {
                    errors.push(format!("subscribing {id}: {other}"));
                }
                other.to_string()
            }
        };
        *not_subscribed.entry(reason).or_default() += 1;
    }
    drop(subscriptions);
    progress.finish_and_clear();
    let setup_seconds = publish_seconds + started.elapsed().as_secs_f64();

    let progress = super::progress_bar(ids.len() as u64, "billing", "agreements");
    let conflicts_before = api::metrics::conflicts_retried();
    let started = Instant::now();
    let report = api::application::billing::run(&ledger, "bench", period, issued_on, |done, _| {
        progress.set_position(done)
    })
    .await?;
    let elapsed = started.elapsed();
    let conflicts_retried = api::metrics::conflicts_retried() - conflicts_before;
    progress.finish_and_clear();

    let invoiced: BTreeSet<&str> = report
        .issued
        .iter()
        .map(|line| line.participant_id.as_str())
        .collect();
    let mut skipped: BTreeMap<String, u64> = BTreeMap::new();
    let mut skipped_subscribed = 0u64;
    for agreement in &report.skipped {
        *skipped.entry(agreement.reason.clone()).or_default() += 1;
        if subscribed.contains(agreement.participant_id.as_str()) {
            skipped_subscribed += 1;
        }
    }
    let expected = subscribed.len() as u64 - skipped_subscribed;
    if report.issued.len() as u64 != expected {
        errors.push(format!(
            "{} invoices issued, {expected} expected: {} agreements subscribed, {skipped_subscribed} of them skipped",
            report.issued.len(),
            subscribed.len()
        ));
    }
    if invoiced.len() != report.issued.len() {
        errors.push(format!(
            "{} invoices issued to {} agreements: one each expected",
            report.issued.len(),
            invoiced.len()
        ));
    }
    if let Some(id) = invoiced.iter().find(|id| !subscribed.contains(**id)) {
        errors.push(format!("{id} invoiced without a subscription"));
    }
    if !report.already_invoiced.is_empty() {
        errors.push(format!(
            "{} agreements already invoiced for {period} before the run",
            report.already_invoiced.len()
        ));
    }
    for refused in report.refused.iter().take(10) {
        errors.push(format!(
            "billing {} refused: {}",
            refused.participant_id, refused.reason
        ));
    }
    let invoices = report.issued.len() as u64;
    Ok(BillingRunFigures {
        period: period.to_string(),
        issued_on: iso(issued_on),
        tariff: tariff.to_owned(),
        subscribed: subscribed.len() as u64,
        not_subscribed,
        setup_seconds,
        agreements: report.agreements,
        invoices,
        skipped,
        skipped_subscribed,
        already_invoiced: report.already_invoiced.len() as u64,
        refused: report.refused.len() as u64,
        seconds: elapsed.as_secs_f64(),
        invoices_per_second: rate(invoices, elapsed),
        conflicts_retried,
        errors,
    })
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    /// A full batch with the longest ids a run makes (client 255, record numbers of 12
    /// digits) stays under the server's body limit, and holds the records
    /// `POST /v1/usage` takes, no more.
    #[test]
    fn a_full_usage_batch_fits_the_body_limit() {
        let agreements = vec!["150240008272".to_owned(), "990101300123".to_owned()];
        let dates = usage_dates(date!(2026 - 12 - 04));
        let body = usage_batch(255, 999_999_999_000, &mut Rng(1), &agreements, &dates);
        assert!(
            body.len() < api::http::extract::REQUEST_BODY_BYTES_MAX * 3 / 4,
            "{} bytes",
            body.len()
        );
        let batch: Value = serde_json::from_slice(&body).unwrap();
        let records = batch["records"].as_array().unwrap();
        assert_eq!(records.len(), BATCH_RECORDS_MAX);
        let first = records[0].as_object().unwrap();
        let mut fields: Vec<&str> = first.keys().map(String::as_str).collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            ["id", "metric", "occurred_on", "participant_id", "quantity"]
        );
        assert_eq!(first["id"], "b255-999999999000");
        assert_eq!(first["metric"], "documents");
        assert!((1..=50).contains(&first["quantity"].as_u64().unwrap()));
        assert!(dates.iter().any(|d| first["occurred_on"] == d.as_str()));
        assert!(agreements
            .iter()
            .any(|a| first["participant_id"] == a.as_str()));
    }

    /// Usage is dated from the first day of the month before today's to today, across
    /// a year's end too.
    #[test]
    fn usage_is_dated_in_this_month_or_the_last_never_after_today() {
        let dates = usage_dates(date!(2027 - 01 - 03));
        assert_eq!(dates.first().map(String::as_str), Some("2026-12-01"));
        assert_eq!(dates.last().map(String::as_str), Some("2027-01-03"));
        assert_eq!(dates.len(), 31 + 3);
    }
}

/// What the feed consumer measured: `GET /v1/events` pages through the server.
#[derive(Debug, Clone, Serialize)]
pub struct FeedFigures {
    /// Events per page asked (the most the feed answers).
    pub page_size: i64,
    pub pages: u64,
    pub events: u64,
    /// The last position read.
    pub through: i64,
    pub seconds: f64,
    pub events_per_second: f64,
    /// Per page, from send to the end of the answer.
    pub latency: LatencySummary,
    /// Pages not answered 200, the first few shown.
    pub errors: u64,
    pub failures: Vec<String>,
}

/// One consumer reading the global feed (INTEGRATION.md 1) from the start, page after
/// page of [`api::application::feed::FEED_PAGE_MAX`] events, for `phase` or until it
/// has caught up.
pub(super) async fn feed_consumer(
    base: &str,
    token: &str,
    phase: Duration,
) -> Result<FeedFigures, BoxError> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let page_size = api::application::feed::FEED_PAGE_MAX;
    let started = Instant::now();
    let deadline = started + phase;
    let (mut after, mut pages, mut events, mut errors) = (0i64, 0u64, 0u64, 0u64);
    let mut latencies = Vec::new();
    let mut failures = Vec::new();
    while Instant::now() < deadline {
        let one = Instant::now();
        let response = client
            .get(format!("{base}/v1/events?after={after}&limit={page_size}"))
            .bearer_auth(token)
            .send()
            .await;
        let page = match response {
            Ok(response) if response.status() == 200 => response.json::<Value>().await.ok(),
            Ok(response) => {
                let status = response.status();
                let text: String = response
                    .text()
                    .await
                    .unwrap_or_default()
                    .chars()
                    .take(300)
                    .collect();
                failures.push(format!("{status} {text}"));
                None
            }
            Err(error) => {
                failures.push(error.to_string());
                None
            }
        };
        let Some(page) = page else {
            errors += 1;
            if errors > 5 {
                break;
            }
            continue;
        };
        latencies.push(one.elapsed());
        pages += 1;
        let read = page["events"].as_array().map_or(0, Vec::len) as u64;
        events += read;
        let next = page["next"].as_i64().unwrap_or(after);
        if next == after {
            break; // caught up
        }
        after = next;
    }
    let elapsed = started.elapsed();
    failures.truncate(5);
    Ok(FeedFigures {
        page_size,
        pages,
        events,
        through: after,
        seconds: elapsed.as_secs_f64(),
        events_per_second: events as f64 / elapsed.as_secs_f64().max(1e-9),
        latency: LatencySummary::of(&mut latencies),
        errors,
        failures,
    })
}

/// What importing one bank statement cost (INTEGRATION.md 2).
#[derive(Debug, Clone, Serialize)]
pub struct StatementImportFigures {
    /// Credit lines in the statement (camt.053.001.08, generated).
    pub lines: u64,
    /// The statement file's size.
    pub bytes: u64,
    /// Agreements the lines were spread over (taken in turn).
    pub agreements: u64,
    pub matched: u64,
    /// Lines an agreement refused or that matched none (a terminated or USD agreement):
    /// kept unmatched, counted in the figure like the others.
    pub unmatched: u64,
    pub duplicates: u64,
    /// Parse, match, record every payment (batched) and store the statement.
    pub seconds: f64,
    pub lines_per_second: f64,
}

/// How many agreements the statement's lines are spread over at most.
pub(super) const STATEMENT_AGREEMENTS_MAX: usize = 100;

/// How many statements the phase imports, one after another, each over agreements of its
/// own: one import lasts well under a second, so a single one measures the machine's
/// mood as much as the import; the phase reports the median.
pub(super) const STATEMENT_RUNS: usize = 3;

/// [`STATEMENT_RUNS`] statements of `lines` lines imported one after another, each over
/// its own stored agreements: every run's figures, and the run of median speed.
pub(super) async fn statement_imports(
    repository: &LedgerEventRepository,
    lines: usize,
) -> Result<(Vec<StatementImportFigures>, StatementImportFigures), BoxError> {
    let mut runs = Vec::with_capacity(STATEMENT_RUNS);
    for run in 0..STATEMENT_RUNS {
        runs.push(statement_import(repository, lines, run).await?);
    }
    let mut by_speed = runs.clone();
    by_speed.sort_by(|a, b| a.lines_per_second.total_cmp(&b.lines_per_second));
    let median = by_speed[by_speed.len() / 2].clone();
    Ok((runs, median))
}

/// Imports a generated statement of `lines` credits over the `run`-th hundred of stored
/// agreements ([`STATEMENT_AGREEMENTS_MAX`]), value-dated today, in process as
/// `POST /v1/bank-statements` and `edoc-ledger statement import` do: lines per second.
pub(super) async fn statement_import(
    repository: &LedgerEventRepository,
    lines: usize,
    run: usize,
) -> Result<StatementImportFigures, BoxError> {
    use api::application::statements::generate::{camt053_of_credits, round_robin_credits};
    let (shipped, _) = api::reference_files::shipped_versions(None)?;
    let ledger = Arc::new(Ledger::on_store(repository.clone(), &shipped).await?);
    // The run-th hundred of agreements; a store with fewer takes them again (the
    // references are the run's own, so its payments are new all the same).
    let stored = repository.participant_ids().await?;
    let hundreds = stored.len().div_ceil(STATEMENT_AGREEMENTS_MAX).max(1);
    let payers: Vec<events::ParticipantId> = stored
        .iter()
        .skip((run % hundreds) * STATEMENT_AGREEMENTS_MAX)
        .take(STATEMENT_AGREEMENTS_MAX)
        .map(|id| events::ParticipantId::parse(id).expect("a stored BIN/IIN"))
        .collect();
    let credits = round_robin_credits(&format!("BENCH-STMT{run}"), &payers, lines, ledger.today());
    let file = camt053_of_credits(
        &format!("BENCH-STMT-{run}"),
        "KZ86125KZT5004100100",
        events::Currency::KZT,
        &credits,
    );
    let context = CommandContext {
        actor: "bench".to_owned(),
        request_id: "bench-statement".to_owned(),
        sweep: None,
        idempotency: None,
    };
    // The import is timed as a running server makes it, on a pool whose connections are
    // open: a fresh pool opens one per chunk task as the burst first needs it (some 25
    // ms each, performance.md).
    repository.open_connections().await?;
    let progress = super::progress_bar(lines as u64, "statement", "lines");
    let started = Instant::now();
    let imported = api::application::statements::import::import(
        &ledger,
        file.as_bytes(),
        &context,
        |done, _| progress.set_position(done),
    )
    .await?;
    let seconds = started.elapsed().as_secs_f64();
    progress.finish_and_clear();
    let summary = imported.summary;
    Ok(StatementImportFigures {
        lines: summary.lines,
        bytes: file.len() as u64,
        agreements: payers.len() as u64,
        matched: summary.matched,
        unmatched: summary.unmatched,
        duplicates: summary.duplicates,
        seconds,
        lines_per_second: rate(
            summary.lines,
            started.elapsed().max(Duration::from_nanos(1)),
        ),
    })
}
