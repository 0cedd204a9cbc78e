//! The answer step: a command's answer kept under its Idempotency-Key, in the
//! transaction that records its events, and given back to a repeat of the key (API.md
//! "Retries are safe").

use super::{Answer, CommandContext, Ledger, LedgerError};
use crate::store::{AppendError, IdempotencyRecord};

impl Ledger {
    /// Stores `answer` under the context's Idempotency-Key (if any) for a command that
    /// is not one agreement's (a sweep); if a concurrent request stored one first, that
    /// one is the answer.
    pub async fn remember_answer(
        &self,
        context: &CommandContext,
        answer: Answer,
    ) -> Result<Answer, LedgerError> {
        let Some(record) = self.idempotency_record(context, &answer) else {
            return Ok(answer);
        };
        match self
            .repository
            .append_with(&[], &[], None, Some(&record))
            .await
        {
            Ok(()) => Ok(answer),
            Err(AppendError::Conflict(_)) => {
                Ok(self.stored_answer(context).await?.unwrap_or(answer))
            }
            Err(AppendError::Store(error)) => Err(error.into()),
        }
    }

    /// The first answer stored under the context's key, if there is one.
    pub async fn stored_answer(
        &self,
        context: &CommandContext,
    ) -> Result<Option<Answer>, LedgerError> {
        let Some(claim) = &context.idempotency else {
            return Ok(None);
        };
        let now = self.clock.now_utc().unix_timestamp();
        match self.repository.idempotent_answer(&claim.key, now).await? {
            Some((fingerprint, _, _)) if fingerprint != claim.fingerprint => {
                Err(LedgerError::IdempotencyKeyReused {
                    key: claim.key.clone(),
                })
            }
            Some((_, status, body)) => Ok(Some(Answer {
                status,
                body,
                replayed: true,
            })),
            None => Ok(None),
        }
    }

    pub(crate) fn idempotency_record(
        &self,
        context: &CommandContext,
        answer: &Answer,
    ) -> Option<IdempotencyRecord> {
        let claim = context.idempotency.as_ref()?;
        let now = self.clock.now_utc().unix_timestamp();
        let ttl = i64::try_from(self.idempotency_ttl.as_secs()).unwrap_or(i64::MAX / 2);
        Some(IdempotencyRecord {
            key: claim.key.clone(),
            fingerprint: claim.fingerprint.clone(),
            status: answer.status,
            body: answer.body.clone(),
            now,
            expires_at: now.saturating_add(ttl),
        })
    }
}
