-- Webhooks (INTEGRATION.md 1): the operator's endpoints, the log of every delivery
-- attempt, and the leases that let exactly one server run a background job. Each
-- endpoint's cursor is the row `webhook:<id>` of `feed_cursors` (0009). Times are
-- RFC 3339 text in UTC, to the millisecond.
CREATE TABLE webhooks
(
    id              text PRIMARY KEY,
    url             text NOT NULL,
    -- A JSON array of event type names, or ["*"]: every agreement event.
    event_types     text NOT NULL,
    -- The HMAC-SHA256 key of the signatures; never answered by the API.
    secret          text NOT NULL,
    created_at      text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    deleted_at      text,
    -- Set when an event could not be delivered within the retry horizon: deliveries
    -- stop at that position (the cursor stays before it) until the operator resumes.
    parked_at       text,
    parked_position integer
) STRICT;

-- One row per attempt to deliver one event to one endpoint; pruned to the newest rows
-- of each endpoint.
CREATE TABLE webhook_deliveries
(
    id                 integer PRIMARY KEY AUTOINCREMENT,
    webhook_id         text NOT NULL REFERENCES webhooks (id),
    position           integer NOT NULL,
    attempt            integer NOT NULL CHECK (attempt >= 1),
    attempted_at       text NOT NULL,
    -- When the first attempt at this position (of this series, after a resumption) was made:
    -- the retry horizon counts from it.
    first_attempted_at text NOT NULL,
    status_code        integer,
    error              text,
    outcome            text NOT NULL CHECK (outcome IN ('delivered', 'failed', 'parked')),
    next_attempt_at    text
) STRICT;
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, id);

-- Who runs a background job shared by every server on the store: the holder until
-- `expires_at` (the database's clock), renewed by compare-and-set.
CREATE TABLE leases
(
    name       text PRIMARY KEY,
    holder     text NOT NULL,
    expires_at text NOT NULL
) STRICT;
