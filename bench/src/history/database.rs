//! The benchmark's database: a fresh one on the server of `EDOC_BENCH_DATABASE_URL`,
//! dropped at the end unless `EDOC_BENCH_KEEP=1`.

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, Executor, PgConnection};

use super::BoxError;

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const DEFAULT_EVENTS: u64 = 1_000_000;

/// Drops the database `name` on `admin`'s server if it exists (closing its connections)
/// and creates it afresh.
pub async fn recreate_database(admin: &mut PgConnection, name: &str) -> Result<(), BoxError> {
    admin
        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
        .await?;
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await?;
    Ok(())
}

/// `url` with its database name replaced by `database`.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

fn events_wanted() -> Result<u64, BoxError> {
    // `cargo bench` passes `--bench`; the first bare number is the event count.
    if let Some(arg) = std::env::args()
        .skip(1)
        .find(|arg| !arg.starts_with('-') && !arg.is_empty())
    {
        return Ok(arg.replace('_', "").parse()?);
    }
    match std::env::var("EDOC_BENCH_EVENTS") {
        Ok(text) if !text.trim().is_empty() => Ok(text.trim().replace('_', "").parse()?),
        _ => Ok(DEFAULT_EVENTS),
    }
}

async fn admin_connection(admin_url: &str) -> Result<PgConnection, BoxError> {
    let options = PgConnectOptions::from_str(admin_url)?.disable_statement_logging();
    Ok(PgConnection::connect_with(&options).await?)
}

/// A fresh database on the server of `EDOC_BENCH_DATABASE_URL`, dropped by
/// [`BenchDatabase::finish`] unless `EDOC_BENCH_KEEP=1`.
pub struct BenchDatabase {
    /// The events wanted: the first bare number argument, else `EDOC_BENCH_EVENTS`.
    pub total: u64,
    /// The URL of the benchmark's database.
    pub url: String,
    name: &'static str,
    keep: bool,
    admin: PgConnection,
}

impl BenchDatabase {
    /// Drops and creates `name`, then prints the benchmark's header.
    pub async fn create(title: &str, name: &'static str) -> Result<Self, BoxError> {
        let total = events_wanted()?;
        let admin_url = std::env::var("EDOC_BENCH_DATABASE_URL")
            .unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned());
        let keep = std::env::var("EDOC_BENCH_KEEP").is_ok_and(|v| v == "1");
        let url = with_database(&admin_url, name);

        let mut admin = admin_connection(&admin_url).await?;
        let server: String = sqlx::query_scalar("SHOW server_version")
            .fetch_one(&mut admin)
            .await?;
        recreate_database(&mut admin, name).await?;

        println!("edoc-ledger {title} benchmark");
        println!(
            "database:                  {name} on PostgreSQL {server} ({})",
            api::store::redact(&admin_url)
        );
        println!(
            "cpus:                      {}",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        println!("events requested:          {total}");
        Ok(Self {
            total,
            url,
            name,
            keep,
            admin,
        })
    }

    /// Drops the database unless `EDOC_BENCH_KEEP=1`.
    pub async fn finish(mut self) -> Result<(), BoxError> {
        if self.keep {
            println!(
                "database kept:             {}",
                api::store::redact(&self.url)
            );
        } else {
            let name = self.name;
            self.admin
                .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                .await?;
            println!("database dropped:          {name}");
        }
        self.admin.close().await?;
        Ok(())
    }
}
