-- Bank statements (INTEGRATION.md 2): one row per statement file loaded, identified by
-- the SHA-256 of its bytes (the same file again finds this row and records nothing), and
-- one row per line of it with what became of the line. The payments themselves are
-- events of the agreements; these rows are the import's report and the list billing
-- staff assign unmatched lines from.
CREATE TABLE bank_statements
(
    id           text PRIMARY KEY,
    digest       text NOT NULL UNIQUE CHECK (length(digest) = 64),
    format       text NOT NULL,
    account      text NOT NULL,
    currency     text NOT NULL,
    statement_id text,
    received_at  timestamptz NOT NULL DEFAULT now(),
    received_by  text NOT NULL,
    totals       jsonb NOT NULL,
    -- NULL while the import runs: the statement is stored before any payment is
    -- recorded (so no payment recorded is ever without its statement), and its lines
    -- with their outcomes when it completes; the same file loaded again resumes it.
    imported_at  timestamptz
);

-- `outcome`: matched (recorded as a payment), duplicate (its payment was recorded
-- before), unmatched (kept for billing staff, `reason` says why), not_a_credit (a debit
-- or a reversal: kept, never recorded as a payment).
CREATE TABLE bank_statement_lines
(
    statement_id   text    NOT NULL REFERENCES bank_statements (id),
    n              bigint  NOT NULL CHECK (n >= 0),
    bank_reference text    NOT NULL,
    value_date     text    NOT NULL,
    amount         text    NOT NULL,
    currency       text    NOT NULL,
    credit         boolean NOT NULL,
    reversal       boolean NOT NULL,
    payer_bin      text,
    payer_id_text  text,
    payer_name     text,
    purpose        text,
    outcome        text    NOT NULL CHECK (outcome IN ('matched', 'duplicate', 'unmatched', 'not_a_credit')),
    reason         text,
    participant_id text,
    invoice_number text,
    payment_reference text,
    assigned_at    timestamptz,
    assigned_by    text,
    -- The assignment under way (claimed, its payment not yet confirmed): the participant
    -- and invoice it records to, so that the same assignment sent again (after a crash or
    -- a lost answer) finishes it, and another one is refused.
    assigning_to   text,
    PRIMARY KEY (statement_id, n)
);

-- A bank reference recorded by another statement (duplicates across statements).
CREATE INDEX bank_statement_lines_by_reference ON bank_statement_lines (payment_reference);
