//! Admission of uploads: a global budget for the memory uploads in flight may
//! hold (a semaphore counted in KiB) and a cap on each citizen's concurrent
//! uploads. An [`UploadPermit`] holds both and gives them back when it is
//! dropped, so every path releases them: success, error, and a client that
//! goes away (the handler's future is dropped).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::super::error::{ApiError, ErrorCode};
use crate::config::Limits;
use crate::ids::CitizenId;

/// Text-only reads that may run at once, beside the uploads' budget.
pub const TEXT_ONLY_READS: usize = 4;

/// What a refused upload is told to wait before it tries again.
pub const RETRY_AFTER_SECONDS: u64 = 10;

/// The budget and the per-citizen counts, shared by all upload requests.
pub struct UploadGate {
    memory: Arc<Semaphore>,
    /// Room of its own for reads of a form's text parts only (a draft after
    /// an ended session, the form shown again after a refusal), so that they
    /// work while uploads hold the whole budget: `TEXT_ONLY_READS` at a time.
    text_reserve: Arc<Semaphore>,
    kib_per_upload: u32,
    wait: Duration,
    uploads_per_citizen: usize,
    in_flight: Arc<Mutex<HashMap<CitizenId, usize>>>,
    body_idle: Duration,
    whole_upload: Duration,
}

/// Room for one upload: its share of the memory budget and one of its
/// citizen's slots, both given back on drop.
pub struct UploadPermit {
    _memory: OwnedSemaphorePermit,
    /// None for the text-only read of an upload without a session.
    _slot: Option<CitizenSlot>,
    /// Reading the body ends by then (`upload_timeout_seconds`).
    deadline: Instant,
    /// No byte for this long ends the upload (`body_idle_timeout_seconds`).
    body_idle: Duration,
}

/// Why an upload was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadRefused {
    /// The citizen has `uploads_per_citizen` uploads in flight already.
    TooManyForCitizen,
    /// The memory budget stayed full for `upload_wait_milliseconds`.
    Busy,
}

struct CitizenSlot {
    in_flight: Arc<Mutex<HashMap<CitizenId, usize>>>,
    citizen: CitizenId,
}

impl UploadGate {
    /// `per_upload_bytes` is what one upload can hold at its peak. A budget
    /// smaller than that still admits one upload at a time.
    pub fn new(limits: &Limits, per_upload_bytes: u64) -> Self {
        let budget_kib =
            usize::try_from(limits.upload_memory_bytes / 1024).unwrap_or(usize::MAX).clamp(1, Semaphore::MAX_PERMITS);
        let kib_per_upload = u32::try_from(per_upload_bytes.div_ceil(1024).min(budget_kib as u64)).unwrap_or(u32::MAX);
        let text_kib = usize::try_from(super::TEXT_ONLY_MEMORY_BYTES.div_ceil(1024)).unwrap_or(usize::MAX);
        Self {
            memory: Arc::new(Semaphore::new(budget_kib)),
            text_reserve: Arc::new(Semaphore::new(
                text_kib.saturating_mul(TEXT_ONLY_READS).min(Semaphore::MAX_PERMITS),
            )),
            kib_per_upload,
            wait: Duration::from_millis(limits.upload_wait_milliseconds),
            uploads_per_citizen: limits.uploads_per_citizen,
            in_flight: Arc::default(),
            body_idle: Duration::from_secs(limits.body_idle_timeout_seconds),
            whole_upload: Duration::from_secs(limits.upload_timeout_seconds),
        }
    }

    /// Admit an upload of `citizen`, before any byte of its body is read. A
    /// citizen over the cap is refused at once; otherwise the upload waits up
    /// to `upload_wait_milliseconds` for room in the memory budget.
    pub async fn admit(&self, citizen: &CitizenId) -> Result<UploadPermit, UploadRefused> {
        let slot = self.take_slot(citizen)?;
        let acquire = self.memory.clone().acquire_many_owned(self.kib_per_upload);
        let memory = match tokio::time::timeout(self.wait, acquire).await {
            Ok(Ok(permit)) => permit,
            // Timed out (the semaphore is never closed); the slot is given back.
            Ok(Err(_)) | Err(_) => return Err(UploadRefused::Busy),
        };
        Ok(UploadPermit {
            _memory: memory,
            _slot: Some(slot),
            deadline: Instant::now() + self.whole_upload,
            body_idle: self.body_idle,
        })
    }

