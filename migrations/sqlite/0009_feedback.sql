-- Accessibility feedback (SQLite). Keep equivalent to migrations/postgres/0009_feedback.sql.
--
-- Messages sent through the feedback form of the accessibility statement
-- (BITV 2.0 § 7: a feedback route). Anyone may write, without logging in;
-- data-protection officers read them on /dpo/feedback. Nothing links a
-- message to a citizen: no session, no address. `contact` is what the
-- writer chose to give for an answer (may be empty).
CREATE TABLE feedback_messages (
    id          INTEGER NOT NULL CONSTRAINT feedback_messages_pkey PRIMARY KEY AUTOINCREMENT,
    received_at INTEGER NOT NULL,
    lang        TEXT    NOT NULL,
    message     TEXT    NOT NULL,
    contact     TEXT    NOT NULL
) STRICT;
