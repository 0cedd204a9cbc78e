-- The ESF documents produced (BILLING.md 6, §5.7): one row per invoice or credit note
-- whose IS ESF InvoiceV2 XML was exported for upload (`edoc-ledger esf export`), the
-- first production kept (exporting again rewrites the same document). What the ESF-due
-- report and the auditor's export read. The document itself is rendered from the
-- agreement's events; the digest is the SHA-256 of the XML as written.
CREATE TABLE esf_documents
(
    participant_id text        NOT NULL,
    number         bigint      NOT NULL CHECK (number > 0),
    document_type  text        NOT NULL CHECK (document_type IN ('ORDINARY_INVOICE', 'ADDITIONAL_INVOICE')),
    issued_on      text        NOT NULL,
    turnover_date  text        NOT NULL,
    digest         text        NOT NULL CHECK (length(digest) = 64),
    produced_at    timestamptz NOT NULL DEFAULT now(),
    produced_by    text        NOT NULL,
    PRIMARY KEY (participant_id, number)
);
