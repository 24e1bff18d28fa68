//! The storage level: what reaches the disk, in this process. The log stores' one conformance suite,
//! `FileStore` alone (recovery, format, model check), the group-commit writer, the transaction log
//! files (`state_txlog`), and the fuzzers' committed inputs replayed through their harnesses
//! (`fuzz_regressions`: WAL records, and the peer-frame and text-command parsers).

#[path = "../support/mod.rs"]
mod support;

mod fuzz_regressions;
mod state_txlog;
mod storage_conformance;
mod storage_file;
mod storage_group_commit;
