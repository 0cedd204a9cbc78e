//! `edoc-ledger esf export --from --to DIR` (BILLING.md 6, §5.7): the IS ESF `InvoiceV2`
//! XML of every invoice and credit note issued in a date range, one file each
//! (`{participant}-{number}.xml`) for upload to IS ESF, each recorded as produced (the
//! first production kept) so that the ESF-due report and the auditor's export know it.
//! Exporting a range again rewrites the same documents. The operator's details come from
//! the `--operator-*` settings (`EDOC_OPERATOR_*`); without them nothing is written.

use clap::Subcommand;

use api::application::documents;
use api::settings::{ServeSettings, StoreSettings};
use api::store::EsfProducedRow;
use events::business_date;

use crate::{progress_bar, ReplayOutcome, RunResult};

#[derive(Debug, Subcommand)]
pub enum EsfAction {
    /// Write the ESF of every invoice and credit note issued from `--from` through `--to`
    /// into DIR (created if missing).
    Export {
        /// The first issue date (YYYY-MM-DD).
        #[arg(long, value_parser = business_date::parse)]
        from: time::Date,
        /// The last issue date (YYYY-MM-DD).
        #[arg(long, value_parser = business_date::parse)]
        to: time::Date,
        /// The directory the documents are written to.
        dir: std::path::PathBuf,
    },
}

pub async fn esf(store: &StoreSettings, serve: &ServeSettings, action: EsfAction) -> RunResult {
    let EsfAction::Export { from, to, dir } = action;
    if to < from {
        return Err(format!("--to {to} is before --from {from}: nothing was written").into());
    }
    let seller = documents::esf::Seller::configured(&serve.operator)?.ok_or(
        "the operator's details are not configured (EDOC_OPERATOR_BIN, EDOC_OPERATOR_NAME, EDOC_OPERATOR_ADDRESS, EDOC_OPERATOR_IIK, EDOC_OPERATOR_BIK, EDOC_OPERATOR_KBE): nothing was written",
    )?;
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (repository, ledger) = crate::ledger_on_store(store, serve).await?;
    let bar = progress_bar(
        0,
        "reading [{bar:40}] {pos}/{len} agreements ({per_sec}, {eta} left)",
    );
    let found = documents::esf_documents_issued(&ledger, from, to, |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })
    .await?;
    bar.finish_and_clear();
    let mut produced = Vec::with_capacity(found.len());
    for (customer, document) in &found {
        let xml = document.to_xml(&seller, customer);
        let file = dir.join(format!("{}-{}.xml", customer.tin, document.number));
        std::fs::write(&file, &xml).map_err(|e| format!("{}: {e}", file.display()))?;
        produced.push(EsfProducedRow {
            participant_id: customer.tin.to_string(),
            number: i64::try_from(document.number.value()).unwrap_or(i64::MAX),
            document_type: document.document_type().to_owned(),
            issued_on: document.date.to_string(),
            turnover_date: document.turnover_date.to_string(),
            digest: api::application::statements::import::digest_of(xml.as_bytes()),
            produced_at: String::new(),
            produced_by: "edoc-ledger esf export".to_owned(),
        });
    }
    let first = repository.record_esf_produced(&produced).await?;
    repository.close().await;
    println!(
        "{} ESF documents issued {from} to {to} written to {} ({first} produced for the first time)",
        found.len(),
        dir.display()
    );
    Ok(ReplayOutcome::Clean)
}
