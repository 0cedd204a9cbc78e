//! An HTTP load generator for the ledger's own API: `clients` concurrent keep-alive
//! connections, each sending its next request as soon as the last is answered (a closed
//! loop, like wrk), for a fixed time. Used by `edoc-ledger bench` (payments, then as-of
//! balance reads) and `edoc-ledger load` (a mix of payments, invoices and reads).
//!
//! Every request is timed from send to the end of the body; the report gives requests per
//! second, latency percentiles overall and by kind, and the count of every status.

// Timings and rates are floats here; no money is ever computed in this module.
#![allow(clippy::float_arithmetic)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{json, Value};
use time::Date;

use super::history::Rng;
use super::{BoxError, LatencySummary};

/// What a load client sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// `POST /v1/agreements/{id}/payments`, a fresh reference each time.
    Payment,
    /// `POST /v1/agreements/{id}/invoices`, a usage invoice of one line.
    UsageInvoice,
    /// `GET /v1/agreements/{id}/balance?as_of=` a random date of the history.
    BalanceAsOf,
    /// `GET /v1/agreements/{id}/invoices`.
    Invoices,
    /// `POST /account/{id}` `{"DepositMoney": ...}` to the cqrs-es demo's server
    /// ([`crate::cqrs_demo`]), the yardstick of [`RequestKind::Payment`].
    DemoDeposit,
}

impl RequestKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Payment => "payment",
            Self::UsageInvoice => "usage invoice",
            Self::BalanceAsOf => "balance as of",
            Self::Invoices => "invoices",
            Self::DemoDeposit => "cqrs-es demo deposit",
        }
    }
}

/// The share of each kind of request, in percent (they add up to 100).
#[derive(Debug, Clone)]
pub struct RequestMix(pub Vec<(RequestKind, u64)>);

impl RequestMix {
    fn pick(&self, rng: &mut Rng) -> RequestKind {
        let mut roll = rng.below(100);
        for (kind, percent) in &self.0 {
            if roll < *percent {
                return *kind;
            }
            roll -= percent;
        }
        self.0
            .last()
            .map_or(RequestKind::Payment, |(kind, _)| *kind)
    }
}

/// What to load and how hard.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    /// `http://host:port`.
    pub base: String,
    pub token: String,
    /// The agreements requests are spread over (uniformly at random).
    pub agreements: Arc<Vec<String>>,
    pub clients: usize,
    pub duration: Duration,
    pub mix: RequestMix,
    /// The business date of payments and invoices (the server's today).
    pub today: Date,
    /// The range of `as_of` dates read.
    pub read_from: Date,
    pub read_to: Date,
    /// Makes references unique across runs on one store.
    pub run_tag: String,
}

/// What a load run measured.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    pub clients: usize,
    pub seconds: f64,
    pub requests: u64,
    pub requests_per_second: f64,
    pub latency: LatencySummary,
    /// Count by HTTP status (0: the connection failed).
    pub statuses: BTreeMap<u16, u64>,
    pub non_2xx: u64,
    /// 409s with the problem type `concurrent-write` (retries exhausted, API.md).
    pub conflicts_exhausted: u64,
    pub by_kind: BTreeMap<RequestKind, KindReport>,
    /// The first few non-2xx answers, for the reader.
    pub failures: Vec<String>,
    /// Every payment the server acknowledged (2xx), for a check that each is recorded
    /// exactly once (tests/cluster/failover.sh).
    #[serde(skip)]
    pub acknowledged_payments: Vec<AcknowledgedPayment>,
}

