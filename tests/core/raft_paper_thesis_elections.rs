//! The election extensions of Ongaro's thesis ("Consensus: Bridging Theory and Practice"): PreVote
//! (§9.6), the leader lease that ignores disruptive servers (§4.2.3), CheckQuorum (§6.2) and
//! leadership transfer (§3.10). Nodes here run the default configuration, with both on.

use crate::support::raft::cluster::{delivered, Cluster, Event};
use crate::support::raft::{
    elect, msg, node, restarted, restored, tick_until_campaign, vote, voters,
};
use bytes::Bytes;
use raftkv::raft::{Body, Config, HardState, Output, ProposeError, Role};

fn config(id: u64, n: u64) -> Config {
    Config::new(id, voters(n))
}

/// §9.6: a server first asks whether it could win; the pre-vote is for `term + 1` but its own term,
/// vote and hard state stay as they are, so nothing needs persisting and the request leaves at once.
/// A majority of grants starts the real election.
#[test]
fn thesis_9_6_pre_candidate_does_not_bump_its_term() {
    let mut n = node(config(1, 3));
    tick_until_campaign(&mut n);
    let s = n.status();
    assert_eq!((s.role, s.term, s.vote), (Role::PreCandidate, 0, None));
    let pre_vote = msg(
        1,
        Body::PreVote {
            last_log_index: 0,
            last_log_term: 0,
        },
    );
    assert_eq!(
        n.take_output(),
        Output {
            messages: vec![(2, pre_vote.clone()), (3, pre_vote)],
            ..Output::default()
        }
    );

    n.step(2, msg(1, Body::PreVoteResponse { granted: true }));
    let s = n.status();
    assert_eq!((s.role, s.term, s.vote), (Role::Candidate, 1, Some(1)));
    assert_eq!(
        n.take_output(),
        Output {
            hard_state: Some(HardState {
                term: 1,
                vote: Some(1),
                commit: 0
            }),
            messages_after_persist: vec![(2, vote(1, 0, 0)), (3, vote(1, 0, 0))],
            ..Output::default()
        }
    );

    // Refused by a majority, a pre-candidate returns to following, still in its old term.
    let mut n = node(config(1, 3));
    tick_until_campaign(&mut n);
    n.step(2, msg(0, Body::PreVoteResponse { granted: false }));
    n.step(3, msg(0, Body::PreVoteResponse { granted: false }));
    let s = n.status();
    assert_eq!((s.role, s.term), (Role::Follower, 0));
}

/// §9.6: pre-votes follow the §5.4.1 rule, so a server whose log is behind gets none; answering one
/// changes nothing on the voter either.
#[test]
fn thesis_9_6_node_with_stale_log_gets_no_pre_votes() {
    // The voter's log ends at 2/1 and it knows no leader (no lease applies).
    let mut voter = restarted(config(1, 3), restored(1, 0, &[1, 1]));
    let pre_vote = |last_log_index, last_log_term| {
        msg(
            2,
            Body::PreVote {
                last_log_index,
                last_log_term,
            },
        )
    };
    voter.step(3, pre_vote(1, 1));
    assert_eq!(
        voter.take_output(),
        Output {
            messages: vec![(3, msg(1, Body::PreVoteResponse { granted: false }))],
            ..Output::default()
        }
    );
    voter.step(3, pre_vote(2, 1));
    assert_eq!(
        voter.take_output(),
        Output {
            messages: vec![(3, msg(2, Body::PreVoteResponse { granted: true }))],
            ..Output::default()
        }
    );
    let s = voter.status();
    assert_eq!((s.term, s.vote, s.role), (1, None, Role::Follower));
}

/// §9.6, the point of PreVote: a server that was partitioned keeps campaigning without raising its
/// term, so when it rejoins it cannot depose the leader; it simply catches up. (The lease is off
/// here so that only PreVote protects the leader.)
#[test]
fn thesis_9_6_rejoining_node_does_not_disrupt_the_leader() {
    let mut c = Cluster::new(3, |mut cfg| {
        cfg.check_quorum = false;
        cfg
    });
    c.elect(1);
    c.isolate(3);
    c.node_mut(1)
        .propose(Bytes::from_static(b"x"))
        .expect("leader");
    c.stabilize();
    for _ in 0..3 {
        c.campaign(3);
    }
    assert_eq!(
        c.node(3).status().term,
        1,
        "pre-candidates never raise their term"
    );

    c.heal(3);
    c.campaign(3);
    for id in c.ids() {
        assert_eq!(c.node(id).status().term, 1, "node {id}");
    }
    assert_eq!(c.leader(), Some(1));
    // Two heartbeat rounds: the first finds node 3 behind, the second finds it still behind
    // (it keeps the Append sent from the leader's next index, waiting for the lost one) and
    // the leader sends the lost one again.
    for _ in 0..2 {
        for _ in 0..c.node(1).config().heartbeat_interval_ticks {
            c.tick(1);
        }
        c.stabilize();
    }
    assert_eq!(c.logs()[2], c.logs()[0], "node 3 caught up");
}

