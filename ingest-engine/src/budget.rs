//! Byte budgets: the one mechanism that bounds memory, the WAL and the dead-letter files —
//! reserve before holding, release when done, refuse (never wait) beyond the limit.

use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes held against a limit.
#[derive(Debug)]
pub(crate) struct ByteBudget {
    used: AtomicU64,
    limit: u64,
}

impl ByteBudget {
    pub(crate) const fn new(limit: u64) -> Self {
        Self {
            used: AtomicU64::new(0),
            limit,
        }
    }

    /// Takes `n` bytes if they fit under the limit.
    pub(crate) fn try_reserve(&self, n: u64) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                (used + n <= self.limit).then_some(used + n)
            })
            .is_ok()
    }

    /// Counts bytes that are held already (found at start-up), even beyond the limit.
    pub(crate) fn add(&self, n: u64) {
        self.used.fetch_add(n, Ordering::AcqRel);
    }

    pub(crate) fn release(&self, n: u64) {
        self.used.fetch_sub(n, Ordering::AcqRel);
    }

    pub(crate) fn used(&self) -> u64 {
        self.used.load(Ordering::Acquire)
    }

    pub(crate) fn limit(&self) -> u64 {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserves_up_to_the_limit_only() {
        let b = ByteBudget::new(10);
        assert!(b.try_reserve(6) && !b.try_reserve(5) && b.try_reserve(4));
        b.release(6);
        b.add(20);
        assert_eq!(b.used(), 24);
        assert!(!b.try_reserve(1));
    }
}
