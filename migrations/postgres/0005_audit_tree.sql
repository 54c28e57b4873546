-- The Merkle tree's interior nodes (RFC 9162), so that inclusion and
-- consistency proofs read O(log n) rows and never the leaves: node
-- (level, idx) is the root of the perfect subtree over the leaves
-- [idx * 2^level, (idx + 1) * 2^level). Level 0 (the leaves) is
-- audit_entries.leaf_hash. `audit::service` writes the nodes completed by new
-- leaves before it signs a checkpoint over them; audit_tree.size says how
-- many leaves the stored nodes cover. Both tables only grow.
CREATE TABLE audit_nodes (
    level SMALLINT NOT NULL CHECK (level BETWEEN 1 AND 63),
    idx BIGINT NOT NULL CHECK (idx >= 0),
    hash BYTEA NOT NULL CHECK (octet_length(hash) = 32),
    PRIMARY KEY (level, idx)
);

CREATE TABLE audit_tree (
    id SMALLINT PRIMARY KEY CHECK (id = 1),
    size BIGINT NOT NULL CHECK (size >= 0)
);
INSERT INTO audit_tree (id, size) VALUES (1, 0);

CREATE TRIGGER audit_nodes_append_only
    BEFORE UPDATE OR DELETE ON audit_nodes
    FOR EACH ROW EXECUTE FUNCTION audit_append_only_refuse();

CREATE TRIGGER audit_nodes_no_truncate
    BEFORE TRUNCATE ON audit_nodes
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only_refuse();

CREATE FUNCTION audit_tree_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR NEW.size < OLD.size OR NEW.id <> OLD.id THEN
        RAISE EXCEPTION 'audit_tree only moves forward';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER audit_tree_forward_only
    BEFORE UPDATE OR DELETE ON audit_tree
    FOR EACH ROW EXECUTE FUNCTION audit_tree_forward_only();
