//! `FileStore` alone: recovery from torn tails, refusal of corrupt middles, the on-disk format
//! (headers, salts, batch ends, old formats refused), directory handling and locking, interrupted
//! truncations and compactions, and a model check of random write/truncate/compact/reopen
//! sequences.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use proptest::prelude::*;
use raftkv::raft::{Entry, HardState, Index, Payload, Term};
use raftkv::storage::{FileStore, FileStoreOptions, Loaded, LogStore, StorageError};

/// With 100-byte payloads every entry record is 9 (header) + 17 (index, term, kind) + 100 bytes.
const PAYLOAD_BYTES: usize = 100;
const ENTRY_RECORD_BYTES: u64 = 126;
const HARD_STATE_RECORD_BYTES: u64 = 34;
/// Every file starts with a header; every write to a segment ends with a batch-end record.
const FILE_HEADER_BYTES: u64 = 32;
const BATCH_END_BYTES: u64 = 25;

/// A batch of one entry.
const ONE_ENTRY_BATCH_BYTES: u64 = ENTRY_RECORD_BYTES + BATCH_END_BYTES;

/// Where the `k`-th entry (from 0) of a segment written as one batch starts.
fn entry_at(k: u64) -> u64 {
    FILE_HEADER_BYTES + k * ENTRY_RECORD_BYTES
}

/// The length of a segment holding one batch of `count` entries.
fn one_batch(count: u64) -> u64 {
    entry_at(count) + BATCH_END_BYTES
}

fn entry(index: Index, term: Term) -> Entry {
    Entry {
        index,
        term,
        payload: Payload::Command(Bytes::from(vec![index as u8; PAYLOAD_BYTES])),
    }
}

fn entries(from: Index, to: Index, term: Term) -> Vec<Entry> {
    (from..=to).map(|i| entry(i, term)).collect()
}

/// Most tests here read and damage segment files byte by byte, so their files hold the log and
/// nothing else: no zeros written ahead (that has tests of its own, and the proptests use it).
fn exact() -> FileStoreOptions {
    FileStoreOptions {
        preallocate_bytes: 0,
        ..FileStoreOptions::default()
    }
}

fn open(dir: &Path) -> Result<FileStore, StorageError> {
    FileStore::open(dir, exact())
}

/// A log of entries 1..=`count` (term 1) in one segment, synced and closed. Returns the segment.
fn write_log(dir: &Path, count: Index) -> PathBuf {
    let mut store = open(dir).unwrap();
    store.write(None, &entries(1, count, 1)).unwrap();
    store.sync().unwrap();
    segments(dir).pop().unwrap()
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    paths.sort();
    paths
}

fn flip_byte(path: &Path, offset: u64) {
    let mut bytes = fs::read(path).unwrap();
    bytes[offset as usize] ^= 0x5A;
    fs::write(path, bytes).unwrap();
}

// The documented format (`src/storage/mod.rs`), written out by hand.

/// A file header: magic, version 2, first index, salt, CRC-32 of the 28 bytes before it.
fn file_header(first_index: Index, salt: u64) -> Vec<u8> {
    let mut bytes = b"RKVLOG\r\n".to_vec();
    bytes.extend_from_slice(&2u32.to_le_bytes());
    bytes.extend_from_slice(&first_index.to_le_bytes());
    bytes.extend_from_slice(&salt.to_le_bytes());
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    bytes
}

/// The salt in a file's header.
fn header_salt(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes[20..28].try_into().unwrap())
}

/// A record: crc (of the salt, length, type and body) | length | type | body.
fn record(salt: u64, record_type: u8, body: &[u8]) -> Vec<u8> {
    let mut checked = (body.len() as u32).to_le_bytes().to_vec();
    checked.push(record_type);
    checked.extend_from_slice(body);
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&salt.to_le_bytes());
    hasher.update(&checked);
    let mut bytes = hasher.finalize().to_le_bytes().to_vec();
    bytes.extend_from_slice(&checked);
    bytes
}

fn hard_state_body(hs: &HardState) -> Vec<u8> {
    let mut body = hs.term.to_le_bytes().to_vec();
    body.push(u8::from(hs.vote.is_some()));
    body.extend_from_slice(&hs.vote.unwrap_or(0).to_le_bytes());
    body.extend_from_slice(&hs.commit.to_le_bytes());
    body
}

/// Appends a batch-end record: the offset of the batch's first record, and the durable mark.
fn batch_end(bytes: &mut Vec<u8>, start: u64, durable: u64, salt: u64) {
    let mut body = start.to_le_bytes().to_vec();
    body.extend_from_slice(&durable.to_le_bytes());
    bytes.extend_from_slice(&record(salt, 4, &body));
}

#[test]
fn segments_are_written_in_the_documented_format() {
    let dir = tempfile::tempdir().unwrap();
    let hs = HardState {
        term: 2,
        vote: Some(3),
        commit: 1,
    };
    let mut store = open(dir.path()).unwrap();
    store.write(Some(&hs), &entries(1, 2, 2)).unwrap();
    store.sync().unwrap();
    store.write(None, &entries(3, 3, 2)).unwrap();
    drop(store);
    let written = fs::read(dir.path().join("wal-00000000000000000001.log")).unwrap();
    let salt = header_salt(&written);
    let mut expected = file_header(1, salt);
    expected.extend_from_slice(&record(salt, 2, &hard_state_body(&hs)));
    for index in 1..=2u64 {
        let mut body = index.to_le_bytes().to_vec();
        body.extend_from_slice(&2u64.to_le_bytes());
        body.push(1); // a command
        body.extend_from_slice(&[index as u8; PAYLOAD_BYTES]);
        expected.extend_from_slice(&record(salt, 1, &body));
    }
    batch_end(&mut expected, FILE_HEADER_BYTES, FILE_HEADER_BYTES, salt);
    let second = expected.len() as u64;
    let mut encoded = Vec::new();
    raftkv::storage::encode_entry_record(&mut encoded, &entry(3, 2), salt);
    expected.extend_from_slice(&encoded);
    // Written after the first batch was synced: its durable mark covers it.
    batch_end(&mut expected, second, second, salt);
    assert_eq!(written, expected);
}

