//! Log replication, one test per rule of the Raft paper's §5.3 (and the persistence rules of
//! Figure 2), ending with Figure 7: a new leader brings each of the six follower logs (a)–(f) in
//! line with its own.

use crate::support::raft::cluster::Cluster;
use crate::support::raft::{
    append, append_ok, cmd_entry, data_entry, elect_steady, flush, log, msg, node, noop, paper,
    paper_config, persist, restarted, restored, tick_until_campaign,
};
use bytes::Bytes;
use raftkv::raft::{Body, ConflictHint, HardState, Index, Message, Output, Raft, Role, Term};

/// §5.3: "Once a leader has been elected, it begins servicing client requests"; §8: it first
/// appends a no-op of its term. The Appends carrying it leave at once, before the leader's own
/// write is durable (the ordering contract lets a leader replicate while it persists).
#[test]
fn s5_3_new_leader_appends_noop_and_replicates_at_once() {
    let mut l = node(paper_config(1, 3));
    tick_until_campaign(&mut l);
    flush(&mut l);
    l.step(2, msg(1, Body::VoteResponse { granted: true }));
    assert_eq!(l.status().role, Role::Leader);

    let first = append(1, (0, 0), vec![noop(1, 1)], 0);
    assert_eq!(
        l.take_output(),
        Output {
            entries: vec![noop(1, 1)],
            messages: vec![(2, first.clone()), (3, first)],
            ..Output::default()
        }
    );
}

/// §5.3 and the ordering contract: the leader's own copy counts toward the majority only once it is
/// durable. One follower's acknowledgement is not a majority of three on its own.
#[test]
fn s5_3_leader_counts_itself_only_after_persisting() {
    let mut l = node(paper_config(1, 3));
    tick_until_campaign(&mut l);
    flush(&mut l);
    l.step(2, msg(1, Body::VoteResponse { granted: true }));
    let out = l.take_output();
    assert_eq!(out.entries, vec![noop(1, 1)]);

    l.step(2, append_ok(1, 1));
    assert_eq!(
        l.status().commit_index,
        0,
        "the leader's no-op is not durable yet"
    );
    assert_eq!(l.take_output(), Output::default());

    persist(&mut l, &out);
    assert_eq!(l.status().commit_index, 1);
    assert_eq!(
        l.take_output(),
        Output {
            hard_state: Some(HardState {
                term: 1,
                vote: Some(1),
                commit: 1
            }),
            committed: vec![noop(1, 1)],
            ..Output::default()
        }
    );
}

/// §5.3 with Figure 2: a follower acknowledges entries only once they are durable, so its answer is
/// in `messages_after_persist`; and it applies only entries that are both committed and durable.
#[test]
fn s5_3_follower_acknowledges_and_applies_only_after_persisting() {
    let mut f = restarted(paper_config(2, 3), restored(1, 0, &[]));
    f.step(1, append(1, (0, 0), log(&[1, 1]), 1));
    let out = f.take_output();
    assert_eq!(
        out,
        Output {
            hard_state: Some(HardState {
                term: 1,
                vote: None,
                commit: 1
            }),
            entries: log(&[1, 1]),
            messages_after_persist: vec![(1, append_ok(1, 2))],
            ..Output::default()
        }
    );
    assert_eq!(
        f.take_output(),
        Output::default(),
        "nothing applies before persisting"
    );
    persist(&mut f, &out);
    assert_eq!(f.take_output().committed, log(&[1]));
}

/// §5.3: "The leader appends the command to its log as a new entry, then issues AppendEntries RPCs
/// in parallel to each of the other servers to replicate the entry."
#[test]
fn s5_3_leader_replicates_proposals_to_every_follower() {
    let mut l = node(paper_config(1, 3));
    elect_steady(&mut l);
    assert_eq!(l.propose(Bytes::from_static(b"x")), Ok((2, 1)));
    let x = data_entry(2, 1, b"x");
    let a = append(1, (1, 1), vec![x.clone()], 1);
    assert_eq!(
        l.take_output(),
        Output {
            entries: vec![x],
            messages: vec![(2, a.clone()), (3, a)],
            ..Output::default()
        }
    );
}

/// §5.3: "A log entry is committed once the leader that created the entry has replicated it on a
/// majority of the servers"; committed entries are applied in log order, each exactly once.
#[test]
fn s5_3_leader_commits_on_majority_and_applies_in_order() {
    let mut l = node(paper_config(1, 5));
    elect_steady(&mut l);
    for data in [b"a", b"b", b"c"] {
        l.propose(Bytes::from_static(data)).expect("leader");
    }
    flush(&mut l);

    l.step(2, append_ok(1, 4));
    assert_eq!(l.status().commit_index, 1, "two of five is no majority");
    assert!(l.take_output().committed.is_empty());

    l.step(3, append_ok(1, 3));
    assert_eq!(l.status().commit_index, 3);
    assert_eq!(
        l.take_output().committed,
        vec![data_entry(2, 1, b"a"), data_entry(3, 1, b"b")]
    );

    l.step(5, append_ok(1, 4));
    assert_eq!(l.status().commit_index, 4);
    assert_eq!(l.take_output().committed, vec![data_entry(4, 1, b"c")]);
}

