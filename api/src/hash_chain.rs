//! The hash chain itself, pure (issue 5; no store, no I/O): each stream's events form a
//! chain (every agreement's, and the reference stream's).
//!
//! `hash = SHA-256(canonical JSON of {aggregate_id, sequence, event_type, event_version,
//! payload, metadata (without hash and prev_hash), prev_hash})`, hex-encoded. Canonical
//! JSON: objects with keys sorted by their UTF-8 bytes, no whitespace, strings escaped as
//! serde_json escapes them, numbers as serde_json prints them (the ledger's amounts and
//! dates are strings, so no float formatting is involved). The first event of a stream
//! chains to [`GENESIS`]. The hash is computed by the ledger when it records the event
//! (`Ledger::execute`), never by handlers, and stored in the event's metadata.

use serde_json::Value;
use sha2::{Digest as _, Sha256};

/// The `prev_hash` of an agreement's first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Metadata keys that carry the chain itself and are not hashed.
pub const HASH_KEY: &str = "hash";
pub const PREV_HASH_KEY: &str = "prev_hash";

/// Chains events being recorded to `head_hash` (the stream's last hash, or [`GENESIS`]):
/// each gets `prev_hash` and its own `hash` in its metadata. Returns the new head.
pub fn chain(events: &mut [cqrs_es::persist::SerializedEvent], head_hash: String) -> String {
    let mut prev_hash = head_hash;
    for event in events {
        let hash = event_hash(
            &event.aggregate_id,
            event.sequence as u64,
            &event.event_type,
            &event.event_version,
            &event.payload,
            &event.metadata,
            &prev_hash,
        );
        if let Value::Object(metadata) = &mut event.metadata {
            metadata.insert(PREV_HASH_KEY.to_owned(), Value::from(prev_hash.clone()));
            metadata.insert(HASH_KEY.to_owned(), Value::from(hash.clone()));
        }
        prev_hash = hash;
    }
    prev_hash
}

/// Writes `value` as canonical JSON (sorted keys, no whitespace).
pub fn canonical_json(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (index, key) in keys.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical_json(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The hash of one event, chained to `prev_hash`.
pub fn event_hash(
    aggregate_id: &str,
    sequence: u64,
    event_type: &str,
    event_version: &str,
    payload: &Value,
    metadata: &Value,
    prev_hash: &str,
) -> String {
    // The canonical JSON of the record {aggregate_id, sequence, event_type, event_version,
    // payload, metadata without the chain keys, prev_hash}, written straight into one
    // buffer with its keys already in sorted order: the same bytes as `canonical_json`
    // of that record, without copying the payload and metadata into it.
    fn string(out: &mut Vec<u8>, text: &str) {
        serde_json::to_writer(out, text).expect("a string is written to a Vec");
    }
    fn canonical(out: &mut Vec<u8>, value: &Value, without_chain_keys: bool) {
        match value {
            Value::Object(map) => {
                let mut entries: Vec<(&String, &Value)> = map
                    .iter()
                    .filter(|(key, _)| {
                        !(without_chain_keys && (key == &HASH_KEY || key == &PREV_HASH_KEY))
                    })
                    .collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                out.push(b'{');
                for (index, (key, item)) in entries.into_iter().enumerate() {
                    if index > 0 {
                        out.push(b',');
                    }
                    string(out, key);
                    out.push(b':');
                    canonical(out, item, false);
                }
                out.push(b'}');
            }
            Value::Array(items) => {
                out.push(b'[');
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        out.push(b',');
                    }
                    canonical(out, item, false);
                }
                out.push(b']');
            }
            other => serde_json::to_writer(out, other).expect("a value is written to a Vec"),
        }
    }
    let mut text = Vec::with_capacity(1024);
    text.extend_from_slice(b"{\"aggregate_id\":");
    string(&mut text, aggregate_id);
    text.extend_from_slice(b",\"event_type\":");
    string(&mut text, event_type);
    text.extend_from_slice(b",\"event_version\":");
    string(&mut text, event_version);
    text.extend_from_slice(b",\"metadata\":");
    canonical(&mut text, metadata, true);
    text.extend_from_slice(b",\"payload\":");
    canonical(&mut text, payload, false);
    text.extend_from_slice(b",\"prev_hash\":");
    string(&mut text, prev_hash);
    text.extend_from_slice(b",\"sequence\":");
    text.extend_from_slice(sequence.to_string().as_bytes());
    text.push(b'}');
    format!("{:x}", Sha256::digest(&text))
}

