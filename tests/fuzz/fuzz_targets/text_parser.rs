//! Arbitrary bytes through the text protocol's parser, whole and in chunks: see
//! `src/text_parser.rs` for the input layout and what is checked. On top of the harness's checks,
//! no single allocation made inside `Parser::next` may exceed a small constant, whatever the input:
//! a parser that reserved the byte count a client announces would fail here.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOCATOR: raftkv_fuzz::measure::Measured = raftkv_fuzz::measure::Measured;

fuzz_target!(|data: &[u8]| {
    raftkv_fuzz::measure::take_largest();
    raftkv_fuzz::text_parser::run(data);
    let largest = raftkv_fuzz::measure::take_largest();
    // The most `next` needs: the fields of a 512-byte line (at most 257 slices of 16 bytes, in
    // a vector that may double), a key, an error message. Nothing depends on the input's length.
    const BOUND: usize = 16 * 1024;
    assert!(
        largest <= BOUND,
        "an allocation of {largest} bytes inside Parser::next (input of {} bytes)",
        data.len()
    );
});