    /// Admit the read of an upload's text parts only (`bytes` at most, the
    /// file part left unread) for nobody logged in: an upload whose session
    /// ended, kept as a draft. No citizen to count it for; it takes its
    /// share of the same memory budget and waits as long as any upload.
    pub async fn admit_text_only(&self, bytes: u64) -> Result<UploadPermit, UploadRefused> {
        let kib = u32::try_from(bytes.div_ceil(1024).min(u64::from(self.kib_per_upload))).unwrap_or(u32::MAX);
        let acquire = self.text_reserve.clone().acquire_many_owned(kib);
        let memory = match tokio::time::timeout(self.wait, acquire).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) | Err(_) => return Err(UploadRefused::Busy),
        };
        Ok(UploadPermit {
            _memory: memory,
            _slot: None,
            deadline: Instant::now() + self.whole_upload,
            body_idle: self.body_idle,
        })
    }

    fn take_slot(&self, citizen: &CitizenId) -> Result<CitizenSlot, UploadRefused> {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(PoisonError::into_inner);
        let count = in_flight.entry(citizen.clone()).or_insert(0);
        if *count >= self.uploads_per_citizen {
            return Err(UploadRefused::TooManyForCitizen);
        }
        *count += 1;
        Ok(CitizenSlot { in_flight: self.in_flight.clone(), citizen: citizen.clone() })
    }
}

impl Drop for CitizenSlot {
    fn drop(&mut self) {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = in_flight.get_mut(&self.citizen) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                in_flight.remove(&self.citizen);
            }
        }
    }
}

impl UploadPermit {
    /// Wait for the next piece of the body: at most `body_idle`, and never
    /// past the whole upload's deadline. `Err(timeout)` when time ran out.
    pub(super) async fn read<T, E>(&self, next: impl Future<Output = Result<T, E>>) -> Result<Result<T, E>, ApiError> {
        let started = Instant::now();
        let idle_until = started + self.body_idle;
        let (until, whole) = if idle_until < self.deadline { (idle_until, false) } else { (self.deadline, true) };
        match tokio::time::timeout_at(until, next).await {
            // A body that fails after a long silence timed out too, whoever
            // noticed first: a listener-wide body timeout started at the last
            // byte, a little before this wait began. (A malformed body fails
            // as its bytes arrive, not after a silence.)
            Ok(Err(_)) if started.elapsed() >= self.body_idle / 2 => Err(self.timed_out(false)),
            Ok(result) => Ok(result),
            Err(_) => Err(self.timed_out(whole)),
        }
    }

    fn timed_out(&self, whole: bool) -> ApiError {
        let error = ApiError::new(ErrorCode::UploadTimedOut);
        if whole {
            error.with_arg("reason", "total")
        } else {
            error.with_arg("reason", "idle").with_arg("seconds", self.body_idle.as_secs())
        }
    }
}

impl UploadRefused {
    pub fn error(self) -> ApiError {
        match self {
            Self::TooManyForCitizen => ErrorCode::TooManyUploads.into(),
            Self::Busy => ErrorCode::UploadsBusy.into(),
        }
    }
}

/// Add `Retry-After` to the response of a refused upload (page or JSON).
pub fn with_retry_after(mut response: Response) -> Response {
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    response
}

impl IntoResponse for UploadRefused {
    fn into_response(self) -> Response {
        with_retry_after(self.error().into_response())
    }
}

#[cfg(test)]
mod tests {
    use ring::rand::SystemRandom;

    use super::*;

    fn gate(budget_bytes: u64, per_upload_bytes: u64, per_citizen: usize) -> UploadGate {
        let limits = Limits {
            upload_memory_bytes: budget_bytes,
            uploads_per_citizen: per_citizen,
            upload_wait_milliseconds: 10,
            ..Limits::default()
        };
        UploadGate::new(&limits, per_upload_bytes)
    }

