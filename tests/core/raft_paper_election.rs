//! Terms and leader election, one test per rule of the Raft paper (Ongaro & Ousterhout, extended
//! version): §5.1 (terms), §5.2 (leader election) and §5.4.1 (election restriction). PreVote and
//! CheckQuorum are off here: they are the thesis's extensions, tested in `raft_paper_thesis.rs`.

use std::collections::BTreeSet;

use crate::support;
use crate::support::raft::{
    append, elect, flush, msg, node, node_seeded, paper_config, restarted, restored,
    tick_until_campaign, vote,
};
use raftkv::raft::{Body, HardState, Output, Restored, Role};

/// §5.1: "If a server receives a request with a stale term number … current term is updated to
/// the larger value"; it becomes (or stays) a follower of the sender.
#[test]
fn s5_1_follower_updates_term_from_higher_term_message() {
    let mut follower = node(paper_config(1, 3));
    follower.step(2, append(2, (0, 0), vec![], 0));

    let status = follower.status();
    assert_eq!(
        (status.role, status.term, status.leader, status.vote),
        (Role::Follower, 2, Some(2), None)
    );
    assert_eq!(
        follower.take_output(),
        Output {
            hard_state: Some(HardState {
                term: 2,
                vote: None,
                commit: 0
            }),
            messages_after_persist: vec![(
                2,
                msg(
                    2,
                    Body::AppendResponse {
                        success: true,
                        index: 0,
                        hint: None
                    }
                )
            )],
            ..Output::default()
        }
    );
}

/// §5.1: "If a candidate or leader discovers that its term is out of date, it immediately reverts
/// to follower state."
#[test]
fn s5_1_candidate_and_leader_step_down_on_higher_term() {
    let mut candidate = node(paper_config(1, 3));
    tick_until_campaign(&mut candidate);
    assert_eq!(candidate.status().role, Role::Candidate);
    candidate.step(
        3,
        msg(
            5,
            Body::Heartbeat {
                commit: 0,
                read_seq: 0,
            },
        ),
    );
    let s = candidate.status();
    assert_eq!(
        (s.role, s.term, s.leader, s.vote),
        (Role::Follower, 5, Some(3), None)
    );

    let mut leader = node(paper_config(1, 3));
    elect(&mut leader);
    // A follower that saw a newer term answers our stale heartbeat with its term.
    leader.step(2, msg(4, Body::HeartbeatResponse { read_seq: 0 }));
    let s = leader.status();
    assert_eq!(
        (s.role, s.term, s.leader, s.vote),
        (Role::Follower, 4, None, None)
    );
    let out = leader.take_output();
    assert_eq!(
        out.hard_state,
        Some(HardState {
            term: 4,
            vote: None,
            commit: 0
        })
    );
}

/// §5.1: "If a server receives a request with a stale term number, it rejects the request." A stale
/// leader is told the current term (so it steps down), and so is a stale candidate (Figure 2: the
/// refusal carries currentTerm "for candidate to update itself"); neither changes anything here.
#[test]
fn s5_1_stale_term_messages_are_rejected() {
    let mut n = restarted(paper_config(1, 3), restored(3, 0, &[1, 2]));
    n.take_output();
    let before = n.status();

    n.step(
        2,
        append(2, (2, 2), support::raft::log(&[1, 2, 2])[2..].to_vec(), 2),
    );
    assert_eq!(
        n.take_output(),
        Output {
            messages: vec![(2, msg(3, Body::HeartbeatResponse { read_seq: 0 }))],
            ..Output::default()
        },
        "a stale leader learns the current term and nothing is appended"
    );

    n.step(2, vote(2, 9, 2));
    n.step(2, msg(2, Body::VoteResponse { granted: true }));
    n.step(
        2,
        msg(
            2,
            Body::Heartbeat {
                commit: 2,
                read_seq: 1,
            },
        ),
    );
    let out = n.take_output();
    assert!(out.messages_after_persist.is_empty() && out.hard_state.is_none());
    assert_eq!(
        out.messages,
        vec![
            (2, msg(3, Body::VoteResponse { granted: false })),
            (2, msg(3, Body::HeartbeatResponse { read_seq: 0 }))
        ]
    );
    assert_eq!(n.status(), before, "stale messages change no state");
    assert_eq!(n.log().last_index(), 2);
}

/// §5.2: "If a follower receives no communication over a period of time called the election
/// timeout, then it … begins an election": it increments its term, votes for itself (durably, before
/// asking anyone) and sends RequestVote to every other server.
#[test]
fn s5_2_follower_times_out_and_campaigns_voting_for_itself() {
    let mut n = node(paper_config(1, 3));
    let cfg = n.config().clone();
    let ticks = tick_until_campaign(&mut n);
    assert!((cfg.election_timeout_ticks_min..cfg.election_timeout_ticks_max).contains(&ticks));

    let s = n.status();
    assert_eq!(
        (s.role, s.term, s.vote, s.leader),
        (Role::Candidate, 1, Some(1), None)
    );
    let request = vote(1, 0, 0);
    assert_eq!(
        n.take_output(),
        Output {
            hard_state: Some(HardState {
                term: 1,
                vote: Some(1),
                commit: 0
            }),
            messages_after_persist: vec![(2, request.clone()), (3, request)],
            ..Output::default()
        }
    );
}

