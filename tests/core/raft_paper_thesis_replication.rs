//! The replication extensions of Ongaro's thesis: linearizable reads by ReadIndex (§6.4), and
//! batching and pipelining of Appends (§10.2.1) within the configured limits, with a follower
//! that keeps Appends the network delivered before the one they continue.

use crate::support::raft::cluster::{delivered, Cluster};
use crate::support::raft::{
    append, append_ok, cmd_entry, elect, elect_steady, flush, msg, node, restarted, restored,
    voters,
};
use bytes::Bytes;
use raftkv::raft::{
    Body, Config, ConflictHint, Index, Output, ProposeError, Raft, ReadError, ReadState,
};

fn config(id: u64, n: u64) -> Config {
    Config::new(id, voters(n))
}

fn heartbeat(term: u64, commit: Index, read_seq: u64) -> raftkv::raft::Message {
    msg(term, Body::Heartbeat { commit, read_seq })
}

fn heartbeat_ack(term: u64, read_seq: u64) -> raftkv::raft::Message {
    msg(term, Body::HeartbeatResponse { read_seq })
}

/// §6.4: the leader records its commit index, then confirms it is still leader with a round of
/// heartbeats; the read is answered only once a majority (itself included) acknowledged that round.
#[test]
fn thesis_6_4_read_is_answered_after_a_heartbeat_round_of_a_majority() {
    let mut l = node(config(1, 3));
    elect_steady(&mut l);
    l.read_index(7).expect("leader");
    assert_eq!(
        l.take_output(),
        Output {
            messages: vec![(2, heartbeat(1, 1, 1)), (3, heartbeat(1, 1, 1))],
            ..Output::default()
        }
    );

    l.step(2, heartbeat_ack(1, 0));
    assert_eq!(
        l.take_output(),
        Output::default(),
        "an earlier round proves nothing"
    );

    l.step(3, heartbeat_ack(1, 1));
    assert_eq!(
        l.take_output(),
        Output {
            reads: vec![ReadState {
                id: 7,
                index: Some(1)
            }],
            ..Output::default()
        }
    );
}

/// §6.4: "If the leader has not yet marked an entry from its current term committed, it waits until
/// it has done so": before that its commit index may lag the previous leader's.
#[test]
fn thesis_6_4_leader_serves_reads_only_after_committing_an_entry_of_its_term() {
    // Entries 1–2 came from an earlier term; their commitment is unknown to the new leader.
    let mut l = restarted(config(1, 3), restored(1, 0, &[1, 1]));
    elect(&mut l);
    assert_eq!(l.status().term, 2);
    l.read_index(5).expect("leader");
    assert_eq!(l.take_output(), Output::default(), "no read round yet");

    l.step(2, append_ok(2, 3));
    assert_eq!(l.status().commit_index, 3);
    let out = l.take_output();
    assert_eq!(
        out.messages,
        vec![(2, heartbeat(2, 3, 1)), (3, heartbeat(2, 0, 1))],
        "the round starts with the no-op's commit (heartbeats never claim more than a follower has)"
    );
    assert!(out.reads.is_empty());

    l.step(2, heartbeat_ack(2, 1));
    assert_eq!(
        l.take_output().reads,
        vec![ReadState {
            id: 5,
            index: Some(3)
        }]
    );
}

/// §6.4: a follower forwards a read to its leader, which confirms leadership as for its own reads
/// and answers with its read index; the follower serves the read once it has applied that index.
#[test]
fn thesis_6_4_follower_read_is_forwarded_to_the_leader() {
    let mut c = Cluster::new(3, |cfg| cfg);
    c.elect(1);
    c.node_mut(2)
        .read_index(9)
        .expect("follower knows the leader");
    let events = c.stabilize();
    assert_eq!(
        delivered(&events),
        vec![
            (2, 1, msg(1, Body::ReadIndex { id: 9 })),
            (1, 2, heartbeat(1, 1, 1)),
            (1, 3, heartbeat(1, 1, 1)),
            (2, 1, heartbeat_ack(1, 1)),
            (3, 1, heartbeat_ack(1, 1)),
            (
                1,
                2,
                msg(
                    1,
                    Body::ReadIndexResponse {
                        id: 9,
                        index: Some(1)
                    }
                )
            ),
        ]
    );
    assert_eq!(
        c.reads[1],
        vec![ReadState {
            id: 9,
            index: Some(1)
        }]
    );

    let mut lonely = node(config(2, 3));
    assert_eq!(lonely.read_index(1), Err(ReadError::NoLeader));
}