fn assert_corrupt_at(result: Result<FileStore, StorageError>, file: &Path, at: u64) {
    match result {
        Err(StorageError::Corrupt {
            path,
            offset,
            reason,
        }) => {
            assert_eq!((path.as_path(), offset), (file, at), "{reason}");
            let message = StorageError::Corrupt {
                path,
                offset,
                reason,
            }
            .to_string();
            let name = file.file_name().unwrap().to_str().unwrap();
            assert!(
                message.contains(name) && message.contains(&at.to_string()),
                "{message}"
            );
        }
        Err(other) => panic!("expected a corruption error, got {other}"),
        Ok(_) => panic!("expected a corruption error, the log opened"),
    }
}

#[test]
fn a_last_record_cut_mid_way_is_dropped_and_the_earlier_entries_load() {
    let dir = tempfile::tempdir().unwrap();
    let segment = write_log(dir.path(), 5);
    let file = OpenOptions::new().write(true).open(&segment).unwrap();
    file.set_len(entry_at(4) + 50).unwrap();

    let mut store = open(dir.path()).unwrap();
    assert_eq!(store.load().unwrap().entries, entries(1, 4, 1));
    assert_eq!(fs::metadata(&segment).unwrap().len(), entry_at(4));
    // The log continues cleanly where the torn record was.
    store.write(None, &entries(5, 6, 2)).unwrap();
    drop(store);
    let mut expected = entries(1, 4, 1);
    expected.extend(entries(5, 6, 2));
    assert_eq!(open(dir.path()).unwrap().load().unwrap().entries, expected);
}

#[test]
fn a_cut_inside_the_header_is_a_torn_tail_too() {
    let dir = tempfile::tempdir().unwrap();
    let segment = write_log(dir.path(), 3);
    let file = OpenOptions::new().write(true).open(&segment).unwrap();
    file.set_len(entry_at(2) + 4).unwrap();
    assert_eq!(
        open(dir.path()).unwrap().load().unwrap().entries,
        entries(1, 2, 1)
    );
}

#[test]
fn garbage_after_the_last_record_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let segment = write_log(dir.path(), 5);
    let garbage: Vec<u8> = (0..1000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    OpenOptions::new()
        .append(true)
        .open(&segment)
        .unwrap()
        .write_all(&garbage)
        .unwrap();

    assert_eq!(
        open(dir.path()).unwrap().load().unwrap().entries,
        entries(1, 5, 1)
    );
    assert_eq!(fs::metadata(&segment).unwrap().len(), one_batch(5));
}

/// A store's writes: entries 1..=`synced` (one batch, synced), then `later` batches of entries
/// after them, not synced. One store writes all of it, so it is all in one segment.
fn write_then_more(dir: &Path, synced: Index, later: &[(Index, Index)]) -> PathBuf {
    let mut store = open(dir).unwrap();
    store.write(None, &entries(1, synced, 1)).unwrap();
    store.sync().unwrap();
    for &(from, to) in later {
        store.write(None, &entries(from, to, 1)).unwrap();
    }
    drop(store);
    let mut all = segments(dir);
    assert_eq!(all.len(), 1);
    all.pop().unwrap()
}

#[test]
fn damage_that_a_later_batch_proves_durable_is_an_error_naming_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    // Entry 11's batch was written after entries 1..=10 were synced: its durable mark says so.
    let segment = write_then_more(dir.path(), 10, &[(11, 11)]);
    let damaged_at = entry_at(3);
    flip_byte(&segment, damaged_at + 40);
    assert_corrupt_at(open(dir.path()), &segment, damaged_at);
    // Nothing was "repaired": the file is as the damage left it.
    assert_eq!(
        fs::metadata(&segment).unwrap().len(),
        one_batch(10) + ENTRY_RECORD_BYTES + BATCH_END_BYTES
    );
}

#[test]
fn damage_in_synced_data_is_an_error_even_when_unsynced_writes_follow() {
    let dir = tempfile::tempdir().unwrap();
    let segment = write_then_more(dir.path(), 5, &[(6, 10)]);
    flip_byte(&segment, entry_at(2) + 40);
    assert_corrupt_at(open(dir.path()), &segment, entry_at(2));
}

/// A crash before the fsync may persist a later page of the writes since the last sync but not an
/// earlier one: the hole and everything after it are dropped, the synced entries kept.
#[test]
fn a_hole_in_the_writes_since_the_last_sync_is_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    // Two unsynced writes; the first loses a stretch of its second record, the second is intact
    // (a complete batch, but its durable mark does not reach the hole).
    let segment = write_then_more(dir.path(), 5, &[(6, 8), (9, 10)]);
    let hole_at = one_batch(5) + ENTRY_RECORD_BYTES;
    let mut bytes = fs::read(&segment).unwrap();
    bytes[hole_at as usize + 10..hole_at as usize + 60].fill(0);
    fs::write(&segment, bytes).unwrap();

    let mut store = open(dir.path()).unwrap();
    assert_eq!(store.load().unwrap().entries, entries(1, 6, 1));
    assert_eq!(fs::metadata(&segment).unwrap().len(), hole_at);
    // The log continues cleanly from the hole.
    store.write(None, &entries(7, 7, 2)).unwrap();
    store.sync().unwrap();
    drop(store);
    let mut expected = entries(1, 6, 1);
    expected.push(entry(7, 2));
    assert_eq!(open(dir.path()).unwrap().load().unwrap().entries, expected);
}

