//! The `wal_record` harness: arbitrary bytes laid out as a data directory (segment files and a
//! truncate intent), opened with [`FileStore::open`], the only public way into the WAL's record
//! reader and recovery.
//!
//! Whatever the bytes, opening must return an error or recover a valid log, never panic. When it
//! recovers, the harness checks that:
//! - the log is well formed: entries contiguous from index 1, terms never decreasing, each within
//!   the record size limit;
//! - (without an intent) every recovered entry is, byte for byte, the next entry record of the
//!   input, and the hard state is one the input holds: recovery invents nothing and skips nothing;
//! - (without an intent) recovery only cut files short: each segment is a prefix of what was
//!   written, or gone if it was the last and held no record (a creation a crash interrupted), and
//!   no file appeared;
//! - a second open of what recovery left succeeds and finds the same log;
//! - the recovered store takes a write (an append, or a truncate-then-append from a chosen index)
//!   and a reopen finds exactly the expected log.
//!
//! This file is shared: the fuzz crate builds it as `raftkv_fuzz::wal_record`, and the main crate's
//! `tests/storage/fuzz_regressions.rs` includes it with `#[path]` to replay committed inputs.
//!
//! # Input layout
//!
//! ```text
//! input   = limits: u8 | after: u8 | file*      (missing bytes end the input; at most 6 files)
//! limits  = bits 0-1 record_bytes_max   [33, 64, 4096, 16 MiB]
//!           bits 2-3 segment_bytes_max  [1, 100, 4096, 64 MiB]
//!           bits 4-5 preallocate_bytes  [0, 17, 512, 4096]
//!           bit 6    recompute the checksum of every whole record before writing
//! after   = after % 3: 0 nothing, 1 append one entry, 2 write two entries from index
//!           1 + (after / 3) % (last index + 1), truncating what follows
//! file    = tag: u8 (even: segment, odd: truncate intent)
//!           | first_index: u32 LE (segments only; names the file wal-<20 digits>.log)
//!           | len: u16 LE | len bytes (fewer if the input ends)
//! ```
//! A later file with the same name replaces an earlier one.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use bytes::Bytes;
use raftkv::raft::{Entry, HardState, Payload};
use raftkv::storage::{encode_entry_record, FileStore, FileStoreOptions, Loaded, LogStore};

/// Every file starts with a header: magic | version u32 | first_index u64 | salt u64 | crc u32.
pub const FILE_HEADER_BYTES: usize = 32;
const MAGIC: &[u8; 8] = b"RKVLOG\r\n";
/// Bytes of framing in front of every record body: crc u32 | len u32 | type u8.
pub const HEADER_BYTES: usize = 9;
const TYPE_ENTRY: u8 = 1;
const TYPE_HARD_STATE: u8 = 2;
const TYPE_TRUNCATE_INTENT: u8 = 3;
const TYPE_BATCH_END: u8 = 4;
const TYPE_PREFIX: u8 = 5;

/// 33 is the smallest limit the store accepts (the truncate intent's body).
pub const RECORD_BYTES_MAX: [u64; 4] = [33, 64, 4096, 16 << 20];
pub const SEGMENT_BYTES_MAX: [u64; 4] = [1, 100, 4096, 64 << 20];
pub const PREALLOCATE_BYTES: [u64; 4] = [0, 17, 512, 4096];
const MAX_FILES: usize = 6;
const FIX_CHECKSUMS: u8 = 1 << 6;
const INTENT_FILE: &str = "truncate.intent";
const LOCK_FILE: &str = "LOCK";

/// A file of the data directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileName {
    /// `wal-<first_index>.log`.
    Segment(u32),
    /// `truncate.intent`.
    Intent,
}

impl FileName {
    fn file_name(&self) -> String {
        match self {
            FileName::Segment(first_index) => format!("wal-{first_index:020}.log"),
            FileName::Intent => INTENT_FILE.to_string(),
        }
    }
}

/// What the harness does with the store once it has recovered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum After {
    Nothing,
    /// Appends one entry (with a new hard state) after the last.
    Append,
    /// Writes two entries from index `1 + k % (last index + 1)`, replacing what follows.
    Overwrite(u8),
}

/// One decoded input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// Positions in [`RECORD_BYTES_MAX`], [`SEGMENT_BYTES_MAX`] and [`PREALLOCATE_BYTES`].
    pub limits: [u8; 3],
    pub fix_checksums: bool,
    pub after: After,
    pub files: Vec<(FileName, Vec<u8>)>,
}

