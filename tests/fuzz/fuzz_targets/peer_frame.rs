//! Arbitrary bytes down the raft port's path (guard validator, frame opening, envelope decoding):
//! see `src/peer_frame.rs` for the input layout and what is checked. On top of the harness's
//! checks, no single allocation made inside `ZmtpValidator::feed` may exceed a small bound,
//! whatever length the input declares: the reason the guard exists.

#![no_main]

use libfuzzer_sys::fuzz_target;
use raftkv_fuzz::peer_frame::MAX_FEED_ALLOCATION;

#[global_allocator]
static ALLOCATOR: raftkv_fuzz::measure::Measured = raftkv_fuzz::measure::Measured;

fuzz_target!(|data: &[u8]| {
    raftkv_fuzz::measure::take_largest();
    raftkv_fuzz::peer_frame::run(data);
    let largest = raftkv_fuzz::measure::take_largest();
    assert!(
        largest <= MAX_FEED_ALLOCATION,
        "an allocation of {largest} bytes inside ZmtpValidator::feed (input of {} bytes)",
        data.len()
    );
});
