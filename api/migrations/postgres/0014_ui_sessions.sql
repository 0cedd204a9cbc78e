-- The back office's sessions (INTEGRATION.md 3): one row per signed-in browser. The
-- cookie carries a random session id; the row keeps only its SHA-256, the SHA-256 of the
-- token signed in with (so a revoked token ends its sessions: every request looks the
-- token up), the session's CSRF secret and when it expires. Shared by every server.
CREATE TABLE ui_sessions
(
    id_sha256    text NOT NULL PRIMARY KEY CHECK (length(id_sha256) = 64),
    token_sha256 text NOT NULL CHECK (length(token_sha256) = 64),
    csrf         text NOT NULL,
    created_at   text NOT NULL,
    expires_at   text NOT NULL
);
CREATE INDEX ui_sessions_expiry ON ui_sessions (expires_at);
