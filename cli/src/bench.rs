//! `edoc-ledger bench` and `edoc-ledger load`: the benchmark and the HTTP load generator
//! (docs/performance.md), run from the command line.

use api::settings::StoreSettings;

use crate::{ReplayOutcome, RunResult};

pub async fn bench(
    store: &StoreSettings,
    agreements: u64,
    months: u32,
    clients: u16,
    seconds: u64,
    out: std::path::PathBuf,
    keep: bool,
) -> RunResult {
    if cfg!(debug_assertions) {
        eprintln!("edoc-ledger bench: this is a debug build; figures mean little (cargo run --release -- bench)");
    }
    let settings = ledger_bench::BenchSettings {
        server_url: store
            .database_url
            .clone()
            .unwrap_or_else(|| ledger_bench::DEFAULT_SERVER_URL.to_owned()),
        agreements,
        months,
        clients: usize::from(clients),
        phase: std::time::Duration::from_secs(seconds),
        out,
        keep,
        server_program: std::env::current_exe()?,
    };
    ledger_bench::run(&settings)
        .await
        .map_err(|e| e.to_string())?;
    Ok(ReplayOutcome::Clean)
}

pub async fn load(
    url: String,
    token: String,
    agreements: u64,
    clients: u16,
    seconds: u64,
    out: Option<std::path::PathBuf>,
) -> RunResult {
    let report = ledger_bench::load_server(
        url.trim_end_matches('/'),
        &token,
        agreements,
        usize::from(clients),
        std::time::Duration::from_secs(seconds),
    )
    .await
    .map_err(|e| e.to_string())?;
    if let Some(out) = out {
        std::fs::write(&out, serde_json::to_string_pretty(&report)?)?;
    }
    Ok(if report.non_2xx == report.conflicts_exhausted {
        ReplayOutcome::Clean
    } else {
        ReplayOutcome::Differences
    })
}
