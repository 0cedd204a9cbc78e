-- Gap safety of the global feed (INTEGRATION.md 1, api/src/store/feed.rs): a position
-- must never be drawn by a transaction that has no transaction id yet.
--
-- The feed delivers past a hole in the positions only once every transaction that was
-- running at its snapshot (`pg_snapshot_xip`) has ended. An identity column draws its
-- value while the INSERT builds its row, before the row is written, and PostgreSQL gives
-- a transaction its id only when it first writes a row: a transaction caught between
-- the two at a reader's snapshot held a position but was not listed as running, so the
-- reader could pass its hole and never see the event (seen under load: a consumer missed
-- an event among 8 concurrent writers). Here the position's default first takes the
-- transaction's id, then draws from the sequence: whoever holds a position is listed as
-- running until it commits or aborts.
--
-- The sequence carries on where the identity's left off: no position is ever reused.
CREATE SEQUENCE events_position AS bigint;

DO $$
DECLARE
    identity_sequence text := pg_get_serial_sequence('events', 'global_position');
    last_drawn        bigint;
BEGIN
    EXECUTE format('SELECT last_value FROM %s', identity_sequence) INTO last_drawn;
    PERFORM setval('events_position',
                   GREATEST(last_drawn, (SELECT COALESCE(MAX(global_position), 0) FROM events), 1));
END
$$;

ALTER TABLE events ALTER COLUMN global_position DROP IDENTITY;
ALTER SEQUENCE events_position OWNED BY events.global_position;

CREATE FUNCTION events_next_position() RETURNS bigint
    LANGUAGE plpgsql VOLATILE AS
$$
BEGIN
    -- Takes the transaction's id (if it has none yet) before the position is drawn.
    PERFORM pg_current_xact_id();
    RETURN nextval('events_position');
END
$$;

ALTER TABLE events ALTER COLUMN global_position SET DEFAULT events_next_position();
