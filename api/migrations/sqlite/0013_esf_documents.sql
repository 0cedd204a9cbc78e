-- The ESF documents produced (see the PostgreSQL migration).
CREATE TABLE esf_documents
(
    participant_id text    NOT NULL,
    number         integer NOT NULL CHECK (number > 0),
    document_type  text    NOT NULL CHECK (document_type IN ('ORDINARY_INVOICE', 'ADDITIONAL_INVOICE')),
    issued_on      text    NOT NULL,
    turnover_date  text    NOT NULL,
    digest         text    NOT NULL CHECK (length(digest) = 64),
    produced_at    text    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    produced_by    text    NOT NULL,
    PRIMARY KEY (participant_id, number)
) STRICT;