/// A later write whose batch end never reached the disk proves nothing, even though its records
/// are intact: damage before it is a torn tail. (Here the damage is in the last synced batch, so
/// the node loses data it may have acknowledged; the recovery rule says why it goes on.)
#[test]
fn records_without_their_batch_end_are_no_proof() {
    let dir = tempfile::tempdir().unwrap();
    let segment = write_then_more(dir.path(), 5, &[(6, 7)]);
    // The last page of the unsynced batch, with its batch end, was lost.
    let file = OpenOptions::new().write(true).open(&segment).unwrap();
    file.set_len(one_batch(5) + 2 * ENTRY_RECORD_BYTES).unwrap();
    flip_byte(&segment, entry_at(4) + 40);
    assert_eq!(
        open(dir.path()).unwrap().load().unwrap().entries,
        entries(1, 4, 1)
    );
    assert_eq!(fs::metadata(&segment).unwrap().len(), entry_at(4));
}

#[test]
fn a_damaged_last_record_of_an_earlier_segment_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let options = FileStoreOptions {
        segment_bytes_max: FILE_HEADER_BYTES + 4 * ONE_ENTRY_BATCH_BYTES,
        ..FileStoreOptions::default()
    };
    let mut store = FileStore::open(dir.path(), options).unwrap();
    for index in 1..=12 {
        store.write(None, &[entry(index, 1)]).unwrap();
    }
    store.sync().unwrap();
    drop(store);
    let first = segments(dir.path()).remove(0);
    assert_eq!(
        fs::metadata(&first).unwrap().len(),
        FILE_HEADER_BYTES + 4 * ONE_ENTRY_BATCH_BYTES
    );
    let last_entry = FILE_HEADER_BYTES + 3 * ONE_ENTRY_BATCH_BYTES;
    flip_byte(&first, last_entry + 20);
    assert_corrupt_at(FileStore::open(dir.path(), options), &first, last_entry);
}

#[test]
fn a_missing_middle_segment_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let options = FileStoreOptions {
        segment_bytes_max: FILE_HEADER_BYTES + 2 * ONE_ENTRY_BATCH_BYTES,
        ..FileStoreOptions::default()
    };
    let mut store = FileStore::open(dir.path(), options).unwrap();
    for index in 1..=6 {
        store.write(None, &[entry(index, 1)]).unwrap();
    }
    drop(store);
    let all = segments(dir.path());
    assert_eq!(all.len(), 3);
    fs::remove_file(&all[1]).unwrap();
    assert_corrupt_at(FileStore::open(dir.path(), options), &all[2], 0);
}

#[test]
fn an_entry_out_of_sequence_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let segment = write_log(dir.path(), 2);
    // Append a well-formed record of index 5 after index 2, under the segment's own salt.
    let mut bytes = fs::read(&segment).unwrap();
    let salt = header_salt(&bytes);
    raftkv::storage::encode_entry_record(&mut bytes, &entry(5, 1), salt);
    fs::write(&segment, &bytes).unwrap();
    assert_corrupt_at(open(dir.path()), &segment, one_batch(2));
}

#[test]
fn a_missing_data_directory_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a").join("b").join("log");
    let mut store = open(&nested).unwrap();
    assert!(nested.is_dir());
    store
        .write(Some(&HardState::default()), &entries(1, 1, 1))
        .unwrap();
    drop(store);
    assert_eq!(
        open(&nested).unwrap().load().unwrap().entries,
        entries(1, 1, 1)
    );
}

#[test]
fn a_data_directory_that_is_a_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("log");
    fs::write(&file, b"not a directory").unwrap();
    let message = open(&file).unwrap_err().to_string();
    assert!(
        message.contains("data directory") && message.contains("not a directory"),
        "{message}"
    );
}

#[test]
fn a_second_open_of_a_directory_in_use_fails_until_the_first_store_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = open(dir.path()).unwrap();
    first.write(None, &entries(1, 3, 1)).unwrap();
    first.sync().unwrap();
    match open(dir.path()) {
        Err(StorageError::Locked {
            dir: locked,
            holder_pid,
        }) => {
            assert_eq!(locked, dir.path());
            assert_eq!(holder_pid, Some(std::process::id()));
            let message = StorageError::Locked {
                dir: locked,
                holder_pid,
            }
            .to_string();
            assert!(
                message.contains(&dir.path().display().to_string())
                    && message.contains(&format!("pid {}", std::process::id())),
                "{message}"
            );
        }
        Err(other) => panic!("expected a lock error, got {other}"),
        Ok(_) => panic!("a second store opened a directory in use"),
    }
    // The refused open touched nothing: the first store keeps writing.
    first.write(None, &entries(4, 4, 1)).unwrap();
    first.sync().unwrap();
    drop(first);
    assert_eq!(
        open(dir.path()).unwrap().load().unwrap().entries,
        entries(1, 4, 1)
    );
}

#[test]
fn a_lock_file_left_by_a_dead_process_does_not_block_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 2);
    // What a SIGKILLed node leaves: its pid in the file, but no lock (the kernel dropped it).
    fs::write(dir.path().join("LOCK"), b"999999\n").unwrap();
    let store = open(dir.path()).unwrap();
    assert_eq!(
        fs::read_to_string(dir.path().join("LOCK")).unwrap(),
        format!("{}\n", std::process::id()),
        "the new holder writes its own pid"
    );
    drop(store);
    assert_eq!(
        fs::read_to_string(dir.path().join("LOCK")).unwrap(),
        "",
        "a clean close leaves no pid behind"
    );
}

/// The documented truncate-intent file: a header, then a type-3 record whose body is the cut
/// index and then the hard-state body.
fn intent_file(cut_index: Index, hs: &HardState) -> Vec<u8> {
    let salt = 0x1234_5678;
    let mut body = cut_index.to_le_bytes().to_vec();
    body.extend_from_slice(&hard_state_body(hs));
    let mut bytes = file_header(0, salt);
    bytes.extend_from_slice(&record(salt, 3, &body));
    bytes
}

