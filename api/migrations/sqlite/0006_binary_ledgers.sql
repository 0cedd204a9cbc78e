-- The stored projection moves from JSON text to a compact binary form (see the
-- PostgreSQL migration). The server rebuilds the rows from the events when it starts.
DROP TABLE IF EXISTS agreement_ledgers_scratch;
DROP TABLE agreement_ledgers;
CREATE TABLE agreement_ledgers
(
    participant_id text    PRIMARY KEY,
    version        integer NOT NULL CHECK (version >= 1),
    status         text    NOT NULL,
    name           text    NOT NULL,
    currency       text    NOT NULL,
    ledger         blob    NOT NULL
) STRICT;
CREATE INDEX agreement_ledgers_status ON agreement_ledgers (status, participant_id);
