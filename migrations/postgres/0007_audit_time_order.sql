-- Audit times never decrease along the sequence: each append transaction
-- stamps its entries with max(its clock, audit_head.last_time) and moves
-- last_time forward with the head. So a time range is one sequence range,
-- found with two lookups in audit_entries_time_idx, and a DPO query or
-- export of an old month starts and stops at the right place whatever the
-- log's size. The smallest 64-bit integer stands for "no entry yet".
ALTER TABLE audit_head ADD COLUMN last_time BIGINT NOT NULL DEFAULT -9223372036854775808;
UPDATE audit_head SET last_time = COALESCE((SELECT MAX(time) FROM audit_entries), last_time) WHERE id = 1;

-- The first entry of a period in (time, sequence) order is one index seek.
-- (SQLite's audit_entries_time_idx holds the rowid, which is the sequence.)
DROP INDEX audit_entries_time_idx;
CREATE INDEX audit_entries_time_idx ON audit_entries (time, sequence);
