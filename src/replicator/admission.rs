//! Admission control: a bound on the client requests (proposals and reads) one node holds at
//! once. Past it a request is refused at once with an explicit "overloaded, retry" (HTTP 429,
//! the text protocol's `ERR_OVERLOADED`) instead of joining a queue that ends in a timeout: a
//! burst of clients makes the node slower, never unavailable, and memory stays bounded.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// The shared count of requests in flight; clone it into every door (HTTP, text protocol).
#[derive(Clone, Debug)]
pub struct Admission {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Invariant: at most `limit`, except transiently inside `try_admit`.
    in_flight: AtomicUsize,
    limit: usize,
    refused: AtomicU64,
}

/// One admitted request; dropping it (answered, failed or abandoned) frees its place.
#[derive(Debug)]
pub struct Ticket {
    inner: Arc<Inner>,
}

impl Admission {
    /// At most `limit` requests in flight (`limit` >= 1).
    pub fn new(limit: usize) -> Admission {
        assert!(
            limit >= 1,
            "an admission limit of 0 would refuse everything"
        );
        Admission {
            inner: Arc::new(Inner {
                in_flight: AtomicUsize::new(0),
                limit,
                refused: AtomicU64::new(0),
            }),
        }
    }

    /// A ticket if there is room; `None` (counted) if the node is at its limit.
    pub fn try_admit(&self) -> Option<Ticket> {
        let inner = &self.inner;
        let before = inner.in_flight.fetch_add(1, Ordering::AcqRel);
        if before >= inner.limit {
            inner.in_flight.fetch_sub(1, Ordering::AcqRel);
            inner.refused.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(Ticket {
            inner: Arc::clone(inner),
        })
    }

    /// Requests in flight now.
    pub fn in_flight(&self) -> usize {
        self.inner.in_flight.load(Ordering::Relaxed)
    }

    /// Requests refused so far.
    pub fn refused(&self) -> u64 {
        self.inner.refused.load(Ordering::Relaxed)
    }

    /// The bound.
    pub fn limit(&self) -> usize {
        self.inner.limit
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.inner.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::Admission;

    #[test]
    fn admits_up_to_the_limit_and_frees_a_place_per_dropped_ticket() {
        let admission = Admission::new(2);
        let first = admission.try_admit().expect("room");
        let _second = admission.try_admit().expect("room");
        assert!(admission.try_admit().is_none());
        assert_eq!((admission.in_flight(), admission.refused()), (2, 1));
        drop(first);
        assert!(admission.try_admit().is_some());
        assert_eq!(admission.in_flight(), 1);
    }
}