/// §5.2: the candidate's own vote counts toward the majority: a single-node cluster elects itself
/// on its first timeout.
#[test]
fn s5_2_candidate_counts_its_own_vote() {
    let mut n = node(paper_config(1, 1));
    tick_until_campaign(&mut n);
    assert_eq!(n.status().role, Role::Leader);
    let out = flush(&mut n);
    assert_eq!(out.entries, vec![support::raft::noop(1, 1)]);
    assert_eq!(n.take_output().committed, vec![support::raft::noop(1, 1)]);
}

/// §5.2: "Raft uses randomized election timeouts … chosen randomly from a fixed interval": nodes
/// seeded differently time out after different numbers of ticks, always inside the interval, and
/// the same seed always gives the same timeout (the core is deterministic).
#[test]
fn s5_2_randomized_election_timeouts_differ_across_seeds() {
    let ticks_for = |seed| {
        let mut n = node_seeded(paper_config(1, 3), Restored::default(), seed);
        tick_until_campaign(&mut n)
    };
    let cfg = paper_config(1, 3);
    let timeouts: Vec<u32> = (0..32).map(ticks_for).collect();
    for &t in &timeouts {
        assert!((cfg.election_timeout_ticks_min..cfg.election_timeout_ticks_max).contains(&t));
    }
    let distinct: BTreeSet<u32> = timeouts.iter().copied().collect();
    assert!(distinct.len() >= 5, "timeouts barely vary: {timeouts:?}");
    assert_eq!(ticks_for(7), ticks_for(7));
}

/// §5.2: "Each server will vote for at most one candidate in a given term, on a first-come-first-
/// served basis." A repeated request from the chosen candidate gets the same answer; the vote is
/// persisted before it is sent.
#[test]
fn s5_2_at_most_one_vote_per_term() {
    let mut n = node(paper_config(1, 3));
    let answer = |to, granted| (to, msg(1, Body::VoteResponse { granted }));

    n.step(2, vote(1, 0, 0));
    assert_eq!(
        n.take_output(),
        Output {
            hard_state: Some(HardState {
                term: 1,
                vote: Some(2),
                commit: 0
            }),
            messages_after_persist: vec![answer(2, true)],
            ..Output::default()
        }
    );

    n.step(3, vote(1, 0, 0));
    assert_eq!(
        n.take_output(),
        Output {
            messages_after_persist: vec![answer(3, false)],
            ..Output::default()
        }
    );

    n.step(2, vote(1, 0, 0));
    assert_eq!(
        n.take_output().messages_after_persist,
        vec![answer(2, true)]
    );
    assert_eq!(n.status().vote, Some(2));

    // A new term brings a new vote.
    n.step(3, vote(2, 0, 0));
    assert_eq!(
        n.take_output().messages_after_persist,
        vec![(3, msg(2, Body::VoteResponse { granted: true }))]
    );
    assert_eq!(n.status().vote, Some(3));
}

/// §5.4.1: "the voter denies its vote if its own log is more up-to-date than that of the
/// candidate": compare last terms first, then lengths.
#[test]
fn s5_4_1_vote_only_for_up_to_date_logs() {
    // The voter's log ends at index 2, term 2.
    let cases = [
        ((1, 1), false), // older last term
        ((3, 1), false), // longer, but older last term
        ((1, 2), false), // same last term, shorter
        ((2, 2), true),  // identical
        ((3, 2), true),  // same last term, longer
        ((1, 3), true),  // newer last term, though shorter
    ];
    for ((last_index, last_term), granted) in cases {
        let mut voter = restarted(paper_config(1, 3), restored(2, 0, &[1, 2]));
        voter.take_output();
        voter.step(2, vote(3, last_index, last_term));
        let out = voter.take_output();
        assert_eq!(
            out.messages_after_persist,
            vec![(2, msg(3, Body::VoteResponse { granted }))],
            "candidate log ending at {last_index}/{last_term}"
        );
        assert_eq!(voter.status().vote, granted.then_some(2));
        assert_eq!(voter.status().term, 3, "the term is adopted either way");
    }
}

