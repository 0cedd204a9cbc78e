-- PostgreSQL's 0012 makes a position's default take the transaction's id first (feed
-- gap safety). SQLite draws positions as MAX + 1 under the write lock every append holds
-- to its commit: nothing to change; this file keeps the two stores' migrations in step.
SELECT 1;
