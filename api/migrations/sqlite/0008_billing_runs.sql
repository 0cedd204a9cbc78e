-- The monthly billing runs (see the PostgreSQL migration).
CREATE TABLE billing_runs
(
    period      text PRIMARY KEY,
    issued_on   text NOT NULL,
    started_at  text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    finished_at text,
    runs        integer NOT NULL DEFAULT 1,
    report      text
) STRICT;