/// §6.4 on a follower: a read forwarded to a leader that then dies is failed (index `None`) as
/// soon as the follower stops following it (its election timer fires, or another leader is
/// elected), not left to the client's timeout: the dead leader's answer never comes. A late
/// answer from the old leader is not reported twice.
#[test]
fn thesis_6_4_follower_fails_a_forwarded_read_when_its_leader_changes() {
    let mut c = Cluster::new(3, |cfg| cfg);
    c.elect(1);
    c.isolate(1);
    c.node_mut(2)
        .read_index(9)
        .expect("follower knows the leader");
    c.stabilize();
    assert!(c.reads[1].is_empty(), "nothing answered yet");
    c.campaign(2);
    assert_ne!(c.node(2).status().leader, Some(1));
    assert_eq!(c.reads[1], vec![ReadState { id: 9, index: None }]);
    c.node_mut(2).step(
        1,
        msg(
            1,
            Body::ReadIndexResponse {
                id: 9,
                index: Some(1),
            },
        ),
    );
    assert!(c.node_mut(2).take_output().reads.is_empty());
}

/// §6.4: a read can only be confirmed by the leader that took it; one that loses leadership fails
/// its pending reads at once (index `None`: the client retries elsewhere) rather than leaving them
/// hanging.
#[test]
fn thesis_6_4_leader_that_steps_down_fails_pending_reads() {
    let mut l = node(config(1, 3));
    elect_steady(&mut l);
    l.read_index(7).expect("leader");
    l.take_output();
    l.step(2, heartbeat_ack(5, 0));
    assert_eq!(
        l.take_output().reads,
        vec![ReadState { id: 7, index: None }]
    );
}

/// A limit on everything: proposals beyond `max_uncommitted_entries` and reads beyond
/// `max_pending_reads` are refused with a typed error instead of queueing without bound.
#[test]
fn leader_refuses_work_beyond_its_limits() {
    let mut cfg = config(1, 3);
    cfg.max_uncommitted_entries = 3;
    cfg.max_pending_reads = 2;
    let mut l = node(cfg);
    elect_steady(&mut l);
    let x = Bytes::from_static(b"x");
    propose_n(&mut l, 3, &x);
    assert_eq!(l.propose(x.clone()), Err(ProposeError::Busy));
    flush(&mut l);
    l.step(2, append_ok(1, 4));
    assert_eq!(l.propose(x), Ok((5, 1)), "commitment makes room");

    l.read_index(1).expect("room for two");
    l.read_index(2).expect("room for two");
    assert_eq!(l.read_index(3), Err(ReadError::Busy));
}

/// The `(prev_log_index, entry indexes)` of every Append to `to` in `out`.
fn appends_to(out: &Output, to: u64) -> Vec<(Index, Vec<Index>)> {
    out.messages
        .iter()
        .filter(|(dst, _)| *dst == to)
        .filter_map(|(_, m)| match &m.body {
            Body::Append {
                prev_log_index,
                entries,
                ..
            } => Some((*prev_log_index, entries.iter().map(|e| e.index).collect())),
            _ => None,
        })
        .collect()
}

fn propose_n(l: &mut Raft, n: usize, payload: &Bytes) {
    for _ in 0..n {
        l.propose(payload.clone()).expect("leader");
    }
}

/// §10.2.1, batching: proposals of one turn travel together, but no Append carries more than
/// `max_entries_per_msg` entries.
#[test]
fn thesis_10_2_1_appends_are_bounded_by_max_entries_per_msg() {
    let mut cfg = config(1, 3);
    cfg.max_entries_per_msg = 3;
    let mut l = node(cfg);
    elect_steady(&mut l);
    propose_n(&mut l, 10, &Bytes::from_static(&[7; 16]));
    let out = flush(&mut l);
    let expected = vec![
        (1, vec![2, 3, 4]),
        (4, vec![5, 6, 7]),
        (7, vec![8, 9, 10]),
        (10, vec![11]),
    ];
    assert_eq!(appends_to(&out, 2), expected);
    assert_eq!(appends_to(&out, 3), expected);
}

/// §10.2.1, batching by size: no Append carries more than `max_bytes_per_msg` of entries, except
/// that an entry larger than the limit travels alone (otherwise it could never be sent).
#[test]
fn thesis_10_2_1_appends_are_bounded_by_max_bytes_per_msg() {
    let mut cfg = config(1, 3);
    // Entries of 16 bytes count 40 with their overhead: two fit in 100 bytes, three do not.
    cfg.max_bytes_per_msg = 100;
    let mut l = node(cfg);
    elect_steady(&mut l);
    propose_n(&mut l, 5, &Bytes::from_static(&[7; 16]));
    let out = flush(&mut l);
    assert_eq!(
        appends_to(&out, 2),
        vec![(1, vec![2, 3]), (3, vec![4, 5]), (5, vec![6])]
    );

    propose_n(&mut l, 1, &Bytes::from_static(&[7; 200]));
    propose_n(&mut l, 1, &Bytes::from_static(&[7; 16]));
    let out = flush(&mut l);
    assert_eq!(appends_to(&out, 2), vec![(6, vec![7]), (7, vec![8])]);
}

