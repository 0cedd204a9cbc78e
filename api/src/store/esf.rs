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
    /// Calls `visit` with each of the agreements' invoices, credit notes and voids as
    /// stored (its participant, type, version and payload), in participant and sequence
    /// order: what the ESF-due report reads, in one query streamed row by row (every
    /// invoice of the store is read, none is held: collected, 407,350 of them took 5.5
    /// GB).
    pub async fn for_each_document_event<E: From<StoreError>>(
        &self,
        mut visit: impl FnMut(&str, i64, &str, &str, Value) -> Result<(), E>,
    ) -> Result<(), E> {
        on_pool!(&*self.backend, |pool, _dialect| {
            let mut rows = sqlx::query(
                "SELECT aggregate_id, sequence, event_type, event_version, payload
                 FROM events
                 WHERE aggregate_type = 'ParticipantAgreement'
                   AND event_type IN ('InvoiceIssued', 'CreditNoteIssued', 'InvoiceVoided')
                 ORDER BY aggregate_id, sequence",
            )
            .fetch(pool);
            while let Some(row) = rows.try_next().await.map_err(StoreError::from)? {
                let aggregate_id: String = row.get("aggregate_id");
                let event_type: String = row.get("event_type");
                let event_version: String = row.get("event_version");
                visit(
                    &aggregate_id,
                    row.get("sequence"),
                    &event_type,
                    &event_version,
                    row.get("payload"),
                )?;
            }
        });
        Ok(())
    }
}
