//! Record framing: the unit of every log file, and the compact binary encoding of its body.
//!
//! `crc: u32 LE | len: u32 LE | type: u8 | body: len bytes`, where `crc` is the CRC-32 of the
//! file's salt (u64 LE, from its header) followed by every byte after the crc (length, type,
//! body): a damaged length is caught like damaged data, and a record is valid only in the file
//! whose salt it was written with.

use bytes::Bytes;

use crate::raft::{Entry, HardState, Index, MembershipEntry, Payload, Term};

/// Bytes of framing in front of every body.
pub(crate) const HEADER_BYTES: usize = 9;

const TYPE_ENTRY: u8 = 1;
const TYPE_HARD_STATE: u8 = 2;
const TYPE_TRUNCATE_INTENT: u8 = 3;
const TYPE_BATCH_END: u8 = 4;
const TYPE_PREFIX: u8 = 5;

const PAYLOAD_NOOP: u8 = 0;
const PAYLOAD_COMMAND: u8 = 1;
const PAYLOAD_MEMBERSHIP: u8 = 2;

const ENTRY_FIXED_BYTES: usize = 8 + 8 + 1;
const HARD_STATE_BYTES: usize = 8 + 1 + 8 + 8;
const PREFIX_BYTES: usize = 8 + 8;
const BATCH_END_BYTES: usize = 8 + 8;
/// The largest body of a fixed-size record (the truncate intent): a limit on record size below
/// this would make the store unable to read back what it writes.
pub(crate) const FIXED_BODY_BYTES_MAX: u64 = (8 + HARD_STATE_BYTES) as u64;
/// The whole size of a batch-end record.
pub(crate) const BATCH_END_RECORD_BYTES: usize = HEADER_BYTES + BATCH_END_BYTES;

/// One decoded record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Record {
    Entry(Entry),
    HardState(HardState),
    /// "Entries from `cut_index` on are being deleted; the hard state at that moment is
    /// `hard_state`". Lives in its own file, never in a segment (see `intent.rs`).
    TruncateIntent {
        cut_index: Index,
        hard_state: HardState,
    },
    /// "The log starts after the entry `(prev_index, prev_term)`": the compacted prefix. Lives in
    /// its own file, never in a segment (see `prefix.rs`).
    Prefix {
        prev_index: Index,
        prev_term: Term,
    },
    /// Closes the records of one write to a segment. `start` is the offset of that write's first
    /// record; `durable` is how many bytes of the segment were known fsynced when it was written
    /// (so `durable <= start`). A complete batch after damage proves the damage was durable.
    BatchEnd {
        start: u64,
        durable: u64,
    },
}

/// Why the bytes at some offset are not a valid record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum BadRecord {
    /// The header or the body runs past the end of the file.
    Incomplete {
        missing_bytes: u64,
    },
    TooLarge {
        len: u64,
    },
    ChecksumMismatch,
    UnknownType(u8),
    Malformed(&'static str),
}

impl std::fmt::Display for BadRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BadRecord::Incomplete { missing_bytes } => {
                write!(
                    f,
                    "record runs {missing_bytes} bytes past the end of the file"
                )
            }
            BadRecord::TooLarge { len } => write!(f, "record length {len} exceeds the limit"),
            BadRecord::ChecksumMismatch => f.write_str("checksum mismatch"),
            BadRecord::UnknownType(t) => write!(f, "unknown record type {t}"),
            BadRecord::Malformed(why) => write!(f, "malformed record: {why}"),
        }
    }
}

/// The body size of `entry`'s record, for checking the limit before anything is written.
pub(crate) fn entry_body_bytes(entry: &Entry) -> u64 {
    let data = match &entry.payload {
        Payload::Noop => 0,
        Payload::Command(data) => data.len(),
        Payload::Membership(m) => m.encoded_len(),
    };
    (ENTRY_FIXED_BYTES + data) as u64
}

