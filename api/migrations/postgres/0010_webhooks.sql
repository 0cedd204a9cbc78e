-- Webhooks (INTEGRATION.md 1): the operator's endpoints, the log of every delivery
-- attempt, and the leases that let exactly one server run a background job. Each
-- endpoint's cursor is the row `webhook:<id>` of `feed_cursors` (0009).
CREATE TABLE webhooks
(
    id              text PRIMARY KEY,
    url             text NOT NULL,
    -- A JSON array of event type names, or ["*"]: every agreement event.
    event_types     jsonb NOT NULL,
    -- The HMAC-SHA256 key of the signatures; never answered by the API.
    secret          text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz,
    -- Set when an event could not be delivered within the retry horizon: deliveries
    -- stop at that position (the cursor stays before it) until the operator resumes.
    parked_at       timestamptz,
    parked_position bigint
);

-- One row per attempt to deliver one event to one endpoint; pruned to the newest rows
-- of each endpoint.
CREATE TABLE webhook_deliveries
(
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id         text NOT NULL REFERENCES webhooks (id),
    position           bigint NOT NULL,
    attempt            integer NOT NULL CHECK (attempt >= 1),
    attempted_at       timestamptz NOT NULL,
    -- When the first attempt at this position (of this series, after a resumption) was made:
    -- the retry horizon counts from it.
    first_attempted_at timestamptz NOT NULL,
    status_code        integer,
    error              text,
    outcome            text NOT NULL CHECK (outcome IN ('delivered', 'failed', 'parked')),
    next_attempt_at    timestamptz
);
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, id);

-- Who runs a background job shared by every server on the store: the holder until
-- `expires_at` (the database's clock), renewed by compare-and-set.
CREATE TABLE leases
(
    name       text PRIMARY KEY,
    holder     text NOT NULL,
    expires_at timestamptz NOT NULL
);
