-- The stored projection moves from jsonb to a compact binary form (a format byte, then
-- postcard; projections::AgreementLedger::to_stored): an eighth of the size, and the
-- database no longer parses it, which with pglz compression was most of a command's cost
-- (docs/performance.md). MAIN storage with lz4 keeps a row in its heap page (no TOAST
-- chunks to write and index) where lz4 makes it fit. The rows are emptied here; the
-- server rebuilds them from the events when it starts (or run `edoc-ledger replay`).
DROP TABLE IF EXISTS agreement_ledgers_scratch;
DELETE FROM agreement_ledgers;
ALTER TABLE agreement_ledgers DROP COLUMN ledger;
ALTER TABLE agreement_ledgers ADD COLUMN ledger bytea NOT NULL;
ALTER TABLE agreement_ledgers ALTER COLUMN ledger SET STORAGE MAIN;
-- A server built without lz4 keeps its default compression (pglz).
DO $$
BEGIN
    EXECUTE 'ALTER TABLE agreement_ledgers ALTER COLUMN ledger SET COMPRESSION lz4';
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 is not available: agreement_ledgers.ledger keeps the default compression';
END
$$;
