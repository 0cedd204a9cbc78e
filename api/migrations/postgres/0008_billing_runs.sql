-- The monthly billing runs (issue 16, BILLING.md 4): one row per month billed, with the
-- latest run's report (what was issued for the month, by any run, and what the latest
-- run skipped or was refused). The invoices themselves are events; this is the report.
CREATE TABLE billing_runs
(
    period      text PRIMARY KEY,
    issued_on   text NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    runs        integer NOT NULL DEFAULT 1,
    report      jsonb
);
