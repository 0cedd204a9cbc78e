//! `edoc-ledger export`, `audit` and `import`: the auditor's JSON Lines file written from
//! the store, verified and recomputed with no database, and loaded into an empty store.

use api::settings::{ServeSettings, StoreSettings};
use api::store::{LedgerEventRepository, StoreLocation};

use crate::{parse_date, participant_arg, progress_bar, ReplayOutcome, RunResult};

pub async fn export(
    store: &StoreSettings,
    serve: &ServeSettings,
    out: &std::path::Path,
    participant: Option<&str>,
    as_of: Option<time::Date>,
) -> RunResult {
    use std::io::Write as _;
    let selection = api::application::export::ExportSelection {
        participant: participant_arg(participant)?,
        as_of,
    };
    let location = StoreLocation::choose(store.database_url.as_deref(), &store.data_dir)?;
    let repository = LedgerEventRepository::connect(&location).await?;
    // The header names the versions in force in the store's reference stream (the
    // stream itself is exported with the events); a store never served since the
    // stream existed falls back to the shipped tables.
    let stream = api::application::reference_book::ReferenceBook::read(repository.clone())
        .await?
        .cached();
    let reference = if stream.versions.is_empty() {
        api::reference_files::load(serve.reference_dir.as_deref())?.0
    } else {
        (*stream.data).clone()
    };
    let total = u64::try_from(repository.count_events().await?).unwrap_or(0);
    let bar = progress_bar(
        total,
        "exporting [{bar:40}] {pos}/{len} events ({per_sec}, {eta} left)",
    );
    let to_stdout = out.as_os_str() == "-";
    let mut writer: Box<dyn std::io::Write> = if to_stdout {
        Box::new(std::io::BufWriter::new(std::io::stdout().lock()))
    } else {
        // Write beside the target and rename at the end: a failed export leaves no
        // file that looks complete.
        Box::new(std::io::BufWriter::new(std::fs::File::create(
            partial_path(out),
        )?))
    };
    let summary = api::application::export::export(
        &repository,
        &selection,
        &reference,
        time::OffsetDateTime::now_utc(),
        &mut writer,
        |done| bar.set_position(done),
    )
    .await?;
    writer.flush()?;
    drop(writer);
    if !to_stdout {
        std::fs::rename(partial_path(out), out)?;
    }
    bar.finish_and_clear();
    repository.close().await;
    eprintln!(
        "exported {} events of {} agreements, {} usage records and {} ESF documents produced to {} (digest root {})",
        summary.events,
        summary.streams,
        summary.usage_records,
        summary.esf_documents,
        out.display(),
        summary.root
    );
    Ok(ReplayOutcome::Clean)
}

fn partial_path(out: &std::path::Path) -> std::path::PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(".partial");
    std::path::PathBuf::from(name)
}

fn open_export(file: &std::path::Path) -> std::io::Result<std::io::BufReader<std::fs::File>> {
    std::fs::File::open(file)
        .map(|f| std::io::BufReader::with_capacity(1 << 16, f))
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", file.display())))
}

