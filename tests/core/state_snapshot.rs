//! State-machine snapshots: a restored machine carries on exactly like the one written; damaged,
//! truncated or foreign input is refused with a clear error and never panics; a clone written on
//! another thread is the state as of the clone.

use std::io::{self, Write};
use std::sync::mpsc;

use bytes::Bytes;
use proptest::prelude::*;
use raftkv::raft::{Entry, Payload};
use raftkv::state::{
    encode, inspect, read_snapshot, read_snapshot_file, write_snapshot, write_snapshot_file,
    ApplyResult, Command, Request, SnapshotCounts, SnapshotError, StateConfig, StateMachine,
    MAX_VOTERS, SNAPSHOT_MAGIC,
};

const VOTERS: [u64; 3] = [1, 2, 5];

/// A membership of these voters, without addresses.
fn members(voters: &[u64]) -> raftkv::raft::MembershipEntry {
    raftkv::raft::MembershipEntry {
        membership: raftkv::raft::Membership {
            voters: voters.to_vec(),
            learners: Vec::new(),
        },
        context: Default::default(),
    }
}

/// Three sessions for six clients, so that eviction happens all the time.
fn config() -> StateConfig {
    StateConfig { max_sessions: 3 }
}

fn machine() -> StateMachine {
    StateMachine::new(config()).expect("valid config")
}

/// Every kind of command, on small domains so that they hit the same students, keys and stacks.
fn command() -> impl Strategy<Value = Command> {
    let roll = 0u64..5;
    let key = prop::sample::select(vec!["a", "b", "c", "d", ""]).prop_map(String::from);
    let value = prop::collection::vec(any::<u8>(), 0..6).prop_map(Bytes::from);
    let text = "[a-z \"]{0,6}";
    let ttl = 0u64..4;
    let stack = 0u64..4;
    let label = -2i64..2;
    prop_oneof![
        (roll.clone(), text, text, text).prop_map(|(roll_no, name, address, phone)| {
            Command::StudentPut {
                roll_no,
                name,
                address,
                phone,
            }
        }),
        roll.clone()
            .prop_map(|roll_no| Command::StudentDelete { roll_no }),
        roll.prop_map(|roll_no| Command::StudentGet { roll_no }),
        Just(Command::StudentList),
        (key.clone(), value.clone()).prop_map(|(key, value)| Command::KvPut { key, value }),
        (key.clone(), value.clone(), ttl.clone()).prop_map(|(key, value, ttl_secs)| {
            Command::KvSet {
                key,
                value,
                ttl_secs,
            }
        }),
        (key.clone(), value, ttl, 0u64..40).prop_map(|(key, value, ttl_secs, v)| {
            Command::KvCas {
                key,
                value,
                ttl_secs,
                expected_version: v,
            }
        }),
        key.clone().prop_map(|key| Command::KvDelete { key }),
        key.clone().prop_map(|key| Command::KvGetMeta { key }),
        Just(Command::KvPurge),
        label
            .clone()
            .prop_map(|label| Command::StackCreate { label }),
        label.prop_map(|label| Command::StackId { label }),
        (stack.clone(), any::<i64>())
            .prop_map(|(stack_id, item)| Command::StackPush { stack_id, item }),
        stack
            .clone()
            .prop_map(|stack_id| Command::StackPop { stack_id }),
        stack.prop_map(|stack_id| Command::StackTop { stack_id }),
    ]
}

/// Mostly requests (many with a session whose seqs repeat and go back, many stamped by a clock
/// that mostly advances past the ttls), some no-ops, some garbage.
fn payload() -> impl Strategy<Value = Payload> {
    let session = prop::option::of((0u64..6, 0u64..5));
    let stamp = prop::option::of(0u64..12_000);
    prop_oneof![
        8 => (session, stamp, command()).prop_map(|(session, stamp, command)| {
            let request = match session {
                Some((client_id, seq)) => Request::with_session(client_id, seq, command),
                None => Request::new(command),
            };
            let request = match stamp {
                Some(ms) => request.stamped(ms),
                None => request,
            };
            Payload::Command(encode(&request))
        }),
        1 => Just(Payload::Noop),
        1 => prop::collection::vec(any::<u8>(), 0..8)
            .prop_map(|garbage| Payload::Command(Bytes::from(garbage))),
    ]
}

