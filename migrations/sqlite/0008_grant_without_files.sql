-- A citizen may leave the files out of a grant where the service's policy
-- allows it (`file_optional`): then a release carries the approved fields
-- only, never a file. Grants from before keep their files (0 = files go
-- along as the policy says). Keep equivalent to
-- migrations/postgres/0008_grant_without_files.sql.
ALTER TABLE grants ADD COLUMN without_files INTEGER NOT NULL DEFAULT 0
    CONSTRAINT grants_without_files_check CHECK (without_files IN (0, 1));
