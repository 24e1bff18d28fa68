//! Log compaction and InstallSnapshot (the Raft paper's §7, Figure 13), one test per rule, through
//! the core's public API: the core asks its caller to send chunks and to install, and never holds
//! the snapshot's bytes itself.

use crate::support::raft::{
    append_ok, elect, flush, msg, paper_config, persist, restarted, restored,
};
use bytes::Bytes;
use raftkv::raft::{Body, ChunkOut, ConflictHint, Message, Raft, SnapshotChunk, SnapshotSend};

/// A leader of term 2 whose log is `1..=5` at term 1 plus its no-op at 6, everything applied
/// (node 2 acknowledged it), and compacted through 4. Node 3 has answered nothing yet.
fn compacted_leader() -> Raft {
    let mut l = restarted(paper_config(1, 3), restored(1, 0, &[1, 1, 1, 1, 1]));
    let out = elect(&mut l);
    persist(&mut l, &out);
    l.step(2, append_ok(2, 6));
    let out = flush(&mut l);
    assert_eq!(out.committed.len(), 6);
    l.compact(4);
    assert_eq!(l.log().first_index(), 5);
    l
}

fn rejection(term: u64, prev: u64, first_index: u64) -> Message {
    msg(
        term,
        Body::AppendResponse {
            success: false,
            index: prev,
            hint: Some(ConflictHint {
                conflict_term: None,
                first_index,
            }),
        },
    )
}

fn chunk(index: u64, offset: u64, data: &'static [u8], done: bool) -> ChunkOut {
    ChunkOut {
        index,
        term: 1,
        offset,
        data: Bytes::from_static(data),
        done,
    }
}

fn snapshot_msg(term: u64, c: ChunkOut) -> Message {
    msg(
        term,
        Body::Snapshot {
            index: c.index,
            snapshot_term: c.term,
            offset: c.offset,
            data: c.data,
            done: c.done,
        },
    )
}

fn ack(index: u64, next_offset: u64) -> Message {
    msg(2, Body::SnapshotAck { index, next_offset })
}

/// §7: "the leader must occasionally send snapshots to followers that lag behind … when the
/// leader has already discarded the next log entry that it needs to send to a follower."
#[test]
fn s7_leader_sends_a_snapshot_when_the_next_entry_was_compacted() {
    let mut l = compacted_leader();
    // Node 3's log is empty: it rejects the first append and points at index 1.
    l.step(3, rejection(2, 5, 1));
    let out = l.take_output();
    assert_eq!(
        out.snapshot_sends,
        vec![SnapshotSend {
            to: 3,
            index: 0,
            offset: 0
        }]
    );
    assert!(
        out.messages
            .iter()
            .all(|(to, m)| *to != 3 || !matches!(m.body, Body::Append { .. })),
        "no append can reach a follower that needs compacted entries"
    );
    l.send_snapshot_chunk(3, chunk(4, 0, b"abc", false));
    let out = l.take_output();
    assert_eq!(
        out.messages,
        vec![(3, snapshot_msg(2, chunk(4, 0, b"abc", false)))]
    );
}

/// Chunks move on only with progress: a duplicated or reordered acknowledgement sends nothing,
/// and a heartbeat round without any acknowledgement sends the awaited chunk again.
#[test]
fn s7_snapshot_chunks_survive_loss_duplication_and_reordering() {
    let mut l = compacted_leader();
    l.step(3, rejection(2, 5, 1));
    l.take_output();
    l.send_snapshot_chunk(3, chunk(4, 0, b"abc", false));
    l.take_output();
    l.step(3, ack(4, 3));
    let want = |offset| SnapshotSend {
        to: 3,
        index: 4,
        offset,
    };
    assert_eq!(l.take_output().snapshot_sends, vec![want(3)]);
    l.step(3, ack(4, 3));
    l.step(3, ack(4, 2));
    l.step(3, ack(9, 7));
    assert!(
        l.take_output().snapshot_sends.is_empty(),
        "no progress, nothing sent"
    );
    // The chunk at 3 is lost: the first heartbeat answer finds the progress of the ack above,
    // the second finds none and asks for the chunk again.
    let beat = msg(2, Body::HeartbeatResponse { read_seq: 0 });
    l.step(3, beat.clone());
    assert!(l.take_output().snapshot_sends.is_empty());
    l.step(3, beat);
    assert_eq!(l.take_output().snapshot_sends, vec![want(3)]);
    // A follower that lost what it held asks for the start.
    l.step(3, ack(4, 0));
    assert_eq!(l.take_output().snapshot_sends, vec![want(0)]);
}