/// A payment the server answered 2xx.
#[derive(Debug, Clone, Serialize)]
pub struct AcknowledgedPayment {
    pub participant_id: String,
    pub reference: String,
    pub amount: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct KindReport {
    pub requests: u64,
    pub latency: LatencySummary,
}

struct ClientTally {
    latencies: Vec<(RequestKind, Duration)>,
    statuses: BTreeMap<u16, u64>,
    conflicts_exhausted: u64,
    failures: Vec<String>,
    acknowledged: Vec<AcknowledgedPayment>,
}

/// Runs the plan and reports.
pub async fn run(plan: &LoadPlan) -> Result<LoadReport, BoxError> {
    assert!(plan.clients > 0 && !plan.agreements.is_empty());
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(plan.clients)
        .timeout(Duration::from_secs(60))
        .build()?;
    let started = Instant::now();
    let deadline = started + plan.duration;
    let mut tasks = Vec::with_capacity(plan.clients);
    for number in 0..plan.clients {
        let (client, plan) = (client.clone(), plan.clone());
        tasks.push(tokio::spawn(async move {
            load_client(number, &client, &plan, deadline).await
        }));
    }
    let mut latencies = Vec::new();
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    let mut conflicts_exhausted = 0;
    let mut failures = Vec::new();
    let mut acknowledged_payments = Vec::new();
    for task in tasks {
        let tally = task.await?;
        latencies.extend(tally.latencies);
        for (status, count) in tally.statuses {
            *statuses.entry(status).or_default() += count;
        }
        conflicts_exhausted += tally.conflicts_exhausted;
        failures.extend(tally.failures);
        acknowledged_payments.extend(tally.acknowledged);
    }
    let elapsed = started.elapsed();
    failures.truncate(10);
    let mut by_kind_latencies: BTreeMap<RequestKind, Vec<Duration>> = BTreeMap::new();
    for (kind, latency) in &latencies {
        by_kind_latencies.entry(*kind).or_default().push(*latency);
    }
    let by_kind = by_kind_latencies
        .into_iter()
        .map(|(kind, mut latencies)| {
            (
                kind,
                KindReport {
                    requests: latencies.len() as u64,
                    latency: LatencySummary::of(&mut latencies),
                },
            )
        })
        .collect();
    let mut all: Vec<Duration> = latencies.into_iter().map(|(_, latency)| latency).collect();
    let requests = all.len() as u64;
    let non_2xx = statuses
        .iter()
        .filter(|(status, _)| !(200..300).contains(*status))
        .map(|(_, count)| count)
        .sum();
    Ok(LoadReport {
        clients: plan.clients,
        seconds: elapsed.as_secs_f64(),
        requests,
        requests_per_second: requests as f64 / elapsed.as_secs_f64(),
        latency: LatencySummary::of(&mut all),
        statuses,
        non_2xx,
        conflicts_exhausted,
        by_kind,
        failures,
        acknowledged_payments,
    })
}

async fn load_client(
    number: usize,
    client: &reqwest::Client,
    plan: &LoadPlan,
    deadline: Instant,
) -> ClientTally {
    let mut rng = Rng(0xB0B0_0000 + number as u64);
    let mut tally = ClientTally {
        latencies: Vec::with_capacity(64 * 1024),
        statuses: BTreeMap::new(),
        conflicts_exhausted: 0,
        failures: Vec::new(),
        acknowledged: Vec::new(),
    };
    let today = super::iso(plan.today);
    let read_days = (plan.read_to - plan.read_from).whole_days().max(0) as u64;
    let mut sent = 0u64;
    while Instant::now() < deadline {
        sent += 1;
        let id = &plan.agreements[rng.below(plan.agreements.len() as u64) as usize];
        let kind = plan.mix.pick(&mut rng);
        let mut payment = None;
        let request = match kind {
            RequestKind::Payment => {
                let reference = format!("{}-C{number}-{sent}", plan.run_tag);
                let amount = format!("{}.{:02}", rng.between(100, 50_000), rng.below(100));
                let request = client
                    .post(format!("{}/v1/agreements/{id}/payments", plan.base))
                    .json(&json!({
                        "reference": reference,
                        "received_on": today,
                        "amount": amount,
                    }));
                payment = Some(AcknowledgedPayment {
                    participant_id: id.clone(),
                    reference,
                    amount,
                });
                request
            }
            RequestKind::UsageInvoice => client
                .post(format!("{}/v1/agreements/{id}/invoices", plan.base))
                .json(&json!({
                    "kind": "usage",
                    "issued_on": today,
                    "lines": [{
                        "description": "Документы сверх тарифа",
                        "quantity": rng.between(1, 400),
                        "unit_price": format!("{}.00", rng.between(5, 200)),
                    }],
                })),
            RequestKind::BalanceAsOf => {
                let as_of = plan.read_from + time::Duration::days(rng.below(read_days + 1) as i64);
                client.get(format!(
                    "{}/v1/agreements/{id}/balance?as_of={}",
                    plan.base,
                    super::iso(as_of)
                ))
            }
            RequestKind::Invoices => {
                client.get(format!("{}/v1/agreements/{id}/invoices", plan.base))
            }
            RequestKind::DemoDeposit => client.post(format!("{}/account/{id}", plan.base)).json(
                &json!({
                    "DepositMoney": {
                        "amount": rng.between(100, 50_000) as f64 + rng.below(100) as f64 / 100.0
                    }
                }),
            ),
        };
        let started = Instant::now();
        let (status, body) = match request.bearer_auth(&plan.token).send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                match response.bytes().await {
                    Ok(body) => (status, body),
                    Err(_) => (0, Default::default()),
                }
            }
            Err(_) => (0, Default::default()),
        };
        tally.latencies.push((kind, started.elapsed()));
        *tally.statuses.entry(status).or_default() += 1;
        if (200..300).contains(&status) {
            tally.acknowledged.extend(payment);
        } else {
            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            if status == 409 && body["type"] == "urn:edoc-ledger:problem:concurrent-write" {
                tally.conflicts_exhausted += 1;
            }
            if tally.failures.len() < 10 {
                tally
                    .failures
                    .push(format!("{} {id}: {status} {body}", kind.name()));
            }
        }
    }
    tally
}