/// §5.3, the AppendEntries consistency check: "If the follower does not find an entry in its log
/// with the same index and term, then it refuses the new entries." The refusal names where the
/// follower's log diverges, so the leader can skip a whole term at once.
#[test]
fn s5_3_consistency_check_rejects_with_a_hint() {
    let reject = |index, conflict_term, first_index| Body::AppendResponse {
        success: false,
        index,
        hint: Some(ConflictHint {
            conflict_term,
            first_index,
        }),
    };
    let cases = [
        (
            (3, 2),
            msg(
                2,
                Body::AppendResponse {
                    success: true,
                    index: 3,
                    hint: None,
                },
            ),
        ),
        ((3, 3), msg(2, reject(3, Some(2), 3))),
        ((2, 2), msg(2, reject(2, Some(1), 1))),
        ((4, 2), msg(2, reject(4, None, 4))),
    ];
    for (prev, answer) in cases {
        let mut f = restarted(paper_config(2, 3), restored(2, 0, &[1, 1, 2]));
        f.step(1, append(2, prev, vec![], 0));
        let out = f.take_output();
        assert_eq!(
            out.messages_after_persist,
            vec![(1, answer)],
            "prev {prev:?}"
        );
        assert!(out.messages.is_empty() && out.entries.is_empty());
        assert_eq!(f.log().last_index(), 3, "a refusal changes nothing");
    }
}

/// §5.3: "If an existing entry conflicts with a new one (same index but different terms), delete
/// the existing entry and all that follow it"; entries already present are kept as they are.
#[test]
fn s5_3_follower_deletes_conflicting_suffix_but_keeps_matching_entries() {
    let mut f = restarted(paper_config(2, 3), restored(2, 0, &[1, 1, 2, 2]));
    f.step(1, append(3, (2, 1), vec![cmd_entry(3, 3)], 0));
    let out = f.take_output();
    assert_eq!(
        out.entries,
        vec![cmd_entry(3, 3)],
        "persist: replace from index 3"
    );
    assert_eq!(out.messages_after_persist, vec![(1, append_ok(3, 3))]);
    assert_eq!(entries_of(&f), log(&[1, 1, 3]));

    // A delayed copy of an older Append holds nothing new: the log must not shrink.
    let mut f = restarted(paper_config(2, 3), restored(2, 0, &[1, 1, 2, 2]));
    f.step(1, append(2, (1, 1), vec![cmd_entry(2, 1)], 0));
    let out = f.take_output();
    assert!(out.entries.is_empty());
    assert_eq!(out.messages_after_persist, vec![(1, append_ok(2, 2))]);
    assert_eq!(entries_of(&f), log(&[1, 1, 2, 2]));
}

/// §5.3: "If leaderCommit > commitIndex, set commitIndex = min(leaderCommit, index of last new
/// entry)"; heartbeats carry the commit index too.
#[test]
fn s5_3_follower_commit_follows_leader_commit() {
    let mut f = restarted(paper_config(2, 3), restored(1, 0, &[]));
    f.step(1, append(1, (0, 0), log(&[1, 1, 1]), 2));
    assert_eq!(f.status().commit_index, 2);
    flush(&mut f);
    assert_eq!(f.take_output().committed, log(&[1, 1]));

    f.step(
        1,
        msg(
            1,
            Body::Heartbeat {
                commit: 3,
                read_seq: 0,
            },
        ),
    );
    assert_eq!(f.take_output().committed, log(&[1, 1, 1])[2..].to_vec());

    // A commit index beyond the entries this Append vouches for is capped at them: the follower's
    // entries 2–3 come from an older term and may not be the leader's, so they must not commit.
    let mut f = restarted(paper_config(2, 3), restored(2, 0, &[1, 2, 2]));
    f.step(1, append(3, (1, 1), vec![], 9));
    assert_eq!(f.status().commit_index, 1);
    f.step(1, append(3, (1, 1), vec![cmd_entry(2, 2)], 9));
    assert_eq!(
        f.status().commit_index,
        2,
        "entry 2 is now vouched for, entry 3 still not"
    );
}