#[test]
fn a_truncation_interrupted_after_the_cut_is_finished_with_the_saved_hard_state() {
    let dir = tempfile::tempdir().unwrap();
    let hs = HardState {
        term: 4,
        vote: Some(2),
        commit: 3,
    };
    let mut store = open(dir.path()).unwrap();
    store.write(None, &entries(1, 10, 1)).unwrap();
    store.write(Some(&hs), &[]).unwrap();
    store.sync().unwrap();
    drop(store);
    // The state a crash leaves mid-truncation from index 5: intent durable, log cut, hard state
    // not yet written again.
    let segment = segments(dir.path()).pop().unwrap();
    fs::write(dir.path().join("truncate.intent"), intent_file(5, &hs)).unwrap();
    OpenOptions::new()
        .write(true)
        .open(&segment)
        .unwrap()
        .set_len(entry_at(4))
        .unwrap();

    let mut store = open(dir.path()).unwrap();
    let loaded = store.load().unwrap();
    assert_eq!((loaded.hard_state, loaded.entries), (hs, entries(1, 4, 1)));
    assert!(!dir.path().join("truncate.intent").exists());
    drop(store);
    assert_eq!(open(dir.path()).unwrap().load().unwrap().hard_state, hs);
}

#[test]
fn a_truncation_interrupted_before_the_cut_is_redone() {
    let dir = tempfile::tempdir().unwrap();
    let hs = HardState {
        term: 4,
        vote: None,
        commit: 0,
    };
    let mut store = open(dir.path()).unwrap();
    store.write(None, &entries(1, 10, 1)).unwrap();
    store.write(Some(&hs), &[]).unwrap();
    drop(store);
    fs::write(dir.path().join("truncate.intent"), intent_file(7, &hs)).unwrap();
    let loaded = open(dir.path()).unwrap().load().unwrap();
    assert_eq!((loaded.hard_state, loaded.entries), (hs, entries(1, 6, 1)));
}

#[test]
fn a_torn_truncate_intent_is_discarded_and_the_log_kept() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 10);
    let hs = HardState::default();
    let intent = intent_file(5, &hs);
    fs::write(
        dir.path().join("truncate.intent"),
        &intent[..intent.len() - 3],
    )
    .unwrap();
    assert_eq!(
        open(dir.path()).unwrap().load().unwrap().entries,
        entries(1, 10, 1)
    );
    assert!(!dir.path().join("truncate.intent").exists());
}

#[test]
fn a_hard_state_written_last_is_its_own_record() {
    let dir = tempfile::tempdir().unwrap();
    let segment = write_log(dir.path(), 2);
    let mut store = open(dir.path()).unwrap();
    store.write(Some(&HardState::default()), &[]).unwrap();
    drop(store);
    // A restarted store does not extend a segment with entries: the write starts segment 3.
    let all = segments(dir.path());
    assert_eq!(all.len(), 2);
    assert_eq!(
        (&all[0], fs::metadata(&all[0]).unwrap().len()),
        (&segment, one_batch(2))
    );
    assert_eq!(
        fs::metadata(&all[1]).unwrap().len(),
        FILE_HEADER_BYTES + HARD_STATE_RECORD_BYTES + BATCH_END_BYTES
    );
}

#[test]
fn an_oversized_entry_is_refused_and_the_store_stays_usable() {
    let dir = tempfile::tempdir().unwrap();
    let options = FileStoreOptions {
        record_bytes_max: 64,
        ..FileStoreOptions::default()
    };
    let mut store = FileStore::open(dir.path(), options).unwrap();
    let err = store.write(None, &entries(1, 1, 1)).unwrap_err();
    assert!(
        matches!(
            err,
            StorageError::RecordTooLarge {
                size_bytes: 117,
                limit_bytes: 64
            }
        ),
        "{err}"
    );
    let small = Entry {
        index: 1,
        term: 1,
        payload: Payload::Noop,
    };
    store.write(None, std::slice::from_ref(&small)).unwrap();
    assert_eq!(store.load().unwrap().entries, vec![small]);
}

/// One step of the model check.
#[derive(Clone, Debug)]
enum Op {
    /// Write a batch starting `back` entries before the end (clipped), `count` entries whose term
    /// is the previous entry's plus `bump`.
    Write {
        hard_state: Option<HardState>,
        back: u64,
        count: u64,
        bump: u64,
        payload_bytes: usize,
    },
    Sync,
    Reopen,
    /// Compact to `ahead` entries past the prefix (0: a no-op; past the end: a snapshot beyond
    /// the log), with the term of the log's entry there if `matching`, another one otherwise.
    Compact {
        ahead: u64,
        matching: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let hard_state = (0..5u64, proptest::option::of(1..4u64), 0..20u64)
        .prop_map(|(term, vote, commit)| HardState { term, vote, commit });
    prop_oneof![
        6 => (proptest::option::of(hard_state), 0..6u64, 0..6u64, 0..2u64, 0..200usize).prop_map(
            |(hard_state, back, count, bump, payload_bytes)| Op::Write {
                hard_state,
                back,
                count,
                bump,
                payload_bytes,
            }
        ),
        1 => Just(Op::Sync),
        1 => Just(Op::Reopen),
        1 => (0..12u64, proptest::bool::weighted(0.7))
            .prop_map(|(ahead, matching)| Op::Compact { ahead, matching }),
    ]
}

/// What the store must hold: the prefix, the entries after it, the hard state.
#[derive(Debug, Default)]
struct Model {
    prev_index: Index,
    prev_term: Term,
    entries: Vec<Entry>,
    hard_state: HardState,
}

impl Model {
    fn last_index(&self) -> Index {
        self.prev_index + self.entries.len() as Index
    }

    /// The term of the entry at `index`, the prefix's included.
    fn term_at(&self, index: Index) -> Option<Term> {
        if index == self.prev_index {
            return Some(self.prev_term);
        }
        let offset = index.checked_sub(self.prev_index + 1)?;
        self.entries.get(offset as usize).map(|e| e.term)
    }

    fn write(&mut self, hard_state: Option<HardState>, batch: &[Entry]) {
        if let Some(hs) = hard_state {
            self.hard_state = hs;
        }
        if let Some(first) = batch.first() {
            self.entries
                .truncate((first.index - self.prev_index - 1) as usize);
            self.entries.extend_from_slice(batch);
        }
    }

