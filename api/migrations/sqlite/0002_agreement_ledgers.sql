-- The stored projection of each agreement (see the PostgreSQL migration).
CREATE TABLE agreement_ledgers
(
    participant_id text    PRIMARY KEY,
    version        integer NOT NULL CHECK (version >= 1),
    status         text    NOT NULL,
    name           text    NOT NULL,
    currency       text    NOT NULL,
    ledger         text    NOT NULL
) STRICT;
CREATE INDEX agreement_ledgers_status ON agreement_ledgers (status, participant_id);
