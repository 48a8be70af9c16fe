//! Memos of reads that nearly every call repeats (who a token is, a Space's members, a
//! compiled workspace), each kept while the store's write generation it depends on has not
//! moved ([`crate::store::Counter`]) and for at most [`TTL`].
//!
//! The generation makes a memo exact for writes made by this process: a reader takes the
//! generation before it reads the store, nothing is answered or kept while a write is in
//! flight, and every write moves the generation (`crate::store::generations`). The time-to-live bounds what a memo can miss: writes by another process sharing
//! the database (a second replica on PostgreSQL, `cordium-server user disable` on the
//! command line) are seen within [`TTL`]. Each memo is bounded in entries and bytes; when
//! full it starts over empty, so its memory never grows with the traffic.

use std::borrow::Borrow;
use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hash};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

/// How long a memo is trusted without a write of this process to say it changed.
pub const TTL: Duration = Duration::from_secs(1);

/// A bounded map from `K` to `V`, valid per generation and for [`TTL`].
///
/// Behind a read-write lock: nearly every call reads a memo or two (who its token is, a Space's
/// members) from whichever worker thread runs it, and readers must not queue behind each other
/// (with a mutex, a profile of GetWorkspace at concurrency 64 showed the memo's lock contended,
/// and the futex waits and thread switches that follow).
#[derive(Debug)]
pub(crate) struct Memo<K, V> {
    entries: RwLock<Entries<K, V>>,
    max_entries: usize,
    max_bytes: usize,
}

#[derive(Debug)]
struct Entries<K, V> {
    map: HashMap<K, Entry<V>>,
    bytes: usize,
}

#[derive(Debug)]
struct Entry<V> {
    value: V,
    generation: u64,
    at: Instant,
    /// Its share of [`Entries::bytes`], given back when it is replaced.
    weight: usize,
}

impl<K: Eq + Hash, V: Clone> Memo<K, V> {
    /// A memo of at most `max_entries` entries whose weights sum to at most `max_bytes`.
    pub(crate) fn new(max_entries: usize, max_bytes: usize) -> Self {
        Self {
            entries: RwLock::new(Entries {
                map: HashMap::new(),
                bytes: 0,
            }),
            max_entries,
            max_bytes,
        }
    }

    /// The value remembered for `key`, if it was read at `generation` less than [`TTL`] ago
    /// (`None`: a write is in flight, nothing is answered).
    pub(crate) fn get<Q>(&self, key: &Q, generation: Option<u64>) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        let generation = generation?;
        let entries = self.entries.read().ok()?;
        let entry = entries.map.get(key)?;
        (entry.generation == generation && entry.at.elapsed() < TTL).then(|| entry.value.clone())
    }

    /// Remembers `value` for `key`, read from the store at `generation` (taken before the
    /// read; `None`: a write was in flight, nothing is kept). `weight` is its size in bytes;
    /// a value heavier than the whole memo is not kept.
    pub(crate) fn put(&self, key: K, value: V, generation: Option<u64>, weight: usize) {
        let Some(generation) = generation else {
            return;
        };
        if weight > self.max_bytes {
            return;
        }
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        if let Some(old) = entries.map.remove(&key) {
            entries.bytes -= old.weight;
        }
        if entries.map.len() >= self.max_entries || entries.bytes + weight > self.max_bytes {
            entries.map.clear();
            entries.bytes = 0;
        }
        let entry = Entry {
            value,
            generation,
            at: Instant::now(),
            weight,
        };
        entries.bytes += weight;
        entries.map.insert(key, entry);
    }
}

/// Admission to a memo whose keys are often asked for once only (a compile with a fresh
/// variable): a key is worth remembering the second time it is asked for, so a one-off answer
/// costs no copy and pushes nothing useful out. Keys seen once are kept as 64-bit hashes under
/// a per-process random key, at most `max` of them; when full it starts over.
#[derive(Debug)]
pub(crate) struct Doorkeeper {
    seen: Mutex<HashSet<u64>>,
    hasher: RandomState,
    max: usize,
}