    fn compact(&mut self, index: Index, term: Term) {
        if index <= self.prev_index {
            return;
        }
        if index <= self.last_index() && self.term_at(index) == Some(term) {
            self.entries.drain(..(index - self.prev_index) as usize);
        } else {
            self.entries.clear();
        }
        (self.prev_index, self.prev_term) = (index, term);
    }

    fn check(&self, loaded: &Loaded, step: usize) -> Result<(), TestCaseError> {
        prop_assert_eq!(
            (loaded.prev_index, loaded.prev_term),
            (self.prev_index, self.prev_term),
            "prefix after step {}",
            step
        );
        prop_assert_eq!(&loaded.entries, &self.entries, "after step {}", step);
        prop_assert_eq!(loaded.hard_state, self.hard_state, "after step {}", step);
        Ok(())
    }
}

proptest! {
    // Each case fsyncs dozens of times (opens, truncations): the disk bounds the run, not the CPU.
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn random_writes_truncations_compactions_and_reopens_match_a_model(
        ops in proptest::collection::vec(op(), 1..60),
        segment_bytes_max in 200..2000u64,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let options = FileStoreOptions { segment_bytes_max, ..FileStoreOptions::default() };
        let mut store = FileStore::open(dir.path(), options).unwrap();
        let mut model = Model::default();
        for (step, op) in ops.into_iter().enumerate() {
            match op {
                Op::Write { hard_state, back, count, bump, payload_bytes } => {
                    let last = model.last_index();
                    let from = last + 1 - back.min(model.entries.len() as u64);
                    let term = model.term_at(from - 1).map_or(1, |t| t.max(1)) + bump;
                    let batch: Vec<Entry> = (from..from + count)
                        .map(|index| Entry {
                            index,
                            term,
                            payload: Payload::Command(Bytes::from(vec![step as u8; payload_bytes])),
                        })
                        .collect();
                    store.write(hard_state.as_ref(), &batch).unwrap();
                    model.write(hard_state, &batch);
                }
                Op::Sync => store.sync().unwrap(),
                Op::Reopen => {
                    drop(store);
                    store = FileStore::open(dir.path(), options).unwrap();
                }
                Op::Compact { ahead, matching } => {
                    let index = model.prev_index + ahead;
                    let top = model.entries.last().map_or(model.prev_term, |e| e.term);
                    let term = match model.term_at(index) {
                        Some(term) if matching => term,
                        Some(term) => term + 1,
                        None => top + 1,
                    };
                    store.compact(index, term).unwrap();
                    model.compact(index, term);
                }
            }
            model.check(&store.load().unwrap(), step)?;
        }
        drop(store);
        let loaded = FileStore::open(dir.path(), options).unwrap().load().unwrap();
        model.check(&loaded, usize::MAX)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A crash before an fsync may persist any subset of the pages written since the last fsync
    /// (the rest reading as zeros or stale bytes), and a shorter file. Recovery must open the log,
    /// keep every synced entry and return a prefix of what was written.
    #[test]
    fn a_crash_losing_any_part_of_the_unsynced_writes_keeps_every_synced_entry(
        batches in proptest::collection::vec((1..6u64, 0..300usize, any::<bool>()), 1..12),
        holes in proptest::collection::vec((0.0..1.0f64, 1..600usize, any::<bool>()), 0..4),
        cut in proptest::option::of(0.0..1.0f64),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let options = FileStoreOptions::default(); // zeros written ahead of the log, too
        let mut store = FileStore::open(dir.path(), options).unwrap();
        let mut written: Vec<Entry> = Vec::new();
        // The header is synced when the segment is created.
        let header = FILE_HEADER_BYTES as usize;
        let (mut written_bytes, mut synced_entries, mut synced_bytes) = (header, 0, header);
        for (step, (count, payload_bytes, sync)) in batches.into_iter().enumerate() {
            let from = written.len() as Index + 1;
            let batch: Vec<Entry> = (from..from + count)
                .map(|index| Entry {
                    index,
                    term: 1,
                    payload: Payload::Command(Bytes::from(vec![step as u8; payload_bytes])),
                })
                .collect();
            store.write(None, &batch).unwrap();
            written.extend(batch);
            // 9 bytes of header and 17 of index, term and kind per entry record, and a batch end.
            written_bytes += count as usize * (26 + payload_bytes) + BATCH_END_BYTES as usize;
            if sync {
                store.sync().unwrap();
                synced_entries = written.len();
                synced_bytes = written_bytes;
            }
        }
        drop(store);

        let segment = segments(dir.path()).pop().unwrap();
        let mut bytes = fs::read(&segment).unwrap();
        prop_assert!(bytes.len() > written_bytes, "zeros were written ahead of the log");
        prop_assert!(bytes[written_bytes..].iter().all(|&b| b == 0));
        let synced = synced_bytes;
        let unsynced = bytes.len() - synced;
        for (at, len, zeros) in holes {
            let start = synced + (at * unsynced as f64) as usize;
            let end = (start + len).min(bytes.len());
            for (i, byte) in bytes[start..end].iter_mut().enumerate() {
                *byte = if zeros { 0 } else { (i as u8).wrapping_mul(151) ^ 0x3C };
            }
        }
        if let Some(at) = cut {
            bytes.truncate(synced + (at * unsynced as f64) as usize);
        }
        fs::write(&segment, &bytes).unwrap();

        let loaded = FileStore::open(dir.path(), options)
            .expect("a crash never makes the log unreadable")
            .load()
            .unwrap();
        prop_assert!(loaded.entries.len() >= synced_entries, "lost a synced entry");
        prop_assert_eq!(&loaded.entries[..], &written[..loaded.entries.len()]);
    }
}

#[test]
fn appends_overwrite_zeros_written_ahead_and_a_restart_finds_the_end_of_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let options = FileStoreOptions {
        preallocate_bytes: 1000,
        ..FileStoreOptions::default()
    };
    let mut store = FileStore::open(dir.path(), options).unwrap();
    store.write(None, &entries(1, 3, 1)).unwrap();
    store.sync().unwrap();
    let segment = segments(dir.path()).pop().unwrap();
    let logical = one_batch(3) as usize;
    let bytes = fs::read(&segment).unwrap();
    assert_eq!(bytes.len(), logical + 1000);
    assert!(bytes[logical..].iter().all(|&b| b == 0));
    // Eight more entries do not fit in the zeros left (8 x 126 + 25 > 1000): the file grows
    // again, and the next records go where the log ends, not after the zeros.
    store.write(None, &entries(4, 11, 1)).unwrap();
    store.sync().unwrap();
    drop(store);
    let grown = fs::read(&segment).unwrap();
    let logical_grown = logical + 8 * ENTRY_RECORD_BYTES as usize + BATCH_END_BYTES as usize;
    assert_eq!(grown.len(), logical_grown + 1000);
    assert_eq!(grown[..logical], bytes[..logical]);

    // The zeros are not a torn tail: the file is not cut.
    let mut store = FileStore::open(dir.path(), options).unwrap();
    assert_eq!(store.load().unwrap().entries, entries(1, 11, 1));
    assert_eq!(fs::read(&segment).unwrap(), grown);
    // A restarted store starts a new segment; the old one loses its zeros (it is not the last).
    store.write(None, &entries(12, 12, 1)).unwrap();
    drop(store);
    assert_eq!(fs::read(&segment).unwrap(), grown[..logical_grown]);
    assert_eq!(
        FileStore::open(dir.path(), options)
            .unwrap()
            .load()
            .unwrap()
            .entries,
        entries(1, 12, 1)
    );
}

// ---------------------------------------------------------------------------------------------
// Records bound to their file, and files of other formats.

#[test]
fn a_record_copied_from_another_segment_is_not_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let segment = write_log(dir.path(), 2);
    let other = tempfile::tempdir().unwrap();
    let other_bytes = fs::read(write_log(other.path(), 3)).unwrap();
    // Entry 3's record, well formed, the index the log expects next, at the offset it would
    // have: only the salt tells it from a record of this segment.
    let third = &other_bytes[entry_at(2) as usize..entry_at(3) as usize];
    let mut bytes = fs::read(&segment).unwrap();
    bytes.extend_from_slice(third);
    fs::write(&segment, &bytes).unwrap();
    assert_eq!(
        open(dir.path()).unwrap().load().unwrap().entries,
        entries(1, 2, 1)
    );
    assert_eq!(fs::metadata(&segment).unwrap().len(), one_batch(2));
}

