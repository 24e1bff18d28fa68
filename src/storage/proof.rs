//! Damage in the last segment: is there proof that the damaged bytes had been fsynced?
//!
//! The only proof is a *complete batch* wholly after the damage — every record from the batch's
//! `start` up to its batch-end record valid and back to back — whose durable mark lies beyond the
//! damage: that write was made after the damaged bytes were known to be on disk. A lone valid
//! record is no proof: after a power cut, any page of the unsynced writes may have reached the
//! disk without the pages before it.
//!
//! The search costs time linear in the bytes after the damage, whatever they hold: each offset is
//! first judged without a checksum ([`record::looks_like_batch_end`]), a candidate batch end costs
//! one fixed-size checksum, and the walks that check candidate batches never overlap (a walk may
//! only start at or after the batch end of the previous walk). The batches a store writes do not
//! overlap, so this never skips a real one; bytes crafted to make candidates overlap lose only
//! their own proofs.

use super::record::{self, Record, BATCH_END_RECORD_BYTES};

/// A complete batch after the damage that was written once the damage was durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Proof {
    /// Offset of the batch's first record.
    pub start: u64,
    /// Bytes of the segment that were durable when the batch was written.
    pub durable: u64,
}

/// What the search found, and what it cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Search {
    pub proof: Option<Proof>,
    /// Valid batch-end records seen after the damage (before the proof, if one was found).
    pub batch_ends: usize,
    /// Bytes fed to the checksum (salts included): the measure of the search's work.
    pub bytes_hashed: u64,
}

/// Looks for a [`Proof`] that the bytes at `damaged_at` of `bytes` (a whole segment whose header
/// holds `salt`) were durable.
pub(crate) fn search_after_damage(
    bytes: &[u8],
    damaged_at: u64,
    salt: u64,
    body_bytes_max: u64,
) -> Search {
    let mut search = Search::default();
    let Ok(damaged_at) = usize::try_from(damaged_at) else {
        return search;
    };
    // Walks start at or after this offset.
    let mut frontier = damaged_at + 1;
    let last_candidate = bytes.len().saturating_sub(BATCH_END_RECORD_BYTES);
    for at in damaged_at + 1..=last_candidate {
        if !record::looks_like_batch_end(&bytes[at..]) {
            continue;
        }
        let decoded =
            record::decode_counting(&bytes[at..], salt, body_bytes_max, &mut search.bytes_hashed);
        let Ok((Record::BatchEnd { start, durable }, _)) = decoded else {
            continue;
        };
        search.batch_ends += 1;
        let Ok(start) = usize::try_from(start) else {
            continue;
        };
        if durable <= damaged_at as u64 || start < frontier || start > at {
            continue;
        }
        frontier = at;
        if walk(
            bytes,
            start,
            at,
            salt,
            body_bytes_max,
            &mut search.bytes_hashed,
        ) {
            search.proof = Some(Proof {
                start: start as u64,
                durable,
            });
            return search;
        }
    }
    search
}

