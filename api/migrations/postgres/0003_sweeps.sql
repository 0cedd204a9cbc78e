-- The dunning sweeps that ran (issue 4): a sweep for a date earlier than the latest one
-- is refused; a sweep that did not finish is simply run again (each agreement's step is
-- idempotent: what was recorded is not recorded twice).
CREATE TABLE sweeps
(
    id          text PRIMARY KEY,
    as_of       text NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    summary     jsonb
);
CREATE INDEX sweeps_as_of ON sweeps (as_of);