/// A truncation deletes a segment and creates one of the same name: the old file's blocks, if a
/// filesystem hands them back after a crash, must not pass for records of the new one.
#[test]
fn a_record_of_an_earlier_file_of_the_same_name_is_not_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path()).unwrap();
    store.write(None, &entries(1, 3, 2)).unwrap();
    store.sync().unwrap();
    drop(store);
    let segment = segments(dir.path()).pop().unwrap();
    let old = fs::read(&segment).unwrap();
    let mut store = open(dir.path()).unwrap();
    store.write(None, &entries(1, 1, 2)).unwrap();
    store.sync().unwrap();
    drop(store);
    assert_eq!(segments(dir.path()), vec![segment.clone()]);
    let mut bytes = fs::read(&segment).unwrap();
    assert_ne!(header_salt(&bytes), header_salt(&old));
    assert_eq!(bytes.len() as u64, one_batch(1));
    bytes.extend_from_slice(&old[entry_at(1) as usize..entry_at(2) as usize]);
    fs::write(&segment, &bytes).unwrap();
    assert_eq!(
        open(dir.path()).unwrap().load().unwrap().entries,
        entries(1, 1, 2)
    );
}

/// A segment as raftkv wrote them before format 2: records from byte 0, each with a durable
/// mark in its header and a checksum without salt.
fn format_1_segment() -> Vec<u8> {
    let mut bytes = Vec::new();
    for index in 1..=3u64 {
        let mut body = index.to_le_bytes().to_vec();
        body.extend_from_slice(&1u64.to_le_bytes());
        body.push(0); // a no-op
        let mut checked = (body.len() as u32).to_le_bytes().to_vec();
        checked.push(1);
        checked.extend_from_slice(&0u64.to_le_bytes());
        checked.extend_from_slice(&body);
        bytes.extend_from_slice(&crc32fast::hash(&checked).to_le_bytes());
        bytes.extend_from_slice(&checked);
    }
    bytes
}

#[test]
fn a_data_directory_of_the_old_format_is_refused_and_left_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let segment = dir.path().join("wal-00000000000000000001.log");
    let old = format_1_segment();
    fs::write(&segment, &old).unwrap();
    match open(dir.path()) {
        Err(StorageError::UnsupportedFormat { path, reason }) => {
            assert_eq!(path, segment);
            let message = StorageError::UnsupportedFormat { path, reason }.to_string();
            assert!(
                message.contains("wal-00000000000000000001.log")
                    && message.contains("unsupported log format")
                    && message.contains("older raftkv"),
                "{message}"
            );
        }
        Err(other) => panic!("expected an unsupported format, got {other}"),
        Ok(_) => panic!("a format-1 log was opened"),
    }
    assert_eq!(fs::read(&segment).unwrap(), old);
}

#[test]
fn another_format_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let segment = write_log(dir.path(), 2);
    let mut bytes = fs::read(&segment).unwrap();
    bytes[8..12].copy_from_slice(&3u32.to_le_bytes());
    let crc = crc32fast::hash(&bytes[..28]);
    bytes[28..32].copy_from_slice(&crc.to_le_bytes());
    fs::write(&segment, &bytes).unwrap();
    let message = open(dir.path()).expect_err("refused").to_string();
    assert!(
        message.contains("format version 3") && message.contains("version 2"),
        "{message}"
    );
}

