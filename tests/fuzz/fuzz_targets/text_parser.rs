//! Arbitrary bytes through the text protocol's parser, whole and in chunks: see
//! `src/text_parser.rs` for the input layout and what is checked. On top of the harness's checks,
//! no single allocation made inside `Parser::next` may exceed a small constant, whatever the input:
//! a parser that reserved the byte count a client announces would fail here.

#![no_main]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use libfuzzer_sys::fuzz_target;
use raftkv_fuzz::text_parser::IN_PARSER;

/// The system allocator, remembering the largest single allocation made inside `Parser::next`
/// since the last reset.
struct Measured;

fn measure(size: usize) {
    if IN_PARSER.load(Ordering::Relaxed) {
        LARGEST.fetch_max(size, Ordering::Relaxed);
    }
}

static LARGEST: AtomicUsize = AtomicUsize::new(0);

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
    raftkv_fuzz::text_parser::run(data);
    let largest = LARGEST.load(Ordering::Relaxed);
    // The most `next` needs: the fields of a 512-byte line (at most 257 slices of 16 bytes, in
    // a vector that may double), a key, an error message. Nothing depends on the input's length.
    const BOUND: usize = 16 * 1024;
    assert!(
        largest <= BOUND,
        "an allocation of {largest} bytes inside Parser::next (input of {} bytes)",
        data.len()
    );
});
