-- Staff sessions (PostgreSQL). Keep equivalent to migrations/sqlite/0003_staff.sql.
--
-- Staff (data-protection officers) log in through the city's staff identity
-- provider. Their sessions live apart from citizens' sessions so that one
-- kind can never be presented as the other. Only the SHA-256 of the session
-- id is stored; staff_id is the keyed hash of (issuer, subject), never the
-- raw subject.
CREATE TABLE staff_sessions (
    id_hash        BYTEA   NOT NULL CONSTRAINT staff_sessions_pkey PRIMARY KEY,
    staff_id       TEXT    NOT NULL,
    issuer         TEXT    NOT NULL,
    idp_session_id TEXT,
    csrf_token     TEXT    NOT NULL,
    created_at     BIGINT  NOT NULL,
    last_seen_at   BIGINT  NOT NULL
);
CREATE INDEX staff_sessions_staff_id_idx ON staff_sessions (staff_id);