/// §10.2.1, pipelining: in steady state the leader does not wait for each acknowledgement; a
/// follower receives up to `max_inflight_msgs` Appends before answering, then one more per answer.
#[test]
fn thesis_10_2_1_pipelines_up_to_max_inflight_msgs() {
    let mut cfg = config(1, 3);
    cfg.max_inflight_msgs = 3;
    let mut l = node(cfg);
    elect_steady(&mut l);
    let x = Bytes::from_static(b"x");
    let per_turn: Vec<Vec<(Index, Vec<Index>)>> = (0..5)
        .map(|_| {
            propose_n(&mut l, 1, &x);
            appends_to(&flush(&mut l), 2)
        })
        .collect();
    assert_eq!(
        per_turn,
        vec![
            vec![(1, vec![2])],
            vec![(2, vec![3])],
            vec![(3, vec![4])],
            vec![],
            vec![],
        ]
    );

    l.step(2, append_ok(1, 2));
    assert_eq!(appends_to(&l.take_output(), 2), vec![(4, vec![5, 6])]);
}

fn lease_config(id: u64, n: u64) -> Config {
    let mut cfg = config(id, n);
    cfg.lease_reads = true;
    cfg
}

/// Ticks a steady leader to its next heartbeat and has peer 2 acknowledge that round; returns
/// the round's number.
fn heartbeat_acked_by_2(l: &mut Raft) -> u64 {
    let term = l.status().term;
    for _ in 0..l.config().heartbeat_interval_ticks {
        l.tick();
    }
    let out = l.take_output();
    let seq = out
        .messages
        .iter()
        .find_map(|(to, m)| match m.body {
            Body::Heartbeat { read_seq, .. } if *to == 2 => Some(read_seq),
            _ => None,
        })
        .expect("a heartbeat to 2");
    l.step(2, heartbeat_ack(term, seq));
    assert_eq!(l.take_output(), Output::default());
    seq
}

/// §6.4.1: with lease reads, a leader whose last heartbeat round a majority acknowledged within
/// its lease answers a read at once, with no round of its own.
#[test]
fn thesis_6_4_1_a_leader_within_its_lease_answers_reads_without_a_round() {
    let mut l = node(lease_config(1, 3));
    elect_steady(&mut l);
    heartbeat_acked_by_2(&mut l);
    l.read_index(9).expect("leader");
    let commit = l.status().commit_index;
    assert_eq!(
        l.take_output(),
        Output {
            reads: vec![ReadState {
                id: 9,
                index: Some(commit)
            }],
            ..Output::default()
        }
    );
}

/// §6.4.1: the lease ends `lease_ticks` after the acknowledged round was sent; a read after that
/// waits for a heartbeat round as without leases.
#[test]
fn thesis_6_4_1_a_lapsed_lease_falls_back_to_a_heartbeat_round() {
    let mut l = node(lease_config(1, 3));
    elect_steady(&mut l);
    heartbeat_acked_by_2(&mut l);
    // The acknowledged round left at the last tick; later rounds go unanswered.
    for _ in 1..l.config().lease_ticks() {
        l.tick();
    }
    let _ = l.take_output();
    l.read_index(8).expect("leader");
    assert_eq!(l.take_output().reads.len(), 1, "the lease's last tick");
    l.tick();
    let _ = l.take_output();
    l.read_index(9).expect("leader");
    let out = l.take_output();
    assert!(out.reads.is_empty(), "the lease has lapsed: {out:?}");
    assert!(
        out.messages
            .iter()
            .any(|(_, m)| matches!(m.body, Body::Heartbeat { .. })),
        "a round confirms the read instead"
    );
}

/// A stall the host reports (`note_stall`) counts against the lease in full, though it costs
/// election timers nothing: a leader paused past its lease must not trust it.
#[test]
fn thesis_6_4_1_a_reported_stall_ends_the_lease() {
    let mut l = node(lease_config(1, 3));
    elect_steady(&mut l);
    heartbeat_acked_by_2(&mut l);
    l.note_stall(l.config().lease_ticks() as u32);
    assert_eq!(l.take_output(), Output::default(), "a stall is not a tick");
    l.read_index(9).expect("leader");
    assert!(l.take_output().reads.is_empty(), "no read without a round");
    assert_eq!(l.status().role, raftkv::raft::Role::Leader);
}