/// §4.2.3: a follower that heard from its leader within the minimum election timeout refuses
/// pre-votes and ignores vote requests (without adopting their term); after the lease it answers.
#[test]
fn thesis_4_2_3_follower_in_leader_lease_ignores_pre_votes_and_votes() {
    let mut f = node(config(2, 3));
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
    f.take_output();
    let pre_vote = msg(
        2,
        Body::PreVote {
            last_log_index: 0,
            last_log_term: 0,
        },
    );

    f.step(3, pre_vote.clone());
    assert_eq!(
        f.take_output(),
        Output {
            messages: vec![(3, msg(1, Body::PreVoteResponse { granted: false }))],
            ..Output::default()
        }
    );
    f.step(3, vote(2, 0, 0));
    assert_eq!(
        f.take_output(),
        Output::default(),
        "the vote request is ignored"
    );
    let s = f.status();
    assert_eq!((s.term, s.vote, s.leader), (1, None, Some(1)));

    for _ in 0..f.config().election_timeout_ticks_min {
        f.tick();
    }
    f.take_output();
    f.step(3, pre_vote);
    assert_eq!(
        f.take_output().messages,
        vec![(3, msg(2, Body::PreVoteResponse { granted: true }))],
        "the lease has run out"
    );
}

/// §6.2, CheckQuorum: a leader that has not heard from a majority for an election timeout steps
/// down, so clients stop waiting on a leader that cannot commit.
#[test]
fn thesis_6_2_leader_without_majority_contact_steps_down() {
    let mut l = node(config(1, 3));
    elect(&mut l);
    let term = l.status().term;
    for _ in 1..l.config().election_timeout_ticks_min {
        l.tick();
    }
    assert_eq!(l.status().role, Role::Leader);
    l.tick();
    let s = l.status();
    assert_eq!((s.role, s.term, s.leader), (Role::Follower, term, None));
}

/// §6.2: the converse: answers from one follower (with the leader, a majority of three) keep it in
/// office for as long as they come.
#[test]
fn thesis_6_2_leader_with_majority_contact_stays() {
    let mut l = node(config(1, 3));
    elect(&mut l);
    let term = l.status().term;
    for _ in 0..3 * l.config().election_timeout_ticks_min {
        l.tick();
        let out = l.take_output();
        for (to, m) in out.messages {
            if to == 2 {
                if let Body::Heartbeat { read_seq, .. } = m.body {
                    l.step(2, msg(term, Body::HeartbeatResponse { read_seq }));
                }
            }
        }
    }
    assert_eq!((l.status().role, l.status().term), (Role::Leader, term));
}

/// §3.10: the leader stops taking proposals, brings the target up to date, then sends it
/// TimeoutNow; the target campaigns at once in term + 1, without a pre-vote, and its vote requests
/// override the other followers' lease.
#[test]
fn thesis_3_10_leadership_transfer_waits_for_catch_up_then_sends_timeout_now() {
    let mut c = Cluster::new(3, |cfg| cfg);
    c.elect(1);
    c.isolate(2);
    c.node_mut(1)
        .propose(Bytes::from_static(b"x"))
        .expect("leader");
    c.stabilize();

    assert_eq!(c.node_mut(1).transfer_leadership(2), Ok(()));
    assert_eq!(
        c.node_mut(1).propose(Bytes::from_static(b"y")),
        Err(ProposeError::Transferring)
    );
    let events = c.stabilize();
    assert!(!events.iter().any(is_timeout_now), "node 2 lacks index 2");

    c.heal(2);
    let mut events = Vec::new();
    // Two heartbeat rounds: the second sends node 2 the Append it lost again (see
    // `thesis_9_6_rejoining_node_does_not_disrupt_the_leader`).
    for _ in 0..2 {
        for _ in 0..c.node(1).config().heartbeat_interval_ticks {
            events.extend(c.tick(1));
        }
        events.extend(c.stabilize());
    }
    assert_eq!(events.iter().filter(|e| is_timeout_now(e)).count(), 1);
    let exchange = delivered(&events);
    assert!(!exchange
        .iter()
        .any(|(_, _, m)| matches!(m.body, Body::PreVote { .. })));
    let transfer_vote = msg(
        2,
        Body::Vote {
            last_log_index: 2,
            last_log_term: 1,
            transfer: true,
        },
    );
    assert!(exchange.contains(&(2, 1, transfer_vote.clone())));
    assert!(exchange.contains(&(2, 3, transfer_vote)));
    assert_eq!(c.leader(), Some(2));
    assert_eq!(c.node(2).status().term, 2);
}

/// §3.10: a target that is already up to date is told to campaign at once.
#[test]
fn thesis_3_10_transfer_to_caught_up_target_is_immediate() {
    let mut c = Cluster::new(3, |cfg| cfg);
    c.elect(1);
    let term = c.node(1).status().term;
    c.node_mut(1).transfer_leadership(3).expect("leader");
    let out = c.node_mut(1).take_output();
    assert_eq!(out.messages, vec![(3, msg(term, Body::TimeoutNow))]);
}

/// §3.10: "if the transfer does not complete within an election timeout, the prior leader aborts
/// the transfer and resumes accepting client requests."
#[test]
fn thesis_3_10_transfer_is_abandoned_after_an_election_timeout() {
    let mut c = Cluster::new(3, |cfg| cfg);
    c.elect(1);
    c.isolate(2);
    c.node_mut(1).transfer_leadership(2).expect("leader");
    c.node_mut(1).propose(Bytes::from_static(b"x")).unwrap_err();
    // Node 3 keeps answering heartbeats, so CheckQuorum keeps node 1 in office meanwhile.
    for _ in 1..c.node(1).config().election_timeout_ticks_min {
        c.tick(1);
        c.stabilize();
    }
    assert_eq!(
        c.node_mut(1).propose(Bytes::from_static(b"x")),
        Err(ProposeError::Transferring)
    );
    c.tick(1);
    assert!(c.node_mut(1).propose(Bytes::from_static(b"x")).is_ok());
    assert_eq!(c.leader(), Some(1));
}

fn is_timeout_now(e: &Event) -> bool {
    matches!(
        e,
        Event::Delivered { msg, .. } | Event::Dropped { msg, .. } if msg.body == Body::TimeoutNow
    )
}
