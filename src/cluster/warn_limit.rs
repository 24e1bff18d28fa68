//! Rate-limited warnings, so a peer sending garbage cannot flood the node's log.

use std::time::{Duration, Instant};

/// At most one warning per `period`; the ones held back are counted in the next.
pub(super) struct WarnLimit {
    period: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl WarnLimit {
    pub(super) fn new(period: Duration) -> Self {
        WarnLimit {
            period,
            last: None,
            suppressed: 0,
        }
    }

    /// Logs `message` at warn level unless one was logged within the period.
    pub(super) fn warn(&mut self, message: std::fmt::Arguments<'_>) {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|last| now.duration_since(last) < self.period)
        {
            self.suppressed += 1;
            return;
        }
        if self.suppressed > 0 {
            log::warn!(
                "{message} ({} similar warnings suppressed)",
                self.suppressed
            );
        } else {
            log::warn!("{message}");
        }
        self.last = Some(now);
        self.suppressed = 0;
    }
}
