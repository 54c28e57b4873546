-- Witness cosignatures (C2SP tlog-cosignature) of signed checkpoints: one
-- row per checkpoint and witness (its verifier key), holding the signature
-- line(s) the witness returned, already verified by `audit::witnessing`.
-- A checkpoint with cosignatures from `witness_quorum` configured witnesses
-- is witnessed. Rows are only ever added. (No foreign key to
-- audit_checkpoints: that table refuses TRUNCATE by its own trigger.)
CREATE TABLE audit_cosignatures (
    size INTEGER NOT NULL,
    witness TEXT NOT NULL,
    lines TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (size, witness)
) STRICT;

CREATE INDEX audit_cosignatures_by_witness ON audit_cosignatures (witness, size);

CREATE TRIGGER audit_cosignatures_append_only_update
BEFORE UPDATE ON audit_cosignatures
BEGIN
    SELECT RAISE(ABORT, 'audit_cosignatures is append-only: UPDATE refused');
END;

CREATE TRIGGER audit_cosignatures_append_only_delete
BEFORE DELETE ON audit_cosignatures
BEGIN
    SELECT RAISE(ABORT, 'audit_cosignatures is append-only: DELETE refused');
END;