/// A leadership transfer's vote requests override the followers' lease, so a leader handing
/// over stops trusting its own.
#[test]
fn thesis_6_4_1_a_transfer_ends_the_lease() {
    let mut l = node(lease_config(1, 3));
    elect_steady(&mut l);
    heartbeat_acked_by_2(&mut l);
    l.transfer_leadership(2).expect("a caught-up target");
    let _ = l.take_output();
    l.read_index(9).expect("still leader");
    assert!(
        l.take_output().reads.is_empty(),
        "no lease read while transferring"
    );
}

/// With lease reads a node that just started refuses (pre-)votes for its first election timeout,
/// as if it had heard from a leader: it may have acknowledged a lease before it restarted.
/// Without lease reads it grants at once.
#[test]
fn thesis_6_4_1_a_restarted_node_refuses_votes_for_an_election_timeout() {
    let ask = |cfg: Config| {
        let mut f = restarted(cfg, restored(1, 1, &[1]));
        f.step(
            2,
            msg(
                2,
                Body::PreVote {
                    last_log_index: 1,
                    last_log_term: 1,
                },
            ),
        );
        f.take_output()
            .messages
            .iter()
            .any(|(_, m)| matches!(m.body, Body::PreVoteResponse { granted: true }))
    };
    assert!(!ask(lease_config(1, 3)), "granted within the boot lease");
    assert!(ask(config(1, 3)), "refused without lease reads");
}

/// Lease reads need CheckQuorum (the followers' side of the lease) and an election timeout long
/// enough to leave a lease after the margins; a core refuses a configuration without either.
#[test]
fn thesis_6_4_1_lease_reads_are_refused_without_check_quorum_or_room_for_a_lease() {
    let mut cfg = lease_config(1, 3);
    assert!(cfg.validate().is_ok());
    cfg.check_quorum = false;
    let err = cfg.validate().expect_err("no CheckQuorum").to_string();
    assert!(err.contains("lease_reads needs check_quorum"), "{err}");

    let mut cfg = lease_config(1, 3);
    cfg.heartbeat_interval_ticks = 1;
    cfg.election_timeout_ticks_min = 4;
    assert_eq!(cfg.lease_ticks(), 0);
    let err = cfg.validate().expect_err("no room").to_string();
    assert!(err.contains("at least 5"), "{err}");
    cfg.election_timeout_ticks_min = 5;
    assert_eq!(cfg.lease_ticks(), 1);
    assert!(cfg.validate().is_ok());
}

/// Follower 2 of 3 in term 1 that accepted entry 1 from leader 1; it keeps at most
/// `max_early_appends` Appends that arrive before the one they continue.
fn follower_keeping(max_early_appends: usize) -> Raft {
    let mut cfg = config(2, 3);
    cfg.max_early_appends = max_early_appends;
    let mut f = restarted(cfg, restored(1, 0, &[]));
    f.step(1, append(1, (0, 0), vec![cmd_entry(1, 1)], 0));
    flush(&mut f);
    f
}

/// An Append of leader 1 in term 1 after `prev` (term 1) carrying entries `from..=to` of term 1.
fn append_of_1(prev: Index, from: Index, to: Index) -> raftkv::raft::Message {
    let entries = (from..=to).map(|i| cmd_entry(i, 1)).collect();
    append(1, (prev, 1), entries, 0)
}

fn rejected_beyond(term: u64, index: Index, first_index: Index) -> raftkv::raft::Message {
    let hint = Some(ConflictHint {
        conflict_term: None,
        first_index,
    });
    msg(
        term,
        Body::AppendResponse {
            success: false,
            index,
            hint,
        },
    )
}

/// §10.2.1 with pipelining over a network that reorders: an Append that arrives before the one
/// it continues is kept, unanswered, and stepped once the gap fills, lowest index first, each
/// acknowledged only with the batch that appends it (so after it is persisted, §5.3).
#[test]
fn thesis_10_2_1_early_appends_are_stepped_in_index_order_once_the_gap_fills() {
    let mut f = follower_keeping(8);
    f.step(1, append_of_1(4, 5, 5));
    f.step(1, append_of_1(2, 3, 4));
    assert_eq!(f.take_output(), Output::default(), "kept, not answered");

    f.step(1, append_of_1(1, 2, 2));
    let out = f.take_output();
    let indexes: Vec<Index> = out.entries.iter().map(|e| e.index).collect();
    assert_eq!(indexes, vec![2, 3, 4, 5]);
    assert!(
        out.messages.is_empty(),
        "no acknowledgement before the persist"
    );
    assert_eq!(
        out.messages_after_persist,
        vec![
            (1, append_ok(1, 2)),
            (1, append_ok(1, 4)),
            (1, append_ok(1, 5))
        ]
    );
}

