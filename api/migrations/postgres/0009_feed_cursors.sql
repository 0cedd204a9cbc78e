-- Where each relay of the global feed (INTEGRATION.md 1: the NATS publisher, webhooks)
-- has delivered through: the last position it handed on. It moves only forward, and only
-- after the receiver acknowledged, so a restart or a crash loses and skips nothing.
CREATE TABLE feed_cursors
(
    name       text PRIMARY KEY,
    position   bigint NOT NULL CHECK (position >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);
