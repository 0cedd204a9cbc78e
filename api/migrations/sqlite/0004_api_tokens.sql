-- Bearer tokens of the HTTP API (see the PostgreSQL migration).
CREATE TABLE api_tokens
(
    id             text PRIMARY KEY,
    name           text NOT NULL,
    role           text NOT NULL CHECK (role IN ('operator', 'billing', 'auditor', 'participant')),
    participant_id text,
    secret_sha256  text NOT NULL UNIQUE,
    created_at     text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    revoked_at     text,
    CHECK ((role = 'participant') = (participant_id IS NOT NULL))
) STRICT;