/// Appends the on-disk record of `entry` to `buf`: the exact bytes a segment whose header holds
/// `salt` has for it. Public for benchmarks and log-inspection tools.
pub fn encode_entry(buf: &mut Vec<u8>, entry: &Entry, salt: u64) {
    let encoded_membership;
    let (kind, data): (u8, &[u8]) = match &entry.payload {
        Payload::Noop => (PAYLOAD_NOOP, &[]),
        Payload::Command(data) => (PAYLOAD_COMMAND, data),
        Payload::Membership(m) => {
            let mut buf = Vec::with_capacity(m.encoded_len());
            m.encode(&mut buf);
            encoded_membership = buf;
            (PAYLOAD_MEMBERSHIP, &encoded_membership)
        }
    };
    buf.reserve(HEADER_BYTES + ENTRY_FIXED_BYTES + data.len());
    frame(buf, TYPE_ENTRY, salt, |body| {
        let mut fixed = [0; ENTRY_FIXED_BYTES];
        fixed[..8].copy_from_slice(&entry.index.to_le_bytes());
        fixed[8..16].copy_from_slice(&entry.term.to_le_bytes());
        fixed[16] = kind;
        body.extend_from_slice(&fixed);
        body.extend_from_slice(data);
    });
}

/// Appends the record of `hard_state` to `buf`.
pub(crate) fn encode_hard_state(buf: &mut Vec<u8>, hard_state: &HardState, salt: u64) {
    frame(buf, TYPE_HARD_STATE, salt, |body| {
        put_hard_state(body, hard_state)
    });
}

/// Appends a truncate-intent record to `buf`.
pub(crate) fn encode_truncate_intent(
    buf: &mut Vec<u8>,
    cut_index: Index,
    hard_state: &HardState,
    salt: u64,
) {
    frame(buf, TYPE_TRUNCATE_INTENT, salt, |body| {
        body.extend_from_slice(&cut_index.to_le_bytes());
        put_hard_state(body, hard_state);
    });
}

/// Appends a prefix record to `buf`.
pub(crate) fn encode_prefix(buf: &mut Vec<u8>, prev_index: Index, prev_term: Term, salt: u64) {
    frame(buf, TYPE_PREFIX, salt, |body| {
        body.extend_from_slice(&prev_index.to_le_bytes());
        body.extend_from_slice(&prev_term.to_le_bytes());
    });
}

/// Appends the record closing a write whose first record is at `start` (see [`Record::BatchEnd`]).
pub(crate) fn encode_batch_end(buf: &mut Vec<u8>, start: u64, durable: u64, salt: u64) {
    debug_assert!(
        durable <= start,
        "durable mark {durable} beyond the batch start {start}"
    );
    frame(buf, TYPE_BATCH_END, salt, |body| {
        body.extend_from_slice(&start.to_le_bytes());
        body.extend_from_slice(&durable.to_le_bytes());
    });
}

/// Decodes the record at the start of `buf`, returning it and its total size in bytes.
pub(crate) fn decode(
    buf: &[u8],
    salt: u64,
    body_bytes_max: u64,
) -> Result<(Record, usize), BadRecord> {
    decode_counting(buf, salt, body_bytes_max, &mut 0)
}

/// [`decode`], adding to `bytes_hashed` what the checksum had to read: the search after damage
/// (`segment::proof_of_durability`) bounds its work with it.
pub(crate) fn decode_counting(
    buf: &[u8],
    salt: u64,
    body_bytes_max: u64,
    bytes_hashed: &mut u64,
) -> Result<(Record, usize), BadRecord> {
    let Some(header) = buf.get(..HEADER_BYTES) else {
        return Err(BadRecord::Incomplete {
            missing_bytes: (HEADER_BYTES - buf.len()) as u64,
        });
    };
    let crc = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let record_type = header[8];
    // Cheap plausibility checks before the checksum, which is the expensive part.
    let (body_bytes_min, fixed) = match record_type {
        TYPE_ENTRY => (ENTRY_FIXED_BYTES, false),
        TYPE_HARD_STATE => (HARD_STATE_BYTES, true),
        TYPE_TRUNCATE_INTENT => (8 + HARD_STATE_BYTES, true),
        TYPE_PREFIX => (PREFIX_BYTES, true),
        TYPE_BATCH_END => (BATCH_END_BYTES, true),
        other => return Err(BadRecord::UnknownType(other)),
    };
    if (len as usize) < body_bytes_min || (fixed && len as usize != body_bytes_min) {
        return Err(BadRecord::Malformed(
            "record of the wrong size for its type",
        ));
    }
    if u64::from(len) > body_bytes_max {
        return Err(BadRecord::TooLarge { len: len.into() });
    }
    let total = HEADER_BYTES + len as usize;
    let Some(checked) = buf.get(4..total) else {
        return Err(BadRecord::Incomplete {
            missing_bytes: (total - buf.len()) as u64,
        });
    };
    *bytes_hashed += 8 + checked.len() as u64;
    if checksum(salt, checked) != crc {
        return Err(BadRecord::ChecksumMismatch);
    }
    let body = &checked[HEADER_BYTES - 4..];
    let record = match record_type {
        TYPE_ENTRY => Record::Entry(decode_entry(body)?),
        TYPE_HARD_STATE => Record::HardState(decode_hard_state(body)?),
        TYPE_TRUNCATE_INTENT => Record::TruncateIntent {
            cut_index: u64_at(body, 0),
            hard_state: decode_hard_state(&body[8..])?,
        },
        TYPE_PREFIX => Record::Prefix {
            prev_index: u64_at(body, 0),
            prev_term: u64_at(body, 8),
        },
        TYPE_BATCH_END => {
            let (start, durable) = (u64_at(body, 0), u64_at(body, 8));
            if durable > start {
                return Err(BadRecord::Malformed("batch durable beyond its own start"));
            }
            Record::BatchEnd { start, durable }
        }
        other => unreachable!("record type {other} passed the type check"),
    };
    Ok((record, total))
}

