//! Usage ingestion (BILLING.md 3): the portal's usage records, taken in batches of at
//! most [`BATCH_RECORDS_MAX`], idempotent by the portal's record id.
//!
//! A batch is read leniently (each record a JSON value) so that every invalid record is
//! named, each with its index, id and what is wrong with it, before anything is written:
//! a batch with any invalid record records nothing. Valid records are written in one
//! transaction (`store::usage`): a record already stored with the same content is a
//! duplicate, counted; one whose id is stored with other content refuses the batch,
//! listed like an invalid record. Usage is kept apart from the agreements' events
//! (high volume) and is not billed here: the billing run reads it.

use std::collections::{BTreeMap, BTreeSet};

use events::{business_date, MetricName, ParticipantId};
use serde::Serialize;
use serde_json::{Map, Value};
use time::Date;

use super::Ledger;
use crate::store::{
    IdempotencyRecord, StoreError, UsageConflict, UsageInsertError, UsageRecord, USAGE_ID_CHARS_MAX,
};

/// The most records one batch may hold.
pub const BATCH_RECORDS_MAX: usize = 1_000;

/// The largest quantity one record may report: a limit on everything, and room for the
/// sums of a month's records of one metric.
pub const QUANTITY_MAX: i64 = 1_000_000_000;

/// The fields of a record, in the order they are checked.
const FIELDS: [&str; 5] = ["id", "participant_id", "metric", "quantity", "occurred_on"];

/// What a batch recorded (`POST /v1/usage`, 200).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct UsageAccepted {
    /// Records written now.
    pub accepted: u64,
    /// Records already stored with the same content (or repeated in the batch): counted,
    /// not written again.
    pub duplicates: u64,
}

/// One record of a batch that is refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct UsageRecordError {
    /// Its place in `records` (from 0).
    pub index: usize,
    /// Its `id` as sent, when that is a string.
    pub id: Option<String>,
    /// Everything wrong with it, in words.
    pub detail: String,
}

/// Why a batch was not recorded. Nothing of it was written.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    /// The body is not `{"records": [...]}` (400).
    #[error("{0}")]
    Malformed(String),
    /// More records than a batch may hold; `errors` lists those beyond the limit.
    #[error("the batch holds {count} records; at most {BATCH_RECORDS_MAX} are taken in one request: nothing was recorded, send them in batches of at most {BATCH_RECORDS_MAX}")]
    TooMany {
        count: usize,
        errors: Vec<UsageRecordError>,
    },
    /// Records that are invalid, every one listed.
    #[error("{} of the batch's {count} records are invalid (listed in `errors`): nothing was recorded", .errors.len())]
    Invalid {
        count: usize,
        errors: Vec<UsageRecordError>,
    },
    /// Records whose ids are already recorded with other content.
    #[error("{} of the batch's {count} records have ids already recorded with other content (listed in `errors`): a usage record is never changed; nothing was recorded", .errors.len())]
    Conflicts {
        count: usize,
        errors: Vec<UsageRecordError>,
    },
    /// A concurrent request with the same Idempotency-Key recorded first: its answer
    /// is the one to give.
    #[error("a concurrent request with the same Idempotency-Key recorded first")]
    IdempotencyKeyTaken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl UsageError {
    /// The records listed, for the answers that list them.
    pub fn errors(&self) -> Option<&[UsageRecordError]> {
        match self {
            Self::TooMany { errors, .. }
            | Self::Invalid { errors, .. }
            | Self::Conflicts { errors, .. } => Some(errors),
            Self::Malformed(_) | Self::IdempotencyKeyTaken | Self::Store(_) => None,
        }
    }
}

