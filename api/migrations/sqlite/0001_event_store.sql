-- The event store. Column names and the primary key are sqlite-es 0.5's, so its
-- repository reads these rows; the ledger adds a global position and the time the row
-- was written. SQLite has one writer at a time, so a position taken inside the writing
-- transaction is gap-free and in commit order.
CREATE TABLE events
(
    aggregate_type  text    NOT NULL,
    aggregate_id    text    NOT NULL,
    sequence        integer NOT NULL CHECK (sequence >= 1),
    event_type      text    NOT NULL,
    event_version   text    NOT NULL,
    payload         text    NOT NULL,
    metadata        text    NOT NULL,
    global_position integer NOT NULL,
    recorded_at     text    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
) STRICT;
CREATE UNIQUE INDEX events_global_position ON events (global_position);

-- Read by sqlite-es only when snapshots are configured; the ledger never does.
CREATE TABLE snapshots
(
    aggregate_type   text    NOT NULL,
    aggregate_id     text    NOT NULL,
    last_sequence    integer NOT NULL CHECK (last_sequence >= 0),
    current_snapshot integer NOT NULL CHECK (current_snapshot >= 0),
    payload          text    NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, last_sequence)
) STRICT;

-- The operator-wide gapless invoice counter (see the PostgreSQL migration).
CREATE TABLE invoice_counter
(
    id          integer PRIMARY KEY CHECK (id = 1),
    last_number integer NOT NULL CHECK (last_number >= 0)
) STRICT;
INSERT INTO invoice_counter (id, last_number) VALUES (1, 0);

CREATE TABLE invoice_numbers
(
    number       integer PRIMARY KEY CHECK (number >= 1),
    aggregate_id text    NOT NULL,
    sequence     integer NOT NULL
) STRICT;
