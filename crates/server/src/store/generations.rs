//! Write generations: counters this process moves around every write, so a cache can tell
//! with two atomic loads whether what it remembers may have changed.
//!
//! A writer holds a [`Writing`] guard from before its transaction begins until after it
//! committed (or failed): taking the guard moves the generation, and while any guard of a
//! counter is held that counter is *unsettled* ([`Generations::settled`] is `None`), so
//! nothing is read from or put into a cache. Dropping the guard moves the generation again.
//! So a cached answer was read while no write was in flight, and any write that began after
//! it moved the generation: a reader who has seen a write's effect (even only through a
//! refusal such as `AlreadyExists`) never gets a cached answer from before it.
//!
//! The counters see only this process's writes; writes by another process sharing the
//! database (a second replica on PostgreSQL, `cordium-server user ...` on the command line)
//! are bounded by the caches' time-to-live instead (`crate::cache::TTL`).

use cordium_spec::Kind;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// What a generation counts writes of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// Resources of one kind.
    Kind(Kind),
    /// Users, their tokens and identities, and workspaces' session credentials.
    Identities,
    /// Every write of any kind, identities included.
    Any,
}

/// The counters, shared by every clone of the store.
#[derive(Debug, Default, Clone)]
pub(crate) struct Generations(Arc<Counters>);

/// One generation and the writes in flight that will move it again.
#[derive(Debug, Default)]
struct Slot {
    generation: AtomicU64,
    writing: AtomicU64,
}

impl Slot {
    fn enter(&self) {
        self.writing.fetch_add(1, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn leave(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.writing.fetch_sub(1, Ordering::SeqCst);
    }

    fn settled(&self) -> Option<u64> {
        let generation = self.generation.load(Ordering::SeqCst);
        (self.writing.load(Ordering::SeqCst) == 0).then_some(generation)
    }
}

#[derive(Debug, Default)]
struct Counters {
    kinds: [Slot; Kind::ALL.len()],
    identities: Slot,
    any: Slot,
}

impl Counters {
    fn slot(&self, counter: Counter) -> &Slot {
        match counter {
            Counter::Kind(kind) => {
                let i = Kind::ALL.iter().position(|k| *k == kind).unwrap_or(0);
                &self.kinds[i]
            }
            Counter::Identities => &self.identities,
            Counter::Any => &self.any,
        }
    }
}

/// A write in flight: its counters are unsettled until it is dropped (after the commit).
#[must_use = "the write is in flight only while the guard lives"]
#[derive(Debug)]
pub(crate) struct Writing {
    counters: Arc<Counters>,
    moved: Vec<Counter>,
}

impl Drop for Writing {
    fn drop(&mut self) {
        for counter in &self.moved {
            self.counters.slot(*counter).leave();
        }
    }
}

impl Generations {
    /// The generation of `counter` now, or `None` while a write of it is in flight (a cache
    /// then neither answers nor remembers).
    pub(crate) fn settled(&self, counter: Counter) -> Option<u64> {
        self.0.slot(counter).settled()
    }

    /// A write of resources of `kinds` begins; it ends when the guard is dropped.
    pub(crate) fn writing(&self, kinds: impl IntoIterator<Item = Kind>) -> Writing {
        let mut moved: Vec<Counter> = Vec::new();
        for kind in kinds {
            if !moved.contains(&Counter::Kind(kind)) {
                moved.push(Counter::Kind(kind));
            }
        }
        moved.push(Counter::Any);
        self.enter(moved)
    }

    /// A change of users, tokens, identities or session credentials begins.
    pub(crate) fn writing_identities(&self) -> Writing {
        self.enter(vec![Counter::Identities, Counter::Any])
    }

    /// A write that may touch anything (a user's deletion) begins.
    pub(crate) fn writing_everything(&self) -> Writing {
        let mut moved: Vec<Counter> = Kind::ALL.into_iter().map(Counter::Kind).collect();
        moved.extend([Counter::Identities, Counter::Any]);
        self.enter(moved)
    }

    /// Marks a write of `kind` that this process learnt of after the fact (another
    /// replica's, announced by PostgreSQL).
    pub(crate) fn wrote_elsewhere(&self, kind: Kind) {
        drop(self.writing([kind]));
    }

    fn enter(&self, moved: Vec<Counter>) -> Writing {
        for counter in &moved {
            self.0.slot(*counter).enter();
        }
        Writing {
            counters: self.0.clone(),
            moved,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_unsettles_its_kind_and_any_until_it_ends_and_then_moves_them() {
        let g = Generations::default();
        let space = g.settled(Counter::Kind(Kind::Space));
        let ws = g.settled(Counter::Kind(Kind::Workspace)).expect("settled");
        let any = g.settled(Counter::Any).expect("settled");
        let writing = g.writing([Kind::Workspace]);
        assert_eq!(g.settled(Counter::Kind(Kind::Workspace)), None);
        assert_eq!(g.settled(Counter::Any), None);
        assert_eq!(
            g.settled(Counter::Kind(Kind::Space)),
            space,
            "other kinds stay"
        );
        drop(writing);
        let after = g.settled(Counter::Kind(Kind::Workspace)).expect("settled");
        assert_ne!(after, ws);
        assert_ne!(g.settled(Counter::Any), Some(any));
    }

    #[test]
    fn identities_and_everything_move_what_they_say() {
        let g = Generations::default();
        let ids = g.settled(Counter::Identities);
        drop(g.writing_identities());
        assert_ne!(g.settled(Counter::Identities), ids);
        let space = g.settled(Counter::Kind(Kind::Space));
        let clone = g.clone();
        let everything = g.writing_everything();
        assert_eq!(clone.settled(Counter::Identities), None);
        drop(everything);
        assert_ne!(clone.settled(Counter::Kind(Kind::Space)), space);
        let before = g.settled(Counter::Kind(Kind::Workspace));
        g.wrote_elsewhere(Kind::Workspace);
        assert_ne!(g.settled(Counter::Kind(Kind::Workspace)), before);
    }
}
