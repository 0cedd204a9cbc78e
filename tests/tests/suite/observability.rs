//! `GET /metrics` (issue 6): Prometheus text with requests by route and status, their
//! latency, commands recorded by type and conflicts retried; staff tokens only. The
//! registry is the process's, shared by every test here, so counts are compared with
//! what they were before.

use reqwest::Method;

use crate::helpers::{spawn_app, Store, OPERATOR_BIN};

fn sample(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse::<f64>().ok())
        .map_or(0, |value| value as u64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_by_route_and_status_and_commands_by_type() {
    let app = spawn_app(Store::Sqlite).await;
    let before = app.get("/metrics").await.text().await.unwrap();
    let registered =
        "edoc_ledger_http_requests_total{method=\"POST\",route=\"/v1/agreements\",status=\"201\"}";
    let commands = "edoc_ledger_commands_recorded_total{command=\"Register\"}";
    app.signed_agreement(OPERATOR_BIN).await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let after = response.text().await.unwrap();
    assert!(
        sample(&after, registered) > sample(&before, registered),
        "{after}"
    );
    assert!(
        sample(&after, commands) > sample(&before, commands),
        "{after}"
    );
    assert!(after.contains("edoc_ledger_http_request_duration_seconds_bucket{method=\"POST\",route=\"/v1/agreements\",status=\"201\",le=\"0.001\"}"));
    assert!(after.contains("edoc_ledger_write_conflicts_retried_total"));
    assert!(after.contains("edoc_ledger_store_errors_total"));
    let participant = app
        .token(
            api::application::tokens::Role::Participant,
            "p",
            Some(OPERATOR_BIN),
        )
        .await;
    let refused = app
        .send_as(
            Method::GET,
            "/metrics",
            Some(&format!("Bearer {participant}")),
            None,
        )
        .await;
    assert_eq!(refused.status(), 403);
    app.finish().await;
}
