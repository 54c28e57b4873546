//! The vault's side of C2SP tlog-witness: the configured witnesses, what
//! each has cosigned, and one `add-checkpoint` call to one of them. The
//! rounds themselves (which checkpoint, which proof, storing the
//! cosignatures) are `Audit::witness_round` in `service`.
//!
//! A witness that answers that it has seen a larger log than this one
//! (rollback: an old backup restored, the tail cut off) or refuses the
//! consistency proof (fork: a rewritten history) is a security event: it is
//! logged at error level, counted, and shown to data-protection officers.

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::cosignature::{AddCheckpoint, CosignerKey, parse_decimal, signature_lines_of, verify_cosignature};
use crate::config::WitnessConfig;

/// How long one `add-checkpoint` call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest answer read from a witness.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// The configured witnesses and the quorum.
pub struct Witnesses {
    members: Vec<Member>,
    quorum: usize,
    http: reqwest::Client,
    /// One round at a time in this process (concurrent submissions of the
    /// same log would only make each other fail with 409).
    pub(super) round: tokio::sync::Mutex<()>,
}

pub(super) struct Member {
    add_checkpoint_url: String,
    pub(super) key: CosignerKey,
    pub(super) verifier_key: String,
    url: String,
    state: Mutex<MemberState>,
}

#[derive(Debug, Clone, Default)]
struct MemberState {
    /// The size of the newest checkpoint this witness is known to have
    /// cosigned (None: not known yet in this process).
    cosigned_size: Option<u64>,
    last_cosigned_at: Option<DateTime<Utc>>,
    problem: Option<WitnessProblem>,
    /// Rollbacks and forks this witness reported since start.
    security_refusals: u64,
}

/// What went wrong with a witness, newest first wins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WitnessProblem {
    /// The witness cosigned a larger checkpoint than this log now has: the
    /// log was rolled back (an old backup restored, entries removed).
    Rollback { witness_size: u64, log_size: u64 },
    /// The witness refused the consistency proof: this log's history is not
    /// the one it cosigned before (a fork or a rewrite).
    Fork { old_size: u64, size: u64 },
    /// The witness refused for another reason (its status and message);
    /// usually configuration: an unknown log (404) or key (403).
    Refused { status: u16, message: String },
    /// The witness answered 200 without a valid cosignature by its key.
    BadCosignature { message: String },
    /// No answer (network, timeout, 5xx).
    Unreachable { message: String },
}

impl WitnessProblem {
    /// Rollbacks and forks: evidence that the log misbehaved.
    pub fn is_security_event(&self) -> bool {
        matches!(self, WitnessProblem::Rollback { .. } | WitnessProblem::Fork { .. })
    }

    /// The kind as a stable word (metrics): rollback, fork, refused,
    /// bad_cosignature, unreachable.
    pub fn kind(&self) -> &'static str {
        match self {
            WitnessProblem::Rollback { .. } => "rollback",
            WitnessProblem::Fork { .. } => "fork",
            WitnessProblem::Refused { .. } => "refused",
            WitnessProblem::BadCosignature { .. } => "bad_cosignature",
            WitnessProblem::Unreachable { .. } => "unreachable",
        }
    }

    /// One sentence for logs and the DPO page.
    pub fn describe(&self) -> String {
        match self {
            WitnessProblem::Rollback { witness_size, log_size } => format!(
                "the witness has cosigned a log of {witness_size} entries, but this log has {log_size}: \
                 it was rolled back or truncated"
            ),
            WitnessProblem::Fork { old_size, size } => format!(
                "the witness refused the proof that {size} entries extend the {old_size} it cosigned: \
                 the log's history was changed"
            ),
            WitnessProblem::Refused { status, message } => format!("the witness refused ({status}): {message}"),
            WitnessProblem::BadCosignature { message } => format!("the witness's answer is not valid: {message}"),
            WitnessProblem::Unreachable { message } => format!("the witness did not answer: {message}"),
        }
    }
}

/// One witness as shown to operators and DPOs.
#[derive(Debug, Clone, Serialize)]
pub struct WitnessStatus {
    pub name: String,
    pub url: String,
    pub verifier_key: String,
    pub cosigned_size: Option<u64>,
    pub last_cosigned_at: Option<DateTime<Utc>>,
    pub problem: Option<WitnessProblem>,
    pub security_refusals: u64,
}

/// A witness's answer to `add-checkpoint`.
pub(super) enum Answer {
    /// The verified cosignature line(s) of this witness.
    Cosigned(String),
    /// 409: the size of the checkpoint the witness has cosigned last.
    Conflict(u64),
    /// 422: the proof or the roots are inconsistent.
    Inconsistent,
    Problem(WitnessProblem),
}

impl Witnesses {
    /// No witnesses: checkpoints are signed by the log alone.
    pub fn none() -> Self {
        Self { members: Vec::new(), quorum: 0, http: reqwest::Client::new(), round: tokio::sync::Mutex::new(()) }
    }