/// Reads, checks and records a batch (`{"records": [...]}`) as of the ledger's today.
/// `remember` gives the Idempotency-Key record of the answer, stored in the records'
/// transaction.
pub async fn ingest(
    ledger: &Ledger,
    body: &Value,
    remember: impl FnOnce(&UsageAccepted) -> Option<IdempotencyRecord>,
) -> Result<UsageAccepted, UsageError> {
    let items = records_of(body)?;
    if items.len() > BATCH_RECORDS_MAX {
        let errors = items
            .iter()
            .enumerate()
            .skip(BATCH_RECORDS_MAX)
            .map(|(index, item)| UsageRecordError {
                index,
                id: id_as_sent(item),
                detail: format!(
                    "beyond the {BATCH_RECORDS_MAX} records a batch may hold: send it in another batch"
                ),
            })
            .collect();
        return Err(UsageError::TooMany {
            count: items.len(),
            errors,
        });
    }
    let today = ledger.today();
    let checked: Vec<Result<UsageRecord, Vec<String>>> =
        items.iter().map(|item| check_record(item, today)).collect();
    let participants: BTreeSet<ParticipantId> = items.iter().filter_map(participant_of).collect();
    let registered = if participants.is_empty() {
        BTreeSet::new()
    } else {
        let ids = participants.iter().map(ParticipantId::as_str).collect();
        ledger.repository().registered_participants(&ids).await?
    };
    let errors = batch_errors(items, &checked, &registered);
    if !errors.is_empty() {
        return Err(UsageError::Invalid {
            count: items.len(),
            errors,
        });
    }
    let records: Vec<UsageRecord> = checked.into_iter().filter_map(Result::ok).collect();
    let recorded_at = ledger
        .now_utc()
        .to_offset(time::UtcOffset::UTC)
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| StoreError::Corrupt(format!("the time cannot be written: {e}")))?;
    let answer_of = |insertion: &crate::store::UsageInsertion| UsageAccepted {
        accepted: insertion.accepted,
        duplicates: insertion.duplicates,
    };
    match ledger
        .repository()
        .insert_usage(&records, &recorded_at, |insertion| {
            remember(&answer_of(insertion))
        })
        .await
    {
        Ok(insertion) => Ok(answer_of(&insertion)),
        Err(UsageInsertError::Conflicts(conflicts)) => Err(UsageError::Conflicts {
            count: records.len(),
            errors: conflicts
                .iter()
                .map(|conflict| conflict_error(&records, conflict))
                .collect(),
        }),
        Err(UsageInsertError::IdempotencyKeyTaken) => Err(UsageError::IdempotencyKeyTaken),
        Err(UsageInsertError::Store(error)) => Err(error.into()),
    }
}

/// The batch's records, each still a JSON value.
fn records_of(body: &Value) -> Result<&[Value], UsageError> {
    let Some(object) = body.as_object() else {
        return Err(UsageError::Malformed(
            "the request body must be an object: {\"records\": [...]}".to_owned(),
        ));
    };
    if let Some(unknown) = object.keys().find(|key| *key != "records") {
        return Err(UsageError::Malformed(format!(
            "unknown field `{unknown}`, expected `records`"
        )));
    }
    match object.get("records") {
        Some(Value::Array(records)) => Ok(records),
        Some(_) => Err(UsageError::Malformed(
            "`records` must be an array of usage records".to_owned(),
        )),
        None => Err(UsageError::Malformed("missing field `records`".to_owned())),
    }
}

/// A record's `participant_id`, when it is a valid BIN/IIN.
fn participant_of(item: &Value) -> Option<ParticipantId> {
    ParticipantId::parse(item.get("participant_id")?.as_str()?).ok()
}

/// A record's `id` as sent, when it is a string.
fn id_as_sent(item: &Value) -> Option<String> {
    item.get("id").and_then(Value::as_str).map(str::to_owned)
}

