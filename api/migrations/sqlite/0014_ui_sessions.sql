-- The back office's sessions (see the PostgreSQL migration).
CREATE TABLE ui_sessions
(
    id_sha256    text NOT NULL PRIMARY KEY CHECK (length(id_sha256) = 64),
    token_sha256 text NOT NULL CHECK (length(token_sha256) = 64),
    csrf         text NOT NULL,
    created_at   text NOT NULL,
    expires_at   text NOT NULL
) STRICT;
CREATE INDEX ui_sessions_expiry ON ui_sessions (expires_at);
