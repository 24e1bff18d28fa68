//! Cluster membership changes (chapter 4 of Ongaro's thesis, "Consensus: Bridging Theory and
//! Practice"), one rule per test, through the core's public API: single-server changes as log
//! entries in effect when appended (§4.1), learners (§4.2.1), removing the leader (§4.2.2),
//! nodes outside the configuration (§4.2.3), and configurations carried by snapshots and
//! restarts (§5.1). Nodes run the paper's §5 algorithm (no PreVote, no CheckQuorum) unless a test
//! says otherwise.

use crate::support;
use crate::support::raft::{
    append, append_ok, cmd_entry, elect, elect_steady, flush, msg, noop, paper_config, restarted,
    restored, tick_until_campaign,
};
use bytes::Bytes;
use raftkv::raft::{
    Body, ChangeError, Config, Entry, HardState, Index, Membership, MembershipEntry, NodeId,
    Payload, ProposeError, Raft, Restored, Role, Term,
};

/// A configuration with no context.
fn config(voters: &[NodeId], learners: &[NodeId]) -> MembershipEntry {
    MembershipEntry {
        membership: Membership::new(voters.to_vec(), learners.to_vec()),
        context: Bytes::new(),
    }
}

/// The log entry carrying configuration `m` at `(index, term)`.
fn config_entry(index: Index, term: Term, m: &MembershipEntry) -> Entry {
    Entry {
        index,
        term,
        payload: Payload::Membership(m.clone()),
    }
}

/// Node `id` of the initial configuration `1..=3`, restarted with the configuration `m` at an
/// empty log's prefix (as if a snapshot at index 0 held it).
fn member_of(id: NodeId, m: &MembershipEntry) -> Raft {
    let restored = Restored {
        membership: Some(m.clone()),
        ..Restored::default()
    };
    restarted(paper_config(id, 3), restored)
}

/// The messages of an output (both kinds) addressed to `to`.
fn bodies_to(out: &raftkv::raft::Output, to: NodeId) -> Vec<Body> {
    out.messages
        .iter()
        .chain(&out.messages_after_persist)
        .filter(|(dst, _)| *dst == to)
        .map(|(_, m)| m.body.clone())
        .collect()
}

/// §4.1: "a server always uses the latest configuration in its log, regardless of whether the
/// entry is committed", and "a log entry for a configuration change can be removed (if
/// leadership changes); in this case, a server must be prepared to fall back to the previous
/// configuration in its log".
#[test]
fn thesis_4_1_configuration_takes_effect_on_append_and_is_reverted_on_truncation() {
    let mut f = restarted(paper_config(2, 3), restored(1, 0, &[]));
    let four = config(&[1, 2, 3, 4], &[]);
    f.step(
        1,
        append(1, (0, 0), vec![noop(1, 1), config_entry(2, 1, &four)], 0),
    );
    assert_eq!(f.membership(), &four.membership, "in effect, uncommitted");
    assert_eq!((f.membership_index(), f.status().commit_index), (2, 0));
    assert_eq!(f.membership_at(1), Some(&config(&[1, 2, 3], &[])));
    // A leader of term 2 never had the change: its entry replaces it.
    f.step(3, append(2, (1, 1), vec![cmd_entry(2, 2)], 1));
    assert_eq!(f.membership(), &Membership::new(vec![1, 2, 3], vec![]));
    assert_eq!(f.membership_index(), 0, "the initial configuration again");
}

/// §4.2.1: learners ("non-voting members") receive the log, but the leader does not count
/// them toward a commit, and a candidate does not count their votes.
#[test]
fn thesis_4_2_1_learners_get_entries_but_do_not_count() {
    let m = config(&[1, 2, 3], &[4]);
    let mut l = member_of(1, &m);
    elect_steady(&mut l);
    let term = l.status().term;
    l.step(4, append_ok(term, l.status().last_index));
    flush(&mut l);
    let (index, _) = l.propose(Bytes::from_static(b"x")).expect("leader");
    let out = flush(&mut l);
    assert!(
        bodies_to(&out, 4)
            .iter()
            .any(|b| matches!(b, Body::Append { entries, .. } if !entries.is_empty())),
        "the learner gets the entry"
    );
    l.step(4, append_ok(term, index));
    assert!(l.status().commit_index < index, "a learner does not count");
    l.step(2, append_ok(term, index));
    assert_eq!(l.status().commit_index, index, "the leader and one voter");

    // A candidate's tally counts voters only.
    let mut c = member_of(1, &m);
    tick_until_campaign(&mut c);
    flush(&mut c);
    let term = c.status().term;
    c.step(4, msg(term, Body::VoteResponse { granted: true }));
    assert_eq!(
        c.status().role,
        Role::Candidate,
        "a learner's vote does not count"
    );
    c.step(2, msg(term, Body::VoteResponse { granted: true }));
    assert_eq!(c.status().role, Role::Leader);
}