    /// From the configuration (already checked by `Config::load`).
    pub fn new(witnesses: &[WitnessConfig], quorum: usize) -> Result<Self, String> {
        let members = witnesses
            .iter()
            .map(|witness| {
                let key = CosignerKey::parse(&witness.key).map_err(|error| format!("witness key: {error}"))?;
                Ok(Member {
                    add_checkpoint_url: format!("{}/add-checkpoint", witness.url.trim_end_matches('/')),
                    verifier_key: key.verifier_key(),
                    key,
                    url: witness.url.clone(),
                    state: Mutex::new(MemberState::default()),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let http = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| format!("HTTP client: {error}"))?;
        Ok(Self { members, quorum: quorum.min(witnesses.len()), http, round: tokio::sync::Mutex::new(()) })
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn quorum(&self) -> usize {
        self.quorum
    }

    pub(super) fn members(&self) -> &[Member] {
        &self.members
    }

    pub fn status(&self) -> Vec<WitnessStatus> {
        self.members
            .iter()
            .map(|member| {
                let state = member.state();
                WitnessStatus {
                    name: member.key.name.clone(),
                    url: member.url.clone(),
                    verifier_key: member.verifier_key.clone(),
                    cosigned_size: state.cosigned_size,
                    last_cosigned_at: state.last_cosigned_at,
                    problem: state.problem,
                    security_refusals: state.security_refusals,
                }
            })
            .collect()
    }

    /// Send one `add-checkpoint` request to `member`.
    pub(super) async fn call(&self, member: &Member, request: &AddCheckpoint) -> Answer {
        let response = match self.http.post(&member.add_checkpoint_url).body(request.body()).send().await {
            Ok(response) => response,
            Err(error) => return Answer::Problem(WitnessProblem::Unreachable { message: without_url(&error) }),
        };
        let status = response.status();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let body = match read_limited(response).await {
            Ok(body) => body,
            Err(message) => return Answer::Problem(WitnessProblem::Unreachable { message }),
        };
        match status.as_u16() {
            200 => {
                let lines = match signature_lines_of(&body, &member.key.name) {
                    Ok(lines) => lines.concat(),
                    Err(error) => {
                        return Answer::Problem(WitnessProblem::BadCosignature { message: error.to_string() });
                    }
                };
                match verify_cosignature(&format!("{}{lines}", request.checkpoint), &member.key) {
                    Ok(_) => Answer::Cosigned(lines),
                    Err(error) => Answer::Problem(WitnessProblem::BadCosignature { message: error.to_string() }),
                }
            }
            409 if content_type.as_deref().is_some_and(|value| value.starts_with("text/x.tlog.size")) => {
                match body.strip_suffix('\n').and_then(parse_decimal) {
                    Some(size) => Answer::Conflict(size),
                    None => Answer::Problem(WitnessProblem::Refused {
                        status: 409,
                        message: "the conflict answer is not a tree size".to_owned(),
                    }),
                }
            }
            422 => Answer::Inconsistent,
            500..=599 => Answer::Problem(WitnessProblem::Unreachable { message: format!("status {status}") }),
            other => Answer::Problem(WitnessProblem::Refused { status: other, message: first_line(&body) }),
        }
    }
}

impl Member {
    fn state(&self) -> MemberState {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    pub(super) fn cosigned_size(&self) -> Option<u64> {
        self.state().cosigned_size
    }

    /// Remember a size this witness cosigned (from the store at start, or
    /// just now).
    pub(super) fn note_cosigned(&self, size: u64, at: Option<DateTime<Utc>>) {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if state.cosigned_size.is_none_or(|known| known < size) {
            state.cosigned_size = Some(size);
        }
        if at.is_some() {
            state.last_cosigned_at = at;
            state.problem = None;
        }
    }

    /// The witness said (409) that the newest checkpoint it cosigned has
    /// `size` entries: from now on proofs to it start there.
    pub(super) fn note_witness_size(&self, size: u64) {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).cosigned_size = Some(size);
    }

    /// Record a problem; security events are logged at error level.
    pub(super) fn note_problem(&self, problem: WitnessProblem) {
        if problem.is_security_event() {
            tracing::error!(
                witness = %self.key.name,
                problem = %problem.describe(),
                "a witness refused the audit log: possible rollback or fork"
            );
        } else {
            tracing::warn!(witness = %self.key.name, problem = %problem.describe(), "witnessing failed");
        }
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if problem.is_security_event() {
            state.security_refusals += 1;
        }
        state.problem = Some(problem);
    }
}

async fn read_limited(mut response: reqwest::Response) -> Result<String, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|error| without_url(&error))? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err("the answer is too large".to_owned());
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| "the answer is not UTF-8".to_owned())
}

fn without_url(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return format!("no answer within {} s", CALL_TIMEOUT.as_secs());
    }
    error.to_string()
}

fn first_line(body: &str) -> String {
    body.lines().next().unwrap_or_default().chars().take(200).collect()
}
