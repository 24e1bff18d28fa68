//! `FileStore` alone: recovery from torn tails, refusal of corrupt middles, directory handling and
//! locking, interrupted truncations, and a model check of random write/truncate/reopen sequences.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use proptest::prelude::*;
use raftkv::raft::{Entry, HardState, Index, Payload, Term};
use raftkv::storage::{FileStore, FileStoreOptions, LogStore, StorageError};

/// With 100-byte payloads every entry record is 17 (header) + 17 (index, term, kind) + 100 bytes.
const PAYLOAD_BYTES: usize = 100;
const ENTRY_RECORD_BYTES: u64 = 134;
const HARD_STATE_RECORD_BYTES: u64 = 42;

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
    file.set_len(4 * ENTRY_RECORD_BYTES + 50).unwrap();

    let mut store = open(dir.path()).unwrap();
    assert_eq!(store.load().unwrap().entries, entries(1, 4, 1));
    assert_eq!(
        fs::metadata(&segment).unwrap().len(),
        4 * ENTRY_RECORD_BYTES
    );
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
    file.set_len(2 * ENTRY_RECORD_BYTES + 4).unwrap();
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
    assert_eq!(
        fs::metadata(&segment).unwrap().len(),
        5 * ENTRY_RECORD_BYTES
    );
}

/// Entries `from..=to` (term 1) appended to the log in `dir` as one write, synced if `sync`.
fn append(dir: &Path, from: Index, to: Index, sync: bool) {
    let mut store = open(dir).unwrap();
    store.write(None, &entries(from, to, 1)).unwrap();
    if sync {
        store.sync().unwrap();
    }
}

#[test]
fn damage_that_a_later_record_proves_durable_is_an_error_naming_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let segment = write_log(dir.path(), 10);
    // Written after entries 1..=10 were synced: its durable mark covers them.
    append(dir.path(), 11, 11, true);
    let damaged_at = 3 * ENTRY_RECORD_BYTES;
    flip_byte(&segment, damaged_at + 40);
    assert_corrupt_at(open(dir.path()), &segment, damaged_at);
    // Nothing was "repaired": the file is as the damage left it.
    assert_eq!(
        fs::metadata(&segment).unwrap().len(),
        11 * ENTRY_RECORD_BYTES
    );
}

#[test]
fn damage_in_synced_data_is_an_error_even_when_unsynced_writes_follow() {
    let dir = tempfile::tempdir().unwrap();
    let segment = write_log(dir.path(), 5);
    append(dir.path(), 6, 10, false);
    flip_byte(&segment, 2 * ENTRY_RECORD_BYTES + 40);
    assert_corrupt_at(open(dir.path()), &segment, 2 * ENTRY_RECORD_BYTES);
}

/// A crash before the fsync may persist a later page of the writes since the last sync but not an
/// earlier one: the hole and everything after it are dropped, the synced entries kept.
#[test]
fn a_hole_in_the_writes_since_the_last_sync_is_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let segment = write_log(dir.path(), 5);
    // Two unsynced writes (one store: opening a log syncs what it finds); the first loses a
    // stretch of its second record, the second is intact.
    let mut store = open(dir.path()).unwrap();
    store.write(None, &entries(6, 8, 1)).unwrap();
    store.write(None, &entries(9, 10, 1)).unwrap();
    drop(store);
    let hole_at = 6 * ENTRY_RECORD_BYTES;
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

#[test]
fn a_damaged_last_record_of_an_earlier_segment_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let options = FileStoreOptions {
        segment_bytes_max: 4 * ENTRY_RECORD_BYTES,
        ..FileStoreOptions::default()
    };
    let mut store = FileStore::open(dir.path(), options).unwrap();
    for index in 1..=12 {
        store.write(None, &[entry(index, 1)]).unwrap();
    }
    store.sync().unwrap();
    drop(store);
    let first = segments(dir.path()).remove(0);
    assert_eq!(fs::metadata(&first).unwrap().len(), 4 * ENTRY_RECORD_BYTES);
    flip_byte(&first, 3 * ENTRY_RECORD_BYTES + 20);
    assert_corrupt_at(
        FileStore::open(dir.path(), options),
        &first,
        3 * ENTRY_RECORD_BYTES,
    );
}

