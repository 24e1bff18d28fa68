//! Snapshots whose checksums are right but whose contents are not a state the machine could have
//! reached: each must be refused with a message saying what is wrong, never restored.

use std::borrow::Cow;

use bytes::Bytes;

use super::format::Kind;
use super::frame_write::FrameWriter;
use super::records::{HeaderRecord, KeyRecord, SessionRecord, StackRecord};
use super::{read_snapshot, SnapshotCounts, SnapshotError};
use crate::state::{ApplyResult, StateConfig, Student};

/// A header at index 10 announcing `counts`, with no stacks created yet unless `next_stack_id`
/// says so.
fn header(counts: SnapshotCounts, next_stack_id: u64) -> HeaderRecord<'static> {
    HeaderRecord {
        index: 10,
        term: 2,
        now_ms: 1_000,
        next_stack_id,
        voters: Cow::Owned(vec![1, 2, 3]),
        counts,
        learners: Cow::Owned(vec![4]),
        members: bytes::Bytes::from_static(b"addresses"),
        // As a file before format 3 has them: keys' versions are then log indexes.
        revision: 0,
        compact_revision: 0,
        auth: Cow::Owned(Default::default()),
    }
}

/// A snapshot: preamble, `header`, whatever `body` writes, trailer.
fn craft(header: HeaderRecord<'_>, body: impl FnOnce(&mut FrameWriter<&mut Vec<u8>>)) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut w = FrameWriter::start(&mut bytes).expect("write to memory");
    w.record(Kind::Header, &header).expect("write to memory");
    body(&mut w);
    w.finish().expect("write to memory");
    bytes
}

fn key(key: &str, version: u64) -> KeyRecord<'_> {
    KeyRecord {
        key: Cow::Borrowed(key),
        value: Bytes::from_static(b"v"),
        version,
        expires_at_ms: None,
        create_revision: 0,
        writes: 0,
        lease: 0,
    }
}

fn session(client_id: u64, last_index: u64) -> SessionRecord<'static> {
    SessionRecord {
        client_id,
        last_seq: 1,
        last_index,
        result: Cow::Owned(ApplyResult::Written),
    }
}

fn keys(n: u64) -> SnapshotCounts {
    SnapshotCounts {
        keys: n,
        ..SnapshotCounts::default()
    }
}

/// Reads `bytes` with room for two sessions; returns the error's message.
fn refusal(bytes: &[u8]) -> String {
    match read_snapshot(bytes, StateConfig { max_sessions: 2 }) {
        Ok(_) => panic!("a malformed snapshot was restored"),
        Err(e @ SnapshotError::Malformed { .. }) => e.to_string(),
        Err(e) => panic!("expected a malformed snapshot, got: {e}"),
    }
}

#[test]
fn a_crafted_valid_snapshot_restores() {
    let bytes = craft(header(keys(2), 1), |w| {
        w.record(Kind::Key, &key("a", 3)).unwrap();
        w.record(Kind::Key, &key("b", 10)).unwrap();
    });
    let (machine, meta) = read_snapshot(&bytes[..], StateConfig::default()).expect("valid");
    assert_eq!((meta.index, meta.term), (10, 2));
    let m = &meta.membership;
    assert_eq!(
        (&m.membership.voters[..], &m.membership.learners[..]),
        (&[1, 2, 3][..], &[4][..])
    );
    assert_eq!(&m.context[..], b"addresses");
    assert_eq!(machine.kv_get("b").map(|v| v.version), Some(10));
}

#[test]
fn keys_out_of_order_or_repeated_are_refused() {
    for (first, second) in [("b", "a"), ("a", "a")] {
        let bytes = craft(header(keys(2), 1), |w| {
            w.record(Kind::Key, &key(first, 1)).unwrap();
            w.record(Kind::Key, &key(second, 1)).unwrap();
        });
        assert!(refusal(&bytes).contains("order"), "{}", refusal(&bytes));
    }
}

#[test]
fn an_empty_key_is_refused() {
    let bytes = craft(header(keys(1), 1), |w| {
        w.record(Kind::Key, &key("", 1)).unwrap();
    });
    assert!(refusal(&bytes).contains("empty"), "{}", refusal(&bytes));
}

#[test]
fn a_version_past_the_snapshot_index_is_refused() {
    for version in [0, 11] {
        let bytes = craft(header(keys(1), 1), |w| {
            w.record(Kind::Key, &key("a", version)).unwrap();
        });
        let message = refusal(&bytes);
        assert!(message.contains("not an applied index"), "{message}");
    }
}

#[test]
fn counts_that_disagree_with_the_header_are_refused() {
    let fewer = craft(header(keys(2), 1), |w| {
        w.record(Kind::Key, &key("a", 1)).unwrap();
    });
    assert!(
        refusal(&fewer).contains("the header counts"),
        "{}",
        refusal(&fewer)
    );
    let more = craft(header(keys(1), 1), |w| {
        w.record(Kind::Key, &key("a", 1)).unwrap();
        w.record(Kind::Key, &key("b", 1)).unwrap();
    });
    assert!(
        refusal(&more).contains("than the 1 counted"),
        "{}",
        refusal(&more)
    );
}

#[test]
fn records_out_of_section_order_are_refused() {
    let counts = SnapshotCounts {
        students: 1,
        keys: 1,
        ..SnapshotCounts::default()
    };
    let bytes = craft(header(counts, 1), |w| {
        w.record(Kind::Key, &key("a", 1)).unwrap();
        let student = Student {
            roll_no: 1,
            name: "n".into(),
            address: "a".into(),
            phone: "p".into(),
        };
        w.record(Kind::Student, &student).unwrap();
    });
    let message = refusal(&bytes);
    assert!(
        message.contains("a student record after key records"),
        "{message}"
    );
}

