//! Arbitrary bytes as a TOML configuration through `Config::parse`: see `src/config.rs` for what
//! is checked. On top of the harness's checks, no single allocation made while parsing may exceed
//! a constant plus a fixed multiple of the input's length.

#![no_main]

use libfuzzer_sys::fuzz_target;
use raftkv_fuzz::config::{ALLOCATION_BYTES_PER_INPUT_BYTE, MAX_ALLOCATION_BYTES};

#[global_allocator]
static ALLOCATOR: raftkv_fuzz::measure::Measured = raftkv_fuzz::measure::Measured;

fuzz_target!(|data: &[u8]| {
    raftkv_fuzz::measure::take_largest();
    raftkv_fuzz::config::run(data);
    let largest = raftkv_fuzz::measure::take_largest();
    let bound = MAX_ALLOCATION_BYTES + ALLOCATION_BYTES_PER_INPUT_BYTE * data.len();
    assert!(
        largest <= bound,
        "an allocation of {largest} bytes parsing a config (input of {} bytes, bound {bound})",
        data.len()
    );
});