/// The first event where a stream's chain breaks, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct BrokenEvent {
    pub participant_id: String,
    pub sequence: i64,
    pub what: String,
}

/// What `GET /v1/audit/verify` answers (API.md).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct VerifyReport {
    pub events_checked: u64,
    pub streams_checked: u64,
    pub ok: bool,
    /// The first event whose chain is broken, in participant order.
    pub first_broken: Option<BrokenEvent>,
    /// How many closed months' seals were checked (BILLING.md 5.4): each month's totals
    /// recomputed from the events alone and compared with its seal.
    pub periods_checked: u64,
    /// The sealed months whose recomputed totals differ from the seal, each with what
    /// differs.
    pub periods_differing: Vec<String>,
    /// How many usage invoices were recounted from the usage store (BILLING.md 3).
    #[serde(default)]
    pub usage_invoices_checked: u64,
    /// The usage invoices whose records, recounted, differ from what they recorded.
    #[serde(default)]
    pub usage_differing: Vec<String>,
}

/// Checks one stream's chain, given its events in stored order.
pub fn verify_stream(
    aggregate_id: &str,
    events: &[(i64, String, String, Value, Value)],
) -> Result<(), BrokenEvent> {
    let mut prev_hash = GENESIS.to_owned();
    for (index, (sequence, event_type, event_version, payload, metadata)) in
        events.iter().enumerate()
    {
        let broken = |what: String| BrokenEvent {
            participant_id: aggregate_id.to_owned(),
            sequence: *sequence,
            what,
        };
        let expected_sequence = index as i64 + 1;
        if *sequence != expected_sequence {
            return Err(broken(format!(
                "sequence {sequence} where {expected_sequence} was expected: an event is missing"
            )));
        }
        let stored_prev = metadata.get(PREV_HASH_KEY).and_then(Value::as_str);
        let stored_hash = metadata.get(HASH_KEY).and_then(Value::as_str);
        let (Some(stored_prev), Some(stored_hash)) = (stored_prev, stored_hash) else {
            return Err(broken("the event carries no hash".to_owned()));
        };
        if stored_prev != prev_hash {
            return Err(broken(format!(
                "prev_hash {stored_prev} does not match the previous event's hash {prev_hash}"
            )));
        }
        let computed = event_hash(
            aggregate_id,
            *sequence as u64,
            event_type,
            event_version,
            payload,
            metadata,
            &prev_hash,
        );
        if computed != stored_hash {
            return Err(broken(format!(
                "stored hash {stored_hash} but the event's content hashes to {computed}: it was altered"
            )));
        }
        prev_hash = computed;
    }
    Ok(())
}

/// The head of one agreement's chain: its last event.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct StreamHead {
    pub participant_id: String,
    pub sequence: i64,
    pub hash: String,
}

/// A digest of the whole store: the Merkle root over every chain's head, with the heads
/// themselves so that a later verification can check each one. Keep it outside the
/// database (QLDB-style): nothing recorded before it can change without a verification
/// against it failing, including deleted agreements and truncated histories.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct StoreDigest {
    /// Hex SHA-256 Merkle root over the heads in participant order.
    pub root: String,
    pub streams: u64,
    pub events: u64,
    /// When the digest was taken (RFC 3339, UTC).
    pub taken_at: String,
    pub heads: Vec<StreamHead>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// The Merkle root over heads (in the order given): leaves are SHA-256 of each head's
/// canonical JSON; each level hashes the concatenated hex of pairs, an odd last node
/// moving up as it is. The root of no heads is the genesis value.
pub fn merkle_root(heads: &[StreamHead]) -> String {
    let mut level: Vec<String> = heads
        .iter()
        .map(|head| {
            let mut text = String::new();
            canonical_json(&serde_json::to_value(head).unwrap_or_default(), &mut text);
            sha256_hex(text.as_bytes())
        })
        .collect();
    if level.is_empty() {
        return GENESIS.to_owned();
    }
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [left, right] => sha256_hex(format!("{left}{right}").as_bytes()),
                [single] => single.clone(),
                _ => unreachable!("chunks of 2"),
            })
            .collect();
    }
    level.remove(0)
}

