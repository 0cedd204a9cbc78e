-- The stored projection of each agreement (projections::AgreementLedger), written in the
-- same transaction as the events it folds, so it never drifts from them. `version` is the
-- last event sequence folded in; `status` and `name` are copied out for listing and
-- filtering. `edoc-ledger replay` rebuilds the table from the events; `replay --check`
-- rebuilds into agreement_ledgers_scratch and compares.
CREATE TABLE agreement_ledgers
(
    participant_id text   PRIMARY KEY,
    version        bigint NOT NULL CHECK (version >= 1),
    status         text   NOT NULL,
    name           text   NOT NULL,
    currency       text   NOT NULL,
    ledger         jsonb  NOT NULL
);
CREATE INDEX agreement_ledgers_status ON agreement_ledgers (status, participant_id);
