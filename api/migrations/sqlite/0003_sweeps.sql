-- The dunning sweeps that ran (see the PostgreSQL migration).
CREATE TABLE sweeps
(
    id          text PRIMARY KEY,
    as_of       text NOT NULL,
    started_at  text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    finished_at text,
    summary     text
) STRICT;
CREATE INDEX sweeps_as_of ON sweeps (as_of);
