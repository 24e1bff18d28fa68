//! Record framing: the unit of a segment file, and the compact binary encoding of its body.
//!
//! `crc: u32 LE | len: u32 LE | type: u8 | durable: u64 LE | body: len bytes`, where `crc` is the
//! CRC-32 of every byte after it (length, type, durable mark, body), so a damaged length is caught
//! like damaged data. The durable mark is how many bytes of the segment were known to be on disk
//! (fsynced) when the record was written; recovery uses it to tell a write torn by a crash from
//! damage to data that was already durable.

use bytes::Bytes;

use crate::raft::{Entry, HardState, Index, Payload};

/// Bytes of framing in front of every body.
pub(crate) const HEADER_BYTES: usize = 17;

const TYPE_ENTRY: u8 = 1;
const TYPE_HARD_STATE: u8 = 2;
const TYPE_TRUNCATE_INTENT: u8 = 3;

const PAYLOAD_NOOP: u8 = 0;
const PAYLOAD_COMMAND: u8 = 1;

const ENTRY_FIXED_BYTES: usize = 8 + 8 + 1;
const HARD_STATE_BYTES: usize = 8 + 1 + 8 + 8;
/// The largest body of a fixed-size record (the truncate intent): a limit on record size below
/// this would make the store unable to read back what it writes.
pub(crate) const FIXED_BODY_BYTES_MAX: u64 = (8 + HARD_STATE_BYTES) as u64;

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
    };
    (ENTRY_FIXED_BYTES + data) as u64
}

/// Appends the on-disk record of `entry` to `buf`: the exact bytes a segment holds for it, given
/// the segment's `durable` length when it is written. Public for benchmarks and log-inspection
/// tools.
pub fn encode_entry(buf: &mut Vec<u8>, entry: &Entry, durable: u64) {
    let (kind, data): (u8, &[u8]) = match &entry.payload {
        Payload::Noop => (PAYLOAD_NOOP, &[]),
        Payload::Command(data) => (PAYLOAD_COMMAND, data),
    };
    buf.reserve(HEADER_BYTES + ENTRY_FIXED_BYTES + data.len());
    frame(buf, TYPE_ENTRY, durable, |body| {
        let mut fixed = [0; ENTRY_FIXED_BYTES];
        fixed[..8].copy_from_slice(&entry.index.to_le_bytes());
        fixed[8..16].copy_from_slice(&entry.term.to_le_bytes());
        fixed[16] = kind;
        body.extend_from_slice(&fixed);
        body.extend_from_slice(data);
    });
}

/// Appends the record of `hard_state` to `buf` (`durable` as for [`encode_entry`]).
pub(crate) fn encode_hard_state(buf: &mut Vec<u8>, hard_state: &HardState, durable: u64) {
    frame(buf, TYPE_HARD_STATE, durable, |body| {
        put_hard_state(body, hard_state)
    });
}

/// Appends a truncate-intent record to `buf` (its own file: the durable mark is 0).
pub(crate) fn encode_truncate_intent(buf: &mut Vec<u8>, cut_index: Index, hard_state: &HardState) {
    frame(buf, TYPE_TRUNCATE_INTENT, 0, |body| {
        body.extend_from_slice(&cut_index.to_le_bytes());
        put_hard_state(body, hard_state);
    });
}

