//! `edoc-ledger load`: agreements set up on a running server, then a closed-loop mix of
//! payments, usage invoices and reads; the report printed.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use api::application::commands::{Clock, SystemClock};

use crate::http_load::{self, LoadPlan, LoadReport, RequestKind, RequestMix};
use crate::{iso, BoxError};

/// `edoc-ledger load`: registers, signs and invoices `agreements` fresh agreements on a
/// running server, then loads it for `duration` with a mix of payments (50%), usage
/// invoices (10%), balance reads as of a date (25%) and invoice lists (15%). Prints the
/// report; a non-2xx answer other than a documented 409 (retries exhausted) is a failure.
pub async fn load_server(
    base: &str,
    token: &str,
    agreements: u64,
    clients: usize,
    duration: Duration,
    first_id: Option<u64>,
) -> Result<LoadReport, BoxError> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let today = SystemClock.today();
    // Fresh BIN/IINs for this run: from an 11-digit base (given, or from the clock), each
    // with its control digit.
    let first_base = first_id.unwrap_or_else(|| {
        70_000_000_000
            + (time::OffsetDateTime::now_utc().unix_timestamp() as u64 % 200_000) * 100_000
    });
    let ids: Vec<String> = (first_base..)
        .filter_map(|base| {
            (0..10)
                .map(|digit| format!("{base}{digit}"))
                .find(|id| events::ParticipantId::parse(id).is_ok())
        })
        .take(agreements as usize)
        .collect();
    println!(
        "edoc-ledger load: {base}, {} agreements to set up, {clients} clients, {} s",
        ids.len(),
        duration.as_secs()
    );
    let setup = indicatif::ProgressBar::new(ids.len() as u64);
    for (n, id) in ids.iter().enumerate() {
        for (path, body) in [
            (
                "/v1/agreements".to_owned(),
                json!({"participant_id": id, "name": format!("ТОО «Нагрузка {n}»"), "kind": "legal_entity", "resident": true, "currency": "KZT", "email": format!("load{n}@example.kz"), "registered_on": iso(today)}),
            ),
            (
                format!("/v1/agreements/{id}/signature"),
                json!({"signed_on": iso(today)}),
            ),
            (
                format!("/v1/agreements/{id}/invoices"),
                json!({"kind": "subscription", "issued_on": iso(today), "lines": [{"description": "Абонентская плата за ЭДО", "quantity": 1, "unit_price": "25000.00"}]}),
            ),
        ] {
            let response = client
                .post(format!("{base}{path}"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await?;
            if !response.status().is_success() {
                let status = response.status();
                return Err(format!(
                    "setting up {id}: {path} answered {status}: {}",
                    response.text().await.unwrap_or_default()
                )
                .into());
            }
        }
        setup.inc(1);
    }
    setup.finish_and_clear();
    let plan = LoadPlan {
        base: base.to_owned(),
        token: token.to_owned(),
        agreements: Arc::new(ids),
        clients,
        duration,
        mix: RequestMix(vec![
            (RequestKind::Payment, 50),
            (RequestKind::UsageInvoice, 10),
            (RequestKind::BalanceAsOf, 25),
            (RequestKind::Invoices, 15),
        ]),
        today,
        read_from: today,
        read_to: today,
        run_tag: format!("LOAD-{}", time::OffsetDateTime::now_utc().unix_timestamp()),
    };
    let report = http_load::run(&plan).await?;
    println!(
        "{} requests in {:.1} s: {:.0} requests/s; latency p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        report.requests,
        report.seconds,
        report.requests_per_second,
        report.latency.p50_ms,
        report.latency.p90_ms,
        report.latency.p99_ms,
        report.latency.max_ms
    );
    println!(
        "{:<16} {:>9} {:>9} {:>9} {:>9}",
        "request", "count", "p50 ms", "p99 ms", "max ms"
    );
    for (kind, kind_report) in &report.by_kind {
        println!(
            "{:<16} {:>9} {:>9.2} {:>9.2} {:>9.2}",
            kind.name(),
            kind_report.requests,
            kind_report.latency.p50_ms,
            kind_report.latency.p99_ms,
            kind_report.latency.max_ms
        );
    }
    let statuses: Vec<String> = report
        .statuses
        .iter()
        .map(|(status, count)| format!("{status}: {count}"))
        .collect();
    println!("statuses: {}", statuses.join(", "));
    println!(
        "non-2xx: {} ({} of them 409 concurrent-write, retries exhausted)",
        report.non_2xx, report.conflicts_exhausted
    );
    for failure in &report.failures {
        println!("  {failure}");
    }
    Ok(report)
}
