//! Bank statements (`bank_statements`, `bank_statement_lines`; INTEGRATION.md 2): a row
//! per statement file (its SHA-256 unique: the same file again finds it), a row per line
//! with what became of it. The payments are the agreements' events; these rows are the
//! import's report and the list billing staff assign unmatched lines from.

use super::*;

/// A statement as stored.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct StatementRow {
    pub id: String,
    /// SHA-256 (hex) of the file's bytes.
    pub digest: String,
    /// `camt.053.001.08`, `1c`.
    pub format: String,
    pub account: String,
    pub currency: String,
    /// The statement's own id, where the format has one.
    pub statement_id: Option<String>,
    /// RFC 3339, UTC (set by the store when written).
    pub received_at: String,
    pub received_by: String,
    /// The totals as computed at import.
    pub totals: Value,
    /// RFC 3339, UTC: when the import completed; `None` while it runs (it has no lines
    /// until then).
    pub imported_at: Option<String>,
}

/// A statement's line as stored.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct StatementLineRow {
    pub n: i64,
    pub bank_reference: String,
    /// `YYYY-MM-DD`.
    pub value_date: String,
    /// With 2 decimals.
    pub amount: String,
    pub currency: String,
    pub credit: bool,
    pub reversal: bool,
    pub payer_bin: Option<String>,
    pub payer_id_text: Option<String>,
    pub payer_name: Option<String>,
    pub purpose: Option<String>,
    /// `matched`, `duplicate`, `unmatched`, `not_a_credit`.
    pub outcome: String,
    pub reason: Option<String>,
    pub participant_id: Option<String>,
    pub invoice_number: Option<String>,
    pub payment_reference: Option<String>,
    /// RFC 3339, UTC: when billing staff assigned (or began assigning) the line.
    pub assigned_at: Option<String>,
    pub assigned_by: Option<String>,
    /// The target (`participant` or `participant/invoice`) of an assignment under way.
    pub assigning_to: Option<String>,
}

const LINE_COLUMNS: &str = "n, bank_reference, value_date, amount, currency, credit, reversal, payer_bin, payer_id_text, payer_name, purpose, outcome, reason, participant_id, invoice_number, payment_reference";

const INSERT_LINE_SQLITE: &str = "INSERT INTO bank_statement_lines (statement_id, n, bank_reference, value_date, amount, currency, credit, reversal, payer_bin, payer_id_text, payer_name, purpose, outcome, reason, participant_id, invoice_number, payment_reference)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)";

fn unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if matches!(e.code().as_deref(), Some("23505") | Some("1555") | Some("2067")))
}

impl LedgerEventRepository {
    /// The id of the statement stored for the file of `digest`, if any, and whether its
    /// import completed (`false`: it was cut short, or runs now, and is resumed by
    /// loading the file again).
    pub async fn statement_by_digest(
        &self,
        digest: &str,
    ) -> Result<Option<(String, bool)>, StoreError> {
        on_pool!(&*self.backend, |pool, _dialect| {
            Ok(sqlx::query_as(
                "SELECT id, imported_at IS NOT NULL FROM bank_statements WHERE digest = $1",
            )
            .bind(digest)
            .fetch_optional(pool)
            .await?)
        })
    }

