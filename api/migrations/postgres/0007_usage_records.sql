-- Usage records (BILLING.md 3): what the portal reports it served, one row a record,
-- kept apart from the agreements' event streams (high volume) and append-only: a record
-- is a fact, never updated or deleted. `id` is the portal's own, unique per record: a
-- batch sent again records nothing new, and the same id with other content is refused
-- (api/src/store/usage.rs). `position` orders the records as they were committed
-- (writers take the table's lock before drawing it), so that the billing run can take
-- the records of a window of positions and a later run the ones recorded after it.
-- `occurred_on` is the business date (YYYY-MM-DD, as dates are kept elsewhere);
-- `recorded_at` is when the ledger recorded it (RFC 3339, UTC, the ledger's clock).
CREATE TABLE usage_records
(
    position       bigserial PRIMARY KEY,
    id             text   NOT NULL UNIQUE CHECK (char_length(id) BETWEEN 1 AND 100),
    participant_id text   NOT NULL,
    metric         text   NOT NULL,
    quantity       bigint NOT NULL CHECK (quantity > 0),
    occurred_on    text   NOT NULL CHECK (occurred_on ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'),
    recorded_at    text   NOT NULL
);
CREATE INDEX usage_records_participant_occurred_on ON usage_records (participant_id, occurred_on);
