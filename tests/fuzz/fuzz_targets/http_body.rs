//! Arbitrary bytes as an HTTP API request's body and path segment or query string, through the
//! parsing its handler runs: see `src/http_body.rs` for the input layout and what is checked. On
//! top of the harness's checks, no single allocation made while parsing may exceed a constant plus
//! a fixed multiple of the input's length: memory follows what was sent, not what it announces.

#![no_main]

use libfuzzer_sys::fuzz_target;
use raftkv_fuzz::http_body::{ALLOCATION_BYTES_PER_INPUT_BYTE, MAX_ALLOCATION_BYTES};

#[global_allocator]
static ALLOCATOR: raftkv_fuzz::measure::Measured = raftkv_fuzz::measure::Measured;

fuzz_target!(|data: &[u8]| {
    raftkv_fuzz::measure::take_largest();
    let (route, _) = raftkv_fuzz::http_body::run(data);
    let largest = raftkv_fuzz::measure::take_largest();
    let bound = MAX_ALLOCATION_BYTES + ALLOCATION_BYTES_PER_INPUT_BYTE * data.len();
    assert!(
        largest <= bound,
        "an allocation of {largest} bytes parsing {route} (input of {} bytes, bound {bound})",
        data.len()
    );
});
