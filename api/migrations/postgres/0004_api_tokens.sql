-- Bearer tokens of the HTTP API (API.md, "Auth"). Only a token's SHA-256 is kept; the
-- token itself is shown once, when it is created. A revoked token stays listed.
CREATE TABLE api_tokens
(
    id             text PRIMARY KEY,
    name           text        NOT NULL,
    role           text        NOT NULL CHECK (role IN ('operator', 'billing', 'auditor', 'participant')),
    participant_id text,
    secret_sha256  text        NOT NULL UNIQUE,
    created_at     timestamptz NOT NULL DEFAULT now(),
    revoked_at     timestamptz,
    CHECK ((role = 'participant') = (participant_id IS NOT NULL))
);