/// Checks the store's current heads against a kept digest: the digest's own root must
/// match its heads, and every head must still be in its chain (same sequence, same
/// hash), so nothing recorded before the digest was altered, removed or truncated. The
/// chains themselves are checked by [`verify_stream`].
pub fn check_against_digest(
    digest: &StoreDigest,
    hash_at: impl Fn(&str, i64) -> Option<String>,
) -> Result<(), BrokenEvent> {
    if merkle_root(&digest.heads) != digest.root {
        return Err(BrokenEvent {
            participant_id: String::new(),
            sequence: 0,
            what: "the digest's heads do not hash to its root: the digest file was altered"
                .to_owned(),
        });
    }
    for head in &digest.heads {
        match hash_at(&head.participant_id, head.sequence) {
            Some(hash) if hash == head.hash => {}
            Some(hash) => {
                return Err(BrokenEvent {
                    participant_id: head.participant_id.clone(),
                    sequence: head.sequence,
                    what: format!(
                        "the digest recorded hash {} here, the store now has {hash}",
                        head.hash
                    ),
                })
            }
            None => return Err(BrokenEvent {
                participant_id: head.participant_id.clone(),
                sequence: head.sequence,
                what: "the event the digest recorded is gone: the history was deleted or truncated"
                    .to_owned(),
            }),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The serialization is a contract (docs/audit.md): this hash was computed outside
    /// the program (Python: `json.dumps(record, sort_keys=True, separators=(",", ":"),
    /// ensure_ascii=False)`, then SHA-256), so a change to the format fails here even
    /// though recording and verifying would still agree with each other.
    #[test]
    fn the_hash_of_a_known_event_never_changes() {
        let payload = serde_json::json!({"AgreementSigned": {"signed_on": "2026-01-06",
            "concluded_on": "2026-01-05", "in_force_from": "2026-01-06"}});
        let metadata = serde_json::json!({"actor": "ТОО «MITWORK» \"бух\"", "clause": "1.5",
            "recorded_at": "2026-01-06T04:00:00Z", "hash": "ignored", "prev_hash": "ignored"});
        assert_eq!(
            event_hash(
                "150240008272",
                2,
                "AgreementSigned",
                "1.0",
                &payload,
                &metadata,
                &"ab".repeat(32)
            ),
            "23dcc587eb430a2e9f8345f59b0e6737356b486ad9ece966f5aa52fbc7b2ef86"
        );
    }

    #[test]
    fn canonical_json_sorts_keys_and_drops_whitespace() {
        let value = serde_json::json!({"b": [1, {"z": "é", "a": null}], "a": "x\"y"});
        let mut out = String::new();
        canonical_json(&value, &mut out);
        assert_eq!(out, r#"{"a":"x\"y","b":[1,{"a":null,"z":"é"}]}"#);
    }

    #[test]
    fn the_hash_ignores_the_chain_fields_and_changes_with_any_content() {
        let payload = serde_json::json!({"Terminated": {"on": "2026-03-09"}});
        let metadata = serde_json::json!({"actor": "a", "clause": "10.3"});
        let first = event_hash(
            "150240008272",
            1,
            "Terminated",
            "1.0",
            &payload,
            &metadata,
            GENESIS,
        );
        let mut with_chain = metadata.clone();
        with_chain["hash"] = Value::from(first.clone());
        with_chain["prev_hash"] = Value::from(GENESIS);
        assert_eq!(
            event_hash(
                "150240008272",
                1,
                "Terminated",
                "1.0",
                &payload,
                &with_chain,
                GENESIS
            ),
            first
        );
        let altered = serde_json::json!({"Terminated": {"on": "2026-03-10"}});
        assert_ne!(
            event_hash(
                "150240008272",
                1,
                "Terminated",
                "1.0",
                &altered,
                &metadata,
                GENESIS
            ),
            first
        );
        assert_eq!(first.len(), 64);
    }
}
