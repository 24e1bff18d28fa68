//! The `raftkv` command line.

pub mod node;
