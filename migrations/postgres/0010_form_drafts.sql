-- Form drafts (issue 15): what a citizen typed into a form whose session
-- had ended, kept until they log in again. Sealed with a random key of its
-- own (wrapped by the KEK, AAD = lookup hash), found by the SHA-256 of a
-- random cookie value (bound to the browser), taken once, swept after 30
-- minutes. Nothing here is readable without the cookie and the KEK.
CREATE TABLE form_drafts (
    id_hash     BYTEA   NOT NULL CONSTRAINT form_drafts_pkey PRIMARY KEY,
    kek_version BIGINT  NOT NULL,
    wrapped_key BYTEA   NOT NULL,
    sealed      BYTEA   NOT NULL,
    created_at  BIGINT  NOT NULL
);

CREATE INDEX form_drafts_created_at_idx ON form_drafts (created_at);
