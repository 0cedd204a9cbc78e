//! The usage section of an export (BILLING.md 3): the usage records as stored, their
//! count and hash in the digest line, and their recount against the exported usage
//! invoices, as the store's `verify` recounts them (`application::usage`).

use std::collections::HashMap;

use sha2::{Digest as _, Sha256};

use commands::MeteredUsage;
use events::{business_date, MetricName};

use super::*;
use crate::application::usage::{UsageInvoiceCheck, UsageInvoiceReader};
use crate::hash_chain::canonical_json;
use crate::store::usage_through_of;

/// One usage record, exactly as stored (`usage_records`): `{"kind":"usage",...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportedUsage {
    /// Its place in the usage store (commit order): what usage invoices count through.
    pub position: i64,
    /// The portal's own id.
    pub id: String,
    pub participant_id: String,
    pub metric: String,
    pub quantity: i64,
    /// The business date it occurred on (YYYY-MM-DD).
    pub occurred_on: String,
    /// When the ledger recorded it (RFC 3339, UTC).
    pub recorded_at: String,
}

impl ExportedUsage {
    /// The record as the billing run counts it, or what is wrong with it.
    pub fn metered(&self) -> Result<MeteredUsage, String> {
        let position = u64::try_from(self.position)
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("position {}", self.position))?;
        let quantity = u64::try_from(self.quantity)
            .ok()
            .filter(|q| *q > 0)
            .ok_or_else(|| format!("quantity {}", self.quantity))?;
        events::ParticipantId::parse(&self.participant_id)
            .map_err(|e| format!("participant_id: {e}"))?;
        Ok(MeteredUsage {
            position,
            id: self.id.clone(),
            metric: MetricName::parse(&self.metric).map_err(|e| format!("metric: {e}"))?,
            quantity,
            occurred_on: business_date::parse(&self.occurred_on)
                .map_err(|e| format!("occurred_on: {e}"))?,
        })
    }
}

/// What the digest line records of a section (the usage records; the ESF documents):
/// how many lines, and the SHA-256 over their content in order (lowercase hex of SHA-256
/// over each line's canonical JSON, its fields without `kind`, each followed by a line
/// feed). A section truncated, extended, reordered or altered no longer matches it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionDigest {
    pub records: u64,
    pub sha256: String,
}

impl SectionDigest {
    /// The count and hash of these lines, in this order.
    pub fn of<'a, T: Serialize + 'a>(records: impl IntoIterator<Item = &'a T>) -> Self {
        let mut hasher = SectionHasher::default();
        for record in records {
            hasher.push(record);
        }
        hasher.finish()
    }
}

/// The last line of an export: the digest of the exported chains (the format of
/// `edoc-ledger digest`) and, from format 2 on, the usage section's count and hash, from
/// format 3 on the ESF section's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportDigest {
    #[serde(flatten)]
    pub chains: StoreDigest,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<SectionDigest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub esf: Option<SectionDigest>,
}

/// Counts and hashes a section's lines in order ([`SectionDigest`]).
pub(super) struct SectionHasher {
    records: u64,
    hasher: Sha256,
    line: String,
}

impl Default for SectionHasher {
    fn default() -> Self {
        Self {
            records: 0,
            hasher: Sha256::new(),
            line: String::new(),
        }
    }
}

impl SectionHasher {
    pub(super) fn push(&mut self, record: &impl Serialize) {
        self.line.clear();
        canonical_json(
            &serde_json::to_value(record).unwrap_or_default(),
            &mut self.line,
        );
        self.line.push('\n');
        self.hasher.update(self.line.as_bytes());
        self.records += 1;
    }

    pub(super) fn records(&self) -> u64 {
        self.records
    }

    pub(super) fn finish(self) -> SectionDigest {
        SectionDigest {
            records: self.records,
            sha256: format!("{:x}", self.hasher.finalize()),
        }
    }
}

/// The highest usage position a usage invoice counted through, among the events
/// exported ([`ExportSelection::as_of`]).
#[derive(Default)]
pub(super) struct CountedThrough(Option<u64>);

impl CountedThrough {
    pub(super) fn push(&mut self, event: &ExportedEvent) {
        if event.aggregate_type == AGGREGATE_TYPE && event.event_type == "InvoiceIssued" {
            if let Some(through) = usage_through_of(&event.payload) {
                self.0 = Some(self.0.map_or(through, |t| t.max(through)));
            }
        }
    }

    /// The usage records to export with a cut: those up to this position (0: none).
    pub(super) fn bound(&self) -> i64 {
        i64::try_from(self.0.unwrap_or(0)).unwrap_or(i64::MAX)
    }
}

/// Recounts the exported usage invoices from the exported usage records, as the store's
/// `verify` recounts them from the usage store: the invoices are read from the events
/// (which come first), each record is given to every invoice of its agreement whose
/// window holds it, and each invoice's records are grouped and compared at the end.
#[derive(Default)]
pub(super) struct UsageRecount {
    reader: UsageInvoiceReader,
    invoices: Vec<UsageInvoiceCheck>,
    /// Each invoice's records so far, by index in `invoices`.
    counted: Vec<Vec<MeteredUsage>>,
    /// The indexes of each agreement's invoices.
    by_participant: HashMap<String, Vec<usize>>,
}

impl UsageRecount {
    /// Notes the usage invoice an exported event is, if it is one.
    pub(super) fn push_event(&mut self, event: &ExportedEvent) -> Result<(), String> {
        if event.aggregate_type != AGGREGATE_TYPE
            || event.event_type != "InvoiceIssued"
            || usage_through_of(&event.payload).is_none()
        {
            return Ok(());
        }
        let decoded = event
            .decode()
            .map_err(|e| format!("the usage invoice cannot be read: {e}"))?;
        if let Some(check) = self
            .reader
            .read(&event.aggregate_id, event.sequence, decoded)
        {
            self.by_participant
                .entry(check.participant_id.clone())
                .or_default()
                .push(self.invoices.len());
            self.invoices.push(check);
            self.counted.push(Vec::new());
        }
        Ok(())
    }

    /// Gives a record to every invoice of its agreement that counted it.
    pub(super) fn push_record(&mut self, participant_id: &str, record: &MeteredUsage) {
        let Some(indexes) = self.by_participant.get(participant_id) else {
            return;
        };
        for &index in indexes {
            if self.invoices[index].counts(record.position, record.occurred_on) {
                self.counted[index].push(record.clone());
            }
        }
    }

    /// Each invoice recounted: how many, and each one that differs (the invoice and
    /// what differs).
    pub(super) fn finish(self) -> (u64, Vec<(UsageInvoiceCheck, String)>) {
        let checked = self.invoices.len() as u64;
        let differing = self
            .invoices
            .into_iter()
            .zip(self.counted)
            .filter_map(|(invoice, records)| {
                invoice
                    .differs(&records, "the export's usage records")
                    .map(|what| (invoice, what))
            })
            .collect();
        (checked, differing)
    }
}