/// Decodes the record at the start of `buf`, returning it and its total size in bytes.
pub(crate) fn decode(buf: &[u8], body_bytes_max: u64) -> Result<(Record, usize), BadRecord> {
    let Some(header) = buf.get(..HEADER_BYTES) else {
        return Err(BadRecord::Incomplete {
            missing_bytes: (HEADER_BYTES - buf.len()) as u64,
        });
    };
    let crc = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let record_type = header[8];
    // Cheap plausibility checks before the checksum: the search for valid records after damage
    // (`segment::find_valid_record_after`) tries every offset of possibly large garbage.
    let body_bytes_min = match record_type {
        TYPE_ENTRY => ENTRY_FIXED_BYTES,
        TYPE_HARD_STATE => HARD_STATE_BYTES,
        TYPE_TRUNCATE_INTENT => 8 + HARD_STATE_BYTES,
        other => return Err(BadRecord::UnknownType(other)),
    };
    if (len as usize) < body_bytes_min {
        return Err(BadRecord::Malformed("record too short for its type"));
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
    let body = &checked[HEADER_BYTES - 4..];
    // The durable mark needs no check of its own: the checksum covers it.
    if crc32fast::hash(checked) != crc {
        return Err(BadRecord::ChecksumMismatch);
    }
    let record = match record_type {
        TYPE_ENTRY => Record::Entry(decode_entry(body)?),
        TYPE_HARD_STATE => Record::HardState(decode_hard_state(body)?),
        TYPE_TRUNCATE_INTENT => {
            let cut_index = u64_at(body, 0).ok_or(BadRecord::Malformed("short truncate intent"))?;
            let hard_state = decode_hard_state(&body[8..])?;
            Record::TruncateIntent {
                cut_index,
                hard_state,
            }
        }
        other => unreachable!("record type {other} passed the type check"),
    };
    Ok((record, total))
}

/// The durable mark of the record at the start of `buf`, which [`decode`] accepted.
pub(crate) fn durable_mark(buf: &[u8]) -> u64 {
    let bytes = buf[9..HEADER_BYTES]
        .try_into()
        .expect("a decoded record has a whole header");
    u64::from_le_bytes(bytes)
}

/// Writes a header placeholder, lets `write_body` append the body, then fills the header in.
fn frame(buf: &mut Vec<u8>, record_type: u8, durable: u64, write_body: impl FnOnce(&mut Vec<u8>)) {
    let start = buf.len();
    buf.extend_from_slice(&[0; HEADER_BYTES]);
    write_body(buf);
    let body_len = buf.len() - start - HEADER_BYTES;
    let len =
        u32::try_from(body_len).expect("record body over 4 GiB: the size limit was not checked");
    buf[start + 4..start + 8].copy_from_slice(&len.to_le_bytes());
    buf[start + 8] = record_type;
    buf[start + 9..start + HEADER_BYTES].copy_from_slice(&durable.to_le_bytes());
    // One pass over contiguous bytes: the crc sits first so that it covers everything after it.
    let crc = crc32fast::hash(&buf[start + 4..]);
    buf[start..start + 4].copy_from_slice(&crc.to_le_bytes());
}

fn put_hard_state(body: &mut Vec<u8>, hard_state: &HardState) {
    body.extend_from_slice(&hard_state.term.to_le_bytes());
    body.push(u8::from(hard_state.vote.is_some()));
    body.extend_from_slice(&hard_state.vote.unwrap_or(0).to_le_bytes());
    body.extend_from_slice(&hard_state.commit.to_le_bytes());
}

fn decode_entry(body: &[u8]) -> Result<Entry, BadRecord> {
    if body.len() < ENTRY_FIXED_BYTES {
        return Err(BadRecord::Malformed("short entry"));
    }
    let index = u64_at(body, 0).ok_or(BadRecord::Malformed("short entry"))?;
    let term = u64_at(body, 8).ok_or(BadRecord::Malformed("short entry"))?;
    let data = &body[ENTRY_FIXED_BYTES..];
    let payload = match body[16] {
        PAYLOAD_NOOP if data.is_empty() => Payload::Noop,
        PAYLOAD_NOOP => return Err(BadRecord::Malformed("no-op entry with data")),
        PAYLOAD_COMMAND => Payload::Command(Bytes::copy_from_slice(data)),
        _ => return Err(BadRecord::Malformed("unknown payload kind")),
    };
    Ok(Entry {
        index,
        term,
        payload,
    })
}

fn decode_hard_state(body: &[u8]) -> Result<HardState, BadRecord> {
    if body.len() != HARD_STATE_BYTES {
        return Err(BadRecord::Malformed("hard state of the wrong size"));
    }
    let term = u64_at(body, 0).ok_or(BadRecord::Malformed("short hard state"))?;
    let vote = u64_at(body, 9).ok_or(BadRecord::Malformed("short hard state"))?;
    let commit = u64_at(body, 17).ok_or(BadRecord::Malformed("short hard state"))?;
    let vote = match body[8] {
        0 if vote == 0 => None,
        1 => Some(vote),
        _ => return Err(BadRecord::Malformed("bad vote flag")),
    };
    Ok(HardState { term, vote, commit })
}

fn u64_at(body: &[u8], at: usize) -> Option<u64> {
    let bytes = body.get(at..at + 8)?;
    Some(u64::from_le_bytes(bytes.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(index: Index, data: &[u8]) -> Entry {
        Entry {
            index,
            term: 7,
            payload: Payload::Command(Bytes::copy_from_slice(data)),
        }
    }

    #[test]
    fn every_record_type_round_trips() {
        let hs = HardState {
            term: 3,
            vote: Some(2),
            commit: 9,
        };
        let records = [
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
        ];
        for record in records {
            let mut buf = Vec::new();
            match &record {
                Record::Entry(e) => encode_entry(&mut buf, e, 77),
                Record::HardState(h) => encode_hard_state(&mut buf, h, 77),
                Record::TruncateIntent {
                    cut_index,
                    hard_state,
                } => encode_truncate_intent(&mut buf, *cut_index, hard_state),
            }
            let expected_mark = if matches!(record, Record::TruncateIntent { .. }) {
                0
            } else {
                77
            };
            assert_eq!(decode(&buf, 1 << 20), Ok((record, buf.len())));
            assert_eq!(durable_mark(&buf), expected_mark);
        }
    }

    #[test]
    fn entry_body_size_matches_the_encoding() {
        let entry = command(1, &[0xAB; 256]);
        let mut buf = Vec::new();
        encode_entry(&mut buf, &entry, 0);
        assert_eq!(
            buf.len() as u64,
            HEADER_BYTES as u64 + entry_body_bytes(&entry)
        );
    }

    #[test]
    fn any_flipped_bit_is_detected() {
        let mut buf = Vec::new();
        encode_entry(&mut buf, &command(1, b"abc"), 5);
        for byte in 0..buf.len() {
            for bit in 0..8 {
                let mut damaged = buf.clone();
                damaged[byte] ^= 1 << bit;
                assert!(
                    decode(&damaged, 1 << 20).is_err(),
                    "flip of bit {bit} of byte {byte}"
                );
            }
        }
    }

    #[test]
    fn a_cut_record_is_incomplete() {
        let mut buf = Vec::new();
        encode_entry(&mut buf, &command(1, b"abcdef"), 0);
        assert_eq!(
            decode(&buf[..buf.len() - 2], 1 << 20),
            Err(BadRecord::Incomplete { missing_bytes: 2 })
        );
        assert_eq!(
            decode(&buf[..4], 1 << 20),
            Err(BadRecord::Incomplete { missing_bytes: 13 })
        );
    }

    #[test]
    fn an_oversized_length_is_rejected_before_reading_the_body() {
        let mut buf = Vec::new();
        encode_entry(&mut buf, &command(1, &[0; 100]), 0);
        assert_eq!(decode(&buf, 50), Err(BadRecord::TooLarge { len: 117 }));
    }
}
