//! Arbitrary bytes as a WAL data directory, recovered by `FileStore::open`: see
//! `src/wal_record.rs` for the input layout and what is checked.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    raftkv_fuzz::wal_record::run(data);
});
