-- Idempotency-Key (API.md "Retries are safe"): a command's first answer, written in the
-- transaction that records its events, so a retry gets the same answer and records
-- nothing. `fingerprint` is SHA-256 of the method, path and body; `expires_at` is in
-- Unix seconds.
CREATE TABLE idempotency_keys
(
    key         text     PRIMARY KEY,
    fingerprint text     NOT NULL,
    status      smallint NOT NULL,
    body        text     NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  bigint   NOT NULL
);
CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);
