//! How long a bench client waits before retrying an operation the server turned away as overloaded
//! (429 `overloaded`, 503 `busy`): exponential from [`FIRST`], capped at [`MAX`], with jitter.
//!
//! The server's `Retry-After: 1` is deliberately not honoured: a closed-loop client that slept a
//! whole second would measure its own sleep, not the server. Jitter keeps many clients that were
//! refused together from coming back together.

use std::time::Duration;

/// The first wait.
pub const FIRST: Duration = Duration::from_millis(2);
/// No wait is longer than this, however many refusals in a row.
pub const MAX: Duration = Duration::from_millis(100);

/// The waits of one operation's retries; a new operation starts a new `Backoff`.
#[derive(Debug, Default)]
pub struct Backoff {
    /// Refusals of this operation so far.
    attempts: u32,
}

impl Backoff {
    /// The wait before the next retry; `random` is any 64-bit random number (the jitter source).
    ///
    /// "Equal jitter": half the exponential step is kept and half is random, so waits still grow
    /// with each refusal while two clients refused at once come back at different times.
    pub fn next_wait(&mut self, random: u64) -> Duration {
        let ceiling = ceiling(self.attempts);
        self.attempts = self.attempts.saturating_add(1);
        let half_us = ceiling.as_micros() as u64 / 2;
        Duration::from_micros(half_us + random % (half_us + 1))
    }
}

/// The longest wait after `attempts` earlier refusals: `FIRST * 2^attempts`, at most `MAX`.
fn ceiling(attempts: u32) -> Duration {
    // 2^6 * 2 ms already passes the cap; a larger shift would only overflow.
    FIRST.saturating_mul(1 << attempts.min(6)).min(MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_from_the_first_until_the_cap() {
        let ceilings: Vec<u64> = (0..9).map(|a| ceiling(a).as_millis() as u64).collect();
        assert_eq!(ceilings, vec![2, 4, 8, 16, 32, 64, 100, 100, 100]);
        assert_eq!(ceiling(u32::MAX), MAX);
    }

    #[test]
    fn each_wait_lies_between_half_its_ceiling_and_the_ceiling() {
        for random in [0, 1, 7, 999, u64::MAX / 3, u64::MAX] {
            let mut backoff = Backoff::default();
            for attempt in 0..12 {
                let wait = backoff.next_wait(random);
                let top = ceiling(attempt);
                assert!(wait >= top / 2 && wait <= top, "{wait:?} for {top:?}");
            }
        }
    }

    #[test]
    fn the_jitter_spreads_clients_refused_together() {
        let waits: std::collections::BTreeSet<Duration> = (0..50u64)
            .map(|r| Backoff::default().next_wait(r.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
            .collect();
        assert!(waits.len() > 10, "{waits:?}");
    }
}
