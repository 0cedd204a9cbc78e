//! What the server tells operators about itself (`GET /metrics`, Prometheus text format;
//! issue 6): HTTP requests and their latency by route and status, commands recorded by
//! type, write conflicts retried, store errors, webhook delivery attempts by outcome, and
//! which background jobs' leases this server holds.
//! One registry per process.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// The metrics of this process.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    commands: IntCounterVec,
    conflicts_retried: IntCounter,
    store_errors: IntCounter,
    webhook_attempts: IntCounterVec,
    leases_held: IntGaugeVec,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let registry = Registry::new_custom(Some("edoc_ledger".to_owned()), None)
        .expect("a valid registry prefix");
    let requests = IntCounterVec::new(
        Opts::new(
            "http_requests_total",
            "HTTP requests answered, by route and status",
        ),
        &["method", "route", "status"],
    )
    .expect("valid metric");
    let latency = HistogramVec::new(
        HistogramOpts::new(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by route and status",
        )
        .buckets(vec![
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
        ]),
        &["method", "route", "status"],
    )
    .expect("valid metric");
    let commands = IntCounterVec::new(
        Opts::new(
            "commands_recorded_total",
            "Commands that recorded events, by command",
        ),
        &["command"],
    )
    .expect("valid metric");
    let conflicts_retried = IntCounter::new(
        "write_conflicts_retried_total",
        "Commands decided again after losing a race to a concurrent write",
    )
    .expect("valid metric");
    let store_errors = IntCounter::new(
        "store_errors_total",
        "Requests that failed because the event store failed or did not answer",
    )
    .expect("valid metric");
    let webhook_attempts = IntCounterVec::new(
        Opts::new(
            "webhook_delivery_attempts_total",
            "Webhook delivery attempts, by outcome (delivered, failed, parked)",
        ),
        &["outcome"],
    )
    .expect("valid metric");
    let leases_held = IntGaugeVec::new(
        Opts::new(
            "job_lease_held",
            "1 while this server holds the job's lease and runs it, 0 otherwise (application::jobs)",
        ),
        &["job"],
    )
    .expect("valid metric");
    for collector in [
        Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
        Box::new(latency.clone()),
        Box::new(commands.clone()),
        Box::new(conflicts_retried.clone()),
        Box::new(store_errors.clone()),
        Box::new(webhook_attempts.clone()),
        Box::new(leases_held.clone()),
    ] {
        registry
            .register(collector)
            .expect("each metric registered once");
    }
    Metrics {
        registry,
        requests,
        latency,
        commands,
        conflicts_retried,
        store_errors,
        webhook_attempts,
        leases_held,
    }
});

/// Counts an answered request and its latency.
pub fn record_request(method: &str, route: &str, status: u16, elapsed: Duration) {
    let status = status.to_string();
    let labels = [method, route, status.as_str()];
    METRICS.requests.with_label_values(&labels).inc();
    METRICS
        .latency
        .with_label_values(&labels)
        .observe(elapsed.as_secs_f64());
}

/// Counts a command that recorded events.
pub fn record_command(command: &str) {
    METRICS.commands.with_label_values(&[command]).inc();
}

/// Counts a write conflict that was retried.
pub fn record_conflict() {
    METRICS.conflicts_retried.inc();
}

/// Counts a request failed by the store.
pub fn record_store_error() {
    METRICS.store_errors.inc();
}

/// Counts a webhook delivery attempt by its outcome.
pub fn record_webhook_attempt(outcome: &str) {
    METRICS.webhook_attempts.with_label_values(&[outcome]).inc();
}

/// Whether this server holds job `job`'s lease now.
pub fn lease_held(job: &str, held: bool) {
    METRICS
        .leases_held
        .with_label_values(&[job])
        .set(i64::from(held));
}

/// Write conflicts retried since the process started.
pub fn conflicts_retried() -> u64 {
    METRICS.conflicts_retried.get()
}

/// Every metric in the Prometheus text format.
pub fn render() -> String {
    let mut buffer = Vec::new();
    TextEncoder::new()
        .encode(&METRICS.registry.gather(), &mut buffer)
        .expect("the text encoder writes to a Vec");
    String::from_utf8(buffer).unwrap_or_default()
}
