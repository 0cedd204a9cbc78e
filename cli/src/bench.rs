//! `edoc-ledger bench` and `edoc-ledger load`: the benchmark and the HTTP load generator
//! (docs/performance.md), run from the command line.

use api::settings::{ServeSettings, StoreSettings};

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

/// What `edoc-ledger load` was asked for.
#[derive(Debug, clap::Args)]
pub struct LoadRun {
    /// Agreements registered, signed and invoiced before the load.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub agreements: u64,
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub clients: u16,
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub seconds: u64,
    /// Where the figures go as JSON (optional).
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
    /// Where every acknowledged (2xx) payment goes, one JSON object a line
    /// (participant_id, reference, amount): to check later that each is recorded
    /// exactly once.
    #[arg(long)]
    pub acknowledged: Option<std::path::PathBuf>,
    /// 503 answers and failed connections are expected (a failover under way): they
    /// do not fail the run; any other non-2xx answer still does.
    #[arg(long)]
    pub unavailable_ok: bool,
    /// The 11-digit base of the BIN/INs the run registers (default: from the clock);
    /// give two runs against one store different bases.
    #[arg(long, value_parser = clap::value_parser!(u64).range(10_000_000_000..=99_999_000_000))]
    pub first_id: Option<u64>,
}

pub async fn load(url: String, token: String, run: LoadRun) -> RunResult {
    let report = ledger_bench::load_server(
        url.trim_end_matches('/'),
        &token,
        run.agreements,
        usize::from(run.clients),
        std::time::Duration::from_secs(run.seconds),
        run.first_id,
    )
    .await
    .map_err(|e| e.to_string())?;
    if let Some(out) = run.out {
        std::fs::write(&out, serde_json::to_string_pretty(&report)?)?;
    }
    if let Some(path) = run.acknowledged {
        let mut lines = String::new();
        for payment in &report.acknowledged_payments {
            lines.push_str(&serde_json::to_string(payment)?);
            lines.push('\n');
        }
        std::fs::write(&path, lines)?;
        println!(
            "{} acknowledged payments written to {}",
            report.acknowledged_payments.len(),
            path.display()
        );
    }
    // 503 and failed connections (status 0), when expected, do not fail the run.
    let expected: u64 = if run.unavailable_ok {
        report
            .statuses
            .iter()
            .filter(|(status, _)| matches!(**status, 0 | 503))
            .map(|(_, count)| count)
            .sum()
    } else {
        0
    };
    Ok(if report.non_2xx == report.conflicts_exhausted + expected {
        ReplayOutcome::Clean
    } else {
        ReplayOutcome::Differences
    })
}

/// `edoc-ledger cqrs-demo-serve` (hidden): the cqrs-es demo's server, started by
/// `edoc-ledger bench` as the yardstick of its HTTP payments (ledger_bench::cqrs_demo).
pub async fn cqrs_demo_serve(store: &StoreSettings, serve: &ServeSettings) -> RunResult {
    let url = store
        .database_url
        .as_deref()
        .filter(|url| url.starts_with("postgres"))
        .ok_or("cqrs-demo-serve needs a PostgreSQL DATABASE_URL")?;
    ledger_bench::cqrs_demo::serve(url, &serve.listen.to_string())
        .await
        .map_err(|e| e.to_string())?;
    Ok(ReplayOutcome::Clean)
}