#[test]
fn a_second_header_is_refused() {
    let bytes = craft(header(keys(0), 1), |w| {
        w.record(Kind::Header, &header(keys(0), 1)).unwrap();
    });
    assert!(
        refusal(&bytes).contains("second header"),
        "{}",
        refusal(&bytes)
    );
}

#[test]
fn stacks_with_missing_or_extra_items_or_impossible_ids_are_refused() {
    let stacks = |n| SnapshotCounts {
        stacks: n,
        ..SnapshotCounts::default()
    };
    let stack = |id, items| StackRecord {
        id,
        label: 7,
        items,
    };
    let missing = craft(header(stacks(1), 2), |w| {
        w.record(Kind::Stack, &stack(1, 3)).unwrap();
        w.record(Kind::StackItems, &vec![1i64, 2]).unwrap();
    });
    assert!(
        refusal(&missing).contains("lacks its last 1"),
        "{}",
        refusal(&missing)
    );
    let extra = craft(header(stacks(1), 2), |w| {
        w.record(Kind::Stack, &stack(1, 1)).unwrap();
        w.record(Kind::StackItems, &vec![1i64, 2]).unwrap();
    });
    assert!(
        refusal(&extra).contains("expects 1 more"),
        "{}",
        refusal(&extra)
    );
    let orphan = craft(header(stacks(0), 1), |w| {
        w.record(Kind::StackItems, &vec![1i64]).unwrap();
    });
    assert!(
        refusal(&orphan).contains("no stack"),
        "{}",
        refusal(&orphan)
    );
    let gap = craft(header(stacks(1), 3), |w| {
        w.record(Kind::Stack, &stack(2, 0)).unwrap();
    });
    assert!(
        refusal(&gap).contains("out of sequence"),
        "{}",
        refusal(&gap)
    );
    let unissued = craft(header(stacks(1), 1), |w| {
        w.record(Kind::Stack, &stack(1, 0)).unwrap();
    });
    assert!(
        refusal(&unissued).contains("never handed out"),
        "{}",
        refusal(&unissued)
    );
    let counter_ahead = craft(header(stacks(1), 5), |w| {
        w.record(Kind::Stack, &stack(1, 0)).unwrap();
    });
    let message = refusal(&counter_ahead);
    assert!(message.contains("next stack id is 5"), "{message}");
    let same_label = craft(header(stacks(2), 3), |w| {
        w.record(Kind::Stack, &stack(1, 0)).unwrap();
        w.record(Kind::Stack, &stack(2, 0)).unwrap();
    });
    assert!(
        refusal(&same_label).contains("label 7"),
        "{}",
        refusal(&same_label)
    );
    let no_counter = craft(header(stacks(0), 0), |_| {});
    assert!(
        refusal(&no_counter).contains("next stack id"),
        "{}",
        refusal(&no_counter)
    );
}

#[test]
fn sessions_over_the_limit_or_sharing_an_index_are_refused() {
    let sessions = |n| SnapshotCounts {
        sessions: n,
        ..SnapshotCounts::default()
    };
    let too_many = craft(header(sessions(3), 1), |w| {
        for client in 1..=3 {
            w.record(Kind::Session, &session(client, client)).unwrap();
        }
    });
    assert!(
        refusal(&too_many).contains("max_sessions"),
        "{}",
        refusal(&too_many)
    );
    let shared_index = craft(header(sessions(2), 1), |w| {
        w.record(Kind::Session, &session(1, 5)).unwrap();
        w.record(Kind::Session, &session(2, 5)).unwrap();
    });
    assert!(
        refusal(&shared_index).contains("index 5"),
        "{}",
        refusal(&shared_index)
    );
}

#[test]
fn bytes_after_the_trailer_are_refused() {
    let mut bytes = craft(header(keys(0), 1), |_| {});
    bytes.push(0);
    assert!(
        refusal(&bytes).contains("after the trailer"),
        "{}",
        refusal(&bytes)
    );
}

#[test]
fn a_huge_length_is_refused_before_anything_is_allocated() {
    let mut bytes = craft(header(keys(0), 1), |_| {});
    // The header record's length field follows the 12-byte preamble and its kind byte.
    bytes[13..17].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(
        refusal(&bytes).contains("over the limit"),
        "{}",
        refusal(&bytes)
    );
}

/// etcd's envelope after the trailer (zeros to a 512-byte page, then a 32-byte hash), as the gRPC
/// Snapshot sends it, is accepted; any other tail is refused.
#[test]
fn etcds_envelope_after_the_trailer_is_accepted_and_other_tails_are_not() {
    use super::{ETCD_HASH_BYTES, ETCD_PAGE_BYTES};
    let bytes = craft(header(keys(0), 1), |_| {});
    let page = ETCD_PAGE_BYTES as usize;
    let mut enveloped = bytes.clone();
    enveloped.resize(bytes.len().div_ceil(page) * page, 0);
    enveloped.extend_from_slice(&[0xAB; ETCD_HASH_BYTES]);
    assert!(read_snapshot(&enveloped[..], StateConfig::default()).is_ok());

    let mut dirty_padding = enveloped.clone();
    dirty_padding[bytes.len()] = 1;
    let mut short = bytes.clone();
    short.extend_from_slice(&[0; 5]);
    for tail in [dirty_padding, short] {
        assert!(
            refusal(&tail).contains("bytes after the trailer"),
            "{}",
            refusal(&tail)
        );
    }
}