/// §4.2.1: a learner never starts an election, however long it hears nothing.
#[test]
fn thesis_4_2_1_a_learner_never_campaigns() {
    let mut learner = member_of(4, &config(&[1, 2, 3], &[4]));
    for _ in 0..10 * learner.config().election_timeout_ticks_max {
        learner.tick();
    }
    assert_eq!(learner.status().role, Role::Follower);
    assert!(learner.take_output().is_empty());
}

/// §4.1: one change at a time (a change is refused while the previous one is uncommitted), one
/// voter per change, and — the 2015 erratum to the thesis — not before the leader has committed
/// an entry of its own term.
#[test]
fn thesis_4_1_a_change_waits_for_the_previous_one_and_for_the_leaders_term() {
    let mut l = restarted(paper_config(1, 3), restored(0, 0, &[]));
    elect(&mut l);
    assert_eq!(
        l.propose_membership(config(&[1, 2, 3], &[4])),
        Err(ChangeError::NotReady),
        "the no-op of the new term is not committed yet"
    );
    let term = l.status().term;
    l.step(2, append_ok(term, 1));
    assert_eq!(l.status().commit_index, 1);

    let (at, _) = l
        .propose_membership(config(&[1, 2, 3], &[4]))
        .expect("a learner may be added");
    assert_eq!(
        l.propose_membership(config(&[1, 2, 3, 4], &[])),
        Err(ChangeError::InProgress(at))
    );
    flush(&mut l);
    l.step(2, append_ok(term, at));
    assert_eq!(l.status().commit_index, at);
    assert!(matches!(
        l.propose_membership(config(&[1, 2, 4], &[])),
        Err(ChangeError::Invalid(_))
    ));
    assert!(l.propose_membership(config(&[1, 2, 3, 4], &[])).is_ok());
    assert!(matches!(
        restarted(paper_config(2, 3), restored(0, 0, &[])).propose_membership(config(&[1, 2], &[])),
        Err(ChangeError::Propose(ProposeError::NotLeader { .. }))
    ));
}

/// §4.2.2: a leader that removes itself keeps leading until the change commits, without
/// counting itself; then it hands off with `TimeoutNow` to the voter with the most of its log
/// and steps down.
#[test]
fn thesis_4_2_2_a_removed_leader_commits_without_itself_then_hands_off() {
    let mut l = restarted(paper_config(1, 3), restored(0, 0, &[]));
    elect_steady(&mut l);
    let term = l.status().term;
    let (at, _) = l
        .propose_membership(config(&[2, 3], &[]))
        .expect("the leader may remove itself");
    let (last, _) = l.propose(Bytes::from_static(b"x")).expect("still leads");
    flush(&mut l);
    assert_eq!(l.status().role, Role::Leader);
    l.step(2, append_ok(term, last));
    assert!(
        l.status().commit_index < at,
        "node 2 alone is no majority of {{2, 3}}: the leader does not count"
    );
    l.step(3, append_ok(term, at));
    assert!(l.status().commit_index >= at);
    let out = l.take_output();
    assert_eq!(l.status().role, Role::Follower, "stepped down");
    assert!(
        bodies_to(&out, 2).contains(&Body::TimeoutNow),
        "node 2 holds the whole log: it is told to campaign"
    );
    assert!(!bodies_to(&out, 3).contains(&Body::TimeoutNow));
    for _ in 0..10 * l.config().election_timeout_ticks_max {
        l.tick();
    }
    assert_eq!(l.status().role, Role::Follower, "removed: never campaigns");
}

