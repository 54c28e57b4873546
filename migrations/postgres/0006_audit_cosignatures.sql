-- Witness cosignatures (C2SP tlog-cosignature) of signed checkpoints: one
-- row per checkpoint and witness (its verifier key), holding the signature
-- line(s) the witness returned, already verified by `audit::witnessing`.
-- A checkpoint with cosignatures from `witness_quorum` configured witnesses
-- is witnessed. Rows are only ever added. (No foreign key to
-- audit_checkpoints: that table refuses TRUNCATE by its own trigger.)
CREATE TABLE audit_cosignatures (
    size BIGINT NOT NULL,
    witness TEXT NOT NULL,
    lines TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (size, witness)
);

CREATE INDEX audit_cosignatures_by_witness ON audit_cosignatures (witness, size);

CREATE TRIGGER audit_cosignatures_append_only
    BEFORE UPDATE OR DELETE ON audit_cosignatures
    FOR EACH ROW EXECUTE FUNCTION audit_append_only_refuse();

CREATE TRIGGER audit_cosignatures_no_truncate
    BEFORE TRUNCATE ON audit_cosignatures
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only_refuse();