    /// Stores a statement's row, before any of its payments is recorded (its import not
    /// yet complete, `imported_at` NULL; its lines come with [`Self::begin_statement_completion`]):
    /// `false` (nothing written) when a statement of the same digest was stored
    /// meanwhile.
    pub async fn insert_statement(&self, statement: &StatementRow) -> Result<bool, StoreError> {
        let inserted = on_pool!(&*self.backend, |pool, _dialect| {
            sqlx::query(
                "INSERT INTO bank_statements (id, digest, format, account, currency, statement_id, received_by, totals)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&statement.id)
            .bind(&statement.digest)
            .bind(&statement.format)
            .bind(&statement.account)
            .bind(&statement.currency)
            .bind(&statement.statement_id)
            .bind(&statement.received_by)
            .bind(&statement.totals)
            .execute(pool)
            .await
            .map(|_| ())
        });
        match inserted {
            Ok(()) => Ok(true),
            Err(error) if unique_violation(&error) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// A statement, if stored.
    pub async fn statement(&self, id: &str) -> Result<Option<StatementRow>, StoreError> {
        on_pool!(&*self.backend, |pool, dialect| {
            let query = format!(
                "SELECT id, digest, format, account, currency, statement_id, {} AS received_at, received_by, totals, {} AS imported_at
                 FROM bank_statements WHERE id = $1",
                dialect.utc_text("received_at", TO_THE_MICROSECOND),
                dialect.utc_text("imported_at", TO_THE_MICROSECOND)
            );
            Ok(sqlx::query_as(&query).bind(id).fetch_optional(pool).await?)
        })
    }

    /// A statement's lines in order; or only line `n`.
    pub async fn statement_lines(
        &self,
        id: &str,
        n: Option<i64>,
    ) -> Result<Vec<StatementLineRow>, StoreError> {
        on_pool!(&*self.backend, |pool, dialect| {
            let query = format!(
                "SELECT {LINE_COLUMNS}, {} AS assigned_at, assigned_by, assigning_to
                 FROM bank_statement_lines WHERE statement_id = $1 AND ($2 IS NULL OR n = $2) ORDER BY n",
                dialect.utc_text("assigned_at", TO_THE_MICROSECOND)
            );
            Ok(sqlx::query_as(&query)
                .bind(id)
                .bind(n)
                .fetch_all(pool)
                .await?)
        })
    }

    /// Claims an unmatched line for an assignment by `by` to `target` (its participant
    /// and invoice), so that two different assignments never both record it: `false` when
    /// the line is not unmatched, or another assignment is under way. The same assignment
    /// (the same target) may claim it again: a retry after a crash or a lost answer
    /// finishes what the first began (its payment's reference is the line's own, so it
    /// is recorded once).
    pub async fn claim_statement_line(
        &self,
        id: &str,
        n: i64,
        by: &str,
        target: &str,
    ) -> Result<bool, StoreError> {
        on_pool!(&*self.backend, |pool, dialect| {
            let query = format!(
                "UPDATE bank_statement_lines SET assigned_by = $3, assigned_at = {}, assigning_to = $4
                 WHERE statement_id = $1 AND n = $2 AND outcome = 'unmatched'
                   AND (assigned_at IS NULL OR assigning_to = $4)",
                dialect.pick("now()", "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')")
            );
            let done = sqlx::query(&query)
                .bind(id)
                .bind(n)
                .bind(by)
                .bind(target)
                .execute(pool)
                .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// Gives up a claim (the assignment's payment was refused): the line is unmatched
    /// and free again.
    pub async fn release_statement_line(&self, id: &str, n: i64) -> Result<(), StoreError> {
        on_pool!(&*self.backend, |pool, _dialect| {
            sqlx::query(
                "UPDATE bank_statement_lines SET assigned_by = NULL, assigned_at = NULL, assigning_to = NULL
                 WHERE statement_id = $1 AND n = $2 AND outcome = 'unmatched'",
            )
            .bind(id)
            .bind(n)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Marks a claimed line `matched` by its assignment.
    pub async fn complete_statement_line(
        &self,
        id: &str,
        n: i64,
        participant_id: &str,
        invoice_number: Option<&str>,
        payment_reference: &str,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        on_pool!(&*self.backend, |pool, _dialect| {
            sqlx::query(
                "UPDATE bank_statement_lines SET outcome = 'matched', participant_id = $3, invoice_number = $4, payment_reference = $5, reason = $6, assigning_to = NULL
                 WHERE statement_id = $1 AND n = $2",
            )
            .bind(id)
            .bind(n)
            .bind(participant_id)
            .bind(invoice_number)
            .bind(payment_reference)
            .bind(reason)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Begins completing an import: its lines are added as their outcomes are known
    /// ([`StatementCompletion::add_lines`]), and [`StatementCompletion::finish`] stores
    /// the totals and `imported_at`, all in one transaction (so a statement has its
    /// lines exactly when its import completed; dropped unfinished, nothing of it is
    /// written). On PostgreSQL the transaction is open from here and takes each line as
    /// it comes, while the payments are still being recorded (row locks: it holds no
    /// other writer back); on SQLite, whose one writer at a time it would hold back, the
    /// lines wait in memory and are all written by `finish`.
    pub async fn begin_statement_completion(
        &self,
        id: &str,
    ) -> Result<StatementCompletion, StoreError> {
        let lines = match &*self.backend {
            Backend::Postgres { .. } => {
                CompletionLines::Written(Transaction::begin(&self.backend).await?)
            }
            Backend::Sqlite { .. } => CompletionLines::Waiting(Vec::new()),
        };
        Ok(StatementCompletion {
            backend: self.backend.clone(),
            id: id.to_owned(),
            lines,
        })
    }

    /// Of the payment `references`, those some other statement's line records as
    /// `matched` (recorded by that statement, or assigned from it: a duplicate here), each
    /// with the participant it was recorded on.
    pub async fn payments_matched_elsewhere(
        &self,
        id: &str,
        references: &[String],
    ) -> Result<std::collections::HashMap<String, String>, StoreError> {
        let rows: Vec<(Option<String>, Option<String>)> = match &*self.backend {
            // One query for the whole statement, joined to the references so the planner
            // chooses between probing the index per reference and one pass over the
            // lines (500 references at a time, `= ANY`, it scanned every line per
            // chunk: 25 ms each at 90,000 lines).
            Backend::Postgres { pool, .. } => {
                sqlx::query_as(
                    "SELECT l.participant_id, l.payment_reference
                     FROM UNNEST($2::text[]) AS r(reference)
                     JOIN bank_statement_lines l ON l.payment_reference = r.reference
                     WHERE l.statement_id <> $1 AND l.outcome = 'matched'",
                )
                .bind(id)
                .bind(references)
                .fetch_all(pool)
                .await?
            }
            Backend::Sqlite { pool, .. } => {
                let mut rows = Vec::new();
                for chunk in references.chunks(500) {
                    let placeholders = (0..chunk.len())
                        .map(|i| format!("${}", i + 2))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let query = format!(
                        "SELECT participant_id, payment_reference FROM bank_statement_lines
                         WHERE statement_id <> $1 AND outcome = 'matched' AND payment_reference IN ({placeholders})"
                    );
                    let mut query = sqlx::query_as(&query).bind(id);
                    for reference in chunk {
                        query = query.bind(reference);
                    }
                    rows.extend(query.fetch_all(pool).await?);
                }
                rows
            }
        };
        let found = rows
            .into_iter()
            .filter_map(|(participant, reference)| Some((reference?, participant?)))
            .collect();
        Ok(found)
    }
}

/// An import's completion under way (see
/// [`LedgerEventRepository::begin_statement_completion`]).
pub struct StatementCompletion {
    backend: Arc<Backend>,
    id: String,
    lines: CompletionLines,
}

enum CompletionLines {
    /// PostgreSQL: written as they come, in the transaction the completion commits.
    Written(Transaction<'static>),
    /// SQLite: kept until `finish`.
    Waiting(Vec<StatementLineRow>),
}

impl StatementCompletion {
    /// Adds lines with their final outcomes (each line once).
    pub async fn add_lines(&mut self, lines: &[StatementLineRow]) -> Result<(), StoreError> {
        match &mut self.lines {
            CompletionLines::Written(tx) => insert_lines(tx, &self.id, lines).await,
            CompletionLines::Waiting(waiting) => {
                waiting.extend_from_slice(lines);
                Ok(())
            }
        }
    }

    /// Writes the totals and `imported_at` (and on SQLite the lines), and commits.
    pub async fn finish(self, totals: &Value) -> Result<(), StoreError> {
        let mut tx = match self.lines {
            CompletionLines::Written(tx) => tx,
            CompletionLines::Waiting(lines) => {
                let mut tx = Transaction::begin(&self.backend).await?;
                insert_lines(&mut tx, &self.id, &lines).await?;
                tx
            }
        };
        on_transaction!(&mut tx, |tx, dialect| {
            let query = format!(
                "UPDATE bank_statements SET totals = $2, imported_at = {} WHERE id = $1",
                dialect.pick("now()", "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')")
            );
            sqlx::query(&query)
                .bind(&self.id)
                .bind(totals)
                .execute(&mut **tx)
                .await?;
        });
        tx.commit().await?;
        Ok(())
    }
}

/// Inserts a statement's lines in `tx`: on PostgreSQL 5,000 at a time, one statement
/// each (`UNNEST`).
async fn insert_lines(
    tx: &mut Transaction<'static>,
    id: &str,
    lines: &[StatementLineRow],
) -> Result<(), StoreError> {
    match tx {
        Transaction::Postgres(tx) => {
            for chunk in lines.chunks(5_000) {
                sqlx::query(
                    "INSERT INTO bank_statement_lines (statement_id, n, bank_reference, value_date, amount, currency, credit, reversal, payer_bin, payer_id_text, payer_name, purpose, outcome, reason, participant_id, invoice_number, payment_reference)
                     SELECT $1, n, bank_reference, value_date, amount, currency, credit, reversal, payer_bin, payer_id_text, payer_name, purpose, outcome, reason, participant_id, invoice_number, payment_reference
                     FROM UNNEST($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::boolean[], $8::boolean[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[])
                         AS l(n, bank_reference, value_date, amount, currency, credit, reversal, payer_bin, payer_id_text, payer_name, purpose, outcome, reason, participant_id, invoice_number, payment_reference)",
                )
                .bind(id)
                .bind(column(chunk, |l| l.n))
                .bind(column(chunk, |l| l.bank_reference.as_str()))
                .bind(column(chunk, |l| l.value_date.as_str()))
                .bind(column(chunk, |l| l.amount.as_str()))
                .bind(column(chunk, |l| l.currency.as_str()))
                .bind(column(chunk, |l| l.credit))
                .bind(column(chunk, |l| l.reversal))
                .bind(column(chunk, |l| l.payer_bin.as_deref()))
                .bind(column(chunk, |l| l.payer_id_text.as_deref()))
                .bind(column(chunk, |l| l.payer_name.as_deref()))
                .bind(column(chunk, |l| l.purpose.as_deref()))
                .bind(column(chunk, |l| l.outcome.as_str()))
                .bind(column(chunk, |l| l.reason.as_deref()))
                .bind(column(chunk, |l| l.participant_id.as_deref()))
                .bind(column(chunk, |l| l.invoice_number.as_deref()))
                .bind(column(chunk, |l| l.payment_reference.as_deref()))
                .execute(&mut **tx)
                .await?;
            }
        }
        Transaction::Sqlite(tx) => {
            for line in lines {
                sqlx::query(INSERT_LINE_SQLITE)
                    .bind(id)
                    .bind(line.n)
                    .bind(&line.bank_reference)
                    .bind(&line.value_date)
                    .bind(&line.amount)
                    .bind(&line.currency)
                    .bind(line.credit)
                    .bind(line.reversal)
                    .bind(&line.payer_bin)
                    .bind(&line.payer_id_text)
                    .bind(&line.payer_name)
                    .bind(&line.purpose)
                    .bind(&line.outcome)
                    .bind(&line.reason)
                    .bind(&line.participant_id)
                    .bind(&line.invoice_number)
                    .bind(&line.payment_reference)
                    .execute(&mut **tx)
                    .await?;
            }
        }
    }
    Ok(())
}
