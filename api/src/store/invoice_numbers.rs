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