/// §4.2.2: "a server that is not part of its own latest configuration should still start new
/// elections, as it might still be needed until the Cnew entry is committed (as in Figure
/// 4.6). It does not count its own vote in elections unless it is part of its latest
/// configuration." Here node 2 holds the entry removing it, uncommitted; the others lack it
/// and cannot win without node 2's vote, which its longer log denies them.
#[test]
fn thesis_4_2_2_a_node_whose_removal_is_uncommitted_still_campaigns() {
    let without_2 = config(&[1, 3], &[]);
    let removal = Restored {
        hard_state: HardState {
            term: 1,
            vote: None,
            commit: 1,
        },
        entries: vec![noop(1, 1), config_entry(2, 1, &without_2)],
        ..Restored::default()
    };
    let mut n = restarted(paper_config(2, 3), removal.clone());
    assert!(!n.is_voter());
    tick_until_campaign(&mut n);
    assert_eq!((n.status().role, n.status().term), (Role::Candidate, 2));
    let out = flush(&mut n);
    let asked: Vec<NodeId> = out
        .messages_after_persist
        .iter()
        .map(|(to, _)| *to)
        .collect();
    assert_eq!(asked, vec![1, 3], "the voters of its latest configuration");
    n.step(3, msg(2, Body::VoteResponse { granted: true }));
    assert_eq!(
        n.status().role,
        Role::Candidate,
        "its own vote does not count"
    );
    n.step(1, msg(2, Body::VoteResponse { granted: true }));
    assert_eq!(n.status().role, Role::Leader);

    // Once it knows the removal committed, it never campaigns.
    let mut committed = removal;
    committed.hard_state.commit = 2;
    let mut n = restarted(paper_config(2, 3), committed);
    for _ in 0..10 * n.config().election_timeout_ticks_max {
        n.tick();
    }
    assert_eq!(n.status().role, Role::Follower);
}

/// §4.1 lets servers hold different configurations. Node 3 is stale: its configuration
/// {3, 5 | learner 4} does not ask node 4; node 4's is {3, 4}. Node 3 campaigns in ever higher
/// terms that node 5 refuses; node 4's requests reach node 3 in older terms. Figure 2's rule —
/// the refusal of a stale request carries currentTerm — lets node 4 catch up and win with node
/// 3's vote; without it both would campaign forever (found by the seeded simulator).
#[test]
fn thesis_4_1_a_stale_candidate_learns_the_term_from_a_server_that_does_not_ask_it() {
    let stale = Restored {
        hard_state: HardState {
            term: 10,
            vote: Some(3),
            commit: 1,
        },
        entries: vec![noop(1, 1)],
        membership: Some(config(&[3, 5], &[4])),
        ..Restored::default()
    };
    let mut n3 = restarted(paper_config(3, 3), stale);
    let ahead = Restored {
        hard_state: HardState {
            term: 8,
            vote: None,
            commit: 1,
        },
        entries: vec![noop(1, 1), cmd_entry(2, 8)],
        membership: Some(config(&[3, 4], &[])),
        ..Restored::default()
    };
    let mut n4 = restarted(paper_config(4, 3), ahead);
    tick_until_campaign(&mut n4);
    let out = flush(&mut n4);
    let (to, request) = out.messages_after_persist[0].clone();
    assert_eq!((to, request.term), (3, 9));
    n3.step(4, request);
    let refusal = n3.take_output().messages;
    assert_eq!(
        refusal,
        vec![(4, msg(10, Body::VoteResponse { granted: false }))]
    );
    n4.step(3, refusal[0].1.clone());
    assert_eq!((n4.status().role, n4.status().term), (Role::Follower, 10));
    tick_until_campaign(&mut n4);
    let out = flush(&mut n4);
    n3.step(4, out.messages_after_persist[0].1.clone());
    let grant = flush(&mut n3).messages_after_persist;
    assert_eq!(
        grant,
        vec![(4, msg(11, Body::VoteResponse { granted: true }))]
    );
    n4.step(3, grant[0].1.clone());
    assert_eq!(n4.status().role, Role::Leader);
}

/// A node waiting to join (no voters in its configuration) never campaigns, but takes a
/// leader's entries — and once the configuration it appends makes it a voter, it may.
#[test]
fn a_joining_node_waits_for_a_leader_and_votes_once_added() {
    let mut n = restarted(
        support::raft::paper(Config::new(4, Vec::new())),
        Restored::default(),
    );
    for _ in 0..10 * n.config().election_timeout_ticks_max {
        n.tick();
    }
    assert_eq!(n.status().role, Role::Follower);
    assert!(n.take_output().is_empty());
    let added = config(&[1, 2, 3, 4], &[]);
    n.step(
        1,
        append(
            3,
            (0, 0),
            vec![cmd_entry(1, 1), config_entry(2, 3, &added)],
            1,
        ),
    );
    let out = flush(&mut n);
    assert!(bodies_to(&out, 1).contains(&Body::AppendResponse {
        success: true,
        index: 2,
        hint: None
    }));
    assert!(n.is_voter());
    tick_until_campaign(&mut n);
    assert_eq!(n.status().role, Role::Candidate);
}

