//! The fuzz targets' harnesses, one module per target. Each module is also compiled into the main
//! crate's `tests/storage/fuzz_regressions.rs` (with `#[path]`), which replays the committed seeds
//! and regression inputs through the same code under plain `cargo test`.

pub mod config;
pub mod grpc_message;
pub mod http_body;
pub mod measure;
pub mod peer_frame;
pub mod text_parser;
pub mod wal_record;
