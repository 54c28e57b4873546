//! Audit events as the vault writes them, for the audit benchmarks.

use tresor::audit::{Action, Actor, AuditEvent, Outcome, Targets};

/// A release: ids and field names, no values; `subject` is the citizen.
pub fn release(number: u64, subject: String) -> AuditEvent {
    AuditEvent {
        actor: Actor::Department("wohngeldstelle".to_owned()),
        action: Action::Release,
        targets: Targets {
            subject: Some(subject),
            evidence: vec![format!("{:032x}", number.wrapping_mul(7919))],
            fields: vec!["einkommen".to_owned(), "miete".to_owned()],
            grant: Some(format!("{:032x}", number / 3)),
            department: None,
            grant_use: None,
            service: Some("wohngeld".to_owned()),
        },
        outcome: Outcome::Success,
        reason: None,
    }
}