pub fn audit(
    serve: &ServeSettings,
    file: &std::path::Path,
    as_of: Option<time::Date>,
    participant: Option<&str>,
    digest: Option<&std::path::Path>,
    out: Option<&std::path::Path>,
) -> RunResult {
    use std::io::Write as _;
    let participant = participant_arg(participant)?;
    let kept: Option<api::application::audit::StoreDigest> = match digest {
        Some(path) => Some(serde_json::from_str(&std::fs::read_to_string(path)?)?),
        None => None,
    };
    let bar = progress_bar(0, "verifying {pos} events ({per_sec})");
    let started = std::time::Instant::now();
    let report =
        api::application::export::verify_export(open_export(file)?, kept.as_ref(), |done| {
            bar.set_position(done)
        })?;
    bar.finish_and_clear();
    eprintln!(
        "verified {} events in {} streams, {} usage records and {} ESF documents produced, recounting {} usage invoices, in {:.1?}{}",
        report.events_checked,
        report.streams_checked,
        report.usage_records_checked,
        report.esf_documents_checked,
        report.usage_invoices_checked,
        started.elapsed(),
        match &report.kept_digest {
            Some(check) if check.heads_not_covered > 0 => format!(
                ", and the kept digest ({} heads matched, {} not covered by this partial export)",
                check.heads_matched, check.heads_not_covered
            ),
            Some(check) => format!(
                ", and the kept digest ({} heads matched)",
                check.heads_matched
            ),
            None => String::new(),
        }
    );
    for differing in &report.usage_differing {
        eprintln!("usage invoice DIFFERS: {differing}");
    }
    if let Some(broken) = &report.first_broken {
        eprintln!(
            "BROKEN at {} sequence {}: {}",
            broken.participant_id, broken.sequence, broken.what
        );
        return Ok(ReplayOutcome::Differences);
    }
    let root = report
        .digest
        .as_ref()
        .map(|d| d.root.as_str())
        .unwrap_or("");
    eprintln!("ok: no event was altered, removed or reordered, every usage invoice recounts as recorded; the export's digest root is {root}");
    // The tables the figures need come from the export's own reference stream (the
    // versions in force when it was taken); an export older than the reference stream
    // is audited with the shipped tables (or --reference-dir).
    let reference = match api::application::export::reference_of_export(open_export(file)?)? {
        Some(carried) => {
            eprintln!("reference tables: the export's reference stream");
            carried
        }
        None => {
            let (reference, _) = api::reference_files::load(serve.reference_dir.as_deref())?;
            let expected = api::application::export::ReferenceVersions::of(&reference);
            eprintln!(
                "note: the export carries no reference stream (taken with tables {:?}); this audit uses {:?} (--reference-dir loads other tables)",
                report.header.reference, expected
            );
            reference
        }
    };
    let as_of = match (as_of, report.header.as_of.as_deref()) {
        (Some(date), _) => date,
        (None, Some(text)) => parse_date(text)?,
        (None, None) => {
            api::application::commands::Clock::today(&api::application::commands::SystemClock)
        }
    };
    let mut writer: Box<dyn std::io::Write> = match out {
        Some(path) => Box::new(std::io::BufWriter::new(std::fs::File::create(path)?)),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let participant = participant.map(|p| p.to_string());
    let summary = api::application::export::recompute(
        open_export(file)?,
        as_of,
        participant.as_deref(),
        &reference,
        |figures| {
            serde_json::to_writer(&mut writer, &figures).map_err(std::io::Error::from)?;
            writer.write_all(b"\n")?;
            Ok(())
        },
    )?;
    writer.flush()?;
    eprintln!(
        "recomputed the figures of {} agreements as of {as_of} from {} events{}",
        summary.agreements,
        summary.events,
        if summary.not_registered > 0 {
            format!(
                " ({} not registered yet on that date)",
                summary.not_registered
            )
        } else {
            String::new()
        }
    );
    Ok(ReplayOutcome::Clean)
}

pub async fn import(store: &StoreSettings, file: &std::path::Path) -> RunResult {
    let location = StoreLocation::choose(store.database_url.as_deref(), &store.data_dir)?;
    let repository = LedgerEventRepository::connect(&location).await?;
    let bar = progress_bar(0, "{msg} {pos} events ({per_sec})");
    let summary = api::application::export::import(
        &repository,
        || open_export(file),
        |stage, done| {
            bar.set_message(stage.to_owned());
            bar.set_position(done);
        },
    )
    .await;
    bar.finish_and_clear();
    repository.close().await;
    let summary = summary?;
    println!(
        "imported {} events of {} agreements, {} usage records, {} ESF documents produced and {} invoice numbers into {}",
        summary.events,
        summary.agreements,
        summary.usage_records,
        summary.esf_documents,
        summary.invoice_numbers,
        location.describe()
    );
    println!(
        "the store's digest root {} {} the export's {}",
        summary.store_root,
        if summary.store_root == summary.export_root {
            "equals"
        } else {
            "DIFFERS FROM"
        },
        summary.export_root
    );
    Ok(if summary.store_root == summary.export_root {
        ReplayOutcome::Clean
    } else {
        ReplayOutcome::Differences
    })
}