/// One record, field by field: the record, or everything wrong with it.
fn check_record(item: &Value, today: Date) -> Result<UsageRecord, Vec<String>> {
    let Some(fields) = item.as_object() else {
        return Err(vec![
            "a usage record must be an object with `id`, `participant_id`, `metric`, `quantity` and `occurred_on`".to_owned(),
        ]);
    };
    let mut problems: Vec<String> = fields
        .keys()
        .filter(|key| !FIELDS.contains(&key.as_str()))
        .map(|key| format!("unknown field `{key}`"))
        .collect();
    let id = text_field(fields, "id").and_then(|id| check_id(id).map(str::to_owned));
    let participant = text_field(fields, "participant_id")
        .and_then(|text| ParticipantId::parse(text).map_err(|e| format!("`participant_id`: {e}")));
    let metric = text_field(fields, "metric")
        .and_then(|text| MetricName::parse(text).map_err(|e| format!("`metric`: {e}")));
    let quantity = check_quantity(fields.get("quantity"));
    let occurred_on = text_field(fields, "occurred_on").and_then(|text| {
        let date = business_date::parse(text).map_err(|e| format!("`occurred_on`: {e}"))?;
        if date > today {
            return Err(format!(
                "`occurred_on` {text} is after today ({}): usage is reported once it occurred",
                business_date::format(today)
            ));
        }
        Ok(date)
    });
    match (id, participant, metric, quantity, occurred_on) {
        (Ok(id), Ok(participant_id), Ok(metric), Ok(quantity), Ok(occurred_on))
            if problems.is_empty() =>
        {
            Ok(UsageRecord {
                id,
                participant_id,
                metric,
                quantity,
                occurred_on,
            })
        }
        (id, participant, metric, quantity, occurred_on) => {
            problems.extend(
                [
                    id.err(),
                    participant.err(),
                    metric.err(),
                    quantity.err(),
                    occurred_on.err(),
                ]
                .into_iter()
                .flatten(),
            );
            Err(problems)
        }
    }
}

fn text_field<'a>(fields: &'a Map<String, Value>, name: &str) -> Result<&'a str, String> {
    match fields.get(name) {
        None | Some(Value::Null) => Err(format!("`{name}` is missing")),
        Some(Value::String(text)) => Ok(text),
        Some(other) => Err(format!("`{name}` must be a string, not {other}")),
    }
}

/// The portal's id: 1 to [`USAGE_ID_CHARS_MAX`] characters, no control character; kept
/// exactly as sent.
fn check_id(id: &str) -> Result<&str, String> {
    if id.trim().is_empty() {
        return Err("`id` must not be empty".to_owned());
    }
    if id.chars().count() > USAGE_ID_CHARS_MAX {
        return Err(format!(
            "`id` is longer than {USAGE_ID_CHARS_MAX} characters"
        ));
    }
    if id.chars().any(char::is_control) {
        return Err("`id` contains a control character".to_owned());
    }
    Ok(id)
}

/// A positive whole number, at most [`QUANTITY_MAX`], written as a JSON number.
fn check_quantity(value: Option<&Value>) -> Result<i64, String> {
    let refuse = |what: String| {
        Err(format!(
            "`quantity` must be a positive whole number of at most {QUANTITY_MAX}, not {what}"
        ))
    };
    match value {
        None | Some(Value::Null) => Err("`quantity` is missing".to_owned()),
        Some(Value::Number(number)) => match number.as_i64() {
            Some(quantity) if (1..=QUANTITY_MAX).contains(&quantity) => Ok(quantity),
            _ => refuse(number.to_string()),
        },
        Some(other) => refuse(other.to_string()),
    }
}

/// Every invalid record of the batch: its own fields, an unknown participant, and an id
/// the batch gives twice with different content (named at each later record).
fn batch_errors(
    items: &[Value],
    checked: &[Result<UsageRecord, Vec<String>>],
    registered: &BTreeSet<String>,
) -> Vec<UsageRecordError> {
    let mut first_of_id: BTreeMap<&str, (usize, &UsageRecord)> = BTreeMap::new();
    let mut errors = Vec::new();
    for (index, (item, record)) in items.iter().zip(checked).enumerate() {
        let mut problems = match record {
            Err(problems) => problems.clone(),
            Ok(record) => {
                let mut problems = Vec::new();
                match first_of_id.get(record.id.as_str()) {
                    Some((first, same_id)) if *same_id != record => {
                        problems.push(format!(
                            "`id` {} is also record {first}'s in this batch, with other content",
                            record.id
                        ));
                    }
                    Some(_) => {}
                    None => {
                        first_of_id.insert(&record.id, (index, record));
                    }
                }
                problems
            }
        };
        if let Some(participant) = participant_of(item) {
            if !registered.contains(participant.as_str()) {
                problems.push(format!(
                    "`participant_id`: no agreement is registered for participant {participant}"
                ));
            }
        }
        if !problems.is_empty() {
            errors.push(UsageRecordError {
                index,
                id: id_as_sent(item),
                detail: problems.join("; "),
            });
        }
    }
    errors
}

