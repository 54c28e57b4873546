//! Release-time reads, remembered for a short while.
//!
//! Every release reads its grant (with the citizen's wrapped DEK) and the
//! sealed evidence the grant names. Both are immutable once written, except
//! a grant's `uses` and `revoked_at`, which only ever move one way (uses up,
//! revoked set once). So:
//!
//! - a remembered grant is only ever *less* restrictive than the store, and
//!   it is used for the pure pre-decision only: the authoritative check is
//!   the claim in the audit transaction (`Store::append_audit_claiming`
//!   reads `uses` and `revoked_at` there), which every release passes
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
//! within `TTL`. Memory is bounded by `CAPACITY` entries per cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a remembered value is used before it is read again.
const TTL: Duration = Duration::from_secs(30);
/// At most this many values are remembered; when full, expired ones go, and
/// if none has expired, everything goes (bounded memory, no bookkeeping).
const CAPACITY: usize = 16_384;

pub(crate) struct TtlCache<V> {
    entries: Mutex<HashMap<String, (Instant, Arc<V>)>>,
}

impl<V> Default for TtlCache<V> {
    fn default() -> Self {
        Self { entries: Mutex::new(HashMap::new()) }
    }
}

impl<V> TtlCache<V> {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Arc<V>)>> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn get(&self, key: &str) -> Option<Arc<V>> {
        self.entries().get(key).filter(|(at, _)| at.elapsed() < TTL).map(|(_, value)| value.clone())
    }

    pub(crate) fn insert(&self, key: String, value: Arc<V>) {
        let mut entries = self.entries();
        if entries.len() >= CAPACITY {
            entries.retain(|_, (at, _)| at.elapsed() < TTL);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(key, (Instant::now(), value));
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

    #[test]
    fn remembers_forgets_one_and_forgets_by_predicate() {
        let cache = TtlCache::default();
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
        let cache: TtlCache<u32> = TtlCache::default();
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
        let cache = TtlCache::default();
        for index in 0..CAPACITY + 10 {
            cache.insert(format!("g{index}"), Arc::new(index));
        }
        assert!(cache.len() <= CAPACITY);
        assert_eq!(cache.get(&format!("g{}", CAPACITY + 9)).map(|value| *value), Some(CAPACITY + 9));
    }
}
