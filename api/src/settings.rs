//! Configuration: defaults, then `EDOC_*` / `DATABASE_URL` environment variables, then
//! command-line flags (clap reads both). Secrets are never printed.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// Where the events live and where the reference tables come from.
#[derive(Debug, Clone, Args)]
pub struct StoreSettings {
    /// PostgreSQL connection URL (postgres://user:password@host:port/database). When not
    /// set, events are kept in an embedded SQLite file under --data-dir.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<String>,

    /// Directory of the embedded SQLite store (edoc-ledger.db), created on first start.
    #[arg(long, env = "EDOC_DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct ServeSettings {
    /// Address and port to listen on.
    #[arg(
        long,
        env = "EDOC_LISTEN",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub listen: SocketAddr,

    /// Directory with reference tables (calendar.toml, mrp.toml, vat.toml,
    /// exchange_rates.toml); each file present replaces the table shipped in the binary
    /// as the first versions a store records, for the ranges it holds none of yet. A
    /// range already recorded changes only by a published version (PUT
    /// /v1/reference/..., `edoc-ledger reference load`).
    #[arg(long, env = "EDOC_REFERENCE_DIR", global = true)]
    pub reference_dir: Option<PathBuf>,

    /// Run the dunning sweep every day at this time in Kazakhstan (HH:MM, e.g. 00:30), as
    /// of that day, on the one server of those sharing the store that holds its lease;
    /// a day's sweep not finished by then (its holder died, no server was up) is run as
    /// soon as a server holds the lease that day. Off when not set.
    #[arg(long, env = "EDOC_DAILY_SWEEP_AT", value_parser = parse_time_of_day, global = true)]
    pub daily_sweep_at: Option<time::Time>,

    /// Run the billing run (BILLING.md 4) on the first day of every month at this time in
    /// Kazakhstan (HH:MM), for that month, issued that day, on the one server holding
    /// its lease (taken over the same day if its holder dies). Off when not set; a run
    /// missed for the whole day is run by hand (`edoc-ledger bill`).
    #[arg(long, env = "EDOC_MONTHLY_BILLING_AT", value_parser = parse_time_of_day, global = true)]
    pub monthly_billing_at: Option<time::Time>,

    /// Publish every agreement event to this NATS server's JetStream (stream
    /// `EDOC_EVENTS`, subject `edoc.events.<participant_id>.<EventType>`, `Nats-Msg-Id` =
    /// its position), e.g. `nats://127.0.0.1:4222`. Off when not set.
    #[arg(long, env = "EDOC_NATS_URL", global = true)]
    pub nats_url: Option<String>,

    /// How long a background job's lease lasts unrenewed, in milliseconds (the daily
    /// sweep, the monthly billing run, the NATS publisher; webhooks have their own,
    /// `--webhook-lease-ms`): when several servers share a store only the holder runs
    /// the job, and another takes over this long after the holder stopped renewing it
    /// (renewed every third of it).
    #[arg(long, env = "EDOC_JOB_LEASE_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(300..=600_000), global = true)]
    pub job_lease_ms: u64,

    /// A streaming replica of the PostgreSQL store for the queries
    /// (postgres://user@replica-host/database): an agreement's queries and the reports
    /// read it, never older than the position a client sends in `Edoc-Min-Position`;
    /// commands and everything else use DATABASE_URL. Not set: everything reads the
    /// primary.
    #[arg(
        long,
        env = "EDOC_READ_DATABASE_URL",
        hide_env_values = true,
        global = true
    )]
    pub read_database_url: Option<String>,

    /// How long a query waits for the replica to replay the position in
    /// `Edoc-Min-Position`, in milliseconds, before it reads the primary instead.
    #[arg(long, env = "EDOC_READ_WAIT_MS", default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(0..=30_000), global = true)]
    pub read_wait_ms: u64,

    /// Do not charge the §5.9 fine automatically in the daily sweep (charged by default).
    #[arg(long, env = "EDOC_SWEEP_NO_FINES", global = true)]
    pub sweep_no_fines: bool,

    /// How long a bearer token's lookup is kept, in milliseconds (0: looked up on every
    /// request): a revoked token is refused at most this late on each server.
    #[arg(long, env = "EDOC_TOKEN_CACHE_MS", default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(0..=60_000), global = true)]
    pub token_cache_ms: u64,

    /// How long an Idempotency-Key and its first answer are kept, in hours.
    #[arg(long, env = "EDOC_IDEMPOTENCY_TTL_HOURS", default_value_t = 24, value_parser = clap::value_parser!(u32).range(1..=8760), global = true)]
    pub idempotency_ttl_hours: u32,

    /// How webhooks are delivered (INTEGRATION.md 1).
    #[command(flatten)]
    pub webhooks: WebhookSettings,

    /// The operator's own details, as the seller of its documents (BILLING.md 6).
    #[command(flatten)]
    pub operator: OperatorSettings,
}

