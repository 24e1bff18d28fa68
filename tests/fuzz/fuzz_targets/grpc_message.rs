//! Arbitrary bytes decoded as an etcd gRPC request and converted as the service does: see
//! `src/grpc_message.rs` for the input layout and what is checked. On top of the harness's checks,
//! no single allocation made while decoding and converting may exceed a constant plus a fixed
//! multiple of the input's length: a declared length or count costs nothing.

#![no_main]

use libfuzzer_sys::fuzz_target;
use raftkv_fuzz::grpc_message::{ALLOCATION_BYTES_PER_INPUT_BYTE, MAX_ALLOCATION_BYTES};

#[global_allocator]
static ALLOCATOR: raftkv_fuzz::measure::Measured = raftkv_fuzz::measure::Measured;

fuzz_target!(|data: &[u8]| {
    raftkv_fuzz::measure::take_largest();
    let (kind, _) = raftkv_fuzz::grpc_message::run(data);
    let largest = raftkv_fuzz::measure::take_largest();
    let bound = MAX_ALLOCATION_BYTES + ALLOCATION_BYTES_PER_INPUT_BYTE * data.len();
    assert!(
        largest <= bound,
        "an allocation of {largest} bytes decoding {kind} (input of {} bytes, bound {bound})",
        data.len()
    );
});
