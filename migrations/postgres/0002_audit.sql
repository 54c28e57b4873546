-- Audit log (PostgreSQL). Keep equivalent to migrations/sqlite/0002_audit.sql.
--
-- audit_entries holds the leaves of the RFC 6962 Merkle tree: the sequence
-- number is the leaf index, leaf_hash = SHA-256(0x00 || body). The columns
-- after leaf_hash are copies of fields of the body, for the citizen and DPO
-- queries; they survive pruning of the body.
--
-- Append-only, enforced here as well as in the store: triggers refuse DELETE,
-- TRUNCATE and every UPDATE except setting body to NULL (retention pruning).
-- This stops mistakes and application-level tampering; an attacker with
-- superuser rights can still drop a trigger, which the signed checkpoints and
-- `tresor audit verify` then expose.

-- The single row whose lock serialises appenders across processes: an append
-- takes it FOR UPDATE, inserts last_sequence + 1 .. and moves it forward.
CREATE TABLE audit_head (
    id            INTEGER NOT NULL CONSTRAINT audit_head_pkey PRIMARY KEY CONSTRAINT audit_head_id_check CHECK (id = 1),
    -- -1 while the log is empty.
    last_sequence BIGINT  NOT NULL CONSTRAINT audit_head_last_sequence_check CHECK (last_sequence >= -1)
);

INSERT INTO audit_head (id, last_sequence) VALUES (1, -1);

CREATE TABLE audit_entries (
    sequence   BIGINT NOT NULL CONSTRAINT audit_entries_pkey PRIMARY KEY
                      CONSTRAINT audit_entries_sequence_check CHECK (sequence >= 0),
    time       BIGINT NOT NULL,
    body       BYTEA,
    leaf_hash  BYTEA  NOT NULL CONSTRAINT audit_entries_leaf_hash_check CHECK (length(leaf_hash) = 32),
    subject    TEXT,
    actor_kind TEXT   NOT NULL,
    actor_id   TEXT,
    action     TEXT   NOT NULL,
    outcome    TEXT   NOT NULL,
    department TEXT,
    service    TEXT
);

-- The citizen view ("every access to my data"), DPO queries, and pruning.
CREATE INDEX audit_entries_subject_idx ON audit_entries (subject, sequence) WHERE subject IS NOT NULL;
CREATE INDEX audit_entries_time_idx ON audit_entries (time);
CREATE INDEX audit_entries_department_idx ON audit_entries (department, sequence) WHERE department IS NOT NULL;
CREATE INDEX audit_entries_service_idx ON audit_entries (service, sequence) WHERE service IS NOT NULL;
CREATE INDEX audit_entries_action_idx ON audit_entries (action, sequence);

CREATE TABLE audit_checkpoints (
    size        BIGINT NOT NULL CONSTRAINT audit_checkpoints_pkey PRIMARY KEY
                       CONSTRAINT audit_checkpoints_size_check CHECK (size >= 0),
    root        BYTEA  NOT NULL,
    signed_note TEXT   NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE FUNCTION audit_entries_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       -- Every column but body unchanged (to_jsonb covers columns added later) ...
       AND (to_jsonb(NEW) - 'body') IS NOT DISTINCT FROM (to_jsonb(OLD) - 'body')
       -- ... and body either dropped or unchanged.
       AND (NEW.body IS NULL OR NEW.body IS NOT DISTINCT FROM OLD.body) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_entries is append-only: % refused', TG_OP
        USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'audit_entries_append_only';
END;
$$;

CREATE TRIGGER audit_entries_append_only
    BEFORE UPDATE OR DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_entries_guard();

CREATE FUNCTION audit_append_only_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = TG_TABLE_NAME || '_append_only';
END;
$$;

CREATE TRIGGER audit_entries_no_truncate
    BEFORE TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only_refuse();

CREATE TRIGGER audit_checkpoints_append_only
    BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_append_only_refuse();

CREATE TRIGGER audit_checkpoints_no_truncate
    BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only_refuse();

-- The head only moves forward and is never removed.
CREATE FUNCTION audit_head_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.id = OLD.id AND NEW.last_sequence >= OLD.last_sequence THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_head only moves forward: % refused', TG_OP
        USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'audit_head_forward_only';
END;
$$;

CREATE TRIGGER audit_head_forward_only
    BEFORE UPDATE OR DELETE ON audit_head
    FOR EACH ROW EXECUTE FUNCTION audit_head_guard();

CREATE TRIGGER audit_head_no_truncate
    BEFORE TRUNCATE ON audit_head
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only_refuse();