#[test]
fn a_segment_whose_creation_a_crash_interrupted_is_removed() {
    for torn in [&b""[..], &[0; 32][..], &[0; 4096][..], &b"RKVL"[..]] {
        let dir = tempfile::tempdir().unwrap();
        write_log(dir.path(), 2);
        let next = dir.path().join("wal-00000000000000000003.log");
        fs::write(&next, torn).unwrap();
        let mut store = open(dir.path()).unwrap();
        assert_eq!(store.load().unwrap().entries, entries(1, 2, 1));
        assert!(!next.exists(), "{} bytes left in place", torn.len());
        store.write(None, &entries(3, 3, 1)).unwrap();
        drop(store);
        assert_eq!(
            open(dir.path()).unwrap().load().unwrap().entries,
            entries(1, 3, 1)
        );
    }
}

#[test]
fn a_damaged_header_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let segment = write_log(dir.path(), 2);
    flip_byte(&segment, 15);
    assert_corrupt_at(open(dir.path()), &segment, 0);
}

/// Bytes crafted against recovery's search for proof after damage: record headers that claim
/// 1 MiB bodies at every few bytes. Recovery must treat them as a torn tail without hashing a
/// claimed body per offset (`storage::proof` bounds and measures the work).
#[test]
fn a_crafted_4_mib_tail_is_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let segment = write_log(dir.path(), 3);
    let mut bytes = fs::read(&segment).unwrap();
    while bytes.len() < 4 << 20 {
        bytes.extend_from_slice(&[0xEE; 4]);
        bytes.extend_from_slice(&(1u32 << 20).to_le_bytes());
        bytes.push(1);
    }
    fs::write(&segment, &bytes).unwrap();
    assert_eq!(
        open(dir.path()).unwrap().load().unwrap().entries,
        entries(1, 3, 1)
    );
    assert_eq!(fs::metadata(&segment).unwrap().len(), one_batch(3));
}

/// A segment that a truncation shortened is never extended again (its freed blocks could come
/// back inside it after a crash, under its own salt): the new entries go into a new segment.
#[test]
fn a_segment_cut_by_a_truncation_takes_no_more_appends() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path()).unwrap();
    store.write(None, &entries(1, 10, 1)).unwrap();
    store.sync().unwrap();
    store.write(None, &entries(5, 6, 2)).unwrap();
    store.sync().unwrap();
    drop(store);
    let all = segments(dir.path());
    assert_eq!(all.len(), 2);
    assert_eq!(fs::metadata(&all[0]).unwrap().len(), entry_at(4));
    assert!(all[1].ends_with("wal-00000000000000000005.log"));
    let mut expected = entries(1, 4, 1);
    expected.extend(entries(5, 6, 2));
    assert_eq!(open(dir.path()).unwrap().load().unwrap().entries, expected);
}

// ---------------------------------------------------------------------------------------------
// Compaction on disk.

/// Options with segments of `batches` one-entry batches, and no zeros written ahead.
fn small_segments(batches: u64) -> FileStoreOptions {
    FileStoreOptions {
        segment_bytes_max: FILE_HEADER_BYTES + batches * ONE_ENTRY_BATCH_BYTES,
        ..exact()
    }
}

fn segment_name(first_index: Index) -> String {
    format!("wal-{first_index:020}.log")
}

/// The files of the log in `dir`, by name (the lock file aside).
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name() != "LOCK")
        .map(|e| {
            let name = e.file_name().into_string().unwrap();
            (name, fs::read(e.path()).unwrap())
        })
        .collect()
}

/// A fresh directory holding `files`.
fn lay_out(files: &BTreeMap<String, Vec<u8>>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in files {
        fs::write(dir.path().join(name), bytes).unwrap();
    }
    dir
}

/// Opens `files` laid out afresh, twice, and checks both loads against `expected`.
fn assert_loads(files: &BTreeMap<String, Vec<u8>>, options: FileStoreOptions, expected: &Loaded) {
    let dir = lay_out(files);
    let names: Vec<&String> = files.keys().collect();
    let loaded = FileStore::open(dir.path(), options)
        .unwrap_or_else(|e| panic!("{names:?}: {e}"))
        .load()
        .unwrap();
    assert_eq!(&loaded, expected, "{names:?}");
    let again = FileStore::open(dir.path(), options)
        .unwrap()
        .load()
        .unwrap();
    assert_eq!(&again, expected, "{names:?}, reopened");
    assert!(!dir.path().join("log.prefix.tmp").exists());
}

/// Entries 1..=12 (term 1) in one-entry batches, four per segment (wal-1, wal-5, wal-9), the
/// hard state's only record in the first; synced. Returns the store and its hard state.
fn twelve_in_three_segments(dir: &Path) -> (FileStore, HardState) {
    let hs = HardState {
        term: 1,
        vote: Some(1),
        commit: 3,
    };
    let mut store = FileStore::open(dir, small_segments(4)).unwrap();
    store.write(Some(&hs), &entries(1, 1, 1)).unwrap();
    for index in 2..=12 {
        store.write(None, &[entry(index, 1)]).unwrap();
    }
    store.sync().unwrap();
    let names: Vec<String> = files(dir).into_keys().collect();
    assert_eq!(names, [1, 5, 9].map(segment_name));
    (store, hs)
}