/// Whether the bytes at the start of `buf` could be a batch-end record, judged without the
/// checksum: the search after damage tries every offset with this first.
pub(crate) fn looks_like_batch_end(buf: &[u8]) -> bool {
    buf.len() >= BATCH_END_RECORD_BYTES
        && buf[8] == TYPE_BATCH_END
        && buf[4..8] == (BATCH_END_BYTES as u32).to_le_bytes()
}

fn checksum(salt: u64, checked: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&salt.to_le_bytes());
    hasher.update(checked);
    hasher.finalize()
}

/// Writes a header placeholder, lets `write_body` append the body, then fills the header in.
fn frame(buf: &mut Vec<u8>, record_type: u8, salt: u64, write_body: impl FnOnce(&mut Vec<u8>)) {
    let start = buf.len();
    buf.extend_from_slice(&[0; HEADER_BYTES]);
    write_body(buf);
    let body_len = buf.len() - start - HEADER_BYTES;
    let len =
        u32::try_from(body_len).expect("record body over 4 GiB: the size limit was not checked");
    buf[start + 4..start + 8].copy_from_slice(&len.to_le_bytes());
    buf[start + 8] = record_type;
    // The crc sits first so that it covers everything after it.
    let crc = checksum(salt, &buf[start + 4..]);
    buf[start..start + 4].copy_from_slice(&crc.to_le_bytes());
}

fn put_hard_state(body: &mut Vec<u8>, hard_state: &HardState) {
    body.extend_from_slice(&hard_state.term.to_le_bytes());
    body.push(u8::from(hard_state.vote.is_some()));
    body.extend_from_slice(&hard_state.vote.unwrap_or(0).to_le_bytes());
    body.extend_from_slice(&hard_state.commit.to_le_bytes());
}

/// `body` holds at least the entry's fixed part: `decode_counting` checked the length.
fn decode_entry(body: &[u8]) -> Result<Entry, BadRecord> {
    let data = &body[ENTRY_FIXED_BYTES..];
    let payload = match body[16] {
        PAYLOAD_NOOP if data.is_empty() => Payload::Noop,
        PAYLOAD_NOOP => return Err(BadRecord::Malformed("no-op entry with data")),
        PAYLOAD_COMMAND => Payload::Command(Bytes::copy_from_slice(data)),
        PAYLOAD_MEMBERSHIP => Payload::Membership(
            MembershipEntry::decode(data).ok_or(BadRecord::Malformed("bad membership entry"))?,
        ),
        _ => return Err(BadRecord::Malformed("unknown payload kind")),
    };
    Ok(Entry {
        index: u64_at(body, 0),
        term: u64_at(body, 8),
        payload,
    })
}

/// `body` is exactly a hard state's size: `decode_counting` checked the length.
fn decode_hard_state(body: &[u8]) -> Result<HardState, BadRecord> {
    let vote = u64_at(body, 9);
    let vote = match body[8] {
        0 if vote == 0 => None,
        1 => Some(vote),
        _ => return Err(BadRecord::Malformed("bad vote flag")),
    };
    Ok(HardState {
        term: u64_at(body, 0),
        vote,
        commit: u64_at(body, 17),
    })
}