/// A follower that crashed mid-transfer starts over (it asks for offset 0 and holds 8 bytes),
/// then an acknowledgement it sent before the crash arrives late and moves the leader to 144.
/// The follower answers every chunk at 144 with "I hold 8", which is no progress: once a
/// resent chunk did not help either, the leader must resume from what the follower holds, or
/// the transfer never ends (found by the seeded simulator, seed 1512 of the fixed runs).
#[test]
fn s7_a_stale_acknowledgement_from_before_a_crash_does_not_stall_the_transfer() {
    let mut l = compacted_leader();
    l.step(3, rejection(2, 5, 1));
    l.take_output();
    l.send_snapshot_chunk(3, chunk(4, 0, b"abcdefgh", false));
    l.take_output();
    let want = |offset| SnapshotSend {
        to: 3,
        index: 4,
        offset,
    };
    l.step(3, ack(4, 136));
    assert_eq!(l.take_output().snapshot_sends, vec![want(136)]);
    // The crash: the follower asks for the start, and gets the first chunk again.
    l.step(3, ack(4, 0));
    assert_eq!(l.take_output().snapshot_sends, vec![want(0)]);
    l.step(3, ack(4, 8));
    l.step(3, ack(4, 144));
    assert_eq!(
        l.take_output().snapshot_sends,
        vec![want(8), want(144)],
        "the stale 144 looks like progress"
    );
    // Every chunk at 144 is answered with 8, which is no progress.
    l.step(3, ack(4, 8));
    assert!(l.take_output().snapshot_sends.is_empty());
    let beat = msg(2, Body::HeartbeatResponse { read_seq: 0 });
    l.step(3, beat.clone());
    l.take_output();
    l.step(3, beat.clone());
    assert_eq!(
        l.take_output().snapshot_sends,
        vec![want(144)],
        "maybe lost"
    );
    l.step(3, ack(4, 8));
    l.step(3, beat);
    assert_eq!(
        l.take_output().snapshot_sends,
        vec![want(8)],
        "a second round without progress resumes from what the follower said it holds"
    );
    l.step(3, ack(4, 16));
    assert_eq!(l.take_output().snapshot_sends, vec![want(16)]);
}

/// Once the follower acknowledges the snapshot's index, replication resumes right after it.
#[test]
fn s7_after_the_install_the_leader_replicates_from_the_snapshot_on() {
    let mut l = compacted_leader();
    l.step(3, rejection(2, 5, 1));
    l.take_output();
    l.send_snapshot_chunk(3, chunk(4, 0, b"abc", true));
    l.take_output();
    l.step(3, append_ok(2, 4));
    assert_eq!(l.match_index(3), Some(4));
    let out = l.take_output();
    let append = out
        .messages
        .iter()
        .find_map(|(to, m)| match &m.body {
            Body::Append {
                prev_log_index,
                prev_log_term,
                entries,
                ..
            } if *to == 3 => Some((*prev_log_index, *prev_log_term, entries.len())),
            _ => None,
        })
        .expect("entries after the snapshot go to node 3");
    assert_eq!(append, (4, 1, 2));
}

/// Figure 13, receiver rule 1: "Reply immediately if term < currentTerm": a chunk from a stale
/// leader is never handed to the caller; the stale leader learns the newer term.
#[test]
fn s7_a_chunk_from_a_stale_term_is_ignored() {
    let mut f = restarted(paper_config(2, 3), restored(3, 2, &[1, 1]));
    f.step(1, snapshot_msg(2, chunk(5, 0, b"old", true)));
    let out = f.take_output();
    assert!(out.snapshot_chunks.is_empty());
    assert!(matches!(
        out.messages.as_slice(),
        [(
            1,
            Message {
                term: 3,
                body: Body::HeartbeatResponse { .. }
            }
        )]
    ));
    assert!(
        !f.install_snapshot(1, 1, 1, three()),
        "at or below the commit index"
    );
}

/// Figure 13, receiver rules 6 and 7: "If existing log entry has same index and term as snapshot's
/// last included entry, retain log entries following it"; otherwise "discard the entire log".
/// The acknowledgement waits for the new log prefix to be persisted.
#[test]
fn s7_install_keeps_a_matching_suffix_and_acknowledges_after_persisting() {
    let mut f = restarted(paper_config(2, 3), restored(2, 2, &[1, 1, 1, 2]));
    f.step(1, snapshot_msg(2, chunk(3, 0, b"state", true)));
    let out = f.take_output();
    assert_eq!(
        out.snapshot_chunks,
        vec![SnapshotChunk {
            from: 1,
            index: 3,
            term: 1,
            offset: 0,
            data: Bytes::from_static(b"state"),
            done: true,
        }]
    );
    assert!(f.install_snapshot(1, 3, 1, three()));
    assert_eq!((f.log().prev_index(), f.log().last_index()), (3, 4));
    let status = f.status();
    assert_eq!((status.commit_index, status.applied_index), (3, 3));
    let out = f.take_output();
    assert_eq!(out.log_prefix, Some((3, 1)));
    assert!(out.messages.is_empty());
    assert_eq!(out.messages_after_persist, vec![(1, append_ok(2, 3))]);
    assert!(
        out.committed.is_empty(),
        "the snapshot is the state through 3"
    );

    let mut f = restarted(paper_config(2, 3), restored(2, 0, &[1, 1, 1, 2]));
    f.step(1, snapshot_msg(2, chunk(3, 0, b"state", true)));
    f.take_output();
    assert!(
        f.install_snapshot(1, 3, 2, three()),
        "another term at index 3"
    );
    assert_eq!((f.log().prev_index(), f.log().last_index()), (3, 3));
    assert_eq!(f.log().term(3), Some(2));
}

/// A snapshot the follower already covers (its commit index is past it) is answered like a
/// duplicate append, so a leader that missed the acknowledgement moves on.
#[test]
fn s7_a_chunk_of_a_snapshot_already_covered_is_answered_with_the_commit_index() {
    let mut f = restarted(paper_config(2, 3), restored(2, 4, &[1, 1, 1, 2]));
    f.step(1, snapshot_msg(2, chunk(3, 0, b"state", true)));
    let out = f.take_output();
    assert!(out.snapshot_chunks.is_empty());
    assert_eq!(out.messages_after_persist, vec![(1, append_ok(2, 4))]);
}

/// The paper's three-node configuration, as a snapshot records it.
fn three() -> raftkv::raft::MembershipEntry {
    raftkv::raft::MembershipEntry {
        membership: raftkv::raft::Membership::new(vec![1, 2, 3], vec![]),
        context: Default::default(),
    }
}