/// A record whose id is stored with other content, and what is stored.
fn conflict_error(records: &[UsageRecord], conflict: &UsageConflict) -> UsageRecordError {
    let stored = &conflict.stored;
    UsageRecordError {
        index: conflict.index,
        id: records.get(conflict.index).map(|record| record.id.clone()),
        detail: format!(
            "`id` {} is already recorded with other content (participant_id {}, metric {}, quantity {}, occurred_on {}): a usage record is never changed",
            stored.id,
            stored.participant_id,
            stored.metric,
            stored.quantity,
            business_date::format(stored.occurred_on)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 12 - 02);

    fn problems(item: Value) -> Vec<String> {
        check_record(&item, TODAY).unwrap_err()
    }

    #[test]
    fn a_valid_record_is_read() {
        let record = check_record(
            &json!({"id": "r-1", "participant_id": "150240008272", "metric": "documents", "quantity": 3, "occurred_on": "2026-12-02"}),
            TODAY,
        )
        .unwrap();
        assert_eq!(record.quantity, 3);
        assert_eq!(record.metric.as_str(), "documents");
    }

    #[test]
    fn every_field_of_a_record_is_checked() {
        let all = problems(
            json!({"id": "", "participant_id": "123", "metric": "Documents", "quantity": 1.5, "occurred_on": "2026-12-03", "extra": 1}),
        );
        assert_eq!(all.len(), 6, "{all:?}");
        assert!(all[0].contains("unknown field `extra`"), "{all:?}");
        for (problem, field) in all[1..].iter().zip(FIELDS) {
            assert!(problem.contains(&format!("`{field}`")), "{problem}");
        }
        for quantity in [
            json!(0),
            json!(-1),
            json!(1.5),
            json!("5"),
            json!(2.0),
            json!(1_000_000_001),
        ] {
            let found = problems(
                json!({"id": "r", "participant_id": "150240008272", "metric": "documents", "quantity": quantity, "occurred_on": "2026-12-01"}),
            );
            assert_eq!(found.len(), 1, "{quantity}: {found:?}");
            assert!(found[0].starts_with("`quantity`"), "{found:?}");
        }
        assert_eq!(problems(json!({})).len(), 5);
        assert_eq!(problems(json!(7)).len(), 1);
        let long = "x".repeat(USAGE_ID_CHARS_MAX + 1);
        assert!(problems(json!({"id": long}))[0].contains("longer than 100"));
        assert!(problems(json!({"id": "a\u{7}"}))[0].contains("control"));
    }

    #[test]
    fn the_body_must_be_an_object_of_records() {
        for body in [
            json!([]),
            json!({}),
            json!({"records": {}}),
            json!({"records": [], "x": 1}),
        ] {
            assert!(
                matches!(records_of(&body), Err(UsageError::Malformed(_))),
                "{body}"
            );
        }
        assert_eq!(records_of(&json!({"records": []})).unwrap().len(), 0);
    }
}

/// One metric of `GET /v1/agreements/{id}/usage?period=` (BILLING.md 3): what the
/// participant will be billed for the month so far.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct UsagePreviewLine {
    #[schema(value_type = String, example = "documents")]
    pub metric: String,
    /// Recorded so far for the month.
    pub quantity: u64,
    /// Included by the month's tariff version.
    pub included: u64,
    /// Beyond what is included.
    pub overage: u64,
    /// The version's price of a unit beyond what is included, in the agreement's
    /// currency (`null` without a version for the month, or when the metric is not
    /// priced by it).
    pub unit_price: Option<String>,
    /// `overage x unit_price`, net of VAT; `0.00` while unpriced (`priced: false`).
    pub amount: String,
    /// Whether the month's tariff version prices the metric.
    pub priced: bool,
}

/// `GET /v1/agreements/{id}/usage?period=`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct UsagePreview {
    pub participant_id: String,
    #[schema(value_type = String, example = "2027-01")]
    pub period: events::CalendarMonth,
    pub currency: events::Currency,
    /// The tariff version that prices the month's overage (§5.3): its subscription
    /// invoice's when issued, else the one in force on the month's first subscribed day.
    pub tariff: Option<String>,
    pub metrics: Vec<UsagePreviewLine>,
    /// `BILLING-3`.
    pub clause: &'static str,
}