/// §5.1 (and the paper's §7): a snapshot holds "the latest configuration as of the last
/// included index"; installing it makes that configuration the one at the log's new prefix.
#[test]
fn thesis_5_1_an_installed_snapshot_brings_its_configuration() {
    let mut f = restarted(paper_config(2, 3), restored(1, 0, &[1, 1]));
    let five = config(&[1, 2, 3, 4], &[5]);
    f.step(
        1,
        msg(
            1,
            Body::Heartbeat {
                commit: 0,
                read_seq: 0,
            },
        ),
    );
    assert!(f.install_snapshot(1, 10, 1, five.clone()));
    assert_eq!(f.membership_entry(), &five);
    assert_eq!(f.membership_index(), 10);
    assert_eq!(f.membership_at(10), Some(&five));
    assert_eq!(f.membership_at(9), None, "compacted away");
}

/// §5.1: a server restarts with the configuration of its snapshot (`Restored::membership`) and
/// the configuration entries of the log after it on top — and falls back to the snapshot's if
/// a new leader truncates them.
#[test]
fn thesis_5_1_restart_from_the_snapshots_configuration_and_the_log() {
    let base = MembershipEntry {
        membership: Membership::new(vec![1, 2, 3], vec![4]),
        context: Bytes::from_static(b"addresses"),
    };
    let next = config(&[1, 2, 3, 4], &[]);
    let restored = Restored {
        hard_state: HardState {
            term: 2,
            vote: None,
            commit: 10,
        },
        prev_index: 10,
        prev_term: 2,
        entries: vec![config_entry(11, 2, &next)],
        applied: 10,
        membership: Some(base.clone()),
    };
    let mut f = restarted(paper_config(2, 3), restored);
    assert_eq!(f.membership_entry(), &next);
    assert_eq!(f.membership_at(10), Some(&base));
    f.step(3, append(3, (10, 2), vec![cmd_entry(11, 3)], 10));
    assert_eq!(
        f.membership_entry(),
        &base,
        "the snapshot's, with its context"
    );
}

/// Figure 3.1 ("updated on stable storage before responding to RPCs"): a single voter elects
/// itself without asking anyone, so its new term may still be unwritten when it leads. Until its
/// no-op (and so its term) is persisted, nothing it sends may leave: a crash would let it lead
/// the same term again and send a learner other entries at the same indexes.
#[test]
fn a_single_voter_sends_nothing_before_its_term_is_durable() {
    let mut l = member_of(1, &config(&[1], &[2]));
    tick_until_campaign(&mut l);
    assert_eq!(l.status().role, Role::Leader, "elected by itself");
    l.propose(Bytes::from_static(b"x")).expect("leader");
    let out = l.take_output();
    assert_eq!(out.hard_state.map(|hs| hs.term), Some(1));
    assert!(out.messages.is_empty(), "{:?}", out.messages);
    assert!(bodies_to(&out, 2)
        .iter()
        .any(|b| matches!(b, Body::Append { .. })));
    let last = out.entries.last().expect("no-op and proposal");
    l.persisted(last.index, last.term);
    l.step(2, append_ok(1, last.index));
    l.propose(Bytes::from_static(b"y")).expect("leader");
    let out = l.take_output();
    assert!(
        out.messages
            .iter()
            .any(|(to, m)| *to == 2 && matches!(m.body, Body::Append { .. })),
        "the term is durable: appends leave at once again"
    );
    // A leader elected with others' votes never held anything back: their votes came after
    // its own vote was durable.
    let mut l = restarted(paper_config(1, 3), restored(0, 0, &[]));
    tick_until_campaign(&mut l);
    flush(&mut l);
    l.step(2, vote_granted(1));
    assert_eq!(l.status().role, Role::Leader);
    assert!(!l.take_output().messages.is_empty());
}

fn vote_granted(term: Term) -> raftkv::raft::Message {
    msg(term, Body::VoteResponse { granted: true })
}
