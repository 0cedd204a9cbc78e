//! The ESF documents produced (`esf_documents`, BILLING.md 6): which invoice's or credit
//! note's IS ESF XML was exported for upload, when and by whom. The documents themselves
//! are rendered from the agreements' events.

use super::*;

/// One document as produced.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct EsfProducedRow {
    pub participant_id: String,
    pub number: i64,
    /// `ORDINARY_INVOICE` or `ADDITIONAL_INVOICE`.
    pub document_type: String,
    /// `YYYY-MM-DD`.
    pub issued_on: String,
    /// `YYYY-MM-DD`.
    pub turnover_date: String,
    /// SHA-256 (hex) of the XML as written.
    pub digest: String,
    /// RFC 3339, UTC (set by the store when first written).
    pub produced_at: String,
    pub produced_by: String,
}

impl LedgerEventRepository {
    /// Records documents as produced, in one transaction: a document produced before
    /// keeps its first row. Returns how many were produced for the first time.
    pub async fn record_esf_produced(&self, rows: &[EsfProducedRow]) -> Result<u64, StoreError> {
        let mut tx = Transaction::begin(&self.backend).await?;
        let mut first = 0;
        on_transaction!(&mut tx, |tx, _dialect| {
            for row in rows {
                first += sqlx::query(
                    "INSERT INTO esf_documents (participant_id, number, document_type, issued_on, turnover_date, digest, produced_by)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (participant_id, number) DO NOTHING",
                )
                .bind(&row.participant_id)
                .bind(row.number)
                .bind(&row.document_type)
                .bind(&row.issued_on)
                .bind(&row.turnover_date)
                .bind(&row.digest)
                .bind(&row.produced_by)
                .execute(&mut **tx)
                .await?
                .rows_affected();
            }
        });
        tx.commit().await?;
        Ok(first)
    }

    /// Every document produced, by agreement and number.
    pub async fn esf_produced(&self) -> Result<Vec<EsfProducedRow>, StoreError> {
        on_pool!(&*self.backend, |pool, dialect| {
            let query = format!(
                "SELECT participant_id, number, document_type, issued_on, turnover_date, digest, {} AS produced_at, produced_by
                 FROM esf_documents ORDER BY participant_id, number",
                dialect.utc_text("produced_at", TO_THE_MICROSECOND)
            );
            Ok(sqlx::query_as(&query).fetch_all(pool).await?)
        })
    }
}

impl LedgerEventRepository {
    /// The agreements' invoices, credit notes and voids as stored, in participant and
    /// sequence order: what the ESF-due report reads, in one query instead of one per
    /// agreement.
    pub async fn document_events(&self) -> Result<Vec<(String, StoredEvent)>, StoreError> {
        on_pool!(&*self.backend, |pool, dialect| {
            let query = format!(
                "SELECT aggregate_id, sequence, event_type, event_version, payload, metadata, {} AS recorded_at
                 FROM events
                 WHERE aggregate_type = 'ParticipantAgreement'
                   AND event_type IN ('InvoiceIssued', 'CreditNoteIssued', 'InvoiceVoided')
                 ORDER BY aggregate_id, sequence",
                dialect.utc_text("recorded_at", TO_THE_MICROSECOND)
            );
            Ok(sqlx::query(&query)
                .fetch_all(pool)
                .await?
                .iter()
                .map(|row| {
                    (
                        row.get("aggregate_id"),
                        StoredEvent {
                            sequence: row.get("sequence"),
                            event_type: row.get("event_type"),
                            event_version: row.get("event_version"),
                            payload: row.get("payload"),
                            metadata: row.get("metadata"),
                            stored_at: row.get("recorded_at"),
                        },
                    )
                })
                .collect())
        })
    }
}
