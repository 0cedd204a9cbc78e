-- Idempotency-Key (see the PostgreSQL migration).
CREATE TABLE idempotency_keys
(
    key         text    PRIMARY KEY,
    fingerprint text    NOT NULL,
    status      integer NOT NULL,
    body        text    NOT NULL,
    created_at  text    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    expires_at  integer NOT NULL
) STRICT;
CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);
