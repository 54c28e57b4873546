-- Access requests and grants (PostgreSQL). Keep equivalent to migrations/sqlite/0004_access.sql.
--
-- A department opens an access request for one service; the citizen who
-- answers it at its approve_url binds it to themselves. Approval creates
-- exactly one grant (same transaction). The grant names the approved fields
-- ("type.field", JSON array) and the chosen evidence ids (JSON array, one per
-- evidence type) - ids and names only, never values. `uses` is moved only
-- inside the audit append transaction that records the release (so a use is
-- counted if and only if its success entry is durable).
CREATE TABLE access_requests (
    id          TEXT    NOT NULL CONSTRAINT access_requests_pkey PRIMARY KEY,
    department  TEXT    NOT NULL,
    service     TEXT    NOT NULL,
    reference   TEXT    NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    status      TEXT    NOT NULL CONSTRAINT access_requests_status_check CHECK (status IN ('pending', 'approved', 'denied')),
    citizen_id  TEXT    CONSTRAINT access_requests_citizen_id_fkey REFERENCES citizens (id) ON DELETE SET NULL,
    answered_at BIGINT,
    grant_id    TEXT
);
CREATE INDEX access_requests_expires_at_idx ON access_requests (expires_at);

CREATE TABLE grants (
    id              TEXT    NOT NULL CONSTRAINT grants_pkey PRIMARY KEY,
    request_id      TEXT    NOT NULL CONSTRAINT grants_request_id_key UNIQUE
                            CONSTRAINT grants_request_id_fkey REFERENCES access_requests (id) ON DELETE CASCADE,
    citizen_id      TEXT    NOT NULL CONSTRAINT grants_citizen_id_fkey REFERENCES citizens (id) ON DELETE CASCADE,
    department      TEXT    NOT NULL,
    service         TEXT    NOT NULL,
    approved_fields TEXT    NOT NULL,
    evidence_ids    TEXT    NOT NULL,
    created_at      BIGINT NOT NULL,
    not_before      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    max_uses        BIGINT NOT NULL CONSTRAINT grants_max_uses_check CHECK (max_uses BETWEEN 1 AND 1000000),
    uses            BIGINT NOT NULL DEFAULT 0 CONSTRAINT grants_uses_check CHECK (uses >= 0 AND uses <= max_uses),
    revoked_at      BIGINT
);
CREATE INDEX grants_citizen_id_idx ON grants (citizen_id);
