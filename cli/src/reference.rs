//! `edoc-ledger reference load|list`: the reference tables the operator publishes
//! (calendar, MRP, VAT, USD/KZT rates) in the store's reference stream.

use clap::Subcommand;

use api::settings::{ServeSettings, StoreSettings};
use api::store::{LedgerEventRepository, StoreLocation};

use crate::{ReplayOutcome, RunResult};

#[derive(Debug, Subcommand)]
pub enum ReferenceAction {
    /// Publish the versions a file holds: a table file in the shipped TOML format
    /// (calendar.toml, mrp.toml, vat.toml, exchange_rates.toml; the name says which
    /// table, or --table does) or the National Bank's daily rates XML (*.xml). Each
    /// range whose version in force already says the same records nothing. Version
    /// ids are the ledger's (`kz-mrp-2027-1`); the file's `version` is not used.
    Load {
        file: std::path::PathBuf,
        /// The table, when the file's name does not say it.
        #[arg(long)]
        table: Option<String>,
    },
    /// List the versions in force and the earlier ones, table by table.
    List {
        /// Only this table (calendar, mrp, vat, exchange-rates).
        #[arg(long)]
        table: Option<String>,
    },
}

fn table_arg(text: &str) -> Result<events::ReferenceTable, String> {
    events::ReferenceTable::parse(text).ok_or_else(|| {
        format!("--table: `{text}` is not a reference table (calendar, mrp, vat, exchange-rates)")
    })
}

/// The versions a file publishes, and their source.
fn reference_file(
    file: &std::path::Path,
    table: Option<&str>,
) -> Result<(Vec<events::ReferenceContent>, String), Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let is_xml = file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("xml"));
    if is_xml || table.is_none() && text.trim_start().starts_with('<') {
        let rate = aggregates::reference::parse_nbk_rates(&text)?;
        return Ok((
            vec![events::ReferenceContent::ExchangeRate {
                date: rate.date,
                usd_kzt: rate.usd_kzt,
            }],
            "National Bank of Kazakhstan, official rates file".to_owned(),
        ));
    }
    let table = match table {
        Some(table) => table_arg(table)?,
        None => {
            let stem = file
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("")
                .replace('_', "-");
            events::ReferenceTable::parse(&stem).ok_or_else(|| {
                format!(
                    "{}: the file's name does not say which table it is; name it calendar.toml, mrp.toml, vat.toml or exchange_rates.toml, or give --table",
                    file.display()
                )
            })?
        }
    };
    let versions = aggregates::reference::versions_of_file(table, &text)?;
    if versions.is_empty() {
        return Err(format!("{}: the file holds no version", file.display()).into());
    }
    let source = versions[0].source.clone();
    Ok((versions.into_iter().map(|v| v.content).collect(), source))
}

pub async fn reference(
    store: &StoreSettings,
    serve: &ServeSettings,
    action: ReferenceAction,
) -> RunResult {
    let location = StoreLocation::choose(store.database_url.as_deref(), &store.data_dir)?;
    let repository = LedgerEventRepository::connect(&location).await?;
    let (shipped, _) = api::reference_files::shipped_versions(serve.reference_dir.as_deref())?;
    let now = time::OffsetDateTime::now_utc();
    // Loading records (the shipped tables first, on a store that has none); listing
    // only reads.
    let book = match &action {
        ReferenceAction::Load { .. } => {
            api::application::reference_book::ReferenceBook::open(repository.clone(), &shipped, now)
                .await?
        }
        ReferenceAction::List { .. } => {
            api::application::reference_book::ReferenceBook::read(repository.clone()).await?
        }
    };
    match action {
        ReferenceAction::Load { file, table } => {
            let (contents, source) = reference_file(&file, table.as_deref())?;
            let user = std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned());
            let publisher = api::application::reference_book::Publisher {
                actor: format!("edoc-ledger reference load ({user})"),
                request_id: format!("cli-{}", now.unix_timestamp()),
                command: "reference.load",
            };
            let publication = book
                .publish(contents, &source, &publisher, now, |_| None)
                .await?;
            for range in &publication.recorded {
                println!(
                    "recorded {} {} as {}",
                    range.table.code(),
                    range.range,
                    range.version
                );
            }
            for range in &publication.unchanged {
                println!(
                    "unchanged {} {}: the version in force ({}) says the same, nothing recorded",
                    range.table.code(),
                    range.range,
                    range.version
                );
            }
        }
        ReferenceAction::List { table } => {
            let only = table.as_deref().map(table_arg).transpose()?;
            let state = book.state().await?;
            for table in events::ReferenceTable::ALL {
                if only.is_some_and(|o| o != table) {
                    continue;
                }
                println!("{}:", table.code());
                let mut versions: Vec<_> =
                    state.versions.iter().filter(|v| v.table == table).collect();
                versions.sort_by(|a, b| (&a.range, a.sequence).cmp(&(&b.range, b.sequence)));
                for v in versions {
                    println!(
                        "  {:<12} {:<28} {}{} recorded {} by {} ({})",
                        v.range,
                        v.id,
                        if v.in_force { "in force" } else { "replaced" },
                        if v.provisional { ", provisional" } else { "" },
                        v.recorded_at,
                        v.actor,
                        v.source
                    );
                }
            }
        }
    }
    repository.close().await;
    Ok(ReplayOutcome::Clean)
}
