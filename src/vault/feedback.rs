//! Accessibility feedback (BITV 2.0 § 7): anyone may tell the city about a
//! barrier, without logging in; data-protection officers read the messages.
//!
//! A [`Feedback`] can only be built valid ([`Feedback::parse`]: a message
//! that is not empty and not too long, with no invisible or control
//! characters but line breaks and tabs; an optional single-line contact).
//! Reading the messages needs the `Dpo` capability and is itself recorded
//! in the audit log first (`audit_query` with reason `feedback_read`), as
//! every DPO read is: the messages may name their writers.

use super::{Dpo, Result, Vault};
use crate::audit::{Action, Actor, AuditEvent, Outcome, Targets};
use crate::store::FeedbackRecord;

/// Longest message, in characters (a long e-mail; the form says so).
pub const FEEDBACK_MESSAGE_MAX_CHARS: usize = 5000;
/// Longest contact (a name and an e-mail address or a phone number).
pub const FEEDBACK_CONTACT_MAX_CHARS: usize = 200;
/// The reason of the audit entry a DPO's read of the feedback makes.
pub const FEEDBACK_READ_REASON: &str = "feedback_read";

/// What is wrong with a feedback form (each names its field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedbackProblem {
    MessageEmpty,
    MessageTooLong,
    MessageInvalidCharacters,
    ContactTooLong,
    ContactInvalidCharacters,
}

impl FeedbackProblem {
    /// The form field the problem is about: `message` or `contact`.
    pub fn field(self) -> &'static str {
        match self {
            Self::MessageEmpty | Self::MessageTooLong | Self::MessageInvalidCharacters => "message",
            Self::ContactTooLong | Self::ContactInvalidCharacters => "contact",
        }
    }
}

/// A feedback message that passed [`Feedback::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feedback {
    message: String,
    contact: String,
}

impl Feedback {
    /// The message (trimmed, line breaks as `\n`) and the contact (trimmed,
    /// may be empty), or every problem found.
    pub fn parse(message: &str, contact: &str) -> std::result::Result<Self, Vec<FeedbackProblem>> {
        let message = message.replace("\r\n", "\n").replace('\r', "\n");
        let message = message.trim();
        let contact = contact.trim();
        let mut problems = Vec::new();
        if message.is_empty() {
            problems.push(FeedbackProblem::MessageEmpty);
        } else if message.chars().count() > FEEDBACK_MESSAGE_MAX_CHARS {
            problems.push(FeedbackProblem::MessageTooLong);
        } else if message.chars().any(|c| c != '\n' && c != '\t' && crate::text::is_refused_char(c)) {
            problems.push(FeedbackProblem::MessageInvalidCharacters);
        }
        if contact.chars().count() > FEEDBACK_CONTACT_MAX_CHARS {
            problems.push(FeedbackProblem::ContactTooLong);
        } else if crate::text::has_refused_char(contact) {
            problems.push(FeedbackProblem::ContactInvalidCharacters);
        }
        if problems.is_empty() {
            Ok(Self { message: message.to_owned(), contact: contact.to_owned() })
        } else {
            Err(problems)
        }
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn contact(&self) -> &str {
        &self.contact
    }
}

impl Vault {
    /// Keep a feedback message durably (`lang`: the page's language code).
    /// Returns its number.
    pub async fn receive_feedback(&self, feedback: &Feedback, lang: &str) -> Result<i64> {
        let record = FeedbackRecord {
            id: 0,
            received_at: self.clock.now(),
            lang: lang.to_owned(),
            message: feedback.message.clone(),
            contact: feedback.contact.clone(),
        };
        Ok(self.store.insert_feedback(&record).await?)
    }

    /// The feedback messages for a DPO, newest first (`before`: keyset
    /// pagination by number). The read is recorded first (fail closed).
    pub async fn feedback_for_dpo(&self, dpo: &Dpo, limit: u32, before: Option<i64>) -> Result<Vec<FeedbackRecord>> {
        let event = AuditEvent {
            actor: Actor::Staff(dpo.staff_id().to_owned()),
            action: Action::AuditQuery,
            targets: Targets::default(),
            outcome: Outcome::Success,
            reason: Some(FEEDBACK_READ_REASON.to_owned()),
        };
        self.audit.record(event).await?;
        Ok(self.store.feedback_newest_first(limit, before).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_trimmed_and_keeps_its_line_breaks() {
        let feedback = Feedback::parse("  Zeile eins\r\nZeile zwei\tmit Tab \n", " anna@example.org ").expect("valid");
        assert_eq!(feedback.message(), "Zeile eins\nZeile zwei\tmit Tab");
        assert_eq!(feedback.contact(), "anna@example.org");
        assert_eq!(Feedback::parse("x", "").expect("no contact is fine").contact(), "");
    }

    #[test]
    fn empty_long_and_invisible_texts_are_refused_naming_their_field() {
        assert_eq!(Feedback::parse(" \n ", ""), Err(vec![FeedbackProblem::MessageEmpty]));
        let long = "a".repeat(FEEDBACK_MESSAGE_MAX_CHARS + 1);
        assert_eq!(Feedback::parse(&long, ""), Err(vec![FeedbackProblem::MessageTooLong]));
        assert!(Feedback::parse(&"ä".repeat(FEEDBACK_MESSAGE_MAX_CHARS), "").is_ok(), "characters, not bytes");
        assert_eq!(Feedback::parse("a\u{202E}b", ""), Err(vec![FeedbackProblem::MessageInvalidCharacters]));
        let problems = Feedback::parse("", &"c".repeat(FEEDBACK_CONTACT_MAX_CHARS + 1)).expect_err("two problems");
        assert_eq!(problems, [FeedbackProblem::MessageEmpty, FeedbackProblem::ContactTooLong]);
        assert_eq!(Feedback::parse("ok", "a\nb"), Err(vec![FeedbackProblem::ContactInvalidCharacters]));
        assert_eq!(FeedbackProblem::ContactTooLong.field(), "contact");
    }
}
