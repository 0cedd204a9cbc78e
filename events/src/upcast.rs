//! Schema evolution: reading events recorded in an older shape.
//!
//! A stored event is never rewritten: its row, and so its hash (docs/audit.md), stays as
//! it was recorded. When the shape of an event changes, the new shape gets a new
//! `event_version` and an upcaster lifts the old payload to it *on read*. Every reader
//! goes through [`upcasters`]: the event store the ledger loads aggregates from (cqrs-es
//! `PersistedEventStore::with_upcasters`), the projection rebuild and the offline audit
//! (both through [`decode`]). Hash verification reads the stored rows as they are.
//!
//! Upcasters run in the order [`upcasters`] lists them, each only on the event type it
//! names and only on versions older than its own, so a chain `0.8 -> 0.9 -> 1.0` is two
//! entries, oldest first.

use cqrs_es::persist::{EventUpcaster, SemanticVersionEventUpcaster, SerializedEvent};
use serde_json::Value;

use crate::AgreementEvent;

/// `Registered` before version 1.0 (a shape kept to exercise the upcaster path; the
/// ledger has never written it): the participant's BIN/IIN was recorded as `bin_iin`,
/// and there was no `resident` flag because only residents could register. Version 1.0
/// calls the field `participant_id` and records `resident`.
pub const REGISTERED_V1: &str = "1.0";

/// Every upcaster, oldest first.
pub fn upcasters() -> Vec<Box<dyn EventUpcaster>> {
    vec![Box::new(SemanticVersionEventUpcaster::new(
        "Registered",
        REGISTERED_V1,
        Box::new(registered_to_v1),
    ))]
}

/// `Registered` 0.x -> 1.0: `bin_iin` becomes `participant_id`, `resident` is `true`.
fn registered_to_v1(payload: Value) -> Value {
    let Value::Object(mut outer) = payload else {
        return payload;
    };
    if let Some(Value::Object(inner)) = outer.get_mut("Registered") {
        if let Some(id) = inner.remove("bin_iin") {
            inner.insert("participant_id".to_owned(), id);
        }
        inner
            .entry("resident".to_owned())
            .or_insert(Value::Bool(true));
    }
    Value::Object(outer)
}

/// Lifts one stored event to today's shape (the payload and version change; the
/// aggregate id, sequence and metadata, hashes included, do not).
pub fn upcast(event: SerializedEvent, upcasters: &[Box<dyn EventUpcaster>]) -> SerializedEvent {
    upcasters.iter().fold(event, |event, upcaster| {
        if upcaster.can_upcast(&event.event_type, &event.event_version) {
            upcaster.upcast(event)
        } else {
            event
        }
    })
}

/// Reads a stored payload of any known version as today's event.
pub fn decode(
    event_type: &str,
    event_version: &str,
    payload: Value,
) -> Result<AgreementEvent, serde_json::Error> {
    let needs_upcast = event_version != crate::EVENT_VERSION;
    let payload = if needs_upcast {
        let stored = SerializedEvent::new(
            String::new(),
            0,
            String::new(),
            event_type.to_owned(),
            event_version.to_owned(),
            payload,
            Value::Null,
        );
        upcast(stored, &upcasters()).payload
    } else {
        payload
    };
    serde_json::from_value(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn old_registered() -> Value {
        serde_json::json!({"Registered": {
            "bin_iin": "150240008272", "name": "ТОО «Участник»", "kind": "legal_entity",
            "currency": "KZT", "email": "buh@example.kz", "registered_on": "2026-01-05"}})
    }

    #[test]
    fn an_old_registered_reads_as_today_s() {
        let event = decode("Registered", "0.9", old_registered()).unwrap();
        let AgreementEvent::Registered(registered) = event else {
            panic!("a Registered event");
        };
        assert_eq!(registered.participant_id.as_str(), "150240008272");
        assert!(registered.resident);
    }

    #[test]
    fn upcasting_sets_the_version_and_leaves_metadata_alone() {
        let metadata = serde_json::json!({"hash": "ab", "prev_hash": "00"});
        let stored = SerializedEvent::new(
            "150240008272".to_owned(),
            1,
            "ParticipantAgreement".to_owned(),
            "Registered".to_owned(),
            "0.9".to_owned(),
            old_registered(),
            metadata.clone(),
        );
        let lifted = upcast(stored, &upcasters());
        // cqrs-es writes the version it lifted to in full semantic form.
        assert_eq!(lifted.event_version, "1.0.0");
        assert_eq!(lifted.metadata, metadata);
        assert_eq!(lifted.sequence, 1);
    }

    #[test]
    fn current_events_and_other_types_pass_through() {
        let today = serde_json::json!({"Terminated": {"on": "2026-03-09"}});
        let stored = SerializedEvent::new(
            "x".to_owned(),
            3,
            "ParticipantAgreement".to_owned(),
            "Terminated".to_owned(),
            "0.5".to_owned(),
            today.clone(),
            Value::Null,
        );
        assert_eq!(upcast(stored, &upcasters()).payload, today);
        let old_shape_new_version = decode("Registered", "1.0", old_registered());
        assert!(
            old_shape_new_version.is_err(),
            "1.0 is read as written: no field is guessed"
        );
    }
}