/// Numbers the payloads as a log starting after `after`; the term grows now and then.
fn entries(after: u64, first_term: u64, payloads: Vec<(Payload, bool)>) -> Vec<Entry> {
    let mut term = first_term;
    payloads
        .into_iter()
        .enumerate()
        .map(|(i, (payload, new_term))| {
            term += u64::from(new_term);
            Entry {
                index: after + i as u64 + 1,
                term,
                payload,
            }
        })
        .collect()
}

fn apply_all(sm: &mut StateMachine, entries: &[Entry]) -> Vec<ApplyResult> {
    entries
        .iter()
        .map(|e| sm.apply(e.index, e.term, &e.payload))
        .collect()
}

fn snapshot_bytes(sm: &StateMachine) -> Vec<u8> {
    let mut bytes = Vec::new();
    write_snapshot(sm, &members(&VOTERS), &mut bytes).expect("write to memory");
    bytes
}

fn json(sm: &StateMachine) -> String {
    serde_json::to_string(&sm.to_json()).expect("json")
}

fn put(key: &str, value: &str) -> Request {
    Request::new(Command::KvPut {
        key: key.into(),
        value: Bytes::from(value.to_string()),
    })
}

/// Feeds requests to a machine as consecutive entries of term 1.
fn drive(sm: &mut StateMachine, requests: impl IntoIterator<Item = Request>) -> Vec<ApplyResult> {
    requests
        .into_iter()
        .map(|request| {
            let index = sm.applied_index() + 1;
            sm.apply(index, 1, &Payload::Command(encode(&request)))
        })
        .collect()
}

/// A small machine with something in every collection: students, keys with and without expiry
/// (one expired but not purged), a stack with items, a full session table.
fn small_machine() -> StateMachine {
    let mut sm = machine();
    let student = Command::StudentPut {
        roll_no: 7,
        name: "Ada".into(),
        address: "1 Main St".into(),
        phone: "555".into(),
    };
    let requests = vec![
        Request::new(student).stamped(1_000),
        put("plain", "v1"),
        Request::new(Command::KvSet {
            key: "soon".into(),
            value: Bytes::from_static(b"\x00\xff"),
            ttl_secs: 1,
        })
        .stamped(1_000),
        Request::new(Command::KvSet {
            key: "later".into(),
            value: Bytes::from_static(b"x"),
            ttl_secs: 60,
        }),
        Request::with_session(1, 1, Command::StackCreate { label: -4 }),
        Request::with_session(
            2,
            1,
            Command::StackPush {
                stack_id: 1,
                item: 10,
            },
        ),
        Request::with_session(
            3,
            1,
            Command::StackPush {
                stack_id: 1,
                item: -3,
            },
        ),
        Request::with_session(
            4,
            9,
            Command::KvGet {
                key: "plain".into(),
            },
        )
        .stamped(2_500),
    ];
    drive(&mut sm, requests);
    assert_eq!(sm.kv_get("soon"), None, "expired, not yet purged");
    assert_eq!(sm.session_count(), 3, "client 1 was evicted");
    sm
}

#[test]
fn a_restored_machine_has_the_same_state_meta_and_bytes() {
    let sm = small_machine();
    let mut bytes = Vec::new();
    let summary = write_snapshot(&sm, &members(&VOTERS), &mut bytes).expect("write");
    assert_eq!(summary.bytes, bytes.len() as u64);
    let expected_counts = SnapshotCounts {
        students: 1,
        keys: 3,
        stacks: 1,
        sessions: 3,
        leases: 0,
        // One record per kept revision: every value here is small.
        history_records: sm.history_len() as u64,
    };
    assert!(sm.history_len() >= 3, "each key's write is a revision");
    assert_eq!(summary.counts, expected_counts);
    assert!(bytes.starts_with(&SNAPSHOT_MAGIC));

    let (restored, meta) = read_snapshot(&bytes[..], config()).expect("read");
    assert_eq!(
        (meta.index, meta.term),
        (sm.applied_index(), sm.applied_term())
    );
    assert_eq!(meta.membership.membership.voters, VOTERS);
    assert_eq!(json(&restored), json(&sm));
    assert_eq!(restored.now_ms(), sm.now_ms());
    assert_eq!(restored.next_expiry_ms(), sm.next_expiry_ms());
    assert_eq!(
        snapshot_bytes(&restored),
        bytes,
        "re-encoding is byte-identical"
    );
}

