//! The load step: the agreement's state a command decides on, from its stored projection
//! when that is intact and at its last event, else folded from every event; with the
//! hash its next event chains to.

use std::sync::Arc;

use cqrs_es::{EventStore, View};

use aggregates::ReferenceData;
use events::ParticipantId;
use projections::AgreementLedger;

use super::{Ledger, LedgerError};
use crate::store::{CommandConnection, StoredAgreementState};

/// What one attempt of a command decides on.
pub(super) struct Loaded {
    /// The agreement's projection at its last event; the aggregate inside it decides.
    pub ledger: AgreementLedger,
    /// The hash of its last event (the genesis value before the first): the first new
    /// event chains to it.
    pub head_hash: String,
    /// The reference tables in force.
    pub reference: Arc<ReferenceData>,
}

impl Ledger {
    /// The load step: checks out the connection that serves the attempt's reads and its
    /// write, and reads the agreement's state on it: its stored projection (written in
    /// the transaction of its last events, so exactly at their sequence) when it is
    /// intact and current, else a fold of every event. The aggregate decides on it, and
    /// the projection written with the new events continues from it.
    ///
    /// Never two connections at once: a fold reads through the pool, so the held one is
    /// given back first. The reference tables in force come with the state: its read also
    /// returns the reference stream's last sequence, so the cached tables are used when
    /// they are current, and a version published meanwhile is loaded first.
    pub(super) async fn load(
        &self,
        participant: &ParticipantId,
    ) -> Result<(CommandConnection, Loaded), LedgerError> {
        let mut connection = self.repository.command_connection().await?;
        let (stored, reference_sequence) = self.stored_state(&mut connection, participant).await?;
        let ((ledger, head_hash), reference) =
            match (stored, self.reference_cached_at(reference_sequence)) {
                (Some(state), Some(reference)) => (state, reference),
                (stored, _) => {
                    drop(connection);
                    let reference = self.reference().await?;
                    let state = match stored {
                        Some(state) => state,
                        None => self.folded_state(participant).await?,
                    };
                    connection = self.repository.command_connection().await?;
                    (state, reference)
                }
            };
        Ok((
            connection,
            Loaded {
                ledger,
                head_hash,
                reference,
            },
        ))
    }

    /// The agreement's state from its stored projection, with the hash of its last
    /// event: `None` (fold the events instead) when there is no stored projection, it
    /// cannot be read, or it is not at the sequence of the agreement's last event.
    /// The agreement's stored state when it is intact and current, and the reference
    /// stream's last sequence read with it (`None` when there is no stored row).
    async fn stored_state(
        &self,
        connection: &mut CommandConnection,
        participant: &ParticipantId,
    ) -> Result<(Option<(AgreementLedger, String)>, Option<i64>), LedgerError> {
        let Some(state) = self
            .repository
            .agreement_state(connection, participant.as_str())
            .await?
        else {
            return Ok((None, None));
        };
        let reference_sequence = Some(state.reference_sequence);
        Ok((self.current_stored(state, participant), reference_sequence))
    }

    fn current_stored(
        &self,
        state: StoredAgreementState,
        participant: &ParticipantId,
    ) -> Option<(AgreementLedger, String)> {
        let Ok(ledger) = state.row.decode() else {
            tracing::warn!(participant = %participant, "stored projection unreadable; folding the events (run `edoc-ledger replay`)");
            return None;
        };
        if ledger.version == 0 {
            return None;
        }
        // The projection must be at the agreement's last event, whose hash the next event
        // chains to.
        let at_last_event = state
            .last_sequence
            .and_then(|last| u64::try_from(last).ok())
            == Some(ledger.version);
        match state.head_hash {
            Some(hash) if at_last_event => Some((ledger, hash)),
            _ => {
                tracing::warn!(participant = %participant, "stored projection behind its events; folding the events (run `edoc-ledger replay --check`)");
                None
            }
        }
    }

    /// The agreement's state folded from every event, with the hash of its last event
    /// (the genesis value before the first).
    async fn folded_state(
        &self,
        participant: &ParticipantId,
    ) -> Result<(AgreementLedger, String), LedgerError> {
        let history = self.event_store.load_events(participant.as_str()).await?;
        let mut ledger = AgreementLedger::default();
        for envelope in &history {
            ledger.update(envelope);
        }
        let head_hash = history
            .last()
            .and_then(|e| e.metadata.get(crate::hash_chain::HASH_KEY).cloned())
            .unwrap_or_else(|| crate::hash_chain::GENESIS.to_owned());
        Ok((ledger, head_hash))
    }
}