#[test]
fn compaction_deletes_the_segments_it_covers_but_the_last() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, hs) = twelve_in_three_segments(dir.path());
    store.compact(6, 1).unwrap();
    // wal-1 holds 1..=4 only and goes; wal-5 holds 7 and 8, after the prefix. The hard state's
    // record went with wal-1, so it was written again first (into a new wal-13: wal-9 was full).
    let names: Vec<String> = files(dir.path()).into_keys().collect();
    let expected_names = [
        "log.prefix".to_string(),
        segment_name(5),
        segment_name(9),
        segment_name(13),
    ];
    assert_eq!(names, expected_names);
    store.compact(12, 1).unwrap();
    drop(store);
    let names: Vec<String> = files(dir.path()).into_keys().collect();
    assert_eq!(names, ["log.prefix".to_string(), segment_name(13)]);
    let mut store = FileStore::open(dir.path(), small_segments(4)).unwrap();
    let expected = Loaded {
        hard_state: hs,
        prev_index: 12,
        prev_term: 1,
        entries: Vec::new(),
    };
    assert_eq!(store.load().unwrap(), expected);
    store.write(None, &entries(13, 14, 2)).unwrap();
    drop(store);
    let loaded = FileStore::open(dir.path(), small_segments(4))
        .unwrap()
        .load()
        .unwrap();
    assert_eq!(loaded.entries, entries(13, 14, 2));
}

/// Compaction keeping the entries after a matching index: the states a crash can leave after
/// each step (`src/storage/file/compact.rs`) load the old prefix or the new one.
#[test]
fn a_crash_in_any_step_of_a_compaction_leaves_the_old_prefix_or_the_new() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, hs) = twelve_in_three_segments(dir.path());
    let before = files(dir.path());
    store.compact(10, 1).unwrap();
    drop(store);
    let after = files(dir.path());
    let old = Loaded {
        hard_state: hs,
        prev_index: 0,
        prev_term: 0,
        entries: entries(1, 12, 1),
    };
    let new = Loaded {
        hard_state: hs,
        prev_index: 10,
        prev_term: 1,
        entries: entries(11, 12, 1),
    };
    let options = small_segments(4);
    // Step 3 wrote the hard state again (into a new wal-13) before deleting wal-1 and wal-5.
    let mut hard_state_again = before.clone();
    for (name, bytes) in &after {
        if name.starts_with("wal-") {
            hard_state_again.insert(name.clone(), bytes.clone());
        }
    }
    assert!(hard_state_again.contains_key(&segment_name(13)));
    let prefix = after["log.prefix"].clone();

    // Before the rename of the prefix: the old prefix, the temporary file removed.
    assert_loads(&before, options, &old);
    assert_loads(&hard_state_again, options, &old);
    let mut temp = before.clone();
    temp.insert("log.prefix.tmp".into(), prefix.clone());
    assert_loads(&temp, options, &old);
    temp.insert("log.prefix.tmp".into(), prefix[..prefix.len() / 2].to_vec());
    assert_loads(&temp, options, &old);

    // After it: the new prefix, whichever segment deletions reached the disk.
    let mut renamed = before.clone();
    renamed.insert("log.prefix".into(), prefix.clone());
    assert_loads(&renamed, options, &new);
    let mut with_hard_state = hard_state_again.clone();
    with_hard_state.insert("log.prefix".into(), prefix);
    assert_loads(&with_hard_state, options, &new);
    for deleted in [1, 5] {
        let mut partly = with_hard_state.clone();
        partly.remove(&segment_name(deleted));
        assert_loads(&partly, options, &new);
    }
    assert_loads(&after, options, &new);

    // Opening finishes an interrupted compaction: the covered segments go.
    let dir = lay_out(&with_hard_state);
    drop(FileStore::open(dir.path(), options).unwrap());
    assert_eq!(
        files(dir.path()).keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
}

/// A snapshot whose term differs from the log's entry at its index: the entries from it on are
/// truncated before the prefix is written, so no state shows them after the new prefix.
#[test]
fn a_crash_in_a_compaction_that_discards_the_log_never_shows_a_conflicting_entry() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, hs) = twelve_in_three_segments(dir.path());
    let before = files(dir.path());
    store.compact(10, 2).unwrap();
    drop(store);
    let after = files(dir.path());
    let options = small_segments(4);
    // Step 1 cut wal-9 after entry 9: the old prefix, without the conflicting entries.
    let mut cut = before.clone();
    cut.insert(segment_name(9), after[&segment_name(9)].clone());
    let shortened = Loaded {
        hard_state: hs,
        prev_index: 0,
        prev_term: 0,
        entries: entries(1, 9, 1),
    };
    assert_loads(&cut, options, &shortened);
    // Step 2 onwards: the new prefix and nothing after it.
    let new = Loaded {
        hard_state: hs,
        prev_index: 10,
        prev_term: 2,
        entries: Vec::new(),
    };
    let mut renamed = cut.clone();
    renamed.insert("log.prefix".into(), after["log.prefix"].clone());
    assert_loads(&renamed, options, &new);
    let mut all_but_deletions = renamed.clone();
    all_but_deletions.extend(after.clone());
    assert_loads(&all_but_deletions, options, &new);
    assert_loads(&after, options, &new);

    // The log continues after the prefix.
    let dir = lay_out(&all_but_deletions);
    let mut store = FileStore::open(dir.path(), options).unwrap();
    store.write(None, &entries(11, 12, 3)).unwrap();
    drop(store);
    let loaded = FileStore::open(dir.path(), options)
        .unwrap()
        .load()
        .unwrap();
    assert_eq!(
        (loaded.prev_index, loaded.entries),
        (10, entries(11, 12, 3))
    );
}

#[test]
fn a_damaged_prefix_is_an_error_and_a_missing_one_too() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _) = twelve_in_three_segments(dir.path());
    store.compact(10, 1).unwrap();
    drop(store);
    let prefix = dir.path().join("log.prefix");
    let good = fs::read(&prefix).unwrap();
    flip_byte(&prefix, 40);
    assert_corrupt_at(FileStore::open(dir.path(), small_segments(4)), &prefix, 0);
    // Without the prefix, the segments that are left no longer start the log.
    fs::remove_file(&prefix).unwrap();
    let first = dir.path().join(segment_name(9));
    assert_corrupt_at(FileStore::open(dir.path(), small_segments(4)), &first, 0);
    fs::write(&prefix, good).unwrap();
    assert_eq!(
        FileStore::open(dir.path(), small_segments(4))
            .unwrap()
            .load()
            .unwrap()
            .entries,
        entries(11, 12, 1)
    );
}