#[test]
fn a_missing_middle_segment_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let options = FileStoreOptions {
        segment_bytes_max: 2 * ENTRY_RECORD_BYTES,
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
    // Append a well-formed record of a store that wrote index 5 after index 2.
    let other = tempfile::tempdir().unwrap();
    let mut store = open(other.path()).unwrap();
    store.write(None, &entries(1, 5, 1)).unwrap();
    drop(store);
    let other_bytes = fs::read(segments(other.path()).pop().unwrap()).unwrap();
    let fifth = &other_bytes[4 * ENTRY_RECORD_BYTES as usize..];
    OpenOptions::new()
        .append(true)
        .open(&segment)
        .unwrap()
        .write_all(fifth)
        .unwrap();
    assert_corrupt_at(open(dir.path()), &segment, 2 * ENTRY_RECORD_BYTES);
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

/// The documented truncate-intent record: type 3, body = cut index then the hard-state body.
fn intent_record(cut_index: Index, hs: &HardState) -> Vec<u8> {
    let mut body = cut_index.to_le_bytes().to_vec();
    body.extend_from_slice(&hs.term.to_le_bytes());
    body.push(u8::from(hs.vote.is_some()));
    body.extend_from_slice(&hs.vote.unwrap_or(0).to_le_bytes());
    body.extend_from_slice(&hs.commit.to_le_bytes());
    let mut checked = (body.len() as u32).to_le_bytes().to_vec();
    checked.push(3);
    checked.extend_from_slice(&0u64.to_le_bytes()); // durable mark: not in a segment
    checked.extend_from_slice(&body);
    let mut record = crc32fast::hash(&checked).to_le_bytes().to_vec();
    record.extend_from_slice(&checked);
    record
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
    fs::write(dir.path().join("truncate.intent"), intent_record(5, &hs)).unwrap();
    OpenOptions::new()
        .write(true)
        .open(&segment)
        .unwrap()
        .set_len(4 * ENTRY_RECORD_BYTES)
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
    fs::write(dir.path().join("truncate.intent"), intent_record(7, &hs)).unwrap();
    let loaded = open(dir.path()).unwrap().load().unwrap();
    assert_eq!((loaded.hard_state, loaded.entries), (hs, entries(1, 6, 1)));
}

#[test]
fn a_torn_truncate_intent_is_discarded_and_the_log_kept() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), 10);
    let hs = HardState::default();
    let intent = intent_record(5, &hs);
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
    assert_eq!(
        fs::metadata(&segment).unwrap().len(),
        2 * ENTRY_RECORD_BYTES + HARD_STATE_RECORD_BYTES
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
    ]
}

proptest! {
    // Each case fsyncs dozens of times (opens, truncations): the disk bounds the run, not the CPU.
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn random_writes_truncations_and_reopens_match_a_model(
        ops in proptest::collection::vec(op(), 1..60),
        segment_bytes_max in 200..2000u64,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let options = FileStoreOptions { segment_bytes_max, ..FileStoreOptions::default() };
        let mut store = FileStore::open(dir.path(), options).unwrap();
        let mut model_entries: Vec<Entry> = Vec::new();
        let mut model_hard_state = HardState::default();
        for (step, op) in ops.into_iter().enumerate() {
            match op {
                Op::Write { hard_state, back, count, bump, payload_bytes } => {
                    let last = model_entries.len() as u64;
                    let from = last + 1 - back.min(last);
                    let term_before = model_entries.get((from as usize).wrapping_sub(2));
                    let term = term_before.map_or(1, |e| e.term) + bump;
                    let batch: Vec<Entry> = (from..from + count)
                        .map(|index| Entry {
                            index,
                            term,
                            payload: Payload::Command(Bytes::from(vec![step as u8; payload_bytes])),
                        })
                        .collect();
                    store.write(hard_state.as_ref(), &batch).unwrap();
                    if let Some(hs) = hard_state {
                        model_hard_state = hs;
                    }
                    if !batch.is_empty() {
                        model_entries.truncate(from as usize - 1);
                        model_entries.extend(batch);
                    }
                }
                Op::Sync => store.sync().unwrap(),
                Op::Reopen => {
                    drop(store);
                    store = FileStore::open(dir.path(), options).unwrap();
                }
            }
            let loaded = store.load().unwrap();
            prop_assert_eq!(&loaded.entries, &model_entries, "after step {}", step);
            prop_assert_eq!(loaded.hard_state, model_hard_state, "after step {}", step);
        }
        drop(store);
        let loaded = FileStore::open(dir.path(), options).unwrap().load().unwrap();
        prop_assert_eq!(loaded.entries, model_entries);
        prop_assert_eq!(loaded.hard_state, model_hard_state);
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
        let (mut written_bytes, mut synced_entries, mut synced_bytes) = (0, 0, 0);
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
            // 17 bytes of header and 17 of index, term and kind per entry record.
            written_bytes += count as usize * (34 + payload_bytes);
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
    drop(store);
    let segment = segments(dir.path()).pop().unwrap();
    let logical = 3 * ENTRY_RECORD_BYTES as usize;
    let bytes = fs::read(&segment).unwrap();
    assert_eq!(bytes.len(), logical + 1000);
    assert!(bytes[logical..].iter().all(|&b| b == 0));

    // The zeros are not a torn tail: the file is not cut, and the next records go where the
    // log ends, not after the zeros.
    let mut store = FileStore::open(dir.path(), options).unwrap();
    assert_eq!(store.load().unwrap().entries, entries(1, 3, 1));
    assert_eq!(fs::read(&segment).unwrap(), bytes);
    // Eight more records do not fit in the zeros left (8 x 134 > 1000): the file grows again.
    store.write(None, &entries(4, 11, 1)).unwrap();
    store.sync().unwrap();
    drop(store);
    let grown = fs::read(&segment).unwrap();
    assert_eq!(grown.len(), 11 * ENTRY_RECORD_BYTES as usize + 1000);
    assert_eq!(grown[..logical], bytes[..logical]);
    assert_eq!(
        FileStore::open(dir.path(), options)
            .unwrap()
            .load()
            .unwrap()
            .entries,
        entries(1, 11, 1)
    );
}