#[test]
fn an_empty_machine_round_trips() {
    let sm = machine();
    let (restored, meta) = read_snapshot(&snapshot_bytes(&sm)[..], config()).expect("read");
    assert_eq!((meta.index, meta.term), (0, 0));
    assert_eq!(json(&restored), json(&sm));
}

#[test]
fn expiry_purge_replays_and_eviction_carry_on_after_a_restore() {
    let sm = small_machine();
    let (mut restored, _) = read_snapshot(&snapshot_bytes(&sm)[..], config()).expect("read");
    let mut original = sm;
    let next = vec![
        // The expired key is purged on both, and only it.
        Request::new(Command::KvPurge),
        // Client 4's last request replays its cached answer; client 3's older one is stale.
        Request::with_session(
            4,
            9,
            Command::KvGet {
                key: "plain".into(),
            },
        ),
        Request::with_session(3, 0, Command::StackPop { stack_id: 1 }),
        // A new client evicts the same oldest client on both (client 2).
        Request::with_session(6, 1, Command::StackPop { stack_id: 1 }),
        Request::with_session(2, 1, Command::StackTop { stack_id: 1 }),
        // Versions and expiry decisions continue from the same index and clock.
        Request::new(Command::KvCas {
            key: "plain".into(),
            value: Bytes::from_static(b"v2"),
            ttl_secs: 0,
            expected_version: 2,
        }),
        // "later" was set at 1_000 with a ttl of 60 s.
        Request::new(Command::KvGetMeta {
            key: "later".into(),
        })
        .stamped(60_999),
        Request::new(Command::KvGetMeta {
            key: "later".into(),
        })
        .stamped(61_000),
        Request::new(Command::StackCreate { label: 8 }),
    ];
    let revision = original.revision();
    let expected = drive(&mut original, next.clone());
    assert_eq!(drive(&mut restored, next), expected);
    assert_eq!(expected[0], ApplyResult::Purged(1));
    assert!(matches!(&expected[1], ApplyResult::Value(Some(v)) if v.version == 2));
    assert_eq!(expected[2], ApplyResult::StaleSession);
    assert_eq!(expected[3], ApplyResult::Item(-3));
    assert_eq!(
        expected[4],
        ApplyResult::Item(10),
        "client 2 was evicted: applied as new"
    );
    // The purge took one revision, the put the next.
    assert_eq!(
        expected[5],
        ApplyResult::Stored {
            version: revision + 2
        }
    );
    let left = |r: &ApplyResult| match r {
        ApplyResult::Record(record) => record.as_ref().map(|r| r.expires_in_ms),
        other => panic!("not a record: {other:?}"),
    };
    assert_eq!(left(&expected[6]), Some(Some(1)));
    assert_eq!(left(&expected[7]), None);
    assert_eq!(expected[8], ApplyResult::StackId(2));
    assert_eq!(json(&restored), json(&original));
}