/// Panics if `body` is too short: callers checked the record's size for its type.
fn u64_at(body: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(body[at..at + 8].try_into().expect("the size was checked"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SALT: u64 = 0x0123_4567_89AB_CDEF;

    fn command(index: Index, data: &[u8]) -> Entry {
        Entry {
            index,
            term: 7,
            payload: Payload::Command(Bytes::copy_from_slice(data)),
        }
    }

    fn encode(record: &Record, salt: u64) -> Vec<u8> {
        let mut buf = Vec::new();
        match record {
            Record::Entry(e) => encode_entry(&mut buf, e, salt),
            Record::HardState(h) => encode_hard_state(&mut buf, h, salt),
            Record::TruncateIntent {
                cut_index,
                hard_state,
            } => encode_truncate_intent(&mut buf, *cut_index, hard_state, salt),
            Record::Prefix {
                prev_index,
                prev_term,
            } => encode_prefix(&mut buf, *prev_index, *prev_term, salt),
            Record::BatchEnd { start, durable } => {
                encode_batch_end(&mut buf, *start, *durable, salt)
            }
        }
        buf
    }

    fn every_type() -> Vec<Record> {
        let hs = HardState {
            term: 3,
            vote: Some(2),
            commit: 9,
        };
        vec![
            Record::Entry(command(5, b"hello")),
            Record::Entry(Entry {
                index: 6,
                term: 7,
                payload: Payload::Noop,
            }),
            Record::HardState(hs),
            Record::HardState(HardState::default()),
            Record::TruncateIntent {
                cut_index: 4,
                hard_state: hs,
            },
            Record::Prefix {
                prev_index: 100,
                prev_term: 4,
            },
            Record::BatchEnd {
                start: 500,
                durable: 32,
            },
        ]
    }

    #[test]
    fn every_record_type_round_trips() {
        for record in every_type() {
            let buf = encode(&record, SALT);
            assert_eq!(decode(&buf, SALT, 1 << 20), Ok((record, buf.len())));
        }
        let end = encode(&every_type()[6], SALT);
        assert_eq!(end.len(), BATCH_END_RECORD_BYTES);
        assert!(looks_like_batch_end(&end));
    }

    #[test]
    fn a_record_is_valid_only_under_the_salt_it_was_written_with() {
        for record in every_type() {
            let buf = encode(&record, SALT);
            assert_eq!(
                decode(&buf, SALT ^ 1, 1 << 20),
                Err(BadRecord::ChecksumMismatch),
                "{record:?}"
            );
        }
    }

    #[test]
    fn entry_body_size_matches_the_encoding() {
        let entry = command(1, &[0xAB; 256]);
        let mut buf = Vec::new();
        encode_entry(&mut buf, &entry, SALT);
        assert_eq!(
            buf.len() as u64,
            HEADER_BYTES as u64 + entry_body_bytes(&entry)
        );
    }

    #[test]
    fn any_flipped_bit_is_detected() {
        let mut buf = Vec::new();
        encode_entry(&mut buf, &command(1, b"abc"), SALT);
        for byte in 0..buf.len() {
            for bit in 0..8 {
                let mut damaged = buf.clone();
                damaged[byte] ^= 1 << bit;
                assert!(
                    decode(&damaged, SALT, 1 << 20).is_err(),
                    "flip of bit {bit} of byte {byte}"
                );
            }
        }
    }

    #[test]
    fn a_cut_record_is_incomplete() {
        let mut buf = Vec::new();
        encode_entry(&mut buf, &command(1, b"abcdef"), SALT);
        assert_eq!(
            decode(&buf[..buf.len() - 2], SALT, 1 << 20),
            Err(BadRecord::Incomplete { missing_bytes: 2 })
        );
        assert_eq!(
            decode(&buf[..4], SALT, 1 << 20),
            Err(BadRecord::Incomplete { missing_bytes: 5 })
        );
    }

    #[test]
    fn an_oversized_length_is_rejected_before_reading_the_body() {
        let mut buf = Vec::new();
        encode_entry(&mut buf, &command(1, &[0; 100]), SALT);
        let mut hashed = 0;
        assert_eq!(
            decode_counting(&buf, SALT, 50, &mut hashed),
            Err(BadRecord::TooLarge { len: 117 })
        );
        assert_eq!(hashed, 0);
    }

    #[test]
    fn a_batch_end_claiming_durability_past_its_start_is_malformed() {
        let mut buf = Vec::new();
        frame(&mut buf, TYPE_BATCH_END, SALT, |body| {
            body.extend_from_slice(&100u64.to_le_bytes());
            body.extend_from_slice(&101u64.to_le_bytes());
        });
        assert!(matches!(
            decode(&buf, SALT, 1 << 20),
            Err(BadRecord::Malformed(_))
        ));
    }
}