/// §5.2: "A candidate wins an election if it receives votes from a majority of the servers in the
/// full cluster for the same term." Duplicate grants count once; a majority of refusals ends the
/// campaign early.
#[test]
fn s5_2_candidate_wins_with_majority_of_votes() {
    // Cluster size, the answers received in order as (voter, granted), the role that results.
    type Case = (u64, &'static [(u64, bool)], Role);
    let cases: &[Case] = &[
        (3, &[(2, true)], Role::Leader),
        (3, &[(2, false)], Role::Candidate),
        (3, &[(2, false), (3, false)], Role::Follower),
        (5, &[(2, true)], Role::Candidate),
        (5, &[(2, true), (2, true)], Role::Candidate),
        (5, &[(2, true), (3, true)], Role::Leader),
        (5, &[(2, true), (3, false), (4, false)], Role::Candidate),
        (5, &[(2, false), (3, false), (4, false)], Role::Follower),
    ];
    for &(size, votes, expected) in cases {
        let mut c = node(paper_config(1, size));
        tick_until_campaign(&mut c);
        flush(&mut c);
        for &(from, granted) in votes {
            c.step(from, msg(1, Body::VoteResponse { granted }));
        }
        assert_eq!(c.status().role, expected, "{size} nodes, votes {votes:?}");
        assert_eq!(c.status().term, 1);
    }
}

/// §5.2: "If the leader's term … is at least as large as the candidate's current term, then the
/// candidate recognizes the leader as legitimate and returns to follower state." A smaller term is
/// rejected and the candidate continues.
#[test]
fn s5_2_candidate_steps_down_on_append_from_leader_in_same_term() {
    let mut c = node(paper_config(1, 3));
    tick_until_campaign(&mut c);
    flush(&mut c);

    c.step(2, append(0, (0, 0), vec![], 0));
    assert_eq!(
        c.status().role,
        Role::Candidate,
        "a stale leader is not followed"
    );

    c.step(2, append(1, (0, 0), vec![], 0));
    let s = c.status();
    assert_eq!(
        (s.role, s.term, s.leader, s.vote),
        (Role::Follower, 1, Some(2), Some(1))
    );
    assert_eq!(
        c.take_output().messages_after_persist,
        vec![(
            2,
            msg(
                1,
                Body::AppendResponse {
                    success: true,
                    index: 0,
                    hint: None
                }
            )
        )]
    );
}

/// §5.2: with a split vote "each candidate will time out and start a new election by incrementing
/// its term and initiating another round of RequestVote RPCs."
#[test]
fn s5_2_split_vote_leads_to_new_election() {
    // Four servers: 1 and 2 campaign together, 3 votes for 1 and 4 for 2. Nobody has three votes.
    let mut c = node(paper_config(1, 4));
    tick_until_campaign(&mut c);
    flush(&mut c);
    c.step(2, msg(1, Body::VoteResponse { granted: false }));
    c.step(3, msg(1, Body::VoteResponse { granted: true }));
    c.step(4, msg(1, Body::VoteResponse { granted: false }));
    assert_eq!(c.status().role, Role::Candidate);
    assert!(c.take_output().is_empty());

    tick_until_campaign_again(&mut c);
    let s = c.status();
    assert_eq!((s.role, s.term, s.vote), (Role::Candidate, 2, Some(1)));
    let request = vote(2, 0, 0);
    assert_eq!(
        c.take_output(),
        Output {
            hard_state: Some(HardState {
                term: 2,
                vote: Some(1),
                commit: 0
            }),
            messages_after_persist: vec![(2, request.clone()), (3, request.clone()), (4, request)],
            ..Output::default()
        }
    );
}

/// Ticks a candidate until it starts its next election (its term moves).
fn tick_until_campaign_again(c: &mut raftkv::raft::Raft) {
    let term = c.status().term;
    for _ in 0..c.config().election_timeout_ticks_max {
        c.tick();
        if c.status().term != term {
            return;
        }
    }
    panic!("no new election within the maximum election timeout");
}

/// §5.2 with Figure 2's persistence rule: a vote is a promise, so the grant is only in
/// `messages_after_persist` and the hard state carrying it is in the same batch.
#[test]
fn s5_2_vote_grant_leaves_only_after_persist() {
    let mut n = node(paper_config(3, 3));
    n.step(1, vote(4, 0, 0));
    let out = n.take_output();
    assert!(
        out.messages.is_empty(),
        "nothing may leave before the vote is durable"
    );
    assert_eq!(out.hard_state.map(|hs| hs.vote), Some(Some(1)));
    assert_eq!(
        out.messages_after_persist,
        vec![(1, msg(4, Body::VoteResponse { granted: true }))]
    );
}

/// §5.2 with Figure 2 ("persistent state on all servers: currentTerm, votedFor"): a server that
/// restarts from its persisted hard state still refuses a second candidate in the same term.
#[test]
fn s5_2_vote_survives_restart() {
    let mut n = node(paper_config(1, 3));
    n.step(2, vote(1, 0, 0));
    let hard_state = n.take_output().hard_state.expect("the vote is persisted");

    let mut n = restarted(
        paper_config(1, 3),
        Restored {
            hard_state,
            ..Restored::default()
        },
    );
    n.step(3, vote(1, 0, 0));
    assert_eq!(
        n.take_output().messages_after_persist,
        vec![(3, msg(1, Body::VoteResponse { granted: false }))]
    );
    n.step(2, vote(1, 0, 0));
    assert_eq!(
        n.take_output().messages_after_persist,
        vec![(2, msg(1, Body::VoteResponse { granted: true }))]
    );
}