#[test]
fn a_stack_longer_than_one_items_record_round_trips() {
    let mut sm = machine();
    drive(&mut sm, [Request::new(Command::StackCreate { label: 1 })]);
    let pushes = (0..20_000).map(|item| Request::new(Command::StackPush { stack_id: 1, item }));
    drive(&mut sm, pushes);
    let (mut restored, _) = read_snapshot(&snapshot_bytes(&sm)[..], config()).expect("read");
    assert_eq!(restored.stack_size(1), Ok(20_000));
    assert_eq!(restored.stack_top(1), Ok(19_999));
    let pop = [Request::new(Command::StackPop { stack_id: 1 })];
    assert_eq!(drive(&mut restored, pop.clone()), drive(&mut sm, pop));
    assert_eq!(json(&restored), json(&sm));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// The machine a snapshot restores is indistinguishable from the one written: same JSON,
    /// and the same results, versions, replays, evictions and expiries for every later entry.
    #[test]
    fn a_restored_machine_carries_on_exactly_like_the_original(
        before in prop::collection::vec((payload(), prop::bool::weighted(0.05)), 0..150),
        after in prop::collection::vec((payload(), prop::bool::weighted(0.05)), 0..80),
    ) {
        let before = entries(0, 1, before);
        let mut original = machine();
        apply_all(&mut original, &before);
        let bytes = snapshot_bytes(&original);
        let (mut restored, meta) = read_snapshot(&bytes[..], config()).expect("read");
        prop_assert_eq!(meta.index, original.applied_index());
        prop_assert_eq!(meta.term, original.applied_term());
        prop_assert_eq!(json(&restored), json(&original));
        prop_assert_eq!(snapshot_bytes(&restored), bytes);

        let after = entries(original.applied_index(), original.applied_term().max(1), after);
        let expected = apply_all(&mut original, &after);
        prop_assert_eq!(apply_all(&mut restored, &after), expected);
        prop_assert_eq!(json(&restored), json(&original));
        prop_assert_eq!(restored.next_expiry_ms(), original.next_expiry_ms());
        prop_assert_eq!(restored.session_count(), original.session_count());
    }
}

#[test]
fn every_truncation_is_refused_as_truncated() {
    let bytes = snapshot_bytes(&small_machine());
    for len in 0..bytes.len() {
        match read_snapshot(&bytes[..len], config()) {
            Err(SnapshotError::Truncated {
                expected, found, ..
            }) => {
                assert_eq!(found, len as u64, "cut at {len}");
                assert!(expected > found, "cut at {len}: expected {expected}");
            }
            Err(e) => panic!("cut at {len}: expected a truncation, got: {e}"),
            Ok(_) => panic!("cut at {len}: a truncated snapshot was restored"),
        }
    }
}

#[test]
fn every_single_byte_flip_is_refused() {
    let bytes = snapshot_bytes(&small_machine());
    for offset in 0..bytes.len() {
        for mask in [0x01u8, 0x80, 0xFF] {
            let mut damaged = bytes.clone();
            damaged[offset] ^= mask;
            let read = read_snapshot(&damaged[..], config());
            assert!(
                read.is_err(),
                "flipping {mask:#04x} at byte {offset} went unnoticed"
            );
        }
    }
}

#[test]
fn inspect_reports_every_flip_and_truncation_of_a_file() {
    let bytes = snapshot_bytes(&small_machine());
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("damaged.snap");
    let damaged_files = (0..bytes.len())
        .map(|offset| {
            let mut damaged = bytes.clone();
            damaged[offset] ^= 0x10;
            damaged
        })
        .chain((0..bytes.len()).map(|len| bytes[..len].to_vec()));
    for damaged in damaged_files {
        std::fs::write(&path, &damaged).expect("write");
        match inspect(&path) {
            Err(_) => {}
            Ok(status) => assert!(!status.checksum_ok(), "{} bytes passed", damaged.len()),
        }
    }
}

#[test]
fn inspect_reads_the_header_and_checks_an_intact_file() {
    let sm = small_machine();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("state.snap");
    let summary = write_snapshot_file(&sm, &members(&VOTERS), &path).expect("write");
    let status = inspect(&path).expect("inspect");
    assert!(status.checksum_ok(), "{:?}", status.damage);
    assert_eq!(status.meta.index, sm.applied_index());
    assert_eq!(status.meta.term, sm.applied_term());
    assert_eq!(status.meta.membership.membership.voters, VOTERS);
    assert_eq!(status.now_ms, sm.now_ms());
    assert_eq!(status.counts, summary.counts);
    assert_eq!(status.size_bytes, summary.bytes);
    assert_eq!(status.crc, Some(summary.crc));
}

