//! Loading an export into an empty store, in one transaction: the events exactly as
//! exported (global positions and row times kept), the usage records exactly as
//! exported (positions kept: the usage invoices counted through them), the invoice
//! numbers the events took, and the counters moved past them.

use super::*;

/// The transaction an import loads in ([`LedgerEventRepository::begin_import`]); nothing
/// is written unless [`ImportTransaction::finish`] commits it.
pub struct ImportTransaction(Transaction<'static>);

impl LedgerEventRepository {
    pub async fn begin_import(&self) -> Result<ImportTransaction, StoreError> {
        Ok(ImportTransaction(Transaction::begin(&self.backend).await?))
    }
}

impl ImportTransaction {
    /// Inserts events as exported: PostgreSQL in one statement, SQLite a statement each.
    pub async fn insert(&mut self, events: Vec<EventRow>) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        match &mut self.0 {
            Transaction::Postgres(tx) => insert_events_pg(tx, &events).await?,
            Transaction::Sqlite(tx) => {
                for event in events {
                    sqlx::query(
                        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, global_position, recorded_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(event.aggregate_type)
                    .bind(event.aggregate_id)
                    .bind(event.sequence)
                    .bind(event.event_type)
                    .bind(event.event_version)
                    .bind(event.payload)
                    .bind(event.metadata)
                    .bind(event.global_position)
                    .bind(event.stored_at)
                    .execute(&mut **tx)
                    .await?;
                }
            }
        }
        Ok(())
    }

    /// Inserts usage records as exported, their positions kept: PostgreSQL in one
    /// statement, SQLite a statement each (its `AUTOINCREMENT` counter follows the
    /// highest position inserted by itself).
    pub async fn insert_usage(&mut self, records: Vec<UsageRow>) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        match &mut self.0 {
            Transaction::Postgres(tx) => {
                sqlx::query(
                    "INSERT INTO usage_records (position, id, participant_id, metric, quantity, occurred_on, recorded_at)
                     SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[])",
                )
                .bind(column(&records, |r| r.position))
                .bind(column(&records, |r| &r.id))
                .bind(column(&records, |r| &r.participant_id))
                .bind(column(&records, |r| &r.metric))
                .bind(column(&records, |r| r.quantity))
                .bind(column(&records, |r| &r.occurred_on))
                .bind(column(&records, |r| &r.recorded_at))
                .execute(&mut **tx)
                .await?;
            }
            Transaction::Sqlite(tx) => {
                for record in records {
                    sqlx::query(
                        "INSERT INTO usage_records (position, id, participant_id, metric, quantity, occurred_on, recorded_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(record.position)
                    .bind(record.id)
                    .bind(record.participant_id)
                    .bind(record.metric)
                    .bind(record.quantity)
                    .bind(record.occurred_on)
                    .bind(record.recorded_at)
                    .execute(&mut **tx)
                    .await?;
                }
            }
        }
        Ok(())
    }

    /// Logs ESF documents as produced, exactly as exported (their production time kept).
    pub async fn insert_esf_produced(
        &mut self,
        documents: Vec<super::EsfProducedRow>,
    ) -> Result<(), StoreError> {
        for document in documents {
            let sql = match &self.0 {
                Transaction::Postgres(_) => {
                    "INSERT INTO esf_documents (participant_id, number, document_type, issued_on, turnover_date, digest, produced_at, produced_by)
                     VALUES ($1, $2, $3, $4, $5, $6, CAST($7 AS timestamptz), $8)"
                }
                Transaction::Sqlite(_) => {
                    "INSERT INTO esf_documents (participant_id, number, document_type, issued_on, turnover_date, digest, produced_at, produced_by)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                }
            };
            on_transaction!(&mut self.0, |tx, _dialect| {
                sqlx::query(sql)
                    .bind(&document.participant_id)
                    .bind(document.number)
                    .bind(&document.document_type)
                    .bind(&document.issued_on)
                    .bind(&document.turnover_date)
                    .bind(&document.digest)
                    .bind(&document.produced_at)
                    .bind(&document.produced_by)
                    .execute(&mut **tx)
                    .await?;
            });
        }
        Ok(())
    }

    /// Records the invoice numbers taken (number, agreement, sequence), sets the counter
    /// to the highest, moves PostgreSQL's global position and usage position past the
    /// highest imported (SQLite's `AUTOINCREMENT` moved by itself), and commits.
    pub async fn finish(mut self, numbers: Vec<(i64, String, i64)>) -> Result<(), StoreError> {
        let last = numbers.iter().map(|(n, _, _)| *n).max().unwrap_or(0);
        match &mut self.0 {
            Transaction::Postgres(tx) => insert_invoice_numbers_pg(tx, &numbers).await?,
            Transaction::Sqlite(tx) => {
                for (number, id, sequence) in numbers {
                    sqlx::query(INSERT_INVOICE_NUMBER)
                        .bind(number)
                        .bind(id)
                        .bind(sequence)
                        .execute(&mut **tx)
                        .await?;
                }
            }
        }
        on_transaction!(&mut self.0, |tx, dialect| {
            sqlx::query("UPDATE invoice_counter SET last_number = $1 WHERE id = 1")
                .bind(last)
                .execute(&mut **tx)
                .await?;
            if dialect == Dialect::Postgres {
                sqlx::query(
                    "SELECT setval(pg_get_serial_sequence('events', 'global_position'),
                                   (SELECT COALESCE(MAX(global_position), 0) + 1 FROM events), false)",
                )
                .execute(&mut **tx)
                .await?;
                // New usage records continue after the imported positions.
                sqlx::query(
                    "SELECT setval(pg_get_serial_sequence('usage_records', 'position'),
                                   (SELECT COALESCE(MAX(position), 0) + 1 FROM usage_records), false)",
                )
                .execute(&mut **tx)
                .await?;
            }
        });
        self.0.commit().await?;
        Ok(())
    }
}

async fn insert_events_pg(
    connection: &mut sqlx::PgConnection,
    events: &[EventRow],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, global_position, recorded_at)
         OVERRIDING SYSTEM VALUE
         SELECT a, i, s, t, v, p, m, g, r::timestamptz
         FROM UNNEST($9::text[], $1::text[], $2::bigint[], $3::text[], $4::text[], $5::jsonb[], $6::jsonb[], $7::bigint[], $8::text[])
           AS u(a, i, s, t, v, p, m, g, r)",
    )
    .bind(column(events, |e| &e.aggregate_id))
    .bind(column(events, |e| e.sequence))
    .bind(column(events, |e| &e.event_type))
    .bind(column(events, |e| &e.event_version))
    .bind(column(events, |e| &e.payload))
    .bind(column(events, |e| &e.metadata))
    .bind(column(events, |e| e.global_position))
    .bind(column(events, |e| &e.stored_at))
    .bind(column(events, |e| &e.aggregate_type))
    .execute(connection)
    .await?;
    Ok(())
}

async fn insert_invoice_numbers_pg(
    connection: &mut sqlx::PgConnection,
    numbers: &[(i64, String, i64)],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO invoice_numbers (number, aggregate_id, sequence)
         SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::bigint[])",
    )
    .bind(column(numbers, |n| n.0))
    .bind(column(numbers, |n| &n.1))
    .bind(column(numbers, |n| n.2))
    .execute(connection)
    .await?;
    Ok(())
}
