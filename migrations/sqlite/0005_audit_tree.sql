-- The Merkle tree's interior nodes (RFC 9162), so that inclusion and
-- consistency proofs read O(log n) rows and never the leaves: node
-- (level, idx) is the root of the perfect subtree over the leaves
-- [idx * 2^level, (idx + 1) * 2^level). Level 0 (the leaves) is
-- audit_entries.leaf_hash. `audit::service` writes the nodes completed by new
-- leaves before it signs a checkpoint over them; audit_tree.size says how
-- many leaves the stored nodes cover. Both tables only grow.
CREATE TABLE audit_nodes (
    level INTEGER NOT NULL CHECK (level BETWEEN 1 AND 63),
    idx INTEGER NOT NULL CHECK (idx >= 0),
    hash BLOB NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;

CREATE TABLE audit_tree (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    size INTEGER NOT NULL CHECK (size >= 0)
);
INSERT INTO audit_tree (id, size) VALUES (1, 0);

CREATE TRIGGER audit_nodes_append_only_update
BEFORE UPDATE ON audit_nodes
BEGIN
    SELECT RAISE(ABORT, 'audit_nodes is append-only: UPDATE refused');
END;

CREATE TRIGGER audit_nodes_append_only_delete
BEFORE DELETE ON audit_nodes
BEGIN
    SELECT RAISE(ABORT, 'audit_nodes is append-only: DELETE refused');
END;

CREATE TRIGGER audit_tree_forward_only_update
BEFORE UPDATE ON audit_tree
WHEN NEW.size < OLD.size OR NEW.id IS NOT OLD.id
BEGIN
    SELECT RAISE(ABORT, 'audit_tree only moves forward');
END;

CREATE TRIGGER audit_tree_no_delete
BEFORE DELETE ON audit_tree
BEGIN
    SELECT RAISE(ABORT, 'audit_tree only moves forward');
END;