impl Doorkeeper {
    /// A doorkeeper remembering at most `max` keys.
    pub(crate) fn new(max: usize) -> Self {
        Self {
            seen: Mutex::new(HashSet::new()),
            hasher: RandomState::new(),
            max,
        }
    }

    /// Whether `key` was asked for before (since the last start-over); it is marked as asked.
    pub(crate) fn admit<K: Hash + ?Sized>(&self, key: &K) -> bool {
        let hash = self.hasher.hash_one(key);
        let Ok(mut seen) = self.seen.lock() else {
            return false;
        };
        if seen.contains(&hash) {
            return true;
        }
        if seen.len() >= self.max {
            seen.clear();
        }
        seen.insert(hash);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_admitted_the_second_time_it_is_asked_for() {
        let door = Doorkeeper::new(2);
        assert!(!door.admit("a"), "first time: not admitted");
        assert!(door.admit("a"), "second time: admitted");
        assert!(!door.admit("b"));
        assert!(!door.admit("c"), "full: started over");
        assert!(!door.admit("a"), "forgotten with the start-over");
        let seen = door.seen.lock().expect("not poisoned");
        assert!(seen.len() <= 2);
    }

    /// A key put again (each time its TTL ran out, say) replaces its weight rather than adding
    /// to it: the count stays that of what is kept, and nothing is emptied early.
    #[test]
    fn a_key_put_again_weighs_once() {
        let memo = Memo::new(4, 100);
        memo.put("a", 1, Some(1), 30);
        memo.put("b", 2, Some(1), 30);
        for generation in 2..10 {
            memo.put("a", 1, Some(generation), 30);
        }
        assert_eq!(memo.entries.read().expect("not poisoned").bytes, 60);
        assert_eq!(
            memo.get(&"b", Some(1)),
            Some(2),
            "the other entry is still kept"
        );
    }

    #[test]
    fn a_value_is_kept_for_its_generation_only() {
        let memo = Memo::new(4, 100);
        memo.put("a", 1, Some(7), 1);
        assert_eq!(memo.get(&"a", Some(7)), Some(1));
        assert_eq!(
            memo.get(&"a", Some(8)),
            None,
            "a write since the read drops it"
        );
        assert_eq!(memo.get(&"a", None), None, "a write in flight: no answer");
        assert_eq!(memo.get(&"b", Some(7)), None);
        memo.put("c", 1, None, 1);
        assert_eq!(
            memo.get(&"c", Some(7)),
            None,
            "read during a write: not kept"
        );
    }

    #[test]
    fn a_full_memo_starts_over_and_never_exceeds_its_bounds() {
        let memo = Memo::new(2, 10);
        memo.put(1, 'a', Some(0), 4);
        memo.put(2, 'b', Some(0), 4);
        memo.put(3, 'c', Some(0), 4);
        assert_eq!(memo.get(&1, Some(0)), None);
        assert_eq!(memo.get(&3, Some(0)), Some('c'));
        memo.put(4, 'd', Some(0), 11);
        assert_eq!(
            memo.get(&4, Some(0)),
            None,
            "heavier than the memo: not kept"
        );
        let entries = memo.entries.read().expect("not poisoned");
        assert!(entries.map.len() <= 2 && entries.bytes <= 10);
    }

    #[test]
    fn a_value_expires_after_the_ttl() {
        let memo = Memo::new(4, 100);
        memo.put("a", 1, Some(0), 1);
        if let Ok(mut entries) = memo.entries.write()
            && let Some(e) = entries.map.get_mut("a")
        {
            e.at = e.at.checked_sub(TTL).expect("the clock is past the TTL");
        }
        assert_eq!(memo.get(&"a", Some(0)), None);
    }
}
