//! Arbitrary bytes down the raft port's path (guard validator, frame opening, envelope decoding):
//! see `src/peer_frame.rs` for the input layout and what is checked. On top of the harness's
//! checks, no single allocation made inside `ZmtpValidator::feed` may exceed a small bound,
//! whatever length the input declares: the reason the guard exists.

#![no_main]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use libfuzzer_sys::fuzz_target;
use raftkv_fuzz::peer_frame::{IN_VALIDATOR, MAX_FEED_ALLOCATION};

/// The system allocator, remembering the largest single allocation made inside `feed`.
struct Measured;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

fn measure(size: usize) {
    if IN_VALIDATOR.load(Ordering::Relaxed) {
        LARGEST.fetch_max(size, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to `System`; the counter touches no allocation.
unsafe impl GlobalAlloc for Measured {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        measure(layout.size());
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        measure(layout.size());
        System.alloc_zeroed(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        measure(new_size);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Measured = Measured;

fuzz_target!(|data: &[u8]| {
    LARGEST.store(0, Ordering::Relaxed);
    raftkv_fuzz::peer_frame::run(data);
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(
        largest <= MAX_FEED_ALLOCATION,
        "an allocation of {largest} bytes inside ZmtpValidator::feed (input of {} bytes)",
        data.len()
    );
});
