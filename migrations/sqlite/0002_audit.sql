-- Audit log (SQLite). Keep equivalent to migrations/postgres/0002_audit.sql.
--
-- audit_entries holds the leaves of the RFC 6962 Merkle tree: the sequence
-- number is the leaf index, leaf_hash = SHA-256(0x00 || body). The columns
-- after leaf_hash are copies of fields of the body, for the citizen and DPO
-- queries; they survive pruning of the body.
--
-- Append-only, enforced here as well as in the store: triggers refuse DELETE
-- and every UPDATE except setting body to NULL (retention pruning). This
-- stops mistakes and application-level tampering; whoever can write the file
-- can still drop a trigger, which the signed checkpoints and
-- `tresor audit verify` then expose.

-- The single row that holds the last sequence number. SQLite serialises
-- writers (the store appends in BEGIN IMMEDIATE), so reading and moving it
-- in the append transaction gives one gapless sequence across processes.
CREATE TABLE audit_head (
    id            INTEGER NOT NULL CONSTRAINT audit_head_pkey PRIMARY KEY CONSTRAINT audit_head_id_check CHECK (id = 1),
    -- -1 while the log is empty.
    last_sequence INTEGER NOT NULL CONSTRAINT audit_head_last_sequence_check CHECK (last_sequence >= -1)
) STRICT;

INSERT INTO audit_head (id, last_sequence) VALUES (1, -1);

CREATE TABLE audit_entries (
    sequence   INTEGER NOT NULL CONSTRAINT audit_entries_pkey PRIMARY KEY
                       CONSTRAINT audit_entries_sequence_check CHECK (sequence >= 0),
    time       INTEGER NOT NULL,
    body       BLOB,
    leaf_hash  BLOB    NOT NULL CONSTRAINT audit_entries_leaf_hash_check CHECK (length(leaf_hash) = 32),
    subject    TEXT,
    actor_kind TEXT    NOT NULL,
    actor_id   TEXT,
    action     TEXT    NOT NULL,
    outcome    TEXT    NOT NULL,
    department TEXT,
    service    TEXT
) STRICT;

-- The citizen view ("every access to my data"), DPO queries, and pruning.
CREATE INDEX audit_entries_subject_idx ON audit_entries (subject, sequence) WHERE subject IS NOT NULL;
CREATE INDEX audit_entries_time_idx ON audit_entries (time);
CREATE INDEX audit_entries_department_idx ON audit_entries (department, sequence) WHERE department IS NOT NULL;
CREATE INDEX audit_entries_service_idx ON audit_entries (service, sequence) WHERE service IS NOT NULL;
CREATE INDEX audit_entries_action_idx ON audit_entries (action, sequence);

CREATE TABLE audit_checkpoints (
    size        INTEGER NOT NULL CONSTRAINT audit_checkpoints_pkey PRIMARY KEY
                        CONSTRAINT audit_checkpoints_size_check CHECK (size >= 0),
    root        BLOB    NOT NULL,
    signed_note TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;

-- Only pruning may change an entry: body set to NULL, everything else as it was.
CREATE TRIGGER audit_entries_append_only_update
BEFORE UPDATE ON audit_entries
WHEN NEW.sequence IS NOT OLD.sequence
  OR NEW.time IS NOT OLD.time
  OR NEW.leaf_hash IS NOT OLD.leaf_hash
  OR NEW.subject IS NOT OLD.subject
  OR NEW.actor_kind IS NOT OLD.actor_kind
  OR NEW.actor_id IS NOT OLD.actor_id
  OR NEW.action IS NOT OLD.action
  OR NEW.outcome IS NOT OLD.outcome
  OR NEW.department IS NOT OLD.department
  OR NEW.service IS NOT OLD.service
  OR (NEW.body IS NOT NULL AND NEW.body IS NOT OLD.body)
BEGIN
    SELECT RAISE(ABORT, 'audit_entries is append-only: UPDATE refused');
END;

CREATE TRIGGER audit_entries_append_only_delete
BEFORE DELETE ON audit_entries
BEGIN
    SELECT RAISE(ABORT, 'audit_entries is append-only: DELETE refused');
END;

CREATE TRIGGER audit_checkpoints_append_only_update
BEFORE UPDATE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit_checkpoints is append-only: UPDATE refused');
END;

CREATE TRIGGER audit_checkpoints_append_only_delete
BEFORE DELETE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit_checkpoints is append-only: DELETE refused');
END;

-- The head only moves forward and is never removed.
CREATE TRIGGER audit_head_forward_only_update
BEFORE UPDATE ON audit_head
WHEN NEW.id IS NOT OLD.id OR NEW.last_sequence < OLD.last_sequence
BEGIN
    SELECT RAISE(ABORT, 'audit_head only moves forward: UPDATE refused');
END;

CREATE TRIGGER audit_head_forward_only_delete
BEFORE DELETE ON audit_head
BEGIN
    SELECT RAISE(ABORT, 'audit_head only moves forward: DELETE refused');
END;
