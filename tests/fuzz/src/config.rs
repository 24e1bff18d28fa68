//! The `config` harness: arbitrary bytes as a TOML configuration file, through
//! `Config::parse(text, path)`, the function `raftkv node` and every command that reads
//! `--config` run (`Config::load` reads the file and calls it).
//!
//! Whatever the bytes, it must not panic, and:
//! - an error names the file: its `Display` starts with the path passed, then a line number
//!   (`path:line: …`) for everything about the content;
//! - the outcome is the same on a second parse: the same error text, or a configuration equal
//!   field by field (its `Debug` text) to the first;
//! - (checked by the fuzz target, which owns the global allocator) no single allocation made
//!   while parsing exceeds [`MAX_ALLOCATION_BYTES`] plus [`ALLOCATION_BYTES_PER_INPUT_BYTE`] per
//!   input byte.
//!
//! The path lies in a directory that does not exist, so the relative file names a config may
//! hold (TLS certificates) resolve to nothing on the machine; absolute ones are only read.
//!
//! This file is shared: the fuzz crate builds it as `raftkv_fuzz::config`, and the main crate's
//! `tests/storage/fuzz_regressions.rs` includes it with `#[path]` to replay committed inputs.
//!
//! # Input layout
//!
//! ```text
//! input = the file's bytes (invalid UTF-8 replaced by U+FFFD, as a lossy read would)
//! ```

use raftkv::config::Config;

/// The name the input is parsed under.
pub const PATH: &str = "/nonexistent-raftkv-fuzz/conf/raftkv.toml";

/// The largest allocation a parse may make whatever its input.
#[allow(dead_code)]
pub const MAX_ALLOCATION_BYTES: usize = 64 * 1024;

/// What a parse may allocate on top per input byte: a TOML array of empty tables (`{},`, three
/// bytes) holds one table (a map, ~100 bytes) per three bytes, and a vector doubles as it grows;
/// spans and error messages copy parts of the text.
#[allow(dead_code)]
pub const ALLOCATION_BYTES_PER_INPUT_BYTE: usize = 128;

/// What one file came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A configuration; its `Debug` text.
    Parsed(String),
    /// Refused with this message.
    Refused(String),
}

/// Runs one fuzz input: panics on a violated property.
pub fn run(data: &[u8]) -> Outcome {
    let text = String::from_utf8_lossy(data);
    let first = super::measure::during(|| parse(&text));
    let second = parse(&text);
    assert_eq!(first, second, "a second parse of the same text differs");
    first
}

fn parse(text: &str) -> Outcome {
    match Config::parse(text, PATH) {
        Ok(config) => {
            assert_eq!(config.path(), PATH, "the config forgot its file");
            Outcome::Parsed(format!("{config:?}"))
        }
        Err(e) => {
            let message = e.to_string();
            let line = message
                .strip_prefix(PATH)
                .and_then(|rest| rest.strip_prefix(':'))
                .and_then(|rest| rest.split(':').next())
                .and_then(|line| line.parse::<usize>().ok());
            assert!(
                matches!(line, Some(n) if n >= 1),
                "the error does not start with {PATH}:<line>: {message}"
            );
            Outcome::Refused(message)
        }
    }
}