#[test]
fn damage_in_a_record_names_the_record_and_its_offset() {
    let bytes = snapshot_bytes(&small_machine());
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("damaged.snap");
    let mut damaged = bytes.clone();
    // The last byte before the trailer is the CRC of the last record, the newest history's.
    let last = bytes.len() - 14;
    damaged[last] ^= 1;
    std::fs::write(&path, &damaged).expect("write");
    let message = read_snapshot_file(&path, config())
        .expect_err("refused")
        .to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("checksum mismatch in record"), "{message}");
    assert!(message.contains("(history) at byte"), "{message}");
    let status = inspect(&path).expect("the header is intact");
    assert_eq!(
        status.damage.map(|e| e.to_string()),
        Some(message),
        "inspect finds the same damage"
    );
}

#[test]
fn foreign_files_and_other_versions_are_refused_by_name() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "hello, this is not a snapshot\n").expect("write");
    let message = read_snapshot_file(&path, config())
        .expect_err("refused")
        .to_string();
    assert!(message.contains("not a raftkv snapshot"), "{message}");
    assert!(message.contains("notes.txt"), "{message}");
    assert!(inspect(&path).is_err());

    let mut bytes = snapshot_bytes(&small_machine());
    let unsupported = raftkv::state::SNAPSHOT_FORMAT_VERSION + 1;
    bytes[8] = unsupported as u8;
    let err = read_snapshot(&bytes[..], config()).expect_err("refused");
    assert!(
        matches!(err, SnapshotError::UnsupportedVersion { found, .. } if found == unsupported),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains(&format!("format version {unsupported} is not supported")),
        "{err}"
    );

    let missing = dir.path().join("missing.snap");
    let message = read_snapshot_file(&missing, config())
        .expect_err("refused")
        .to_string();
    assert!(message.contains("missing.snap: cannot read"), "{message}");
}

#[test]
fn a_snapshot_with_more_sessions_than_the_config_allows_is_refused() {
    let bytes = snapshot_bytes(&small_machine());
    let err = read_snapshot(&bytes[..], StateConfig { max_sessions: 2 }).expect_err("refused");
    assert!(err.to_string().contains("max_sessions"), "{err}");
    let err = read_snapshot(&bytes[..], StateConfig { max_sessions: 0 }).expect_err("refused");
    assert!(matches!(err, SnapshotError::Config { .. }), "{err}");
}

#[test]
fn the_writer_refuses_too_many_voters() {
    let voters: Vec<u64> = (0..=MAX_VOTERS as u64).collect();
    let err = write_snapshot(&machine(), &members(&voters), io::sink()).expect_err("refused");
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn a_file_write_replaces_the_old_file_and_leaves_no_temporary() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("state.snap");
    write_snapshot_file(&machine(), &members(&VOTERS), &path).expect("write");
    let sm = small_machine();
    write_snapshot_file(&sm, &members(&[4]), &path).expect("overwrite");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, vec!["state.snap"]);
    let (restored, meta) = read_snapshot_file(&path, config()).expect("read");
    assert_eq!(meta.membership.membership.voters, vec![4]);
    assert_eq!(json(&restored), json(&sm));
}

/// A writer that, once `pause_after` bytes have gone through, tells the test and waits for it to
/// say go on: the snapshot is provably half written while the test changes the original.
struct Pausing {
    bytes: Vec<u8>,
    pause_after: usize,
    halfway: Option<(mpsc::Sender<()>, mpsc::Receiver<()>)>,
}

