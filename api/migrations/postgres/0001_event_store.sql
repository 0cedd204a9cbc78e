-- The event store. Column names and the primary key are postgres-es 0.5's, so its
-- repository reads these rows; the ledger adds a global position, the id of the writing
-- transaction (for gap-safe catch-up reads) and the time the row was written.
CREATE TABLE events
(
    aggregate_type  text   NOT NULL,
    aggregate_id    text   NOT NULL,
    sequence        bigint NOT NULL CHECK (sequence >= 1),
    event_type      text   NOT NULL,
    event_version   text   NOT NULL,
    payload         jsonb  NOT NULL,
    metadata        jsonb  NOT NULL,
    global_position bigint GENERATED ALWAYS AS IDENTITY,
    transaction_id  xid8   NOT NULL DEFAULT pg_current_xact_id(),
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);
CREATE UNIQUE INDEX events_global_position ON events (global_position);

-- postgres-es reads snapshots from here when configured to. The ledger never configures
-- snapshots (cqrs-es 0.5 double-applies events into them, see CQRS-ES-NOTES.md), so the
-- table stays empty; it exists so that the crate's own queries always find it.
CREATE TABLE snapshots
(
    aggregate_type   text   NOT NULL,
    aggregate_id     text   NOT NULL,
    last_sequence    bigint NOT NULL CHECK (last_sequence >= 0),
    current_snapshot bigint NOT NULL CHECK (current_snapshot >= 0),
    payload          jsonb  NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, last_sequence)
);

-- The operator-wide gapless invoice counter. A number is taken only by the transaction
-- that records its InvoiceIssued event: a compare-and-set from n-1 to n, so a number is
-- never handed out twice and never skipped.
CREATE TABLE invoice_counter
(
    id          smallint PRIMARY KEY CHECK (id = 1),
    last_number bigint NOT NULL CHECK (last_number >= 0)
);
INSERT INTO invoice_counter (id, last_number) VALUES (1, 0);

-- Which agreement and event took each number: a second guard against a duplicate.
CREATE TABLE invoice_numbers
(
    number       bigint PRIMARY KEY CHECK (number >= 1),
    aggregate_id text   NOT NULL,
    sequence     bigint NOT NULL
);