/// The buffer is bounded (`max_early_appends`): an early Append beyond it is rejected at once,
/// as without the buffer, and the leader probes from the follower's log end (§5.3).
#[test]
fn thesis_10_2_1_early_appends_beyond_the_bound_are_rejected_at_once() {
    let mut f = follower_keeping(1);
    f.step(1, append_of_1(3, 4, 4));
    assert_eq!(f.take_output(), Output::default());
    f.step(1, append_of_1(4, 5, 5));
    assert_eq!(
        f.take_output().messages_after_persist,
        vec![(1, rejected_beyond(1, 4, 2))]
    );

    let mut off = follower_keeping(0);
    off.step(1, append_of_1(3, 4, 4));
    assert_eq!(
        off.take_output().messages_after_persist,
        vec![(1, rejected_beyond(1, 3, 2))],
        "0 keeps nothing"
    );
}

/// A duplicated early Append (the network delivered it twice, or the leader sent the same range
/// again) is kept once, the copy carrying more entries, and answered once.
#[test]
fn thesis_10_2_1_a_duplicated_early_append_is_kept_once() {
    let mut f = follower_keeping(2);
    f.step(1, append_of_1(2, 3, 3));
    f.step(1, append_of_1(2, 3, 3));
    f.step(1, append_of_1(2, 3, 4));
    f.step(1, append_of_1(4, 5, 5));
    assert_eq!(
        f.take_output(),
        Output::default(),
        "all kept within a bound of 2"
    );

    f.step(1, append_of_1(1, 2, 2));
    let out = f.take_output();
    assert_eq!(out.entries.last().map(|e| e.index), Some(5));
    assert_eq!(
        out.messages_after_persist,
        vec![
            (1, append_ok(1, 2)),
            (1, append_ok(1, 4)),
            (1, append_ok(1, 5))
        ]
    );
}

/// A new leader's first Append is a probe from its log's end: a follower that has accepted
/// nothing of the term yet rejects it at once (§5.3), since nothing else is on the way.
#[test]
fn thesis_10_2_1_a_probe_beyond_the_log_end_is_rejected_at_once() {
    let mut f = follower_keeping(8);
    f.step(3, append(2, (4, 2), vec![], 0));
    assert_eq!(
        f.take_output().messages_after_persist,
        vec![(3, rejected_beyond(2, 4, 2))]
    );
}

/// §5.1: a message of an older term is never obeyed. An Append kept in term 1 is forgotten when
/// the term changes, even if the new leader's log makes it fit.
#[test]
fn thesis_10_2_1_early_appends_are_forgotten_on_a_new_term() {
    let mut f = follower_keeping(8);
    f.step(1, append_of_1(2, 3, 3));
    assert_eq!(f.take_output(), Output::default());

    // Leader 3 of term 2 holds entry 2 of term 1 too, and sends it.
    f.step(3, append(2, (1, 1), vec![cmd_entry(2, 1)], 0));
    let out = f.take_output();
    assert_eq!(out.entries, vec![cmd_entry(2, 1)]);
    assert_eq!(out.messages_after_persist, vec![(3, append_ok(2, 2))]);
    assert_eq!(
        f.log().last_index(),
        2,
        "entry 3 of the old leader is not appended"
    );
}

/// A gap that does not fill (the Append it waits for was lost) is reported after two ticks:
/// every kept Append is rejected, as it would have been at once without the buffer (§5.3), so
/// whichever the leader waits for is answered, and none is kept.
#[test]
fn thesis_10_2_1_a_gap_that_does_not_fill_is_reported_after_two_ticks() {
    let mut f = follower_keeping(8);
    f.step(1, append_of_1(5, 6, 6));
    f.step(1, append_of_1(3, 4, 4));
    f.tick();
    assert_eq!(
        f.take_output(),
        Output::default(),
        "one tick: still waiting"
    );
    f.tick();
    assert_eq!(
        f.take_output().messages_after_persist,
        vec![(1, rejected_beyond(1, 3, 2)), (1, rejected_beyond(1, 5, 2))]
    );

    f.step(1, append_of_1(1, 2, 3));
    let out = f.take_output();
    assert_eq!(
        out.entries.last().map(|e| e.index),
        Some(3),
        "none was kept"
    );
    assert_eq!(out.messages_after_persist, vec![(1, append_ok(1, 3))]);
}