impl Write for Pausing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes.extend_from_slice(buf);
        if self.bytes.len() >= self.pause_after {
            if let Some((reached, go_on)) = self.halfway.take() {
                reached.send(()).expect("the test waits");
                go_on.recv().expect("the test says go on");
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_clone_written_on_another_thread_is_the_state_as_of_the_clone() {
    let mut sm = machine();
    let value = "x".repeat(100);
    drive(
        &mut sm,
        (0..20_000).map(|i| put(&format!("k{i:05}"), &value)),
    );
    drive(&mut sm, [Request::new(Command::StackCreate { label: 3 })]);
    let expected_json = json(&sm);
    let expected_index = sm.applied_index();

    let (reached_tx, reached_rx) = mpsc::channel();
    let (go_on_tx, go_on_rx) = mpsc::channel();
    let frozen = sm.clone();
    let writer = std::thread::spawn(move || {
        let mut out = Pausing {
            bytes: Vec::new(),
            pause_after: 1 << 20,
            halfway: Some((reached_tx, go_on_rx)),
        };
        write_snapshot(&frozen, &members(&VOTERS), &mut out).expect("write");
        out.bytes
    });

    reached_rx.recv().expect("the writer reaches halfway");
    // Rewrite, delete and add keys on both sides of the writer's position, and push onto the stack.
    drive(
        &mut sm,
        (0..20_000)
            .step_by(7)
            .map(|i| put(&format!("k{i:05}"), "new")),
    );
    let deletes = (0..20_000).step_by(11).map(|i| {
        Request::new(Command::KvDelete {
            key: format!("k{i:05}"),
        })
    });
    drive(&mut sm, deletes);
    drive(&mut sm, [put("k99999", "added"), put("a-first", "added")]);
    drive(
        &mut sm,
        [Request::new(Command::StackPush {
            stack_id: 1,
            item: 4,
        })],
    );
    go_on_tx.send(()).expect("the writer waits");
    let bytes = writer.join().expect("the writer thread");

    let (restored, meta) = read_snapshot(&bytes[..], config()).expect("read");
    assert_eq!(meta.index, expected_index);
    assert_eq!(
        json(&restored),
        expected_json,
        "the snapshot is the state as of the clone"
    );
    assert_ne!(json(&sm), expected_json, "while the original moved on");
}

/// The payload ranges of a snapshot's records: (start of frame, payload length).
fn records(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    let mut at = 12;
    while bytes[at] != 0xFF {
        let len = u32::from_le_bytes(bytes[at + 1..at + 5].try_into().unwrap()) as usize;
        found.push((at, len));
        at += 5 + len + 4;
    }
    found
}

/// Recomputes every record CRC and the trailer, as a forger (or a buggy writer) would.
fn reseal(bytes: &mut [u8]) {
    for (at, len) in records(bytes) {
        let crc = crc32fast::hash(&bytes[at..at + 5 + len]);
        bytes[at + 5 + len..at + 9 + len].copy_from_slice(&crc.to_le_bytes());
    }
    let body = bytes.len() - 13;
    let crc = crc32fast::hash(&bytes[..body]);
    bytes[body + 9..].copy_from_slice(&crc.to_le_bytes());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Random bytes, with or without a valid preamble, are refused without a panic.
    #[test]
    fn garbage_never_panics(
        garbage in prop::collection::vec(any::<u8>(), 0..512),
        preamble in any::<bool>(),
    ) {
        let mut bytes = Vec::new();
        if preamble {
            bytes.extend_from_slice(&SNAPSHOT_MAGIC);
            bytes.extend_from_slice(&1u32.to_le_bytes());
        }
        bytes.extend_from_slice(&garbage);
        prop_assert!(read_snapshot(&bytes[..], config()).is_err());
    }

    /// Payload bytes changed and the checksums recomputed, so the damage reaches the decoder and
    /// the invariant checks: the result is an error or a valid machine, never a panic, and a
    /// machine that is restored can apply more entries.
    #[test]
    fn forged_payloads_never_panic(
        changes in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        more in prop::collection::vec((payload(), Just(false)), 0..20),
    ) {
        let mut bytes = snapshot_bytes(&small_machine());
        let payload_bytes: Vec<usize> = records(&bytes)
            .into_iter()
            .flat_map(|(at, len)| at + 5..at + 5 + len)
            .collect();
        for (which, byte) in changes {
            bytes[*which.get(&payload_bytes)] = byte;
        }
        reseal(&mut bytes);
        if let Ok((mut restored, meta)) = read_snapshot(&bytes[..], config()) {
            // (A forged index this high is valid, but numbering entries after it would overflow.)
            if meta.index < u64::MAX / 2 {
                let more = entries(meta.index, meta.term, more);
                apply_all(&mut restored, &more);
            }
        }
    }
}
