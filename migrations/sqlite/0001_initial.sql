-- Initial schema (SQLite). Keep equivalent to migrations/postgres/0001_initial.sql.
--
-- Conventions shared by both backends:
--   * ids are 32 lowercase hex characters (TEXT);
--   * timestamps are INTEGER unix microseconds, UTC;
--   * secrets arrive sealed or hashed; nothing here is plaintext evidence;
--   * constraints carry PostgreSQL-style names, which the store reports in
--     StoreError::Conflict.
-- STRICT tables make SQLite enforce the declared column types.

CREATE TABLE citizens (
    id           TEXT    NOT NULL CONSTRAINT citizens_pkey PRIMARY KEY,
    subject_hash BLOB    NOT NULL CONSTRAINT citizens_subject_hash_key UNIQUE,
    wrapped_dek  BLOB    NOT NULL,
    kek_version  INTEGER NOT NULL CONSTRAINT citizens_kek_version_check CHECK (kek_version BETWEEN 0 AND 4294967295),
    created_at   INTEGER NOT NULL
) STRICT;

CREATE TABLE pending_logins (
    state_hash    BLOB    NOT NULL CONSTRAINT pending_logins_pkey PRIMARY KEY,
    issuer        TEXT    NOT NULL,
    nonce         TEXT    NOT NULL,
    pkce_verifier TEXT    NOT NULL,
    requested_level INTEGER NOT NULL,
    return_to     TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;

CREATE INDEX pending_logins_created_at_idx ON pending_logins (created_at);

CREATE TABLE sessions (
    id_hash        BLOB    NOT NULL CONSTRAINT sessions_pkey PRIMARY KEY,
    citizen_id     TEXT    NOT NULL CONSTRAINT sessions_citizen_id_fkey REFERENCES citizens (id) ON DELETE CASCADE,
    issuer         TEXT    NOT NULL,
    login_level    INTEGER NOT NULL,
    idp_session_id TEXT,
    csrf_token     TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    last_seen_at   INTEGER NOT NULL
) STRICT;

CREATE INDEX sessions_issuer_idp_session_id_idx ON sessions (issuer, idp_session_id);
CREATE INDEX sessions_citizen_id_issuer_idx ON sessions (citizen_id, issuer);

CREATE TABLE logout_tokens (
    issuer     TEXT    NOT NULL,
    jti        TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    CONSTRAINT logout_tokens_pkey PRIMARY KEY (issuer, jti)
) STRICT;

CREATE INDEX logout_tokens_expires_at_idx ON logout_tokens (expires_at);

-- A file is 'pending' while its chunks are uploaded and becomes 'complete'
-- in the transaction that inserts the evidence referring to it.
CREATE TABLE files (
    id             TEXT    NOT NULL CONSTRAINT files_pkey PRIMARY KEY,
    citizen_id     TEXT    NOT NULL CONSTRAINT files_citizen_id_fkey REFERENCES citizens (id) ON DELETE CASCADE,
    status         TEXT    NOT NULL DEFAULT 'pending' CONSTRAINT files_status_check CHECK (status IN ('pending', 'complete')),
    media_type     TEXT,
    plaintext_size INTEGER NOT NULL DEFAULT 0,
    chunk_count    INTEGER NOT NULL DEFAULT 0,
    sealed_name    BLOB,
    started_at     INTEGER NOT NULL,
    CONSTRAINT files_complete_check CHECK (status = 'pending' OR (media_type IS NOT NULL AND sealed_name IS NOT NULL))
) STRICT;

CREATE INDEX files_citizen_id_idx ON files (citizen_id);
CREATE INDEX files_status_started_at_idx ON files (status, started_at);

CREATE TABLE file_chunks (
    file_id     TEXT    NOT NULL CONSTRAINT file_chunks_file_id_fkey REFERENCES files (id) ON DELETE CASCADE,
    chunk_index INTEGER NOT NULL CONSTRAINT file_chunks_chunk_index_check CHECK (chunk_index >= 0),
    -- The sealed bytes live in the blob file of `file_id` (see src/store/blobs.rs).
    blob_offset   INTEGER NOT NULL CONSTRAINT file_chunks_blob_offset_check CHECK (blob_offset >= 0),
    sealed_length INTEGER NOT NULL CONSTRAINT file_chunks_sealed_length_check CHECK (sealed_length >= 0),
    CONSTRAINT file_chunks_pkey PRIMARY KEY (file_id, chunk_index)
) STRICT;

CREATE TABLE evidence (
    id           TEXT    NOT NULL CONSTRAINT evidence_pkey PRIMARY KEY,
    citizen_id   TEXT    NOT NULL CONSTRAINT evidence_citizen_id_fkey REFERENCES citizens (id) ON DELETE CASCADE,
    type_id      TEXT    NOT NULL,
    type_version INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    file_id      TEXT             CONSTRAINT evidence_file_id_fkey REFERENCES files (id)
                                  CONSTRAINT evidence_file_id_key UNIQUE
) STRICT;

CREATE INDEX evidence_citizen_id_created_at_idx ON evidence (citizen_id, created_at);

-- `position` keeps the order in which the fields were given.
CREATE TABLE evidence_fields (
    evidence_id TEXT    NOT NULL CONSTRAINT evidence_fields_evidence_id_fkey REFERENCES evidence (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    position    INTEGER NOT NULL,
    ciphertext  BLOB    NOT NULL,
    CONSTRAINT evidence_fields_pkey PRIMARY KEY (evidence_id, name)
) STRICT;
