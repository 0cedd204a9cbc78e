//! Importing an export into an empty store.

use super::*;

/// What [`import`] loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    pub events: u64,
    /// Usage records loaded, their positions kept (BILLING.md 3).
    pub usage_records: u64,
    /// ESF documents produced, loaded as logged (BILLING.md 6).
    pub esf_documents: u64,
    pub agreements: u64,
    pub invoice_numbers: u64,
    /// The root of the export's own digest.
    pub export_root: String,
    /// The root of the store's digest after the import: equal to `export_root`.
    pub store_root: String,
}

/// Loads an export into an empty store: verifies the file first (nothing is written
/// when it does not verify, usage invoices recounted included), then inserts its events
/// exactly as exported (payload, metadata and hashes, global positions, row times), its
/// usage records exactly as exported (positions and row times), the ESF documents
/// produced as logged (when, by what, the XML's SHA-256) and the invoice numbers
/// the events took in one transaction, builds the stored projections and takes the
/// store's digest, whose root equals the export's. `open` opens the file afresh for each
/// pass.
pub async fn import<R: BufRead>(
    repository: &LedgerEventRepository,
    mut open: impl FnMut() -> std::io::Result<R>,
    mut progress: impl FnMut(&str, u64),
) -> Result<ImportSummary, ExportError> {
    let verification = verify_export(open()?, None, |done| progress("verifying", done))?;
    if let Some(found) = &verification.first_broken {
        return Err(ExportError::NotVerified(format!(
            "{} sequence {}: {}",
            found.participant_id, found.sequence, found.what
        )));
    }
    let export_root = verification
        .digest
        .as_ref()
        .map(|d| d.root.clone())
        .unwrap_or_default();
    let existing = repository.count_events().await?;
    if existing > 0 {
        return Err(ExportError::StoreNotEmpty(existing));
    }
    let existing = repository.count_usage_records().await?;
    if existing > 0 {
        return Err(ExportError::UsageNotEmpty(existing));
    }
    let mut reader = ExportReader::new(open()?);
    reader.header()?;
    let mut loader = repository.begin_import().await?;
    let mut batch: Vec<EventRow> = Vec::with_capacity(IMPORT_BATCH);
    let mut numbers: Vec<(i64, String, i64)> = Vec::new();
    let mut events = 0u64;
    let mut usage: Vec<UsageRow> = Vec::new();
    let mut usage_records = 0u64;
    let mut esf: Vec<crate::store::EsfProducedRow> = Vec::new();
    while let Some(line) = reader.next_line()? {
        let event = match line {
            ExportLine::Event(event) => event,
            ExportLine::Usage(record) => {
                usage.push(record.into());
                usage_records += 1;
                if usage.len() >= IMPORT_USAGE_BATCH {
                    loader.insert_usage(std::mem::take(&mut usage)).await?;
                }
                continue;
            }
            ExportLine::EsfDocument(document) => {
                esf.push(document.into());
                continue;
            }
            ExportLine::Header(_) | ExportLine::Digest(_) => continue,
        };
        if event.is_reference() {
            event.reference_version().map_err(|e| {
                reader.format_error(format!("a reference event cannot be read: {e}"))
            })?;
        } else if event.is_period() {
            serde_json::from_value::<events::PeriodClosed>(event.payload.clone())
                .map_err(|e| reader.format_error(format!("a period seal cannot be read: {e}")))?;
        } else if event.is_tariff() {
            serde_json::from_value::<events::TariffVersionPublished>(event.payload.clone())
                .map_err(|e| {
                    reader.format_error(format!("a tariff version cannot be read: {e}"))
                })?;
        } else {
            let decoded = event
                .decode()
                .map_err(|e| reader.format_error(format!("the event cannot be read: {e}")))?;
            // An export of format 1 has no usage records: a store made from one would hold
            // usage invoices whose records are gone, and fail `verify` (BILLING.md 3).
            if !verification.header.has_usage() && is_usage_invoice(&decoded) {
                return Err(ExportError::NotVerified(format!(
                    "{} sequence {}: a usage invoice in an export of format `{EXPORT_FORMAT_1}`, which carries no usage records: export the store again with this version",
                    event.aggregate_id, event.sequence
                )));
            }
            if let Some(claimed) = crate::application::commands::claimed_invoice_number(&decoded) {
                // Invoices and credit notes share one gapless series (BILLING.md 5.3).
                let number = i64::try_from(claimed.value())
                    .map_err(|_| reader.format_error("an invoice number beyond i64"))?;
                numbers.push((number, event.aggregate_id.clone(), event.sequence));
            }
        }
        batch.push(event.into());
        events += 1;
        if batch.len() >= IMPORT_BATCH {
            loader.insert(std::mem::take(&mut batch)).await?;
            progress("importing", events);
        }
    }
    loader.insert(batch).await?;
    loader.insert_usage(usage).await?;
    let esf_documents = esf.len() as u64;
    loader.insert_esf_produced(esf).await?;
    let invoice_numbers = numbers.len() as u64;
    loader.finish(numbers).await?;
    progress("importing", events);
    let rebuilt = repository
        .rebuild_ledgers(LEDGERS_TABLE, |done| progress("projecting", done))
        .await?;
    let digest =
        crate::application::audit::take_digest(repository, OffsetDateTime::now_utc()).await?;
    assert_eq!(digest.events, events, "every exported event was imported");
    Ok(ImportSummary {
        events,
        usage_records,
        esf_documents,
        agreements: rebuilt.agreements,
        invoice_numbers,
        export_root,
        store_root: digest.root,
    })
}

/// A usage invoice of the billing run (BILLING.md 3).
fn is_usage_invoice(event: &AgreementEvent) -> bool {
    matches!(
        event,
        AgreementEvent::InvoiceIssued(issued)
            if issued.billing.as_ref().is_some_and(|b| b.usage_through.is_some())
    )
}
