//! The `text_parser` harness: arbitrary bytes through the text protocol's incremental
//! [`Parser`], once in one piece and once in chunks, calling `next` until it wants more bytes.
//!
//! Whatever the bytes, the parser must not panic, and:
//! - it only consumes from the front of the buffer: what is left is always the unconsumed tail of
//!   what was fed, unchanged;
//! - when it asks for more bytes it holds at most a command line (`MAX_LINE_BYTES`) or a value
//!   and one byte of its terminator (`max_value_bytes + 1`): memory stays bounded by the limit,
//!   never by a byte count the client announced;
//! - every call either makes progress or asks for more: no more outcomes than input bytes;
//! - every command it returns is valid: keys of 1 to 250 bytes without spaces or control
//!   characters, values within `max_value_bytes`;
//! - the outcomes (commands and errors, in order) and what is left unconsumed do not depend on how
//!   the bytes were split into reads;
//! - (checked by the fuzz target, which owns the global allocator) no single allocation made inside
//!   `next` exceeds a small constant: the parser never sizes a buffer by an announced byte count.
//!
//! This file is shared: the fuzz crate builds it as `raftkv_fuzz::text_parser`, and the main crate's
//! `tests/storage/fuzz_regressions.rs` includes it with `#[path]` to replay committed inputs.
//!
//! # Input layout
//!
//! ```text
//! input = limit: u8 | split: u8 | the bytes sent
//! limit = (limit & 7) picks max_value_bytes from [0, 1, 2, 5, 16, 100, 65536, 32 MiB]
//! split = split & 3: 0 one byte per read, 1 reads of (split >> 2) + 1 bytes,
//!         2 pseudo-random reads of 1 to 64 bytes seeded by split,
//!         3 reads cycling through [1, 2, 3, 5, 8, 13, 511, 512, 513, 514] from (split >> 2) % 10
//! ```

use bytes::BytesMut;
use raftkv::text::parser::MAX_LINE_BYTES;
use raftkv::text::{ParseError, Parser, TextCommand, MAX_KEY_BYTES};

/// `max_value_bytes` by the low 3 bits of the first input byte. The configuration allows 1 to 32
/// MiB; 0 is a legal argument of `Parser::new` all the same.
pub const MAX_VALUE_BYTES: [usize; 8] = [0, 1, 2, 5, 16, 100, 65536, 32 << 20];

const CYCLE: [usize; 10] = [1, 2, 3, 5, 8, 13, 511, 512, 513, 514];

/// What feeding one input produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fed {
    pub outcomes: Vec<Result<TextCommand, ParseError>>,
    /// Bytes fed but not consumed when the input ran out.
    pub leftover: Vec<u8>,
    pub in_command: bool,
}

/// An input for [`run`]: the two selector bytes, then `sent`.
pub fn encode(limit: u8, split: u8, sent: &[u8]) -> Vec<u8> {
    let mut out = vec![limit, split];
    out.extend_from_slice(sent);
    out
}

/// Runs one fuzz input: panics if the parser misbehaves. Returns what the chunked feed produced.
pub fn run(data: &[u8]) -> Fed {
    let (limit, split, sent) = match data {
        [limit, split, sent @ ..] => (*limit, *split, sent),
        [limit] => (*limit, 0, &[][..]),
        [] => (0, 0, &[][..]),
    };
    let max_value_bytes = MAX_VALUE_BYTES[usize::from(limit & 7)];
    let whole = feed(max_value_bytes, sent, &[sent.len()]);
    let sizes = read_sizes(split, sent.len());
    let chunked = feed(max_value_bytes, sent, &sizes);
    assert_eq!(
        chunked, whole,
        "reads of {sizes:?} parse differently from one read"
    );
    chunked
}

/// The sizes of the reads that deliver `len` bytes (the last may be cut short).
pub fn read_sizes(split: u8, len: usize) -> Vec<usize> {
    let mut sizes = Vec::new();
    let mut total = 0;
    let mut state = u32::from(split).wrapping_mul(0x9E37_79B9) | 1;
    let mut cycle = usize::from(split >> 2) % CYCLE.len();
    while total < len {
        let size = match split & 3 {
            0 => 1,
            1 => usize::from(split >> 2) + 1,
            2 => {
                // xorshift32
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state % 64) as usize + 1
            }
            _ => {
                cycle = (cycle + 1) % CYCLE.len();
                CYCLE[cycle]
            }
        };
        let size = size.min(len - total);
        sizes.push(size);
        total += size;
    }
    sizes
}

/// Feeds `sent` in reads of `sizes`, calling `next` after each read until it asks for more.
pub fn feed(max_value_bytes: usize, sent: &[u8], sizes: &[usize]) -> Fed {
    let mut parser = Parser::new(max_value_bytes);
    let mut buf = BytesMut::new();
    let mut outcomes = Vec::new();
    let mut fed = 0;
    let mut calls = 0;
    let held_max = MAX_LINE_BYTES.max(max_value_bytes.saturating_add(1));
    for &size in sizes {
        let read = &sent[fed..(fed + size).min(sent.len())];
        buf.extend_from_slice(read);
        fed += read.len();
        loop {
            calls += 1;
            assert!(
                calls <= sent.len() + sizes.len() + 1,
                "the parser keeps answering without consuming: {outcomes:?}"
            );
            let outcome = super::measure::during(|| parser.next(&mut buf));
            assert!(
                buf.len() <= fed && buf[..] == sent[fed - buf.len()..fed],
                "the buffer is not the unconsumed tail of the input after {outcome:?}"
            );
            match outcome {
                Ok(None) => {
                    assert!(
                        buf.len() <= held_max,
                        "{} bytes held waiting for more (limit {held_max})",
                        buf.len()
                    );
                    break;
                }
                Ok(Some(command)) => {
                    check_command(&command, max_value_bytes);
                    outcomes.push(Ok(command));
                }
                Err(error) => {
                    // The message is sent to the client: it must render.
                    let _ = error.to_string();
                    outcomes.push(Err(error));
                }
            }
        }
    }
    assert!(
        outcomes.len() <= sent.len(),
        "{} outcomes from {} bytes",
        outcomes.len(),
        sent.len()
    );
    Fed {
        outcomes,
        in_command: parser.in_command(&buf),
        leftover: buf.to_vec(),
    }
}

fn check_command(command: &TextCommand, max_value_bytes: usize) {
    let (key, value) = match command {
        TextCommand::Set { key, value, .. } | TextCommand::Cas { key, value, .. } => {
            (key, Some(value))
        }
        TextCommand::Get { key } | TextCommand::Getm { key } | TextCommand::Delete { key, .. } => {
            (key, None)
        }
        TextCommand::Auth { user, password } => {
            assert!(
                !user.is_empty() && !password.is_empty(),
                "empty auth field accepted"
            );
            assert!(
                !user.contains(' ') && !password.contains(' '),
                "auth field with a space accepted"
            );
            return;
        }
    };
    assert!(
        (1..=MAX_KEY_BYTES).contains(&key.len()),
        "key of {} bytes",
        key.len()
    );
    assert!(
        !key.chars().any(|c| c == ' ' || c.is_control()),
        "bad key {key:?} accepted"
    );
    if let Some(value) = value {
        assert!(
            value.len() <= max_value_bytes,
            "value of {} bytes over the limit {max_value_bytes}",
            value.len()
        );
    }
}
