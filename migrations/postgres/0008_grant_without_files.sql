-- A citizen may leave the files out of a grant where the service's policy
-- allows it (`file_optional`): then a release carries the approved fields
-- only, never a file. Grants from before keep their files (false = files go
-- along as the policy says). Keep equivalent to
-- migrations/sqlite/0008_grant_without_files.sql.
ALTER TABLE grants ADD COLUMN without_files BOOLEAN NOT NULL DEFAULT FALSE;