/// The operator's own details as the seller of its ESF documents (BILLING.md 6):
/// configuration, not code. All or none: a server given some of them refuses to start;
/// given none, it serves everything but the ESF (503 there, naming these settings).
#[derive(Debug, Clone, Default, Args)]
pub struct OperatorSettings {
    /// The operator's BIN (12 digits, with its check digit).
    #[arg(long, env = "EDOC_OPERATOR_BIN", global = true)]
    pub operator_bin: Option<String>,
    /// The operator's name as registered.
    #[arg(long, env = "EDOC_OPERATOR_NAME", global = true)]
    pub operator_name: Option<String>,
    /// The operator's legal address.
    #[arg(long, env = "EDOC_OPERATOR_ADDRESS", global = true)]
    pub operator_address: Option<String>,
    /// The operator's account (ИИК): a Kazakh IBAN, `KZ` and 18 characters.
    #[arg(long, env = "EDOC_OPERATOR_IIK", global = true)]
    pub operator_iik: Option<String>,
    /// The operator's bank's code (БИК): 8 to 11 letters and digits.
    #[arg(long, env = "EDOC_OPERATOR_BIK", global = true)]
    pub operator_bik: Option<String>,
    /// The operator's beneficiary code (КБе): 2 digits.
    #[arg(long, env = "EDOC_OPERATOR_KBE", global = true)]
    pub operator_kbe: Option<String>,
}

/// How the webhook deliverer runs (docs/operations.md, "Webhooks"). The defaults are
/// the production values; the tests shorten them.
#[derive(Debug, Clone, Args)]
pub struct WebhookSettings {
    /// How long an endpoint has to answer a delivery, in milliseconds; no answer in time
    /// counts as a failure and is retried.
    #[arg(long, env = "EDOC_WEBHOOK_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(100..=120_000), global = true)]
    pub webhook_timeout_ms: u64,

    /// How long a failing event is retried, counted from its first attempt, in seconds;
    /// then the endpoint is parked (deliveries stop at that event until resumed).
    #[arg(long, env = "EDOC_WEBHOOK_RETRY_HORIZON_SECONDS", default_value_t = 86_400, value_parser = clap::value_parser!(u64).range(1..=2_592_000), global = true)]
    pub webhook_retry_horizon_seconds: u64,

    /// The pause after a first failed attempt, in milliseconds; it doubles after each
    /// failure, up to an hour.
    #[arg(long, env = "EDOC_WEBHOOK_FIRST_RETRY_MS", default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(10..=3_600_000), global = true)]
    pub webhook_first_retry_ms: u64,

    /// How long the webhook deliverer's lease lasts, in milliseconds: when several
    /// servers share a store only the holder delivers, and another takes over this long
    /// after the holder stopped renewing it (renewed every third of it).
    #[arg(long, env = "EDOC_WEBHOOK_LEASE_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(300..=600_000), global = true)]
    pub webhook_lease_ms: u64,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            webhook_timeout_ms: 10_000,
            webhook_retry_horizon_seconds: 86_400,
            webhook_first_retry_ms: 1_000,
            webhook_lease_ms: 10_000,
        }
    }
}

fn parse_time_of_day(text: &str) -> Result<time::Time, String> {
    let format = time::macros::format_description!("[hour]:[minute]");
    time::Time::parse(text, format).map_err(|_| format!("`{text}` is not a time written as HH:MM"))
}

#[derive(Debug, Clone, Copy, Default, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct LogSettings {
    /// Log line format.
    #[arg(long, env = "EDOC_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}
