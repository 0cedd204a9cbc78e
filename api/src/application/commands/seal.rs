//! The seal step: decided events become envelopes with their metadata (who, when, which
//! request and clause), are serialized and hash-chained (tamper evidence,
//! crate::hash_chain), with the invoice numbers they claim and the projection row that
//! commits with them.

use std::collections::HashMap;

use cqrs_es::persist::SerializedEvent;
use cqrs_es::{EventEnvelope, View};

use aggregates::ParticipantAgreement;
use commands::AgreementCommand;
use events::{AgreementEvent, InvoiceNumber, ParticipantId};

use super::load::Loaded;
use super::{metadata, CommandContext, Ledger, LedgerError};
use crate::store::{LedgerRow, StoreError};

/// What one attempt appends: all of it in one transaction, or nothing.
pub(super) struct Sealed {
    /// The new events as cqrs-es envelopes (what the command's answer shows).
    pub envelopes: Vec<EventEnvelope<ParticipantAgreement>>,
    /// The same events serialized, each with its hash in the chain.
    pub serialized: Vec<SerializedEvent>,
    /// The invoice numbers the events claim from the operator-wide counter.
    pub invoice_numbers: Vec<InvoiceNumber>,
    /// The agreement's projection after the events, replacing its stored row.
    pub ledger_row: Option<LedgerRow>,
}

impl Ledger {
    /// The seal step: nothing when the aggregate decided nothing (a repeated payment
    /// reference), else the decided events as the next ones of the agreement's stream,
    /// chained to its last event's hash, with the projection folded forward.
    pub(super) fn seal(
        &self,
        participant: &ParticipantId,
        loaded: Loaded,
        decided: Vec<AgreementEvent>,
        command: &AgreementCommand,
        context: &CommandContext,
    ) -> Result<Sealed, LedgerError> {
        if decided.is_empty() {
            return Ok(Sealed {
                envelopes: Vec::new(),
                serialized: Vec::new(),
                invoice_numbers: Vec::new(),
                ledger_row: None,
            });
        }
        let mut ledger = loaded.ledger;
        let current_sequence = usize::try_from(ledger.version).unwrap_or(usize::MAX);
        let envelopes = self.envelopes(participant, current_sequence, decided, command, context);
        for envelope in &envelopes {
            ledger.update(envelope);
        }
        let ledger_row = LedgerRow::of(&ledger)?;
        let mut serialized = envelopes
            .iter()
            .map(SerializedEvent::try_from)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError::Corrupt(format!("an event cannot be written: {e}")))?;
        // The hash chain (tamper evidence): each event's hash covers its content and
        // the previous event's hash, computed here as the events are recorded.
        crate::hash_chain::chain(&mut serialized, loaded.head_hash);
        let invoice_numbers = envelopes
            .iter()
            .filter_map(|e| claimed_invoice_number(&e.payload))
            .collect();
        Ok(Sealed {
            envelopes,
            serialized,
            invoice_numbers,
            ledger_row,
        })
    }

    /// The seal step of one command of a batch (`batch`): the decided events numbered on
    /// from the loaded ledger's version, chained to its head hash, and folded into it, so
    /// the next command of the batch decides and chains on from them. The projection row
    /// is not written here: the batch writes the agreement's last one.
    pub(super) fn seal_onto(
        &self,
        participant: &ParticipantId,
        loaded: &mut Loaded,
        decided: Vec<AgreementEvent>,
        command: &AgreementCommand,
        context: &CommandContext,
    ) -> Result<Vec<SerializedEvent>, LedgerError> {
        let current_sequence = usize::try_from(loaded.ledger.version).unwrap_or(usize::MAX);
        let envelopes = self.envelopes(participant, current_sequence, decided, command, context);
        for envelope in &envelopes {
            loaded.ledger.update(envelope);
        }
        let mut serialized = envelopes
            .iter()
            .map(SerializedEvent::try_from)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError::Corrupt(format!("an event cannot be written: {e}")))?;
        let head = std::mem::take(&mut loaded.head_hash);
        loaded.head_hash = crate::hash_chain::chain(&mut serialized, head);
        Ok(serialized)
    }

    /// The decided events as envelopes numbered on from `last_sequence`, each with its
    /// metadata: who, when, under which request, command and clause, and which sweep.
    fn envelopes(
        &self,
        participant: &ParticipantId,
        last_sequence: usize,
        decided: Vec<AgreementEvent>,
        command: &AgreementCommand,
        context: &CommandContext,
    ) -> Vec<EventEnvelope<ParticipantAgreement>> {
        let recorded_at = self
            .clock
            .now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        decided
            .into_iter()
            .zip(last_sequence + 1..)
            .map(|(payload, sequence)| {
                let mut metadata = HashMap::from([
                    (metadata::ACTOR.to_owned(), context.actor.clone()),
                    (metadata::RECORDED_AT.to_owned(), recorded_at.clone()),
                    (metadata::REQUEST_ID.to_owned(), context.request_id.clone()),
                    (
                        metadata::CLAUSE.to_owned(),
                        payload.clause().as_str().to_owned(),
                    ),
                    (metadata::COMMAND.to_owned(), command.name().to_owned()),
                ]);
                if let Some(sweep) = &context.sweep {
                    metadata.insert(metadata::SWEEP_ID.to_owned(), sweep.id.clone());
                    metadata.insert(
                        metadata::SWEEP_AS_OF.to_owned(),
                        events::business_date::format(sweep.as_of),
                    );
                }
                EventEnvelope {
                    aggregate_id: participant.as_str().to_owned(),
                    sequence,
                    payload,
                    metadata,
                }
            })
            .collect()
    }
}

/// The number an event takes from the operator's one gapless series: an invoice's, or a
/// credit note's (BILLING.md 5.3: its own number from the same series).
pub(crate) fn claimed_invoice_number(event: &AgreementEvent) -> Option<InvoiceNumber> {
    match event {
        AgreementEvent::InvoiceIssued(invoice) => Some(invoice.number),
        AgreementEvent::CreditNoteIssued(credit_note) => Some(credit_note.number),
        _ => None,
    }
}
