//! Release-time reads, remembered for a short while.
//!
//! Every release reads its grant (with the citizen's wrapped DEK) and the
//! sealed evidence the grant names. Both are immutable once written, except
//! a grant's `uses` and `revoked_at`, which only ever move one way (uses up,
//! revoked set once). So:
//!
//! - a remembered grant is only ever *less* restrictive than the store, and
//!   it is used for the pure pre-decision only: the authoritative check is
//!   the claim in the audit transaction (`Store::append_audit` reads
//!   `uses` and `revoked_at` there), which every release passes
//!   through. A stale copy never releases more; at worst a refusal is decided
//!   in the audit transaction instead of before it (same code, same audit
//!   shape);
//! - remembered sealed evidence is released only if the audit transaction
//!   found it still stored for that citizen (`AppendedAudit::evidence`), so
//!   deleted evidence is never released from memory.
//!
//! Invariants: nothing decrypted is held (the DEK stays wrapped, fields stay
//! sealed); this process forgets a grant when it revokes it, evidence when it
//! deletes it, and everything of a citizen it erases; other processes forget
//! within `TTL` of the injected clock (a value remembered "in the future",
//! after the clock went back, counts as expired). Memory is bounded by
//! `CAPACITY` entries per cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

use crate::clock::Clock;

/// How long a remembered value is used before it is read again.
const TTL: Duration = Duration::seconds(30);
/// At most this many values are remembered; when full, expired ones go, and
/// if none has expired, everything goes (bounded memory, no bookkeeping).
const CAPACITY: usize = 16_384;

type Entries<V> = HashMap<String, (DateTime<Utc>, Arc<V>)>;

pub(crate) struct TtlCache<V> {
    clock: Arc<dyn Clock>,
    entries: Mutex<Entries<V>>,
}

/// Whether a value remembered at `at` may still be used at `now`.
fn fresh(at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    let age = now.signed_duration_since(at);
    age >= Duration::zero() && age < TTL
}

impl<V> TtlCache<V> {
    pub(crate) fn new(clock: Arc<dyn Clock>) -> Self {
        Self { clock, entries: Mutex::new(HashMap::new()) }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Entries<V>> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn get(&self, key: &str) -> Option<Arc<V>> {
        let now = self.clock.now();
        self.entries().get(key).filter(|(at, _)| fresh(*at, now)).map(|(_, value)| value.clone())
    }

    pub(crate) fn insert(&self, key: String, value: Arc<V>) {
        let now = self.clock.now();
        let mut entries = self.entries();
        if entries.len() >= CAPACITY {
            entries.retain(|_, (at, _)| fresh(*at, now));
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(key, (now, value));
    }

    /// The remembered value, or `read()`'s (remembered if there is one).
    pub(crate) async fn get_or_read<E>(
        &self,
        key: &str,
        read: impl Future<Output = Result<Option<V>, E>>,
    ) -> Result<Option<Arc<V>>, E> {
        if let Some(value) = self.get(key) {
            return Ok(Some(value));
        }
        let Some(value) = read.await? else { return Ok(None) };
        let value = Arc::new(value);
        self.insert(key.to_owned(), value.clone());
        Ok(Some(value))
    }

    pub(crate) fn forget(&self, key: &str) {
        self.entries().remove(key);
    }

    /// Forget every value `matches` picks (e.g. all of an erased citizen's).
    pub(crate) fn forget_where(&self, matches: impl Fn(&V) -> bool) {
        self.entries().retain(|_, (_, value)| !matches(value));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn cache<V>() -> (TtlCache<V>, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(DateTime::from_timestamp(1_700_000_000, 0).expect("time")));
        (TtlCache::new(clock.clone()), clock)
    }

    #[test]
    fn values_expire_by_the_injected_clock_also_when_it_goes_back() {
        let (cache, clock) = cache();
        cache.insert("g1".to_owned(), Arc::new(1));
        clock.advance(Duration::seconds(29));
        assert_eq!(cache.get("g1").map(|value| *value), Some(1), "fresh within the TTL");
        clock.advance(Duration::seconds(1));
        assert!(cache.get("g1").is_none(), "gone after the TTL of the injected clock");
        cache.insert("g2".to_owned(), Arc::new(2));
        clock.advance(Duration::seconds(-5));
        assert!(cache.get("g2").is_none(), "remembered in the future: read again");
    }

    #[test]
    fn remembers_forgets_one_and_forgets_by_predicate() {
        let (cache, _) = cache();
        cache.insert("g1".to_owned(), Arc::new(("anna", 1)));
        cache.insert("g2".to_owned(), Arc::new(("anna", 2)));
        cache.insert("g3".to_owned(), Arc::new(("ben", 3)));
        assert_eq!(cache.get("g1").map(|value| value.1), Some(1));
        assert!(cache.get("g9").is_none());
        cache.forget("g1");
        assert!(cache.get("g1").is_none());
        cache.forget_where(|(owner, _)| *owner == "anna");
        assert!(cache.get("g2").is_none());
        assert_eq!(cache.get("g3").map(|value| value.1), Some(3));
    }

    #[tokio::test]
    async fn reads_once_and_remembers_what_was_found() {
        let (cache, _) = cache::<u32>();
        let found = cache.get_or_read("a", async { Ok::<_, ()>(Some(7)) }).await;
        assert_eq!(found.map(|value| value.map(|value| *value)), Ok(Some(7)));
        // Remembered: the second read is not consulted.
        let again = cache.get_or_read("a", async { Ok::<_, ()>(Some(8)) }).await;
        assert_eq!(again.map(|value| value.map(|value| *value)), Ok(Some(7)));
        // Nothing found or an error: nothing remembered.
        assert_eq!(cache.get_or_read("b", async { Ok::<_, ()>(None) }).await, Ok(None));
        assert_eq!(cache.get_or_read("c", async { Err::<Option<u32>, _>("down") }).await, Err("down"));
        assert!(cache.get("b").is_none() && cache.get("c").is_none());
    }

    #[test]
    fn stays_bounded_and_keeps_the_newest() {
        let (cache, _) = cache();
        for index in 0..CAPACITY + 10 {
            cache.insert(format!("g{index}"), Arc::new(index));
        }
        assert!(cache.len() <= CAPACITY);
        assert_eq!(cache.get(&format!("g{}", CAPACITY + 9)).map(|value| *value), Some(CAPACITY + 9));
    }
}