/// What the participant will be billed for `period`'s usage so far (BILLING.md 3);
/// `None` when no agreement is registered for it.
pub async fn preview(
    ledger: &Ledger,
    participant: &ParticipantId,
    period: events::CalendarMonth,
) -> Result<Option<UsagePreview>, crate::application::LedgerError> {
    let Some(stored) = crate::application::queries::stored_ledger(ledger, participant).await?
    else {
        return Ok(None);
    };
    let agreement = &stored.agreement;
    let Some(currency) = agreement.currency() else {
        return Ok(None);
    };
    let catalog = ledger.tariffs().catalog().await?;
    let subscription = agreement.subscription();
    // The version the month's subscription invoice recorded, else the one in force on
    // the month's first subscribed day.
    let version = match subscription.billed(period, events::InvoiceKind::Subscription) {
        Some(billed) => catalog
            .versions(&billed.tariff.code)
            .iter()
            .find(|v| v.version == billed.tariff.version),
        None => subscription
            .spans
            .iter()
            .find(|span| span.overlaps(period))
            .and_then(|span| catalog.in_force(&span.tariff, span.from.max(period.first_day()))),
    };
    let used = ledger
        .repository()
        .usage_of(participant, period.first_day(), period.last_day())
        .await?;
    let mut metrics: std::collections::BTreeMap<events::MetricName, u64> = used
        .into_iter()
        .map(|(metric, quantity)| (metric, u64::try_from(quantity).unwrap_or(0)))
        .collect();
    if let Some(version) = version {
        for metric in version.included.keys().chain(version.overage.keys()) {
            metrics.entry(metric.clone()).or_insert(0);
        }
    }
    let lines = metrics
        .into_iter()
        .map(|(metric, quantity)| {
            let included = version
                .and_then(|v| v.included.get(&metric).copied())
                .unwrap_or(0);
            let overage = quantity.saturating_sub(included);
            let price = version
                .and_then(|v| v.overage.get(&metric))
                .map(|prices| prices.in_currency(currency));
            let amount = price
                .and_then(|price| price.checked_mul(rust_decimal::Decimal::from(overage)).ok());
            UsagePreviewLine {
                metric: metric.to_string(),
                quantity,
                included,
                overage,
                unit_price: price.map(|p| p.to_json_string()),
                amount: amount
                    .unwrap_or_else(|| events::Money::zero(currency))
                    .to_json_string(),
                priced: price.is_some(),
            }
        })
        .collect();
    Ok(Some(UsagePreview {
        participant_id: participant.to_string(),
        period,
        currency,
        tariff: version.map(|v| v.id()),
        metrics: lines,
        clause: events::Clause::USAGE.as_str(),
    }))
}

/// What `verify` found of the usage invoices (BILLING.md 3).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct UsageVerification {
    pub invoices_checked: u64,
    /// Each usage invoice line whose records, counted again from the usage store, differ
    /// from what the invoice recorded (count or digest), with what differs.
    pub differing: Vec<String>,
}

/// A usage invoice as `verify` recounts it (BILLING.md 3): which agreement and event it
/// is, what it counted, what the agreement's previous usage invoice had counted (so its
/// window: [`aggregates::usage::CountedUsage::window_contains`]), and what it recorded
/// of each month and metric. Shared by the store's `verify` and the export's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageInvoiceCheck {
    pub participant_id: String,
    /// The `InvoiceIssued` event's sequence.
    pub sequence: i64,
    pub number: events::InvoiceNumber,
    /// Its month and the usage position it counted through.
    pub counted: aggregates::usage::CountedUsage,
    /// What the agreement's previous usage invoice counted.
    pub before: Option<aggregates::usage::CountedUsage>,
    /// (month, metric, records, digest) of each line, as recorded.
    recorded: Vec<(String, String, u64, String)>,
}

impl UsageInvoiceCheck {
    /// Whether the invoice counted a record recorded at `position` that occurred on
    /// `occurred_on`.
    pub fn counts(&self, position: u64, occurred_on: Date) -> bool {
        self.counted
            .window_contains(self.before, position, occurred_on)
    }