/// What opening the directory came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `FileStore::open` returned this error.
    Rejected(String),
    /// The store opened and recovered this many entries and this hard state.
    Recovered {
        entries: usize,
        hard_state: HardState,
    },
}

impl Case {
    /// Reads an input laid out as the module doc says; never fails.
    pub fn decode(data: &[u8]) -> Case {
        let mut input = Reader(data);
        let limits = input.u8().unwrap_or(0);
        let after = match input.u8().unwrap_or(0) {
            a if a % 3 == 0 => After::Nothing,
            a if a % 3 == 1 => After::Append,
            a => After::Overwrite(a / 3),
        };
        let mut files = Vec::new();
        while files.len() < MAX_FILES {
            let Some(tag) = input.u8() else { break };
            let name = if tag % 2 == 0 {
                let Some(first_index) = input.u32() else {
                    break;
                };
                FileName::Segment(first_index)
            } else {
                FileName::Intent
            };
            let Some(len) = input.u16() else { break };
            files.push((name, input.take(usize::from(len)).to_vec()));
        }
        Case {
            limits: [limits & 3, (limits >> 2) & 3, (limits >> 4) & 3],
            fix_checksums: limits & FIX_CHECKSUMS != 0,
            after,
            files,
        }
    }

    /// The input that [`Case::decode`] reads back as `self`. Panics on a file over 64 KiB or an
    /// `Overwrite` above 84, which the layout cannot express.
    pub fn encode(&self) -> Vec<u8> {
        let [record, segment, preallocate] = self.limits;
        let mut out = vec![(record & 3) | (segment & 3) << 2 | (preallocate & 3) << 4];
        if self.fix_checksums {
            out[0] |= FIX_CHECKSUMS;
        }
        out.push(match self.after {
            After::Nothing => 0,
            After::Append => 1,
            After::Overwrite(k) => {
                assert!(k <= 84, "overwrite selector {k} does not fit");
                2 + 3 * k
            }
        });
        for (name, bytes) in &self.files {
            match name {
                FileName::Segment(first_index) => {
                    out.push(0);
                    out.extend_from_slice(&first_index.to_le_bytes());
                }
                FileName::Intent => out.push(1),
            }
            let len = u16::try_from(bytes.len()).expect("a file of at most 64 KiB");
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(bytes);
        }
        out
    }

    /// The store's limits this input selects.
    pub fn options(&self) -> FileStoreOptions {
        let [record, segment, preallocate] = self.limits.map(usize::from);
        FileStoreOptions {
            record_bytes_max: RECORD_BYTES_MAX[record & 3],
            segment_bytes_max: SEGMENT_BYTES_MAX[segment & 3],
            preallocate_bytes: PREALLOCATE_BYTES[preallocate & 3],
        }
    }

    /// Writes the files into `dir`; returns the segments' final contents by first index, and the
    /// intent's if there is one.
    fn write_files(&self, dir: &Path) -> (BTreeMap<u32, Vec<u8>>, Option<Vec<u8>>) {
        let mut segments = BTreeMap::new();
        let mut intent = None;
        for (name, bytes) in &self.files {
            let mut bytes = bytes.clone();
            if self.fix_checksums {
                fix_checksums(&mut bytes);
            }
            fs::write(dir.join(name.file_name()), &bytes).expect("write an input file");
            match name {
                FileName::Segment(first_index) => {
                    segments.insert(*first_index, bytes);
                }
                FileName::Intent => intent = Some(bytes),
            }
        }
        (segments, intent)
    }
}

/// Runs one fuzz input: panics if the store misbehaves.
pub fn run(data: &[u8]) -> Outcome {
    run_case(&Case::decode(data))
}

/// Runs one decoded input: panics if the store misbehaves.
pub fn run_case(case: &Case) -> Outcome {
    let scratch = scratch_dir();
    let dir = scratch.path();
    let (segments, intent) = case.write_files(dir);
    let options = case.options();
    let mut store = match FileStore::open(dir, options) {
        Ok(store) => store,
        Err(e) => return Outcome::Rejected(e.to_string()),
    };
    let loaded = store
        .load()
        .unwrap_or_else(|e| panic!("load right after a successful open failed: {e}"));
    check_shape(&loaded, &options);
    if intent.is_none() {
        check_recovered_from_input(&loaded, &segments);
        check_only_cut(dir, &segments);
    }
    drop(store);

    let mut store = FileStore::open(dir, options)
        .unwrap_or_else(|e| panic!("reopening the log that recovery left failed: {e}"));
    let again = store.load().expect("load after the second open");
    assert_eq!(again, loaded, "a second recovery found another log");

    if let Some(expected) = write_after(&mut store, &loaded, case.after) {
        let reread = store.load().expect("load after a write");
        assert_eq!(reread, expected, "load after {:?}", case.after);
        drop(store);
        let mut store = FileStore::open(dir, options)
            .unwrap_or_else(|e| panic!("reopening after {:?} failed: {e}", case.after));
        let reopened = store.load().expect("load after reopening");
        assert_eq!(reopened, expected, "reopened after {:?}", case.after);
    }
    Outcome::Recovered {
        entries: loaded.entries.len(),
        hard_state: loaded.hard_state,
    }
}

