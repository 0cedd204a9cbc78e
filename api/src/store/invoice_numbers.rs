//! The operator-wide gapless invoice counter and the numbers taken.

use super::*;

pub(super) fn number_i64(number: InvoiceNumber) -> i64 {
    i64::try_from(number.value()).expect("an invoice number fits in i64")
}

/// Records that an event took a number.
pub(super) const INSERT_INVOICE_NUMBER: &str =
    "INSERT INTO invoice_numbers (number, aggregate_id, sequence) VALUES ($1, $2, $3)";

impl Transaction<'_> {
    /// Takes `number` from the operator-wide counter: only if it is exactly the next one.
    pub(super) async fn claim_invoice_number(
        &mut self,
        number: InvoiceNumber,
        event: &SerializedEvent,
    ) -> Result<(), AppendError> {
        on_transaction!(self, |tx, _dialect| {
            let taken = sqlx::query(
                "UPDATE invoice_counter SET last_number = $1 WHERE id = 1 AND last_number = $1 - 1",
            )
            .bind(number_i64(number))
            .execute(&mut **tx)
            .await
            .map_err(append_error)?;
            if taken.rows_affected() != 1 {
                return Err(AppendError::Conflict("the invoice number"));
            }
            sqlx::query(INSERT_INVOICE_NUMBER)
                .bind(number_i64(number))
                .bind(&event.aggregate_id)
                .bind(sequence_i64(event.sequence))
                .execute(&mut **tx)
                .await
                .map_err(append_error)?;
        });
        Ok(())
    }
}

impl Transaction<'_> {
    /// Takes consecutive numbers from the operator-wide counter at once (a batch's
    /// documents, in order): one compare-and-set from the first's predecessor to the
    /// last, then each number's row (on PostgreSQL in one statement). A number taken
    /// meanwhile fails it all.
    pub(super) async fn claim_invoice_numbers(
        &mut self,
        claims: &[(InvoiceNumber, &SerializedEvent)],
    ) -> Result<(), AppendError> {
        let (Some((first, _)), Some((last, _))) = (claims.first(), claims.last()) else {
            return Ok(());
        };
        assert!(
            claims
                .windows(2)
                .all(|pair| pair[1].0.value() == pair[0].0.value() + 1),
            "a batch claims consecutive numbers"
        );
        let rows: Vec<(i64, String, i64)> = claims
            .iter()
            .map(|(number, event)| {
                (
                    number_i64(*number),
                    event.aggregate_id.clone(),
                    sequence_i64(event.sequence),
                )
            })
            .collect();
        match self {
            Transaction::Postgres(tx) => {
                let taken = sqlx::query(
                    "UPDATE invoice_counter SET last_number = $2 WHERE id = 1 AND last_number = $1 - 1",
                )
                .bind(number_i64(*first))
                .bind(number_i64(*last))
                .execute(&mut **tx)
                .await
                .map_err(append_error)?;
                if taken.rows_affected() != 1 {
                    return Err(AppendError::Conflict("the invoice number"));
                }
                sqlx::query(
                    "INSERT INTO invoice_numbers (number, aggregate_id, sequence)
                     SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::bigint[])",
                )
                .bind(column(&rows, |n| n.0))
                .bind(column(&rows, |n| &n.1))
                .bind(column(&rows, |n| n.2))
                .execute(&mut **tx)
                .await
                .map_err(append_error)?;
            }
            Transaction::Sqlite(_) => {
                for (number, event) in claims {
                    self.claim_invoice_number(*number, event).await?;
                }
            }
        }
        Ok(())
    }
}

impl LedgerEventRepository {
    /// The number the next invoice will get if nothing else takes it first. Reading it
    /// reserves nothing: the number is taken only when its invoice commits (see
    /// [`Self::append`]), so an abandoned command leaves no gap.
    pub async fn next_invoice_number(&self) -> Result<InvoiceNumber, StoreError> {
        let mut connection = self.command_connection().await?;
        self.next_invoice_number_on(&mut connection).await
    }

    /// [`Self::next_invoice_number`] on a held connection.
    pub async fn next_invoice_number_on(
        &self,
        connection: &mut CommandConnection,
    ) -> Result<InvoiceNumber, StoreError> {
        let last: i64 = on_connection!(connection, |connection, _dialect| {
            sqlx::query_scalar("SELECT last_number FROM invoice_counter WHERE id = 1")
                .fetch_one(&mut **connection)
                .await?
        });
        u64::try_from(last)
            .ok()
            .and_then(|last| last.checked_add(1))
            .and_then(|next| InvoiceNumber::new(next).ok())
            .ok_or_else(|| StoreError::Corrupt(format!("invoice counter holds {last}")))
    }
}
