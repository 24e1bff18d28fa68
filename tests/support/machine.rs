//! The machine as a shared resource. The tests of one level share a process and run two at a time
//! (one per core). Most of them only need their cluster to make progress, but a test that loads
//! the machine on purpose and asserts what that load does (tests/node/node_overload.rs: a flood
//! starts no election) would measure another test's load as much as its own. It takes the
//! [`whole`] machine; every cluster the harness starts ([`super::Cluster`] and
//! [`super::inproc::InProcCluster`]) holds a [`Share`] while it lives. So the whole machine is
//! granted only once no other test's cluster runs, and no other cluster starts until it is given
//! back.
//!
//! Self-contained (no `super::` at run time), so the benchmark can include it by path with
//! `inproc.rs`.
#![allow(dead_code)]

use std::cell::Cell;
use std::sync::{Condvar, Mutex};

#[derive(Default)]
struct Claims {
    /// Shares held now (clusters alive).
    shares: usize,
    /// A test holds the whole machine.
    whole: bool,
}

static CLAIMS: Mutex<Claims> = Mutex::new(Claims {
    shares: 0,
    whole: false,
});
static CHANGED: Condvar = Condvar::new();

thread_local! {
    /// This thread holds the whole machine: its own clusters take no share.
    static HOLDS_WHOLE: Cell<bool> = const { Cell::new(false) };
}

/// A cluster's claim on part of the machine; given back on drop.
pub struct Share {
    counted: bool,
}

/// Waits until no test holds the whole machine, then takes a share.
///
/// Shares never wait for a test that is only waiting for the whole machine: a test holding one
/// cluster may start another (on any thread), and must not wait for a waiter that waits for it.
/// The price is that the whole machine may be granted late (at worst after the other tests).
pub fn share() -> Share {
    if HOLDS_WHOLE.with(Cell::get) {
        return Share { counted: false };
    }
    let mut claims = CLAIMS.lock().unwrap_or_else(|e| e.into_inner());
    while claims.whole {
        claims = CHANGED.wait(claims).unwrap_or_else(|e| e.into_inner());
    }
    claims.shares += 1;
    Share { counted: true }
}

impl Drop for Share {
    fn drop(&mut self) {
        if !self.counted {
            return;
        }
        let mut claims = CLAIMS.lock().unwrap_or_else(|e| e.into_inner());
        claims.shares -= 1;
        CHANGED.notify_all();
    }
}

/// The whole machine, held by the test on this thread; given back on drop.
pub struct Whole(());

/// Waits until no cluster runs and no other test holds the whole machine, then takes it. Clusters
/// started on this thread while it is held take no share.
pub fn whole() -> Whole {
    let mut claims = CLAIMS.lock().unwrap_or_else(|e| e.into_inner());
    while claims.whole || claims.shares > 0 {
        claims = CHANGED.wait(claims).unwrap_or_else(|e| e.into_inner());
    }
    claims.whole = true;
    HOLDS_WHOLE.with(|h| h.set(true));
    Whole(())
}

impl Drop for Whole {
    fn drop(&mut self) {
        HOLDS_WHOLE.with(|h| h.set(false));
        let mut claims = CLAIMS.lock().unwrap_or_else(|e| e.into_inner());
        claims.whole = false;
        CHANGED.notify_all();
    }
}