/// Recomputes the checksums of a file: the header's, if it starts with the magic, then, under the
/// header's salt, each whole record of a known type after it, so that mutations of lengths,
/// types, indices and terms get past the checksums. Stops at the first record of another type
/// (zeros written ahead of the log stay zeros) or that runs past the end.
pub fn fix_checksums(bytes: &mut [u8]) {
    if bytes.len() < FILE_HEADER_BYTES || &bytes[..8] != MAGIC {
        return;
    }
    let crc = crc32fast::hash(&bytes[..28]);
    bytes[28..32].copy_from_slice(&crc.to_le_bytes());
    let salt = salt_of(bytes).expect("a whole header");
    let mut at = FILE_HEADER_BYTES;
    while let Some(frame) = frame_at(bytes, at) {
        let end = at + frame.len();
        let crc = checksum(salt, &bytes[at + 4..end]);
        bytes[at..at + 4].copy_from_slice(&crc.to_le_bytes());
        at = end;
    }
}

/// The record checksum: CRC-32 of the file's salt and every byte of the record after the crc.
fn checksum(salt: u64, checked: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&salt.to_le_bytes());
    hasher.update(checked);
    hasher.finalize()
}

/// The salt in a file's header, if the file is long enough to hold one (not otherwise checked).
fn salt_of(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(20..28)?.try_into().ok()?))
}

/// The whole record starting at `at`, by its length field, if its type is known (the checksum is
/// not checked).
fn frame_at(bytes: &[u8], at: usize) -> Option<&[u8]> {
    let header = bytes.get(at..at.checked_add(HEADER_BYTES)?)?;
    if !matches!(
        header[8],
        TYPE_ENTRY | TYPE_HARD_STATE | TYPE_TRUNCATE_INTENT | TYPE_PREFIX | TYPE_BATCH_END
    ) {
        return None;
    }
    let len = u32::from_le_bytes(header[4..8].try_into().ok()?);
    let end = at
        .checked_add(HEADER_BYTES)?
        .checked_add(usize::try_from(len).ok()?)?;
    bytes.get(at..end)
}

/// The records of a segment in order after its header, framed by their length fields alone.
fn frames(bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut at = FILE_HEADER_BYTES;
    while let Some(frame) = frame_at(bytes, at) {
        at += frame.len();
        out.push(frame);
    }
    out
}

/// The body of a hard-state record: term u64 | has_vote u8 | vote u64 | commit u64.
fn hard_state_body(hard_state: &HardState) -> Vec<u8> {
    let mut body = hard_state.term.to_le_bytes().to_vec();
    body.push(u8::from(hard_state.vote.is_some()));
    body.extend_from_slice(&hard_state.vote.unwrap_or(0).to_le_bytes());
    body.extend_from_slice(&hard_state.commit.to_le_bytes());
    body
}

/// A fresh directory, on tmpfs when there is one: the store fsyncs on every open.
fn scratch_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let base = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    tempfile::Builder::new()
        .prefix("raftkv-fuzz-")
        .tempdir_in(base)
        .expect("create a scratch directory")
}

fn check_shape(loaded: &Loaded, options: &FileStoreOptions) {
    assert_eq!(
        (loaded.prev_index, loaded.prev_term),
        (0, 0),
        "no compaction exists, so the log starts at index 1"
    );
    let mut term = 0;
    for (position, entry) in loaded.entries.iter().enumerate() {
        assert_eq!(entry.index, position as u64 + 1, "entries not contiguous");
        assert!(
            entry.term >= term,
            "term decreases at index {}",
            entry.index
        );
        term = entry.term;
        let data = match &entry.payload {
            Payload::Noop => 0,
            Payload::Command(data) => data.len() as u64,
            Payload::Membership(m) => m.encoded_len() as u64,
        };
        assert!(
            17 + data <= options.record_bytes_max,
            "entry {} is over the record size limit",
            entry.index
        );
    }
}