/// §5.3: "The leader keeps track of the highest index it knows to be committed, and it includes
/// that index in future AppendEntries RPCs (including heartbeats) so that the other servers
/// eventually find out." Every node then applies the same entries in the same order.
#[test]
fn s5_3_commit_index_propagates_to_followers() {
    let mut c = Cluster::new(3, paper);
    c.elect(1);
    c.node_mut(1)
        .propose(Bytes::from_static(b"x"))
        .expect("leader");
    c.stabilize();
    assert_eq!(c.node(1).status().commit_index, 2);
    assert_eq!(
        c.node(2).status().commit_index,
        1,
        "learnt with the Append for x"
    );

    for _ in 0..c.node(1).config().heartbeat_interval_ticks {
        c.tick(1);
    }
    c.stabilize();
    let expected = vec![noop(1, 1), data_entry(2, 1, b"x")];
    for id in c.ids() {
        assert_eq!(c.node(id).status().commit_index, 2, "node {id}");
        assert_eq!(c.applied[id as usize - 1], expected, "node {id}");
    }
}

/// The leader's log in Figure 7 (indices 1–10), in term 8 before it appends anything.
const FIGURE_7_LEADER: &[Term] = &[1, 1, 1, 4, 4, 5, 5, 6, 6, 6];

/// Figure 7's followers (a)–(f), with the `prev_log_index` of every Append the leader must send
/// until the follower accepts one: the backtracking path the conflict hints lead it along.
const FIGURE_7_FOLLOWERS: [(&str, &[Term], &[Index]); 6] = [
    ("a", &[1, 1, 1, 4, 4, 5, 5, 6, 6], &[10, 9]),
    ("b", &[1, 1, 1, 4], &[10, 4]),
    ("c", &[1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6], &[10]),
    ("d", &[1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7], &[10]),
    ("e", &[1, 1, 1, 4, 4, 4, 4], &[10, 7, 5]),
    ("f", &[1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3], &[10, 6, 3]),
];

/// §5.3, Figure 7: "the leader handles inconsistencies by forcing the followers' logs to duplicate
/// its own". Each follower, missing entries or holding extra ones, ends with exactly the leader's
/// log after the round trips the conflict hints allow, then learns the commit index.
#[test]
fn s5_3_figure_7_every_follower_converges_to_the_leaders_log() {
    for (name, follower_log, expected_prevs) in FIGURE_7_FOLLOWERS {
        let mut leader = restarted(paper_config(1, 3), restored(7, 0, FIGURE_7_LEADER));
        tick_until_campaign(&mut leader);
        flush(&mut leader);
        // Server 3 grants the vote and is never heard from again; (d) would refuse it.
        leader.step(3, msg(8, Body::VoteResponse { granted: true }));
        assert_eq!(leader.status().role, Role::Leader, "({name})");
        let last_term = *follower_log.last().expect("non-empty");
        let mut follower = restarted(paper_config(2, 3), restored(last_term, 0, follower_log));

        let prevs = replicate_until_quiet(&mut leader, &mut follower);
        assert_eq!(prevs, expected_prevs, "({name}): Appends' prev_log_index");
        let mut expected_log = log(FIGURE_7_LEADER);
        expected_log.push(noop(11, 8));
        assert_eq!(entries_of(&leader), expected_log, "({name})");
        assert_eq!(entries_of(&follower), expected_log, "({name})");

        // The leader commits its no-op (itself and the follower are two of three); a heartbeat
        // tells the follower.
        assert_eq!(leader.status().commit_index, 11, "({name})");
        for _ in 0..leader.config().heartbeat_interval_ticks {
            leader.tick();
        }
        replicate_until_quiet(&mut leader, &mut follower);
        assert_eq!(follower.status().commit_index, 11, "({name})");
    }
}

/// Runs round trips between `leader` (id 1) and `follower` (id 2) until the leader has nothing more
/// to send it; messages to anyone else are lost. Returns the `prev_log_index` of every Append sent.
fn replicate_until_quiet(leader: &mut Raft, follower: &mut Raft) -> Vec<Index> {
    let mut prevs = Vec::new();
    for _ in 0..100 {
        let to_follower: Vec<Message> = flush(leader)
            .messages
            .into_iter()
            .filter(|(to, _)| *to == 2)
            .map(|(_, m)| m)
            .collect();
        if to_follower.is_empty() {
            return prevs;
        }
        for m in to_follower {
            if let Body::Append { prev_log_index, .. } = m.body {
                prevs.push(prev_log_index);
            }
            follower.step(1, m);
        }
        let reply = flush(follower);
        for (to, m) in reply
            .messages
            .into_iter()
            .chain(reply.messages_after_persist)
        {
            assert_eq!(to, 1);
            leader.step(2, m);
        }
    }
    panic!("replication did not settle in 100 round trips");
}

fn entries_of(raft: &Raft) -> Vec<raftkv::raft::Entry> {
    raft.log()
        .slice(raft.log().first_index(), raft.log().last_index())
        .to_vec()
}
