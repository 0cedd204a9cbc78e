-- Usage records (see the PostgreSQL migration): append-only, `position` in commit order
-- (SQLite has one writer at a time), `id` the portal's own and unique.
CREATE TABLE usage_records
(
    position       integer PRIMARY KEY AUTOINCREMENT,
    id             text    NOT NULL UNIQUE CHECK (length(id) BETWEEN 1 AND 100),
    participant_id text    NOT NULL,
    metric         text    NOT NULL,
    quantity       integer NOT NULL CHECK (quantity > 0),
    occurred_on    text    NOT NULL CHECK (occurred_on GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    recorded_at    text    NOT NULL
) STRICT;
CREATE INDEX usage_records_participant_occurred_on ON usage_records (participant_id, occurred_on);
