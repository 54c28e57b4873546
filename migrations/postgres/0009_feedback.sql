-- Accessibility feedback (PostgreSQL). Keep equivalent to migrations/sqlite/0009_feedback.sql.
--
-- Messages sent through the feedback form of the accessibility statement
-- (BITV 2.0 § 7: a feedback route). Anyone may write, without logging in;
-- data-protection officers read them on /dpo/feedback. Nothing links a
-- message to a citizen: no session, no address. `contact` is what the
-- writer chose to give for an answer (may be empty).
CREATE TABLE feedback_messages (
    id          BIGINT  NOT NULL GENERATED ALWAYS AS IDENTITY CONSTRAINT feedback_messages_pkey PRIMARY KEY,
    received_at BIGINT  NOT NULL,
    lang        TEXT    NOT NULL,
    message     TEXT    NOT NULL,
    contact     TEXT    NOT NULL
);