/// Whether the records from `start` lead, back to back and without another batch end, exactly to
/// the batch end at `end_at`. Hashes nothing at or beyond `end_at`.
fn walk(
    bytes: &[u8],
    start: usize,
    end_at: usize,
    salt: u64,
    body_bytes_max: u64,
    bytes_hashed: &mut u64,
) -> bool {
    let mut at = start;
    while at < end_at {
        // Sliced at `end_at`: a record claiming to reach past it is incomplete before it is hashed.
        match record::decode_counting(&bytes[at..end_at], salt, body_bytes_max, bytes_hashed) {
            Ok((Record::BatchEnd { .. }, _)) | Err(_) => return false,
            Ok((_, size)) => at += size,
        }
    }
    // Each record was decoded from bytes that end at `end_at`.
    debug_assert_eq!(at, end_at);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::{Entry, HardState, Payload};
    use crate::storage::header::FILE_HEADER_BYTES;
    use bytes::Bytes;

    const SALT: u64 = 77;
    const LIMIT: u64 = 16 << 20;

    /// A segment's bytes (a blank header; the search does not read it) and an appender of
    /// batches to it.
    struct Segment {
        bytes: Vec<u8>,
        durable: u64,
    }

    impl Segment {
        fn new() -> Segment {
            Segment {
                bytes: vec![0; FILE_HEADER_BYTES],
                durable: FILE_HEADER_BYTES as u64,
            }
        }

        /// Appends a batch of `entries` entries; returns its start.
        fn batch(&mut self, entries: u64) -> usize {
            let start = self.bytes.len();
            for index in 1..=entries {
                let entry = Entry {
                    index,
                    term: 1,
                    payload: Payload::Command(Bytes::from(vec![index as u8; 100])),
                };
                record::encode_entry(&mut self.bytes, &entry, SALT);
            }
            record::encode_hard_state(&mut self.bytes, &HardState::default(), SALT);
            record::encode_batch_end(&mut self.bytes, start as u64, self.durable, SALT);
            start
        }

        fn sync(&mut self) {
            self.durable = self.bytes.len() as u64;
        }
    }

    #[test]
    fn a_complete_batch_written_after_the_damage_was_synced_is_proof() {
        let mut segment = Segment::new();
        let damaged = segment.batch(3);
        segment.sync();
        let later = segment.batch(2);
        segment.bytes[damaged + 20] ^= 1;
        let search = search_after_damage(&segment.bytes, damaged as u64, SALT, LIMIT);
        assert_eq!(
            search.proof,
            Some(Proof {
                start: later as u64,
                durable: later as u64
            })
        );
    }

    #[test]
    fn batches_of_the_same_unsynced_writes_are_no_proof() {
        let mut segment = Segment::new();
        segment.sync();
        let damaged = segment.batch(3);
        segment.batch(2);
        segment.batch(1);
        segment.bytes[damaged + 20] ^= 1;
        let search = search_after_damage(&segment.bytes, damaged as u64, SALT, LIMIT);
        assert_eq!((search.proof, search.batch_ends), (None, 3));
    }

    #[test]
    fn an_incomplete_later_batch_is_no_proof() {
        let mut segment = Segment::new();
        let damaged = segment.batch(3);
        segment.sync();
        let later = segment.batch(2);
        segment.bytes[damaged + 20] ^= 1;
        // A page of the later batch never reached the disk: its first record reads as zeros.
        segment.bytes[later..later + 50].fill(0);
        let search = search_after_damage(&segment.bytes, damaged as u64, SALT, LIMIT);
        assert_eq!(search.proof, None);
    }

    #[test]
    fn records_of_another_segment_are_no_proof() {
        let mut segment = Segment::new();
        let damaged = segment.batch(3);
        segment.sync();
        segment.batch(2);
        segment.bytes[damaged + 20] ^= 1;
        let search = search_after_damage(&segment.bytes, damaged as u64, SALT + 1, LIMIT);
        assert_eq!((search.proof, search.batch_ends), (None, 0));
    }

    /// Bytes crafted against the search, in blocks of 64: a record header claiming the 30 bytes up
    /// to a forged batch end (so that each forged batch is walked and hashed), whose body is more
    /// headers claiming 1 MiB bodies, then the batch end, forged with the salt, its start at the
    /// block's start and its durable mark past the damage. The old search tried every offset and
    /// hashed up to the claimed length at each (10.5 s for 4 MiB); the work must now be linear.
    #[test]
    fn a_crafted_4_mib_tail_costs_linear_work() {
        let tail_bytes = 4 << 20;
        let mut bytes = vec![0; FILE_HEADER_BYTES];
        let damaged_at = bytes.len();
        bytes.push(0xFF); // the damage
        let claim = |bytes: &mut Vec<u8>, len: u32| {
            bytes.extend_from_slice(&[0xEE; 4]);
            bytes.extend_from_slice(&len.to_le_bytes());
            bytes.push(1); // an entry
        };
        while bytes.len() < damaged_at + tail_bytes {
            let block = bytes.len() as u64;
            claim(&mut bytes, 30);
            claim(&mut bytes, 1 << 20);
            claim(&mut bytes, 1 << 20);
            bytes.extend_from_slice(&[0xEE; 12]);
            record::encode_batch_end(&mut bytes, block, block, SALT);
        }
        let search = search_after_damage(&bytes, damaged_at as u64, SALT, LIMIT);
        assert_eq!(search.proof, None);
        let tail = (bytes.len() - damaged_at) as u64;
        assert_eq!(search.batch_ends as u64, tail / 64);
        assert!(
            search.bytes_hashed <= 2 * tail,
            "hashed {} bytes for a tail of {tail}",
            search.bytes_hashed
        );
    }
}
