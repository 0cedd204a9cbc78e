-- The stored projection moves from jsonb to a compact binary form (a format byte, then
-- postcard; projections::AgreementLedger::to_stored): a fifth of the size, and the
-- database neither parses nor compresses it (EXTERNAL storage), which was most of a
-- command's cost (docs/performance.md). The rows are emptied here; the server rebuilds
-- them from the events when it starts (or run `edoc-ledger replay`).
DROP TABLE IF EXISTS agreement_ledgers_scratch;
DELETE FROM agreement_ledgers;
ALTER TABLE agreement_ledgers DROP COLUMN ledger;
ALTER TABLE agreement_ledgers ADD COLUMN ledger bytea NOT NULL;
ALTER TABLE agreement_ledgers ALTER COLUMN ledger SET STORAGE EXTERNAL;