    #[tokio::test]
    async fn the_budget_admits_what_fits_and_frees_on_drop() {
        let rng = SystemRandom::new();
        let gate = gate(3 * 1024 * 1024, 1024 * 1024, 10);
        let citizen = CitizenId::generate(&rng);
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(gate.admit(&CitizenId::generate(&rng)).await.expect("room"));
        }
        assert_eq!(gate.admit(&citizen).await.err(), Some(UploadRefused::Busy));
        held.pop();
        assert!(gate.admit(&citizen).await.is_ok(), "a dropped permit gives its room back");
    }

    #[tokio::test]
    async fn an_upload_that_gets_room_within_the_wait_is_admitted() {
        let rng = SystemRandom::new();
        let mut gate = gate(1024 * 1024, 1024 * 1024, 10);
        gate.wait = Duration::from_secs(30);
        let held = gate.admit(&CitizenId::generate(&rng)).await.expect("room");
        let release = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            drop(held);
        };
        let ben = CitizenId::generate(&rng);
        let (admitted, ()) = tokio::join!(gate.admit(&ben), release);
        assert!(admitted.is_ok(), "admitted once the first upload was done");
    }

    #[tokio::test]
    async fn a_budget_below_one_upload_admits_one_at_a_time() {
        let rng = SystemRandom::new();
        let gate = gate(100, 1024 * 1024, 10);
        let first = gate.admit(&CitizenId::generate(&rng)).await.expect("one fits");
        assert_eq!(gate.admit(&CitizenId::generate(&rng)).await.err(), Some(UploadRefused::Busy));
        drop(first);
        assert!(gate.admit(&CitizenId::generate(&rng)).await.is_ok());
    }

    #[tokio::test]
    async fn each_citizen_has_a_cap_of_their_own() {
        let rng = SystemRandom::new();
        let gate = gate(100 * 1024 * 1024, 1024, 2);
        let (anna, ben) = (CitizenId::generate(&rng), CitizenId::generate(&rng));
        let first = gate.admit(&anna).await.expect("first");
        let _second = gate.admit(&anna).await.expect("second");
        assert_eq!(gate.admit(&anna).await.err(), Some(UploadRefused::TooManyForCitizen));
        assert!(gate.admit(&ben).await.is_ok(), "another citizen is not affected");
        drop(first);
        assert!(gate.admit(&anna).await.is_ok(), "a dropped permit gives the slot back");
    }

    #[tokio::test]
    async fn a_refusal_for_memory_gives_the_citizen_slot_back() {
        let rng = SystemRandom::new();
        let gate = gate(1024 * 1024, 1024 * 1024, 1);
        let anna = CitizenId::generate(&rng);
        let _held = gate.admit(&CitizenId::generate(&rng)).await.expect("room");
        assert_eq!(gate.admit(&anna).await.err(), Some(UploadRefused::Busy));
        assert_eq!(gate.admit(&anna).await.err(), Some(UploadRefused::Busy), "not TooManyForCitizen");
        assert!(!gate.in_flight.lock().expect("lock").contains_key(&anna));
    }

    #[tokio::test]
    async fn reads_end_after_the_idle_time_or_at_the_deadline() {
        let rng = SystemRandom::new();
        let mut gate = gate(1024 * 1024, 1024, 1);
        gate.body_idle = Duration::from_millis(300);
        gate.whole_upload = Duration::from_millis(1000);
        let permit = gate.admit(&CitizenId::generate(&rng)).await.expect("room");
        let never = std::future::pending::<Result<(), ()>>();
        let error = permit.read(never).await.expect_err("idle");
        assert_eq!((error.status, error.code), (axum::http::StatusCode::REQUEST_TIMEOUT, ErrorCode::UploadTimedOut));
        let message = error.message(crate::policy::Lang::En);
        assert!(message.contains("No data arrived"), "{message}");
        // Pieces that keep coming are fine, until the whole upload's deadline.
        let piece = || async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            Ok::<_, ()>(())
        };
        while Instant::now() + Duration::from_millis(100) < permit.deadline {
            assert!(matches!(permit.read(piece()).await, Ok(Ok(()))));
        }
        let error = permit.read(std::future::pending::<Result<(), ()>>()).await.expect_err("deadline");
        let message = error.message(crate::policy::Lang::En);
        assert!(message.contains("took too long"), "{message}");
        assert!(Instant::now() >= permit.deadline);
    }

    #[tokio::test]
    async fn a_body_error_after_a_long_silence_counts_as_a_timeout() {
        let rng = SystemRandom::new();
        let mut gate = gate(1024 * 1024, 1024, 1);
        gate.body_idle = Duration::from_millis(400);
        let permit = gate.admit(&CitizenId::generate(&rng)).await.expect("room");
        let late_error = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Err::<(), _>("body timed out elsewhere")
        };
        let error = permit.read(late_error).await.expect_err("a timeout");
        assert_eq!(error.code, ErrorCode::UploadTimedOut);
        let early_error = async { Err::<(), _>("malformed") };
        assert!(matches!(permit.read(early_error).await, Ok(Err("malformed"))), "an early error is the body's own");
    }
}
