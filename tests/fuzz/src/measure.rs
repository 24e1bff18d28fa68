//! The largest single allocation made inside a measured region, for fuzz targets that bound a
//! parser's memory by what it allocates rather than by what it is fed. A target installs
//! [`Measured`] as its global allocator; harnesses wrap the code under test in [`during`].
//! Shared with the main crate's `tests/storage/fuzz_regressions.rs` (there no allocator is
//! installed and [`largest`] stays 0).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

static MEASURING: AtomicBool = AtomicBool::new(false);
static LARGEST: AtomicUsize = AtomicUsize::new(0);

/// Runs `f` with allocations measured.
pub fn during<T>(f: impl FnOnce() -> T) -> T {
    MEASURING.store(true, Ordering::Relaxed);
    let result = f();
    MEASURING.store(false, Ordering::Relaxed);
    result
}

/// The largest allocation measured since the last call, which starts a new count.
#[allow(dead_code)]
pub fn take_largest() -> usize {
    LARGEST.swap(0, Ordering::Relaxed)
}

#[allow(dead_code)]
fn note(size: usize) {
    if MEASURING.load(Ordering::Relaxed) {
        LARGEST.fetch_max(size, Ordering::Relaxed);
    }
}

/// The system allocator, noting the size of every allocation made while measuring.
#[allow(dead_code)]
pub struct Measured;

// SAFETY: every call is forwarded unchanged to `System`; the counters touch no allocation.
unsafe impl GlobalAlloc for Measured {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        System.alloc_zeroed(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        System.realloc(ptr, layout, new_size)
    }
}