/// Without an intent, recovery reads records in order and stops at damage: its entries are the
/// first entry records of the segments, byte for byte under each segment's salt, and its hard
/// state is in one of them.
fn check_recovered_from_input(loaded: &Loaded, segments: &BTreeMap<u32, Vec<u8>>) {
    let walked: Vec<(u64, &[u8])> = segments
        .values()
        .flat_map(|bytes| {
            let salt = salt_of(bytes).unwrap_or(0);
            frames(bytes).into_iter().map(move |frame| (salt, frame))
        })
        .collect();
    let mut entry_records = walked.iter().filter(|(_, frame)| frame[8] == TYPE_ENTRY);
    let mut encoded = Vec::new();
    for entry in &loaded.entries {
        let (salt, record) = entry_records
            .next()
            .unwrap_or_else(|| panic!("entry {} recovered from no record", entry.index));
        encoded.clear();
        encode_entry_record(&mut encoded, entry, *salt);
        assert_eq!(
            &encoded[..],
            *record,
            "entry {} differs from its record",
            entry.index
        );
    }
    if loaded.hard_state != HardState::default() {
        let body = hard_state_body(&loaded.hard_state);
        assert!(
            walked
                .iter()
                .any(|(_, frame)| frame[8] == TYPE_HARD_STATE && frame[HEADER_BYTES..] == body[..]),
            "hard state {:?} recovered from no record",
            loaded.hard_state
        );
    }
}

/// Without an intent, recovery may only cut segments short (a torn tail), or remove the last one
/// if it held no record behind an incomplete header (a creation a crash interrupted).
fn check_only_cut(dir: &Path, segments: &BTreeMap<u32, Vec<u8>>) {
    let last = segments.keys().next_back().copied();
    for (&first_index, written) in segments {
        let name = FileName::Segment(first_index).file_name();
        let Ok(now) = fs::read(dir.join(&name)) else {
            let creation = written.len() < FILE_HEADER_BYTES || written.iter().all(|&b| b == 0);
            assert!(
                Some(first_index) == last && creation,
                "recovery removed {name} ({} bytes written)",
                written.len()
            );
            continue;
        };
        assert!(
            written.starts_with(&now),
            "recovery changed {name} beyond cutting it ({} bytes written, {} now)",
            written.len(),
            now.len()
        );
    }
    for dir_entry in fs::read_dir(dir).expect("list the data directory") {
        let name = dir_entry.expect("a directory entry").file_name();
        let name = name.to_string_lossy();
        let known = name == LOCK_FILE
            || segments
                .keys()
                .any(|&first| FileName::Segment(first).file_name() == name);
        assert!(known, "recovery created {name}");
    }
}

/// Writes to the recovered store as `after` says, syncs, and returns the log now expected.
fn write_after(store: &mut FileStore, loaded: &Loaded, after: After) -> Option<Loaded> {
    let last_index = loaded.entries.len() as u64;
    let last_term = loaded.entries.last().map_or(0, |e| e.term);
    let top_term = last_term.max(loaded.hard_state.term);
    let command = |index, term, data: &'static [u8]| Entry {
        index,
        term,
        payload: Payload::Command(Bytes::from_static(data)),
    };
    let (from, new) = match after {
        After::Nothing => return None,
        After::Append => (
            last_index + 1,
            vec![command(last_index + 1, top_term, b"appended")],
        ),
        After::Overwrite(k) => {
            let from = 1 + u64::from(k) % (last_index + 1);
            let term = top_term.saturating_add(1);
            let noop = Entry {
                index: from,
                term,
                payload: Payload::Noop,
            };
            (from, vec![noop, command(from + 1, term, b"over")])
        }
    };
    let hard_state = HardState {
        term: top_term.saturating_add(1),
        vote: Some(7),
        commit: loaded.hard_state.commit,
    };
    store
        .write(Some(&hard_state), &new)
        .unwrap_or_else(|e| panic!("{after:?} on the recovered store failed: {e}"));
    store
        .sync()
        .unwrap_or_else(|e| panic!("sync after {after:?} failed: {e}"));
    let keep = usize::try_from(from - 1).expect("a small index");
    let mut entries = loaded.entries[..keep].to_vec();
    entries.extend(new);
    Some(Loaded {
        hard_state,
        prev_index: 0,
        prev_term: 0,
        entries,
    })
}

/// Reads the input front to back.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, tail) = self.0.split_at(n.min(self.0.len()));
        self.0 = tail;
        head
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        if self.0.len() < N {
            self.0 = &[];
            return None;
        }
        self.take(N).try_into().ok()
    }

    fn u8(&mut self) -> Option<u8> {
        self.array::<1>().map(|[b]| b)
    }

    fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_le_bytes)
    }

    fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_le_bytes)
    }
}
