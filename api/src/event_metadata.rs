//! The keys of an event's metadata: who recorded it, when, under which request and
//! command, and the clause of the offer it applies.

pub const ACTOR: &str = "actor";
pub const RECORDED_AT: &str = "recorded_at";
pub const REQUEST_ID: &str = "request_id";
pub const CLAUSE: &str = "clause";
pub const COMMAND: &str = "command";
pub const SWEEP_ID: &str = "sweep_id";
pub const SWEEP_AS_OF: &str = "sweep_as_of";

/// When an event was recorded, from its `recorded_at` (RFC 3339, UTC); `None` when it is
/// missing or unreadable.
pub fn recorded_at(text: Option<&str>) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(text?, &time::format_description::well_known::Rfc3339).ok()
}

/// How many of a stream's `events`, in their order, were recorded by `known_at`
/// (BILLING.md 5.1): up to the first one recorded later, or whose time cannot be read.
pub fn recorded_by<T>(
    events: &[T],
    known_at: time::OffsetDateTime,
    recorded_at_of: impl Fn(&T) -> Option<&str>,
) -> usize {
    events
        .iter()
        .take_while(|event| recorded_at(recorded_at_of(event)).is_some_and(|at| at <= known_at))
        .count()
}

/// A text field of an event's metadata (`actor`, `recorded_at`, `hash`...), empty when
/// absent: how the operator streams' readers show who recorded what, when.
pub fn text(metadata: &serde_json::Value, key: &str) -> String {
    metadata
        .get(key)
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_owned()
}