    /// The same window as the store selects it.
    pub fn window(&self) -> Result<crate::store::UsageWindow, StoreError> {
        crate::store::UsageWindow::after(
            self.counted.month.last_day(),
            self.counted.through,
            self.before,
        )
    }

    /// The records of its window grouped by month and metric
    /// ([`aggregates::usage::count_usage`]) and compared with what the invoice recorded:
    /// what differs, in words, or `None`. `source` names where the records come from.
    pub fn differs(&self, records: &[commands::MeteredUsage], source: &str) -> Option<String> {
        let recounted: Vec<(String, String, u64, String)> = aggregates::usage::count_usage(records)
            .into_iter()
            .map(|c| {
                (
                    c.month.to_string(),
                    c.metric.to_string(),
                    c.records,
                    c.digest,
                )
            })
            .collect();
        (recounted != self.recorded).then(|| {
            format!(
                "usage invoice {} of {} (event {}) for {}: recorded {:?}, recounted from {source} {recounted:?}",
                self.number, self.participant_id, self.sequence, self.counted.month, self.recorded
            )
        })
    }
}

/// Reads the usage invoices out of the agreements' events, given in participant and
/// sequence order, each with what the agreement's previous usage invoice counted.
#[derive(Debug, Default)]
pub struct UsageInvoiceReader {
    last: Option<(String, aggregates::usage::CountedUsage)>,
}

impl UsageInvoiceReader {
    /// The usage invoice this event is, if it is one (an `InvoiceIssued` whose billing
    /// counted usage through a position).
    pub fn read(
        &mut self,
        participant_id: &str,
        sequence: i64,
        event: events::AgreementEvent,
    ) -> Option<UsageInvoiceCheck> {
        let events::AgreementEvent::InvoiceIssued(invoice) = event else {
            return None;
        };
        let billing = invoice.billing?;
        let through = billing.usage_through?;
        let before = self
            .last
            .as_ref()
            .filter(|(id, _)| id == participant_id)
            .map(|(_, c)| *c);
        let counted = aggregates::usage::CountedUsage {
            month: billing.month,
            through,
        };
        self.last = Some((participant_id.to_owned(), counted));
        Some(UsageInvoiceCheck {
            participant_id: participant_id.to_owned(),
            sequence,
            number: invoice.number,
            counted,
            before,
            recorded: billing
                .usage
                .iter()
                .map(|u| {
                    (
                        u.month.to_string(),
                        u.metric.to_string(),
                        u.records,
                        u.digest.clone(),
                    )
                })
                .collect(),
        })
    }
}

/// BILLING.md 3: recounts every usage invoice from the stored usage records: the window
/// each one counted (its month and position, less what the agreement's earlier usage
/// invoice counted), grouped by month and metric, its record count and SHA-256 digest
/// compared with what the invoice recorded.
pub async fn verify_usage(
    repository: &crate::store::LedgerEventRepository,
) -> Result<UsageVerification, StoreError> {
    let mut report = UsageVerification::default();
    let mut reader = UsageInvoiceReader::default();
    for (participant_id, sequence, payload) in repository.usage_invoices().await? {
        let event: events::AgreementEvent = serde_json::from_value(payload).map_err(|e| {
            StoreError::Corrupt(format!(
                "event {participant_id}/{sequence} cannot be read: {e}"
            ))
        })?;
        let Some(check) = reader.read(&participant_id, sequence, event) else {
            continue;
        };
        let participant = ParticipantId::parse(&participant_id)
            .map_err(|e| StoreError::Corrupt(format!("{participant_id}: {e}")))?;
        let records = repository
            .usage_records(&participant, &check.window()?)
            .await?
            .into_iter()
            .map(crate::store::StoredUsageRecord::metered)
            .collect::<Result<Vec<_>, StoreError>>()?;
        debug_assert!(
            records
                .iter()
                .all(|r| check.counts(r.position, r.occurred_on)),
            "the store's usage window and CountedUsage::window_contains agree"
        );
        report.invoices_checked += 1;
        if let Some(differing) = check.differs(&records, "the usage store") {
            report.differing.push(differing);
        }
    }
    Ok(report)
}
